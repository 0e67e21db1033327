"""Sandbox part: X API v2 user lookup by username and the OAuth 2.0 token endpoint.

Answers as https://docs.x.com/x-api/users/lookup/introduction shows:

* ``GET /2/users/by/username/{username}?user.fields=...``: ``{"data": {id, name, username,
  public_metrics?}}``; ``public_metrics`` only when asked for; an unknown ``user.fields`` value
  gets the 400 ``invalid-request`` problem; a username starting with ``nosuch`` gets the HTTP 200
  partial error ``resource-not-found``, one starting with ``suspended`` the 200 "User has been
  suspended" error.  Numbers are X's current values ("now", the UTC day of the request).
* Auth: ``Authorization: Bearer`` with :data:`world.TOKEN` (an app-only Bearer Token) or a token this
  sandbox issued and that has not expired; anything else (``world.EXPIRED_TOKEN`` included) gets
  X's 401 ``{"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}``.
* Every authenticated answer carries ``x-rate-limit-limit``, ``x-rate-limit-remaining`` and
  ``x-rate-limit-reset`` (epoch seconds, end of the 15-minute window); over the limit (300 per
  window for an app token, 900 for a user token) the 429 "Too Many Requests" problem, no Retry-After.
* ``GET/POST /i/oauth2/authorize``: the consent page (PKCE required, a 127.0.0.1 callback) and its
  Allow/Deny answer (socialkpi.sandbox.oauth); ``GET /2/users/me``: the user of a user token
  (``cornerbakery``), X's 403 "Unsupported Authentication" for the App's Bearer Token.
* ``POST /2/oauth2/token`` (``grant_type=authorization_code``: a code issued by the consent page, once,
  with its PKCE verifier; ``grant_type=refresh_token``): a public client sends ``client_id`` in
  the form, a confidential one HTTP Basic.  Refresh tokens starting with ``sandbox-refresh`` or
  issued here are accepted once (X rotates them); a reused or unknown one gets
  ``{"error": "invalid_request", "error_description": "Value passed for the token was invalid."}``.
  Access tokens last 7200 s.

Numbers: :func:`followers_for` and :func:`tweets_for`, pure functions of the world.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import uuid
from datetime import date
from typing import Any

from socialkpi.sandbox import oauth, world
from socialkpi.sandbox.limits import Window
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "x"
FOLLOWERS_BASE = 1320
TWEETS_BASE = 870
WINDOW = 15 * 60
APP_LIMIT, USER_LIMIT = 300, 900
ACCESS_TTL = 7200
SCOPE = "tweet.read users.read offline.access"
USER_FIELDS = frozenset(
    (
        "affiliation",
        "confirmed_email",
        "connection_status",
        "created_at",
        "description",
        "entities",
        "id",
        "is_identity_verified",
        "location",
        "most_recent_tweet_id",
        "name",
        "parody",
        "pinned_tweet_id",
        "profile_banner_url",
        "profile_image_url",
        "protected",
        "public_metrics",
        "receives_your_dm",
        "subscription",
        "subscription_type",
        "url",
        "username",
        "verified",
        "verified_followers_count",
        "verified_type",
        "withheld",
    )
)

_lock = threading.Lock()
_access: dict[str, float] = {}  # issued access token -> expiry (epoch)
_refresh_ok: set[str] = set()  # issued refresh tokens not used yet
_refresh_used: set[str] = set()  # refresh tokens already exchanged (rotated away)
_owner: dict[str, str] = {}  # user access token -> the username it belongs to
OWN_ACCOUNT = "cornerbakery"  # the user who signs in on the consent page
CALLS = Window(WINDOW)  # requests per token in its 15-minute window
WINDOWS = (CALLS,)


# -- the world's numbers -------------------------------------------------------------------------
def _account(username: str) -> tuple[str, str]:
    """(the account id as the world knows it, display name) for a username, case-insensitively."""
    for acc in world.DEMO_ACCOUNTS:
        if acc.platform == PLATFORM and acc.id.lower() == username.lower():
            return acc.id, acc.name
    return username, username.replace("_", " ").title()


def followers_for(username: str, day: date) -> int:
    return world.followers(PLATFORM, _account(username)[0], day, FOLLOWERS_BASE)


def tweets_for(username: str, day: date) -> int:
    return world.followers(PLATFORM, _account(username)[0], day, TWEETS_BASE)


def _user_id(username: str) -> str:
    digest = hashlib.blake2b(username.lower().encode(), digest_size=8).digest()
    return str(1_400_000_000_000_000_000 + int.from_bytes(digest, "big") % 10**17)


# -- replies -------------------------------------------------------------------------------------
def _problem(status: int, title: str, detail: str, kind: str = "about:blank", **extra: Any) -> Reply:
    return Reply(status, {"title": title, "type": kind, "status": status, "detail": detail, **extra})


def _invalid(parameter: str, value: str, why: str, headers: dict[str, str]) -> Reply:
    """X's 400 ``invalid-request`` problem for one bad query or path parameter."""
    body = {
        "errors": [
            {"parameters": {parameter: [value]}, "message": f"The `{parameter}` query parameter value [{value}] {why}"}
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.x.com/2/problems/invalid-request",
    }
    return Reply(400, body, headers)


def _unauthorized() -> Reply:
    return _problem(401, "Unauthorized", "Unauthorized")


def _authorize(request: Request) -> tuple[str, int] | Reply:
    """(token, limit) for a valid bearer, else X's 401."""
    token = request.bearer()
    if token == world.TOKEN:
        return token, APP_LIMIT
    with _lock:
        expiry = _access.get(token or "")
    if token and expiry is not None and expiry > time.time():
        return token, USER_LIMIT
    return _unauthorized()


def _count(token: str, limit: int) -> tuple[dict[str, str], bool]:
    """Rate-limit headers for this call, and whether it is over the window's limit."""
    used, reset = CALLS.hit(token)
    headers = {
        "x-rate-limit-limit": str(limit),
        "x-rate-limit-remaining": str(max(0, limit - used)),
        "x-rate-limit-reset": str(int(reset)),
    }
    return headers, used > limit


def user_by_username(request: Request) -> Reply:
    auth = _authorize(request)
    if isinstance(auth, Reply):
        return auth
    headers, over = _count(*auth)
    if over:
        reply = _problem(429, "Too Many Requests", "Too Many Requests")
        reply.headers.update(headers)
        return reply
    username = request.groups[0]
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", username):
        return _invalid("username", username, "does not match ^[A-Za-z0-9_]{1,15}$", headers)
    fields = [f for f in (request.arg("user.fields") or "").split(",") if f]
    bad = [f for f in fields if f not in USER_FIELDS]
    if bad:
        return _invalid("user.fields", bad[0], f"is not one of [{','.join(sorted(USER_FIELDS))}]", headers)
    lowered = username.lower()
    if lowered.startswith(("nosuch", "suspended")):
        detail = (
            f"Could not find user with username: [{username}]."
            if lowered.startswith("nosuch")
            else f"User has been suspended: [{username}]."
        )
        error = {
            "value": username,
            "detail": detail,
            "title": "Not Found Error" if lowered.startswith("nosuch") else "Forbidden",
            "resource_type": "user",
            "parameter": "username",
            "resource_id": username,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
        return Reply(200, {"errors": [error]}, headers)
    account_id, name = _account(username)
    today = world.now().date()
    user: dict[str, Any] = {"id": _user_id(account_id), "name": name, "username": account_id}
    if "public_metrics" in fields:
        user["public_metrics"] = {
            "followers_count": followers_for(username, today),
            "following_count": 150 + int(world._noise(PLATFORM, account_id, "following") * 200),
            "tweet_count": tweets_for(username, today),
            "listed_count": 3 + int(world._noise(PLATFORM, account_id, "listed") * 12),
            "like_count": world.followers(PLATFORM, account_id, today, 1560),
            "media_count": world.followers(PLATFORM, account_id, today, 203),
        }
    return Reply(200, {"data": user}, headers)


# -- OAuth 2.0 token endpoint ----------------------------------------------------------------------
def _oauth_error(error: str, description: str, status: int = 400) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


def _client_id(request: Request, form: dict[str, str]) -> str | None:
    auth = request.header("Authorization") or ""
    if auth.lower().startswith("basic "):
        try:
            pair = base64.b64decode(auth[6:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        client_id, _, secret = pair.partition(":")
        return client_id if client_id and secret else None
    return form.get("client_id") or None


def _issue_pair() -> dict[str, Any]:
    with _lock:
        access = f"x-sandbox-access-{uuid.uuid4().hex}"
        rotated = f"x-sandbox-refresh-{uuid.uuid4().hex}"
        _access[access] = time.time() + ACCESS_TTL
        _refresh_ok.add(rotated)
        _owner[access] = OWN_ACCOUNT
    return {"token_type": "bearer", "expires_in": ACCESS_TTL, "access_token": access, "scope": SCOPE,
            "refresh_token": rotated}


def _confidential_ok(request: Request) -> bool | None:
    """HTTP Basic with the sandbox app's id and secret: True; a wrong secret: False; no Basic header: None."""
    auth = request.header("Authorization") or ""
    if not auth.lower().startswith("basic "):
        return None
    try:
        pair = base64.b64decode(auth[6:]).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return pair == f"{oauth.CLIENT_ID}:{oauth.CLIENT_SECRET}"


def _code_grant(request: Request, form: dict[str, str]) -> Reply:
    """``grant_type=authorization_code`` (https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token,
    step 3): ``code``, ``redirect_uri``, ``code_verifier``, and ``client_id`` for a public client or HTTP Basic
    for a confidential one."""
    basic = _confidential_ok(request)
    if basic is False:
        return _oauth_error("unauthorized_client", "Missing valid authorization header", 401)
    client_id = oauth.CLIENT_ID if basic else form.get("client_id")
    if client_id is None:
        return _oauth_error("unauthorized_client", "Missing valid authorization header", 401)
    done = oauth.redeem(
        PLATFORM, form.get("code"), client_id=client_id, redirect_uri=form.get("redirect_uri"),
        verifier=form.get("code_verifier"),
    )
    if done.error:
        return _oauth_error("invalid_request", "Value passed for the authorization code was invalid.")
    return Reply(200, _issue_pair())


def consent(request: Request) -> Reply:
    """``GET https://x.com/i/oauth2/authorize``: PKCE is required, and the callback must be the registered one
    (X: "use http://127.0.0.1 instead of localhost")."""
    bad = oauth.check_authorize(request, platform="X", require_pkce=True)
    if bad is not None:
        return bad
    if "localhost" in (request.arg("redirect_uri") or ""):
        return oauth.error_page("X", "Something went wrong: the callback URL is not registered (use 127.0.0.1).")
    return oauth.consent_page(request, platform="X", title="Authorize socialkpi to access your X account?")


def decision(request: Request) -> Reply:
    return oauth.decide(request, platform=PLATFORM)


def users_me(request: Request) -> Reply:
    """``GET /2/users/me``: the user of a user-context token; the App's Bearer Token gets X's 403."""
    token = request.bearer()
    if token == world.TOKEN:
        return _problem(403, "Unsupported Authentication", "Authenticating with OAuth 2.0 Application-Only is "
                        "forbidden for this endpoint.  Supported authentication types are [OAuth 1.0a User "
                        "Context, OAuth 2.0 User Context].", "https://api.twitter.com/2/problems/unsupported-authentication")
    auth = _authorize(request)
    if isinstance(auth, Reply):
        return auth
    with _lock:
        username = _owner.get(auth[0], OWN_ACCOUNT)
    request.groups = (username,)
    return user_by_username(request)


def token(request: Request) -> Reply:
    form = request.form()
    if form.get("grant_type") == "authorization_code":
        return _code_grant(request, form)
    if form.get("grant_type") != "refresh_token":
        return _oauth_error("invalid_request", "Value passed for the grant type was invalid.")
    if _client_id(request, form) is None:
        return _oauth_error("unauthorized_client", "Missing valid authorization header", 401)
    refresh = form.get("refresh_token", "")
    with _lock:
        known = refresh in _refresh_ok or (refresh.startswith("sandbox-refresh") and refresh not in _refresh_used)
        if not known:
            return _oauth_error("invalid_request", "Value passed for the token was invalid.")
        _refresh_ok.discard(refresh)
        _refresh_used.add(refresh)
        access = f"x-sandbox-access-{uuid.uuid4().hex}"
        rotated = f"x-sandbox-refresh-{uuid.uuid4().hex}"
        _access[access] = time.time() + ACCESS_TTL
        _refresh_ok.add(rotated)
    return Reply(
        200,
        {
            "token_type": "bearer",
            "expires_in": ACCESS_TTL,
            "access_token": access,
            "scope": SCOPE,
            "refresh_token": rotated,
        },
    )


ROUTES = [
    ("GET", r"/2/users/by/username/([^/]+)", user_by_username),
    ("POST", r"/2/oauth2/token", token),
    ("GET", r"/2/users/me", users_me),
    ("GET", r"/i/oauth2/authorize", consent),
    ("POST", r"/i/oauth2/authorize", decision),
]
