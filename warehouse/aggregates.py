"""Aggregates the load keeps up to date, so the dashboard never rescans ``observations``.

Two small tables (schema version 3), written by :func:`maintain` inside the same transaction as
the rows they summarise (:func:`warehouse.load.upsert_table` calls it right after the upsert, so
``write_account_batch``, ``upsert_observations`` and ``import-csv`` all keep them current):

``account_days``  (platform, account_id) -> first_day, newest_day
    The oldest and newest ``observed_on`` per account: the date filter, the platform list and
    the freshness table read this (a few thousand rows) instead of the 11M-row fact table.
``kpi_daily``     (platform, account_id, observed_on) -> one column per KPI metric
    The observations of the KPI metrics (:data:`KPI_METRICS`) pivoted to one row per account and
    day: ten times fewer rows than ``observations`` for the same window, and numbers only.  A
    column is NULL where ``observations`` holds no row for that metric.  Every dashboard page reads
    this instead of ``observations`` (the KPI cards, the trends, the snapshot, the per-platform
    table, the competitors, the ROI); schema version 7 added ``posts`` and ``followers_gained``
    (:data:`LEVEL_METRICS`), so a row may hold only those two: a query that needs a row with one of
    its own metrics says so (``... IS NOT NULL``).

Why these stay exact without ever reading old values: ``kpi_daily`` has the grain of the fact
table (a day of one account), only pivoted, so after an upsert the stored value of a key *is* the
batch's value and a batch can simply overwrite its cells (``coalesce(new, old)`` keeps the
metrics the batch did not carry); ``account_days`` only moves its bounds outwards, because no
code path deletes observations.  Competitor flags are not copied: queries join ``accounts``, so
flipping ``competitor`` needs no maintenance.  :func:`rebuild` recomputes both from scratch
(migration 3 runs it once; a bulk ``INSERT`` that bypasses :mod:`warehouse.load` must call it).

Schema version 7 adds ``network_daily`` (platform, account_id, observed_on, network) -> visits: the
``visits_from_<network>`` observations (any network, so not a ``kpi_daily`` column), copied with the
network as a key; the Website and ROI pages read the window's rows of it.  :func:`maintain` writes
it for a batch that carries such a metric (web analytics accounts only), overwriting as the
upsert does.

Schema version 8 adds ``kpi_running`` (platform, account_id, observed_on) -> running totals: one row
for **every** day from the account's ``first_day`` to its ``newest_day`` (days with nothing stored
too), holding ``stored`` (anything stored that day), ``days_stored`` (days stored up to and including
it), for each summed KPI metric (:data:`RUNNING_SUMS`) its sum up to that day and ``<metric>_n``, the
number of days it has a value up to that day, and ``followers_last`` / ``followers_on``, the last
``followers`` value up to that day and its day.  A window's sum per account is then two exact-key
lookups (the row of its last day minus the row of the day before it starts), not a scan of its days:
the Overview's cards and snapshot, the Data health counts (5,000 accounts x 90 days = 450,000
``kpi_daily`` rows become 10,000 rows).  The counts are integers and the sums of counts exact (every
value below 2**53), so a difference of two running sums is the window's sum.  :func:`maintain` rewrites
an account's rows from the first day its batch touches (or the day after its old ``newest_day``, to
fill a gap) to its newest day: a few rows for a daily collect, the whole history for an import of
older data; it runs before ``account_days`` moves, which it reads for the old bounds.

Schema version 4 adds one more, kept by :func:`note_run` (``write_account_batch`` calls it with
the ``run_accounts`` row, in the same transaction; :func:`note_runs` for a group of accounts):

``account_runs``  (platform, account_id) -> the latest run's start, status, error_kind, reason,
    and the end of the latest successful run.  The freshness table and ``socialkpi status`` read
    this instead of grouping every ``run_accounts`` row (one a day per account: 1.1M rows for an
    agency's three years, ~15 ms a page).  "Latest" is by ``started_at``; a run written again for
    the same account (same start) replaces its status.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

KPI_METRICS: tuple[str, ...] = (
    "followers", "impressions", "reach", "engagements", "profile_views", "link_clicks",
    "page_views", "visits", "visitors", "social_visits", "social_page_views",
    "posts", "followers_gained",
)  # fmt: skip
# The columns schema version 7 added (the Competitors page's posting cadence, the ROI page's new
# followers): a file at version 3 to 6 has only the others.
LEVEL_METRICS: tuple[str, ...] = ("posts", "followers_gained")

_COLUMNS = ",\n    ".join(f"{m} DOUBLE" for m in KPI_METRICS)

DDL = f"""
CREATE TABLE IF NOT EXISTS account_days (
    platform   VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    first_day  DATE NOT NULL,
    newest_day DATE NOT NULL,
    PRIMARY KEY (platform, account_id)
);
CREATE TABLE IF NOT EXISTS kpi_daily (
    platform    VARCHAR NOT NULL,
    account_id  VARCHAR NOT NULL,
    observed_on DATE NOT NULL,
    {_COLUMNS},
    PRIMARY KEY (platform, account_id, observed_on)
);
"""


RUNS_DDL = """
CREATE TABLE IF NOT EXISTS account_runs (
    platform        VARCHAR NOT NULL,
    account_id      VARCHAR NOT NULL,
    last_started_at TIMESTAMP NOT NULL,
    last_status     VARCHAR NOT NULL,
    last_error_kind VARCHAR,
    last_reason     VARCHAR,
    last_ok_at      TIMESTAMP,
    PRIMARY KEY (platform, account_id)
);
"""

# Each account's latest run (by start) and last success, as rows of (platform, account_id, last_status,
# error_kind, reason, last_started_at, last_ok_at): grouped from run_accounts (any schema), or read from
# account_runs (schema 4).  The freshness table and ``socialkpi status`` select from one of them.
LATEST_RUNS_RAW = """
SELECT platform, account_id, last.status AS last_status, last.error_kind AS error_kind, last.reason AS reason,
       last.started_at AS last_started_at, last_ok_at
