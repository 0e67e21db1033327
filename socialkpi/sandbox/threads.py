"""Sandbox part: the Threads API (graph.threads.net) for Corner Bakery's Threads profile.

Answers as https://developers.facebook.com/documentation/threads/insights documents it:

* ``GET /v1.0/me?fields=...``: the token's own profile, the fields asked.
* ``GET /v1.0/{user-id}/threads_insights?metric=...&since=&until=`` (unix seconds; default: the last
  24 h): ``views`` (profile views) as a daily ``values`` series whose ``end_time`` is the next Pacific
  midnight printed in UTC (a day without views is left out), ``likes``, ``replies``, ``reposts``,
  ``quotes`` and ``clicks`` as one ``total_value`` over the range, ``followers_count`` as the current
  ``total_value`` whatever the range; ``paging`` links embedding ``access_token`` as the real ones do.
  A ``since`` before 2024-04-13 (1712991600) and an unknown metric get Meta's ``(#100)``.
* ``GET /v1.0/profile_lookup?username=`` (Profile Discovery API): the documented fields (``follower_count``
  and the 7-day ``likes_count``, ``quotes_count``, ``replies_count``, ``reposts_count``, ``views_count``);
  an unknown username gets ``(#100)``.
* ``GET /refresh_access_token?grant_type=th_refresh_token&access_token=`` (also routed as ``GET /token``,
  where ``SOCIALKPI_THREADS_TOKEN_URL`` points in the demo): a new 60-day token the other routes accept
  from then on; ``world.EXPIRED_TOKEN`` and unknown tokens get code 190.

Errors use Meta's envelope: 190/463 for ``world.EXPIRED_TOKEN``, 190 for any other wrong token, 100/33 for
a user id the token cannot see.  Use :func:`value_for`, :func:`followers_on` and :func:`engagements_for`
to compute what the sandbox serves (the tests do).

``socialkpi connect threads`` (https://developers.facebook.com/documentation/threads/get-started/get-access-tokens-and-permissions
and https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/):

* ``GET /oauth/authorize?client_id=&redirect_uri=&scope=&response_type=code&state=`` (threads.com; "All
  parameters except state are required", "scope [...] comma-separated or space-separated list [...]
  threads_basic is required"): the Allow/Deny page of :mod:`socialkpi.sandbox.oauth`.  The redirect URI must
  be an ``https://`` loopback address (Meta's sample README: "OAuth redirects are only supported over
  HTTPS").  What the page shows instead of a consent for a wrong request is the flat JSON of
  github.com/fbsamples/threads_api issues #17 and #14 (``{"error_message", "error_code": 1349026}`` for an
  unknown app id).  ``POST /oauth/authorize`` (the form): Allow redirects to
  ``redirect_uri?code=...&state=...#_`` ("#_ will be appended to the end of the redirect URI, but it is
  not part of the code itself"); Deny with Facebook Login's ``error=access_denied&error_code=200&
  error_description=Permissions+error&error_reason=user_denied`` (Threads' own denial is not documented).
* ``POST /oauth/access_token`` (form or query: ``client_id``, ``client_secret``, ``code``,
  ``grant_type=authorization_code``, ``redirect_uri``): ``{"access_token", "user_id"}`` (a short-lived,
  one-hour token; ``user_id`` sent as a JSON number, as the API also does, though the Postman example shows
  a string).  Errors in Meta's envelope, with Facebook's texts for the same failures (the Threads ones are
  not documented): "Error validating client secret." (code 1), "Error validating application. Invalid
  application ID." (101), "This authorization code has been used." (100/36009), "This authorization code
  has expired." (100/36007), the redirect_uri mismatch (100/36008).
* ``GET /access_token?grant_type=th_exchange_token&client_secret=&access_token=<short-lived>``:
  ``{"access_token", "token_type": "bearer", "expires_in": 5183944}`` (the 60-day token); a long-lived,
  unknown or expired token gets code 190 ("Expired short-lived tokens cannot be exchanged").
* Tokens issued this way carry the scopes granted on the consent page: without ``threads_manage_insights``
  the insights get ``(#10)``, without ``threads_profile_discovery`` ``profile_lookup`` does; ``world.TOKEN``
  may do everything.  Refreshed tokens keep the scopes of the token they replace.

``/oauth/authorize`` and ``/oauth/access_token`` are also other platforms' paths (Mastodon's consent page is
``/oauth/authorize``): a request that is not a Threads one (no ``threads_`` scope, a code this part did not
issue) is passed on to the next sandbox part that has the same route.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
import time as clock
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from socialkpi.sandbox import oauth, world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "threads"
PACIFIC = ZoneInfo("America/Los_Angeles")
OWN_ID = "7812345678901234"  # Corner Bakery's Threads user id
USERNAME = "cornerbakerylyon"
FLOOR = 1712991600  # 2024-04-13 00:00 PDT: since/until do not work before it
FOLLOWERS_BASE = 620.0
TOKEN_LIFETIME = 5183944  # seconds, as the docs' example answers
NO_DATA_DAYS = frozenset({date(2026, 3, 3)})  # no profile view and no interaction that day
UNKNOWN_USERNAMES = frozenset({"no_such_bakery"})

# Current user metrics (https://developers.facebook.com/documentation/threads/insights):
# (description, daily base, kind).
METRICS: dict[str, tuple[str, float, str]] = {
    "views": ("The number of times your profile was viewed.", 14, "series"),
    "likes": ("The number of likes on your posts.", 9, "total"),
    "replies": ("The number of replies on your posts.", 2.2, "total"),
    "reposts": ("The number of times your posts were reposted.", 1.1, "total"),
    "quotes": ("The number of times your posts were quoted.", 0.6, "total"),
    "clicks": ("The number of clicks on links in your posts.", 3, "total"),
    "followers_count": ("Your total number of followers on Threads.", 0, "level"),
}

SHORT_LIFETIME = 3600  # "Threads user access tokens are short-lived and are valid for one hour."
PERMISSIONS = frozenset(
    {
        "threads_basic",
        "threads_content_publish",
        "threads_delete",
        "threads_keyword_search",
        "threads_location_tagging",
        "threads_manage_insights",
        "threads_manage_mentions",
        "threads_manage_replies",
        "threads_profile_discovery",
        "threads_read_replies",
    }
)

_issued: set[str] = set()
_short: dict[str, float] = {}  # short-lived token (from the code grant) -> its end (epoch)
_scopes: dict[str, frozenset[str]] = {}  # a token issued through the consent page -> the scopes granted
_issued_lock = threading.Lock()


# -- the world's numbers ----------------------------------------------------------------------------
def followers_on(account: str, day: date) -> int:
    """Followers of the own profile (by id) or of a competitor (by username) on ``day``."""
    return world.followers(PLATFORM, account, day, FOLLOWERS_BASE)


def value_for(account: str, metric: str, day: date) -> int:
    """A daily metric on Pacific ``day`` (0 on a day without data)."""
    if day in NO_DATA_DAYS:
        return 0
    return world.daily(PLATFORM, account, metric, day, METRICS[metric][1])


def engagements_for(account: str, day: date) -> int:
    return sum(value_for(account, m, day) for m in ("likes", "replies", "reposts", "quotes"))


# -- auth and errors ------------------------------------------------------------------------------------
def _error(status: int, code: int, message: str, *, subcode: int | None = None, **extra: Any) -> Reply:
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err.update(extra)
    err["fbtrace_id"] = "AtHrEaDsTrAcE01"
    return Reply(status, {"error": err})


def _valid(token: str) -> bool:
    with _issued_lock:
        return token == world.TOKEN or token in _issued or _short.get(token, 0.0) > clock.time()


def _lacks(token: str, permission: str) -> Reply | None:
    """Meta's ``(#10)`` when ``token`` came from a consent that did not grant ``permission``."""
    with _issued_lock:
        granted = _scopes.get(token)
    if granted is None or permission in granted:
        return None
    return _error(
        400, 10, f"(#10) Application does not have permission for this action ({permission})", type="THApiException"
    )


