"""Several accounts' batches in ONE transaction: what ``socialkpi collect``'s writer uses.

:func:`write_account_batches` writes the same rows, notes, account and run records as
:func:`warehouse.load.write_account_batch` does for each account, and each account is in the
transaction whole or the whole group is not kept.

Why groups: a transaction of one account of 500 rows cost ~16-18 ms, nearly all of it fixed (each
of its six statements ~2-5 ms to plan and run however few rows it carries, the commit ~2-4 ms),
35x what DuckDB needs for the rows themselves.  A group runs each statement once over all its
accounts (Arrow tables of the rows and of the run records) and commits once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from collectors.observation import Observation
from warehouse import aggregates
from warehouse.load import (
    AccountOutcome,
    keys_unique,
    naive_utc,
    observation_schema,
    rollback,
    upsert_changed,
    value_column,
    write_account_batch,
    write_in_transaction,
)

if TYPE_CHECKING:
    import pyarrow as pa

# pyarrow is imported where a group's tables are built, not with this module (see warehouse.load).


@dataclass(frozen=True, slots=True)
class AccountBatch:
    """One account's part of a run, as :func:`write_account_batches` takes it."""

    outcome: AccountOutcome
    rows: Sequence[Observation] = ()
    skipped: Sequence[tuple[str, str]] = ()


@functools.cache
def _run_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("run_id", pa.string()),
            ("platform", pa.string()),
            ("account_id", pa.string()),
            ("name", pa.string()),
            ("competitor", pa.bool_()),
            ("status", pa.string()),
            ("error_kind", pa.string()),
            ("reason", pa.string()),
            ("rows_written", pa.int64()),
            ("requests", pa.int64()),
            ("since", pa.date32()),
            ("until", pa.date32()),
            ("started_at", pa.timestamp("us")),
            ("finished_at", pa.timestamp("us")),
        ]
    )


@functools.cache
def _notes_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("platform", pa.string()),
            ("account_id", pa.string()),
            ("source_metric", pa.string()),
            ("note", pa.string()),
            ("run_id", pa.string()),
            ("noted_at", pa.timestamp("us")),
        ]
    )


# The statements of write_account_batch, each over a whole group of accounts (registered ``group_runs``,
# one row per account, and ``group_notes``): a statement costs ~2-8 ms to plan whether it carries one
# row or thousands, so a group pays them once instead of once per account.
_GROUP_ACCOUNTS = """
INSERT INTO accounts (platform, account_id, name, competitor, first_seen_at, last_seen_at)
SELECT platform, account_id, name, competitor, finished_at, finished_at FROM group_runs
ON CONFLICT (platform, account_id) DO UPDATE SET
    name = excluded.name, competitor = excluded.competitor, last_seen_at = excluded.last_seen_at
"""
_GROUP_NOTES = """
INSERT INTO metric_notes SELECT platform, account_id, source_metric, note, run_id, noted_at FROM group_notes
ON CONFLICT (platform, account_id, source_metric) DO UPDATE SET
    note = excluded.note, run_id = excluded.run_id, noted_at = excluded.noted_at
"""
_GROUP_RUN_ACCOUNTS = """
INSERT INTO run_accounts
SELECT run_id, platform, account_id, status, error_kind, reason, rows_written, requests, since, until,
       started_at, finished_at
FROM group_runs
ON CONFLICT (run_id, platform, account_id) DO UPDATE SET
    status = excluded.status, error_kind = excluded.error_kind, reason = excluded.reason,
    rows_written = excluded.rows_written, requests = excluded.requests,
    finished_at = excluded.finished_at
"""
_CHANGED_PER_ACCOUNT = "SELECT platform, account_id, count(*) FROM batch GROUP BY platform, account_id"