FROM (
    SELECT platform, account_id,
           arg_max({'started_at': started_at, 'status': status, 'error_kind': error_kind, 'reason': reason},
                   started_at) AS last,
           max(finished_at) FILTER (WHERE status = 'ok') AS last_ok_at
    FROM run_accounts GROUP BY platform, account_id
)
"""
LATEST_RUNS = """
SELECT platform, account_id, last_status, last_error_kind AS error_kind, last_reason AS reason, last_started_at,
       last_ok_at
FROM account_runs
"""

RUNS_REBUILD_SQL = (
    "DELETE FROM account_runs",
    f"""
INSERT INTO account_runs
SELECT platform, account_id, last_started_at, last_status, error_kind, reason, last_ok_at
FROM ({LATEST_RUNS_RAW})
""",
)

_NOTE_RUN = """
INSERT INTO account_runs VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (platform, account_id) DO UPDATE SET
    last_started_at = CASE WHEN excluded.last_started_at >= account_runs.last_started_at
                           THEN excluded.last_started_at ELSE account_runs.last_started_at END,
    last_status = CASE WHEN excluded.last_started_at >= account_runs.last_started_at
                       THEN excluded.last_status ELSE account_runs.last_status END,
    last_error_kind = CASE WHEN excluded.last_started_at >= account_runs.last_started_at
                           THEN excluded.last_error_kind ELSE account_runs.last_error_kind END,
    last_reason = CASE WHEN excluded.last_started_at >= account_runs.last_started_at
                       THEN excluded.last_reason ELSE account_runs.last_reason END,
    last_ok_at = CASE WHEN account_runs.last_ok_at IS NULL THEN excluded.last_ok_at
                      WHEN excluded.last_ok_at IS NULL THEN account_runs.last_ok_at
                      ELSE greatest(account_runs.last_ok_at, excluded.last_ok_at) END
