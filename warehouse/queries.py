"""KPI and dashboard queries: one function per number, each defining what it means.

Every function takes ``db_path`` (a ``str`` or ``Path``, hashable for ``st.cache_data``), opens a
short read-only connection with :func:`warehouse.db.reading`, runs bound-parameter SQL and closes
it before returning a pandas DataFrame or a small dataclass.  Nothing here keeps a connection, so
the collector can always take the write lock between two dashboard reruns.

Conventions shared by every KPI (see docs/kpis.md):

- days are the ``observed_on`` dates of docs/metrics.md (each platform's own reporting day);
  a window ``[start, end]`` includes both ends;
- KPIs are about the business's **own** accounts: competitor accounts (``accounts.competitor``)
  are left out of every KPI and total, and appear only as their own rows in :func:`kpi_snapshot`;
- *counts* (impressions, page_views, ...) are summed over days and accounts;
- *levels* (followers) are never summed over days: the last stored value of the window per
  account, then summed across accounts;
- *distinct counts* (reach, visitors) are never summed over days either: a window's value is the
  **average daily** value (per account, over the days that account has a value), summed across
  accounts.  Summing across accounts may count a person who follows two pages twice; summing
  across days would count a person seen on 20 days 20 times, which is why we never do that.

A missing file, or a file with no socialkpi schema yet, raises :class:`WarehouseMissing` (a
:class:`~warehouse.db.WarehouseError`) whose message says how to start.  A warehouse with the
schema but no rows gives ``None`` / empty frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from warehouse import access, aggregates

# Re-exported: they moved to pandas-free modules the CSV export shares (import them from here or there).
from warehouse.access import HOW_TO_START as HOW_TO_START
from warehouse.access import DbPath as DbPath
from warehouse.access import Period as Period
from warehouse.access import WarehouseMissing as WarehouseMissing
from warehouse.access import bounds_on as bounds_on
from warehouse.access import bounds_sql, open_warehouse
from warehouse.access import page_reads as page_reads
from warehouse.aggregates import KPI_METRICS
from warehouse.kpis import previous_period
from warehouse.query_parts import (
    _OWN,
    _OWN_WINDOW,
    _PLATFORM_FILTER,
    _frame,
    _lookup_days,
    _platform_list,
    _running_rows,
    _utc,
)
from warehouse.snapshot import SNAPSHOT_COLUMNS as SNAPSHOT_COLUMNS
from warehouse.snapshot import TOTAL_NAME as TOTAL_NAME
from warehouse.snapshot import snapshot_bounds
from warehouse.snapshot import snapshot_query as snapshot_query
from warehouse.tokens import TOKEN_COLUMNS, token_rows
from warehouse.tokens import TOKEN_WARN_DAYS as TOKEN_WARN_DAYS
from warehouse.tokens import TokenWarning as TokenWarning
from warehouse.tokens import token_warnings as token_warnings

# ---------------------------------------------------------------------------------------------
# Lookups for filters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateBounds:
    first: date
    last: date


def date_bounds(db_path: DbPath) -> DateBounds | None:
    """The oldest and newest ``observed_on`` in the warehouse (all accounts); ``None`` when no rows."""
    with open_warehouse(db_path) as (con, _):
        row = con.execute(bounds_sql(con)).fetchone()
    if not row or row[0] is None:
        return None
    return DateBounds(first=row[0], last=row[1])


def platforms(db_path: DbPath) -> list[str]:
    """The platform ids that have at least one stored observation, sorted."""
    with open_warehouse(db_path) as (con, aggregated):
        table = "account_days" if aggregated else "observations"  # our own table names only
        rows = con.execute(f"SELECT DISTINCT platform FROM {table} ORDER BY platform").fetchall()
    return [r[0] for r in rows]


def accounts(db_path: DbPath) -> pd.DataFrame:
    """Known accounts: platform, account_id, account_name, competitor, first_day, newest_day, rows.

    Accounts with observations but no ``accounts`` row are listed with their id as the name.
    """
    sql = """
        WITH obs AS (
            SELECT platform, account_id, min(observed_on) AS first_day, max(observed_on) AS newest_day,
                   count(*) AS rows
            FROM observations GROUP BY platform, account_id
        )
        SELECT coalesce(a.platform, obs.platform) AS platform,
               coalesce(a.account_id, obs.account_id) AS account_id,
               coalesce(a.name, obs.account_id) AS account_name,
               coalesce(a.competitor, false) AS competitor,
               obs.first_day, obs.newest_day, coalesce(obs.rows, 0) AS rows
        FROM accounts a FULL OUTER JOIN obs USING (platform, account_id)
        ORDER BY platform, account_id
    """
    with open_warehouse(db_path) as (con, _):
        return con.execute(sql).df()


# ---------------------------------------------------------------------------------------------
# Trend chart
# ---------------------------------------------------------------------------------------------


def daily_series(
    db_path: DbPath,
    start: date,
    end: date,
    metrics: Sequence[str],
    platforms: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per (day, metric) for own accounts in ``[start, end]``: columns ``date``, ``metric``,
    ``value``, sorted by date then metric.

    ``value`` is the sum across own accounts of that day's value (a day is one day, so counts,
    levels and daily distinct counts can all be added across accounts; a level drops on a day an
    account has no value).  Days without any value are absent, not 0.
    """
    sql = f"""
        SELECT o.observed_on AS date, o.metric, sum(o.value) AS value
        FROM observations o
        LEFT JOIN accounts a USING (platform, account_id)
        WHERE o.observed_on BETWEEN ? AND ?
          AND list_contains(?::VARCHAR[], o.metric)
          AND {_OWN}
          AND {_PLATFORM_FILTER}
        GROUP BY o.observed_on, o.metric
        ORDER BY date, metric
    """
    plats = _platform_list(platforms)
    with open_warehouse(db_path) as (con, aggregated):
        wanted = sorted(set(metrics))
        if aggregated and wanted and set(wanted) <= set(KPI_METRICS):
            # sum each column per day first (a few rows per day), then one row per (day, metric);
            # a metric no own account has that day sums to NULL and is left out, as in the raw query
            sums = ", ".join(f"sum(k.{m}) AS {m}" for m in wanted)  # kpi_daily columns only
            cells = ", ".join(f"('{m}', d.{m})" for m in wanted)
            sql = f"""
                WITH d AS (
                    SELECT k.observed_on AS date, {sums}
                    FROM kpi_daily k
                    LEFT JOIN accounts a USING (platform, account_id)
                    WHERE k.observed_on BETWEEN ? AND ?
                      AND {_OWN}
                      AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], k.platform))
                    GROUP BY k.observed_on
                )
                SELECT d.date, c.metric, c.value
                FROM d CROSS JOIN LATERAL (VALUES {cells}) AS c(metric, value)
                WHERE c.value IS NOT NULL
                ORDER BY date, metric
            """
            return con.execute(sql, [start, end, plats, plats]).df()
        return con.execute(sql, [start, end, list(metrics), plats, plats]).df()


