"""Sandbox part: the Umami API, self-hosted (``/api``, Bearer) and Umami Cloud (``/v1``, x-umami-api-key).

Answers as current Umami does (https://umami.is/docs/api/website-stats):

* ``POST /api/auth/login`` ``{"username", "password"}`` -> ``{"token", "user"}``; ``POST /api/auth/verify``.
* ``GET /{api|v1}/websites`` -> the user's websites, paged as current Umami pages them
  (https://umami.is/docs/api/websites: "Returns all user websites"; ``page``, ``pageSize``,
  ``includeTeams``, ``search``): ``{"data": [...], "count", "page", "pageSize"}`` (Umami v1 answered a bare
  list: tests script that reply).
* ``GET /{api|v1}/websites/{id}`` -> the website; ``/stats`` -> flat numbers plus ``comparison`` (the
  previous period of the same length); ``/metrics?type=referrer`` -> ``[{"x": referrer domain, "y": n}]``
  sorted by y, the direct visits as ``x: null``; ``startAt``/``endAt`` in epoch milliseconds, days
  read in the ``timezone`` parameter (default UTC).  Visitors over several days are a distinct count,
  fewer than the sum of the days.
* Errors ``{"error": {"message", "code", "status"}}``: 401 ``unauthorized`` for a missing, expired
  (world.EXPIRED_TOKEN) or unknown token and for a website the user cannot view (as Umami does), 404,
  400; Cloud keys get 429 ``too-many-requests`` past ``CLOUD_LIMIT`` calls in a 15-second window.

Users: ``USERS`` (username -> password) may log in; each login issues a new token.  Numbers come from
:mod:`socialkpi.sandbox.world`, data up to yesterday (UTC); the ``*_for`` functions give what is served.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialkpi.sandbox import world
from socialkpi.sandbox.limits import Window
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "umami"
SITE_START = date(2024, 9, 1)
CLOUD_LIMIT = 50  # calls per 15 s per key
WEBSITES = {"6f1c2b7e-3d4a-4e5b-9c8d-1a2b3c4d5e6f": ("cornerbakery.fr", "cornerbakery.fr")}
FOREIGN_WEBSITES = frozenset({"00000000-0000-4000-8000-000000000099"})  # exists; the sandbox users cannot view it
USERS = {"bakery-viewer": "sandbox-password-9d2f"}
# Referrer domains as Umami stores them (real strings), and their share of the day's visits.
REFERRERS: dict[str | None, float] = {
    None: 0.30,  # direct
    "google.com": 0.28,
    "bing.com": 0.03,
    "l.facebook.com": 0.07,
    "lm.facebook.com": 0.03,
    "l.instagram.com": 0.08,
    "t.co": 0.02,
    "lnkd.in": 0.02,
    "com.linkedin.android": 0.01,
    "out.reddit.com": 0.01,
    "pinterest.com": 0.03,
    "bsky.app": 0.01,
    "mastodon.social": 0.01,
    "lyon-gourmand.example": 0.05,
    "news.ycombinator.com": 0.01,
}

_issued: set[str] = set()
WINDOW = Window(15)
WINDOWS = (WINDOW,)
_lock = threading.Lock()


# -- the world's numbers -------------------------------------------------------------------------
def has_data(website: str, day: date) -> bool:
    return SITE_START <= day < datetime.now(UTC).date()


def visits_for(website: str, day: date) -> int:
    return world.daily(PLATFORM, website, "visits", day, 45) if has_data(website, day) else 0


def visitors_for(website: str, day: date) -> int:
    return min(visits_for(website, day), world.daily(PLATFORM, website, "visitors", day, 39))


def pageviews_for(website: str, day: date) -> int:
    return visits_for(website, day) + world.daily(PLATFORM, website, "extra", day, 64) if has_data(website, day) else 0


def split(total: int, weights: dict[Any, float]) -> dict[Any, int]:
    """``total`` in whole parts proportional to ``weights`` (largest remainder: the sum is exact)."""
    whole = sum(weights.values()) or 1.0
    raw = {k: total * w / whole for k, w in weights.items()}
    parts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (parts[k] - raw[k], str(k)))[: total - sum(parts.values())]:
        parts[k] += 1
    return parts


def referrers_for(website: str, day: date) -> dict[str | None, int]:
    """``y`` per referrer domain on ``day`` (None: direct); they add up to the day's visitors."""
    weights = {r: float(world.daily(PLATFORM, website, f"ref:{r}", day, s * 1000)) for r, s in REFERRERS.items()}
    return split(visitors_for(website, day), weights)


# -- helpers ---------------------------------------------------------------------------------------
def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"message": message, "code": code, "status": status}})


def unauthorized() -> Reply:
    return _error(401, "unauthorized", "Unauthorized")


def throttled() -> Reply:
    return _error(429, "too-many-requests", "Too many requests")


def _auth(request: Request, cloud: bool) -> Reply | None:
    if cloud:
        key = request.header("x-umami-api-key")
        if key != world.TOKEN:
            return unauthorized()
        used, _ = WINDOW.hit(key)
        return throttled() if used > CLOUD_LIMIT else None
    token = request.bearer()
    with _lock:
        known = token == world.TOKEN or token in _issued
    return None if known else unauthorized()


def _days(request: Request) -> tuple[list[date], ZoneInfo] | Reply:
    try:
        tz = ZoneInfo(request.arg("timezone") or "UTC")
        start_ms, end_ms = int(request.arg("startAt") or ""), int(request.arg("endAt") or "")
    except (ValueError, KeyError):
        return _error(400, "bad-request", "Invalid request: startAt and endAt (epoch ms) are required")
    if end_ms < start_ms:
        return _error(400, "bad-request", "endAt must not be before startAt")
    first = datetime.fromtimestamp(start_ms / 1000, tz).date()
    last = datetime.fromtimestamp(end_ms / 1000, tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)], tz


