"""Costs, time spent and estimated ROI per platform (docs/roi.md): every SQL statement of the ROI part.

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

Values that change over time live in ``cost_values`` and ``value_assumptions`` as rows
``(item, [platform,] valid_from, value)``: a value holds from its ``valid_from`` until the item's
next ``valid_from``; the **oldest** value of an item also covers the days before it (nothing better
is known about them).  So a past period keeps the costs it had, and changing a cost today only
changes today and later.

Reads use a short read-only connection (the dashboard never holds the write lock); every write
(:func:`set_costs`, :func:`set_assumptions`, :func:`log_time`, :func:`sync_config`) opens a
read-write connection for that one write only.  A warehouse still at schema version 1 reads as "no
costs stored yet" (the first write migrates it).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import duckdb
import pandas as pd

from warehouse.access import DbPath, WarehouseMissing, account_keys_sql, kpi_columns, open_warehouse
from warehouse.db import writing
from warehouse.load import naive_utc
from warehouse.schema import check_readable

BUSINESS_ITEMS = ("hourly_rate", "tool_cost_per_month")  # stored with platform ''
PLATFORM_ITEMS = ("hours_per_week", "ad_spend_per_month")  # stored per platform id
COST_ITEMS = BUSINESS_ITEMS + PLATFORM_ITEMS
DEFAULT_CURRENCY = "USD"

# Documented defaults (docs/roi.md, "Default values and where they come from"): assumptions, in the
# configured currency, meant to be replaced by the owner's own numbers.
ASSUMPTION_DEFAULTS: dict[str, float] = {
    "per_social_visit": 0.50,  # what a paid click from social costs (Meta traffic CPC, low end)
    "per_new_follower": 1.00,  # what a page like / follower costs in a follower ad campaign
    "per_1000_impressions": 5.00,  # earned-media CPM: the "$5 per thousand impressions" rule of thumb
}
ASSUMPTION_LABELS: dict[str, str] = {
    "per_social_visit": "Value of a visit from social",
    "per_new_follower": "Value of a new follower",
    "per_1000_impressions": "Value of 1,000 impressions (earned-media CPM)",
}

# Platforms that measure a website, not a social presence: no ROI row of their own unless costs
# or time were recorded for them.  Their visits_from_<network> rows feed the networks' rows.
NOT_SOCIAL = frozenset({"ga4", "plausible", "matomo", "umami", "wordpress", "manual"})

TOTAL = "all"
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

_CONFIG_APPLIED = "config_applied"  # roi_settings key: the [costs]/[value] last applied from socialkpi.toml


def today(tz: tzinfo | None = None) -> date:
    """Today in ``tz`` (default: this machine's local time zone), the ``valid_from`` of a change made now."""
    now = datetime.now(UTC)
    return (now.astimezone(tz) if tz is not None else now.astimezone()).date()


# ---------------------------------------------------------------------------------------------
# Effective values: which stored value holds on which day
# ---------------------------------------------------------------------------------------------


def _effective_sql(table: str) -> str:
    """Rows of ``table`` with the days they hold: ``[lo, hi]`` (the oldest row of an item reaches back)."""
    key = {"cost_values": "item, platform", "value_assumptions": "item"}[table]  # whitelisted identifiers
    return f"""
        SELECT {key}, value, valid_from,
               CASE WHEN row_number() OVER w = 1 THEN DATE '0001-01-01' ELSE valid_from END AS lo,
               coalesce(lead(valid_from) OVER w - 1, DATE '9999-12-31') AS hi
        FROM {table}
        WINDOW w AS (PARTITION BY {key} ORDER BY valid_from)
    """


def _has_roi_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return check_readable(con) >= 2


def _cost_on(con: duckdb.DuckDBPyConnection, item: str, platform: str, day: date) -> float | None:
    row = con.execute(
        f"SELECT value FROM ({_effective_sql('cost_values')}) "
        "WHERE item = $item AND platform = $platform AND $day BETWEEN lo AND hi",
        {"item": item, "platform": platform, "day": day},
    ).fetchone()
    return None if row is None else float(row[0])


def _assumption_on(con: duckdb.DuckDBPyConnection, item: str, day: date) -> float | None:
    row = con.execute(
        f"SELECT value FROM ({_effective_sql('value_assumptions')}) WHERE item = $item AND $day BETWEEN lo AND hi",
        {"item": item, "day": day},
    ).fetchone()
    return None if row is None else float(row[0])


def _setting(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM roi_settings WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


# ---------------------------------------------------------------------------------------------
# Current costs and assumptions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Costs:
    """The costs in effect on ``on``.  Never-set items are 0 (``valid_from`` has no entry for them).

    ``valid_from`` keys: ``hourly_rate``, ``tool_cost_per_month``, ``hours_per_week.<platform>``,
    ``ad_spend_per_month.<platform>``: since when the value holds.
    """

    on: date
    currency: str
    hourly_rate: float
    tool_cost_per_month: float
    hours_per_week: dict[str, float]
    ad_spend_per_month: dict[str, float]
    valid_from: dict[str, date] = field(default_factory=dict)
    defaults: dict[str, float | str] = field(
        default_factory=lambda: {"currency": DEFAULT_CURRENCY, **dict.fromkeys(COST_ITEMS, 0.0)}
    )


@dataclass(frozen=True)
class Assumptions:
    """The value assumptions in effect on ``on``: ``values`` (stored, else the default) and ``defaults``.

    ``valid_from[item]`` is ``None`` for an item never set: its default applies.
    """

    on: date
    currency: str
    values: dict[str, float]
    defaults: dict[str, float]
    valid_from: dict[str, date | None]

    def is_default(self, item: str) -> bool:
        return self.valid_from.get(item) is None


def current_costs(db_path: DbPath, on: date | None = None) -> Costs:
    """The costs in effect on ``on`` (default today); all zero, currency USD, without a warehouse."""
    day = on or today()
    try:
        with open_warehouse(db_path) as (con, _):
            if not _has_roi_tables(con):
                return Costs(day, DEFAULT_CURRENCY, 0.0, 0.0, {}, {})
            rows = con.execute(
                f"SELECT item, platform, value, valid_from FROM ({_effective_sql('cost_values')}) "
                "WHERE $day BETWEEN lo AND hi ORDER BY item, platform",
                {"day": day},
            ).fetchall()
            currency = _setting(con, "currency") or DEFAULT_CURRENCY
    except WarehouseMissing:
        return Costs(day, DEFAULT_CURRENCY, 0.0, 0.0, {}, {})
    business: dict[str, float] = {}
    per_platform: dict[str, dict[str, float]] = {item: {} for item in PLATFORM_ITEMS}
    since: dict[str, date] = {}
    for item, platform, value, valid_from in rows:
        if item in BUSINESS_ITEMS:
            business[item] = float(value)
            since[item] = valid_from
        elif item in PLATFORM_ITEMS:
            per_platform[item][platform] = float(value)
            since[f"{item}.{platform}"] = valid_from
    return Costs(
        on=day,
        currency=currency,
        hourly_rate=business.get("hourly_rate", 0.0),
        tool_cost_per_month=business.get("tool_cost_per_month", 0.0),
        hours_per_week=per_platform["hours_per_week"],
        ad_spend_per_month=per_platform["ad_spend_per_month"],
        valid_from=since,
    )


def current_assumptions(db_path: DbPath, on: date | None = None) -> Assumptions:
    """The value assumptions in effect on ``on`` (default today), with the documented defaults."""
    day = on or today()
    stored: dict[str, tuple[float, date]] = {}
    currency = DEFAULT_CURRENCY
    try:
        with open_warehouse(db_path) as (con, _):
            if _has_roi_tables(con):
                rows = con.execute(
                    f"SELECT item, value, valid_from FROM ({_effective_sql('value_assumptions')}) "
                    "WHERE $day BETWEEN lo AND hi",
                    {"day": day},
                ).fetchall()
                stored = {item: (float(value), since) for item, value, since in rows}
                currency = _setting(con, "currency") or DEFAULT_CURRENCY
    except WarehouseMissing:
        pass
    return Assumptions(
        on=day,
        currency=currency,
        values={k: stored[k][0] if k in stored else d for k, d in ASSUMPTION_DEFAULTS.items()},
        defaults=dict(ASSUMPTION_DEFAULTS),
        valid_from={k: stored[k][1] if k in stored else None for k in ASSUMPTION_DEFAULTS},
    )


# ---------------------------------------------------------------------------------------------
# Writes (each opens the warehouse read-write for that write only)
# ---------------------------------------------------------------------------------------------


def _amount(value: float, what: str) -> float:
    number = float(value)
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise ValueError(f"{what}: {value!r} must be a number of 0 or more")
    return number


def _put_cost(
    con: duckdb.DuckDBPyConnection, item: str, platform: str, value: float, valid_from: date, source: str
) -> bool:
    """Store ``value`` from ``valid_from`` unless it is already the value in effect that day (never
    set counts as 0)."""
    if (_cost_on(con, item, platform, valid_from) or 0.0) == value:
        return False
    con.execute(
        """
        INSERT INTO cost_values (item, platform, valid_from, value, source, set_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (item, platform, valid_from) DO UPDATE SET
            value = excluded.value, source = excluded.source, set_at = excluded.set_at
        """,
        [item, platform, valid_from, value, source, naive_utc(datetime.now(UTC))],
    )
    return True


def _put_assumption(con: duckdb.DuckDBPyConnection, item: str, value: float, valid_from: date, source: str) -> bool:
    if _assumption_on(con, item, valid_from) == value:
        return False
    con.execute(
        """
        INSERT INTO value_assumptions (item, valid_from, value, source, set_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (item, valid_from) DO UPDATE SET
            value = excluded.value, source = excluded.source, set_at = excluded.set_at
        """,
        [item, valid_from, value, source, naive_utc(datetime.now(UTC))],
    )
    return True


def _put_setting(con: duckdb.DuckDBPyConnection, key: str, value: str) -> bool:
    if _setting(con, key) == value:
        return False
    con.execute(
        "INSERT INTO roi_settings (key, value, set_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, set_at = excluded.set_at",
        [key, value, naive_utc(datetime.now(UTC))],
    )
    return True


def _cost_changes(
    *,
    hourly_rate: float | None,
    tool_cost_per_month: float | None,
    hours_per_week: Mapping[str, float] | None,
    ad_spend_per_month: Mapping[str, float] | None,
) -> list[tuple[str, str, float]]:
    """(item, platform, value) to store, validated."""
    changes = []
    for item, business_value in (("hourly_rate", hourly_rate), ("tool_cost_per_month", tool_cost_per_month)):
        if business_value is not None:
            changes.append((item, "", _amount(business_value, item)))
    for item, per_platform in (("hours_per_week", hours_per_week), ("ad_spend_per_month", ad_spend_per_month)):
        for platform, platform_value in (per_platform or {}).items():
            if not platform or platform == TOTAL:
                raise ValueError(f"{item}: {platform!r} is not a platform id")
            amount = _amount(platform_value, f"{item}.{platform}")
            if item == "hours_per_week" and amount > 168:
                raise ValueError(f"{item}.{platform}: {amount:g} is more than the 168 hours of a week")
            changes.append((item, platform, amount))
    return changes


def _in_transaction(con: duckdb.DuckDBPyConnection, work: Any) -> int:
    con.execute("BEGIN TRANSACTION")
    try:
        written = int(work())
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return written


def set_costs(
    db_path: DbPath,
    *,
    valid_from: date,
    currency: str | None = None,
    hourly_rate: float | None = None,
    tool_cost_per_month: float | None = None,
    hours_per_week: Mapping[str, float] | None = None,
    ad_spend_per_month: Mapping[str, float] | None = None,
    source: str = "dashboard",
) -> int:
    """Store the given costs as holding from ``valid_from``; returns how many values changed.

    Only the arguments given are touched; a value equal to the one already in effect on
    ``valid_from`` is not stored again.  ``hours_per_week`` and ``ad_spend_per_month`` map platform
    ids to amounts (0 stops counting a platform).  ``currency`` has no history: it is a label.
    """
    changes = _cost_changes(
        hourly_rate=hourly_rate,
        tool_cost_per_month=tool_cost_per_month,
        hours_per_week=hours_per_week,
        ad_spend_per_month=ad_spend_per_month,
    )
    label = _currency(currency)

    with writing(db_path) as con:

        def work() -> int:
            written = sum(_put_cost(con, item, p, v, valid_from, source) for item, p, v in changes)
            if label is None or label == (_setting(con, "currency") or DEFAULT_CURRENCY):
                return written
            return written + _put_setting(con, "currency", label)

        return _in_transaction(con, work)


def _currency(currency: str | None) -> str | None:
    if currency is None:
        return None
    label = currency.strip()
    if not label or len(label) > 10:
        raise ValueError(f"currency: {currency!r} must be short text such as EUR")
    return label


def set_assumptions(
    db_path: DbPath,
    *,
    valid_from: date,
    per_social_visit: float | None = None,
    per_new_follower: float | None = None,
    per_1000_impressions: float | None = None,
    source: str = "dashboard",
) -> int:
    """Store the given value assumptions as holding from ``valid_from``; returns how many changed."""
    given = {
        "per_social_visit": per_social_visit,
        "per_new_follower": per_new_follower,
        "per_1000_impressions": per_1000_impressions,
    }
    values = {k: _amount(v, k) for k, v in given.items() if v is not None}
    with writing(db_path) as con:
        return _in_transaction(
            con, lambda: sum(_put_assumption(con, k, v, valid_from, source) for k, v in values.items())
        )


def log_time(db_path: DbPath, platform: str, hours: float, day: date, note: str = "") -> str:
    """Record ``hours`` actually spent on ``platform`` on ``day``; returns the entry id.

    Several entries on one day add up.  Any entry in an ISO week (Monday..Sunday) makes that week's
    hours for the platform the logged ones: the weekly estimate no longer applies to it.
    """
    if not platform or platform == TOTAL:
        raise ValueError(f"{platform!r} is not a platform id")
    amount = float(hours)
    if math.isnan(amount) or not 0 < amount <= 24:
        raise ValueError(f"hours: {hours!r} must be more than 0 and at most 24 (one day's entry)")
    entry_id = uuid.uuid4().hex
    with writing(db_path) as con:
        con.execute(
            "INSERT INTO time_log (entry_id, platform, spent_on, hours, note, logged_at) VALUES (?, ?, ?, ?, ?, ?)",
            [entry_id, platform, day, amount, note or "", naive_utc(datetime.now(UTC))],
        )
    return entry_id


def time_entries(db_path: DbPath, start: date, end: date, platforms: Sequence[str] | None = None) -> pd.DataFrame:
    """Logged time in ``[start, end]``: columns day, platform, hours, note, newest first."""
    columns = ["day", "platform", "hours", "note"]
    with open_warehouse(db_path) as (con, _):
        if not _has_roi_tables(con):
            return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        return con.execute(
            """
            SELECT spent_on AS day, platform, hours, note FROM time_log
            WHERE spent_on BETWEEN $start AND $end
              AND ($plats::VARCHAR[] IS NULL OR list_contains($plats::VARCHAR[], platform))
            ORDER BY spent_on DESC, logged_at DESC
            """,
            {"start": start, "end": end, "plats": None if platforms is None else list(platforms)},
        ).df()


def sync_config(
    db_path: DbPath, config: Mapping[str, float | str], tz: tzinfo | None = None, on: date | None = None
) -> int:
    """Apply the [costs] and [value] of socialkpi.toml, flattened (``currency``, ``hourly_rate``,
    ``hours_per_week.<platform>``, ``value.per_social_visit``: :func:`socialkpi.settings.roi_config`), to
    the warehouse as of ``on`` (default today in ``tz``, the business time zone); returns how many
    values were stored.

    A key is stored when the file's value differs from the one in effect **and** from the value
    this function applied last time for that key.  So editing socialkpi.toml takes effect from the
    next ``collect``/``dashboard`` on, while a cost changed later in the dashboard is not put back
    by an unchanged file.  Keys absent from the file are left alone (write 0 to stop a cost).
    Without a [costs] or [value] table nothing is opened or written.
    """
    snapshot = dict(config)
    if not snapshot:
        return 0
    day = on or today(tz)
    with writing(db_path) as con:

        def work() -> int:
            applied = json.loads(_setting(con, _CONFIG_APPLIED) or "{}")
            written = 0
            for key, new in snapshot.items():
                if applied.get(key) == new:
                    continue
                if key == "currency":
                    written += _put_setting(con, "currency", str(new))
                elif key.startswith("value."):
                    written += _put_assumption(con, key.removeprefix("value."), float(new), day, "config")
                else:
                    item, _, platform = key.partition(".")
                    written += _put_cost(con, item, platform, float(new), day, "config")
            _put_setting(con, _CONFIG_APPLIED, json.dumps({**applied, **snapshot}, sort_keys=True))
            return written

        return _in_transaction(con, work)


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
eff AS ({_effective_sql("cost_values")}),
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
eff AS ({_effective_sql("cost_values")})
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
    source = _effective_sql("value_assumptions") if has_tables else _NO_ASSUMPTIONS
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
        has_costs = _has_roi_tables(con)
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