# ---------------------------------------------------------------------------------------------
# Freshness
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """How current the warehouse is.

    ``accounts`` columns: platform, account_id, account_name, competitor, newest_day (newest
    ``observed_on``), last_ok_at (UTC, end of the account's newest successful collection),
    last_status / error_kind / reason (from ``run_accounts`` of the account's latest run),
    failing (last_status is not ``ok``).
    """

    last_success_at: datetime | None  # UTC: end of the newest run whose status is "ok"
    last_run_at: datetime | None  # UTC: start of the newest run, whatever its status
    last_run_status: str | None
    accounts: pd.DataFrame

    @property
    def failing(self) -> pd.DataFrame:
        return self.accounts[self.accounts["failing"]].reset_index(drop=True)

    @property
    def n_failing(self) -> int:
        return int(self.accounts["failing"].sum())


def freshness(db_path: DbPath) -> Freshness:
    """Last successful run, and per account: newest day, last ok collection, failing with reason."""
    accounts_sql = """
        WITH latest AS ({latest}),
        newest AS ({newest}),
        keys AS (
            SELECT platform, account_id FROM accounts
            UNION SELECT platform, account_id FROM latest
            UNION SELECT platform, account_id FROM newest
        )
        SELECT k.platform, k.account_id,
               coalesce(a.name, k.account_id) AS account_name,
               coalesce(a.competitor, false) AS competitor,
               n.newest_day, l.last_ok_at, l.last_status, l.error_kind, l.reason,
               coalesce(l.last_status <> 'ok', false) AS failing
        FROM keys k
        LEFT JOIN accounts a USING (platform, account_id)
        LEFT JOIN latest l USING (platform, account_id)
        LEFT JOIN newest n USING (platform, account_id)
        ORDER BY k.platform, k.account_id
    """
    with open_warehouse(db_path) as (con, aggregated):
        newest = (
            "SELECT platform, account_id, newest_day FROM account_days"
            if aggregated
            else "SELECT platform, account_id, max(observed_on) AS newest_day FROM observations GROUP BY ALL"
        )
        kept = access.schema_version(con) >= access.RUNS_VERSION  # account_runs, kept by the load (schema 4)
        latest = aggregates.LATEST_RUNS if kept else aggregates.LATEST_RUNS_RAW
        ok = con.execute("SELECT max(finished_at) FROM runs WHERE status = 'ok'").fetchone()
        last = con.execute("SELECT started_at, status FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        frame = con.execute(accounts_sql.replace("{newest}", newest).replace("{latest}", latest)).df()
    frame["last_ok_at"] = pd.to_datetime(frame["last_ok_at"]).dt.tz_localize("UTC")
    frame["failing"] = frame["failing"].astype(bool)
    return Freshness(
        last_success_at=_utc(ok[0]) if ok else None,
        last_run_at=_utc(last[0]) if last else None,
        last_run_status=last[1] if last else None,
        accounts=frame,
    )


# ---------------------------------------------------------------------------------------------
# KPI snapshot (the kpis CSV)
# ---------------------------------------------------------------------------------------------


def kpi_snapshot(
    db_path: DbPath, since: date | None = None, until: date | None = None, period: Period = "month"
) -> pd.DataFrame:
    """KPIs per calendar period x platform x account, plus one total row per period.

    Columns are :data:`SNAPSHOT_COLUMNS`, in that order; rows sorted by period, then accounts by
    platform and account_id, the total row (platform ``all``, account_id ``all``) last.

    - ``period``: ``YYYY-MM`` (month) or ISO week ``YYYY-Www`` (weeks start on Monday);
      ``period_start``/``period_end``: the calendar period clipped to ``[since, until]``.
    - ``followers``: last stored value in the period; ``followers_change``: that minus the last
      value of the previous calendar period (looked up even before ``since``), else empty.
    - counts (impressions, engagements, profile_views, link_clicks, page_views, visits,
      social_visits, social_page_views): sums over the period's days.
    - ``reach_avg_daily``, ``visitors_avg_daily``: distinct counts, averaged over the days with a
      value (rounded to 0.1), never summed over days.
    - ``engagement_rate`` = engagements / impressions; ``social_share_of_visits`` = social_visits /
      visits: fractions (0.0123 = 1.23 %), rounded to 4 decimals; empty when the denominator is 0.
    - total rows: own accounts only (competitors excluded); followers, counts, averages and
      followers_change are summed across accounts; the ratios are recomputed from the sums of
      the accounts that report both numerator and denominator.

    ``since``/``until`` default to the oldest/newest stored day.  Empty frame when no data.
    """
    with open_warehouse(db_path) as (con, aggregated):
        bounds = bounds_on(con, since, until)
        if bounds is None:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in SNAPSHOT_COLUMNS})
        lo, hi = bounds
        if access.has_running(con):  # a few lookups per account and period, not a row per day
            ends = snapshot_bounds(period, lo, hi)
            sql = snapshot_query(period, aggregated=True, running=True)
            return con.execute(sql, [lo, hi, lo, ends, _lookup_days(con, ends)]).df()
        return con.execute(snapshot_query(period, aggregated=aggregated), [lo, hi, lo]).df()


# ---------------------------------------------------------------------------------------------
# Per platform
# ---------------------------------------------------------------------------------------------

PLATFORM_COLUMNS: tuple[str, ...] = (
    "platform", "followers", "followers_previous", "net_growth", "growth_pct", "impressions",
    "reach_avg_daily", "engagements", "engagement_rate", "profile_views", "link_clicks",
)  # fmt: skip

_SOCIAL_METRICS = ["followers", "impressions", "reach", "engagements", "profile_views", "link_clicks"]