def _website(request: Request) -> str | Reply:
    website = request.groups[1]
    if website in FOREIGN_WEBSITES:
        return unauthorized()  # Umami answers "unauthorized" when the user cannot view the website
    try:
        uuid.UUID(website)
    except ValueError:
        return _error(400, "bad-request", "Invalid request: websiteId must be a UUID")
    return website


# -- routes ------------------------------------------------------------------------------------------
def login(request: Request) -> Reply:
    try:
        body = request.json()
    except ValueError:
        return _error(400, "bad-request", "Invalid JSON")
    username = body.get("username") if isinstance(body, dict) else None
    if not username or USERS.get(str(username)) != body.get("password"):
        # umami src/app/api/auth/login/route.ts: unauthorized({ code: 'incorrect-username-password' })
        return _error(401, "incorrect-username-password", "Incorrect username and/or password.")
    token = f"eyJhbGciOiJIUzI1NiJ9.sandbox-{uuid.uuid4().hex}"
    with _lock:
        _issued.add(token)
    user = {"id": "5e7a1c9d-0b1f-4c2d-8e3f-445566778899", "username": username, "role": "view-only", "isAdmin": False}
    return Reply(200, {"token": token, "user": user})


def verify(request: Request) -> Reply:
    refused = _auth(request, cloud=False)
    return refused or Reply(200, {"id": "5e7a1c9d-0b1f-4c2d-8e3f-445566778899", "username": "bakery-viewer"})


def _website_row(site: str) -> dict[str, Any]:
    name, domain = WEBSITES.get(site, (f"site {site[:8]}", f"{site[:8]}.example"))
    return {
        "id": site,
        "name": name,
        "domain": domain,
        "shareId": None,
        "resetAt": None,
        "userId": "5e7a1c9d-0b1f-4c2d-8e3f-445566778899",
        "teamId": None,
        "createdAt": "2024-09-01T08:00:00.000Z",
        "updatedAt": None,
        "deletedAt": None,
    }


def website(request: Request) -> Reply:
    refused = _auth(request, request.groups[0] == "v1")
    if refused:
        return refused
    site = _website(request)
    if isinstance(site, Reply):
        return site
    return Reply(200, _website_row(site))


def websites(request: Request) -> Reply:
    """``GET /websites``: the user's websites, ``{"data", "count", "page", "pageSize"}``."""
    refused = _auth(request, request.groups[0] == "v1")
    if refused:
        return refused
    try:
        page = int(request.arg("page") or 1)
        size = int(request.arg("pageSize") or 10)
    except ValueError:
        return _error(400, "bad-request", "Invalid request: page and pageSize must be numbers")
    if page < 1 or size < 1:
        return _error(400, "bad-request", "Invalid request: page and pageSize must be positive")
    search = (request.arg("search") or "").lower()
    rows = [
        _website_row(site)
        for site, (name, domain) in sorted(WEBSITES.items(), key=lambda kv: kv[1][0])
        if search in name.lower() or search in domain.lower()
    ]
    return Reply(
        200,
        {
            "data": rows[(page - 1) * size : page * size],
            "count": len(rows),
            "page": page,
            "pageSize": size,
            "orderBy": "name",
            "search": search or None,
        },
    )


def _totals(site: str, days: list[date]) -> dict[str, int]:
    visitors = sum(visitors_for(site, d) for d in days)
    return {
        "pageviews": sum(pageviews_for(site, d) for d in days),
        "visitors": visitors if len(days) == 1 else round(visitors * 0.82),  # distinct over the period
        "visits": sum(visits_for(site, d) for d in days),
        "bounces": sum(visits_for(site, d) // 2 for d in days),
        "totaltime": sum(visits_for(site, d) * 97 for d in days),
    }


def stats(request: Request) -> Reply:
    refused = _auth(request, request.groups[0] == "v1")
    if refused:
        return refused
    site = _website(request)
    if isinstance(site, Reply):
        return site
    span = _days(request)
    if isinstance(span, Reply):
        return span
    days, _ = span
    previous = [d - timedelta(days=len(days)) for d in days]
    return Reply(200, {**_totals(site, days), "comparison": _totals(site, previous)})


def metrics(request: Request) -> Reply:
    refused = _auth(request, request.groups[0] == "v1")
    if refused:
        return refused
    site = _website(request)
    if isinstance(site, Reply):
        return site
    if request.arg("type") != "referrer":
        return _error(400, "bad-request", "Invalid request: the sandbox answers type=referrer")
    span = _days(request)
    if isinstance(span, Reply):
        return span
    sums: dict[str | None, int] = {}
    for day in span[0]:
        for ref, y in referrers_for(site, day).items():
            sums[ref] = sums.get(ref, 0) + y
    rows = [{"x": ref, "y": y} for ref, y in sorted(sums.items(), key=lambda kv: (-kv[1], str(kv[0]))) if y]
    limit = int(request.arg("limit") or 500)
    return Reply(200, rows[:limit])


PREFIX = r"/(api|v1)/websites/([^/]+)"
ROUTES = [
    ("POST", r"/api/auth/login", login),
    ("POST", r"/api/auth/verify", verify),
    ("GET", r"/(api|v1)/websites", websites),
    ("GET", PREFIX, website),
    ("GET", PREFIX + r"/stats", stats),
    ("GET", PREFIX + r"/metrics", metrics),
]
