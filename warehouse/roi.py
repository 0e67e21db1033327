"""Estimated ROI per platform (docs/roi.md): the calculation, every SQL statement of it.

The model, in one paragraph (docs/roi.md has the long form):

- **Cost** of a platform over ``[start, end]`` = labour + its share of the tool cost + its ad spend,
  summed day by day so that a value changed in the middle of a period splits it.
  - labour(day) = hours(day) x hourly_rate(day), where hours(day) is the day's **logged** hours if
    any time was logged for that platform in the day's ISO week (Monday..Sunday), otherwise
    hours_per_week(day) / 7 (the estimate).  Logging time for a week switches the estimate off
    for that whole week.
  - tool(day) = tool_cost_per_month(day) / days in that calendar month, split evenly over the ROI
    platforms (:func:`roi_platforms`); ad_spend(day) = ad_spend_per_month(platform, day) / days in
    that month.  A full calendar month therefore costs exactly the monthly amount.
- **Value** = social_visits x per_social_visit + new_followers x per_new_follower + impressions /
  1000 x per_1000_impressions, each count valued with the assumption in effect on its day.
- **ROI %** = (value - cost) / cost x 100; every ``cost_per_*`` is cost / count.  A zero or missing
  denominator gives ``None`` (NaN in the frame), never ``inf``.

The stored inputs (costs, value assumptions, logged time: their tables, writes and the sync from
socialkpi.toml) are :mod:`warehouse.roi_inputs`; this module only reads them, with one read-only
connection per :func:`roi_table`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from warehouse.access import DbPath, account_keys_sql, kpi_columns, open_warehouse
from warehouse.roi_inputs import ASSUMPTION_DEFAULTS, TOTAL, effective_sql, has_roi_tables

# Platforms that measure a website, not a social presence: no ROI row of their own unless costs
# or time were recorded for them.  Their visits_from_<network> rows feed the networks' rows.
NOT_SOCIAL = frozenset({"ga4", "plausible", "matomo", "umami", "wordpress", "manual"})

ROI_COLUMNS: tuple[str, ...] = (
    "platform", "hours", "hours_source", "labour_cost", "tool_cost", "ad_spend", "total_cost",
    "new_followers", "impressions", "social_visits", "cost_per_new_follower", "cost_per_1000_impressions",
    "cost_per_social_visit", "estimated_value", "roi_pct",
)  # fmt: skip

# The formula of each figure, as the dashboard shows it beside the number.
FORMULAS: dict[str, str] = {
    "hours": "logged hours in weeks with logged time, else hours_per_week / 7 per day",
    "labour_cost": "Σ days hours(day) × hourly_rate(day)",
    "tool_cost": "Σ days tool_cost_per_month / days in month ÷ number of ROI platforms",
    "ad_spend": "Σ days ad_spend_per_month / days in month",
    "total_cost": "labour_cost + tool_cost + ad_spend",
    "cost_per_new_follower": "total_cost / new_followers",
    "cost_per_1000_impressions": "total_cost / impressions × 1000",
    "cost_per_social_visit": "total_cost / social_visits",
    "estimated_value": (
        "social_visits × per_social_visit + new_followers × per_new_follower"
        " + impressions / 1000 × per_1000_impressions"
    ),
    "roi_pct": "(estimated_value − total_cost) / total_cost × 100",
}


# ---------------------------------------------------------------------------------------------
# The ROI table
# ---------------------------------------------------------------------------------------------


def roi_platforms(con: duckdb.DuckDBPyConnection, *, with_costs: bool = True) -> list[str]:
    """The platforms that get an ROI row, sorted: own social accounts (not website analytics), and
    any platform with hours, ad spend or logged time recorded (``with_costs``: the schema has them)."""
    recorded = """
        UNION SELECT platform FROM cost_values WHERE platform <> '' AND value > 0
        UNION SELECT platform FROM time_log
    """
    rows = con.execute(
        f"""
        SELECT platform FROM accounts WHERE NOT competitor AND NOT list_contains($web, platform)
        UNION
        SELECT DISTINCT o.platform FROM ({account_keys_sql(con)}) o LEFT JOIN accounts a USING (platform, account_id)
        WHERE NOT coalesce(a.competitor, false) AND NOT list_contains($web, o.platform)
        {recorded if with_costs else ""}
        ORDER BY 1
        """,
        {"web": sorted(NOT_SOCIAL)},
    ).fetchall()
    return [r[0] for r in rows]


_COSTS_SQL = f"""
WITH days AS (
    SELECT CAST(d AS DATE) AS day
    FROM unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY)) AS t(d)
),
plats AS (SELECT unnest($plats::VARCHAR[]) AS platform),
eff AS ({effective_sql("cost_values")}),
logged_days AS (
    SELECT platform, spent_on AS day, sum(hours) AS hours FROM time_log GROUP BY platform, spent_on
),
logged_weeks AS (
    SELECT DISTINCT platform, CAST(date_trunc('week', spent_on) AS DATE) AS week FROM time_log
),
grid AS (
    SELECT p.platform, d.day, CAST(date_trunc('week', d.day) AS DATE) AS week, day(last_day(d.day)) AS month_days
    FROM plats p CROSS JOIN days d
),
per_day AS (
    SELECT g.platform, g.day,
           lw.platform IS NOT NULL AS logged,
           CASE WHEN lw.platform IS NOT NULL THEN coalesce(ld.hours, 0) ELSE coalesce(h.value, 0) / 7 END AS hours,
           coalesce(r.value, 0) AS rate,
           coalesce(ad.value, 0) / g.month_days AS ad_spend
    FROM grid g
    LEFT JOIN logged_weeks lw ON lw.platform = g.platform AND lw.week = g.week
    LEFT JOIN logged_days ld ON ld.platform = g.platform AND ld.day = g.day
    LEFT JOIN eff h ON h.item = 'hours_per_week' AND h.platform = g.platform AND g.day BETWEEN h.lo AND h.hi
    LEFT JOIN eff r ON r.item = 'hourly_rate' AND r.platform = '' AND g.day BETWEEN r.lo AND r.hi
    LEFT JOIN eff ad ON ad.item = 'ad_spend_per_month' AND ad.platform = g.platform AND g.day BETWEEN ad.lo AND ad.hi
)
SELECT platform, sum(hours) AS hours, sum(hours * rate) AS labour_cost, sum(ad_spend) AS ad_spend,
       count(*) FILTER (WHERE logged) AS logged_days, count(*) AS days
