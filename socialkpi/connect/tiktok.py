"""Connect TikTok: Login Kit for Desktop (authorization code, loopback redirect, hex PKCE), the refresh token
kept, the signed-in account discovered.

Docs (quoted in tests/test_connect_tiktok.py):

* https://developers.tiktok.com/doc/login-kit-desktop: authorize at ``https://www.tiktok.com/v2/auth/authorize/``
  with ``client_key``, ``scope`` ("A comma (,) separated string of authorization scope(s)"),
  ``response_type=code``, ``redirect_uri``, ``state``, ``code_challenge`` and ``code_challenge_method=S256``;
  "TikTok requires the Proof Key for Code Exchange (PKCE) protocol for desktop apps" and "You must use hex
  encoding of SHA256 to generate the code challenge from the code verifier" (the framework's ``S256-hex``:
  not RFC 7636's base64url, although the method is named ``S256``).  Redirect URIs: "Only localhost or
  loopback IP 127.0.0.1 are allowed host names in URI", "URIs must have a port number": the one to register
  is ``http://localhost:8765/callback``.  The redirect brings ``code``, ``scopes``, ``state`` or ``error``,
  ``error_description``.
* https://developers.tiktok.com/doc/oauth-user-access-token-management: ``POST
  https://open.tiktokapis.com/v2/oauth/token/`` (form: ``client_key``, ``client_secret``, ``code`` "The value
  should be URL decoded", ``grant_type=authorization_code``, ``redirect_uri``, ``code_verifier``) ->
  ``open_id``, ``scope``, ``access_token``, ``expires_in``, ``refresh_token``, ``refresh_expires_in``,
  ``token_type``.  Lifetimes are read from the answer (24 h / 365 days on that page, 2 h / 180 days on
  TikTok's 2026 pages): ``expires_at`` and ``refresh_expires_at`` are stored, and ``socialkpi collect``
  refreshes the pair (TikTok rotates the refresh token) with the client kept in the token store.
* https://developers.tiktok.com/doc/oauth-error-handling: errors ``{"error", "error_description", "log_id"}``;
  the token endpoint may send them with HTTP 200, so the body decides (:func:`token_classify`).
* https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info: ``GET /v2/user/info/?fields=...``; the
  account id in socialkpi.toml is the ``username`` (scope ``user.info.profile``; ``follower_count`` and
  ``video_count``, which collect reads, need ``user.info.stats``).

No competitors: the Display API answers only for the account that authorized the token
(collectors/__init__.py, ``competitor_support``): ``--competitor`` is refused with that reason.

Environment: ``SOCIALKPI_TIKTOK_CLIENT_ID`` (the app's Client key) and ``SOCIALKPI_TIKTOK_CLIENT_SECRET``
(developers.tiktok.com > Manage apps > your app); ``SOCIALKPI_TIKTOK_AUTH_URL``, ``SOCIALKPI_TIKTOK_TOKEN_URL``
and ``SOCIALKPI_TIKTOK_BASE_URL`` replace the endpoints.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from collectors.observation import Account
from collectors.tokens import StoredToken, refresh_expiry
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import Authorization, ConnectError, exchange_code, expires_at

PLATFORM = "tiktok"
AUTH_URL = "https://www.tiktok.com/v2/auth/authorize/"
API_ROOT = "https://open.tiktokapis.com"
TOKEN_URL = API_ROOT + "/v2/oauth/token/"  # noqa: S105 (an endpoint)
USER_INFO = "/v2/user/info/"
FIELDS = "open_id,username,display_name,follower_count"
# user.info.basic: open_id, display_name; user.info.profile: username (the account id); user.info.stats:
# follower_count and video_count (collectors/tiktok.py)
SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats")
WHERE = "developers.tiktok.com > Manage apps > your app: Client key and Client secret"
SECRET_ENV = "SOCIALKPI_TIKTOK_CLIENT_SECRET"  # noqa: S105 (a variable name)
CLIENT_ENV = "SOCIALKPI_TIKTOK_CLIENT_ID"


def token_classify(status: int, headers: Mapping[str, str], body: Any) -> Any:
    """The token endpoint's OAuth error struct as RFC 6749 codes, whatever the HTTP status (TikTok sends
    ``{"error": "invalid_client", ...}`` with a 200): the ``error`` name decides, not a 200, 400 or 401
    (a 429 or a 5xx still says to wait)."""
    from dataclasses import replace

    from socialkpi.connect.flow import oauth_classify

    if isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]:
        verdict = oauth_classify(status if status == 429 or status >= 500 else 400, headers, body)
        log_id = body.get("log_id")
        if verdict is not None and isinstance(log_id, str) and log_id:
            verdict = replace(verdict, message=f"{verdict.message} (log_id {log_id})")
        return verdict
    return None


def _classify() -> Any:
    from collectors.tiktok import classify

    return classify


def connect(session: Session) -> list[Found]:
    client_key, client_secret = session.app(where=WHERE)
    assert client_secret is not None  # session.app asks for it: TikTok's desktop flow needs the secret too
    grant = session.authorize(
        Authorization(
            platform=PLATFORM,
            label="TikTok",
            url=session.endpoint("AUTH", AUTH_URL),
            client_id=client_key,
            scopes=SCOPES,
            scope_separator=",",
            pkce="S256-hex",
            redirect_host="localhost",
            client_id_param="client_key",
        )
    )
    form = {
        "client_key": client_key,
        "client_secret": client_secret,
        "code": grant.code,  # already URL-decoded from the redirect (TikTok's codes hold '*' and '!')
        "grant_type": "authorization_code",
        "redirect_uri": grant.redirect_uri,
        "code_verifier": grant.code_verifier or "",
    }
    with session.client(token_classify) as client:
        body = exchange_code(
            client,
            session.endpoint("TOKEN", TOKEN_URL),
            form,
            platform=PLATFORM,
            secret_env=SECRET_ENV,
            client_id_env=CLIENT_ENV,
        )
        token = parse_token(body)
        client.classify = _classify()
        client.auth_headers = lambda: {"Authorization": f"Bearer {token.access_token}"}
        info = client.get_json(session.base_url(API_ROOT) + USER_INFO, params={"fields": FIELDS})
    user = parse_user(info)
    return [
        Found(
            account=Account(PLATFORM, user["username"], user["name"]),
            detail=_followers(user),
            token=token,
            client_id=client_key,
            client_secret=client_secret,
            extra={"open_id": user["open_id"]} if user["open_id"] else {},
        )
    ]


def competitor(session: Session, handle: str) -> Found:
    """Refused: TikTok's Display API reads only the account that authorized the token."""
    from collectors import PLATFORMS

    why = PLATFORMS[PLATFORM].competitor_support or "TikTok's Display API has no public profile lookup"
    raise ConnectError(f"tiktok: {handle!r} cannot be added as a competitor: {why}; nothing was written")


