"""Sandbox part: the Threads API (graph.threads.net) for Corner Bakery's Threads profile.

Answers as platform-apis-social.md §3 documents it:

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
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from socialkpi.sandbox import world
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

# Current user metrics (§3.2): (description, daily base, kind).
METRICS: dict[str, tuple[str, float, str]] = {
    "views": ("The number of times your profile was viewed.", 14, "series"),
    "likes": ("The number of likes on your posts.", 9, "total"),
    "replies": ("The number of replies on your posts.", 2.2, "total"),
    "reposts": ("The number of times your posts were reposted.", 1.1, "total"),
    "quotes": ("The number of times your posts were quoted.", 0.6, "total"),
    "clicks": ("The number of clicks on links in your posts.", 3, "total"),
    "followers_count": ("Your total number of followers on Threads.", 0, "level"),
}

_issued: set[str] = set()
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
        return token == world.TOKEN or token in _issued


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
    _, refused = _auth(request)
    if refused:
        return refused
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
    return Reply(200, {"access_token": new, "token_type": "bearer", "expires_in": TOKEN_LIFETIME})


ROUTES = [
    ("GET", r"/v1\.0/me", me_handler),
    ("GET", r"/v1\.0/profile_lookup", profile_lookup_handler),
    ("GET", r"/v1\.0/(\d+)/threads_insights", insights_handler),
    ("GET", r"/refresh_access_token", refresh_handler),
    ("GET", r"/token", refresh_handler),
]
