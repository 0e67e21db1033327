"""Sandbox part: TikTok's Display API ``GET /v2/user/info/`` and ``POST /v2/oauth/token/``.

Answers as https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info documents it:

* ``/v2/user/info/?fields=...``: ``{"data": {"user": {<only the fields asked>}}, "error": {"code": "ok",
  "message": "", "log_id": ...}}``: the ``error`` object is there on success too.  Counts are JSON
  integers.  An unknown field gets 400 ``invalid_params``; no ``fields`` likewise.
* Auth (``Authorization: Bearer``): ``world.TOKEN`` (or a token this part issued) is the demo account
  :data:`USERNAME`; :data:`OTHER_USER_TOKEN` is another account; :data:`BASIC_ONLY_TOKEN` has only
  ``user.info.basic`` (asking a profile or stats field gets 401 ``scope_not_authorized``);
  ``world.EXPIRED_TOKEN`` and anything else get 401 ``access_token_invalid``.  Errors use the v2
  envelope ``{"data": {}, "error": {"code", "message", "log_id"}}``.
* Throttling: 429 ``rate_limit_exceeded`` with no rate-limit headers (TikTok documents none): see
  :func:`throttled`.
* ``/v2/oauth/token/`` (form body ``client_key``, ``client_secret``, ``grant_type=refresh_token``,
  ``refresh_token``): a new 24-hour access token and a rotated refresh token at the top level; a refresh
  token starting ``rft.revoked`` gets 400 ``{"error": "invalid_grant", "error_description", "log_id"}``,
  a wrong client 401 ``invalid_client``.  Both the part's own app (:data:`CLIENT_KEY`) and the sandbox's
  OAuth app (``oauth.CLIENT_ID``, what ``socialkpi connect tiktok`` stores) are known clients.

Login Kit for Desktop (``socialkpi connect tiktok``; https://developers.tiktok.com/doc/login-kit-desktop):

* ``GET /v2/auth/authorize/?client_key=&scope=&response_type=code&redirect_uri=&state=&code_challenge=
  &code_challenge_method=S256``: the consent page.  "Only localhost or loopback IP 127.0.0.1 are allowed
  host names in URI", "URIs must have a port number"; scope "A comma (,) separated string"; PKCE is
  required for desktop apps and "code_challenge_method [...] should always be set to S256".  A wrong
  request gets an error page, not a redirect.
* ``POST /v2/auth/authorize/`` (the page's form): Allow redirects to ``redirect_uri?code=&scopes=&state=``
  (the doc's "Manage authorization response"), Deny to ``?error=access_denied&error_description=&state=``.
  Codes look like TikTok's (they end in ``*0!6431.e1``; the redirect URL-encodes them) and are good once,
  for 10 minutes (socialkpi.sandbox.oauth).  The challenge is checked as TikTok desktop computes it: "You
  must use hex encoding of SHA256 to generate the code challenge from the code verifier" (``S256-hex``),
  although the request says ``S256``.
* ``POST /v2/oauth/token/`` with ``grant_type=authorization_code`` (form ``client_key``, ``client_secret``,
  ``code`` URL-decoded, ``redirect_uri`` the same as asked, ``code_verifier``;
  https://developers.tiktok.com/doc/oauth-user-access-token-management): ``{access_token, expires_in: 86400,
  open_id, refresh_expires_in: 31536000, refresh_token, scope, token_type: "Bearer"}``; its errors are the
  OAuth struct ``{"error", "error_description", "log_id"}`` (https://developers.tiktok.com/doc/oauth-error-handling)
  sent with HTTP 200, as TikTok's token endpoint does ("TikTok API can return HTTP 200 with an error JSON body
  (e.g. {"error": "invalid_client", ...})", github.com/HohnerJulian/ResearchTikPy pull #28): a used, expired or
  unknown code ``invalid_grant``, a wrong key or secret ``invalid_client``, a verifier that does not match
  ``invalid_request`` "Code verifier or code challenge is invalid.".  The access token it issues is the world's
  own account :data:`USERNAME` on ``/v2/user/info/``, with the scopes the consent granted.

Use :func:`followers_on` and :func:`videos_on` to compute what the sandbox serves (the tests do).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from socialkpi.sandbox import oauth, world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "tiktok"
USERNAME = "cornerbakery.lyon"  # the demo account world.TOKEN belongs to
OTHER_USERNAME = "rival.patisserie"
OTHER_USER_TOKEN = "act.sandbox-tiktok-other-user"  # noqa: S105
BASIC_ONLY_TOKEN = "act.sandbox-tiktok-basic-only"  # noqa: S105
CLIENT_KEY = "awsandboxclientkey"
CLIENT_SECRET = "sandbox-tiktok-secret"  # noqa: S105
FOLLOWERS_BASE = 9800.0
ALL_SCOPES = frozenset({"user.info.basic", "user.info.profile", "user.info.stats"})
FIELD_SCOPES: dict[str, str] = {
    "open_id": "user.info.basic",
    "union_id": "user.info.basic",
    "avatar_url": "user.info.basic",
    "display_name": "user.info.basic",
    "bio_description": "user.info.profile",
    "profile_deep_link": "user.info.profile",
    "is_verified": "user.info.profile",
    "username": "user.info.profile",
    "follower_count": "user.info.stats",
    "following_count": "user.info.stats",
    "likes_count": "user.info.stats",
    "video_count": "user.info.stats",
}

CLIENTS = {CLIENT_KEY: CLIENT_SECRET, oauth.CLIENT_ID: oauth.CLIENT_SECRET}  # client key -> secret
CODE_TAIL = "*0!6431.e1"  # TikTok's codes end like "...Iw*1!6431.u1": characters a redirect URL-encodes
ACCESS_TTL, REFRESH_TTL = 86400, 31536000  # oauth-user-access-token-management: 24 hours, 365 days

_issued: dict[str, str] = {}  # access token -> username
_granted: dict[str, frozenset[str]] = {}  # access token issued by the consent -> the scopes granted
_lock = threading.Lock()


# -- the world's numbers ---------------------------------------------------------------------------
def _today() -> date:
    return world.now().date()


def followers_on(username: str, day: date) -> int:
    return world.followers(PLATFORM, username, day, FOLLOWERS_BASE)


def videos_on(username: str, day: date) -> int:
    """Public videos to date: about one every nine days since 2024."""
    return 12 + max(0, (day - date(2024, 1, 1)).days) // 9


def _open_id(username: str) -> str:
    return "-000" + hashlib.blake2b(username.encode(), digest_size=8).hexdigest()


def user_for(username: str, day: date | None = None) -> dict[str, Any]:
    day = day or _today()
    return {
        "open_id": _open_id(username),
        "union_id": "c9c" + _open_id(username)[4:],
        "avatar_url": f"https://p16-sign.tiktokcdn.com/sandbox/{username}.jpeg",
        "display_name": "Corner Bakery Lyon" if username == USERNAME else username.replace(".", " ").title(),
        "bio_description": "Pains, viennoiseries et gâteaux depuis 2012",
        "profile_deep_link": f"https://vm.tiktok.com/sandbox-{username}/",
        "is_verified": False,
        "username": username,
        "follower_count": followers_on(username, day),
        "following_count": 312,
        "likes_count": 7 * followers_on(username, day),
        "video_count": videos_on(username, day),
    }


# -- replies ---------------------------------------------------------------------------------------
def _log_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:18].upper()


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"data": {}, "error": {"code": code, "message": message, "log_id": _log_id()}})


def throttled() -> Reply:
    """TikTok's 429: over 600 requests a minute on this endpoint; no rate-limit headers."""
    return _error(429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later.")


def _owner(request: Request) -> tuple[str, frozenset[str]] | None:
    token = request.bearer()
    if token == world.TOKEN:
        return USERNAME, ALL_SCOPES
    if token == OTHER_USER_TOKEN:
        return OTHER_USERNAME, ALL_SCOPES
    if token == BASIC_ONLY_TOKEN:
        return USERNAME, frozenset({"user.info.basic"})
    with _lock:
        username = _issued.get(token or "")
        scopes = _granted.get(token or "", ALL_SCOPES)
    return (username, scopes) if username else None


def user_info(request: Request) -> Reply:
    owner = _owner(request)
    if owner is None:  # world.EXPIRED_TOKEN, a revoked one, none at all
        return _error(401, "access_token_invalid", "The access token is invalid or not found in the request.")
    username, scopes = owner
    fields = [f.strip() for f in (request.arg("fields") or "").split(",") if f.strip()]
    if not fields:
        return _error(400, "invalid_params", "fields is required.")
    for name in fields:
        if name not in FIELD_SCOPES:
            return _error(400, "invalid_params", f"Invalid field: {name}")
    if any(FIELD_SCOPES[f] not in scopes for f in fields):
        return _error(
            401,
            "scope_not_authorized",
            "The user did not authorize the scope required for completing this request.",
        )
    user = user_for(username)
    return Reply(
        200,
        {"data": {"user": {f: user[f] for f in fields}}, "error": {"code": "ok", "message": "", "log_id": _log_id()}},
    )


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "error_description": description, "log_id": _log_id()})


