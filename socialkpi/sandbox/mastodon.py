"""Sandbox part: a Mastodon instance's public ``GET /api/v1/accounts/lookup``.

Answers as https://docs.joinmastodon.org/methods/accounts/ documents it: an ``Account`` entity (string ``id``, integer
counts, ``last_status_at`` a date string), ``X-RateLimit-Limit/-Remaining/-Reset`` on every reply
(the reset an ISO 8601 timestamp with microseconds), ``{"error": "Record not found"}`` with 404 for
an unknown account, ``{"error": "The access token is invalid"}`` with 401 for a bad bearer (a token
is optional: the lookup is public), and :func:`throttled` builds the 429 reply tests script.

The instance is whatever ``SOCIALKPI_MASTODON_BASE_URL`` points here, so the part answers for every
instance; an account is keyed by its username.  Usernames starting with ``unknown`` do not exist;
``suspended...`` accounts come back with ``suspended: true`` and zero counts, as Mastodon 3.3+ does.
Counts are today's (UTC) from :mod:`socialkpi.sandbox.world`; :func:`followers_for` and
:func:`statuses_for` say what is served.

``socialkpi connect mastodon`` (https://docs.joinmastodon.org/spec/oauth/, /methods/apps/, /methods/oauth/):

* ``POST /api/v1/apps`` (JSON or form): registers an app, ``client_name`` and ``redirect_uris`` required
  (one string, several separated by newlines, or an array), ``scopes`` a space-separated string (default
  ``read``); answers the ``CredentialApplication`` (``scopes`` an array, ``redirect_uri`` the URIs joined by
  ``\n``, ``client_secret_expires_at`` 0), or 422 ``{"error": "Validation failed: ..."}``.
* ``GET /.well-known/oauth-authorization-server``: the 4.3+ metadata (``code_challenge_methods_supported``
  ``["S256"]``, ``scopes_supported``); a test scripts a 404 for an older server.
* ``GET/POST /oauth/authorize``: the consent page for a registered app (the redirect URI one of its
  ``redirect_uris`` exactly, the scope a subset of its ``scopes``, PKCE S256 only), Doorkeeper's wording on
  the error page otherwise; Deny redirects with ``error=access_denied``.  (Threads' part has the same path
  and passes requests without a ``threads_`` scope on to this one.)
* ``POST /oauth/token`` (``grant_type=authorization_code``, the app's ``client_id``/``client_secret`` in the
  form or HTTP Basic): ``{"access_token", "token_type": "Bearer", "scope", "created_at"}``, no expiry;
  401 ``invalid_client``, 400 ``invalid_grant`` (a code unknown, used, expired, for another client or
  redirect URI, or without its PKCE verifier) with Doorkeeper's descriptions.
* ``GET /api/v1/accounts/verify_credentials``: the account of the token (the world's
  ``cornerbakery``), for a token with ``profile``, ``read`` or ``read:accounts``; 403 "This action is
  outside the authorized scopes" otherwise, 401 for an unknown token.
* Tokens the consent issued are accepted by the lookup too (it wants ``read`` or ``read:accounts`` when a
  token is sent: "authorize_if_got_token! :read, :'read:accounts'").
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from socialkpi.sandbox import oauth, world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "mastodon"
FOLLOWERS_BASE = 900
STATUSES_BASE = 320
LIMIT = 300
WINDOW = timedelta(minutes=5)
OWN_USERNAME = "cornerbakery"  # who signs in on the consent page
OOB = "urn:ietf:wg:oauth:2.0:oob"
# https://docs.joinmastodon.org/api/oauth-scopes/ (the top-level scopes and the granular ones socialkpi could ask)
SCOPES = frozenset(
    ("read", "write", "follow", "push", "profile", "admin:read", "admin:write", "read:accounts", "read:statuses")
    + ("read:follows", "read:lists", "read:search", "read:notifications", "write:statuses")
)
READ_ACCOUNTS = frozenset({"read", "read:accounts"})  # what the lookup asks of a token it is sent
VERIFY_SCOPES = frozenset({"profile", "read", "read:accounts"})


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]


_lock = threading.Lock()
_apps: dict[str, App] = {}  # client_id -> the app registered through POST /api/v1/apps
_tokens: dict[str, tuple[str, frozenset[str]]] = {}  # access token -> (username, scopes)


def world_key(username: str) -> str:
    """The world's key of an account: its demo id (``user@instance``) when it has one, else the username."""
    for acc in world.DEMO_ACCOUNTS:
        if acc.platform == PLATFORM and acc.id.split("@")[0].lower() == username.lower():
            return acc.id
    return username.lower()


def followers_for(username: str, day: date) -> int:
    return world.followers(PLATFORM, world_key(username), day, FOLLOWERS_BASE)


def statuses_for(username: str, day: date) -> int:
    """Posts to date: grows about one every two or three days."""
    start = date(2022, 11, 8)
    return int(STATUSES_BASE * world.scale_of(PLATFORM, world_key(username)) + 0.4 * (day - start).days)


