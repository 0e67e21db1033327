"""What a collector is given (:class:`CollectContext`, with the account's :class:`Credentials`) and what
it hands back (:class:`Collected`): ``collect(client, ctx, *, since, until) -> Collected``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from collectors.observation import Account, Observation

if TYPE_CHECKING:
    from collectors.tokens import TokenStore


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secrets and endpoints for one account, resolved from the environment at the edge.

    Collectors never read ``os.environ``; the command line builds this and passes it down.
    """

    token: str | None = None
    base_url: str | None = None
    token_url: str | None = None
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    google_credentials: str | None = None  # path of a service-account / authorized-user JSON
    token_env: str = ""  # the variable the token came from, named in error messages
    source: str = "env"  # "env": the environment or .env; "store": a connection made by ``socialkpi connect``
    store_key: str | None = None  # source "store": the token store entry (``<platform>/<key>``) to refresh
    extra: Mapping[str, str] = field(default_factory=dict)  # source "store": the connection's non-secret facts


@dataclass(frozen=True, slots=True)
class CollectContext:
    """Everything one ``collect()`` call needs besides the HTTP client."""

    account: Account
    credentials: Credentials
    collected_at: datetime  # UTC
    business_tz: ZoneInfo
    options: dict[str, str] = field(default_factory=dict)
    token_store: TokenStore | None = (
        None  # where refreshed OAuth tokens are kept (0600, beside the warehouse)
    )

    @property
    def today(self) -> date:
        """The collection day in the business's time zone (dates "now"-only levels)."""
        return self.collected_at.astimezone(self.business_tz).date()


@dataclass(slots=True)
class Collected:
    """What a collector hands back: rows, plus notes on metrics it had to skip."""

    observations: list[Observation] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source metric, reason)
