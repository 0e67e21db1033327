"""Sandbox part: a Mastodon instance's public ``GET /api/v1/accounts/lookup``.

Answers as platform-apis-web.md §5 documents it: an ``Account`` entity (string ``id``, integer
counts, ``last_status_at`` a date string), ``X-RateLimit-Limit/-Remaining/-Reset`` on every reply
(the reset an ISO 8601 timestamp with microseconds), ``{"error": "Record not found"}`` with 404 for
an unknown account, ``{"error": "The access token is invalid"}`` with 401 for a bad bearer (a token
is optional: the lookup is public), and :func:`throttled` builds the 429 reply tests script.

The instance is whatever ``SOCIALKPI_MASTODON_BASE_URL`` points here, so the part answers for every
instance; an account is keyed by its username.  Usernames starting with ``unknown`` do not exist;
``suspended...`` accounts come back with ``suspended: true`` and zero counts, as Mastodon 3.3+ does.
Counts are today's (UTC) from :mod:`socialkpi.sandbox.world`; :func:`followers_for` and
:func:`statuses_for` say what is served.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta
from typing import Any

from socialkpi.sandbox import world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "mastodon"
FOLLOWERS_BASE = 900
STATUSES_BASE = 320
LIMIT = 300
WINDOW = timedelta(minutes=5)


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


def _account(username: str, today: date) -> dict[str, Any]:
    key = world_key(username)
    suspended = username.lower().startswith("suspended")
    digits = str(109283746251234567 + zlib.crc32(key.encode()))
    body: dict[str, Any] = {
        "id": digits,
        "username": username,
        "acct": username,
        "display_name": username.replace("_", " ").title(),
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


def lookup(request: Request) -> Reply:
    token = request.bearer()
    if request.header("Authorization") is not None and token != world.TOKEN:
        return Reply(401, {"error": "The access token is invalid"}, rate_headers())
    acct = (request.arg("acct") or "").lstrip("@")
    username = acct.split("@")[0]
    if not username:
        return Reply(400, {"error": "Validation failed: acct is missing"}, rate_headers())
    if username.lower().startswith("unknown"):
        return Reply(404, {"error": "Record not found"}, rate_headers())
    return Reply(200, _account(username, _now().date()), rate_headers())


ROUTES = [
    ("GET", r"/api/v1/accounts/lookup", lookup),
]