FROM per_day
GROUP BY platform
"""

_TOOL_SQL = f"""
WITH days AS (
    SELECT CAST(d AS DATE) AS day
    FROM unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY)) AS t(d)
),
eff AS ({effective_sql("cost_values")})
SELECT coalesce(sum(coalesce(t.value, 0) / day(last_day(d.day))), 0)
FROM days d
LEFT JOIN eff t ON t.item = 'tool_cost_per_month' AND t.platform = '' AND d.day BETWEEN t.lo AND t.hi
"""

_RESULTS_TEMPLATE = """
WITH plats AS (SELECT unnest($plats::VARCHAR[]) AS platform),
own AS (
    SELECT o.platform, o.account_id, o.metric, o.observed_on, o.value
    FROM observations o
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE NOT coalesce(a.competitor, false)
      AND o.observed_on <= $end
      AND (o.metric IN ('impressions', 'followers', 'followers_gained')
           OR o.metric LIKE 'visits\\_from\\_%' ESCAPE '\\')
),
va AS ({assumptions}),
imp AS (
    SELECT o.platform, sum(o.value) AS impressions,
           sum(o.value / 1000 * coalesce(v.value, $per_1000_impressions)) AS value
    FROM own o
    LEFT JOIN va v ON v.item = 'per_1000_impressions' AND o.observed_on BETWEEN v.lo AND v.hi
    WHERE o.metric = 'impressions' AND o.observed_on BETWEEN $start AND $end
    GROUP BY o.platform
),
vis AS (
    SELECT substr(o.metric, 13) AS platform, sum(o.value) AS social_visits,
           sum(o.value * coalesce(v.value, $per_social_visit)) AS value
    FROM own o
    LEFT JOIN va v ON v.item = 'per_social_visit' AND o.observed_on BETWEEN v.lo AND v.hi
    WHERE o.metric LIKE 'visits\\_from\\_%' ESCAPE '\\' AND o.observed_on BETWEEN $start AND $end
    GROUP BY 1
),
gained AS (
    SELECT o.platform, o.account_id, sum(o.value) AS n,
           sum(o.value * coalesce(v.value, $per_new_follower)) AS value
    FROM own o
    LEFT JOIN va v ON v.item = 'per_new_follower' AND o.observed_on BETWEEN v.lo AND v.hi
    WHERE o.metric = 'followers_gained' AND o.observed_on BETWEEN $start AND $end
    GROUP BY o.platform, o.account_id
),
levels AS (
    SELECT platform, account_id,
           arg_max(value, observed_on) FILTER (WHERE observed_on >= $start) AS last_value,
           max(observed_on) FILTER (WHERE observed_on >= $start) AS last_day,
           arg_min(value, observed_on) FILTER (WHERE observed_on >= $start) AS first_value,
           arg_max(value, observed_on) FILTER (WHERE observed_on < $start) AS before_value
    FROM own
    WHERE metric = 'followers'
    GROUP BY platform, account_id
),
grown AS (
    SELECT l.platform, l.account_id,
           greatest(l.last_value - coalesce(l.before_value, l.first_value), 0) AS n, l.last_day
    FROM levels l
    ANTI JOIN gained g USING (platform, account_id)
    WHERE l.last_value IS NOT NULL
),
followers AS (
    SELECT platform, n, value FROM gained
    UNION ALL
    SELECT g.platform, g.n, g.n * coalesce(v.value, $per_new_follower)
    FROM grown g
    LEFT JOIN va v ON v.item = 'per_new_follower' AND g.last_day BETWEEN v.lo AND v.hi
),
fol AS (SELECT platform, sum(n) AS new_followers, sum(value) AS value FROM followers GROUP BY platform)
SELECT p.platform, fol.new_followers, fol.value, imp.impressions, imp.value, vis.social_visits, vis.value
FROM plats p
LEFT JOIN fol USING (platform)
LEFT JOIN imp USING (platform)
LEFT JOIN vis USING (platform)
"""


# The same results from ``kpi_daily`` (schema 7: it has ``followers_gained``), reading only the window
# and a lookback of LOOKBACK_DAYS before it: an account's last ``followers`` before ``start`` is in the
# lookback when it has one there, and only an account with none there is looked up further back (the
# ``older`` scan of its rows: none in a warehouse collected daily).  Visits from social come from
# ``network_daily`` (the ``visits_from_<network>`` rows, schema 7 too).
LOOKBACK_DAYS = 35
_GROWN = _RESULTS_TEMPLATE.index("grown AS (")
_DAILY_RESULTS_TEMPLATE = (
    """
