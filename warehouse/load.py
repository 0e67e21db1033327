"""Idempotent, bulk loading: upserts on the natural key, whole account batches per transaction.

Rows go in as one Arrow table and one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (never
row-by-row ``executemany``: 1M rows take ~18 minutes that way and ~1.5 s this way;
https://duckdb.org/docs/stable/data/insert).  A key whose value did not change is left alone, so
loading the same data twice changes nothing at all, not even ``collected_at``.
:func:`write_account_batch` wraps an account's rows,
its metric notes and its run record in one transaction: a failure leaves none of them behind.
:func:`warehouse.load_group.write_account_batches` does the same for several accounts in one
transaction (what ``socialkpi collect``'s writer uses).  The run records themselves are opened and
closed here too (:func:`start_run`, :func:`finish_run`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import duckdb

from collectors.observation import Account, Observation
from warehouse import aggregates

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow (~0.1-0.2 s and ~40 MB with numpy) is imported where a batch is first turned into an Arrow
# table, not with this module: ``socialkpi collect`` then imports it in its writer thread, when the
# first account is done, while the other accounts' requests are under way, not before its first request.


@functools.cache
def observation_schema() -> pa.Schema:
    """The Arrow schema of a batch of observations, as :data:`UPSERT_SQL` selects it."""
    import pyarrow as pa

    return pa.schema(
        [
            ("platform", pa.string()),
            ("account_id", pa.string()),
            ("metric", pa.string()),
            ("observed_on", pa.date32()),
            ("value", pa.float64()),
            ("source_metric", pa.string()),
            ("collected_at", pa.timestamp("us")),
            ("run_id", pa.string()),
        ]
    )


UPSERT_SQL = """
INSERT INTO observations
    (platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id)
SELECT platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id
FROM batch
ON CONFLICT (platform, account_id, metric, observed_on) DO UPDATE SET
    value = excluded.value,
    source_metric = excluded.source_metric,
    collected_at = excluded.collected_at,
    run_id = excluded.run_id
WHERE observations.value IS DISTINCT FROM excluded.value
   OR observations.source_metric IS DISTINCT FROM excluded.source_metric