def _now() -> datetime:
    return world.now()


def rate_headers(remaining: int = LIMIT - 1, reset_in: float = 300.0) -> dict[str, str]:
    reset = (_now() + timedelta(seconds=reset_in)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "X-RateLimit-Limit": str(LIMIT),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": reset,
    }


def throttled(reset_in: float) -> Reply:
    """Mastodon's 429: ``{"error":"Too many requests"}``, remaining 0, reset as an ISO timestamp."""
    return Reply(429, {"error": "Too many requests"}, rate_headers(0, reset_in))


def _known(username: str) -> tuple[str, str]:
    """(the username as the server spells it, the display name): the world's for its accounts."""
    for acc in world.DEMO_ACCOUNTS:
        if acc.platform == PLATFORM and acc.id.split("@")[0].lower() == username.lower():
            return acc.id.split("@")[0], acc.name
    return username, username.replace("_", " ").title()


def _account(asked: str, today: date) -> dict[str, Any]:
    username, display_name = _known(asked)  # usernames are case-insensitive: the server answers its spelling
    key = world_key(username)
    suspended = username.lower().startswith("suspended")
    digits = str(109283746251234567 + zlib.crc32(key.encode()))
    body: dict[str, Any] = {
        "id": digits,
        "username": username,
        "acct": username,
        "display_name": display_name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": "2022-11-08T00:00:00.000Z",
        "note": "<p>Bread, pastries and coffee since 2012.</p>",
        "url": f"https://mastodon.example/@{username}",
        "avatar": "https://files.mastodon.example/accounts/avatars/original/missing.png",
        "header": "https://files.mastodon.example/headers/original/missing.png",
        "followers_count": 0 if suspended else followers_for(username, today),
        "following_count": 0 if suspended else 120,
        "statuses_count": 0 if suspended else statuses_for(username, today),
        "last_status_at": None if suspended else (today - timedelta(days=1)).isoformat(),
        "emojis": [],
        "fields": [],
    }
    if suspended:
        body["suspended"] = True
    return body


def _token_scopes(token: str | None) -> frozenset[str] | None:
    """The scopes of a token the sandbox knows (``world.TOKEN``: ``read``), None for any other."""
    if token == world.TOKEN:
        return frozenset({"read"})
    with _lock:
        known = _tokens.get(token or "")
    return known[1] if known else None


def lookup(request: Request) -> Reply:
    if request.header("Authorization") is not None:
        scopes = _token_scopes(request.bearer())
        if scopes is None:
            return Reply(401, {"error": "The access token is invalid"}, rate_headers())
        if not scopes & READ_ACCOUNTS:
            return Reply(403, {"error": "This action is outside the authorized scopes"}, rate_headers())
    acct = (request.arg("acct") or "").lstrip("@")
    username = acct.split("@")[0]
    if not username:
        return Reply(400, {"error": "Validation failed: acct is missing"}, rate_headers())
    if username.lower().startswith("unknown"):
        return Reply(404, {"error": "Record not found"}, rate_headers())
    return Reply(200, _account(username, _now().date()), rate_headers())


# -- socialkpi connect mastodon: app registration, authorization, token, verify_credentials ----------------


def _params(request: Request) -> dict[str, Any]:
    """Form data or a JSON body (the docs' example sends JSON; the fields are "Form data parameters")."""
    if "json" in (request.header("Content-Type") or "").lower():
        body = request.json()
        return dict(body) if isinstance(body, dict) else {}
    return {k: (v if len(v) > 1 else v[0]) for k, v in _form_lists(request).items()}


def _form_lists(request: Request) -> dict[str, list[str]]:
    from urllib.parse import parse_qs

    raw = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    return {k.removesuffix("[]"): v for k, v in raw.items()}


