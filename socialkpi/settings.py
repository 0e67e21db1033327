"""Settings: socialkpi.toml + ``.env`` + the environment, read once at the entry point.

Everything a user can get wrong raises :class:`~socialkpi.validation.ConfigError` with the key at fault
and the fix, which the command line prints as one line and exits 2 on (the keys the file takes and the
bounds of every number: :mod:`socialkpi.validation`).  Nothing below the command line reads
``os.environ``: :class:`Settings` and the per-account :class:`~collectors.context.Credentials`
are passed down.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectors import PLATFORMS
from collectors.observation import Account
from socialkpi.validation import BOUNDS, ConfigError, bounded, check_address, check_keys
from warehouse.lake_config import SCHEME, Lake

DEFAULT_CONFIG = "socialkpi.toml"
DEFAULT_DB = "data/socialkpi.duckdb"
DEFAULT_HISTORY_DAYS = 90
DEFAULT_DEADLINE_MINUTES = 60  # a daily run takes minutes; an hour means something hangs


@dataclass(frozen=True)
class CostSettings:
    """``[costs]`` of socialkpi.toml: only the keys written there (``None``/absent = not configured).

    Money is in ``currency`` units; ``hours_per_week`` and ``ad_spend_per_month`` are per platform
    id.  Applied to the warehouse by :func:`warehouse.roi_inputs.sync_config` (docs/roi.md).
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


SECURITIES = ("starttls", "ssl", "none")
DEFAULT_MAIL_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_FAILED_RUNS = 2
DEFAULT_TOKEN_DAYS = 14
SMTP_PASSWORD_ENV = "SOCIALKPI_SMTP_PASSWORD"  # noqa: S105 (a variable's name) - the [mail] user's password: .env only, never socialkpi.toml