_PLATFORM_SQL = f"""
WITH o AS ({_OWN_WINDOW}),
pa AS (
    SELECT current, platform, account_id,
           arg_max(value, observed_on) FILTER (WHERE metric = 'followers') AS followers,
           sum(value) FILTER (WHERE metric = 'impressions') AS impressions,
           avg(value) FILTER (WHERE metric = 'reach') AS reach,
           sum(value) FILTER (WHERE metric = 'engagements') AS engagements,
           sum(value) FILTER (WHERE metric = 'profile_views') AS profile_views,
           sum(value) FILTER (WHERE metric = 'link_clicks') AS link_clicks
    FROM o
    GROUP BY current, platform, account_id
),
pp AS (
    SELECT coalesce(platform, 'all') AS platform, grouping(platform) AS is_total,
           sum(followers) FILTER (WHERE current) AS followers,
           sum(followers) FILTER (WHERE NOT current) AS followers_previous,
           sum(impressions) FILTER (WHERE current) AS impressions,
           sum(reach) FILTER (WHERE current) AS reach_avg_daily,
           sum(engagements) FILTER (WHERE current) AS engagements,
           sum(engagements) FILTER (WHERE current AND impressions > 0)
               / nullif(sum(impressions) FILTER (WHERE current AND engagements IS NOT NULL), 0) AS engagement_rate,
           sum(profile_views) FILTER (WHERE current) AS profile_views,
           sum(link_clicks) FILTER (WHERE current) AS link_clicks
    FROM pa
    GROUP BY GROUPING SETS ((platform), ())
)
SELECT platform, followers, followers_previous, followers - followers_previous AS net_growth,
       (followers - followers_previous) / nullif(followers_previous, 0) * 100 AS growth_pct,
       impressions, reach_avg_daily, engagements, engagement_rate, profile_views, link_clicks
FROM pp
WHERE coalesce(followers, followers_previous, impressions, reach_avg_daily, engagements, profile_views,
               link_clicks) IS NOT NULL
ORDER BY is_total, platform
"""


# The same table from ``kpi_daily`` (schema 3): one row per own account and day, a column per metric;
# an account-day without any of these metrics gives an account row of NULLs, which changes no sum.
_PLATFORM_DAILY_SQL = (
    _PLATFORM_SQL.replace(
        f"WITH o AS ({_OWN_WINDOW}),",
        f"""WITH o AS (
    SELECT k.*, k.observed_on >= ? AS current
    FROM kpi_daily k
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE k.observed_on BETWEEN ? AND ?
      AND {_OWN}
      AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], k.platform))
),""",
    )
    .replace("arg_max(value, observed_on) FILTER (WHERE metric = 'followers')",
             "arg_max(followers, observed_on) FILTER (WHERE followers IS NOT NULL)")
    .replace("avg(value) FILTER (WHERE metric = 'reach')", "avg(reach)")
)  # fmt: skip
for _m in ("impressions", "engagements", "profile_views", "link_clicks"):
    _PLATFORM_DAILY_SQL = _PLATFORM_DAILY_SQL.replace(f"sum(value) FILTER (WHERE metric = '{_m}')", f"sum({_m})")
assert "value" not in _PLATFORM_DAILY_SQL.replace("IS NOT NULL", ""), "every metric read from kpi_daily"  # noqa: S101


def _running_periods(metrics: Sequence[str]) -> str:
    """From ``kpi_running``: per own account (platform filter ``$1``) one row for the period and one for
    the previous one, ``(current, platform, account_id, <metric>...)``: ``followers`` its last value
    in the period, ``reach`` and ``visitors`` their average per day with a value, the others their
    sums; NULL when the account has no value in that period (it changes no sum).  The parameters of
    :data:`warehouse.kpi_cards._RUNNING_CARDS_SQL`."""
    averaged = {"reach", "visitors"}

    def value(m: str, hi: int, lo: int, since: str) -> str:
        if m == "followers":
            return f"CASE WHEN r{hi}.followers_on >= ${since}::DATE THEN r{hi}.followers_last END AS followers"
        total = f"(coalesce(r{hi}.{m}, 0) - coalesce(r{lo}.{m}, 0))"
        count = f"(coalesce(r{hi}.{m}_n, 0) - coalesce(r{lo}.{m}_n, 0))"
        return f"CASE WHEN {count} > 0 THEN {total}{f' / {count}' if m in averaged else ''} END AS {m}"

    needed = [c for m in metrics for c in (("followers_last", "followers_on") if m == "followers" else (m, f"{m}_n"))]
    rows = _running_rows(3, needed)
    current = ", ".join(value(m, 2, 1, "7") for m in metrics)
    previous = ", ".join(value(m, 1, 0, "6") for m in metrics)
    head, joins = rows.split("\nSELECT * FROM s", 1)
    return (
        f"{head}\nSELECT true AS current, s.platform, s.account_id, {current}\nFROM s{joins}\nUNION ALL\n"
        f"SELECT false AS current, s.platform, s.account_id, {previous}\nFROM s{joins}"
    )


_PLATFORM_RUNNING_SQL = f"WITH pa AS ({_running_periods(_SOCIAL_METRICS)}),\n" + _PLATFORM_SQL[
    _PLATFORM_SQL.index("pp AS (") :
]