def _auth(request: Request) -> tuple[str, Reply | None]:
    token = request.bearer() or request.arg("access_token") or ""
    if _valid(token):
        return token, None
    if not token:
        return token, _error(400, 104, "An access token is required to request this resource.")
    if token == world.EXPIRED_TOKEN:
        return token, _error(
            400,
            190,
            "Error validating access token: Session has expired on Tuesday, 03-Mar-26 10:00:00 PST. "
            "The current time is Wednesday, 04-Mar-26 02:13:07 PST.",
            subcode=463,
        )
    return token, _error(400, 190, "Invalid OAuth access token - Cannot parse access token")


def _usage_headers(calls: int = 2) -> dict[str, str]:
    return {"X-App-Usage": json.dumps({"call_count": calls, "total_cputime": 1, "total_time": 1})}


# -- profile ----------------------------------------------------------------------------------------------
def me_handler(request: Request) -> Reply:
    _, refused = _auth(request)
    if refused:
        return refused
    known = {
        "id": OWN_ID,
        "username": USERNAME,
        "name": "Corner Bakery",
        "threads_profile_picture_url": "https://scontent-sjc3-1.cdninstagram.com/link/to/profile/picture/on/threads/",
        "threads_biography": "Sourdough, croissants and galettes since 2012. Lyon 1er.",
        "is_verified": False,
    }
    fields = [f for f in (request.arg("fields") or "id").split(",") if f]
    body = {f: known[f] for f in fields if f in known}
    body["id"] = OWN_ID
    return Reply(200, body, _usage_headers())


