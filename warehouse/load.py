"""Idempotent, bulk loading: upserts on the natural key, one transaction per account batch.

Rows go in as one Arrow table and one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (never
row-by-row ``executemany``: 1M rows take ~18 minutes that way and ~1.5 s this way, tech-notes
§2).  A key whose value did not change is left alone, so loading the same data twice changes
nothing at all, not even ``collected_at``.  :func:`write_account_batch` wraps an account's rows,
its metric notes and its run record in one transaction: a failure leaves none of them behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa

from collectors.observation import Account, Observation

OBSERVATION_SCHEMA = pa.schema(
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


def naive_utc(moment: datetime) -> datetime:
    """DuckDB TIMESTAMP columns hold UTC without an offset."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def observations_table(rows: Iterable[Observation], run_id: str) -> pa.Table:
    """An Arrow table of ``rows``, de-duplicated on the key (the last row for a key wins)."""
    latest: dict[tuple[str, str, str, date], Observation] = {}
    for row in rows:
        latest[row.key()] = row
    kept = list(latest.values())
    return pa.table(
        {
            "platform": [r.platform for r in kept],
            "account_id": [r.account_id for r in kept],
            "metric": [r.metric for r in kept],
            "observed_on": [r.observed_on for r in kept],
            "value": [float(r.value) for r in kept],
            "source_metric": [r.source_metric for r in kept],
            "collected_at": [naive_utc(r.collected_at) for r in kept],
            "run_id": [run_id] * len(kept),
        },
        schema=OBSERVATION_SCHEMA,
    )


def upsert_table(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> int:
    """Upsert an Arrow table shaped like :data:`OBSERVATION_SCHEMA`; returns rows inserted or changed.

    The caller owns the transaction.  Keys must be unique within ``batch``.
    """
    if batch.num_rows == 0:
        return 0
    con.register("batch", batch)
    try:
        result = con.execute(UPSERT_SQL).fetchone()
    finally:
        con.unregister("batch")
    return int(result[0]) if result else 0


def upsert_observations(con: duckdb.DuckDBPyConnection, rows: Sequence[Observation], run_id: str) -> int:
    """Upsert ``rows`` in one transaction; returns rows inserted or changed."""
    con.execute("BEGIN TRANSACTION")
    try:
        written = upsert_table(con, observations_table(rows, run_id))
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise
    return written


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
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
        upsert_account(con, outcome.account, outcome.finished_at)
        written = upsert_table(con, observations_table(rows, outcome.run_id))
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
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise
    return written


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, started_at: datetime, command: str) -> None:
    con.execute(
        "INSERT INTO runs (run_id, started_at, status, command) VALUES (?, ?, 'running', ?)",
        [run_id, naive_utc(started_at), command],
    )


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


def utcnow() -> datetime:
    return datetime.now(UTC)
