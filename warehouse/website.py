"""Website: the visits each social network sent (:func:`visits_by_network`) and beside them that network's
reach (:func:`network_reach_and_visits`).  The conventions of :mod:`warehouse.queries`; docs/kpis.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from warehouse import access
from warehouse.access import DbPath, open_warehouse
from warehouse.kpis import previous_period
from warehouse.queries import platform_kpis
from warehouse.query_parts import _OWN, _PLATFORM_FILTER, _platform_list

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