def platform_kpis(db_path: DbPath, start: date, end: date, platforms: Sequence[str] | None = None) -> pd.DataFrame:
    """Social KPIs per platform for ``[start, end]`` (own accounts), then a total row ``all``.

    Columns :data:`PLATFORM_COLUMNS`:

    - ``followers``: per account the last value in the period, summed over the platform's accounts;
      ``followers_previous``: the same for the previous period of the same length;
      ``net_growth`` = followers - followers_previous; ``growth_pct`` = net_growth /
      followers_previous x 100 (empty when either is missing or the previous is 0);
    - ``impressions``, ``engagements``, ``profile_views``, ``link_clicks``: sums over days and accounts;
    - ``reach_avg_daily``: per account the average daily reach, summed across accounts (never a
      sum over days);
    - ``engagement_rate``: engagements / impressions, a fraction, over the accounts reporting both.

    Platforms without any of these metrics (web analytics) are left out.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    prev_start, _ = previous_period(start, end)
    plats = _platform_list(platforms)
    with open_warehouse(db_path) as (con, aggregated):
        if access.has_running(con):
            looked = [prev_start - timedelta(days=1), start - timedelta(days=1), end]
            params = [plats, _lookup_days(con, looked), *looked, prev_start, start]
            return con.execute(_PLATFORM_RUNNING_SQL, params).df()
        if aggregated:
            return con.execute(_PLATFORM_DAILY_SQL, [start, prev_start, end, plats, plats]).df()
        return con.execute(_PLATFORM_SQL, [start, prev_start, end, _SOCIAL_METRICS, plats, plats]).df()


def daily_by_platform(
    db_path: DbPath, start: date, end: date, metric: str, platforms: Sequence[str] | None = None
) -> pd.DataFrame:
    """Columns ``date``, ``platform``, ``value``: a metric per day and platform, summed across own accounts.

    Days without a value are absent (a line has a gap, never a false 0).
    """
    sql = f"""
        SELECT o.observed_on AS date, o.platform, sum(o.value) AS value
        FROM observations o
        LEFT JOIN accounts a USING (platform, account_id)
        WHERE o.observed_on BETWEEN ? AND ? AND o.metric = ? AND {_OWN} AND {_PLATFORM_FILTER}
        GROUP BY o.observed_on, o.platform
        ORDER BY date, platform
    """
    plats = _platform_list(platforms)
    with open_warehouse(db_path) as (con, _):
        if metric in access.kpi_columns(con):  # a kpi_daily column: our own names only
            sql = f"""
                SELECT o.observed_on AS date, o.platform, sum(o.{metric}) AS value
                FROM kpi_daily o
                LEFT JOIN accounts a USING (platform, account_id)
                WHERE o.observed_on BETWEEN ? AND ? AND o.{metric} IS NOT NULL AND {_OWN} AND {_PLATFORM_FILTER}
                GROUP BY o.observed_on, o.platform
                ORDER BY date, platform
            """
            return con.execute(sql, [start, end, plats, plats]).df()
        return con.execute(sql, [start, end, metric, plats, plats]).df()


def daily_by_account(
    db_path: DbPath,
    start: date,
    end: date,
    metric: str,
    platforms: Sequence[str] | None = None,
    accounts: Sequence[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Columns ``date``, ``platform``, ``account_id``, ``account``, ``competitor``, ``value``: one
    metric per day and account, own accounts **and competitors** (for side-by-side charts).

    ``account`` reads ``<name> (<platform>)``, with `` · competitor`` for a competitor.  ``accounts``:
    only these (platform, account_id) (``None``: every account).
    """
    sql = f"""
        WITH picked AS (SELECT unnest(?::VARCHAR[]) AS platform, unnest(?::VARCHAR[]) AS account_id)
        SELECT o.observed_on AS date, o.platform, o.account_id,
               coalesce(a.name, o.account_id) || ' (' || o.platform || ')'
                   || CASE WHEN coalesce(a.competitor, false) THEN ' · competitor' ELSE '' END AS account,
               coalesce(a.competitor, false) AS competitor, o.value
        FROM observations o
        LEFT JOIN accounts a USING (platform, account_id)
        WHERE o.observed_on BETWEEN ? AND ? AND o.metric = ? AND {_PLATFORM_FILTER}
          AND (?::BOOLEAN OR EXISTS (SELECT 1 FROM picked p WHERE p.platform = o.platform
                                                              AND p.account_id = o.account_id))
        ORDER BY date, o.platform, account, o.account_id
    """
    plats = _platform_list(platforms)
    keys = [[str(k[i]) for k in accounts or ()] for i in (0, 1)]
    every = accounts is None
    with open_warehouse(db_path) as (con, _):
        if metric in access.kpi_columns(con):  # a kpi_daily column: our own names only
            daily = (
                sql.replace("FROM observations o", "FROM kpi_daily o")
                .replace("o.value", f"o.{metric} AS value")
                .replace("o.metric = ?", f"o.{metric} IS NOT NULL")
            )
            return _frame(con, daily, [*keys, start, end, plats, plats, every])
        return _frame(con, sql, [*keys, start, end, metric, plats, plats, every])


# ---------------------------------------------------------------------------------------------
# Competitors
# ---------------------------------------------------------------------------------------------

COMPETITOR_COLUMNS: tuple[str, ...] = (
    "platform", "account_id", "account_name", "competitor", "followers", "followers_previous",
    "followers_change", "growth_pct", "posts_published", "posts_per_week",
)  # fmt: skip

_COMPETITOR_SQL = f"""
WITH comp AS (SELECT DISTINCT platform FROM accounts WHERE competitor),
o AS (
    SELECT o.platform, o.account_id, o.metric, o.observed_on, o.value, o.observed_on >= ? AS current
    FROM observations o
    WHERE o.observed_on BETWEEN ? AND ?
      AND o.metric IN ('followers', 'posts')
      AND o.platform IN (SELECT platform FROM comp)
      AND {_PLATFORM_FILTER}
),
pa AS (
    SELECT platform, account_id,
           arg_max(value, observed_on) FILTER (WHERE current AND metric = 'followers') AS followers,
           arg_max(value, observed_on) FILTER (WHERE NOT current AND metric = 'followers') AS followers_previous,
           arg_max(value, observed_on) FILTER (WHERE current AND metric = 'posts') AS posts,
           arg_max(value, observed_on) FILTER (WHERE NOT current AND metric = 'posts') AS posts_previous
    FROM o
    GROUP BY platform, account_id
)
SELECT pa.platform, pa.account_id, coalesce(a.name, pa.account_id) AS account_name,
       coalesce(a.competitor, false) AS competitor,
       followers, followers_previous, followers - followers_previous AS followers_change,
       (followers - followers_previous) / nullif(followers_previous, 0) * 100 AS growth_pct,
       posts - posts_previous AS posts_published,
       (posts - posts_previous) * 7.0 / ? AS posts_per_week
FROM pa
LEFT JOIN accounts a USING (platform, account_id)
ORDER BY pa.platform, competitor, account_name, pa.account_id
"""


# The same from ``kpi_daily`` (schema 7: it has ``posts``): an account-day with followers or posts.
_COMPETITOR_DAILY_SQL = (
    _COMPETITOR_SQL.replace(
        """    SELECT o.platform, o.account_id, o.metric, o.observed_on, o.value, o.observed_on >= ? AS current
    FROM observations o
    WHERE o.observed_on BETWEEN ? AND ?
      AND o.metric IN ('followers', 'posts')""",
        """    SELECT o.platform, o.account_id, o.observed_on, o.followers, o.posts, o.observed_on >= ? AS current
    FROM kpi_daily o
    WHERE o.observed_on BETWEEN ? AND ?
      AND (o.followers IS NOT NULL OR o.posts IS NOT NULL)""",
    )
    .replace("arg_max(value, observed_on) FILTER (WHERE current AND metric = 'followers')",
             "arg_max(followers, observed_on) FILTER (WHERE current AND followers IS NOT NULL)")
    .replace("arg_max(value, observed_on) FILTER (WHERE NOT current AND metric = 'followers')",
             "arg_max(followers, observed_on) FILTER (WHERE NOT current AND followers IS NOT NULL)")
    .replace("arg_max(value, observed_on) FILTER (WHERE current AND metric = 'posts')",
             "arg_max(posts, observed_on) FILTER (WHERE current AND posts IS NOT NULL)")
    .replace("arg_max(value, observed_on) FILTER (WHERE NOT current AND metric = 'posts')",
             "arg_max(posts, observed_on) FILTER (WHERE NOT current AND posts IS NOT NULL)")
)  # fmt: skip
assert "metric" not in _COMPETITOR_DAILY_SQL, "every metric read from kpi_daily"  # noqa: S101