@dataclass(frozen=True)
class MailSettings:
    """``[mail]`` of socialkpi.toml: how to reach the SMTP server (docs/delivery.md).

    ``security``: ``starttls`` (upgrade a plain connection, port 587), ``ssl`` (TLS from the first byte,
    port 465) or ``none`` (a relay on this machine or the local network only).  The password of ``user``
    is the environment's (or ``.env``'s) ``SOCIALKPI_SMTP_PASSWORD``: never in this object, never shown.
    """

    host: str
    port: int
    security: str = "starttls"
    user: str | None = None
    sender: str = ""  # the From header: "Corner Bakery <owner@example.com>"


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]`` of socialkpi.toml: where the alerts after a collect go and when they are due.

    ``urls`` are notification URLs in apprise's syntax (Slack, Discord, ntfy, Telegram, Matrix ...);
    they hold the services' tokens, so they are never shown, logged or stored (``repr`` hides them).
    """

    mail_to: tuple[str, ...] = ()
    urls: tuple[str, ...] = field(default=(), repr=False)
    failed_runs: int = DEFAULT_FAILED_RUNS
    token_days: int = DEFAULT_TOKEN_DAYS

    @property
    def destinations(self) -> int:
        return len(self.mail_to) + len(self.urls)


def _mail(data: Mapping[str, object]) -> MailSettings | None:
    if "mail" not in data:
        return None
    mail = _table(data, "mail")
    host = mail.get("host")
    if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.:-]*[A-Za-z0-9])?", host.strip()):
        raise ConfigError("mail.host", 'must be the SMTP server\'s name in quotes, e.g. host = "smtp.example.com"')
    security = mail.get("security", "starttls")
    if security not in SECURITIES:
        raise ConfigError(
            "mail.security", f"{security!r} is not one of {', '.join(SECURITIES)}: e.g. security = \"starttls\""
        )
    assert isinstance(security, str)
    port = _whole(mail["port"], "mail.port") if "port" in mail else DEFAULT_MAIL_PORTS[security]
    user = mail.get("user")
    if user is not None and (not isinstance(user, str) or not user.strip() or re.search(r"[\x00-\x1f\x7f]", user)):
        raise ConfigError("mail.user", 'must be the SMTP login in quotes, e.g. user = "owner@example.com"')
    sender = mail.get("from")
    if sender is None:
        if not isinstance(user, str) or "@" not in user:
            raise ConfigError("mail.from", 'missing: the sender, e.g. from = "Corner Bakery <owner@example.com>"')
        sender = user.strip()
    if not isinstance(sender, str) or re.search(r"[\x00-\x1f\x7f]", sender):
        raise ConfigError("mail.from", 'must be one line in quotes, e.g. from = "Corner Bakery <owner@example.com>"')
    from email.utils import parseaddr

    _, address = parseaddr(sender)
    check_address(address, "mail.from")
    if user and security == "none" and host.strip().lower() not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError(
            "mail.security", '"none" would send the password of mail.user in clear: use "starttls" or "ssl"'
        )
    return MailSettings(host=host.strip(), port=port, security=security, user=user.strip() if user else None,
                        sender=sender.strip())


def smtp_password(settings: Settings) -> str | None:
    """The ``[mail] user``'s password (``SOCIALKPI_SMTP_PASSWORD``, environment or ``.env``), None without a
    user; a ConfigError when a user is set and the password is not."""
    if settings.mail is None or not settings.mail.user:
        return None
    password = settings.env.get(SMTP_PASSWORD_ENV)
    if not password:
        raise ConfigError(
            SMTP_PASSWORD_ENV, f"missing: [mail] user = {settings.mail.user!r} logs in with it: put it in .env"
        )
    return password


def _alerts(data: Mapping[str, object], mail: MailSettings | None) -> AlertSettings | None:
    if "alerts" not in data:
        return None
    alerts = _table(data, "alerts")
    raw_to = alerts.get("mail_to", [])
    if isinstance(raw_to, str):
        raw_to = [raw_to]
    if not isinstance(raw_to, list):
        raise ConfigError("alerts.mail_to", 'must be a list of addresses, e.g. mail_to = ["owner@example.com"]')
    mail_to = tuple(dict.fromkeys(check_address(a, f"alerts.mail_to[{i}]") for i, a in enumerate(raw_to, 1)))
    if mail_to and mail is None:
        raise ConfigError("alerts.mail_to", "alerts by e-mail go through [mail]: add a [mail] table (see README)")
    raw_urls = alerts.get("urls", [])
    if not isinstance(raw_urls, list):
        raise ConfigError("alerts.urls", 'must be a list of notification URLs, e.g. urls = ["ntfy://my-topic"]')
    for index, url in enumerate(raw_urls, 1):  # a URL holds a service's token: never echoed
        if not isinstance(url, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", url.strip()):
            raise ConfigError(
                f"alerts.urls[{index}]", "is not a notification URL: write it as scheme://... (see docs/delivery.md)"
            )
    return AlertSettings(
        mail_to=mail_to,
        urls=tuple(dict.fromkeys(u.strip() for u in raw_urls)),
        failed_runs=_whole(alerts.get("failed_runs", DEFAULT_FAILED_RUNS), "alerts.failed_runs"),
        token_days=_whole(alerts.get("token_days", DEFAULT_TOKEN_DAYS), "alerts.token_days"),
    )


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
    mail: MailSettings | None = None  # None: no [mail] table (report --mail-to and alerts by mail need one)
    alerts: AlertSettings | None = None  # None: no [alerts] table: no alert is sent
    lake: Lake | None = None  # [warehouse] url (+ data_path): the warehouse is a DuckLake, not the file db_path

    @property
    def warehouse(self) -> Path | Lake:
        """Where the warehouse is: the lake when ``[warehouse] url`` is set, else the DuckDB file."""
        return self.lake if self.lake is not None else self.db_path

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


# Set by the command line while a command that works on the DuckDB file only runs (socialkpi.cli.FILE_ONLY):
# its settings with a [warehouse] url are refused, exit 2, before anything is opened.
file_only_command: ContextVar[str | None] = ContextVar("file_only_command", default=None)


def _lake(warehouse: Mapping[str, object]) -> Lake | None:
    """``[warehouse] url`` and ``data_path`` as a :class:`~warehouse.lake.Lake`, or None without a url."""
    url, data_path = warehouse.get("url"), warehouse.get("data_path")
    if url is None:
        if data_path is not None:
            raise ConfigError("warehouse.data_path", "is only for a lake: set [warehouse] url too (docs/agencies.md)")
        return None
    if not isinstance(url, str) or not url.strip().startswith(SCHEME) or not url.strip()[len(SCHEME) :].strip():
        raise ConfigError(
            "warehouse.url",
            f'must be "{SCHEME}<libpq connection string>", e.g. "{SCHEME}host=db dbname=kpi user=kpi" '
            "(a DuckLake catalogued in Postgres, docs/agencies.md)",
        )
    if not isinstance(data_path, str) or not data_path.strip():
        raise ConfigError(
            "warehouse.data_path",
            'a lake needs data_path, the folder or object-store URL of its Parquet files, e.g. "/srv/kpi-lake/"',
        )
    command = file_only_command.get()
    if command is not None:
        raise ConfigError(
            "warehouse.url",
            f"`socialkpi {command}` works on the DuckDB file only, not yet on a lake: "
            "collect, status, doctor, export and dashboard do (docs/agencies.md)",
        )
    return Lake(url.strip(), data_path.strip())


def _whole(value: object, key: str, bound: str | None = None) -> int:
    """A whole number within ``BOUNDS[bound or key]``, or a ConfigError naming ``key``."""
    return int(bounded(value, key, BOUNDS[bound or key]))


def _amount(value: object, key: str, bound: str | None = None) -> float:
    """A finite number within ``BOUNDS[bound or key]``, or a ConfigError naming ``key``."""
    return float(bounded(value, key, BOUNDS[bound or key]))


def _per_platform(table: Mapping[str, object], where: str) -> dict[str, float]:
    """A table of platform ids (the keys were checked by :func:`check_keys`), each amount within
    ``BOUNDS[where]``."""
    return {pid: _amount(amount, f"{where}.{pid}", where) for pid, amount in table.items()}


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
    hours = _per_platform(_table(costs, "hours_per_week"), "costs.hours_per_week")
    if "weekly_hours" in costs:
        total = _amount(costs["weekly_hours"], "costs.weekly_hours")
        hours = _spread_hours(total, hours, accounts)
    return CostSettings(
        currency=currency.strip() if isinstance(currency, str) else None,
        hourly_rate=None if rate is None else _amount(rate, "costs.hourly_rate"),
        tool_cost_per_month=None if tool is None else _amount(tool, "costs.tool_cost_per_month"),
        hours_per_week=hours,
        ad_spend_per_month=_per_platform(_table(costs, "ad_spend_per_month"), "costs.ad_spend_per_month"),
    )


def _value(data: Mapping[str, object]) -> ValueSettings | None:
    if "value" not in data:
        return None
    value = _table(data, "value")
    found = {k: _amount(v, f"value.{k}") for k, v in value.items()}
    return ValueSettings(**found)


def settings_from_dict(
    data: Mapping[str, object],
    *,
    env: Mapping[str, str],
    base: Path,
    config_path: Path | None = None,
) -> Settings:
    check_keys(data)
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
    lake = _lake(warehouse)
    collect = _table(data, "collect")
    history = _whole(collect.get("history_days", DEFAULT_HISTORY_DAYS), "collect.history_days")
    deadline = _whole(collect.get("deadline_minutes", DEFAULT_DEADLINE_MINUTES), "collect.deadline_minutes")
    lookback = {
        pid: _whole(days, f"collect.lookback_days.{pid}", "collect.lookback_days")
        for pid, days in _table(collect, "lookback_days").items()
    }
    concurrency = {
        pid: _whole(n, f"collect.concurrency.{pid}", "collect.concurrency")
        for pid, n in _table(collect, "concurrency").items()
    }

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
        lake=lake,
        accounts=tuple(accounts),
        env=env,
        config_path=config_path,
        history_days=history,
        lookback_days=lookback,
        concurrency=concurrency,
        deadline_minutes=deadline,
        costs=_costs(data, accounts),
        value=_value(data),
        mail=(mail := _mail(data)),
        alerts=_alerts(data, mail),
    )


def _account(entry: object, index: int, seen: set[tuple[str, str]]) -> Account:
    where = f"accounts[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(where, "write each account as an [[accounts]] table")
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


def roi_config(settings: Settings) -> dict[str, float | str]:
    """The [costs] and [value] keys present in socialkpi.toml, flattened (``hours_per_week.facebook``,
    ``value.per_social_visit``): what :func:`warehouse.roi_inputs.sync_config` applies to the warehouse."""
    from warehouse.roi_inputs import ASSUMPTION_DEFAULTS, BUSINESS_ITEMS, PLATFORM_ITEMS

    snap: dict[str, float | str] = {}
    costs = settings.costs
    if costs is not None:
        if costs.currency is not None:
            snap["currency"] = costs.currency
        for item in BUSINESS_ITEMS:
            amount = getattr(costs, item)
            if amount is not None:
                snap[item] = float(amount)
        for item in PLATFORM_ITEMS:
            for platform, amount in getattr(costs, item).items():
                snap[f"{item}.{platform}"] = float(amount)
    value = settings.value
    if value is not None:
        for item in ASSUMPTION_DEFAULTS:
            amount = getattr(value, item)
            if amount is not None:
                snap[f"value.{item}"] = float(amount)
    return snap
