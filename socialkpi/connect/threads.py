"""Connect Threads: the authorization window, the code for a short-lived token, that for the 60-day one.

Docs: https://developers.facebook.com/documentation/threads/get-started/get-access-tokens-and-permissions
("https://threads.com/oauth/authorize ?client_id=<THREADS_APP_ID> &redirect_uri=<REDIRECT_URI>
&scope=<SCOPE> &response_type=code &state=<STATE>"; older copies of the page and Meta's sample app use
threads.net; "All parameters except state are required"; scope is "A comma-separated list, or URL-encoded
space-separated list [...] threads_basic is required"; "Authorization codes are valid for 1 hour and can
only be used once"; "#_ will be appended to the end of the redirect URI, but it is not part of the code
itself"), then ``POST https://graph.threads.net/oauth/access_token`` with ``client_id``, ``client_secret``,
``code``, ``grant_type=authorization_code`` and ``redirect_uri`` ("This must be the same URI or the request
will be rejected") -> ``{"access_token", "user_id"}``, a token "valid for one hour";
https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/ (``GET
https://graph.threads.net/access_token?grant_type=th_exchange_token&client_secret=...&access_token=...`` ->
``{"access_token", "token_type": "bearer", "expires_in": 5183944}``; "Long-lived tokens are valid for 60
days and can be refreshed as long as they are at least 24 hours old but have not expired"), and
https://developers.facebook.com/documentation/threads/threads-profiles (``GET /v1.0/me?fields=id,username,
name``: "id | Threads user ID"; ``GET /profile_lookup?username=``: "With standard access, only some of the
official Meta accounts can be looked up. These include @meta, @threads, @instagram, and @facebook").

No PKCE: the authorization window's parameters are only the five above; the exchange needs the app secret.

The redirect: Threads takes only ``https://`` redirect URIs (Meta's sample README: "OAuth redirects are only
supported over HTTPS so you must create an SSL certificate"; "Threads apps do not support redirect URLs with
using `localhost`"; fbsamples/threads_api issue #32: "I just added `https://127.0.0.1:8080/...` as the
callback url").  So the redirect URI is ``https://127.0.0.1:<port>/callback`` (default port 8765), which the
owner registers in the app.  Nothing on this machine speaks TLS: after Allow the browser shows an error page
for that address, which still holds ``?code=...&state=...#_``; the person pastes that address into the
terminal (or changes ``https://`` to ``http://`` in the address bar, and the loopback receiver gets it).
``SOCIALKPI_THREADS_REDIRECT_URI`` replaces the redirect URI for a dashboard that holds another one
(a trailing slash, a domain of one's own); it must be byte for byte the one registered.

The account written is the numeric Threads user id (collectors/threads.py); the 60-day token goes to the
token store with its end; ``socialkpi collect`` renews it with ``th_refresh_token`` once fewer than 30 days
are left (while it is still valid).  A failed 60-day exchange fails the connect: a one-hour token is never
stored as if it were the 60-day one.  The app secret is not stored (renewing needs only the token).

Environment: ``SOCIALKPI_THREADS_CLIENT_ID`` / ``SOCIALKPI_THREADS_CLIENT_SECRET`` (the Threads app ID and
Threads app secret, which differ from the Meta app's; ``SOCIALKPI_META_CLIENT_ID`` / ``_CLIENT_SECRET`` are
read when those are unset), ``SOCIALKPI_THREADS_PROFILE_DISCOVERY=1`` (also ask ``threads_profile_discovery``,
for competitors), ``SOCIALKPI_THREADS_REDIRECT_URI``, ``SOCIALKPI_THREADS_AUTH_URL`` (the authorization
window), ``SOCIALKPI_THREADS_BASE_URL`` (replaces https://graph.threads.net for the token calls and the API).
``SOCIALKPI_THREADS_TOKEN_URL`` stays the collector's refresh endpoint and is not used here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from collectors.observation import Account
from collectors.tokens import StoredToken
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import (
    CALLBACK_PATH,
    Authorization,
    ConnectError,
    exchange_code,
    expires_at,
    oauth_classify,
    register_answer,
)

PLATFORM = "threads"
AUTH_URL = "https://threads.com/oauth/authorize"
API_ROOT = "https://graph.threads.net"
CODE_ENDPOINT = "/oauth/access_token"  # the code grant (short-lived token)
EXCHANGE_ENDPOINT = "/access_token"  # th_exchange_token (no /oauth/, no version)
ME_ENDPOINT = "/v1.0/me"
PROFILE_LOOKUP_ENDPOINT = "/v1.0/profile_lookup"
SCOPES = ("threads_basic", "threads_manage_insights")
DISCOVERY_SCOPE = "threads_profile_discovery"
LONG_LIVED_SECONDS = 60 * 86400  # "Long-lived tokens are valid for 60 days" (when expires_in is missing)
WHERE = (
    "developers.facebook.com > My Apps > your app > Use cases > Access the Threads API > Settings: "
    "Threads app ID and Threads app secret, not the Meta app's"
)
USERNAME_RE = re.compile(r"[A-Za-z0-9._]{1,30}")
DISCOVERY_HELP = (
    "profile_lookup needs threads_profile_discovery: add it to the app's Threads use case, set "
    "SOCIALKPI_THREADS_PROFILE_DISCOVERY=1 and run `socialkpi connect threads` again; with standard access only "
    "@meta, @threads, @instagram and @facebook can be looked up, others need Advanced Access (App Review)"
)


# What the authorization window shows instead of redirecting (fbsamples/threads_api issues #14, #17).
WINDOW_ERRORS = (
    "if the browser showed an error_code instead of a consent page: 1349245 = accept the tester invite in Threads "
    "(Settings > Account > Website permissions > Invites), 1349026 = use the Threads app ID, not the Meta app's "
    "(docs/connect.md)"
)


def redirect_uri(port: int) -> str:
    return f"https://127.0.0.1:{port}{CALLBACK_PATH}"


@dataclass(frozen=True)
class ThreadsAuthorization(Authorization):
    """Threads' authorization window: an ``https://`` redirect URI (``redirect``, else the loopback one)."""

    redirect: str = ""

    def redirect_uri(self, port: int) -> str:
        return self.redirect or redirect_uri(port)


