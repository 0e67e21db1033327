"""What needs the owner after a collect, and which alerts were already sent: the SQL of the alerts.

``socialkpi.alerts`` asks, right after a collect (the run id in hand):

- :func:`failing_streaks`: each account that failed in this run, with how many of its latest runs in a
  row failed (from ``run_accounts``, newest first, up to its latest success);
- :func:`refused_metrics`: each metric a platform refused in this run (``metric_notes`` written by this
  run) that it used to give: the warehouse holds values of it for that account, collected after the
  last alert about it (so a metric retired for good is told once, not every day; one that comes back
  and is refused again is told again);

and keeps in ``alerts_sent`` (schema version 6) each alert it sent: the condition (``failed_runs:
facebook/123``, ``token:...``, ``refused:...``), the business's day, the destination (an e-mail
address, or ``url:<scheme>:<fingerprint>``: never the URL, which holds the service's token), the
message.  A condition is sent once per day and destination (:func:`already_sent`); a destination that
failed is not recorded, so the next collect tries it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from warehouse.load import naive_utc


@dataclass(frozen=True, slots=True)
class Streak:
    platform: str
    account_id: str
    account_name: str
    failed_runs: int  # the latest runs of this account in a row that failed, this one included
    error_kind: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Refusal:
    platform: str
    account_id: str
    account_name: str
    source_metric: str
    note: str


@dataclass(frozen=True, slots=True)
class Sent:
    condition: str
    day: date
    destination: str
    platform: str
    account_id: str
    message: str
    sent_at: datetime


_STREAKS = """
WITH failed AS (
    SELECT platform, account_id, error_kind, coalesce(reason, '') AS reason
    FROM run_accounts WHERE run_id = ? AND status <> 'ok'
),
recent AS (
    SELECT r.platform, r.account_id, r.status,
           row_number() OVER (PARTITION BY r.platform, r.account_id ORDER BY r.started_at DESC) AS rn
    FROM run_accounts r JOIN failed f USING (platform, account_id)
),
streaks AS (
    SELECT platform, account_id, coalesce(min(rn) FILTER (WHERE status = 'ok') - 1, count(*)) AS failed_runs
    FROM recent GROUP BY platform, account_id
)
SELECT f.platform, f.account_id, coalesce(a.name, f.account_id), s.failed_runs, f.error_kind, f.reason
FROM failed f
JOIN streaks s USING (platform, account_id)
LEFT JOIN accounts a USING (platform, account_id)
WHERE s.failed_runs >= ?
ORDER BY f.platform, f.account_id
"""


def failing_streaks(con: duckdb.DuckDBPyConnection, run_id: str, at_least: int) -> list[Streak]:
    """The accounts that failed in ``run_id`` and in each of their ``at_least`` latest runs."""
    rows = con.execute(_STREAKS, [run_id, at_least]).fetchall()
    return [Streak(str(p), str(a), str(n), int(k), e, str(r)) for p, a, n, k, e, r in rows]


_REFUSED = """
SELECT n.platform, n.account_id, coalesce(a.name, n.account_id), n.source_metric, n.note
FROM metric_notes n
LEFT JOIN accounts a USING (platform, account_id)
WHERE n.run_id = ?
  AND EXISTS (
      SELECT 1 FROM observations o
      WHERE o.platform = n.platform AND o.account_id = n.account_id
        AND (o.source_metric = n.source_metric OR o.metric = n.source_metric)
        AND o.collected_at > coalesce(
            (SELECT max(s.sent_at) FROM alerts_sent s
             WHERE s.condition = 'refused:' || n.platform || '/' || n.account_id || ':' || n.source_metric),
            TIMESTAMP '1970-01-01')
  )
ORDER BY n.platform, n.account_id, n.source_metric
"""


def refused_metrics(con: duckdb.DuckDBPyConnection, run_id: str) -> list[Refusal]:
    """The metrics refused in ``run_id`` that the platform gave before (module docstring)."""
    rows = con.execute(_REFUSED, [run_id]).fetchall()
    return [Refusal(str(p), str(a), str(n), str(m), str(why)) for p, a, n, m, why in rows]


def already_sent(
    con: duckdb.DuckDBPyConnection, conditions: Sequence[str], day: date
) -> set[tuple[str, str]]:
    """(condition, destination) pairs of ``conditions`` sent on ``day``."""
    if not conditions:
        return set()
    rows = con.execute(
        "SELECT condition, destination FROM alerts_sent WHERE day = ? AND list_contains(?, condition)",
        [day, list(conditions)],
    ).fetchall()
    return {(str(c), str(d)) for c, d in rows}


def record_sent(con: duckdb.DuckDBPyConnection, sent: Iterable[Sent]) -> int:
    """Keep ``sent`` (one transaction); a pair already kept for the day stays as it was.  Rows written."""
    rows = [
        [s.condition, s.day, s.destination, s.platform, s.account_id, s.message, naive_utc(s.sent_at)] for s in sent
    ]
    if not rows:
        return 0
    con.execute("BEGIN TRANSACTION")
    try:
        before = _count(con)
        con.executemany("INSERT INTO alerts_sent VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
        written = _count(con) - before
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return written


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM alerts_sent").fetchone()
    return int(row[0]) if row else 0
