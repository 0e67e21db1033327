"""What a user types, checked: the keys of socialkpi.toml, every number's bounds, days, addresses.

Everything a user can get wrong raises :class:`ConfigError` with the key at fault and the fix (a mistake
on the command line: :class:`UsageError`), which the command line prints as one line and exits 2 on.
The keys socialkpi.toml takes (:data:`KNOWN_KEYS`, :func:`check_keys`) and the range of every number a
user types (:data:`BOUNDS`, :func:`bounded`, the argparse types :func:`number_arg` and :func:`port_arg`)
are each written in one place; :mod:`socialkpi.settings` reads the file with them.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from collectors import EARLIEST_DAY, PLATFORMS

MAX_DEADLINE_MINUTES = 1440  # a day: the next daily run would be due


class ConfigError(Exception):
    """A user's configuration mistake: ``key`` names what is wrong, the message says the fix."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class UsageError(Exception):
    """A mistake in the command line or configuration: printed as one line, exit 2."""


# ---------------------------------------------------------------------------------------------
# Every key socialkpi.toml may hold, in one place
# ---------------------------------------------------------------------------------------------

PLATFORM_IDS = None  # a table whose keys are platform ids (collectors.PLATFORMS), e.g. [collect.lookback_days]

# Each table of socialkpi.toml (dotted path) and the plain keys it takes; its sub-tables are the entries
# below it, so a new table or key is one line here.  ``accounts`` is an array of tables ([[accounts]]):
# its keys are those of each entry.  Nothing else is accepted: a typo is exit 2 with the closest key.
KNOWN_KEYS: dict[str, frozenset[str] | None] = {
    "business": frozenset({"name", "timezone"}),
    "warehouse": frozenset({"path", "url", "data_path"}),
    "collect": frozenset({"history_days", "deadline_minutes"}),
    "collect.lookback_days": PLATFORM_IDS,
    "collect.concurrency": PLATFORM_IDS,
    "costs": frozenset({"currency", "hourly_rate", "tool_cost_per_month", "weekly_hours"}),
    "costs.hours_per_week": PLATFORM_IDS,
    "costs.ad_spend_per_month": PLATFORM_IDS,
    "value": frozenset({"per_social_visit", "per_new_follower", "per_1000_impressions"}),
    "accounts": frozenset({"platform", "id", "name", "competitor", "token_env"}),
    "mail": frozenset({"host", "port", "security", "user", "from"}),  # docs/delivery.md
    "alerts": frozenset({"mail_to", "urls", "failed_runs", "token_days"}),
}
ARRAYS_OF_TABLES = frozenset({"accounts"})


def _keys_of(table: str) -> frozenset[str] | None:
    """The keys ``table`` ("" = the top of the file) takes: its own and the names of its sub-tables."""
    own = KNOWN_KEYS[table] if table else frozenset()
    if own is PLATFORM_IDS:
        return None
    prefix = f"{table}." if table else ""
    subs = {path[len(prefix) :].split(".")[0] for path in KNOWN_KEYS if path.startswith(prefix) and path != table}
    return frozenset(own) | subs


def _shown(table: str, key: str) -> str:
    path = f"{table}.{key}" if table else key
    if path in ARRAYS_OF_TABLES:
        return f"[[{path}]]"
    return f"[{path}]" if path in KNOWN_KEYS else key


def _unknown(table: str, key: str, known: Collection[str]) -> str:
    """The fix for an unknown ``key`` of ``table``: the closest known key, or where the key belongs."""
    homes = [path for path, keys in KNOWN_KEYS.items() if keys and key in keys and path != table]
    if homes:
        return f"unknown key here: {key} belongs under {_shown('', homes[0])}"
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        return f"unknown key, did you mean {close[0]}?"
    where = f"each [[{table}]] entry" if table in ARRAYS_OF_TABLES else f"[{table}]" if table else "socialkpi.toml"
    return f"unknown key: {where} takes {', '.join(_shown(table, k) for k in sorted(known))}"


def check_keys(data: Mapping[str, object], table: str = "", where: str = "") -> None:
    """Raise :class:`ConfigError` on the first key of ``data`` (a table at ``table``) that socialkpi does not
    know, naming the closest known one.  Values of the wrong type are left to the checks that read them."""
    known = _keys_of(table)
    for key, value in data.items():
        here = f"{where}.{key}" if where else key
        if known is None:
            if key not in PLATFORMS:
                close = difflib.get_close_matches(key, sorted(PLATFORMS), n=1, cutoff=0.6)
                fix = f"did you mean {close[0]}?" if close else f"use one of {', '.join(sorted(PLATFORMS))}"
                raise ConfigError(here, f"unknown platform {key!r}: {fix}")
            continue
        if key not in known:
            raise ConfigError(here, _unknown(table, key, known))
        path = f"{table}.{key}" if table else key
        if path not in KNOWN_KEYS:
            continue
        if path in ARRAYS_OF_TABLES and isinstance(value, list):
            for index, entry in enumerate(value, start=1):
                if isinstance(entry, dict):
                    check_keys(entry, path, f"{here}[{index}]")
        elif isinstance(value, dict):
            check_keys(value, path, here)


