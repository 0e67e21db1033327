"""Connect X: OAuth 2.0 Authorization Code with PKCE, the refresh token kept, the signed-in user discovered.

Docs: https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code and
https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token (steps 1-3: authorize at
``https://x.com/i/oauth2/authorize`` with ``code_challenge``; ``POST https://api.x.com/2/oauth2/token`` with
``grant_type=authorization_code``, ``code``, ``redirect_uri``, ``code_verifier``: a public client sends its
``client_id``, a confidential one HTTP Basic), https://docs.x.com/x-api/users/lookup/introduction
(``GET /2/users/me``, ``GET /2/users/by/username/:username``).

X's callback must be ``http://127.0.0.1:<port>/callback``, not ``localhost``.  Scopes
``tweet.read users.read offline.access`` (``offline.access`` gives the refresh token; user tokens last
2 hours and X rotates the refresh token on each use, which ``socialkpi collect`` keeps).

Environment: ``SOCIALKPI_X_CLIENT_ID`` (the App's OAuth 2.0 Client ID) and, for a confidential client
("Web App, Automated App or Bot"), ``SOCIALKPI_X_CLIENT_SECRET``; ``SOCIALKPI_X_AUTH_URL``,
``_TOKEN_URL``, ``_BASE_URL`` replace the endpoints.
"""

from __future__ import annotations

from typing import Any

from collectors.observation import Account
from collectors.tokens import StoredToken
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import Authorization, ConnectError, exchange_code, expires_at

PLATFORM = "x"
AUTH_URL = "https://x.com/i/oauth2/authorize"
API_ROOT = "https://api.x.com"
TOKEN_URL = API_ROOT + "/2/oauth2/token"  # noqa: S105 (an endpoint)
ME_ENDPOINT = "/2/users/me"
USER_BY_USERNAME = "/2/users/by/username/{username}"
SCOPES = ("tweet.read", "users.read", "offline.access")
WHERE = "developer console > your App > Keys and tokens > OAuth 2.0 Client ID and Client Secret"


def _classify() -> Any:
    from collectors.x import classify

    return classify


def connect(session: Session) -> list[Found]:
    client_id, client_secret = _app(session)
    grant = session.authorize(
        Authorization(
            platform=PLATFORM,
            label="X",
            url=session.endpoint("AUTH", AUTH_URL),
            client_id=client_id,
            scopes=SCOPES,
            redirect_host="127.0.0.1",
        )
    )
    form = {
        "grant_type": "authorization_code",
        "code": grant.code,
        "redirect_uri": grant.redirect_uri,
        "code_verifier": grant.code_verifier or "",
    }
    if not client_secret:
        form["client_id"] = client_id  # a public client ("Native App")
    with session.client() as client:
        body = exchange_code(
            client,
            session.endpoint("TOKEN", TOKEN_URL),
            form,
            platform=PLATFORM,
            secret_env="SOCIALKPI_X_CLIENT_SECRET",  # noqa: S106 (a variable name)
            client_id_env="SOCIALKPI_X_CLIENT_ID",
            basic=(client_id, client_secret) if client_secret else None,
        )
        token = parse_token(body)
        client.classify = _classify()
        client.auth_headers = lambda: {"Authorization": f"Bearer {token.access_token}"}
        me = client.get_json(session.base_url(API_ROOT) + ME_ENDPOINT, params={"user.fields": "public_metrics"})
    user = parse_user(me)
    return [
        Found(
            account=Account(PLATFORM, user["username"], user["name"]),
            detail=_followers(user),
            token=token,
            client_id=client_id,
            client_secret=client_secret,
        )
    ]


def competitor(session: Session, handle: str) -> Found:
    """A public profile by username (``@name``, ``x.com/name`` or ``https://x.com/name``), read with the
    connected user token, else the App's Bearer Token in ``SOCIALKPI_X_TOKEN``."""
    from collectors.errors import CollectorError
    from collectors.tokens import TokenStore

    username = handle_of(handle)
    bearer = session.var("TOKEN")
    if not bearer:
        conn = TokenStore.beside(session.settings.db_path).connection(PLATFORM, "", fallback=True)
        bearer = conn.token.access_token if conn else None
    if not bearer:
        raise ConnectError(
            "x: looking up a competitor needs a token: run `socialkpi connect x` first, or set SOCIALKPI_X_TOKEN "
            "to the App's Bearer Token"
        )
    with session.client(_classify()) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {bearer}"}
        try:
            body = client.get_json(
                session.base_url(API_ROOT) + USER_BY_USERNAME.format(username=username),
                params={"user.fields": "public_metrics"},
            )
        except CollectorError as exc:
            said = exc.message.removeprefix("x: ").split(": check the account id")[0]
            if exc.code == "not_found":
                raise ConnectError(f"x: no account @{username} ({said}): nothing was written") from None
            raise ConnectError(f"x: @{username} could not be looked up ({said}): nothing was written") from None
    errors = body.get("errors") if isinstance(body, dict) else None
    if not (isinstance(body, dict) and isinstance(body.get("data"), dict)):
        said = errors[0].get("detail") if isinstance(errors, list) and errors and isinstance(errors[0], dict) else ""
        raise ConnectError(f"x: no account @{username} ({said or 'not found'}): nothing was written")
    user = parse_user(body)
    return Found(account=Account(PLATFORM, user["username"], user["name"], competitor=True), detail=_followers(user))


# -- pure parts ------------------------------------------------------------------------------------


def _app(session: Session) -> tuple[str, str | None]:
    client_id = session.var("CLIENT_ID")
    if client_id and not session.var("CLIENT_SECRET"):
        return client_id, None  # a public client: no secret to ask for
    return session.app(where=WHERE)


def parse_token(body: dict[str, Any]) -> StoredToken:
    """The token answer: ``{token_type, expires_in, access_token, scope, refresh_token}``."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ConnectError("x: the token endpoint answered without an access_token: nothing was written")
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise ConnectError(
            "x: X gave no refresh token (the scope offline.access was not granted): the token would end in 2 hours; "
            "nothing was written"
        )
    return StoredToken(access_token=access, refresh_token=refresh, expires_at=expires_at(body))


def parse_user(body: Any) -> dict[str, str]:
    """``{"data": {"id", "name", "username", "public_metrics": {...}}}`` -> the user's fields."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("username"), str):
        raise ConnectError("x: the user lookup answered without data.username: nothing was written")
    metrics = data.get("public_metrics") if isinstance(data.get("public_metrics"), dict) else {}
    followers = metrics.get("followers_count") if isinstance(metrics, dict) else None
    return {
        "id": str(data.get("id", "")),
        "username": data["username"],
        "name": str(data.get("name") or data["username"]),
        "followers": str(followers) if isinstance(followers, int) else "",
    }


def handle_of(text: str) -> str:
    """``@name``, ``name``, ``x.com/name``, ``https://twitter.com/name?s=20`` -> ``name``."""
    import re
    from urllib.parse import urlsplit

    raw = text.strip()
    if "/" in raw:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        raw = parts.path.strip("/").split("/", 1)[0]
    name = raw.removeprefix("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", name):
        raise ConnectError(f"x: {text!r} is not an X username (letters, digits and _, at most 15): nothing was written")
    return name


def _followers(user: dict[str, str]) -> str:
    return (
        f"@{user['username']}, {int(user['followers']):,} followers"
        if user.get("followers")
        else f"@{user['username']}"
    )