def competitor_comparison(
    db_path: DbPath, start: date, end: date, platforms: Sequence[str] | None = None
) -> pd.DataFrame:
    """Own accounts and competitors side by side, on the platforms where a competitor is configured.

    Columns :data:`COMPETITOR_COLUMNS`, per account:

    - ``followers``: last value in ``[start, end]``; ``followers_previous``: last value in the
      previous period of the same length; ``followers_change`` = the difference;
      ``growth_pct`` = followers_change / followers_previous x 100;
    - posting cadence from the ``posts`` level (posts published to date): ``posts_published`` =
      last ``posts`` in the period - last ``posts`` of the previous period; ``posts_per_week`` =
      posts_published x 7 / days in the period.  Empty where the platform gives no ``posts``.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    prev_start, _ = previous_period(start, end)
    days = (end - start).days + 1
    plats = _platform_list(platforms)
    with open_warehouse(db_path) as (con, _):
        sql = _COMPETITOR_DAILY_SQL if {"followers", "posts"} <= access.kpi_columns(con) else _COMPETITOR_SQL
        return con.execute(sql, [start, prev_start, end, plats, plats, days]).df()


_SHARE_SQL = f"""
WITH comp AS (SELECT DISTINCT platform FROM accounts WHERE competitor),
o AS (
    SELECT o.platform, o.account_id, coalesce(a.competitor, false) AS competitor, o.observed_on, o.value,
           o.observed_on >= ? AS current
    FROM observations o
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE o.observed_on BETWEEN ? AND ?
      AND o.metric = 'followers'
      AND o.platform IN (SELECT platform FROM comp)
      AND {_PLATFORM_FILTER}
),
pa AS (
    SELECT current, platform, account_id, competitor, arg_max(value, observed_on) AS followers
    FROM o
    GROUP BY current, platform, account_id, competitor
),
pp AS (
    SELECT platform,
           sum(followers) FILTER (WHERE current AND NOT competitor) AS own_followers,
           sum(followers) FILTER (WHERE current AND competitor) AS competitor_followers,
           sum(followers) FILTER (WHERE NOT current AND NOT competitor) AS own_previous,
           sum(followers) FILTER (WHERE NOT current AND competitor) AS competitor_previous
    FROM pa
    GROUP BY platform
)
SELECT platform, own_followers, competitor_followers,
       own_followers / nullif(own_followers + competitor_followers, 0) AS share_of_voice,
       own_previous / nullif(own_previous + competitor_previous, 0) AS share_of_voice_previous