def _collector() -> Any:
    from collectors import threads

    return threads


def wants_discovery(session: Session) -> bool:
    return (session.var("PROFILE_DISCOVERY") or "").strip().lower() in {"1", "true", "yes", "on"}


def connect(session: Session) -> list[Found]:
    (client_id, client_secret), (id_env, secret_env) = _app(session)
    scopes = SCOPES + ((DISCOVERY_SCOPE,) if wants_discovery(session) else ())
    auth = ThreadsAuthorization(
        platform=PLATFORM,
        label="Threads",
        url=session.endpoint("AUTH", AUTH_URL),
        client_id=client_id,
        scopes=scopes,
        scope_separator=",",
        pkce=None,
        redirect_host="127.0.0.1",
        redirect=session.var("REDIRECT_URI") or "",
    )
    shown = auth.redirect_uri(session.port)
    if shown.startswith("https://"):
        session.terminal.say(
            f"Threads sends you back to {shown} (Threads takes https addresses only). Nothing here answers https, "
            "so after Allow the browser shows an error page: copy the whole address from its address bar and paste "
            "it here (or change https:// to http:// in the address bar and press Enter)."
        )
    try:
        grant = session.authorize(auth)
    except ConnectError as exc:
        if not str(exc).startswith("no answer from"):
            raise
        raise ConnectError(f"{exc}; {WINDOW_ERRORS}") from None
    root = session.base_url(API_ROOT)
    form = {
        "client_id": client_id,
        "client_secret": client_secret,
        "code": grant.code,
        "grant_type": "authorization_code",
        "redirect_uri": grant.redirect_uri,
    }
    with session.client(token_classify) as client:
        body = exchange_code(
            client,
            root + CODE_ENDPOINT,
            form,
            platform=PLATFORM,
            secret_env=f"{secret_env} (the Threads app ID and secret, not the Meta app's)",
            client_id_env=id_env,
        )
        short, user_id = parse_code_answer(body)
        token = _long_lived(client, root, client_secret, short)
        client.classify = _collector().classify
        client.auth_headers = lambda: {"Authorization": f"Bearer {token.access_token}"}
        me = client.get_json(root + ME_ENDPOINT, params={"fields": "id,username,name"})
    user = parse_me(me)
    if user_id and user_id != user["id"]:
        raise ConnectError(
            f"threads: the code was issued for user {user_id} but the token reads user {user['id']}: nothing was "
            "written; run `socialkpi connect threads` again"
        )
    return [
        Found(
            account=Account(PLATFORM, user["id"], user["name"]),
            detail=f"@{user['username']}" if user["username"] else "",
            token=token,
            client_id=client_id,
            extra={"username": user["username"], "scopes": ",".join(scopes)},
        )
    ]


