"""The KPI snapshot's SQL (the kpis CSV and the Overview table), without pandas.

One row per calendar period x account plus a total row per period; the definitions are in
docs/kpis.md and :func:`warehouse.queries.kpi_snapshot`.  The same statement reads either the
``kpi_daily`` aggregate (:mod:`warehouse.aggregates`) or, on a file without it, ``observations``.
"""

from __future__ import annotations

from datetime import date, timedelta

from warehouse.access import Period

SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "period", "period_start", "period_end", "platform", "account_id", "account_name", "competitor",
    "followers", "followers_change", "impressions", "reach_avg_daily", "engagements", "engagement_rate",
    "profile_views", "link_clicks", "page_views", "visits", "visitors_avg_daily", "social_visits",
    "social_page_views", "social_share_of_visits",
)  # fmt: skip

TOTAL_NAME = "All own accounts"

_SUMMED = ("impressions", "engagements", "profile_views", "link_clicks", "page_views", "visits",
           "social_visits", "social_page_views")  # fmt: skip
_AVERAGED = {"reach": "reach_avg_daily", "visitors": "visitors_avg_daily"}
_PERIOD_LABEL = {"month": "strftime(p, '%Y-%m')", "week": "strftime(p, '%G-W%V')"}


def _raw_base(unit: str) -> str:
    """``base`` and ``per_account`` from ``observations`` (a file without the aggregates)."""
    metrics = ("followers", *_SUMMED, *_AVERAGED)
    metric_list = ", ".join(f"'{m}'" for m in metrics)
    summed = ",\n".join(f"sum(value) FILTER (WHERE metric = '{m}') AS {m}" for m in _SUMMED)
    averaged = ",\n".join(f"avg(value) FILTER (WHERE metric = '{m}') AS {col}" for m, col in _AVERAGED.items())
    return f"""base AS (
    SELECT o.platform, o.account_id, o.metric, o.observed_on, o.value,
           date_trunc('{unit.lower()}', o.observed_on)::DATE AS p
    FROM observations o, params
    WHERE o.metric IN ({metric_list})
      AND o.observed_on BETWEEN date_trunc('{unit.lower()}', $3::DATE) - INTERVAL 1 {unit} AND $2::DATE
      AND o.observed_on <= params.until
      AND (o.observed_on >= params.since
           OR (o.metric = 'followers' AND o.observed_on >= params.first_p - INTERVAL 1 {unit}
               AND o.observed_on < params.first_p))
),
per_account AS (
    SELECT p, platform, account_id,
           arg_max(value, observed_on) FILTER (WHERE metric = 'followers') AS followers,
           {summed},
           {averaged}
    FROM base
    GROUP BY p, platform, account_id
),"""


def _daily_base(unit: str) -> str:
    """The same ``base`` and ``per_account`` from ``kpi_daily`` (one row per account and day, a
    column per metric): a row before ``since`` counts only for its ``followers`` (the previous
    period's level), exactly as the ``metric = 'followers'`` rows do in :func:`_raw_base`.  An
    account's period with none of the snapshot's metrics (only ``posts``, say, a column of schema
    version 7) is left out, as :func:`_raw_base` has no row for it: every aggregate of such a group is
    NULL, and no group of :func:`_raw_base` has them all NULL (an observation's value is never NULL).
    Dropping those groups costs less than testing every row."""
    summed = ",\n".join(f"sum({m}) AS {m}" for m in _SUMMED)
    averaged = ",\n".join(f"avg({m}) AS {col}" for m, col in _AVERAGED.items())
    any_metric = ", ".join(("followers", *_SUMMED, *_AVERAGED.values()))
    return f"""base AS (
    SELECT k.*, date_trunc('{unit.lower()}', k.observed_on)::DATE AS p
    FROM kpi_daily k, params
    WHERE k.observed_on BETWEEN date_trunc('{unit.lower()}', $3::DATE) - INTERVAL 1 {unit} AND $2::DATE
      AND k.observed_on <= params.until
      AND (k.observed_on >= params.since
           OR (k.followers IS NOT NULL AND k.observed_on >= params.first_p - INTERVAL 1 {unit}
               AND k.observed_on < params.first_p))
),
per_account_any AS (
    SELECT p, platform, account_id,
           arg_max(followers, observed_on) FILTER (WHERE followers IS NOT NULL) AS followers,
           {summed},
           {averaged}
    FROM base
    GROUP BY p, platform, account_id
),
per_account AS (SELECT * FROM per_account_any WHERE coalesce({any_metric}) IS NOT NULL),"""