FROM pp
ORDER BY platform
"""


_SHARE_DAILY_SQL = (
    _SHARE_SQL.replace("o.observed_on, o.value,", "o.observed_on, o.followers AS value,")
    .replace("FROM observations o", "FROM kpi_daily o")
    .replace("o.metric = 'followers'", "o.followers IS NOT NULL")
)
assert "metric" not in _SHARE_DAILY_SQL, "followers read from kpi_daily"  # noqa: S101


def share_of_voice(db_path: DbPath, start: date, end: date, platforms: Sequence[str] | None = None) -> pd.DataFrame:
    """Share of voice per platform: own followers / (own + competitors' followers), a fraction.

    Columns ``platform``, ``own_followers``, ``competitor_followers``, ``share_of_voice``,
    ``share_of_voice_previous``.  Followers are each account's last value in ``[start, end]``
    (``_previous``: in the previous period of the same length), summed per side.  Only platforms
    with at least one competitor configured; empty share when either side has no value.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    prev_start, _ = previous_period(start, end)
    plats = _platform_list(platforms)
    with open_warehouse(db_path) as (con, aggregated):
        return con.execute(_SHARE_DAILY_SQL if aggregated else _SHARE_SQL, [start, prev_start, end, plats, plats]).df()


# ---------------------------------------------------------------------------------------------
# Website
# ---------------------------------------------------------------------------------------------

NETWORK_PREFIX = "visits_from_"

_NETWORK_SQL = f"""
WITH o AS (
    SELECT o.metric, o.value, o.observed_on >= ? AS current
    FROM observations o
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE o.observed_on BETWEEN ? AND ?
      AND starts_with(o.metric, '{NETWORK_PREFIX}')
      AND {_OWN}
      AND {_PLATFORM_FILTER}
),
n AS (
    SELECT substr(metric, {len(NETWORK_PREFIX) + 1}) AS network,
           sum(value) FILTER (WHERE current) AS visits,
           sum(value) FILTER (WHERE NOT current) AS visits_previous
    FROM o
    GROUP BY metric
)
SELECT network, visits, visits_previous,
       (visits - visits_previous) / nullif(visits_previous, 0) * 100 AS change_pct,
       visits / nullif(sum(visits) OVER (), 0) AS share_of_social
FROM n
ORDER BY visits DESC NULLS LAST, network
"""


# The same from ``network_daily`` (schema 7): the window's visits_from_<network> rows, keyed by network.
_NETWORK_DAILY_SQL = (
    _NETWORK_SQL.replace("SELECT o.metric, o.value, o.observed_on >= ? AS current",
                         "SELECT o.network, o.visits AS value, o.observed_on >= ? AS current")
    .replace("FROM observations o", "FROM network_daily o")
    .replace(f"      AND starts_with(o.metric, '{NETWORK_PREFIX}')\n", "")
    .replace(f"SELECT substr(metric, {len(NETWORK_PREFIX) + 1}) AS network,", "SELECT network,")
    .replace("GROUP BY metric", "GROUP BY network")
)  # fmt: skip
assert "metric" not in _NETWORK_DAILY_SQL, "visits read from network_daily"  # noqa: S101


def visits_by_network(db_path: DbPath, start: date, end: date, platforms: Sequence[str] | None = None) -> pd.DataFrame:
    """Website visits from each social network (metrics ``visits_from_<network>``).

    Columns ``network``, ``visits`` (sum over days and sites in ``[start, end]``),
    ``visits_previous`` (the previous period of the same length), ``change_pct``, and
    ``share_of_social`` = visits / the sum over every network (a fraction).  Sorted by visits.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    prev_start, _ = previous_period(start, end)
    plats = _platform_list(platforms)
    with open_warehouse(db_path) as (con, _):
        sql = _NETWORK_DAILY_SQL if access.has_networks(con) else _NETWORK_SQL
        return con.execute(sql, [start, prev_start, end, plats, plats]).df()


def network_reach_and_visits(
    db_path: DbPath, start: date, end: date, platforms: Sequence[str] | None = None
) -> pd.DataFrame:
    """Each social network's reach beside the website visits it sent, for ``[start, end]``.

    One row per network with visits (:func:`visits_by_network`), joined to that platform's own
    accounts (:func:`platform_kpis`): ``followers``, ``impressions``, ``reach_avg_daily`` and
    ``visits_per_1000_impressions`` = visits / impressions x 1000 (empty when the platform
    reports no impressions, e.g. X, or for ``other``).  Answers "which network's audience comes
    to the website?".
    """
    visits = visits_by_network(db_path, start, end, platforms)
    if visits.empty:
        return visits.assign(followers=[], impressions=[], reach_avg_daily=[], visits_per_1000_impressions=[])
    social = platform_kpis(db_path, start, end, platforms)
    social = social[social["platform"] != "all"][["platform", "followers", "impressions", "reach_avg_daily"]]
    merged = visits.merge(social, how="left", left_on="network", right_on="platform").drop(columns="platform")
    impressions = merged["impressions"].where(merged["impressions"] > 0)
    merged["visits_per_1000_impressions"] = merged["visits"] / impressions * 1000
    return merged


# ---------------------------------------------------------------------------------------------
# Data health
# ---------------------------------------------------------------------------------------------

COVERAGE_STORED = "stored"
COVERAGE_MISSING = "missing"
COVERAGE_NOT_YET = "not yet available"
COVERAGE_BEFORE = "before first collection"
COVERAGE_STATUSES = (COVERAGE_STORED, COVERAGE_MISSING, COVERAGE_NOT_YET, COVERAGE_BEFORE)

_COVERAGE_SQL = """
WITH keys AS (
    SELECT platform, account_id FROM accounts
    UNION SELECT DISTINCT platform, account_id FROM observations
),
firsts AS (
    SELECT platform, account_id, min(observed_on) AS first_day FROM observations GROUP BY platform, account_id
),
delays AS (SELECT unnest(?::VARCHAR[]) AS platform, unnest(?::INTEGER[]) AS delay_days),
days AS (SELECT CAST(unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 DAY)) AS DATE) AS date),
have AS (
    SELECT DISTINCT platform, account_id, observed_on FROM observations WHERE observed_on BETWEEN ? AND ?
),
grid AS (
    SELECT k.platform, k.account_id, coalesce(a.name, k.account_id) AS account_name,
           coalesce(a.competitor, false) AS competitor,
           coalesce(a.name, k.account_id) || ' (' || k.platform || ')'
               || CASE WHEN coalesce(a.competitor, false) THEN ' · competitor' ELSE '' END AS account,
           d.date,
           CASE WHEN h.observed_on IS NOT NULL THEN 'stored'
                WHEN f.first_day IS NOT NULL AND d.date < f.first_day THEN 'before first collection'
                -- a competitor's numbers are "now" levels: a collect on the newest day stores that day
                WHEN d.date > CAST(?::DATE - CASE WHEN coalesce(a.competitor, false) THEN 0
                                                  ELSE coalesce(l.delay_days, 0) END AS DATE)
                     THEN 'not yet available'
                ELSE 'missing' END AS status
    FROM keys k
    CROSS JOIN days d
    LEFT JOIN firsts f USING (platform, account_id)
    LEFT JOIN accounts a USING (platform, account_id)
    LEFT JOIN delays l USING (platform)
    LEFT JOIN have h ON h.platform = k.platform AND h.account_id = k.account_id AND h.observed_on = d.date
)
SELECT platform, account_id, account_name, competitor, account, date, status FROM grid
ORDER BY platform, account_id, date
"""

# The same from ``account_days`` (schema 3): the accounts with observations, their first day, without
# reading every observation; only the window's days stored are read from ``observations``.
_COVERAGE_DAILY_SQL = _COVERAGE_SQL.replace(
    "UNION SELECT DISTINCT platform, account_id FROM observations",
    "UNION SELECT platform, account_id FROM account_days",
).replace(
    "SELECT platform, account_id, min(observed_on) AS first_day FROM observations GROUP BY platform, account_id",
    "SELECT platform, account_id, first_day FROM account_days",
)
assert _COVERAGE_DAILY_SQL.count("observations") == 1, "only the window's days from observations"  # noqa: S101

# The same from ``kpi_running`` (schema 8), for the accounts of ``shown`` only (parameters first: every
# account?, the shown platforms, their account ids): its ``stored`` flag says which days of the window
# have anything, so no observation is read.
_COVERAGE_RUNNING_SQL = (
    _COVERAGE_DAILY_SQL.replace(
        """WITH keys AS (
    SELECT platform, account_id FROM accounts
    UNION SELECT platform, account_id FROM account_days
),""",
        """WITH shown AS (SELECT unnest(?::VARCHAR[]) AS platform, unnest(?::VARCHAR[]) AS account_id),
