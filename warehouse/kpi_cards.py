"""The KPI cards' SQL: :func:`kpi_cards`, the headline KPIs of a period and of the one before it, in
:data:`warehouse.kpis.KPI_DEFS` order, read from ``kpi_running``, ``kpi_daily`` or the observations,
whichever the warehouse has (the conventions of :mod:`warehouse.queries`; each KPI in docs/kpis.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from warehouse import access
from warehouse.access import DbPath, open_warehouse
from warehouse.aggregates import KPI_METRICS
from warehouse.kpis import KPI_DEFS, Kpi, change_pct, previous_period
from warehouse.query_parts import _OWN, _OWN_WINDOW, _lookup_days, _platform_list, _running_rows

_RATIO_PAIRS = ", ".join(
    f"('{d.key}', '{d.metric}', '{d.denominator}')" for d in KPI_DEFS if d.how == "ratio"
)  # our own constants only

# One statement for every card: per (current, metric) the sums of the accounts' last values, totals
# and daily averages; per (current, 'ratio:<key>') the ratio Σ numerator / Σ denominator over the
# accounts reporting both (numerator present, denominator > 0) -- the rule of the kpis CSV totals.
_KPI_SQL = f"""
WITH o AS ({_OWN_WINDOW}),
per_account AS (
    SELECT current, metric, platform, account_id,
           arg_max(value, observed_on) AS last_value,
           sum(value) AS total,
           avg(value) AS avg_daily
    FROM o
    GROUP BY current, metric, platform, account_id
),
pairs AS (SELECT * FROM (VALUES {_RATIO_PAIRS}) AS t(key, num, den)),
ratios AS (
    SELECT n.current, p.key, sum(n.total) / nullif(sum(d.total), 0) AS ratio
    FROM pairs p
    JOIN per_account n ON n.metric = p.num
    JOIN per_account d ON d.metric = p.den AND d.current = n.current
                      AND d.platform = n.platform AND d.account_id = n.account_id
    WHERE d.total > 0
    GROUP BY n.current, p.key
)
SELECT current, metric,
       sum(last_value) AS last_value, sum(total) AS total, sum(avg_daily) AS avg_daily
FROM per_account
GROUP BY current, metric
UNION ALL
SELECT current, 'ratio:' || key, NULL, ratio, NULL FROM ratios
"""


_CARD_METRICS = sorted({m for d in KPI_DEFS for m in (d.metric, d.denominator) if m})
assert set(_CARD_METRICS) <= set(KPI_METRICS), "every card metric must be a kpi_daily column"  # noqa: S101
_RATIO_DEFS = [(d.key, d.metric, d.denominator) for d in KPI_DEFS if d.how == "ratio"]
# per metric, which of last / sum / avg_daily a card reads (a ratio reads its two sums)
_NEEDED: dict[str, set[str]] = {m: set() for m in _CARD_METRICS}
for _d in KPI_DEFS:
    if _d.how == "ratio" and _d.denominator:
        _NEEDED[_d.metric].add("sum")
        _NEEDED[_d.denominator].add("sum")
    else:
        _NEEDED[_d.metric].add(_d.how)


def _kpi_daily_sql() -> str:
    """:data:`_KPI_SQL` on ``kpi_daily``: per account the last value, total and daily average of
    each card metric (NULL when the account has no value), summed across accounts per period;
    each ratio over the accounts that report its numerator and a denominator > 0."""
    # only the aggregates a card reads (the others stay NULL): fewer aggregate states per row
    per_account = ",\n           ".join(
        ", ".join(
            [
                f"arg_max({m}, observed_on) FILTER (WHERE {m} IS NOT NULL) AS {m}_last"
                if "last" in _NEEDED[m]
                else f"NULL::DOUBLE AS {m}_last",
                f"sum({m}) AS {m}_total" if "sum" in _NEEDED[m] else f"NULL::DOUBLE AS {m}_total",
                f"avg({m}) AS {m}_avg" if "avg_daily" in _NEEDED[m] else f"NULL::DOUBLE AS {m}_avg",
            ]
        )
        for m in _CARD_METRICS
    )
    totals = ",\n       ".join(f"sum({m}_last), sum({m}_total), sum({m}_avg)" for m in _CARD_METRICS)
    ratios = ",\n       ".join(
        f"sum({num}_total) FILTER (WHERE {num}_total IS NOT NULL AND {den}_total > 0) "
        f"/ nullif(sum({den}_total) FILTER (WHERE {num}_total IS NOT NULL AND {den}_total > 0), 0)"
        for _, num, den in _RATIO_DEFS
    )
    return f"""
