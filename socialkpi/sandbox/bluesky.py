"""Sandbox part: Bluesky's public AppView ``GET /xrpc/app.bsky.actor.getProfile``.

Answers as https://docs.bsky.app/docs/api/app-bsky-actor-get-profile documents it: a ``profileViewDetailed`` (``did``,
``handle``,
``followersCount``, ``followsCount``, ``postsCount``, ``associated``, ``indexedAt``, ``createdAt``,
``labels``), the ``RateLimit-Limit/-Remaining/-Reset/-Policy`` headers on every reply (the reset in
Unix epoch seconds), XRPC errors ``{"error": "<Name>", "message": "<text>"}``: 400
``InvalidRequest`` "Profile not found" for handles starting with ``unknown``, 400 ``AccountTakedown``
for handles starting with ``takendown``; :func:`throttled` builds the 429 ``RateLimitExceeded``
reply tests script.  The AppView is public: a request carrying ``world.EXPIRED_TOKEN`` gets XRPC's
400 ``ExpiredToken``, any other unknown bearer 401 ``InvalidToken`` (the collector sends none).

Counts are today's (UTC) from :mod:`socialkpi.sandbox.world`, keyed by the handle (or the DID asked
for); :func:`followers_for` and :func:`posts_for` say what is served.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date
from typing import Any

from socialkpi.sandbox import world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "bluesky"
FOLLOWERS_BASE = 1300
POSTS_BASE = 450
LIMIT = 3000
WINDOW_SECONDS = 300


def world_key(actor: str) -> str:
    return actor.lstrip("@").lower() if not actor.startswith("did:") else actor


def followers_for(actor: str, day: date) -> int:
    return world.followers(PLATFORM, world_key(actor), day, FOLLOWERS_BASE)


def posts_for(actor: str, day: date) -> int:
    """Posts to date: about one every two days since the account opened."""
    return int(POSTS_BASE * world.scale_of(PLATFORM, world_key(actor)) + 0.5 * (day - date(2023, 7, 14)).days)


def did_for(actor: str) -> str:
    if actor.startswith("did:"):
        return actor
    return "did:plc:" + hashlib.blake2b(world_key(actor).encode(), digest_size=12).hexdigest()


def rate_headers(remaining: int = LIMIT - 1, reset_in: float = WINDOW_SECONDS) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(LIMIT),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(int(time.time() + reset_in)),
        "RateLimit-Policy": f"{LIMIT};w={WINDOW_SECONDS}",
    }


def xrpc_error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": name, "message": message}, headers or rate_headers())


def throttled(reset_in: float) -> Reply:
    """429 ``RateLimitExceeded`` with ``RateLimit-Remaining: 0`` and the reset as epoch seconds."""
    return xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", rate_headers(0, reset_in))


def display_name(handle: str) -> str:
    """The world's name of its accounts (``Corner Bakery``), else one made of the handle's first label."""
    for acc in world.DEMO_ACCOUNTS:
        if acc.platform == PLATFORM and acc.id == handle:
            return acc.name
    return handle.split(".")[0].replace("-", " ").title()


def _profile(actor: str, today: date) -> dict[str, Any]:
    handle = actor.lower() if not actor.startswith("did:") else "cornerbakery.bsky.social"
    return {
        "did": did_for(actor),
        "handle": handle,
        "displayName": display_name(handle),
        "description": "Bread, pastries and coffee since 2012.",
        "avatar": "https://cdn.bsky.app/img/avatar/plain/did:plc:sandbox/bafkreisandbox@jpeg",
        "followersCount": followers_for(actor, today),
        "followsCount": 201,
        "postsCount": posts_for(actor, today),
        "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
        "indexedAt": f"{today.isoformat()}T05:02:11.000Z",
        "createdAt": "2023-07-14T09:12:00.000Z",
        "labels": [],
    }


def get_profile(request: Request) -> Reply:
    if request.header("Authorization") is not None:
        if request.bearer() == world.EXPIRED_TOKEN:
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        if request.bearer() != world.TOKEN:
            return xrpc_error(401, "InvalidToken", "Token could not be verified")
    actor = (request.arg("actor") or "").strip()
    if not actor:
        return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "actor"')
    name = world_key(actor)
    if name.startswith("unknown"):
        return xrpc_error(400, "InvalidRequest", "Profile not found")
    if name.startswith("takendown"):
        return xrpc_error(400, "AccountTakedown", "Account has been suspended")
    return Reply(200, _profile(actor, world.now().date()), rate_headers())


ROUTES = [
    ("GET", r"/xrpc/app\.bsky\.actor\.getProfile", get_profile),
]