keys AS (
    SELECT * FROM (SELECT platform, account_id FROM accounts UNION SELECT platform, account_id FROM account_days) k
    WHERE ?::BOOLEAN OR EXISTS (SELECT 1 FROM shown s WHERE s.platform = k.platform AND s.account_id = k.account_id)
),""",
    )
    .replace(
        "SELECT DISTINCT platform, account_id, observed_on FROM observations WHERE observed_on BETWEEN ? AND ?",
        "SELECT platform, account_id, observed_on FROM kpi_running SEMI JOIN keys USING (platform, account_id)\n"
        "    WHERE observed_on BETWEEN ? AND ? AND stored",
    )
)
assert "observations" not in _COVERAGE_RUNNING_SQL and "shown" in _COVERAGE_RUNNING_SQL  # noqa: S101

# Per account, the counts of :func:`_coverage_summary` from ``kpi_running`` (schema 8), without a row per
# day: the days "missing" are the window's days from the first day stored (or the window's start) up to
# the day the platform can have (as_of minus its delay, ``cutoff``), less those stored, which is a
# difference of ``days_stored`` (looked up on the day before that span and on its last day, clamped to
# the newest day; 0 before the first day); "not yet available" the same after the cutoff.  The first and
# last missing day come from the window's rows of the accounts that miss one (and the days after their
# newest day, which have no row).  Parameters: platforms and their delays, the days looked up, start,
# end, as_of.
_COVERAGE_COUNTS_SQL = """
WITH keys AS (SELECT platform, account_id FROM accounts UNION SELECT platform, account_id FROM account_days),
delays AS (SELECT unnest($1::VARCHAR[]) AS platform, unnest($2::INTEGER[]) AS delay_days),
k AS (SELECT platform, account_id, observed_on, days_stored FROM kpi_running WHERE observed_on = ANY($3::DATE[])),
acc AS (
    SELECT k.platform, k.account_id, coalesce(a.name, k.account_id) AS account_name,
           coalesce(a.competitor, false) AS competitor, d.first_day, d.newest_day,
           CAST($6::DATE - CASE WHEN coalesce(a.competitor, false) THEN 0
                                ELSE coalesce(l.delay_days, 0) END AS DATE) AS cutoff
    FROM keys k
    LEFT JOIN accounts a USING (platform, account_id)
    LEFT JOIN account_days d USING (platform, account_id)
    LEFT JOIN delays l USING (platform)
),
spans AS (
    SELECT *, greatest($4::DATE, coalesce(first_day, $4::DATE)) AS m_lo, least($5::DATE, cutoff) AS m_hi,
           greatest($4::DATE, coalesce(first_day, $4::DATE), cutoff + 1) AS n_lo
    FROM acc
),
counted AS (
    SELECT s.*,
           greatest(0, s.m_hi - s.m_lo + 1)
               - CASE WHEN s.m_hi >= s.m_lo THEN coalesce(r1.days_stored, 0) - coalesce(r2.days_stored, 0) ELSE 0 END
               AS days_missing,
           greatest(0, $5::DATE - s.n_lo + 1)
               - CASE WHEN $5::DATE >= s.n_lo THEN coalesce(r3.days_stored, 0) - coalesce(r4.days_stored, 0) ELSE 0 END
               AS days_not_yet_available
    FROM spans s
    LEFT JOIN k r1 ON r1.platform = s.platform AND r1.account_id = s.account_id
                  AND r1.observed_on = least(s.m_hi, s.newest_day) AND s.m_hi >= s.first_day
    LEFT JOIN k r2 ON r2.platform = s.platform AND r2.account_id = s.account_id
                  AND r2.observed_on = least(s.m_lo - 1, s.newest_day) AND s.m_lo - 1 >= s.first_day
    LEFT JOIN k r3 ON r3.platform = s.platform AND r3.account_id = s.account_id
                  AND r3.observed_on = least($5::DATE, s.newest_day) AND $5::DATE >= s.first_day
    LEFT JOIN k r4 ON r4.platform = s.platform AND r4.account_id = s.account_id
                  AND r4.observed_on = least(s.n_lo - 1, s.newest_day) AND s.n_lo - 1 >= s.first_day
),
gaps AS (
    SELECT r.platform, r.account_id, min(r.observed_on) AS first_gap, max(r.observed_on) AS last_gap
    FROM kpi_running r
    JOIN counted c ON c.platform = r.platform AND c.account_id = r.account_id AND c.days_missing > 0
    WHERE r.observed_on BETWEEN $4::DATE AND $5::DATE AND NOT r.stored
      AND r.observed_on BETWEEN c.m_lo AND c.m_hi
    GROUP BY r.platform, r.account_id
)
SELECT c.platform, c.account_id, c.account_name, c.competitor, c.days_missing,
       CASE WHEN c.days_missing > 0
            THEN coalesce(g.first_gap, greatest(c.m_lo, c.newest_day + 1)) END AS first_missing,
       CASE WHEN c.days_missing > 0
            THEN CASE WHEN c.newest_day IS NULL OR c.newest_day < c.m_hi THEN c.m_hi ELSE g.last_gap END
       END AS last_missing,
       c.days_not_yet_available
