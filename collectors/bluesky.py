"""Bluesky: a public profile's follower and post counts from the public AppView.

Docs: https://docs.bsky.app/docs/api/app-bsky-actor-get-profile (``app.bsky.actor.getProfile``),
https://docs.bsky.app/docs/advanced-guides/rate-limits and the lexicon ``app.bsky.actor.defs#profileViewDetailed``
(https://github.com/bluesky-social/atproto, lexicons/app/bsky/actor/defs.json).

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_BLUESKY_BASE_URL    optional: replaces https://public.api.bsky.app (the sandbox, or
                                  https://api.bsky.app, the uncached public host)
No token: the public AppView is unauthenticated, and none is ever sent.

Account id: the handle (``cornerbakery.bsky.social``, a leading ``@`` allowed) or the DID.
Competitors: the same public call.

Metrics (docs/metrics.md): followers <- ``followersCount``, posts <- ``postsCount``.  Both are levels
the API only gives as "now": dated by the collection day in the business's time zone (``ctx.today``).
Both fields are optional in the lexicon: one left out is recorded in ``Collected.skipped``.
Numbers: JSON integers (the lexicon's ``integer``; collectors.values.Counts refuses a string, a fraction, a
negative).  The answer declares no period (levels) and there is one call: no optional endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, BadRequest, PayloadError, Verdict, header, seconds_until_epoch
from collectors.http import Client
from collectors.observation import Observation
from collectors.values import Counts

PLATFORM = "bluesky"
API_ROOT = "https://public.api.bsky.app"
PROFILE_ENDPOINT = "/xrpc/app.bsky.actor.getProfile"
FIELDS: dict[str, str] = {"followersCount": "followers", "postsCount": "posts"}
_ACTOR = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]+|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
AUTH_ERRORS = frozenset({"AuthenticationRequired", "ExpiredToken", "InvalidToken", "AuthMissing"})
GONE_ERRORS = frozenset({"AccountTakedown", "AccountDeactivated", "AccountSuspended"})
COUNT = Counts(PLATFORM)  # lexicon integers


# -- classification ----------------------------------------------------------------------------


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read the XRPC error ``{"error": "<Name>", "message": "<text>"}`` and the epoch ``RateLimit-Reset``."""
    if status < 400:
        return None
    name = body.get("error") if isinstance(body, dict) else None
    text = body.get("message") if isinstance(body, dict) else None
    name = name if isinstance(name, str) else ""
    message = f"{name}: {text}" if name and isinstance(text, str) else (name or f"HTTP {status}")
    if status == 429 or name == "RateLimitExceeded":
        wait = seconds_until_epoch(header(headers, "RateLimit-Reset"))
        return Verdict("throttled", message, retry_after=wait, code="rate_limited")
    if name in AUTH_ERRORS:
        return Verdict("auth", message, code="token_invalid")
    if name in GONE_ERRORS:
        return Verdict("bad_request", message, code="account_unavailable")
    if name == "InvalidRequest" and isinstance(text, str) and "not found" in text.lower():
        return Verdict("bad_request", message, code="not_found")
    if name:
        return Verdict("server" if status >= 500 else "bad_request", message, code=name)
    return None


# -- parsing -----------------------------------------------------------------------------------


def actor_of(account_id: str) -> str:
    """The ``actor`` parameter: a handle (without ``@``, lower case) or a DID."""
    actor = account_id.strip().lstrip("@")
    if not _ACTOR.fullmatch(actor):
        raise BadRequest(
            f"bluesky: account id {account_id!r} is neither a handle (cornerbakery.bsky.social) nor a DID",
            platform=PLATFORM,
            code="bad_account_id",
        )
    return actor if actor.startswith("did:") else actor.lower()


def parse_profile(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """A ``profileViewDetailed`` -> followers and posts on ``day``; a count left out gives no row."""
    if not isinstance(payload, dict) or not isinstance(payload.get("did"), str):
        raise PayloadError("bluesky: the getProfile answer is not a profileViewDetailed", platform=PLATFORM)
    rows: list[Observation] = []
    for field, metric in FIELDS.items():
        if field not in payload:
            continue
        rows.append(Observation(PLATFORM, account_id, metric, day, COUNT(payload[field], field), field, collected_at))
    return rows


# -- I/O ---------------------------------------------------------------------------------------


def _profile(client: Client, ctx: CollectContext) -> dict[str, Any]:
    actor = actor_of(ctx.account.id)
    client.auth_headers = None  # the public AppView takes no token
    url = (ctx.credentials.base_url or API_ROOT).rstrip("/") + PROFILE_ENDPOINT
    try:
        payload = client.get_json(url, params={"actor": actor})
    except AuthError as exc:
        raise exc.with_message(
            f"{exc.message} (the public AppView needs no token: check that SOCIALKPI_BLUESKY_BASE_URL, "
            "if set, points to a public AppView such as https://public.api.bsky.app)"
        ) from None
    except BadRequest as exc:
        if exc.code == "not_found":
            raise exc.with_message(
                f"bluesky: no profile {actor} (Profile not found): check the handle in socialkpi.toml; "
                "handles can change, the DID (did:plc:...) does not"
            ) from None
        if exc.code == "account_unavailable":
            raise exc.with_message(
                f"{exc.message} ({actor} is taken down or deactivated: Bluesky serves no counts for it)"
            ) from None
        raise
    if not isinstance(payload, dict):
        raise PayloadError("bluesky: the getProfile answer is not an object", platform=PLATFORM)
    return payload


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's followers and posts of the handle (own account or competitor alike)."""
    out = Collected()
    payload = _profile(client, ctx)
    out.observations += parse_profile(payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at)
    out.skipped += [(field, "left out of the profile by the AppView") for field in FIELDS if field not in payload]
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """One public getProfile: proves the handle resolves and the AppView answers."""
    payload = _profile(client, ctx)
    rows = parse_profile(payload, account_id=ctx.account.id, day=ctx.today, collected_at=ctx.collected_at)
    followers = next((int(r.value) for r in rows if r.metric == "followers"), None)
    count = f"{followers} followers" if followers is not None else "no follower count served"
    return f"{payload.get('handle', ctx.account.id)} ({payload['did']}) found (public, no token needed): {count}"