def token(request: Request) -> Reply:
    form = request.form()
    if form.get("grant_type") == "authorization_code":
        return _code_grant(form)
    if CLIENTS.get(form.get("client_key", "")) != form.get("client_secret"):
        return _oauth_error(401, "invalid_client", "Client key or secret is incorrect.")
    if form.get("grant_type") != "refresh_token":
        return _oauth_error(400, "unsupported_grant_type", "The grant type is not supported.")
    refresh = form.get("refresh_token", "")
    if not refresh.startswith("rft.") or refresh.startswith("rft.revoked"):
        return _oauth_error(400, "invalid_grant", "Refresh token is invalid or expired.")
    access = f"act.sandbox-{uuid.uuid4().hex}"
    with _lock:
        _issued[access] = USERNAME
    return Reply(
        200,
        {
            "access_token": access,
            "expires_in": 86400,
            "open_id": _open_id(USERNAME),
            "refresh_expires_in": 31536000,
            "refresh_token": f"rft.sandbox-{uuid.uuid4().hex}",
            "scope": "user.info.basic,user.info.profile,user.info.stats",
            "token_type": "Bearer",
        },
    )


# -- Login Kit for Desktop: the consent page and the code grant -------------------------------------
def consent(request: Request) -> Reply:
    """``GET https://www.tiktok.com/v2/auth/authorize/``: TikTok's checks, then the Allow/Deny page."""
    bad = oauth.check_authorize(request, platform="TikTok", client_id_param="client_key", require_pkce=True)
    if bad is not None:
        return bad
    if urlsplit(request.arg("redirect_uri") or "").port is None:
        return oauth.error_page("TikTok", "redirect_uri: URIs must have a port number.")
    if request.arg("code_challenge_method") != "S256":
        return oauth.error_page("TikTok", "code_challenge_method: this value should always be set to S256.")
    scopes = (request.arg("scope") or "").split(",")
    unknown = [s for s in scopes if s not in ALL_SCOPES]
    if unknown:  # a space-separated list is one unknown scope
        return oauth.error_page("TikTok", f"Something went wrong: scope {unknown[0]!r} is not valid for this app.")
    return oauth.consent_page(
        request,
        platform="TikTok",
        title="socialkpi (sandbox app) would like to access your TikTok account",
        scope=", ".join(scopes),
    )