def _long_lived(client: Any, root: str, client_secret: str, short: str) -> StoredToken:
    """The short-lived token exchanged for the 60-day one; a failure ends the connect."""
    from collectors.errors import CollectorError

    try:
        body = client.get_json(
            root + EXCHANGE_ENDPOINT,
            params={"grant_type": "th_exchange_token", "client_secret": client_secret, "access_token": short},
        )
    except CollectorError as exc:
        said = exc.message.removeprefix("threads: ")
        if exc.code == "invalid_client":
            raise ConnectError(
                f"threads: the app secret was refused by the 60-day token exchange ({said}): check "
                "SOCIALKPI_THREADS_CLIENT_SECRET (the Threads app secret, not the Meta app's); nothing was written"
            ) from None
        raise ConnectError(
            f"threads: the one-hour token could not be exchanged for the 60-day one ({said}): nothing was written; "
            "run `socialkpi connect threads` again"
        ) from None
    register_answer(body)
    return parse_long_lived(body, short=short)


def competitor(session: Session, handle: str) -> Found:
    """A public profile by username (``@name``, ``name``, ``threads.com/@name``), read with
    ``SOCIALKPI_THREADS_TOKEN`` or else the token of the connected Threads account."""
    from collectors.errors import AuthError, BadRequest, CollectorError, PermissionDenied
    from collectors.redaction import register_secret
    from collectors.tokens import TokenStore

    username = handle_of(handle)
    bearer = session.var("TOKEN")
    conn = None
    if not bearer:
        conn = TokenStore.beside(session.settings.db_path).connection(PLATFORM, "", fallback=True)
        bearer = conn.token.access_token if conn else None
    if not bearer:
        raise ConnectError(
            "threads: looking up a competitor needs a token: run `socialkpi connect threads` first (with "
            "SOCIALKPI_THREADS_PROFILE_DISCOVERY=1), or set SOCIALKPI_THREADS_TOKEN; nothing was written"
        )
    register_secret(bearer)
    if conn is not None and DISCOVERY_SCOPE not in conn.extra.get("scopes", DISCOVERY_SCOPE).split(","):
        session.terminal.say(
            f"threads: the connection of {conn.key} was made without {DISCOVERY_SCOPE}; trying anyway "
            "(set SOCIALKPI_THREADS_PROFILE_DISCOVERY=1 and connect again if Threads refuses)"
        )
    with session.client(_collector().classify) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {bearer}"}
        try:
            body = client.get_json(
                session.base_url(API_ROOT) + PROFILE_LOOKUP_ENDPOINT,
                params={"username": username, "fields": "username,name,follower_count,is_verified"},
            )
        except PermissionDenied as exc:
            said = exc.message.removeprefix("threads: ").split("; the token needs")[0]
            raise ConnectError(
                f"threads: @{username} could not be looked up ({said}): {DISCOVERY_HELP}; nothing was written"
            ) from None
        except AuthError as exc:
            said = exc.message.removeprefix("threads: ")
            raise ConnectError(
                f"threads: the token was refused ({said}): run `socialkpi connect threads` again; nothing was written"
            ) from None
        except BadRequest as exc:
            said = exc.message.removeprefix("threads: ")
            raise ConnectError(
                f"threads: no public Threads profile @{username} ({said}): profile_lookup wants the exact username "
                "of a public profile; nothing was written"
            ) from None
        except CollectorError as exc:
            said = exc.message.removeprefix("threads: ")
            raise ConnectError(f"threads: @{username} could not be looked up ({said}): nothing was written") from None
    profile = parse_profile(body, username)
    followers = f", {int(profile['followers']):,} followers" if profile["followers"] else ""
    return Found(
        account=Account(PLATFORM, profile["username"], profile["name"], competitor=True),
        detail=f"@{profile['username']}{followers}",
    )


