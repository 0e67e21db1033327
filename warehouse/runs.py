"""What ``socialkpi status`` reports: the last runs, per-account freshness, failures, skipped metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from warehouse import aggregates
from warehouse.access import AGGREGATES_VERSION, RUNS_VERSION, DbPath, WarehouseMissing, open_warehouse, schema_version
from warehouse.lake_config import Lake


@dataclass
class StatusReport:
    runs: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    requests_this_month: dict[str, int] = field(default_factory=dict)  # platform -> API requests (X bills reads)


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# The newest day per account: schema 3 keeps it in account_days (warehouse.aggregates); older files
# are grouped by hand, as the latest runs are before schema 4 (aggregates.LATEST_RUNS_RAW).
_NEWEST = "SELECT platform, account_id, newest_day FROM account_days"
_NEWEST_RAW = "SELECT platform, account_id, max(observed_on) AS newest_day FROM observations GROUP BY ALL"


def status_report(db_path: DbPath, *, last_runs: int = 5) -> StatusReport:
    """Last ``last_runs`` runs (newest first); per account: newest stored day, the last successful
    run, the status and reason of its latest attempt; metrics the platforms refused.  An existing
    file without socialkpi's tables yet gives an empty report."""
    try:
        with open_warehouse(db_path) as (con, _):
            return _report(con, schema_version(con), last_runs)
    except WarehouseMissing:
        if not isinstance(db_path, Lake) and not Path(db_path).exists():
            raise
        return StatusReport()  # a file, or a lake, without socialkpi's tables yet


def _report(con: duckdb.DuckDBPyConnection, version: int, last_runs: int) -> StatusReport:
    runs = _dicts(
        con.execute(
            """
            SELECT run_id, started_at, finished_at, status, accounts_ok, accounts_failed, rows_written, requests
            FROM runs ORDER BY started_at DESC LIMIT ?
            """,
            [last_runs],
        )
    )
    accounts = _dicts(
        con.execute(
            f"""
            WITH latest AS ({aggregates.LATEST_RUNS if version >= RUNS_VERSION else aggregates.LATEST_RUNS_RAW}),
            newest AS ({_NEWEST if version >= AGGREGATES_VERSION else _NEWEST_RAW})
            SELECT a.platform, a.account_id, a.name, a.competitor, n.newest_day,
                   l.last_ok_at AS last_ok, l.last_status, l.reason AS last_reason
            FROM accounts a
            LEFT JOIN latest l USING (platform, account_id)
            LEFT JOIN newest n USING (platform, account_id)
            ORDER BY a.platform, a.account_id
            """
        )
    )
    notes = _dicts(
        con.execute(
            "SELECT platform, account_id, source_metric, note, noted_at FROM metric_notes ORDER BY 1, 2, 3"
        )
    )
    month = dict(
        con.execute(
            """
            SELECT platform, sum(requests)::BIGINT FROM run_accounts
            WHERE started_at >= date_trunc('month', current_date) GROUP BY platform ORDER BY platform
            """
        ).fetchall()
    )
    return StatusReport(runs=runs, accounts=accounts, notes=notes, requests_this_month=month)