def _uris(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [u for u in str(value or "").split() if u]


def _absolute(uri: str) -> bool:
    parts = urlsplit(uri)
    return uri == OOB or (bool(parts.scheme) and bool(parts.netloc) and parts.scheme not in {"javascript", "data"})


def register_app(request: Request) -> Reply:
    """``POST /api/v1/apps`` (https://docs.joinmastodon.org/methods/apps/#create)."""
    params = _params(request)
    name = str(params.get("client_name") or "").strip()
    if not name:
        return Reply(422, {"error": "Validation failed: Application name can't be blank"})
    uris = _uris(params.get("redirect_uris"))
    if not uris:
        return Reply(422, {"error": "Validation failed: Redirect URI can't be blank"})
    if not all(_absolute(u) for u in uris):
        return Reply(422, {"error": "Validation failed: Redirect URI must be an absolute URI."})
    scopes = str(params.get("scopes") or "read").split()
    if any(s not in SCOPES for s in scopes):
        return Reply(422, {"error": "Validation failed: Scopes must be one of the scopes the server supports"})
    app = App(secrets.token_urlsafe(32), secrets.token_urlsafe(32), tuple(uris), frozenset(scopes))
    with _lock:
        _apps[app.client_id] = app
    return Reply(
        200,
        {
            "id": str(563419 + len(_apps)),
            "name": name,
            "website": params.get("website") or None,
            "scopes": scopes,
            "redirect_uri": "\n".join(uris),
            "redirect_uris": uris,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "client_secret_expires_at": 0,
        },
    )


def metadata(request: Request) -> Reply:
    """``GET /.well-known/oauth-authorization-server`` (4.3.0+,
    https://docs.joinmastodon.org/methods/oauth/#authorization-server-metadata)."""
    root = request.base_url
    return Reply(
        200,
        {
            "issuer": root + "/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": root + "/oauth/authorize",
            "token_endpoint": root + "/oauth/token",
            "app_registration_endpoint": root + "/api/v1/apps",
            "revocation_endpoint": root + "/oauth/revoke",
            "scopes_supported": sorted(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        },
    )


def consent(request: Request) -> Reply:
    """``GET /oauth/authorize``: Doorkeeper's checks, then the Allow/Deny page."""
    with _lock:
        app = _apps.get(request.arg("client_id") or "")
    if app is None:
        return oauth.error_page(
            "Mastodon",
            "Client authentication failed due to unknown client, no client authentication included, or "
            "unsupported authentication method.",
            401,
        )
    if request.arg("redirect_uri") not in app.redirect_uris:
        return oauth.error_page("Mastodon", "The redirect uri included is not valid.")
    if request.arg("response_type") != "code":
        return oauth.error_page("Mastodon", "The authorization server does not support this response type.")
    scope = (request.arg("scope") or "read").replace("+", " ").split()
    if not set(scope) <= app.scopes:
        return oauth.error_page("Mastodon", "The requested scope is invalid, unknown, or malformed.")
    if request.arg("code_challenge") and request.arg("code_challenge_method") != "S256":
        return oauth.error_page("Mastodon", "The code challenge method must be S256.")
    return oauth.consent_page(
        request, platform="Mastodon", title="Authorization required: socialkpi would like to access your account"
    )


def decision(request: Request) -> Reply:
    return oauth.decide(
        request,
        platform=PLATFORM,
        denial={
            "error": "access_denied",
            "error_description": "The resource owner or authorization server denied the request.",
        },
    )


def _token_error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


def _client(request: Request, params: dict[str, Any]) -> tuple[str, str]:
    auth = request.header("Authorization") or ""
    if auth.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return "", ""
        return client_id, secret
    return str(params.get("client_id") or ""), str(params.get("client_secret") or "")


def token(request: Request) -> Reply:
    """``POST /oauth/token`` (https://docs.joinmastodon.org/methods/oauth/#token)."""
    params = _params(request)
    if params.get("grant_type") != "authorization_code":
        return _token_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )
    client_id, secret = _client(request, params)
    with _lock:
        app = _apps.get(client_id)
    if app is None or not secrets.compare_digest(secret, app.client_secret):
        return _token_error(
            401,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or "
            "unsupported authentication method.",
        )
    done = oauth.redeem(
        PLATFORM,
        str(params.get("code") or ""),
        client_id=client_id,
        redirect_uri=str(params.get("redirect_uri") or ""),
        verifier=str(params.get("code_verifier") or "") or None,
    )
    if done.error or done.issued is None:
        return _token_error(
            400,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
            "used in the authorization request, or was issued to another client.",
        )
    scope = done.issued.scope.replace("+", " ").split() or ["read"]
    access = secrets.token_urlsafe(32)
    with _lock:
        _tokens[access] = (OWN_USERNAME, frozenset(scope))
    return Reply(
        200, {"access_token": access, "token_type": "Bearer", "scope": " ".join(scope), "created_at": int(time.time())}
    )


def verify_credentials(request: Request) -> Reply:
    """``GET /api/v1/accounts/verify_credentials``: "User token + ``profile`` or ``read:accounts``"."""
    token_ = request.bearer()
    scopes = _token_scopes(token_)
    if scopes is None:
        return Reply(401, {"error": "The access token is invalid"}, rate_headers())
    if not scopes & VERIFY_SCOPES:
        return Reply(403, {"error": "This action is outside the authorized scopes"}, rate_headers())
    with _lock:
        username = _tokens.get(token_ or "", (OWN_USERNAME, scopes))[0]
    body = _account(username, _now().date())
    body["source"] = {
        "privacy": "public",
        "sensitive": False,
        "language": "fr",
        "note": "Bread, pastries and coffee since 2012.",
        "fields": [],
        "follow_requests_count": 0,
    }
    return Reply(200, body, rate_headers())


ROUTES = [
    ("GET", r"/api/v1/accounts/lookup", lookup),
    ("GET", r"/api/v1/accounts/verify_credentials", verify_credentials),
    ("POST", r"/api/v1/apps", register_app),
    ("GET", r"/\.well-known/oauth-authorization-server", metadata),
    ("GET", r"/oauth/authorize", consent),
    ("POST", r"/oauth/authorize", decision),
    ("POST", r"/oauth/token", token),
]