def decision(request: Request) -> Reply:
    """Allow: ``redirect_uri?code=...&scopes=...&state=...``; Deny: ``?error=access_denied&...&state=...``."""
    form = request.form()
    redirect_uri = form.get("redirect_uri", "")
    if form.get("decision") == "allow":
        code = oauth.issue(
            PLATFORM,
            client_id=form.get("client_key", ""),
            redirect_uri=redirect_uri,
            scope=form.get("scope", ""),
            challenge=form.get("code_challenge"),
            method="S256-hex",  # what the desktop flow computes, whatever code_challenge_method says
        )
        query = {"code": code + CODE_TAIL, "scopes": form.get("scope", "")}
    else:
        query = {"error": "access_denied", "error_description": "The user denied the authorization request."}
    if form.get("state") is not None:
        query["state"] = form["state"]
    return Reply(302, b"", {"Location": redirect_uri + "?" + urlencode(query), "Content-Type": "text/html"})


def _code_grant(form: dict[str, str]) -> Reply:
    """``grant_type=authorization_code``; errors as TikTok's token endpoint sends them: HTTP 200, the OAuth struct."""
    client_key = form.get("client_key", "")
    if client_key not in CLIENTS or CLIENTS[client_key] != form.get("client_secret"):
        return _oauth_error(200, "invalid_client", "Client key or secret is incorrect.")
    code = form.get("code", "")
    if not code.endswith(CODE_TAIL):  # an unknown code, or one still URL-encoded ("%2A0%21...")
        return _oauth_error(200, "invalid_grant", "Authorization code is invalid.")
    done = oauth.redeem(
        PLATFORM,
        code.removesuffix(CODE_TAIL),
        client_id=client_key,
        redirect_uri=form.get("redirect_uri"),
        verifier=form.get("code_verifier"),
    )
    if done.error in ("unknown_code", "used", "expired", "client"):
        return _oauth_error(200, "invalid_grant", "Authorization code is expired.")
    if done.error == "redirect_uri":
        return _oauth_error(200, "invalid_grant", "Redirect URI does not match the authorization request.")
    if done.error == "pkce":
        return _oauth_error(200, "invalid_request", "Code verifier or code challenge is invalid.")
    assert done.issued is not None
    granted = frozenset(s for s in done.issued.scope.split(",") if s)
    access = f"act.sandbox-{uuid.uuid4().hex}"
    with _lock:
        _issued[access] = USERNAME
        _granted[access] = granted
    return Reply(
        200,
        {
            "access_token": access,
            "expires_in": ACCESS_TTL,
            "open_id": _open_id(USERNAME),
            "refresh_expires_in": REFRESH_TTL,
            "refresh_token": f"rft.sandbox-{uuid.uuid4().hex}",
            "scope": ",".join(sorted(granted)),
            "token_type": "Bearer",
        },
    )


ROUTES = [
    ("GET", r"/v2/user/info/", user_info),
    ("POST", r"/v2/oauth/token/", token),
    ("GET", r"/v2/auth/authorize/", consent),
    ("POST", r"/v2/auth/authorize/", decision),
]