WITH plats AS (SELECT unnest($plats::VARCHAR[]) AS platform),
own AS (
    SELECT k.platform, k.account_id, k.observed_on, k.impressions, k.followers, k.followers_gained
    FROM kpi_daily k
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE NOT coalesce(a.competitor, false)
      AND k.observed_on BETWEEN CAST($start AS DATE) - {lookback} AND $end
      AND (k.impressions IS NOT NULL OR k.followers IS NOT NULL OR k.followers_gained IS NOT NULL)
),
va AS ({assumptions}),
imp AS (
    SELECT o.platform, sum(o.impressions) AS impressions,
           sum(o.impressions / 1000 * coalesce(v.value, $per_1000_impressions)) AS value
    FROM own o
    LEFT JOIN va v ON v.item = 'per_1000_impressions' AND o.observed_on BETWEEN v.lo AND v.hi
    WHERE o.impressions IS NOT NULL AND o.observed_on BETWEEN $start AND $end
    GROUP BY o.platform
),
vis AS (
    SELECT o.network AS platform, sum(o.visits) AS social_visits,
           sum(o.visits * coalesce(v.value, $per_social_visit)) AS value
    FROM network_daily o
    LEFT JOIN accounts a USING (platform, account_id)
    LEFT JOIN va v ON v.item = 'per_social_visit' AND o.observed_on BETWEEN v.lo AND v.hi
    WHERE NOT coalesce(a.competitor, false) AND o.observed_on BETWEEN $start AND $end
    GROUP BY 1
),
gained AS (
    SELECT o.platform, o.account_id, sum(o.followers_gained) AS n,
           sum(o.followers_gained * coalesce(v.value, $per_new_follower)) AS value
    FROM own o
    LEFT JOIN va v ON v.item = 'per_new_follower' AND o.observed_on BETWEEN v.lo AND v.hi
    WHERE o.followers_gained IS NOT NULL AND o.observed_on BETWEEN $start AND $end
    GROUP BY o.platform, o.account_id
),
recent AS (
    SELECT platform, account_id,
           arg_max(followers, observed_on) FILTER (WHERE observed_on >= $start) AS last_value,
           max(observed_on) FILTER (WHERE observed_on >= $start) AS last_day,
           arg_min(followers, observed_on) FILTER (WHERE observed_on >= $start) AS first_value,
           arg_max(followers, observed_on) FILTER (WHERE observed_on < $start) AS before_value
    FROM own
    WHERE followers IS NOT NULL
    GROUP BY platform, account_id
),
older AS (
    SELECT k.platform, k.account_id, arg_max(k.followers, k.observed_on) AS before_value
    FROM kpi_daily k
    SEMI JOIN (SELECT platform, account_id FROM recent WHERE last_value IS NOT NULL AND before_value IS NULL) m
        USING (platform, account_id)
    WHERE k.followers IS NOT NULL AND k.observed_on < CAST($start AS DATE) - {lookback}
    GROUP BY k.platform, k.account_id
),
levels AS (
    SELECT r.platform, r.account_id, r.last_value, r.last_day, r.first_value,
           coalesce(r.before_value, o.before_value) AS before_value
    FROM recent r
    LEFT JOIN older o USING (platform, account_id)
),
"""
    + _RESULTS_TEMPLATE[_GROWN:]
).replace("{lookback}", str(LOOKBACK_DAYS))


# A warehouse still at schema version 1 has no value_assumptions table: the defaults apply.
_NO_ASSUMPTIONS = "SELECT NULL::VARCHAR AS item, NULL::DOUBLE AS value, NULL::DATE AS lo, NULL::DATE AS hi"


def _results_sql(has_tables: bool, daily: bool = False) -> str:
    """The results statement: from ``kpi_daily`` when ``daily`` (schema 7), else from ``observations``."""
    source = effective_sql("value_assumptions") if has_tables else _NO_ASSUMPTIONS
    return (_DAILY_RESULTS_TEMPLATE if daily else _RESULTS_TEMPLATE).replace("{assumptions}", source)


def _ratio(numerator: float | None, denominator: float | None, scale: float = 1.0) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator * scale


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _source(logged_days: int, days: int) -> str:
    if days and logged_days == days:
        return "logged"
    return "mixed" if logged_days else "estimate"


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    """Fill the ratios of a row from its sums (the 'all' row passes its denominator-matched costs)."""
    cost = row["total_cost"]
    row["cost_per_new_follower"] = _ratio(row.pop("_cost_followers", cost), row["new_followers"])
    row["cost_per_1000_impressions"] = _ratio(row.pop("_cost_impressions", cost), row["impressions"], 1000)
    row["cost_per_social_visit"] = _ratio(row.pop("_cost_visits", cost), row["social_visits"])
    value = row["estimated_value"]
    row["roi_pct"] = None if value is None else _ratio(value - cost, cost, 100)
    return row


_ROUND = {
    "hours": 2, "labour_cost": 2, "tool_cost": 2, "ad_spend": 2, "total_cost": 2, "new_followers": 2,
    "impressions": 2, "social_visits": 2, "cost_per_new_follower": 4, "cost_per_1000_impressions": 4,
    "cost_per_social_visit": 4, "estimated_value": 2, "roi_pct": 1,
}  # fmt: skip


def roi_table(db_path: DbPath, start: date, end: date, platforms: Sequence[str] | None = None) -> pd.DataFrame:
    """Cost, results, estimated value and ROI per platform for ``[start, end]`` (both included).

    One row per ROI platform (:func:`roi_platforms`, restricted to ``platforms`` when given), sorted,
    then the total row ``platform = "all"``.  Columns are :data:`ROI_COLUMNS` (formulas in
    :data:`FORMULAS` and docs/roi.md):

    - ``hours``, ``hours_source`` (``logged``: every day of the period falls in a week with logged
      time; ``estimate``: none does; ``mixed``), ``labour_cost``, ``tool_cost`` (this platform's
      even share), ``ad_spend``, ``total_cost``: money in the configured currency.
    - ``new_followers``: per own account, Σ ``followers_gained`` when the account reports it in the
      period, else the growth of ``followers`` (last value in the period − last value before it,
      or the first value in it), never below 0; summed over the platform's own accounts.
    - ``impressions``: Σ ``impressions`` of own accounts; ``social_visits``: Σ
      ``visits_from_<platform>`` of the own website accounts (the platform filter selects rows,
      not the websites the visits are read from).
    - ``cost_per_*``: total_cost / count (per 1000 for impressions); ``estimated_value``: each count
      × the assumption in effect on its day; ``roi_pct`` = (value − cost) / cost × 100.
    - A count the platform does not report is missing (NaN), not 0; a ratio whose denominator is
      0 or missing is NaN, never inf.

    The total row sums the rows; its ``cost_per_X`` divides the cost of the platforms that report X
    by their Σ X; its ``roi_pct`` uses every row's cost.  Costs are split per platform only for
    tool costs; a warehouse with no ROI platform at all puts the whole tool cost on the total row.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    with open_warehouse(db_path) as (con, _):
        has_costs = has_roi_tables(con)
        everyone = roi_platforms(con, with_costs=has_costs)
        plats = [p for p in everyone if platforms is None or p in set(platforms)]
        params: dict[str, Any] = {"start": start, "end": end, "plats": plats}
        labour: dict[str, tuple[Any, ...]] = {}
        tool_total = 0.0
        if has_costs:
            labour = {r[0]: r[1:] for r in con.execute(_COSTS_SQL, params).fetchall()}
            tool_row = con.execute(_TOOL_SQL, {"start": start, "end": end}).fetchone()
            tool_total = float(tool_row[0]) if tool_row else 0.0
        daily = {"impressions", "followers", "followers_gained"} <= kpi_columns(con)
        found = con.execute(_results_sql(has_costs, daily), {**params, **ASSUMPTION_DEFAULTS}).fetchall()
        results = {r[0]: r[1:] for r in found}
    share = tool_total / len(everyone) if everyone else 0.0
    days = (end - start).days + 1
    rows: list[dict[str, Any]] = []
    for p in plats:
        hours, labour_cost, ad_spend, logged_days, n_days = labour.get(p, (0.0, 0.0, 0.0, 0, days))
        new_f, value_f, imp, value_i, vis, value_v = results.get(p, (None,) * 6)
        total_cost = float(labour_cost) + share + float(ad_spend)
        rows.append(
            {
                "platform": p,
                "hours": float(hours),
                "hours_source": _source(int(logged_days), int(n_days)),
                "labour_cost": float(labour_cost),
                "tool_cost": share,
                "ad_spend": float(ad_spend),
                "total_cost": total_cost,
                "new_followers": new_f,
                "impressions": imp,
                "social_visits": vis,
                "estimated_value": _sum([value_f, value_i, value_v]),
                "_logged_days": int(logged_days),
                "_days": int(n_days),
            }
        )
    rows = [_figures(r) for r in rows]
    rows.append(_total(rows, tool_total if not everyone and platforms is None else 0.0))
    for r in rows:
        r.pop("_logged_days", None)
        r.pop("_days", None)
    frame = pd.DataFrame(rows, columns=list(ROI_COLUMNS))
    for column, digits in _ROUND.items():
        frame[column] = pd.to_numeric(frame[column].astype("float64")).round(digits)
    return frame


def _total(rows: list[dict[str, Any]], unallocated_tool: float) -> dict[str, Any]:
    def total(column: str) -> float:
        return float(sum(r[column] for r in rows))

    def cost_where(column: str) -> float:
        return float(sum(r["total_cost"] for r in rows if r[column] is not None))

    logged, days = sum(r["_logged_days"] for r in rows), sum(r["_days"] for r in rows)
    row = {
        "platform": TOTAL,
        "hours": total("hours"),
        "hours_source": _source(logged, days),
        "labour_cost": total("labour_cost"),
        "tool_cost": total("tool_cost") + unallocated_tool,
        "ad_spend": total("ad_spend"),
        "total_cost": total("total_cost") + unallocated_tool,
        "new_followers": _sum(r["new_followers"] for r in rows),
        "impressions": _sum(r["impressions"] for r in rows),
        "social_visits": _sum(r["social_visits"] for r in rows),
        "estimated_value": _sum(r["estimated_value"] for r in rows),
        "_cost_followers": cost_where("new_followers"),
        "_cost_impressions": cost_where("impressions"),
        "_cost_visits": cost_where("social_visits"),
    }
    return _figures(row)
