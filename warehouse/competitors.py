"""Competitors: own accounts and competitors side by side (:func:`competitor_comparison`) and share of
voice (:func:`share_of_voice`), on the platforms where a competitor is configured.  The conventions of
:mod:`warehouse.queries`; docs/kpis.md, "Competitors page".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from warehouse import access
from warehouse.access import DbPath, open_warehouse
from warehouse.kpis import previous_period
from warehouse.query_parts import _PLATFORM_FILTER, _platform_list

# The Competitors page's followers chart draws every account up to this many, else the ones with the most
# followers, and a picker for the others.
CHART_ACCOUNTS = 10


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
