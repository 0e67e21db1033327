"""KPI and dashboard queries: one function per number, each defining what it means.

Every function takes ``db_path`` (a ``str`` or ``Path``, hashable for ``st.cache_data``), opens a
short read-only connection with :func:`warehouse.access.open_warehouse`, runs bound-parameter SQL and closes
it before returning a pandas DataFrame or a small dataclass.  Nothing here keeps a connection, so
the collector can always take the write lock between two dashboard reruns.

Here: the filters' lookups, the trend chart, the kpis CSV snapshot and the per-platform and per-account
tables.  The other queries follow the same rules: the KPI cards in :mod:`warehouse.kpi_cards` (their
catalogue, without SQL, in :mod:`warehouse.kpis`), :mod:`warehouse.competitors`, :mod:`warehouse.website`
and data health in :mod:`warehouse.health`; the SQL they share is :mod:`warehouse.query_parts`.

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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from warehouse import access
from warehouse.access import (
    DbPath,
    Period,
    bounds_on,
    bounds_sql,
    open_warehouse,
)
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
)
from warehouse.snapshot import SNAPSHOT_COLUMNS, snapshot_bounds, snapshot_query

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