# ---------------------------------------------------------------------------------------------
# Every number a user types, bounded in one place
# ---------------------------------------------------------------------------------------------

MAX_AMOUNT = 1_000_000_000  # money, in any currency


@dataclass(frozen=True)
class Bound:
    """The values a number may take: ``least`` to ``most`` (both included, ``above`` excludes ``least``)."""

    least: float
    most: float
    example: str
    why: str  # why the maximum, said when a value exceeds it
    whole: bool = False
    above: bool = False


_MONEY = "the most socialkpi takes for an amount of money, in any currency"
_WEEK = "the hours of a week"

BOUNDS: dict[str, Bound] = {
    # socialkpi.toml (a per-platform table's bound is its table's)
    "collect.history_days": Bound(1, 10_000, "90", "about 27 years: nothing socialkpi reads is older", whole=True),
    "collect.deadline_minutes": Bound(
        1, MAX_DEADLINE_MINUTES, "60", "a day: a daily collect must end before the next", whole=True
    ),
    "collect.lookback_days": Bound(0, 366, "7", "a year: platforms revise days for weeks, not longer", whole=True),
    "collect.concurrency": Bound(1, 32, "2", "more at once only meets the platform's rate limits", whole=True),
    "costs.hourly_rate": Bound(0, MAX_AMOUNT, "25", _MONEY),
    "costs.tool_cost_per_month": Bound(0, MAX_AMOUNT, "26", _MONEY),
    "costs.weekly_hours": Bound(0, 168, "6", _WEEK),
    "costs.hours_per_week": Bound(0, 168, "3", _WEEK),
    "costs.ad_spend_per_month": Bound(0, MAX_AMOUNT, "50", _MONEY),
    "value.per_social_visit": Bound(0, MAX_AMOUNT, "0.5", _MONEY),
    "value.per_new_follower": Bound(0, MAX_AMOUNT, "1", _MONEY),
    "value.per_1000_impressions": Bound(0, MAX_AMOUNT, "5", _MONEY),
    "mail.port": Bound(1, 65535, "587", "TCP ports end at 65535", whole=True),
    "alerts.failed_runs": Bound(1, 100, "2", "a hundred failed runs in a row is months of silence", whole=True),
    "alerts.token_days": Bound(1, 365, "14", "a year: no platform's token is announced longer ahead", whole=True),
    # the command line
    "--port": Bound(1, 65535, "8501", "TCP ports end at 65535", whole=True),
    "connect --timeout": Bound(0, 86_400, "300", "a day", above=True),
    "init --hours": Bound(0, 168, "6", _WEEK),
    "log-time HOURS": Bound(0, 24, "1.5", "one entry is at most a day", above=True),
}


def _num(x: float) -> str:
    """``1000000000`` -> ``1,000,000,000``; ``65535`` -> ``65535``; ``0.5`` -> ``0.5``; ``1e300`` -> ``1e+300``."""
    if abs(x) < 1e15 and x == int(x):
        return f"{int(x):,}" if abs(x) >= 1_000_000 else str(int(x))
    return f"{x:g}"


def _range_text(bound: Bound) -> str:
    low = f"above {_num(bound.least)}" if bound.above else f"from {_num(bound.least)}"
    return f"{low} to {_num(bound.most)}"


def bounded(value: object, key: str, bound: Bound) -> float:
    """``value`` checked against ``bound``: a TOML number (not a bool, not text), finite, in range; else a
    :class:`ConfigError` naming ``key`` with the range and why it ends there."""
    kind = "a whole number" if bound.whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float) or (bound.whole and isinstance(value, float)):
        raise ConfigError(key, f"{value!r} must be {kind} {_range_text(bound)}, without quotes, e.g. {bound.example}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            key, f"{value!r} is not a finite number: give {kind} {_range_text(bound)}, e.g. {bound.example}"
        )
    if value < bound.least or (bound.above and value == bound.least):
        least = f"above {_num(bound.least)}" if bound.above else f"of {_num(bound.least)} or more"
        raise ConfigError(
            key, f"{value!r} must be {kind} {least} (at most {_num(bound.most)}), e.g. {bound.example}"
        )
    if value > bound.most:
        raise ConfigError(key, f"{_num(value)} is more than {_num(bound.most)}, the most it can be ({bound.why})")
    return value