# -- pure parts ------------------------------------------------------------------------------------


def parse_token(body: Mapping[str, Any], *, now: float | None = None) -> StoredToken:
    """``{access_token, expires_in, open_id, refresh_expires_in, refresh_token, scope, token_type}`` -> the pair
    and both ends; the scopes the person unticked on the consent page (TikTok lets them) are named."""
    moment = time.time() if now is None else now
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ConnectError("tiktok: the token endpoint answered without an access_token: nothing was written")
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise ConnectError(
            "tiktok: TikTok gave no refresh token: the access token would end within a day; nothing was written"
        )
    scope = body.get("scope")
    if isinstance(scope, str) and scope.strip():
        granted = {s.strip() for s in scope.split(",")}
        missing = [s for s in SCOPES if s not in granted]
        if missing:
            raise ConnectError(
                f"tiktok: the consent left out {', '.join(missing)} (socialkpi reads the username and the follower "
                "and video counts): run `socialkpi connect tiktok` again and keep every permission; if TikTok does "
                "not offer it, add it to the app's Login Kit scopes (docs/connect.md); nothing was written"
            )
    return StoredToken(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at(body, now=moment),
        refresh_expires_at=refresh_expiry(dict(body), moment),
    )


def parse_user(body: Any) -> dict[str, str]:
    """``{"data": {"user": {open_id, username, display_name, follower_count}}, "error": {"code": "ok"}}``."""
    data = body.get("data") if isinstance(body, dict) else None
    user = data.get("user") if isinstance(data, dict) else None
    username = user.get("username") if isinstance(user, dict) else None
    if not isinstance(user, dict) or not isinstance(username, str) or not username:
        raise ConnectError(
            "tiktok: the user/info answer has no username (the scope user.info.profile was not granted?): "
            "nothing was written"
        )
    followers = user.get("follower_count")
    username = username.lstrip("@")
    return {
        "open_id": str(user.get("open_id") or ""),
        "username": username,
        "name": str(user.get("display_name") or username),
        "followers": str(followers) if isinstance(followers, int) and not isinstance(followers, bool) else "",
    }


def _followers(user: dict[str, str]) -> str:
    return (
        f"@{user['username']}, {int(user['followers']):,} followers"
        if user.get("followers")
        else f"@{user['username']}"
    )