"""


# The same upsert, returning the rows it inserted or changed with what the aggregates read of them
# (platform, account_id, metric, observed_on, value): a key whose value did not change is not among
# them (the WHERE), and needs no maintenance either.
CHANGED_SQL = UPSERT_SQL.strip() + "\nRETURNING platform, account_id, metric, observed_on, value"


def naive_utc(moment: datetime) -> datetime:
    """DuckDB TIMESTAMP columns hold UTC without an offset."""
    return moment.astimezone(UTC).replace(tzinfo=None)


# Above this many rows, a batch's keys are checked for duplicates by DuckDB (a hash per key,
# ~50 ms per million) instead of a Python set of key tuples (~350 ms per million).
_SQL_CHECK_ROWS = 20_000


def _arrow(rows: Sequence[Observation], run_id: str) -> pa.Table:
    """``rows`` as an Arrow table of :func:`observation_schema`, in order, duplicates included.

    One list per column (no per-row tuples); ``naive_utc`` once per distinct ``collected_at``
    (a collector's batch has one), and constant columns repeated by Arrow, not Python.
    """
    import pyarrow as pa

    n = len(rows)
    stamps = {r.collected_at for r in rows}
    ts = pa.timestamp("us")
    if len(stamps) == 1:
        collected = pa.repeat(pa.scalar(naive_utc(next(iter(stamps))), ts), n)
    else:
        naive = {s: naive_utc(s) for s in stamps}
        collected = pa.array([naive[r.collected_at] for r in rows], ts)
    return pa.Table.from_arrays(
        [
            pa.array([r.platform for r in rows], pa.string()),
            pa.array([r.account_id for r in rows], pa.string()),
            pa.array([r.metric for r in rows], pa.string()),
            pa.array([r.observed_on for r in rows], pa.date32()),
            value_column(rows),
            pa.array([r.source_metric for r in rows], pa.string()),
            collected,
            pa.repeat(pa.scalar(run_id, pa.string()), n),
        ],
        schema=observation_schema(),
    )


def value_column(rows: Sequence[Observation]) -> pa.Array:
    """The ``value`` column: Arrow converts ints and floats itself; anything else goes through ``float()``."""
    import pyarrow as pa

    try:
        return pa.array([r.value for r in rows], pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([float(r.value) for r in rows], pa.float64())


def _last_per_key(rows: Iterable[Observation]) -> list[Observation]:
    """The rows with one per key: the last row for a key wins (at the first one's position)."""
    latest: dict[tuple[str, str, str, date], Observation] = {}
    for row in rows:
        latest[row.key()] = row
    return list(latest.values())


def _keys_unique_py(table: pa.Table) -> bool:
    cols = [table.column(name).to_pylist() for name in ("platform", "account_id", "metric", "observed_on")]
    return bool(len(set(zip(*cols, strict=True))) == table.num_rows)


def observations_table(rows: Iterable[Observation], run_id: str) -> pa.Table:
    """An Arrow table of ``rows``, de-duplicated on the key (the last row for a key wins)."""
    kept = rows if isinstance(rows, Sequence) else list(rows)
    table = _arrow(kept, run_id)
    if table.num_rows > 1 and not _keys_unique_py(table):
        table = _arrow(_last_per_key(kept), run_id)
    return table


def upsert_table(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> int:
    """Upsert an Arrow table shaped like :func:`observation_schema`; returns rows inserted or changed.

    The caller owns the transaction.  Keys must be unique within ``batch``.  The aggregates of
    :mod:`warehouse.aggregates` are updated in the same transaction, from the rows that changed
    only (:data:`CHANGED_SQL`): a re-run of the same values maintains nothing.
    """
    if batch.num_rows == 0:
        return 0
    changed = upsert_changed(con, batch)
    if changed.num_rows:
        con.register("batch", changed)
        try:
            aggregates.maintain(con, changed)
        finally:
            con.unregister("batch")
    return int(changed.num_rows)


def upsert_changed(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> pa.Table:
    """Upsert ``batch`` (unique keys, the caller's transaction) without the aggregates: the rows it
    inserted or changed, as :data:`CHANGED_SQL` returns them."""
    con.register("batch", batch)
    try:
        # DuckDB runs a statement given to sql() once, there; the relation is its RETURNING rows
        return con.sql(CHANGED_SQL).to_arrow_table()
    finally:
        con.unregister("batch")


_HASHED_KEYS_SQL = "SELECT count(DISTINCT hash(platform, account_id, metric, observed_on)) FROM batch"


def keys_unique(con: duckdb.DuckDBPyConnection, table: pa.Table) -> bool:
    """Whether the keys of ``table`` (shaped like :func:`observation_schema`) are unique: checked by a
    Python set up to ``_SQL_CHECK_ROWS`` rows, by DuckDB's hash of each key above."""
    if table.num_rows <= _SQL_CHECK_ROWS:
        return _keys_unique_py(table)
    con.register("batch", table)
    try:
        found = con.execute(_HASHED_KEYS_SQL).fetchall()[0]
    finally:
        con.unregister("batch")
    return bool(found) and int(found[0]) == table.num_rows


def _upsert_rows(con: duckdb.DuckDBPyConnection, rows: Sequence[Observation], run_id: str) -> int:
    """:func:`upsert_table` of ``rows`` de-duplicated like :func:`observations_table` (caller's transaction).

    Duplicated keys are rare, so the table is built once as it comes and its keys checked; only a
    batch that has duplicates (or a hash collision) is rebuilt with the last row per key.
    """
    if len(rows) <= _SQL_CHECK_ROWS:
        return upsert_table(con, observations_table(rows, run_id))
    table = _arrow(rows, run_id)
    con.register("batch", table)
    try:
        found = con.execute(_HASHED_KEYS_SQL).fetchall()[0]
    finally:
        con.unregister("batch")
    if not found or int(found[0]) != table.num_rows:
        table = _arrow(_last_per_key(rows), run_id)
    return upsert_table(con, table)


def upsert_observations(con: duckdb.DuckDBPyConnection, rows: Sequence[Observation], run_id: str) -> int:
    """Upsert ``rows`` in one transaction; returns rows inserted or changed."""
    con.execute("BEGIN TRANSACTION")
    try:
        written = _upsert_rows(con, rows, run_id)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    return written


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, without hiding the original error if the connection itself is gone."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def upsert_account(con: duckdb.DuckDBPyConnection, account: Account, seen_at: datetime) -> None:
    con.execute(
        """
        INSERT INTO accounts (platform, account_id, name, competitor, first_seen_at, last_seen_at)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (platform, account_id) DO UPDATE SET
            name = excluded.name, competitor = excluded.competitor, last_seen_at = excluded.last_seen_at
        """,
        [
            account.platform,
            account.id,
            account.name,
            account.competitor,
            naive_utc(seen_at),
            naive_utc(seen_at),
        ],
    )


@dataclass(frozen=True, slots=True)
class AccountOutcome:
    """The record of one account in one run."""

    run_id: str
    account: Account
    status: str  # ok | failed
    started_at: datetime
    finished_at: datetime
    since: date | None = None
    until: date | None = None
    error_kind: str | None = None
    reason: str | None = None
    requests: int = 0


def write_account_batch(
    con: duckdb.DuckDBPyConnection,
    outcome: AccountOutcome,
    rows: Sequence[Observation] = (),
    skipped: Sequence[tuple[str, str]] = (),
) -> int:
    """Write an account's rows, notes and run record in one transaction; returns rows written."""
    con.execute("BEGIN TRANSACTION")
    try:
        written = write_in_transaction(con, outcome, rows, skipped)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    return written


def write_in_transaction(
    con: duckdb.DuckDBPyConnection,
    outcome: AccountOutcome,
    rows: Sequence[Observation],
    skipped: Sequence[tuple[str, str]],
) -> int:
    """:func:`write_account_batch`'s statements, in the caller's transaction."""
    upsert_account(con, outcome.account, outcome.finished_at)
    written = _upsert_rows(con, rows, outcome.run_id)
    for source_metric, note in skipped:
        con.execute(
            """
            INSERT INTO metric_notes VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (platform, account_id, source_metric) DO UPDATE SET
                note = excluded.note, run_id = excluded.run_id, noted_at = excluded.noted_at
            """,
            [
                outcome.account.platform,
                outcome.account.id,
                source_metric,
                note,
                outcome.run_id,
                naive_utc(outcome.finished_at),
            ],
        )
    con.execute(
        """
        INSERT INTO run_accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (run_id, platform, account_id) DO UPDATE SET
            status = excluded.status, error_kind = excluded.error_kind, reason = excluded.reason,
            rows_written = excluded.rows_written, requests = excluded.requests,
            finished_at = excluded.finished_at
        """,
        [
            outcome.run_id,
            outcome.account.platform,
            outcome.account.id,
            outcome.status,
            outcome.error_kind,
            outcome.reason,
            written,
            outcome.requests,
            outcome.since,
            outcome.until,
            naive_utc(outcome.started_at),
            naive_utc(outcome.finished_at),
        ],
    )
    aggregates.note_run(
        con,
        outcome.account.platform,
        outcome.account.id,
        started_at=naive_utc(outcome.started_at),
        finished_at=naive_utc(outcome.finished_at),
        status=outcome.status,
        error_kind=outcome.error_kind,
        reason=outcome.reason,
    )
    return written


def start_run(
    con: duckdb.DuckDBPyConnection, run_id: str, started_at: datetime, command: str, *, close_abandoned: bool = True
) -> list[str]:
    """Record a new run as ``running``, first closing every earlier run still marked so.

    The caller holds the collect lock (:class:`socialkpi.lock.RunLock`), so a run still
    ``running`` here is one whose process died (``kill -9``, a crash, a reboot): it is closed as
    ``failed`` with what it did record (see :func:`close_abandoned_runs`).  Returns their ids.
    ``close_abandoned=False`` (the lake, whose shards run at once, each under its own lock) closes none.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        closed = close_abandoned_runs(con) if close_abandoned else []
        con.execute(
            "INSERT INTO runs (run_id, started_at, status, command) VALUES (?, ?, 'running', ?)",
            [run_id, naive_utc(started_at), command],
        )
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    return closed


def close_abandoned_runs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Mark every run still ``running`` as ``failed`` (the caller's transaction; the lock is held).

    Its counts are what its accounts recorded before the process died (``run_accounts``), and its
    end the last of their ends (its start when none finished): the last moment it is known alive.
    """
    abandoned = [row[0] for row in con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()]
    for run_id in abandoned:
        con.execute(
            """
            UPDATE runs SET
                status = 'failed',
                finished_at = coalesce(a.last_end, runs.started_at),
                accounts_ok = a.ok, accounts_failed = a.failed, rows_written = a.rows_written,
                requests = a.requests
            FROM (
                SELECT max(finished_at) AS last_end,
                       count(*) FILTER (WHERE status = 'ok') AS ok,
                       count(*) FILTER (WHERE status <> 'ok') AS failed,
                       coalesce(sum(rows_written), 0) AS rows_written,
                       coalesce(sum(requests), 0) AS requests
                FROM run_accounts WHERE run_id = ?
            ) a
            WHERE runs.run_id = ?
            """,
            [run_id, run_id],
        )
    return abandoned


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    finished_at: datetime,
    *,
    status: str,
    accounts_ok: int,
    accounts_failed: int,
    rows_written: int,
    requests: int,
) -> None:
    con.execute(
        """
        UPDATE runs SET finished_at = ?, status = ?, accounts_ok = ?, accounts_failed = ?,
                        rows_written = ?, requests = ?
        WHERE run_id = ?
        """,
        [naive_utc(finished_at), status, accounts_ok, accounts_failed, rows_written, requests, run_id],
    )


def newest_days(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], date]:
    """The newest stored day per (platform, account_id): where an incremental run starts."""
    rows = con.execute(
        "SELECT platform, account_id, max(observed_on) FROM observations GROUP BY platform, account_id"
    ).fetchall()
    return {(p, a): d for p, a, d in rows}