WITH o AS (
    SELECT k.*, k.observed_on >= ? AS current
    FROM kpi_daily k
    LEFT JOIN accounts a USING (platform, account_id)
    WHERE k.observed_on BETWEEN ? AND ?
      AND {_OWN}
      AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], k.platform))
),
per_account AS (
    SELECT current, platform, account_id,
           {per_account}
    FROM o
    GROUP BY current, platform, account_id
)
SELECT current,
       {totals},
       {ratios}
FROM per_account
GROUP BY current
"""


_KPI_DAILY_SQL = _kpi_daily_sql()


def _running_cards_sql() -> str:
    """:data:`_KPI_DAILY_SQL` from ``kpi_running`` (schema version 8): per account and period a
    metric's sum and its days with a value are the difference of two running totals, and the last
    followers value of the period the one on its last day if it dates from inside the period.  The
    same wide row per period, the same sums across accounts and the same ratio rule.  Parameters:
    platforms, the days looked up, the day before the previous period, the day before the period,
    its last day, the first days of the previous period and of the period."""

    def diff(m: str, hi: int, lo: int) -> str:
        return f"coalesce(r{hi}.{m}, 0) - coalesce(r{lo}.{m}, 0)"

    cols = [
        "CASE WHEN r2.followers_on >= $7::DATE THEN r2.followers_last END AS followers_last_c",
        "CASE WHEN r1.followers_on >= $6::DATE THEN r1.followers_last END AS followers_last_p",
    ]
    summed = [m for m in _CARD_METRICS if m != "followers"]
    for m in summed:
        for tag, (hi, lo) in (("c", (2, 1)), ("p", (1, 0))):
            cols += [f"{diff(m, hi, lo)} AS {m}_{tag}", f"{diff(m + '_n', hi, lo)} AS {m}_n_{tag}"]
    needed = ["followers_last", "followers_on", *(c for m in summed for c in (m, f"{m}_n"))]
    lookups = _running_rows(3, needed).replace("SELECT * FROM s", "SELECT " + ",\n       ".join(cols) + "\nFROM s", 1)

    def period(p: str) -> str:
        """The period's one row: per card metric the sums across accounts, then the ratios."""
        cells = []
        for m in _CARD_METRICS:
            last = f"sum(followers_last_{p})" if m == "followers" and "last" in _NEEDED[m] else "NULL::DOUBLE"
            total = avg = "NULL::DOUBLE"
            if m != "followers" and "sum" in _NEEDED[m]:
                total = f"sum({m}_{p}) FILTER (WHERE {m}_n_{p} > 0)"
            if m != "followers" and "avg_daily" in _NEEDED[m]:
                avg = f"sum({m}_{p} / {m}_n_{p}) FILTER (WHERE {m}_n_{p} > 0)"
            cells.append(f"{last}, {total}, {avg}")
        for _, num, den in _RATIO_DEFS:  # over the accounts with the numerator and a denominator > 0
            both = f"{num}_n_{p} > 0 AND {den}_n_{p} > 0 AND {den}_{p} > 0"
            cells.append(f"sum({num}_{p}) FILTER (WHERE {both}) / nullif(sum({den}_{p}) FILTER (WHERE {both}), 0)")
        return f"SELECT {p == 'c'} AS current,\n       " + ",\n       ".join(cells) + "\nFROM per_account"

    return f"""
WITH per_account AS ({lookups})
{period("c")}
UNION ALL
{period("p")}
"""


