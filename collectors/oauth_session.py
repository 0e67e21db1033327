"""The OAuth session: the bearer one account uses for one run, and how it renews it.

:class:`OAuthSession` is the bearer one account uses for one run, shared by the collectors whose
platforms hand out refresh tokens (X, LinkedIn, Pinterest, TikTok): a fresh stored token wins over
the env token; an expired one (or none) is refreshed before the first call, and an auth error
refreshes once more; each new pair is stored (0600); a dead stored refresh token falls back to the
env one; one refresh at a time per stored key.  :func:`authorize` builds and starts one and puts
:func:`bearer_hooks` on the client.

The tokens themselves (the store file, the refresh exchange) are :mod:`collectors.tokens`'.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from collectors.errors import AuthError, PermissionDenied
from collectors.http import Client
from collectors.redaction import register_secret
from collectors.tokens import StoredToken, TokenStore, refresh_access_token, without_auth

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


class _EnvTokens(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def token(self) -> str | None: ...
    @property
    def refresh_token(self) -> str | None: ...


class SessionContext(Protocol):
    """What :meth:`OAuthSession.from_context` reads of a collector's context: a
    :class:`collectors.context.CollectContext`, which holds a :class:`TokenStore` (so it is not imported here)."""

    @property
    def credentials(self) -> _EnvTokens: ...
    @property
    def token_store(self) -> TokenStore | None: ...


@dataclass
class OAuthSession:
    """The bearer one account uses during one run, and how it gets a new one.

    ``key`` names the stored pair (an account id, or the token variable when accounts share a token);
    ``exchange`` turns a refresh token into a new pair (:func:`refresh_access_token` with the platform's
    client authentication).  ``app_ready`` says whether the app's id (and secret) are set: when they are
    not, a due refresh raises ``app_missing``, or, with ``app_missing=None``, the session never refreshes.
    ``env_refresh_wins``: the env refresh token alone is used when set (LinkedIn: a newer one put there by
    the user); otherwise the newest stored one first, then the env one.  ``keep_expired``: with nothing to
    refresh and no env token, send the expired stored token anyway (the API says what is wrong).
    ``refused`` turns the last refusal of the token endpoint into the platform's advice.
    ``env_lifetime_days``: how long the platform's access tokens live; when the ``.env`` token is used,
    its first use is noted (:meth:`TokenStore.note_env_token`) so its end can be foretold.
    """

    client: Client
    store: TokenStore | None
    platform: str
    key: str
    env_token: str | None
    env_refresh_token: str | None
    exchange: Callable[[str], StoredToken]
    missing: str
    app_ready: bool = True
    app_missing: str | None = None
    env_refresh_wins: bool = False
    keep_expired: bool = False
    refused: Callable[[AuthError], AuthError] = lambda exc: exc
    env_lifetime_days: float | None = None  # a .env token's lifetime, when the platform documents one
    current: StoredToken | None = None
    _latest_refresh: str | None = field(default=None, repr=False)

    @classmethod
    def from_context(cls, client: Client, ctx: SessionContext, platform: str, **policy: Any) -> OAuthSession:
        """A session on ``ctx``'s token store and env tokens; ``policy`` is the remaining fields."""
        creds = ctx.credentials
        if creds.source == "store":  # a connection's token is the stored pair itself, not a .env token to note
            policy = {**policy, "env_lifetime_days": None}
        return cls(
            client, ctx.token_store, platform, env_token=creds.token, env_refresh_token=creds.refresh_token, **policy
        )

    @property
    def access_token(self) -> str:
        return self.current.access_token if self.current is not None else ""

    @property
    def expires_at(self) -> float | None:
        return self.current.expires_at if self.current is not None else None

    def stored(self) -> StoredToken | None:
        return self.store.get(self.platform, self.key) if self.store is not None else None

    def candidates(self, stored: StoredToken | None) -> list[str]:
        """The refresh tokens to try, in order (each at most once)."""
        kept = stored.refresh_token if stored is not None else None
        if self.env_refresh_wins:
            first = self.env_refresh_token or kept
            return [first] if first else []
        order = (self._latest_refresh, kept, self.env_refresh_token)
        return [t for t in dict.fromkeys(order) if t]

    @property
    def can_refresh(self) -> bool:
        return bool(self.candidates(self.stored())) and (self.app_ready or self.app_missing is not None)

    def start(self) -> None:
        """A fresh stored token, else a refresh (a stored pair had expired, or no env token), else the env token."""
        stored = self.stored()
        if stored is not None and stored.fresh():
            self.current = stored
        elif self.can_refresh and (stored is not None or not self.env_token):
            self.refresh()
        elif self.env_token:
            self.current = StoredToken(self.env_token)
            if self.store is not None and self.env_lifetime_days is not None:
                self.store.note_env_token(self.platform, self.key, self.env_token, self.env_lifetime_days)
        elif stored is not None and self.keep_expired:
            self.current = stored
        else:
            raise AuthError(self.missing, platform=self.platform)
        register_secret(self.access_token)

    def refresh(self) -> bool:
        """Get a new pair (one refresh at a time per key) and keep it; the client's refresh hook."""
        if not self.app_ready:
            if self.app_missing is None:
                return False
            raise AuthError(self.app_missing, platform=self.platform)
        with _lock_for(f"{self.platform}/{self.key}"):
            stored = self.stored()
            if stored is not None and stored.fresh() and stored.access_token != self.access_token:
                self.current = stored  # another account of this run refreshed it a moment ago
                return True
            last = AuthError(f"{self.platform}: no refresh token", platform=self.platform)
            for refresh_token in self.candidates(stored):
                try:
                    with without_auth(self.client):
                        new = self.exchange(refresh_token)
                except AuthError as exc:
                    last = exc
                    continue
                if new.refresh_expires_at is None and stored is not None and new.refresh_token == stored.refresh_token:
                    new = replace(new, refresh_expires_at=stored.refresh_expires_at)  # same refresh token, same end
                if self.store is not None:
                    self.store.put(self.platform, self.key, new)
                    self.store.forget_env_token(self.platform, self.key)
                self.current, self._latest_refresh = new, new.refresh_token
                return True
        raise self.refused(last)