def _running_base(unit: str) -> str:
    """The same ``per_account`` from ``kpi_running`` (schema version 8), without a row per day: per
    account, its running totals on each boundary of ``$4`` (the day before the first period, the day
    before ``since``, then each period's last day clipped to ``until``; ``$5`` the days looked up, each
    account's row clamped to its newest day, none before its first day), and each period's numbers
    the difference of two boundaries.  The row before the first period holds only its last
    ``followers``, as the rows before ``since`` do in :func:`_daily_base`; a period's row exists when
    it has a value of any of the snapshot's metrics."""
    counted = ("followers", *_SUMMED, *_AVERAGED)
    looked = ", ".join(f"k.{m}, k.{m}_n" for m in (*_SUMMED, *_AVERAGED))
    diff = ",\n           ".join(
        f"coalesce(c.{m}, 0) - coalesce(p.{m}, 0) AS {m}, coalesce(c.{m}_n, 0) - coalesce(p.{m}_n, 0) AS {m}_n"
        for m in (*_SUMMED, *_AVERAGED)
    )
    summed = ",\n           ".join(f"CASE WHEN {m}_n > 0 THEN {m} END AS {m}" for m in _SUMMED)
    averaged = ",\n           ".join(
        f"CASE WHEN {m}_n > 0 THEN {m} / {m}_n END AS {col}" for m, col in _AVERAGED.items()
    )
    any_count = " OR ".join(f"{m}_n > 0" for m in counted)
    columns = ", ".join(c for m in (*_SUMMED, *_AVERAGED) for c in (m, f"{m}_n"))
    return f"""bounds AS (SELECT unnest($4::DATE[]) AS b, unnest(range(1, len($4::DATE[]) + 1)) AS j),
k AS (
    SELECT platform, account_id, observed_on, followers_n, followers_last, followers_on, {columns}
    FROM kpi_running WHERE observed_on = ANY($5::DATE[])
),
looked AS (
    SELECT s.platform, s.account_id, t.j, t.b, k.followers_n, k.followers_last, k.followers_on, {looked}
    FROM account_days s
    CROSS JOIN bounds t
    LEFT JOIN k ON k.platform = s.platform AND k.account_id = s.account_id
               AND k.observed_on = least(t.b, s.newest_day) AND t.b >= s.first_day
),
diffs AS (
    SELECT c.platform, c.account_id, c.j, c.b, p.b + 1 AS since_day, c.followers_last, c.followers_on,
           coalesce(c.followers_n, 0) - coalesce(p.followers_n, 0) AS followers_n,
           {diff}
    FROM looked c
    LEFT JOIN looked p ON p.platform = c.platform AND p.account_id = c.account_id AND p.j = c.j - 1
),
per_account AS (
    SELECT date_trunc('{unit.lower()}', b)::DATE AS p, platform, account_id,
           CASE WHEN followers_on >= date_trunc('{unit.lower()}', b) THEN followers_last END AS followers,
           NULL::DOUBLE AS impressions, NULL::DOUBLE AS engagements, NULL::DOUBLE AS profile_views,
           NULL::DOUBLE AS link_clicks, NULL::DOUBLE AS page_views, NULL::DOUBLE AS visits,
           NULL::DOUBLE AS social_visits, NULL::DOUBLE AS social_page_views,
           NULL::DOUBLE AS reach_avg_daily, NULL::DOUBLE AS visitors_avg_daily
    FROM diffs
    WHERE j = 1 AND followers_on >= date_trunc('{unit.lower()}', b)
    UNION ALL
    SELECT date_trunc('{unit.lower()}', b)::DATE AS p, platform, account_id,
           CASE WHEN followers_on >= since_day THEN followers_last END AS followers,
           {summed},
           {averaged}
    FROM diffs
    WHERE j >= 3 AND ({any_count})
),"""


def snapshot_bounds(period: Period, since: date, until: date) -> list[date]:
    """``$4`` of the snapshot on ``kpi_running``: the day before the first period, the day before
    ``since``, then the last day of each period from ``since``'s to ``until``'s, the last one ``until``."""

    def start_of(day: date) -> date:
        return day.replace(day=1) if period == "month" else day - timedelta(days=day.weekday())

    def next_start(day: date) -> date:
        if period == "week":
            return start_of(day) + timedelta(days=7)
        first = start_of(day)
        if first.month == 12:
            return first.replace(year=first.year + 1, month=1)
        return first.replace(month=first.month + 1)

    one = timedelta(days=1)
    found = [start_of(since) - one, since - one]
    day = since
    while day <= until:
        end = min(next_start(day) - one, until)
        found.append(end)
        day = end + one
    return found