def write_account_batches(con: duckdb.DuckDBPyConnection, batches: Sequence[AccountBatch]) -> list[int]:
    """Write several accounts' batches in ONE transaction; returns the rows written of each.

    The same rows, notes, account and run records as :func:`write_account_batch` for each batch
    in turn, and all-or-nothing for the group: on any error nothing of any of them is kept (the
    caller may then write them one by one, so that one bad account fails alone).  Each account
    is therefore whole or absent, as with one transaction each, also after a crash or ``kill -9``
    (DuckDB's commit is atomic: an interrupted one is not replayed).  One transaction per group
    pays the statements' planning and the commit once for the group instead of once per account.
    """
    if not batches:
        return []
    if len(batches) == 1:
        one = batches[0]
        return [write_account_batch(con, one.outcome, one.rows, one.skipped)]
    con.execute("BEGIN TRANSACTION")
    try:
        written: list[int] = []
        for part in _distinct_accounts(batches):
            written += _write_group(con, part)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    return written


def _distinct_accounts(batches: Sequence[AccountBatch]) -> list[Sequence[AccountBatch]]:
    """``batches`` cut, in order, into runs in which no account comes twice (each written set-wise)."""
    parts: list[Sequence[AccountBatch]] = []
    seen: set[tuple[str, str]] = set()
    start = 0
    for i, batch in enumerate(batches):
        key = (batch.outcome.account.platform, batch.outcome.account.id)
        if key in seen:
            parts.append(batches[start:i])
            seen.clear()
            start = i
        seen.add(key)
    parts.append(batches[start:])
    return parts


def _write_group(con: duckdb.DuckDBPyConnection, batches: Sequence[AccountBatch]) -> list[int]:
    """Batches of distinct accounts, in the caller's transaction; the rows written of each."""
    if len(batches) == 1 or not _rows_are_their_accounts(batches):
        return [write_in_transaction(con, b.outcome, b.rows, b.skipped) for b in batches]
    rows: list[Observation] = []
    for batch in batches:
        rows.extend(batch.rows)
    changed = _upsert_group_rows(con, batches, rows)
    written = [changed.get((b.outcome.account.platform, b.outcome.account.id), 0) for b in batches]
    runs = _runs_table(batches, written)
    con.register("group_runs", runs)
    try:
        con.execute(_GROUP_ACCOUNTS).fetchall()
        notes = _notes_table(batches)
        if notes.num_rows:
            con.register("group_notes", notes)
            try:
                con.execute(_GROUP_NOTES).fetchall()
            finally:
                con.unregister("group_notes")
        con.execute(_GROUP_RUN_ACCOUNTS).fetchall()
        aggregates.note_runs(con, "group_runs")
    finally:
        con.unregister("group_runs")
    return written


def _rows_are_their_accounts(batches: Sequence[AccountBatch]) -> bool:
    """Every row of every batch belongs to that batch's account (what collectors return).

    Then no two batches share a key, and the rows each batch changed can be told apart by their
    account; otherwise the group is written batch by batch (still in the one transaction)."""
    for batch in batches:
        platform, account_id = batch.outcome.account.platform, batch.outcome.account.id
        for row in batch.rows:
            if row.account_id != account_id or row.platform != platform:
                return False
    return True


def _upsert_group_rows(
    con: duckdb.DuckDBPyConnection, batches: Sequence[AccountBatch], rows: Sequence[Observation]
) -> dict[tuple[str, str], int]:
    """Upsert every batch's rows as one table; the rows inserted or changed per (platform, account_id)."""
    if not rows:
        return {}
    table = _group_arrow(batches, rows)
    if not keys_unique(con, table):
        table = _dedup_keep_last(table)
    changed = upsert_changed(con, table)
    if not changed.num_rows:  # a re-run of the same values: nothing changed, nothing to maintain
        return {}
    # Only the changed rows are folded into the aggregates: an unchanged key's day is in its account's
    # bounds, its kpi_daily / network_daily cell holds its value, and its kpi_running rows count it
    # already, so the statements over them would change nothing (a re-run spent ~60% of its time so).
    con.register("batch", changed)
    try:
        counts = con.execute(_CHANGED_PER_ACCOUNT).fetchall()
        aggregates.maintain(con, changed)
    finally:
        con.unregister("batch")
    return {(p, a): int(n) for p, a, n in counts}