def profile_lookup_handler(request: Request) -> Reply:
    token, refused = _auth(request)
    if refused:
        return refused
    missing = _lacks(token, "threads_profile_discovery")
    if missing:
        return missing
    username = request.arg("username") or ""
    if not username:
        return _error(400, 100, "(#100) The parameter username is required")
    if username in UNKNOWN_USERNAMES or not re.fullmatch(r"[A-Za-z0-9._]{1,30}", username):
        return _error(400, 100, f"(#100) Unsupported get request. No public profile matches the username {username}")
    today = world.now().date()
    week = [today - timedelta(days=n) for n in range(1, 8)]
    counts = {m: sum(value_for(username, m, d) for d in week) for m in ("likes", "quotes", "replies", "reposts")}
    return Reply(
        200,
        {
            "username": username,
            "name": username.replace(".", " ").replace("_", " ").title(),
            "profile_picture_url": "https://scontent-sjc3-1.cdninstagram.com/link/to/profile/picture/on/threads/",
            "biography": "Pâtisserie fine, Lyon.",
            "is_verified": False,
            "follower_count": followers_on(username, today),
            "likes_count": counts["likes"],
            "quotes_count": counts["quotes"],
            "replies_count": counts["replies"],
            "reposts_count": counts["reposts"],
            "views_count": sum(world.daily(PLATFORM, username, "post_views", d, 240) for d in week),
        },
        _usage_headers(),
    )


# -- insights ---------------------------------------------------------------------------------------------
def _end_time(day: date) -> str:
    end = datetime.combine(day + timedelta(days=1), time(0), PACIFIC).astimezone(UTC)
    return end.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _days(since: int, until: int) -> list[date]:
    first = datetime.fromtimestamp(since, PACIFIC).date()
    last = datetime.fromtimestamp(until - 1, PACIFIC).date()
    ended = world.now().astimezone(PACIFIC).date() - timedelta(days=1)
    out, day = [], first
    while day <= min(last, ended):
        out.append(day)
        day += timedelta(days=1)
    return out


def insights_handler(request: Request) -> Reply:
    token, refused = _auth(request)
    if refused:
        return refused
    missing = _lacks(token, "threads_manage_insights")
    if missing:
        return missing
    user_id = request.groups[0]
    if user_id != OWN_ID:
        return _error(
            400,
            100,
            f"Unsupported get request. Object with ID '{user_id}' does not exist, cannot be loaded due to missing "
            "permissions, or does not support this operation.",
            subcode=33,
            type="THApiException",
        )
    names = [m for m in (request.arg("metric") or "").split(",") if m]
    if not names:
        return _error(400, 100, "(#100) The parameter metric is required")
    for index, name in enumerate(names):
        if name not in METRICS:
            return _error(400, 100, f"(#100) metric[{index}] must be one of the following values: {', '.join(METRICS)}")
    now = int(datetime.now(UTC).timestamp())
    try:
        until = int(request.arg("until") or now)
        since = int(request.arg("since") or until - 86400)
    except ValueError:
        return _error(400, 100, "(#100) since and until must be unix timestamps")
    if since < FLOOR or until < FLOOR:
        return _error(400, 100, f"(#100) The since and until parameters must be on or after {FLOOR}")
    if until <= since:
        return _error(400, 100, "(#100) The since parameter must be before the until parameter")
    days = _days(since, until)
    data: list[dict[str, Any]] = []
    for name in names:
        description, _, kind = METRICS[name]
        entry: dict[str, Any] = {"name": name, "period": "day", "title": name, "description": description}
        if kind == "series":
            entry["values"] = [
                {"value": value_for(OWN_ID, name, d), "end_time": _end_time(d)}
                for d in days
                if value_for(OWN_ID, name, d)
            ]
        elif kind == "level":
            entry["total_value"] = {"value": followers_on(OWN_ID, world.now().date())}
        else:
            entry["total_value"] = {"value": sum(value_for(OWN_ID, name, d) for d in days)}
        entry["id"] = f"{OWN_ID}/insights/{name}/day"
        data.append(entry)
    base = f"{request.base_url}{request.path}"
    span = until - since
    common = {"metric": ",".join(names), "access_token": token}
    paging = {
        "previous": base + "?" + urlencode({**common, "since": since - span, "until": since}),
        "next": base + "?" + urlencode({**common, "since": until, "until": until + span}),
    }
    return Reply(200, {"data": data, "paging": paging}, _usage_headers())