def _snapshot_sql(period: Period, aggregated: bool, running: bool = False) -> str:
    unit = {"month": "MONTH", "week": "WEEK"}[period]  # whitelisted identifiers only
    label = _PERIOD_LABEL[period]
    base = _running_base(unit) if running else _daily_base(unit) if aggregated else _raw_base(unit)
    return f"""
WITH params AS (
    SELECT $1::DATE AS since, $2::DATE AS until,
           date_trunc('{unit.lower()}', $3::DATE)::DATE AS first_p
),
{base}
changed AS (
    SELECT *,
           CASE WHEN lag(p) OVER w = p - INTERVAL 1 {unit}
                THEN followers - lag(followers) OVER w END AS followers_change
    FROM per_account
    WINDOW w AS (PARTITION BY platform, account_id ORDER BY p)
),
accounts_rows AS (
    SELECT c.*, coalesce(a.name, c.account_id) AS account_name,
           coalesce(a.competitor, false) AS competitor
    FROM changed c
    LEFT JOIN accounts a USING (platform, account_id)
    CROSS JOIN params
    WHERE c.p >= params.first_p
),
totals AS (
    SELECT p, 'all' AS platform, 'all' AS account_id, '{TOTAL_NAME}' AS account_name, false AS competitor,
           sum(followers) AS followers,
           sum(followers_change) AS followers_change,
           sum(impressions) AS impressions,
           sum(reach_avg_daily) AS reach_avg_daily,
           sum(engagements) AS engagements,
           sum(engagements) FILTER (WHERE impressions > 0)
               / nullif(sum(impressions) FILTER (WHERE engagements IS NOT NULL), 0) AS engagement_rate,
           sum(profile_views) AS profile_views,
           sum(link_clicks) AS link_clicks,
           sum(page_views) AS page_views,
           sum(visits) AS visits,
           sum(visitors_avg_daily) AS visitors_avg_daily,
           sum(social_visits) AS social_visits,
           sum(social_page_views) AS social_page_views,
           sum(social_visits) FILTER (WHERE visits > 0)
               / nullif(sum(visits) FILTER (WHERE social_visits IS NOT NULL), 0) AS social_share_of_visits
    FROM accounts_rows
    WHERE NOT competitor
    GROUP BY p
),
unioned AS (
    SELECT p, platform, account_id, account_name, competitor, followers, followers_change, impressions,
           reach_avg_daily, engagements,
           engagements / nullif(impressions, 0) AS engagement_rate,
           profile_views, link_clicks, page_views, visits, visitors_avg_daily, social_visits,
           social_page_views,
           social_visits / nullif(visits, 0) AS social_share_of_visits,
           0 AS is_total
    FROM accounts_rows
    UNION ALL
    SELECT *, 1 AS is_total FROM totals
)
SELECT {label} AS period,
       greatest(p, params.since) AS period_start,
       least((p + INTERVAL 1 {unit} - INTERVAL 1 DAY)::DATE, params.until) AS period_end,
       platform, account_id, account_name, competitor,
       followers, followers_change, impressions,
       round(reach_avg_daily, 1) AS reach_avg_daily,
       engagements, round(engagement_rate, 4) AS engagement_rate,
       profile_views, link_clicks, page_views, visits,
       round(visitors_avg_daily, 1) AS visitors_avg_daily,
       social_visits, social_page_views,
       round(social_share_of_visits, 4) AS social_share_of_visits
FROM unioned, params
ORDER BY p, is_total, platform, account_id
"""


def snapshot_query(period: Period, *, aggregated: bool = False, running: bool = False) -> str:
    """The SQL of :func:`warehouse.queries.kpi_snapshot` (parameters: since, until, since); used by
    the CSV export.  ``aggregated``: read ``kpi_daily`` (schema version 3) instead of ``observations``;
    both give the same rows."""
    if period not in _PERIOD_LABEL:
        raise ValueError(f"period must be 'month' or 'week', not {period!r}")
    return _snapshot_sql(period, aggregated, running)