def _group_arrow(batches: Sequence[AccountBatch], rows: Sequence[Observation]) -> pa.Table:
    """``rows`` (every batch's rows, in order) as an Arrow table of :func:`warehouse.load.observation_schema`,
    knowing each row is its batch's account's.

    The columns that are one value per batch (platform, account, run, and ``collected_at`` when the
    batch has one, as a collector's does) are repeated by Arrow instead of read from each row."""
    import pyarrow as pa

    filled = [b for b in batches if b.rows]

    def repeated(values: list[Any], kind: pa.DataType) -> pa.Array:
        parts = [pa.repeat(pa.scalar(v, kind), len(b.rows)) for v, b in zip(values, filled, strict=True)]
        return pa.concat_arrays(parts)

    ts = pa.timestamp("us")
    stamps: list[pa.Array] = []
    for b in filled:
        seen = {r.collected_at for r in b.rows}
        if len(seen) == 1:
            stamps.append(pa.repeat(pa.scalar(naive_utc(next(iter(seen))), ts), len(b.rows)))
        else:
            naive = {s: naive_utc(s) for s in seen}
            stamps.append(pa.array([naive[r.collected_at] for r in b.rows], ts))
    return pa.Table.from_arrays(
        [
            repeated([b.outcome.account.platform for b in filled], pa.string()),
            repeated([b.outcome.account.id for b in filled], pa.string()),
            pa.array([r.metric for r in rows], pa.string()),
            pa.array([r.observed_on for r in rows], pa.date32()),
            value_column(rows),
            pa.array([r.source_metric for r in rows], pa.string()),
            pa.concat_arrays(stamps),
            repeated([b.outcome.run_id for b in filled], pa.string()),
        ],
        schema=observation_schema(),
    )


def _dedup_keep_last(table: pa.Table) -> pa.Table:
    """``table`` with one row per key: the last one (rare: a batch that repeats a key)."""
    import pyarrow as pa

    keys = zip(*(table.column(n).to_pylist() for n in ("platform", "account_id", "metric", "observed_on")), strict=True)
    last = {key: i for i, key in enumerate(keys)}
    return table.take(pa.array(sorted(last.values()), pa.int64()))


def _runs_table(batches: Sequence[AccountBatch], written: Sequence[int]) -> pa.Table:
    import pyarrow as pa

    outcomes = [b.outcome for b in batches]
    return pa.Table.from_pydict(
        {
            "run_id": [o.run_id for o in outcomes],
            "platform": [o.account.platform for o in outcomes],
            "account_id": [o.account.id for o in outcomes],
            "name": [o.account.name for o in outcomes],
            "competitor": [o.account.competitor for o in outcomes],
            "status": [o.status for o in outcomes],
            "error_kind": [o.error_kind for o in outcomes],
            "reason": [o.reason for o in outcomes],
            "rows_written": list(written),
            "requests": [o.requests for o in outcomes],
            "since": [o.since for o in outcomes],
            "until": [o.until for o in outcomes],
            "started_at": [naive_utc(o.started_at) for o in outcomes],
            "finished_at": [naive_utc(o.finished_at) for o in outcomes],
        },
        schema=_run_schema(),
    )


def _notes_table(batches: Sequence[AccountBatch]) -> pa.Table:
    """Every batch's skipped-metric notes, one per key (a note given twice: the last one)."""
    import pyarrow as pa

    notes: dict[tuple[str, str, str], tuple[str, str, datetime]] = {}
    for b in batches:
        o = b.outcome
        for source_metric, note in b.skipped:
            notes[(o.account.platform, o.account.id, source_metric)] = (note, o.run_id, naive_utc(o.finished_at))
    keys, values = list(notes), list(notes.values())
    return pa.Table.from_pydict(
        {
            "platform": [k[0] for k in keys],
            "account_id": [k[1] for k in keys],
            "source_metric": [k[2] for k in keys],
            "note": [v[0] for v in values],
            "run_id": [v[1] for v in values],
            "noted_at": [v[2] for v in values],
        },
        schema=_notes_schema(),
    )