def bearer_hooks(
    session: OAuthSession, headers: dict[str, str] | None = None
) -> tuple[Callable[[], dict[str, str]], Callable[[], bool] | None]:
    """``(auth_headers, refresh)`` for :class:`~collectors.http.Client`: the session's current bearer
    (plus fixed ``headers``), and its refresh when it can refresh at all."""
    extra = dict(headers or {})
    return (
        lambda: {"Authorization": f"Bearer {session.access_token}", **extra},
        session.refresh if session.can_refresh else None,
    )


def authorize(client: Client, session: OAuthSession, headers: dict[str, str] | None = None) -> OAuthSession:
    """Start ``session`` (refreshing first when due) and install its :func:`bearer_hooks` on ``client``."""
    session.start()
    client.auth_headers, client.refresh = bearer_hooks(session, headers)
    return session


def refresh_grant(
    client: Client,
    token_url: str,
    *,
    client_id: str | None,
    client_secret: str | None,
    env_hint: str,
    basic_auth: bool = False,
    extra: dict[str, str] | None = None,
) -> Callable[[str], StoredToken]:
    """An :attr:`OAuthSession.exchange`: :func:`refresh_access_token` at ``token_url`` with this client auth."""

    def exchange(refresh_token: str) -> StoredToken:
        return refresh_access_token(
            client,
            token_url,
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
            env_hint=env_hint,
            basic_auth=basic_auth,
            extra=extra,
        )

    return exchange


def wrong_owner(platform: str, owner: str, configured: str, env: str) -> PermissionDenied:
    """The error for a token that belongs to another account than the configured one (Pinterest, TikTok)."""
    return PermissionDenied(
        f"{platform}: the token belongs to {owner!r}, not to the configured account {configured!r}: put the "
        f"token of {configured!r} in {env} (or the account's token_env), or set id = {owner!r}",
        platform=platform,
        code="wrong_account",
    )