_RUNNING_CARDS_SQL = _running_cards_sql()


def _unpivot_cards(wide: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The one wide row per period of :data:`_KPI_DAILY_SQL` as the ``(current, metric, last, total,
    avg)`` rows of :data:`_KPI_SQL` (a metric no account has in the period gives no row)."""
    rows: list[tuple[Any, ...]] = []
    for current, *cells in wide:
        for i, metric in enumerate(_CARD_METRICS):
            last, total, avg = cells[3 * i : 3 * i + 3]
            if last is not None or total is not None or avg is not None:
                rows.append((current, metric, last, total, avg))
        for j, (key, _, _) in enumerate(_RATIO_DEFS):
            ratio = cells[3 * len(_CARD_METRICS) + j]
            if ratio is not None:
                rows.append((current, f"ratio:{key}", None, ratio, None))
    return rows


def kpi_cards(db_path: DbPath, start: date, end: date, platforms: Sequence[str] | None = None) -> list[Kpi]:
    """The headline KPIs for ``[start, end]`` (inclusive), own accounts only, with the change vs
    the previous period of the same length (see :func:`previous_period`), in :data:`KPI_DEFS` order.

    - ``audience`` (followers): per account the last stored ``followers`` value inside the period,
      summed across accounts; competitors excluded.
    - ``impressions``, ``engagements``, ``profile_views``, ``link_clicks``: sums over days and accounts.
    - ``reach`` (people per day): a distinct count, never summed over days; per account the average
      of its daily reach over the days it has a value in the period, summed across accounts.
    - ``engagement_rate``: engagements / impressions (a fraction) over the accounts reporting both.
    - ``page_views``, ``visits``, ``social_visits``: sums over days and sites.
    - ``social_share``: social_visits / visits (a fraction) over the sites reporting both.

    ``value``/``previous`` are ``None`` when no own account has that metric in the period.
    ``platforms``: restrict to these platform ids (``None``: all).
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    prev_start, prev_end = previous_period(start, end)
    plats = _platform_list(platforms)
    metrics = sorted({m for d in KPI_DEFS for m in (d.metric, d.denominator) if m})
    with open_warehouse(db_path) as (con, aggregated):
        if access.has_running(con):
            looked = [prev_start - timedelta(days=1), start - timedelta(days=1), end]
            params = [plats, _lookup_days(con, looked), *looked, prev_start, start]
            rows = _unpivot_cards(con.execute(_RUNNING_CARDS_SQL, params).fetchall())
        elif aggregated:
            wide = con.execute(_KPI_DAILY_SQL, [start, prev_start, end, plats, plats]).fetchall()
            rows = _unpivot_cards(wide)
        else:
            rows = con.execute(_KPI_SQL, [start, prev_start, end, metrics, plats, plats]).fetchall()
    found: dict[tuple[bool, str], dict[str, float | None]] = {
        (bool(cur), metric): {"last": last, "sum": total, "avg_daily": avg} for cur, metric, last, total, avg in rows
    }
    cards = []
    for d in KPI_DEFS:
        if d.how == "ratio":
            value = found.get((True, f"ratio:{d.key}"), {}).get("sum")
            previous = found.get((False, f"ratio:{d.key}"), {}).get("sum")
        else:
            value = found.get((True, d.metric), {}).get(d.how)
            previous = found.get((False, d.metric), {}).get(d.how)
        cards.append(
            Kpi(
                key=d.key,
                label=d.label,
                unit=d.unit,
                help=d.help,
                value=value,
                previous=previous,
                change_pct=change_pct(value, previous),
                start=start,
                end=end,
                previous_start=prev_start,
                previous_end=prev_end,
                how=d.how,
                group=d.group,
            )
        )
    return cards