FROM counted c
LEFT JOIN gaps g USING (platform, account_id)
ORDER BY c.platform, c.account_id
"""

# The Data health calendar holds every account's days up to this many accounts (one row each, 28 px):
# above, the accounts missing the most days (coverage_report's ``most``), and a picker for the others.
CALENDAR_ACCOUNTS = 30
# The Competitors page's followers chart draws every account up to this many, else the ones with the most
# followers, and a picker for the others.
CHART_ACCOUNTS = 10

_COVERAGE_DAY_COLUMNS = ("platform", "account_id", "account_name", "competitor", "account", "date", "status")

COVERAGE_SUMMARY_COLUMNS = (
    "platform", "account_id", "account_name", "competitor",
    "days_missing", "first_missing", "last_missing", "days_not_yet_available",
)  # fmt: skip


@dataclass(frozen=True)
class Coverage:
    """Data health's "days with nothing stored": the calendar and its table, from one query.

    ``days``: one row per account and day of the window (:func:`coverage`); ``accounts``: those rows
    counted per account (:func:`missing_days`), in the same account order; ``as_of``: the day the
    "not yet available" days are counted back from; ``delays``: the ``delay_days`` of each platform
    of ``accounts`` that has one (own accounts; a competitor's is 0).
    """

    as_of: date
    days: pd.DataFrame
    accounts: pd.DataFrame
    delays: dict[str, int]


def coverage_report(
    db_path: DbPath,
    start: date,
    end: date,
    *,
    as_of: date | None = None,
    calendar: Sequence[tuple[str, str]] | None = None,
    most: int | None = None,
) -> Coverage:
    """Per account and day of ``[start, end]``, was anything stored, and per account the days missing.

    A day's ``status``: ``stored`` (at least one metric that day); ``before first collection`` (before
    the account's first stored day); ``not yet available`` (nothing stored, but the day is after
    ``as_of`` minus the platform's ``delay_days`` (collectors.PLATFORMS; 0 for a competitor, whose
    numbers are "now" only): its source cannot have it yet, e.g. today for web analytics, which report
    up to yesterday); otherwise ``missing`` (including every day of an account never collected).

    ``as_of`` defaults to the newest day stored in the warehouse: the day of the latest collect (the
    "now" numbers a collect reads are dated that day); a warehouse without rows counts back from ``end``.

    ``accounts`` always lists every account.  ``days`` (the calendar) holds every account's days too,
    unless ``calendar`` names the (platform, account_id) to hold, or ``most`` is given and there are
    more accounts than that: then the ``most`` accounts with the most days missing (none missing:
    none), as a person looking after thousands of accounts reads the calendar.
    """
    from collectors import PLATFORMS

    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    ids = list(PLATFORMS)
    delay_of = [PLATFORMS[i].delay_days for i in ids]
    with open_warehouse(db_path) as (con, aggregated):
        if as_of is None:
            table, column = ("account_days", "newest_day") if aggregated else ("observations", "observed_on")
            rows = con.execute(f"SELECT max({column}) FROM {table}").fetchall()  # our own names only
            as_of = rows[0][0] if rows and rows[0][0] is not None else end
        if access.has_running(con):
            cutoffs = {as_of - timedelta(days=d) for d in {0, *delay_of}}
            looked = {start - timedelta(days=1), end, *(min(end, c) for c in cutoffs)}
            looked |= {max(start - timedelta(days=1), c) for c in cutoffs}
            params = [ids, delay_of, _lookup_days(con, sorted(looked)), start, end, as_of]
            summary = _frame(con, _COVERAGE_COUNTS_SQL, params)
            for column in ("first_missing", "last_missing"):
                summary[column] = pd.to_datetime(summary[column])
            keys = _calendar_keys(summary, calendar, most)
            shown = [[] if keys is None else [k[i] for k in keys] for i in (0, 1)]
            if keys == []:  # no account in the calendar (the frame df() gives for no row)
                days = pd.DataFrame({c: pd.Series(dtype=object) for c in _COVERAGE_DAY_COLUMNS})
                days["competitor"] = days["competitor"].astype(bool)
            else:
                days = _frame(
                    con, _COVERAGE_RUNNING_SQL, [*shown, keys is None, ids, delay_of, start, end, start, end, as_of]
                )
        else:
            params = [ids, delay_of, start, end, start, end, as_of]
            days = _frame(con, _COVERAGE_DAILY_SQL if aggregated else _COVERAGE_SQL, params)
            days["date"] = pd.to_datetime(days["date"])
            summary = _coverage_summary(days)
            keys = _calendar_keys(summary, calendar, most)
            if keys is not None:
                picked = pd.MultiIndex.from_frame(days[["platform", "account_id"]]).isin(keys)
                days = days[picked].reset_index(drop=True)
    days["date"] = pd.to_datetime(days["date"])
    own = summary.loc[~summary["competitor"].astype(bool), "platform"].unique()
    delays = {p: PLATFORMS[p].delay_days for p in sorted(own) if p in PLATFORMS and PLATFORMS[p].delay_days}
    return Coverage(as_of=as_of, days=days, accounts=summary[list(COVERAGE_SUMMARY_COLUMNS)], delays=delays)


def _calendar_keys(
    summary: pd.DataFrame, calendar: Sequence[tuple[str, str]] | None, most: int | None
) -> list[tuple[str, str]] | None:
    """The (platform, account_id) of the calendar (:func:`coverage_report`); None: every account."""
    if calendar is not None:
        return [(str(p), str(a)) for p, a in calendar]
    if most is None or len(summary) <= most:
        return None
    worst = summary[summary["days_missing"] > 0].sort_values("days_missing", ascending=False, kind="stable")
    return list(zip(worst["platform"].head(most), worst["account_id"].head(most), strict=True))


def _coverage_summary(days: pd.DataFrame) -> pd.DataFrame:
    keys = ["platform", "account_id", "account_name", "competitor"]
    missing = days["date"].where(days["status"] == COVERAGE_MISSING)
    counted = days.assign(
        missing=days["status"] == COVERAGE_MISSING, later=days["status"] == COVERAGE_NOT_YET, missing_day=missing
    )
    grouped = counted.groupby(keys, sort=False)
    frame = pd.DataFrame(
        {
            "days_missing": grouped["missing"].sum().astype("int64"),
            "first_missing": grouped["missing_day"].min(),
            "last_missing": grouped["missing_day"].max(),
            "days_not_yet_available": grouped["later"].sum().astype("int64"),
        }
    ).reset_index()
    return frame[list(COVERAGE_SUMMARY_COLUMNS)]


def coverage(db_path: DbPath, start: date, end: date, *, as_of: date | None = None) -> pd.DataFrame:
    """One row per account and day of ``[start, end]``: ``platform``, ``account_id``, ``account_name``,
    ``competitor``, ``account`` (``<name> (<platform>)``, `` · competitor`` for a competitor), ``date``,
    ``status`` (:data:`COVERAGE_STATUSES`, defined in :func:`coverage_report`)."""
    return coverage_report(db_path, start, end, as_of=as_of).days


def missing_days(db_path: DbPath, start: date, end: date, *, as_of: date | None = None) -> pd.DataFrame:
    """Per account (columns :data:`COVERAGE_SUMMARY_COLUMNS`): ``days_missing`` in ``[start, end]`` (status
    ``missing`` of :func:`coverage`), ``first_missing``, ``last_missing``, ``days_not_yet_available``.
    Every known account is listed, 0 when nothing is missing."""
    return coverage_report(db_path, start, end, as_of=as_of).accounts


def skipped_metrics(db_path: DbPath) -> pd.DataFrame:
    """Metrics a platform refused or retired (``metric_notes``): ``platform``, ``account_id``,
    ``account_name``, ``source_metric``, ``note``, ``noted_at`` (UTC)."""
    sql = """
        SELECT n.platform, n.account_id, coalesce(a.name, n.account_id) AS account_name,
               n.source_metric, n.note, n.noted_at
        FROM metric_notes n
        LEFT JOIN accounts a USING (platform, account_id)
        ORDER BY n.platform, n.account_id, n.source_metric
    """
    with open_warehouse(db_path) as (con, _):
        frame = con.execute(sql).df()
    frame["noted_at"] = pd.to_datetime(frame["noted_at"]).dt.tz_localize("UTC")
    return frame


CREDENTIAL_COLUMNS = ("platform", "account_id", "account_name", "source", "comes_from", "ends", "renew")


def credentials(db_path: DbPath, tokens_file: DbPath) -> pd.DataFrame:
    """Each account's credential as the last collect found it (:func:`warehouse.credentials.credential_rows`):
    where it comes from, when it ends, the command that renews it; never a token."""
    from warehouse.credentials import credential_rows

    rows = credential_rows(db_path, tokens_file)
    return pd.DataFrame([dataclasses.astuple(r) for r in rows], columns=list(CREDENTIAL_COLUMNS))


def token_expiry(db_path: DbPath, tokens_file: DbPath, *, now: datetime | None = None) -> pd.DataFrame:
    """:func:`warehouse.tokens.token_rows` as a frame (columns :data:`warehouse.tokens.TOKEN_COLUMNS`):
    expiry dates only, never the tokens.  Empty frame when there is no token file."""
    rows = token_rows(db_path, tokens_file, now=now)
    frame = pd.DataFrame([dataclasses.astuple(r) for r in rows], columns=list(TOKEN_COLUMNS))
    for column in ("expires_at", "refresh_expires_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