def number_arg(key: str) -> Callable[[str], float]:
    """An argparse ``type=`` for the command-line value ``key`` of :data:`BOUNDS` (one line, exit 2)."""
    bound = BOUNDS[key]

    def parse(text: str) -> float:
        try:
            value: float = int(text) if bound.whole else float(text)
        except ValueError:
            kind = "a whole number" if bound.whole else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}: give one {_range_text(bound)}") from None
        try:
            return bounded(value, key, bound)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{key}: ")) from None

    parse.__name__ = key  # argparse names the type in its own messages
    return parse


def port_arg(text: str) -> int:
    """``--port`` of dashboard, demo and connect: 1 to 65535."""
    return int(number_arg("--port")(text))


# ---------------------------------------------------------------------------------------------
# Days a user types: never before EARLIEST_DAY, never in the future
# ---------------------------------------------------------------------------------------------


def check_day(day: date, key: str, *, latest: date | None = None, latest_is: str = "today", zone: str = "") -> date:
    """``day`` if it is from :data:`EARLIEST_DAY` to ``latest`` (``latest_is`` says what that day is, in the
    time zone ``zone``); else a ConfigError naming ``key``."""
    if day < EARLIEST_DAY:
        raise ConfigError(
            key, f"{day} is before {EARLIEST_DAY}: no platform socialkpi reads has data that old (a typo?)"
        )
    if latest is not None and day > latest:
        where = f" in {zone}" if zone else ""
        raise ConfigError(key, f"{day} is after {latest_is} ({latest}{where}): that day has not happened yet")
    return day


@dataclass(frozen=True)
class CollectRange:
    since: date | None
    until: date | None
    note: str = ""  # said on standard error when --until was moved back to today


def collect_range(since: date | None, until: date | None, today: date, tz: ZoneInfo) -> CollectRange:
    """``collect --since/--until`` checked against the business's ``today`` (in ``tz``): a collect never
    fetches a day after today.  A ``--since`` before 2004 or after today is a ConfigError; an ``--until``
    after today is moved back to today, with a note."""
    if since is not None:
        check_day(since, "--since", latest=today, zone=tz.key)
    note = ""
    if until is not None:
        check_day(until, "--until")
        if until > today:
            note = f"--until {until} is after today ({today} in {tz.key}): collecting up to {today}"
            until = today
    if since is not None and until is None and since > today - timedelta(days=1):
        until = today  # --since today: today's numbers so far (the default end, yesterday, is before it)
    if since is not None and until is not None and since > until:
        raise ConfigError("--since", f"{since} is after --until {until}")
    return CollectRange(since, until, note)


def check_url(value: str, key: str) -> str:
    """An ``http(s)://host[:port][/path]`` address, else a ConfigError naming ``key`` (the variable)."""
    if not re.match(r"https?://", value, re.IGNORECASE):
        raise ConfigError(key, f"{value!r} must start with http:// or https://")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number from 0 to 65535
    except ValueError as exc:
        raise ConfigError(
            key, f"{value!r} is not a valid address ({exc}): write it as https://host[:port][/path]"
        ) from None
    if not parts.hostname:
        raise ConfigError(key, f"{value!r} has no host name: write it as https://host[:port][/path]")
    return value


def parse_date(value: str, key: str) -> date:
    """A ``YYYY-MM-DD`` date, or a ConfigError naming ``key``."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
        raise ConfigError(key, f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(key, f"{value!r} is not a real calendar date: write it as YYYY-MM-DD") from None


# One address (local@domain), nothing that could end a header or start another address.
_ADDRESS = re.compile(r"[^@\s,;<>\"()\[\]\\\x00-\x1f\x7f]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def check_address(value: object, key: str) -> str:
    """One e-mail address ``local@domain`` (no display name), else a ConfigError naming ``key``."""
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value.strip()):
        shown = value if isinstance(value, str) and len(value) < 200 else "this value"
        raise ConfigError(key, f"{shown!r} is not an e-mail address: write it as name@example.com")
    return value.strip()


def mail_addresses(text: str, key: str = "--mail-to") -> tuple[str, ...]:
    """``ADDR[,ADDR...]`` (the ``--mail-to`` of ``socialkpi report``): each checked, none twice."""
    found: list[str] = []
    for part in text.split(","):
        address = check_address(part, key)
        if address.lower() not in {a.lower() for a in found}:
            found.append(address)
    return tuple(found)
