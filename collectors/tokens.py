"""Refreshed OAuth tokens, kept for the next cron run in a file only the user can read.

Platforms that issue refresh tokens (LinkedIn, Pinterest, TikTok, X OAuth 2, Google) hand out
short-lived access tokens and sometimes rotate the refresh token itself.  :class:`TokenStore`
keeps the newest pair per account in ``<warehouse>.tokens.json`` beside the warehouse, mode
0600, written atomically (temp file + ``os.replace``).  Never in the warehouse, a log or an
export: the values are registered with the redactor as soon as they are read or received.

:func:`refresh_access_token` runs the standard ``grant_type=refresh_token`` exchange (RFC 6749
§6) through the collector's :class:`~collectors.http.Client`, so it gets the same timeouts,
retries and redaction, and turns a dead refresh token into an :class:`AuthError` that says
what to do.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.http import AuthError, BadRequest, Client, register_secret


@dataclass(frozen=True, slots=True)
class StoredToken:
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # Unix time

    def fresh(self, *, margin: float = 300.0, now: float | None = None) -> bool:
        """True while the access token has more than ``margin`` seconds left (or no known expiry)."""
        if self.expires_at is None:
            return True
        return (time.time() if now is None else now) < self.expires_at - margin


class TokenStore:
    """A small JSON file of ``{"<platform>/<account>": {access_token, refresh_token, expires_at}}``."""

    _lock = threading.Lock()

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    def beside(cls, db_path: str | os.PathLike[str]) -> TokenStore:
        db = Path(db_path)
        return cls(db.with_name(db.name + ".tokens.json"))

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, platform: str, account_id: str) -> StoredToken | None:
        with self._lock:
            entry = self._read().get(f"{platform}/{account_id}")
        if not isinstance(entry, dict) or not isinstance(entry.get("access_token"), str):
            return None
        token = StoredToken(
            access_token=entry["access_token"],
            refresh_token=entry.get("refresh_token") if isinstance(entry.get("refresh_token"), str) else None,
            expires_at=float(entry["expires_at"])
            if isinstance(entry.get("expires_at"), (int, float))
            else None,
        )
        register_secret(token.access_token)
        register_secret(token.refresh_token)
        return token

    def put(self, platform: str, account_id: str, token: StoredToken) -> None:
        register_secret(token.access_token)
        register_secret(token.refresh_token)
        with self._lock:
            data = self._read()
            data[f"{platform}/{account_id}"] = {
                "access_token": token.access_token,
                "refresh_token": token.refresh_token,
                "expires_at": token.expires_at,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tokens-", dir=self.path.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            os.chmod(self.path, 0o600)


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
        raise AuthError(
            f"{client.platform}: the token endpoint answered without a token", platform=client.platform
        )
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
    expires_in = data.get("expires_in")
    expires_at = time.time() + float(expires_in) if isinstance(expires_in, (int, float)) else None
    return StoredToken(access_token=access, refresh_token=rotated or refresh_token, expires_at=expires_at)
