"""Settings: socialkpi.toml + ``.env`` + the environment, read once at the entry point.

Everything a user can get wrong raises :class:`ConfigError` with the key at fault and the fix,
which the command line prints as one line and exits 2 on.  Nothing below the command line reads
``os.environ``: :class:`Settings` and the per-account :class:`~collectors.observation.Credentials`
are passed down.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectors import PLATFORMS
from collectors.observation import Account, Credentials

if TYPE_CHECKING:
    from collectors.tokens import TokenStore

DEFAULT_CONFIG = "socialkpi.toml"
DEFAULT_DB = "data/socialkpi.duckdb"
DEFAULT_HISTORY_DAYS = 90
DEFAULT_DEADLINE_MINUTES = 60  # a daily run takes minutes; an hour means something hangs
MAX_DEADLINE_MINUTES = 1440  # a day: the next daily run would be due


class ConfigError(Exception):
    """A user's configuration mistake: ``key`` names what is wrong, the message says the fix."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class CostSettings:
    """``[costs]`` of socialkpi.toml: only the keys written there (``None``/absent = not configured).

    Money is in ``currency`` units; ``hours_per_week`` and ``ad_spend_per_month`` are per platform
    id.  Applied to the warehouse by :func:`warehouse.roi.sync_from_settings` (docs/roi.md).
    """

    currency: str | None = None
    hourly_rate: float | None = None
    tool_cost_per_month: float | None = None
    hours_per_week: Mapping[str, float] = field(default_factory=dict)
    ad_spend_per_month: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ValueSettings:
    """``[value]`` of socialkpi.toml: what a visit, a follower, 1,000 impressions are worth to you."""

    per_social_visit: float | None = None
    per_new_follower: float | None = None
    per_1000_impressions: float | None = None


@dataclass(frozen=True)
class Settings:
    business_name: str
    timezone: ZoneInfo
    db_path: Path
    accounts: tuple[Account, ...]
    env: Mapping[str, str] = field(repr=False, default_factory=dict)
    config_path: Path | None = None
    history_days: int = DEFAULT_HISTORY_DAYS
    lookback_days: Mapping[str, int] = field(default_factory=dict)
    concurrency: Mapping[str, int] = field(default_factory=dict)
    deadline_minutes: int = DEFAULT_DEADLINE_MINUTES  # [collect] deadline_minutes: a whole collect ends by then
    costs: CostSettings | None = None  # None: no [costs] table in socialkpi.toml
    value: ValueSettings | None = None  # None: no [value] table

    def lookback_for(self, platform: str) -> int:
        return int(self.lookback_days.get(platform, PLATFORMS[platform].lookback_days))

    def concurrency_for(self, platform: str) -> int:
        return int(self.concurrency.get(platform, PLATFORMS[platform].concurrency))


def read_environment(cwd: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``.env`` in ``cwd`` (if any) overlaid by the real environment, which wins."""
    from dotenv import dotenv_values

    merged: dict[str, str] = {}
    env_file = cwd / ".env"
    if env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def parse_date(value: str, key: str) -> date:
    """A ``YYYY-MM-DD`` date, or a ConfigError naming ``key``."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
        raise ConfigError(key, f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(key, f"{value!r} is not a real calendar date: write it as YYYY-MM-DD") from None


def resolve_db_path(env: Mapping[str, str], configured: str | None, base: Path) -> Path:
    raw = env.get("SOCIALKPI_DB") or configured or DEFAULT_DB
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path


def load_settings(
    config: str | None = None,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    require_config: bool = True,
) -> Settings:
    """Read and validate everything; raise :class:`ConfigError` on the first mistake."""
    cwd = cwd or Path.cwd()
    env = read_environment(cwd, environ)
    raw_path = config or env.get("SOCIALKPI_CONFIG") or DEFAULT_CONFIG
    path = Path(raw_path).expanduser()
    if not path.is_absolute():
        path = cwd / path
    if not path.is_file():
        if require_config or config or env.get("SOCIALKPI_CONFIG"):
            raise ConfigError(
                "socialkpi.toml",
                f"no configuration at {path}: copy examples/socialkpi.toml there and list your accounts "
                "(or pass --config / set SOCIALKPI_CONFIG)",
            )
        return Settings(
            business_name="",
            timezone=ZoneInfo("UTC"),
            db_path=resolve_db_path(env, None, cwd),
            accounts=(),
            env=env,
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path.name, f"not valid TOML ({exc}): fix the syntax at that line") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path.name, f"cannot be read ({exc})") from None
    return settings_from_dict(data, env=env, base=path.parent, config_path=path)


def _table(data: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}]", "must be a table, e.g. [business] on a line of its own")
    return value