# -- token refresh ----------------------------------------------------------------------------------------
def refresh_handler(request: Request) -> Reply:
    if request.arg("grant_type") != "th_refresh_token":
        return _error(400, 100, "(#100) grant_type must be th_refresh_token")
    token = request.arg("access_token") or ""
    if not _valid(token):
        _, refused = _auth(Request("GET", request.path, {"access_token": [token]}, {}, b""))
        return refused or _error(400, 190, "Invalid OAuth access token - Cannot parse access token")
    new = f"THQWsandbox{uuid.uuid4().hex}"
    with _issued_lock:
        _issued.add(new)
        if token in _scopes:
            _scopes[new] = _scopes[token]
    return Reply(200, {"access_token": new, "token_type": "bearer", "expires_in": TOKEN_LIFETIME})


# -- socialkpi connect threads: the authorization window, the code grant, the 60-day exchange -------------
def _scope_list(text: str | None) -> list[str]:
    """ "comma-separated or space-separated list" of permissions."""
    return [s for s in re.split(r"[,\s]+", text or "") if s]


def _is_threads(scopes: list[str]) -> bool:
    return any(s.startswith("threads_") for s in scopes)


def _pass_on(request: Request, fallback: Callable[[Request], Reply]) -> Reply:
    """The answer of the next sandbox part with this route (another platform's request), else ``fallback``'s."""
    from socialkpi.sandbox.server import PARTS

    for name in PARTS[PARTS.index(__name__) + 1 :] if __name__ in PARTS else ():
        for method, pattern, handler in importlib.import_module(name).ROUTES:
            match = re.fullmatch(pattern, request.path) if method == request.method else None
            if match:
                request.groups = match.groups()
                return handler(request)
    return fallback(request)


def _window_error(message: str, code: int) -> Reply:
    """What the authorization window shows instead of a consent (issues #14, #17 of fbsamples/threads_api)."""
    return Reply(400, {"error_message": message, "error_code": code})


def _https_loopback(redirect_uri: str | None) -> bool:
    return oauth.loopback(redirect_uri) and (redirect_uri or "").startswith("https://")


def consent(request: Request) -> Reply:
    """``GET https://threads.com/oauth/authorize``: the consent page, or the window's flat JSON error."""
    scopes = _scope_list(request.arg("scope"))
    if not _is_threads(scopes):
        return _pass_on(request, _consent)
    return _consent(request)


def _consent(request: Request) -> Reply:
    scopes = _scope_list(request.arg("scope"))
    if request.arg("client_id") != oauth.CLIENT_ID:
        return _window_error(
            "No application data was given: There was a problem getting data for an application. The application "
            "may not be valid or there is a temporary glitch. Please try again later.",
            1349026,
        )
    # the sandbox's own wording from here on (what Threads shows for these is not documented)
    if not _https_loopback(request.arg("redirect_uri")):
        return oauth.error_page(
            "Threads", "The redirect_uri is not one of the app's Redirect Callback URLs (https only)."
        )
    if request.arg("response_type") != "code":
        return oauth.error_page("Threads", "response_type must be code.")
    unknown = [s for s in scopes if s not in PERMISSIONS]
    if "threads_basic" not in scopes or unknown:
        return oauth.error_page("Threads", f"Invalid Scopes: {', '.join(unknown) or 'threads_basic is required'}.")
    return oauth.consent_page(
        request, platform="Threads", title="Allow socialkpi (sandbox app) to access your Threads profile?"
    )


