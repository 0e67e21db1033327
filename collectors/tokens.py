"""Refreshed OAuth tokens, kept for the next cron run in a file only the user can read.

Platforms that issue refresh tokens (LinkedIn, Pinterest, TikTok, X OAuth 2, Google) hand out
short-lived access tokens and sometimes rotate the refresh token itself.  :class:`TokenStore`
keeps the newest pair per account in ``<warehouse>.tokens.json`` beside the warehouse, mode
0600 (tightened on every read), written atomically (temp file + ``os.replace``), never through a
symbolic link (:class:`TokenFileError`).  Never in the warehouse, a log or an
export: the values are registered with the redactor as soon as they are read or received.

:func:`refresh_access_token` runs the standard ``grant_type=refresh_token`` exchange (RFC 6749
§6) through the collector's :class:`~collectors.http.Client`, so it gets the same timeouts,
retries and redaction, and turns a dead refresh token into an :class:`AuthError` that says
what to do.  :func:`without_auth` is the "no bearer, no refresh loop" guard every token, refresh or
login call runs under.

:mod:`collectors.oauth_session` builds the bearer one account uses for one run on these.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.errors import AuthError, BadRequest
from collectors.http import Client
from collectors.redaction import register_secret


@dataclass(frozen=True, slots=True)
class StoredToken:
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # Unix time
    refresh_expires_at: float | None = None  # Unix time the refresh token stops working, when the platform says

    def fresh(self, *, margin: float = 300.0, now: float | None = None) -> bool:
        """True while the access token has more than ``margin`` seconds left (or no known expiry)."""
        if self.expires_at is None:
            return True
        return (time.time() if now is None else now) < self.expires_at - margin


def _token_fields(token: StoredToken) -> dict[str, Any]:
    return {
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "expires_at": token.expires_at,
        "refresh_expires_at": token.refresh_expires_at,
    }


def _is_connection(entry: object) -> bool:
    return isinstance(entry, dict) and entry.get("via") == "connect" and isinstance(entry.get("access_token"), str)


@dataclass(frozen=True, slots=True)
class Connection:
    """What ``socialkpi connect`` received for one account: its token pair, and what renewing it needs
    (the owner's OAuth client), kept in the token store under ``<platform>/<key>``.

    ``key`` is the account id (the entry collectors keep refreshing, so a refreshed pair replaces the
    connected one in place); ``base_url`` is a self-hosted server's root (Matomo, Umami, Plausible CE, a
    Mastodon instance) and ``token_url`` the token endpoint a Google client file names; ``extra`` holds
    the few facts a platform's collector needs beside the token (never a secret).
    """

    platform: str
    key: str
    token: StoredToken
    client_id: str | None = None
    client_secret: str | None = None
    base_url: str | None = None
    token_url: str | None = None
    connected_at: float | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        return {
            **_token_fields(self.token),
            "via": "connect",
            "connected_at": self.connected_at if self.connected_at is not None else time.time(),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "base_url": self.base_url,
            "token_url": self.token_url,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_entry(cls, platform: str, key: str, entry: Mapping[str, Any]) -> Connection:
        def text(name: str) -> str | None:
            value = entry.get(name)
            return value if isinstance(value, str) and value else None

        extra = entry.get("extra")
        return cls(
            platform=platform,
            key=key,
            token=StoredToken(
                access_token=str(entry["access_token"]),
                refresh_token=text("refresh_token"),
                expires_at=_number(entry.get("expires_at")),
                refresh_expires_at=_number(entry.get("refresh_expires_at")),
            ),
            client_id=text("client_id"),
            client_secret=text("client_secret"),
            base_url=text("base_url"),
            token_url=text("token_url"),
            connected_at=_number(entry.get("connected_at")),
            extra={str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
        )


class TokenFileError(Exception):
    """Something else than a regular file is where the token store lives (a symbolic link, a FIFO, a folder),
    or the file cannot be made 0600: one line naming the path and what to do (the CLI exits 2)."""


_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK


class TokenStore:
    """A small JSON file of ``{"<platform>/<account>": {access_token, refresh_token, expires_at,
    refresh_expires_at}}`` (the expiry fields are Unix times or null).

    The file is only ever a regular file of mode 0600: every read opens it with ``O_NOFOLLOW`` and makes it
    0600 first (a file left 0644 by an older version or a copy is tightened on the spot), every write
    replaces it atomically with a 0600 file; a symbolic link or anything but a regular file at its path is
    never followed, read, chmod'ed or replaced: :class:`TokenFileError`."""

    _lock = threading.Lock()

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    def beside(cls, db_path: str | os.PathLike[str]) -> TokenStore:
        db = Path(db_path)
        return cls(db.with_name(db.name + ".tokens.json"))

    def _refused(self, what: str) -> TokenFileError:
        return TokenFileError(
            f"{self.path} is {what}, not socialkpi's token file (never followed or read): move it away, "
            "and socialkpi writes its own there (mode 0600)"
        )

    def _check_path(self) -> os.stat_result | None:
        """What is at the path, without following a link: None for nothing (or a folder socialkpi cannot
        look into, read as no tokens); :class:`TokenFileError` for anything but a regular file."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            raise self._refused("a symbolic link")
        if not stat.S_ISREG(st.st_mode):
            raise self._refused("not a regular file")
        return st

    def _open(self) -> int | None:
        """The file opened to read, never through a link and made 0600 first; None when there is none."""
        if self._check_path() is None:
            return None  # looked at first, so that a FIFO or a device is never even opened
        try:
            fd = os.open(self.path, _READ_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # became a link after the look
                raise self._refused("a symbolic link") from None
            if exc.errno in (errno.EISDIR, errno.ENXIO, errno.ENODEV):
                raise self._refused("not a regular file") from None
            return None  # unreadable: as before, no tokens (collect goes on with the .env ones)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise self._refused("not a regular file")
            if stat.S_IMODE(st.st_mode) != 0o600:
                try:
                    os.fchmod(fd, 0o600)
                except PermissionError:
                    raise TokenFileError(
                        f"{self.path} can be read by others (mode {stat.S_IMODE(st.st_mode):04o}) and is not "
                        "yours to change: have its owner run chmod 600 on it"
                    ) from None
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _read(self) -> dict[str, Any]:
        fd = self._open()
        if fd is None:
            return {}
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read()
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError included
            return {}
        return data if isinstance(data, dict) else {}

    def check(self) -> None:
        """Open the file as every read does (made 0600; a link or a non-regular file refused with
        :class:`TokenFileError`), so that a command fails on it at once and before it does anything."""
        with self._lock:
            fd = self._open()
        if fd is not None:
            os.close(fd)

    def read_all(self) -> dict[str, Any]:
        """Every entry of the file (``{}`` when there is none or it is not JSON), read as :meth:`check` says."""
        with self._lock:
            return self._read()

    def get(self, platform: str, account_id: str) -> StoredToken | None:
        with self._lock:
            entry = self._read().get(f"{platform}/{account_id}")
        if not isinstance(entry, dict) or not isinstance(entry.get("access_token"), str):
            return None
        token = StoredToken(
            access_token=entry["access_token"],
            refresh_token=entry.get("refresh_token") if isinstance(entry.get("refresh_token"), str) else None,
            expires_at=_number(entry.get("expires_at")),
            refresh_expires_at=_number(entry.get("refresh_expires_at")),
        )
        register_secret(token.access_token)
        register_secret(token.refresh_token)
        return token

    def put(self, platform: str, account_id: str, token: StoredToken) -> None:
        """Keep ``token`` as the account's newest pair; what else its entry holds (a connection's OAuth
        client, server URL ...) stays."""
        register_secret(token.access_token)
        register_secret(token.refresh_token)
        with self._lock:
            data = self._read()
            key = f"{platform}/{account_id}"
            entry = data.get(key)
            data[key] = {**(entry if isinstance(entry, dict) else {}), **_token_fields(token)}
            self._write(data)

    # -- connections: what ``socialkpi connect`` received, for ``socialkpi collect`` --------------------

    DEFAULT = "@default"  # "<platform>/@default": {"alias": "<account id>"}, the connection competitors use

    def connection(self, platform: str, account_id: str, *, fallback: bool = False) -> Connection | None:
        """The account's connection (a token received by ``socialkpi connect``), or, with ``fallback``, the
        platform's default one (the first own account connected: what a competitor is read with)."""
        with self._lock:
            data = self._read()
        key = account_id
        entry = data.get(f"{platform}/{key}")
        if fallback and not _is_connection(entry):
            alias = data.get(f"{platform}/{self.DEFAULT}")
            key = str(alias.get("alias", "")) if isinstance(alias, dict) else ""
            entry = data.get(f"{platform}/{key}") if key else None
        if not _is_connection(entry):
            return None
        assert isinstance(entry, dict)
        conn = Connection.from_entry(platform, key, entry)
        for secret in (conn.token.access_token, conn.token.refresh_token, conn.client_secret):
            register_secret(secret)
        return conn

    def save_connections(self, connections: Iterable[Connection], *, defaults: Iterable[Connection] = ()) -> None:
        """Store every connection in one write (all of them or, on an error, none), replacing what the
        same accounts held; each of ``defaults`` becomes its platform's connection for competitors."""
        items = list(connections)
        for conn in items:
            for secret in (conn.token.access_token, conn.token.refresh_token, conn.client_secret):
                register_secret(secret)
        with self._lock:
            data = self._read()
            for conn in items:
                data[f"{conn.platform}/{conn.key}"] = conn.entry()
                data.pop(f"{conn.platform}/{conn.key}{self.ENV_SUFFIX}", None)
            for default in defaults:
                data[f"{default.platform}/{self.DEFAULT}"] = {"alias": default.key}
            self._write(data)

    def has_default(self, platform: str) -> bool:
        with self._lock:
            return f"{platform}/{self.DEFAULT}" in self._read()

    def _write(self, data: dict[str, Any]) -> None:
        """Replace the file with ``data``, created 0600, only over a regular file or nothing (the caller
        holds the lock)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check_path()
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- tokens from .env whose lifetime is known but not their issue date (LinkedIn: 60 days) ------

    ENV_SUFFIX = "@env"

    def note_env_token(
        self, platform: str, key: str, token: str, lifetime_days: float, *, now: float | None = None
    ) -> None:
        """Remember when socialkpi first used this ``.env`` token: it ends ``lifetime_days`` after it was
        issued, so at the latest ``lifetime_days`` after that first use.  Only a fingerprint (the first
        16 hex digits of its SHA-256) is kept, to notice when the variable holds a new token."""
        moment = time.time() if now is None else now
        fingerprint = hashlib.sha256(token.encode()).hexdigest()[:16]
        with self._lock:
            data = self._read()
            name = f"{platform}/{key}{self.ENV_SUFFIX}"
            entry = data.get(name)
            if isinstance(entry, dict) and entry.get("fingerprint") == fingerprint:
                return  # the same token as before: its first use stays
            data[name] = {
                "fingerprint": fingerprint,
                "first_used_at": moment,
                "lifetime_days": lifetime_days,
                "expires_at": moment + lifetime_days * 86400,
                "estimated": True,
            }
            self._write(data)

    def forget_env_token(self, platform: str, key: str) -> None:
        """Drop the first-use record of ``key``'s ``.env`` token (a refreshed token replaced it)."""
        with self._lock:
            data = self._read()
            if data.pop(f"{platform}/{key}{self.ENV_SUFFIX}", None) is not None:
                self._write(data)