# -- pure parts ------------------------------------------------------------------------------------


def _app(session: Session) -> tuple[tuple[str, str], tuple[str, str]]:
    """``((client id, secret), (the variable names they came from))``: SOCIALKPI_THREADS_..., else
    SOCIALKPI_META_..., else asked on a terminal."""
    from collectors.redaction import register_secret

    env = session.env
    own = ("SOCIALKPI_THREADS_CLIENT_ID", "SOCIALKPI_THREADS_CLIENT_SECRET")
    meta = ("SOCIALKPI_META_CLIENT_ID", "SOCIALKPI_META_CLIENT_SECRET")
    id_env = next((n for n in (own[0], meta[0]) if env.get(n)), own[0])
    secret_env = next((n for n in (own[1], meta[1]) if env.get(n)), own[1])
    client_id, client_secret = env.get(id_env) or "", env.get(secret_env) or ""
    register_secret(client_secret)
    uri = redirect_uri(session.port)
    if not client_id or not client_secret:
        if not session.terminal.interactive:
            raise ConnectError(
                f"threads: the app's credentials are missing: set {own[0]} and {own[1]} in .env ({WHERE}); "
                f"docs/connect.md says how to create the app (redirect URI {uri})"
            )
        session.terminal.say(
            f"socialkpi needs your Threads app's credentials ({WHERE}; docs/connect.md; the redirect URI to register "
            f"is {uri}). Put them in .env as {own[0]} and {own[1]} to skip this question."
        )
        client_id = client_id or session.terminal.ask("Threads app ID: ")
        if not client_secret:
            client_secret = session.terminal.ask("Threads app secret: ", secret=True)
            register_secret(client_secret)
    if not client_id or not client_secret:
        raise ConnectError("threads: no Threads app ID or secret given: nothing was written")
    if id_env == meta[0] or secret_env == meta[1]:
        session.terminal.say(
            f"threads: using {id_env} / {secret_env}: Threads wants the Threads app ID and secret, which differ "
            f"from the Meta app's; if Threads says 'No application data was given', set {own[0]} and {own[1]}."
        )
    return (client_id, client_secret), (id_env, secret_env)


