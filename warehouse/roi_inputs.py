"""The ROI's inputs as stored: costs, value assumptions and logged time (docs/roi.md), their tables,
reads, writes and the sync from socialkpi.toml.  :mod:`warehouse.roi` computes the ROI from them.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import duckdb
import pandas as pd

from warehouse.access import DbPath, WarehouseMissing, open_warehouse
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

TOTAL = "all"  # the id of the ROI table's total row (warehouse.roi): never a platform id

_CONFIG_APPLIED = "config_applied"  # roi_settings key: the [costs]/[value] last applied from socialkpi.toml


def today(tz: tzinfo | None = None) -> date:
    """Today in ``tz`` (default: this machine's local time zone), the ``valid_from`` of a change made now."""
    now = datetime.now(UTC)
    return (now.astimezone(tz) if tz is not None else now.astimezone()).date()


# ---------------------------------------------------------------------------------------------
# Effective values: which stored value holds on which day
# ---------------------------------------------------------------------------------------------


def effective_sql(table: str) -> str:
    """Rows of ``table`` with the days they hold: ``[lo, hi]`` (the oldest row of an item reaches back)."""
    key = {"cost_values": "item, platform", "value_assumptions": "item"}[table]  # whitelisted identifiers
    return f"""
        SELECT {key}, value, valid_from,
               CASE WHEN row_number() OVER w = 1 THEN DATE '0001-01-01' ELSE valid_from END AS lo,
               coalesce(lead(valid_from) OVER w - 1, DATE '9999-12-31') AS hi
        FROM {table}
        WINDOW w AS (PARTITION BY {key} ORDER BY valid_from)
    """


def has_roi_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return check_readable(con) >= 2


def _cost_on(con: duckdb.DuckDBPyConnection, item: str, platform: str, day: date) -> float | None:
    row = con.execute(
        f"SELECT value FROM ({effective_sql('cost_values')}) "
        "WHERE item = $item AND platform = $platform AND $day BETWEEN lo AND hi",
        {"item": item, "platform": platform, "day": day},
    ).fetchone()
    return None if row is None else float(row[0])


def _assumption_on(con: duckdb.DuckDBPyConnection, item: str, day: date) -> float | None:
    row = con.execute(
        f"SELECT value FROM ({effective_sql('value_assumptions')}) WHERE item = $item AND $day BETWEEN lo AND hi",
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
            if not has_roi_tables(con):
                return Costs(day, DEFAULT_CURRENCY, 0.0, 0.0, {}, {})
            rows = con.execute(
                f"SELECT item, platform, value, valid_from FROM ({effective_sql('cost_values')}) "
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
            if has_roi_tables(con):
                rows = con.execute(
                    f"SELECT item, value, valid_from FROM ({effective_sql('value_assumptions')}) "
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
        if not has_roi_tables(con):
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
