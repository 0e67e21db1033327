"""When the stored OAuth tokens stop working, and which of them need the owner: pandas-free.

``socialkpi collect`` keeps refreshed tokens in a 0600 JSON file beside the warehouse
(:class:`collectors.tokens.TokenStore`).  This module reads only their expiry fields and whether a
refresh token is present, never a token: the Data health page, ``socialkpi status``, the report and
the end of ``socialkpi collect`` all show the same :func:`token_warnings`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from warehouse.access import DbPath, FilePath, exists, open_warehouse

TOKEN_WARN_DAYS = 14  # warn this many days before a token that socialkpi cannot renew stops working

# Platforms whose stored access token is renewed with itself, while it is still valid, not with a refresh
# token: Threads' long-lived tokens (``th_refresh_token``, collectors/threads.py renews them when fewer than
# 30 days are left).  Such a token close to its end means the renewals failed or collect stopped running.
SELF_RENEWING = frozenset({"threads"})


@dataclass(frozen=True, slots=True)
class TokenExpiry:
    """One stored token's dates (UTC).  ``days_left`` to 0.1 day, negative once expired.

    ``refreshable``: a refresh token is stored, so ``socialkpi collect`` renews the access token by
    itself; ``refresh_expires_at``: when that refresh token itself stops working, where the platform
    says (LinkedIn's 365 days, which do not slide; Pinterest; TikTok).  ``self_renewing``: the platform
    renews the access token with itself while it is valid (:data:`SELF_RENEWING`).
    """

    platform: str
    account_id: str
    account_name: str
    expires_at: datetime | None
    days_left: float | None
    refreshable: bool
    refresh_expires_at: datetime | None
    refresh_days_left: float | None
    self_renewing: bool = False
    first_used_at: datetime | None = None  # a .env token: when socialkpi first used it (its end is estimated)
    connected: bool = False  # received by ``socialkpi connect`` (renewed by connecting again, not in .env)
    server: str | None = None  # a connection's self-hosted server (Matomo, Umami, Plausible CE, a Mastodon instance)


TOKEN_COLUMNS = (
    "platform", "account_id", "account_name", "expires_at", "days_left", "refreshable",
    "refresh_expires_at", "refresh_days_left", "self_renewing", "first_used_at", "connected", "server",
)  # fmt: skip
ENV_SUFFIX = "@env"  # collectors.tokens.TokenStore.ENV_SUFFIX: a .env token's first-use record


@dataclass(frozen=True, slots=True)
class TokenWarning:
    """A stored token that stops working within :data:`TOKEN_WARN_DAYS` and that socialkpi cannot renew."""

    platform: str
    account_id: str
    account_name: str
    message: str  # one line: what ends when, and what to do (never the token)


class _TokenLike(Protocol):  # a TokenExpiry, or a row of the dashboard's frame of them
    @property
    def platform(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def account_name(self) -> str: ...
    @property
    def expires_at(self) -> Any: ...
    @property
    def days_left(self) -> Any: ...
    @property
    def refreshable(self) -> Any: ...
    @property
    def refresh_expires_at(self) -> Any: ...
    @property
    def refresh_days_left(self) -> Any: ...
    @property
    def self_renewing(self) -> Any: ...
    @property
    def first_used_at(self) -> Any: ...
    @property
    def connected(self) -> Any: ...


def token_rows(db_path: DbPath, tokens_file: FilePath, *, now: datetime | None = None) -> list[TokenExpiry]:
    """The expiry of the tokens stored in ``tokens_file`` (the token store of the warehouse ``db_path``,
    which names their accounts), sorted by ``platform/account``; empty when there is no token file (or it
    is not JSON); :class:`collectors.tokens.TokenFileError` for a link or a non-regular file there."""
    from collectors.tokens import TokenStore

    moment = now or datetime.now(UTC)
    data: Any = TokenStore(tokens_file).read_all()  # 0600, never through a link (TokenFileError)
    if not isinstance(data, dict) or not data:
        return []
    names: dict[tuple[str, str], str] = {}
    if exists(db_path):
        with open_warehouse(db_path) as (con, _):
            names = {(p, a): n for p, a, n in con.execute("SELECT platform, account_id, name FROM accounts").fetchall()}
    rows: list[TokenExpiry] = []
    for key, entry in sorted(data.items()):
        if not isinstance(entry, dict) or "/" not in str(key):
            continue
        if not isinstance(entry.get("access_token"), str) and entry.get("estimated") is not True:
            continue  # not a token: the platform's default connection ("<platform>/@default": an alias)
        platform, account_id = str(key).split("/", 1)
        first_used = _epoch(entry.get("first_used_at")) if entry.get("estimated") is True else None
        if first_used is not None:
            account_id = account_id.removesuffix(ENV_SUFFIX)
            names[(platform, account_id)] = f"the token in .env ({account_id.rsplit(':', 1)[-1]})"
        expires = _epoch(entry.get("expires_at"))
        refreshable = isinstance(entry.get("refresh_token"), str) and bool(entry.get("refresh_token"))
        refresh_expires = _epoch(entry.get("refresh_expires_at")) if refreshable else None
        rows.append(
            TokenExpiry(
                platform=platform,
                account_id=account_id,
                account_name=names.get((platform, account_id), account_id),
                expires_at=expires,
                days_left=_days_between(moment, expires),
                refreshable=refreshable,
                refresh_expires_at=refresh_expires,
                refresh_days_left=_days_between(moment, refresh_expires),
                self_renewing=platform in SELF_RENEWING and not refreshable and first_used is None,
                first_used_at=first_used,
                connected=entry.get("via") == "connect",
                server=entry["base_url"] if isinstance(entry.get("base_url"), str) and entry.get("base_url") else None,
            )
        )
    return rows


def token_warnings(tokens: Iterable[_TokenLike], warn_days: float = TOKEN_WARN_DAYS) -> list[TokenWarning]:
    """The tokens that need the owner within ``warn_days``:

    - an access token with no refresh token stored, expiring within ``warn_days`` (or expired); for a
      platform that renews its token with itself (:data:`SELF_RENEWING`), that means the renewals failed;
    - a refresh token whose own end is within ``warn_days``: after it, the access token cannot be
      renewed without a new authorization.
    """
    out: list[TokenWarning] = []
    for row in tokens:
        who = f"{row.platform} · {row.account_name}"
        first_used = row.first_used_at
        connected = getattr(row, "connected", False)
        again = f"run `socialkpi connect {row.platform}` again." if not _missing(connected) and connected else ""
        if first_used is not None and not _missing(first_used) and _within(row.days_left, warn_days):
            verb = "has probably ended: it ended" if row.days_left < 0 else "ends"
            text = (
                f"{who}: the access token socialkpi first used on {first_used:%Y-%m-%d} {verb} by "
                f"{row.expires_at:%Y-%m-%d} at the latest ({row.platform} access tokens last "
                f"{round((row.expires_at - first_used).total_seconds() / 86400)} days): "
                "authorize the app again and update .env."
            )
        elif row.self_renewing and _within(row.days_left, warn_days):
            verb = "expired" if row.days_left < 0 else "expires"
            text = (
                f"{who}: the access token {verb} on {row.expires_at:%Y-%m-%d} although socialkpi collect renews it "
                "while it is valid: the last renewals failed or collect has not run (see its log); "
                + (again or "if it has expired, create a new token and update .env.")
            )
        elif not row.refreshable and _within(row.days_left, warn_days):
            verb = "expired" if row.days_left < 0 else "expires"
            text = (
                f"{who}: the access token {verb} on {row.expires_at:%Y-%m-%d} and no refresh token is stored: "
                + (again or "authorize the app again and update .env.")
            )
        elif row.refreshable and _within(row.refresh_days_left, warn_days):
            verb = "expired" if row.refresh_days_left < 0 else "expires"
            text = (
                f"{who}: the refresh token {verb} on {row.refresh_expires_at:%Y-%m-%d}; after that socialkpi "
                "cannot renew the access token: "
                + (again or "authorize the app again and put the new refresh token in .env.")
            )
        else:
            continue
        out.append(TokenWarning(row.platform, row.account_id, row.account_name, text))
    return out


def _epoch(raw: object) -> datetime | None:
    return datetime.fromtimestamp(raw, UTC) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def _days_between(moment: datetime, end: datetime | None) -> float | None:
    return round((end - moment).total_seconds() / 86400, 1) if end is not None else None


def _missing(value: Any) -> bool:
    """None, or pandas' NaT/NaN in a row of the dashboard's frame."""
    return value is None or value != value  # noqa: PLR0124 (NaT and NaN are not equal to themselves)


def _within(days_left: Any, warn_days: float) -> bool:
    if days_left is None:
        return False
    value = float(days_left)
    return not math.isnan(value) and value < warn_days