def token_classify(status: int, headers: Mapping[str, str], body: Any) -> Any:
    """The token endpoints' refusals, as the RFC 6749 codes :func:`~socialkpi.connect.flow.exchange_code`
    names: a wrong app id or secret -> ``invalid_client``, a used, expired or mismatched code ->
    ``invalid_grant``; else Meta's envelope as the collector reads it.

    Threads documents none of these bodies; Facebook's Graph API sends ``{"error": {"message": "Error
    validating client secret.", "type": "OAuthException", "code": 1}}``, ``"This authorization code has been
    used."`` (code 100) and ``"Error validating application. Invalid application ID."`` (code 101), and the
    authorization window shows flat ``{"error_message", "error_code"}`` (fbsamples/threads_api issues #14, #17):
    both shapes are read.
    """
    from collectors.errors import Verdict

    if status < 400 or not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, str):
        return oauth_classify(status, headers, body)
    if isinstance(err, dict):
        message, code, sub = str(err.get("message") or ""), _int(err.get("code")), _int(err.get("error_subcode"))
    elif "error_message" in body:
        message, code, sub = str(body.get("error_message") or ""), _int(body.get("error_code")), None
    else:
        return None
    detail = f"{message} (code {code}{f', subcode {sub}' if sub else ''})"
    text = message.lower()
    if code == 101 or "client secret" in text or "invalid application" in text or "no application data" in text:
        return Verdict("auth", detail, code="invalid_client")
    if sub in {36007, 36008, 36009} or re.search(r"(authorization|verification) code", text):
        return Verdict("bad_request", detail, code="invalid_grant")
    return _collector().classify(status, headers, body)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _id(value: Any) -> str:
    """A Threads id sent as a string or as a JSON number."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    return ""


def parse_code_answer(body: Mapping[str, Any]) -> tuple[str, str]:
    """``{"access_token": "...", "user_id": "..." | 123}`` -> ``(short-lived token, user id or "")``."""
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise ConnectError("threads: the code exchange answered without an access_token: nothing was written")
    return access, _id(body.get("user_id"))


def parse_long_lived(body: Any, *, short: str, now: float | None = None) -> StoredToken:
    """``{"access_token", "token_type": "bearer", "expires_in": 5183944}`` -> the token to store, ending at
    ``now + expires_in`` (60 days when the answer leaves it out)."""
    access = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(access, str) or not access or access == short:
        raise ConnectError(
            "threads: the 60-day token exchange answered without a new access_token: nothing was written"
        )
    moment = time.time() if now is None else now
    ends = expires_at(body, "expires_in", now=moment) or moment + LONG_LIVED_SECONDS
    return StoredToken(access_token=access, refresh_token=None, expires_at=ends)


def parse_me(body: Any) -> dict[str, str]:
    """``GET /me?fields=id,username,name`` -> ``{"id", "username", "name"}`` (only ``id`` is sure)."""
    ident = _id(body.get("id")) if isinstance(body, dict) else ""
    if not ident:
        raise ConnectError("threads: GET /me answered without a numeric id: nothing was written")
    username = body.get("username") if isinstance(body.get("username"), str) else ""
    name = body.get("name") if isinstance(body.get("name"), str) and body.get("name") else username
    return {"id": ident, "username": username, "name": name or f"Threads {ident}"}


def parse_profile(body: Any, username: str) -> dict[str, str]:
    """``GET /profile_lookup`` -> ``{"username", "name", "followers"}`` (``follower_count``, singular)."""
    if not isinstance(body, dict):
        raise ConnectError(f"threads: no public Threads profile @{username} (an empty answer): nothing was written")
    found = body.get("username") if isinstance(body.get("username"), str) and body.get("username") else username
    name = body.get("name") if isinstance(body.get("name"), str) and body.get("name") else found
    followers = body.get("follower_count")
    return {
        "username": found,
        "name": name,
        "followers": str(followers) if isinstance(followers, int) and not isinstance(followers, bool) else "",
    }


def handle_of(text: str) -> str:
    """``@name``, ``name``, ``threads.com/@name``, ``https://www.threads.net/@name/post/...`` -> ``name``."""
    from urllib.parse import urlsplit

    raw = text.strip()
    if "/" in raw:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        raw = parts.path.strip("/").split("/", 1)[0]
    name = raw.removeprefix("@")
    if not USERNAME_RE.fullmatch(name):
        raise ConnectError(
            f"threads: {text!r} is not a Threads username (letters, digits, . and _, at most 30): nothing was written"
        )
    return name