"""


def note_run(
    con: duckdb.DuckDBPyConnection,
    platform: str,
    account_id: str,
    *,
    started_at: datetime,
    finished_at: datetime,
    status: str,
    error_kind: str | None,
    reason: str | None,
) -> None:
    """Fold one ``run_accounts`` row (naive UTC times, as stored) into ``account_runs`` (caller's transaction)."""
    last_ok = finished_at if status == "ok" else None
    con.execute(_NOTE_RUN, [platform, account_id, started_at, status, error_kind, reason, last_ok]).fetchall()


_NOTE_RUNS = _NOTE_RUN.replace(
    "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "SELECT platform, account_id, started_at, status, error_kind, reason,\n"
    "       CASE WHEN status = 'ok' THEN finished_at END\nFROM {source}",
)


def note_runs(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """:func:`note_run` for every row of ``source`` at once (``run_accounts`` columns, naive UTC times, one
    row per account), in the caller's transaction: what ``write_account_batches`` uses for a group."""
    con.execute(_NOTE_RUNS.format(source=source)).fetchall()


def _daily_upsert(source: str, metrics: tuple[str, ...] = KPI_METRICS) -> str:
    """Fold ``source``'s rows of ``metrics`` (a subset of :data:`KPI_METRICS`) into ``kpi_daily``."""
    keep = ", ".join(f"{m} = coalesce(excluded.{m}, kpi_daily.{m})" for m in metrics)
    changed = " OR ".join(
        f"(excluded.{m} IS NOT NULL AND excluded.{m} IS DISTINCT FROM kpi_daily.{m})" for m in metrics
    )
    pivot = ", ".join(f"max(value) FILTER (WHERE metric = '{m}') AS {m}" for m in metrics)
    listed = ", ".join(f"'{m}'" for m in metrics)
    return f"""
INSERT INTO kpi_daily (platform, account_id, observed_on, {", ".join(metrics)})
SELECT platform, account_id, observed_on, {pivot}
FROM {source}
WHERE metric IN ({listed})
GROUP BY platform, account_id, observed_on
ORDER BY observed_on
ON CONFLICT (platform, account_id, observed_on) DO UPDATE SET {keep}
WHERE {changed}
"""


def _days_upsert(source: str) -> str:
    return f"""
INSERT INTO account_days (platform, account_id, first_day, newest_day)
SELECT platform, account_id, min(observed_on), max(observed_on)
FROM {source}
GROUP BY platform, account_id
ON CONFLICT (platform, account_id) DO UPDATE SET
    first_day = least(account_days.first_day, excluded.first_day),
    newest_day = greatest(account_days.newest_day, excluded.newest_day)
WHERE excluded.first_day < account_days.first_day OR excluded.newest_day > account_days.newest_day
"""


# One account's batch (what ``socialkpi collect`` writes): its bounds come from Arrow, not a scan.
_ONE_ACCOUNT_DAYS = """
INSERT INTO account_days (platform, account_id, first_day, newest_day) VALUES (?, ?, ?, ?)
ON CONFLICT (platform, account_id) DO UPDATE SET
    first_day = least(account_days.first_day, excluded.first_day),
    newest_day = greatest(account_days.newest_day, excluded.newest_day)
WHERE excluded.first_day < account_days.first_day OR excluded.newest_day > account_days.newest_day
"""

_daily_sql: dict[tuple[str, ...], str] = {}

REBUILD_SQL = (
    "DELETE FROM account_days",
    "DELETE FROM kpi_daily",
    _days_upsert("observations"),
    _daily_upsert("observations"),
)

NETWORK_PREFIX = "visits_from_"

NETWORK_DDL = """
CREATE TABLE IF NOT EXISTS network_daily (
    platform    VARCHAR NOT NULL,
    account_id  VARCHAR NOT NULL,
    observed_on DATE NOT NULL,
    network     VARCHAR NOT NULL,
    visits      DOUBLE NOT NULL,
    PRIMARY KEY (platform, account_id, observed_on, network)
)
"""


def _network_upsert(source: str) -> str:
    """Fold ``source``'s ``visits_from_<network>`` rows into ``network_daily`` (a copy of them, keyed by network)."""
    return f"""
INSERT INTO network_daily (platform, account_id, observed_on, network, visits)
SELECT platform, account_id, observed_on, substr(metric, {len(NETWORK_PREFIX) + 1}), value
FROM {source}
WHERE starts_with(metric, '{NETWORK_PREFIX}')
ORDER BY observed_on
ON CONFLICT (platform, account_id, observed_on, network) DO UPDATE SET visits = excluded.visits
WHERE excluded.visits IS DISTINCT FROM network_daily.visits
"""


_NETWORK_BATCH_SQL = _network_upsert("batch")

# Schema version 7: the two columns of LEVEL_METRICS (a file migrated to version 3 by this code has
# them already: the DDL above lists every KPI_METRICS column), and network_daily, filled from the
# observations.
LEVELS_SQL = (
    *(f"ALTER TABLE kpi_daily ADD COLUMN IF NOT EXISTS {m} DOUBLE" for m in LEVEL_METRICS),
    _daily_upsert("observations", LEVEL_METRICS),
    NETWORK_DDL,
    _network_upsert("observations"),
)
NETWORK_REBUILD_SQL = ("DELETE FROM network_daily", _network_upsert("observations"))


# The summed metrics of kpi_running (every KPI metric but the level, followers, which keeps its last value).
RUNNING_SUMS: tuple[str, ...] = tuple(m for m in KPI_METRICS if m != "followers")

RUNNING_DDL = (
    """
CREATE TABLE IF NOT EXISTS kpi_running (
    platform       VARCHAR NOT NULL,
    account_id     VARCHAR NOT NULL,
    observed_on    DATE NOT NULL,
    stored         BOOLEAN NOT NULL,
    days_stored    INTEGER NOT NULL,
    followers_n    INTEGER NOT NULL,
    followers_last DOUBLE,
    followers_on   DATE,
    """
    + ",\n    ".join(f"{m} DOUBLE NOT NULL, {m}_n INTEGER NOT NULL" for m in RUNNING_SUMS)
    + """,
    PRIMARY KEY (platform, account_id, observed_on)
)
"""
)

_RUNNING_COLUMNS = ("stored", "days_stored", "followers_n", "followers_last", "followers_on",
                    *(c for m in RUNNING_SUMS for c in (m, f"{m}_n")))  # fmt: skip


RUNNING_SHORT_DAYS = 64  # a span this short: running sums by a self-join (DuckDB's windows are slow per partition)


def _running_select(source: str) -> str:
    """``SELECT`` the new ``kpi_running`` rows of every account of ``source`` (a relation of platform,
    account_id, observed_on: the days just written, every one of them): from its first day in
    ``source``, or the day after its ``account_days.newest_day`` if that is earlier, up to its newest
    day.  Run it after ``kpi_daily`` is upserted and **before** ``account_days`` is (its old bounds
    say which rows exist already).  Each row: the row before the rewritten span (or zeros) plus the
    span's running sums over ``kpi_daily`` up to that day.  ``$1``: a day no span starts before
    (every scan of the two big tables starts there: their zone maps skip the older rows).

    The running sums of a span of fewer than :data:`RUNNING_SHORT_DAYS` days (a collect's few days)
    come from joining the span's rows with the earlier ones: a window over 26 columns cost DuckDB
    ~2 ms per account even for 4 rows (170 ms for a 100-account group); a longer span (an import of
    older data) takes the window, whose cost grows with its rows only."""
    window = "OVER (PARTITION BY r.platform, r.account_id ORDER BY r.observed_on ROWS UNBOUNDED PRECEDING)"
    sums = ",\n       ".join(f"sum(r.{m}) {window} AS {m}, count(r.{m}) {window} AS {m}_n" for m in RUNNING_SUMS)
    joined = ",\n       ".join(f"sum(b.{m}) AS {m}, count(b.{m}) AS {m}_n" for m in RUNNING_SUMS)
    totals = ",\n       ".join(
        f"coalesce(p.{m}, 0) + coalesce(c.{m}, 0) AS {m}, coalesce(p.{m}_n, 0) + c.{m}_n AS {m}_n" for m in RUNNING_SUMS
    )
    kpis = ", ".join(f"k.{m}" for m in KPI_METRICS)
    return f"""
WITH touched AS (SELECT DISTINCT platform, account_id, observed_on FROM {source}),
spans AS (
    SELECT t.platform, t.account_id,
           least(min(t.observed_on), coalesce(any_value(d.newest_day) + 1, min(t.observed_on))) AS lo,
           greatest(max(t.observed_on), coalesce(any_value(d.newest_day), max(t.observed_on))) AS hi
    FROM touched t LEFT JOIN account_days d USING (platform, account_id)
    GROUP BY t.platform, t.account_id
),
grid AS (
    SELECT platform, account_id, CAST(unnest(generate_series(lo, hi, INTERVAL 1 DAY)) AS DATE) AS observed_on,
           hi - lo < {RUNNING_SHORT_DAYS} AS short
    FROM spans
),
r AS (
    SELECT g.platform, g.account_id, g.observed_on, g.short,
           t.observed_on IS NOT NULL OR coalesce(o.stored, false) AS stored, {kpis}
    FROM grid g
    LEFT JOIN touched t USING (platform, account_id, observed_on)
    LEFT JOIN (SELECT platform, account_id, observed_on, stored FROM kpi_running WHERE observed_on >= $1::DATE) o
        USING (platform, account_id, observed_on)
    LEFT JOIN (SELECT * FROM kpi_daily WHERE observed_on >= $1::DATE) k USING (platform, account_id, observed_on)
),
c AS (
    SELECT a.platform, a.account_id, a.observed_on, any_value(a.stored) AS stored,
           sum(b.stored::INTEGER) AS days_stored, count(b.followers) AS followers_n,
           arg_max(b.followers, b.observed_on) FILTER (WHERE b.followers IS NOT NULL) AS followers_last,
           max(b.observed_on) FILTER (WHERE b.followers IS NOT NULL) AS followers_on,
           {joined}
    FROM r a JOIN r b ON b.platform = a.platform AND b.account_id = a.account_id AND b.observed_on <= a.observed_on
    WHERE a.short AND b.short
    GROUP BY a.platform, a.account_id, a.observed_on
    UNION ALL
    SELECT r.platform, r.account_id, r.observed_on, r.stored,
           sum(r.stored::INTEGER) {window} AS days_stored,
           count(r.followers) {window} AS followers_n,
           last_value(r.followers IGNORE NULLS) {window} AS followers_last,
           max(CASE WHEN r.followers IS NOT NULL THEN r.observed_on END) {window} AS followers_on,
           {sums}
    FROM r
    WHERE NOT r.short
),
p AS (
    SELECT k.* FROM (SELECT * FROM kpi_running WHERE observed_on >= $1::DATE - 1) k JOIN spans s
        ON k.platform = s.platform AND k.account_id = s.account_id AND k.observed_on = s.lo - 1
)
SELECT c.platform, c.account_id, c.observed_on, c.stored,
       coalesce(p.days_stored, 0) + c.days_stored AS days_stored,
       coalesce(p.followers_n, 0) + c.followers_n AS followers_n,
       coalesce(c.followers_last, p.followers_last) AS followers_last,
       coalesce(c.followers_on, p.followers_on) AS followers_on,
       {totals}
FROM c LEFT JOIN p USING (platform, account_id)"""


def _running_writes(source: str) -> tuple[str]:
    """The ``MERGE`` of :func:`_running_select` into kpi_running (``$1`` as there): existing rows that
    change are updated, new ones inserted.  Not ``INSERT ... ON CONFLICT``: DuckDB planned that one,
    with this source, as a join of the whole table (1.1M rows at 1,000 accounts, every batch); the
    ``MERGE``'s condition on ``$1`` lets it skip the older rows."""
    changed = " OR ".join(f"kpi_running.{c} IS DISTINCT FROM n.{c}" for c in _RUNNING_COLUMNS)
    columns = ", ".join(("platform", "account_id", "observed_on", *_RUNNING_COLUMNS))
    merge = f"""
MERGE INTO kpi_running
USING ({_running_select(source)}) AS n
ON kpi_running.observed_on >= $1::DATE AND kpi_running.platform = n.platform
   AND kpi_running.account_id = n.account_id AND kpi_running.observed_on = n.observed_on
WHEN MATCHED AND ({changed}) THEN UPDATE SET {", ".join(f"{c} = n.{c}" for c in _RUNNING_COLUMNS)}
WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({", ".join(f"n.{c}" for c in columns.split(", "))})
"""
    return (merge,)


def _running_inserts(source: str) -> str:
    """:func:`_running_writes` for a ``source`` none of whose accounts has kpi_running rows yet (none is in
    ``account_days``): a plain ``INSERT`` of :func:`_running_select`, without the ``MERGE``'s join with
    the table's rows (~30% of the statement for a group of new accounts).  Were a row there after all,
    its key would be refused, not overwritten."""
    columns = ", ".join(("platform", "account_id", "observed_on", *_RUNNING_COLUMNS))
    return f"INSERT INTO kpi_running ({columns})\nSELECT {columns} FROM ({_running_select(source)})"


# kpi_running is kept only while its running sums are exact and its rows few: every KPI value an integer
# below 2**37 (a sum of 40,000 days of them stays below 2**53, where a DOUBLE is still exact) and every
# account's days within RUNNING_MAX_DAYS (one row a day: a stray date in year 9999 would make millions).
# Past that, meta holds ('kpi_running', 'off'), the table is emptied and no longer written, and the
# readers answer from kpi_daily as on a version 7 file (warehouse.access.has_running).
RUNNING_MAX_DAYS = 20 * 366
RUNNING_VALUE_LIMIT = 2.0**37
RUNNING_OFF = "SELECT count(*) > 0 FROM meta WHERE key = 'kpi_running' AND value = 'off'"


def _running_odd(source: str) -> str:
    """``SELECT`` whether ``source``'s rows would take kpi_running out of its exact, bounded domain, the
    first day its rewrite of kpi_running starts on (``$1`` of :func:`_running_select`), and whether any
    of its accounts is known (has ``account_days``, hence kpi_running rows) already."""
    kpis = ", ".join(f"'{m}'" for m in KPI_METRICS)
    return f"""
WITH t AS (
    SELECT platform, account_id, min(observed_on) AS lo, max(observed_on) AS hi,
           bool_or(metric IN ({kpis}) AND (value <> floor(value) OR abs(value) >= {RUNNING_VALUE_LIMIT}
                                           OR isnan(value))) AS odd
    FROM {source} GROUP BY platform, account_id
)
SELECT coalesce(bool_or(t.odd OR greatest(t.hi, coalesce(d.newest_day, t.hi))
                                 - least(t.lo, coalesce(d.first_day, t.lo)) >= {RUNNING_MAX_DAYS}), false) AS odd,
       min(least(t.lo, coalesce(d.newest_day + 1, t.lo))) AS lo,
       coalesce(bool_or(d.account_id IS NOT NULL), false) AS known
FROM t LEFT JOIN account_days d USING (platform, account_id)
"""


_RUNNING_OFF_SQL = (
    "DELETE FROM kpi_running",
    "INSERT INTO meta VALUES ('kpi_running', 'off') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
)
_running_sql: dict[str, tuple[str, ...]] = {}


def _keep_running(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Fold ``source`` into kpi_running (:func:`_running_writes`), or turn it off for good when ``source``
    takes it out of its domain; nothing when it is off already.  The caller's transaction."""
    sql = _running_sql.get(source)
    if sql is None:
        sql = (
            f"SELECT ({RUNNING_OFF}), odd, lo, known FROM ({_running_odd(source)})",
            _running_inserts(source),
            *_running_writes(source),
        )
        if source == "batch":  # collect's: built once (import-csv's names its run)
            _running_sql[source] = sql
    row = con.execute(sql[0]).fetchone()
    if row is None or row[0] or row[2] is None:
        return
    if row[1]:
        for off in _RUNNING_OFF_SQL:
            con.execute(off).fetchall()
        return
    for write in sql[2:] if row[3] else sql[1:2]:  # only new accounts: no rows of theirs to merge with
        con.execute(write, [row[2]]).fetchall()


_RUNNING_FILL = (
    f"INSERT INTO meta SELECT 'kpi_running', 'off' WHERE (SELECT odd FROM ({_running_odd('observations')}))"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    f"INSERT INTO kpi_running (platform, account_id, observed_on, {', '.join(_RUNNING_COLUMNS)})\n"
    + _running_select("observations").replace("$1::DATE", "(SELECT min(first_day) FROM account_days)")
    + f"\nWHERE NOT ({RUNNING_OFF})\nORDER BY c.observed_on",
)
# Schema version 8, and rebuild(): every row from the observations (account_days must hold their bounds),
# unless they are out of kpi_running's domain.
RUNNING_SQL = (RUNNING_DDL, *_RUNNING_FILL)
RUNNING_REBUILD_SQL = ("DELETE FROM kpi_running", "DELETE FROM meta WHERE key = 'kpi_running'", *_RUNNING_FILL)


def maintain(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
    """Fold ``batch``, registered as ``batch`` and just upserted (unique keys), into the aggregates.

    ``batch`` may be just the rows the upsert inserted or changed (its ``RETURNING`` rows, with at
    least platform, account_id, metric, observed_on and value): the aggregates hold an unchanged
    key's value already, so leaving it out changes nothing.

    The caller owns the transaction: the aggregates commit or roll back with the rows.  The
    statements are cut to what the batch holds (one account: its bounds as values; only the KPI
    columns it carries; none when it carries no KPI metric): planning the full statements cost
    ~7 ms for each 500-row batch of ``socialkpi collect``.
    """
    import pyarrow.compute as pc

    present = set(pc.unique(batch.column("metric")).to_pylist())
    metrics = tuple(m for m in KPI_METRICS if m in present)
    if metrics:
        sql = _daily_sql.get(metrics)
        if sql is None:
            sql = _daily_sql[metrics] = _daily_upsert("batch", metrics)
        con.execute(sql).fetchall()
    _keep_running(con, "batch")  # after kpi_daily, before account_days moves
    platforms, accounts = pc.unique(batch.column("platform")), pc.unique(batch.column("account_id"))
    if len(platforms) == 1 and len(accounts) == 1:
        days = pc.min_max(batch.column("observed_on")).as_py()
        con.execute(_ONE_ACCOUNT_DAYS, [platforms[0].as_py(), accounts[0].as_py(), days["min"], days["max"]]).fetchall()
    else:
        con.execute(_days_upsert("batch")).fetchall()
    if any(m.startswith(NETWORK_PREFIX) for m in present):  # a web analytics batch: visits per network
        con.execute(_NETWORK_BATCH_SQL).fetchall()


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute the aggregates from ``observations`` and ``run_accounts`` (the caller owns the transaction)."""
    for sql in (*REBUILD_SQL, *NETWORK_REBUILD_SQL, *RUNNING_REBUILD_SQL, *RUNS_REBUILD_SQL):
        con.execute(sql).fetchall()


def maintain_from(con: duckdb.DuckDBPyConnection, *, days: str, rows: str, metrics: set[str], networks: bool) -> None:
    """:func:`maintain` without an Arrow batch, for ``socialkpi import-csv``, whose rows never come into
    Python: ``days`` a relation of (platform, account_id, observed_on) spanning each account's days in
    the batch, ``rows`` one holding (at least) the batch's rows of ``observations`` as just upserted
    (and no row of another batch), ``metrics`` the KPI metrics the batch has, ``networks`` whether it
    has ``visits_from_<network>`` rows.  The caller owns the transaction."""
    kpis = tuple(m for m in KPI_METRICS if m in metrics)
    if kpis:
        con.execute(_daily_upsert(rows, kpis)).fetchall()
    _keep_running(con, rows)  # after kpi_daily, before account_days moves
    con.execute(_days_upsert(days)).fetchall()
    if networks:
        con.execute(_network_upsert(rows)).fetchall()