def decision(request: Request) -> Reply:
    """The consent form's answer: Allow -> ``?code=...&state=...#_``; Deny -> Facebook Login's denial."""
    if not _is_threads(_scope_list(request.form().get("scope"))):
        return _pass_on(request, _decision)
    return _decision(request)


def _decision(request: Request) -> Reply:
    return oauth.decide(
        request,
        platform=PLATFORM,
        denial={
            "error": "access_denied",
            "error_code": "200",
            "error_description": "Permissions error",
            "error_reason": "user_denied",
        },
        fragment="#_",
    )


def _oauth_exception(message: str, code: int, subcode: int | None = None) -> Reply:
    return _error(400, code, message, subcode=subcode)


def code_grant(request: Request) -> Reply:
    """``POST https://graph.threads.net/oauth/access_token`` -> ``{"access_token", "user_id"}``."""
    params = {**{k: v[0] for k, v in request.query.items()}, **request.form()}
    if not (params.get("code") or "").startswith(f"{PLATFORM}-code-"):
        return _pass_on(request, _code_grant)
    return _code_grant(request)


def _code_grant(request: Request) -> Reply:
    params = {**{k: v[0] for k, v in request.query.items()}, **request.form()}
    if params.get("grant_type") != "authorization_code":
        return _oauth_exception("(#100) grant_type must be authorization_code", 100)
    if params.get("client_id") != oauth.CLIENT_ID:
        return _oauth_exception("Error validating application. Invalid application ID.", 101)
    if params.get("client_secret") != oauth.CLIENT_SECRET:
        return _oauth_exception("Error validating client secret.", 1)
    done = oauth.redeem(
        PLATFORM, params.get("code"), client_id=params.get("client_id"), redirect_uri=params.get("redirect_uri")
    )
    if done.error in {"unknown_code", "used"}:
        if done.error == "unknown_code":
            return _oauth_exception("Invalid verification code format.", 100)
        return _oauth_exception("This authorization code has been used.", 100, 36009)
    if done.error == "expired":
        return _oauth_exception("This authorization code has expired.", 100, 36007)
    if done.error == "redirect_uri":
        return _oauth_exception(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you "
            "used in the OAuth dialog request",
            100,
            36008,
        )
    if done.error:
        return _oauth_exception("Error validating application. Invalid application ID.", 101)
    assert done.issued is not None
    short = f"THQWsandboxshort{uuid.uuid4().hex}"
    with _issued_lock:
        _short[short] = clock.time() + SHORT_LIFETIME
        _scopes[short] = frozenset(_scope_list(done.issued.scope))
    return Reply(200, {"access_token": short, "user_id": int(OWN_ID)})


def exchange_handler(request: Request) -> Reply:
    """``GET https://graph.threads.net/access_token?grant_type=th_exchange_token&client_secret=&access_token=``."""
    if request.arg("grant_type") != "th_exchange_token":
        return _pass_on(request, lambda _: _oauth_exception("(#100) grant_type must be th_exchange_token", 100))
    if request.arg("client_secret") != oauth.CLIENT_SECRET:
        return _oauth_exception("Error validating client secret.", 1)
    short = request.arg("access_token") or ""
    with _issued_lock:
        ends = _short.get(short)
        granted = _scopes.get(short)
    if ends is None:
        return _oauth_exception("Invalid OAuth access token - Cannot parse access token", 190)
    if ends <= clock.time():
        return _oauth_exception("Error validating access token: Session has expired", 190, 463)
    new = f"THQWsandboxlong{uuid.uuid4().hex}"
    with _issued_lock:
        _issued.add(new)
        if granted is not None:
            _scopes[new] = granted
    return Reply(200, {"access_token": new, "token_type": "bearer", "expires_in": TOKEN_LIFETIME})


ROUTES = [
    ("GET", r"/v1\.0/me", me_handler),
    ("GET", r"/v1\.0/profile_lookup", profile_lookup_handler),
    ("GET", r"/v1\.0/(\d+)/threads_insights", insights_handler),
    ("GET", r"/refresh_access_token", refresh_handler),
    ("GET", r"/token", refresh_handler),
    ("GET", r"/oauth/authorize", consent),
    ("POST", r"/oauth/authorize", decision),
    ("POST", r"/oauth/access_token", code_grant),
    ("GET", r"/access_token", exchange_handler),
]