def _number(value: object) -> float | None:
    """A number, also one sent as digits in a string (Pinterest's ``expires_in`` in its own examples)."""
    if isinstance(value, str):
        text = value.strip()
        return float(text) if text.isascii() and text.replace(".", "", 1).isdigit() else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def refresh_expiry(data: dict[str, Any], now: float) -> float | None:
    """When the refresh token of a token answer stops working, if the answer says.

    LinkedIn and Pinterest send ``refresh_token_expires_in`` (Pinterest also ``refresh_token_expires_at``,
    Unix time), TikTok ``refresh_expires_in`` (https://learn.microsoft.com/en-us/linkedin/shared/authentication/
    programmatic-refresh-tokens, https://developers.pinterest.com/docs/api/v5/ ``oauth/token``,
    https://developers.tiktok.com/doc/oauth-user-access-token-management); X and Google send neither.
    """
    at = _number(data.get("refresh_token_expires_at"))
    if at is not None:
        return at
    for name in ("refresh_token_expires_in", "refresh_expires_in"):
        seconds = _number(data.get(name))
        if seconds is not None:
            return now + seconds
    return None


def refresh_access_token(
    client: Client,
    token_url: str,
    *,
    refresh_token: str,
    client_id: str | None,
    client_secret: str | None,
    env_hint: str,
    basic_auth: bool = False,
    extra: dict[str, str] | None = None,
) -> StoredToken:
    """Exchange ``refresh_token`` at ``token_url``; a refused refresh becomes an actionable AuthError.

    ``basic_auth`` sends client_id:client_secret as HTTP Basic (Pinterest, X) instead of in the body.
    """
    import base64

    form: dict[str, str] = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    headers: dict[str, str] = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic_auth and client_id and client_secret:
        pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
        register_secret(pair)
    else:
        if client_id:
            form["client_id"] = client_id
        if client_secret:
            form["client_secret"] = client_secret
    form.update(extra or {})
    saved_auth = client.auth_headers
    client.auth_headers = None  # the token endpoint must not get the (expired) bearer
    try:
        body = client.post_json(token_url, data=form, headers=headers)
    except (AuthError, BadRequest) as exc:
        raise AuthError(
            f"{client.platform}: the refresh token was refused ({exc.message.removeprefix(client.platform + ': ')}): "
            f"authorize the app again and put the new refresh token in {env_hint}",
            platform=client.platform,
            status=exc.status,
        ) from None
    finally:
        client.auth_headers = saved_auth
    if not isinstance(body, dict):
        raise AuthError(f"{client.platform}: the token endpoint answered without a token", platform=client.platform)
    inner = body.get("data")
    data: dict[str, Any] = inner if isinstance(inner, dict) else body  # TikTok wraps it in "data"
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthError(
            f"{client.platform}: the token endpoint answered without an access_token",
            platform=client.platform,
        )
    register_secret(access)
    rotated = data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else None
    register_secret(rotated)
    now = time.time()
    expires_in = _number(data.get("expires_in"))
    return StoredToken(
        access_token=access,
        refresh_token=rotated or refresh_token,
        expires_at=now + expires_in if expires_in is not None else None,
        refresh_expires_at=refresh_expiry(data, now),
    )


@contextmanager
def without_auth(client: Client) -> Iterator[None]:
    """Run a token, refresh or login call without the (expired) bearer and without the refresh hook.

    The endpoint's own 401 must not re-enter the hook that is calling it (a refresh inside a refresh).
    """
    saved = client.auth_headers, client.refresh
    client.auth_headers, client.refresh = None, None
    try:
        yield
    finally:
        client.auth_headers, client.refresh = saved
