"""Connect Pinterest: OAuth 2.0 authorization code, the continuous refresh token kept, the account discovered.

Docs (quoted in tests/test_connect_pinterest.py):

* Pinterest's OpenAPI (github.com/pinterest/api-description, ``v5/openapi.yaml`` 5.23.0):
  ``authorizationUrl: 'https://www.pinterest.com/oauth/'``, ``tokenUrl:
  'https://api.pinterest.com/v5/oauth/token'``; ``/oauth/token`` is ``security: - basic: []`` with an
  ``application/x-www-form-urlencoded`` body ``grant_type=authorization_code``, ``code``, ``redirect_uri``;
  "If your app was created before September 25, 2025, make sure to set the ``continuous_refresh`` parameter
  to ``true`` to use the continuous refresh token (60-day expiration, refreshable indefinitely)"; the answer
  ``OauthAccessTokenResponseCode``: ``access_token``, ``refresh_token``, ``response_type``, ``token_type``,
  ``expires_in``, ``refresh_token_expires_in``, ``refresh_token_expires_at``, ``scope``; errors ``{code,
  message}`` (``code: 2 message: Authentication failed.`` for client authentication).
* ``GET /v5/user_account`` (``security: user_accounts:read``; ``user_account/analytics`` needs the same and
  nothing more): the token's own account, ``username`` being the id socialkpi.toml uses.
* The official quickstart (github.com/pinterest/api-quickstart) joins scopes with ``","`` and its test
  fixture has ``"expires_in": "2592000"``, a number as a string: accepted.

Neither PKCE nor the refusal redirect is documented: no PKCE is sent (the secret goes as HTTP Basic) and any
``error=`` is a failure (``access_denied`` is a refused consent).  The redirect URI must be "literally the
same as configured at https://developers.pinterest.com/apps/": ``http://localhost:8765/callback``.

Competitors: Pinterest's API has no public profile lookup (collectors/__init__.py, ``competitor_support``):
``--competitor`` is refused with that reason.

Environment: ``SOCIALKPI_PINTEREST_CLIENT_ID`` (the app id) and ``SOCIALKPI_PINTEREST_CLIENT_SECRET`` (the
app secret key), developers.pinterest.com > My apps > Manage; ``SOCIALKPI_PINTEREST_AUTH_URL``,
``_TOKEN_URL``, ``_BASE_URL`` replace the endpoints.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from collectors.observation import Account
from collectors.tokens import StoredToken
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import Authorization, ConnectError, exchange_code, expires_at

PLATFORM = "pinterest"
AUTH_URL = "https://www.pinterest.com/oauth/"
API_ROOT = "https://api.pinterest.com"
TOKEN_URL = API_ROOT + "/v5/oauth/token"  # noqa: S105 (an endpoint)
USER_ACCOUNT = "/v5/user_account"
SCOPES = ("user_accounts:read",)  # user_account/get and user_account/analytics need nothing else
WHERE = "developers.pinterest.com > My apps > your app > Manage: App id and App secret key"
CLIENT_AUTH_CODES = frozenset({2})  # "Authentication failed."
GRANT_CODES = frozenset({283})  # "The authorization grant is invalid"


def token_classify(status: int, headers: Mapping[str, str], body: Any) -> Any:
    """Pinterest's ``{"code": N, "message": "..."}`` answers of ``/v5/oauth/token`` as the RFC 6749 codes
    :func:`socialkpi.connect.flow.exchange_failed` names: a refused client (``code`` 2, or a 401) is
    ``invalid_client``; a refused grant (``code`` 283, or a 400 about the code) is ``invalid_grant``."""
    from collectors.errors import Verdict
    from socialkpi.connect.flow import oauth_classify

    if status < 400:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return oauth_classify(status, headers, body)
    number = body.get("code") if isinstance(body, dict) else None
    number = number if isinstance(number, int) and not isinstance(number, bool) else None
    said = body.get("message") if isinstance(body, dict) else None
    said = said if isinstance(said, str) and said else f"HTTP {status}"
    text = said + (f" (code {number})" if number is not None else "")
    if status == 429:
        return Verdict("throttled", text, code="rate_limited")
    if status >= 500:
        return Verdict("server", text)
    if number in GRANT_CODES or (status == 400 and "code" in said.lower()):
        return Verdict("bad_request", text, code="invalid_grant")
    if number in CLIENT_AUTH_CODES or status == 401:
        return Verdict("auth", text, code="invalid_client")
    return Verdict("bad_request", text, code=str(number or "bad_request"))


def _classify() -> Any:
    from collectors.pinterest import classify

    return classify


def connect(session: Session) -> list[Found]:
    client_id, client_secret = session.app(where=WHERE)
    assert client_secret is not None
    grant = session.authorize(
        Authorization(
            platform=PLATFORM,
            label="Pinterest",
            url=session.endpoint("AUTH", AUTH_URL),
            client_id=client_id,
            scopes=SCOPES,
            scope_separator=",",
            pkce=None,  # not documented by Pinterest: the app secret authenticates the exchange
        )
    )
    form = {
        "grant_type": "authorization_code",
        "code": grant.code,
        "redirect_uri": grant.redirect_uri,
        "continuous_refresh": "true",  # apps created before 2025-09-25; harmless for newer ones
    }
    with session.client(token_classify) as client:
        body = exchange_code(
            client,
            session.endpoint("TOKEN", TOKEN_URL),
            form,
            platform=PLATFORM,
            secret_env="SOCIALKPI_PINTEREST_CLIENT_SECRET",  # noqa: S106 (a variable name)
            client_id_env="SOCIALKPI_PINTEREST_CLIENT_ID",
            basic=(client_id, client_secret),
        )
        token = parse_token(body)
        client.classify = _classify()
        client.auth_headers = lambda: {"Authorization": f"Bearer {token.access_token}"}
        account = parse_account(client.get_json(session.base_url(API_ROOT) + USER_ACCOUNT))
    if account["type"] and account["type"] != "BUSINESS":
        session.terminal.say(
            f"pinterest: {account['username']} is a personal account: Pinterest gives analytics to business "
            "accounts only (pinterest.com > Settings > Convert to business)."
        )
    return [
        Found(
            account=Account(PLATFORM, account["username"], account["name"]),
            detail=_detail(account),
            token=token,
            client_id=client_id,
            client_secret=client_secret,
        )
    ]


def competitor(session: Session, handle: str) -> Found:
    """Refused: Pinterest's API reads only the token's own account."""
    from collectors import PLATFORMS

    why = PLATFORMS[PLATFORM].competitor_support or "Pinterest's API has no public profile lookup"
    raise ConnectError(f"pinterest: {handle!r} cannot be added as a competitor: {why}; nothing was written")


# -- pure parts ------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().isdigit():
        return float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def parse_token(body: Mapping[str, Any], *, now: float | None = None) -> StoredToken:
    """``OauthAccessTokenResponseCode`` -> the pair; numbers may come as strings (``"2592000"``)."""
    moment = time.time() if now is None else now
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ConnectError("pinterest: the token endpoint answered without an access_token: nothing was written")
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise ConnectError(
            "pinterest: Pinterest gave no refresh token: the access token would end in about 30 days; nothing was "
            "written"
        )
    at = _number(body.get("refresh_token_expires_at"))
    seconds = _number(body.get("refresh_token_expires_in"))
    return StoredToken(
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at(body, now=moment),
        refresh_expires_at=at if at is not None else (moment + seconds if seconds is not None else None),
    )


def parse_account(body: Any) -> dict[str, str]:
    """``GET /v5/user_account`` -> ``{"username", "name", "type", "followers"}``."""
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) or not body["username"]:
        raise ConnectError("pinterest: the user_account answer has no username: nothing was written")
    followers = body.get("follower_count")
    name = body.get("business_name")
    return {
        "username": body["username"],
        "name": name.strip() if isinstance(name, str) and name.strip() else body["username"],
        "type": str(body.get("account_type") or ""),
        "followers": str(followers) if isinstance(followers, int) and not isinstance(followers, bool) else "",
    }


def _detail(account: dict[str, str]) -> str:
    parts = [f"pinterest.com/{account['username']}"]
    if account["type"]:
        parts.append("business account" if account["type"] == "BUSINESS" else "personal account")
    if account["followers"]:
        parts.append(f"{int(account['followers']):,} followers")
    return ", ".join(parts)