def _positive_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(key, f"{value!r} must be a whole number of 1 or more")
    return value


def _amount(value: object, key: str, *, most: float | None = None, example: str = "12.5") -> float:
    """A number of 0 or more (and at most ``most``), or a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise ConfigError(key, f"{value!r} must be a number of 0 or more, without quotes, e.g. {example}")
    if most is not None and value > most:
        raise ConfigError(key, f"{value!r} is more than {most:g}")
    return float(value)


def _only(table: Mapping[str, object], where: str, known: set[str]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{where}.{key}", f"unknown key: use only {', '.join(sorted(known))}")


def _per_platform(table: Mapping[str, object], where: str, *, most: float | None, example: str) -> dict[str, float]:
    out = {}
    for pid, amount in table.items():
        if pid not in PLATFORMS:
            raise ConfigError(f"{where}.{pid}", f"unknown platform {pid!r}: use one of {', '.join(sorted(PLATFORMS))}")
        out[pid] = _amount(amount, f"{where}.{pid}", most=most, example=example)
    return out


# Website analytics: time spent on them is not time on social media (``[costs] weekly_hours`` is not spread there).
ANALYTICS_PLATFORMS = frozenset({"ga4", "plausible", "matomo", "umami"})


def _spread_hours(total: float, explicit: Mapping[str, float], accounts: Sequence[Account]) -> dict[str, float]:
    """``[costs] weekly_hours`` (all platforms together, as ``socialkpi init`` asks it) spread evenly over the
    platforms with an own account that ``[costs.hours_per_week]`` does not give a share of its own."""
    rest = sorted(
        {a.platform for a in accounts if not a.competitor and a.platform not in ANALYTICS_PLATFORMS} - set(explicit)
    )
    left = total - sum(explicit.values())
    if not rest or left <= 0:
        return dict(explicit)
    return {**explicit, **{pid: round(left / len(rest), 4) for pid in rest}}


def _costs(data: Mapping[str, object], accounts: Sequence[Account] = ()) -> CostSettings | None:
    if "costs" not in data:
        return None
    costs = _table(data, "costs")
    _only(
        costs,
        "costs",
        {"currency", "hourly_rate", "tool_cost_per_month", "weekly_hours", "hours_per_week", "ad_spend_per_month"},
    )
    currency = costs.get("currency")
    if currency is not None and (
        not isinstance(currency, str) or not currency.strip() or len(currency.strip()) > 10
    ):
        raise ConfigError("costs.currency", 'must be short text in quotes, e.g. currency = "EUR"')
    rate = costs.get("hourly_rate")
    tool = costs.get("tool_cost_per_month")
    for sub in ("hours_per_week", "ad_spend_per_month"):
        if not isinstance(costs.get(sub, {}), dict):
            raise ConfigError(f"costs.{sub}", f"must be a table: [costs.{sub}] then one line per platform")
    hours = _per_platform(_table(costs, "hours_per_week"), "costs.hours_per_week", most=168, example="3")
    if "weekly_hours" in costs:
        total = _amount(costs["weekly_hours"], "costs.weekly_hours", most=168, example="6")
        hours = _spread_hours(total, hours, accounts)
    return CostSettings(
        currency=currency.strip() if isinstance(currency, str) else None,
        hourly_rate=None if rate is None else _amount(rate, "costs.hourly_rate", example="25"),
        tool_cost_per_month=None if tool is None else _amount(tool, "costs.tool_cost_per_month", example="26"),
        hours_per_week=hours,
        ad_spend_per_month=_per_platform(
            _table(costs, "ad_spend_per_month"), "costs.ad_spend_per_month", most=None, example="50"
        ),
    )


def _value(data: Mapping[str, object]) -> ValueSettings | None:
    if "value" not in data:
        return None
    value = _table(data, "value")
    known = {"per_social_visit", "per_new_follower", "per_1000_impressions"}
    _only(value, "value", known)
    found = {k: _amount(v, f"value.{k}", example="0.5") for k, v in value.items()}
    return ValueSettings(**found)


def settings_from_dict(
    data: Mapping[str, object],
    *,
    env: Mapping[str, str],
    base: Path,
    config_path: Path | None = None,
) -> Settings:
    business = _table(data, "business")
    name = business.get("name", "")
    if not isinstance(name, str):
        raise ConfigError("business.name", 'must be text, e.g. name = "Corner Bakery"')
    tz_name = business.get("timezone", "UTC")
    try:
        if not isinstance(tz_name, str):
            raise ZoneInfoNotFoundError(str(tz_name))
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "business.timezone", f'{tz_name!r} is not a time zone: use an IANA name such as "Europe/Paris"'
        ) from None
    warehouse = _table(data, "warehouse")
    configured_db = warehouse.get("path")
    if configured_db is not None and not isinstance(configured_db, str):
        raise ConfigError("warehouse.path", 'must be a path in quotes, e.g. "data/socialkpi.duckdb"')
    collect = _table(data, "collect")
    history = _positive_int(collect.get("history_days", DEFAULT_HISTORY_DAYS), "collect.history_days")
    deadline = _positive_int(collect.get("deadline_minutes", DEFAULT_DEADLINE_MINUTES), "collect.deadline_minutes")
    if deadline > MAX_DEADLINE_MINUTES:
        raise ConfigError(
            "collect.deadline_minutes",
            f"{deadline} is more than {MAX_DEADLINE_MINUTES} (a day): give minutes from 1 to {MAX_DEADLINE_MINUTES}",
        )
    lookback = {}
    for pid, days in dict(_table(collect, "lookback_days")).items():
        if pid not in PLATFORMS:
            raise ConfigError(f"collect.lookback_days.{pid}", f"unknown platform {pid!r}")
        lookback[pid] = _positive_int(days, f"collect.lookback_days.{pid}")
    concurrency = {}
    for pid, n in dict(_table(collect, "concurrency")).items():
        if pid not in PLATFORMS:
            raise ConfigError(f"collect.concurrency.{pid}", f"unknown platform {pid!r}")
        concurrency[pid] = _positive_int(n, f"collect.concurrency.{pid}")

    raw_accounts = data.get("accounts", [])
    if not isinstance(raw_accounts, list):
        raise ConfigError("accounts", "write each account as an [[accounts]] table")
    accounts: list[Account] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(raw_accounts, start=1):
        accounts.append(_account(entry, index, seen))
    return Settings(
        business_name=name,
        timezone=tz,
        db_path=resolve_db_path(env, configured_db, base),
        accounts=tuple(accounts),
        env=env,
        config_path=config_path,
        history_days=history,
        lookback_days=lookback,
        concurrency=concurrency,
        deadline_minutes=deadline,
        costs=_costs(data, accounts),
        value=_value(data),
    )


def _account(entry: object, index: int, seen: set[tuple[str, str]]) -> Account:
    where = f"accounts[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(where, "write each account as an [[accounts]] table")
    known = {"platform", "id", "name", "competitor", "token_env"}
    for key in entry:
        if key not in known:
            raise ConfigError(f"{where}.{key}", f"unknown key: use only {', '.join(sorted(known))}")
    platform = entry.get("platform")
    if not isinstance(platform, str) or platform not in PLATFORMS:
        raise ConfigError(
            f"{where}.platform",
            f"unknown platform {platform!r}: use one of {', '.join(sorted(PLATFORMS))}",
        )
    spec = PLATFORMS[platform]
    account_id = entry.get("id")
    if isinstance(account_id, int) and not isinstance(account_id, bool):
        account_id = str(account_id)
    if not isinstance(account_id, str) or not account_id.strip():
        raise ConfigError(
            f"{where}.id", f"missing: give {spec.id_hint or 'the platform account id'} in quotes"
        )
    account_id = account_id.strip()
    if not re.fullmatch(spec.id_pattern, account_id):
        raise ConfigError(f"{where}.id", f"{account_id!r} is not a {spec.label} id: give {spec.id_hint}")
    name = entry.get("name", account_id)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name", "must be non-empty text")
    competitor = entry.get("competitor", False)
    if not isinstance(competitor, bool):
        raise ConfigError(f"{where}.competitor", "must be true or false (no quotes)")
    if competitor and spec.competitor_support:
        raise ConfigError(
            f"{where}.competitor", f"{spec.label} cannot collect competitors: {spec.competitor_support}"
        )
    token_env = entry.get("token_env")
    if token_env is not None and (
        not isinstance(token_env, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env)
    ):
        raise ConfigError(
            f"{where}.token_env", 'must be the name of an environment variable, e.g. "FB_TOKEN_SHOP2"'
        )
    key = (platform, account_id)
    if key in seen:
        raise ConfigError(f"{where}.id", f"{platform} account {account_id!r} is listed twice: remove one")
    seen.add(key)
    return Account(
        platform=platform, id=account_id, name=name.strip(), competitor=competitor, token_env=token_env
    )


def credentials_for(account: Account, env: Mapping[str, str], store: TokenStore | None = None) -> Credentials:
    """The account's credentials: the environment (and ``.env``) first, else the connection that
    ``socialkpi connect`` left in the token store ``store``; ConfigError when a required one is missing.

    Precedence (README, "Connecting accounts"): a token or refresh token set in the environment wins over
    the token store for that account; the OAuth client, the server URL and the token endpoint likewise
    come from the environment when set there, else from the connection.
    """
    prefix = f"SOCIALKPI_{account.platform.upper()}_"
    spec = PLATFORMS[account.platform]
    token_env = account.token_env or f"{prefix}TOKEN"
    token = env.get(token_env) or None
    google = env.get("SOCIALKPI_GOOGLE_CREDENTIALS") or None if spec.google else None
    if google and not Path(google).expanduser().is_file():
        raise ConfigError(
            "SOCIALKPI_GOOGLE_CREDENTIALS",
            f"no file at {google}: give the path of the service-account or authorized-user JSON Google issued",
        )
    refresh = env.get(f"{prefix}REFRESH_TOKEN") or None
    connection = None
    if not token and not refresh and not google and store is not None:
        connection = store.connection(account.platform, account.id, fallback=account.competitor)
    if spec.needs_token and not token and not google and not refresh and connection is None:
        fix = f"run `socialkpi connect {account.platform}`, or set {token_env} in .env (see .env.example)"
        if spec.google:
            fix += " or SOCIALKPI_GOOGLE_CREDENTIALS to a credentials JSON file"
        raise ConfigError(token_env, f"missing for {account.platform} account {account.id!r}: {fix}")
    base_url = env.get(f"{prefix}BASE_URL") or (connection.base_url if connection else None) or None
    if base_url and not re.match(r"https?://", base_url):
        raise ConfigError(f"{prefix}BASE_URL", f"{base_url!r} must start with http:// or https://")
    client_id = env.get(f"{prefix}CLIENT_ID") or None
    client_secret = env.get(f"{prefix}CLIENT_SECRET") or None
    token_url = env.get(f"{prefix}TOKEN_URL") or None
    if connection is not None:
        return Credentials(
            token=connection.token.access_token,
            base_url=base_url.rstrip("/") if base_url else None,
            token_url=token_url or connection.token_url,
            refresh_token=connection.token.refresh_token,
            client_id=client_id or connection.client_id,
            client_secret=client_secret or connection.client_secret,
            token_env=token_env,
            source="store",
            store_key=connection.key,
            extra=dict(connection.extra),
        )
    return Credentials(
        token=token,
        base_url=base_url.rstrip("/") if base_url else None,
        token_url=token_url,
        refresh_token=refresh,
        client_id=client_id,
        client_secret=client_secret,
        google_credentials=str(Path(google).expanduser()) if google else None,
        token_env=token_env,
    )
