"""Connect Bluesky: no app and no token, the handle checked with the public AppView's profile call.

Docs: https://docs.bsky.app/docs/api/app-bsky-actor-get-profile (``GET
https://public.api.bsky.app/xrpc/app.bsky.actor.getProfile?actor=<handle or DID>``: "Get detailed profile
view of an actor. Does not require auth"; ``followersCount``, ``followsCount``, ``postsCount`` optional
integers; errors ``{"error": "InvalidRequest", "message": "Profile not found"}``), and
https://atproto.com/specs/handle (a handle is a domain name: "must contain only ASCII characters, and can be at
most 253 characters long", "there must be at least two segments", "Handles are not case-sensitive, and
should be normalized to lowercase"; the TLDs ``.alt .arpa .example .internal .invalid .local .localhost
.onion`` are disallowed).

The handle comes from ``--select HANDLE[,HANDLE...]`` (the contract has no flag of its own for it), or is
asked on the terminal (or read as one line from standard input, a script answering), also with ``--select
all`` (Bluesky has no account list to read); no answer is an error that says how to give it.
``--competitor HANDLE`` (or ``@HANDLE``, ``https://bsky.app/profile/HANDLE``) adds someone else's.
A DID (``did:plc:...``) works wherever a handle does and is written as given (it never changes; a handle can).

Nothing is stored in the token store: ``socialkpi collect`` reads the same public call.  Environment:
``SOCIALKPI_BLUESKY_BASE_URL`` replaces https://public.api.bsky.app (the sandbox, or https://api.bsky.app).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from collectors.observation import Account
from socialkpi.connect import Found, Session
from socialkpi.connect.flow import ConnectError

PLATFORM = "bluesky"
API_ROOT = "https://public.api.bsky.app"
PROFILE_ENDPOINT = "/xrpc/app.bsky.actor.getProfile"
# https://atproto.com/specs/handle, "Handle Identifier Syntax" (the reference regex) and "Disallowed TLDs"
HANDLE = re.compile(r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
DISALLOWED_TLDS = frozenset({"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"})
DID = re.compile(r"did:[a-z]+:[A-Za-z0-9._:%-]+")
EXAMPLE = "cornerbakery.bsky.social"
HOW = f"pass --select HANDLE (such as --select {EXAMPLE}), or --competitor HANDLE for someone else's account"


def _classify() -> Any:
    from collectors.bluesky import classify

    return classify


def connect(session: Session) -> list[Found]:
    """The own account(s) named by ``--select``, else asked for; each checked with the public profile call."""
    select = (session.select or "").strip()
    if select and select.lower() != "all":
        given = [p.strip() for p in select.split(",") if p.strip()]
        for part in given:
            if actor_of(part) != part.removeprefix("@").lower() and not part.startswith("did:"):
                raise ConnectError(
                    f"bluesky: --select takes the handle itself: --select {actor_of(part)}; nothing was written"
                )
    else:  # --select all or nothing: Bluesky has no account list to read, so the handle is asked (a script answers it)
        answer = session.terminal.ask(f"Your Bluesky handle (such as {EXAMPLE}): ", why=f": {HOW}; nothing was written")
        given = [answer] if answer else []
        if not given:
            raise ConnectError(f"bluesky: no handle given: {HOW}; nothing was written")
    found = [profile(session, text, competitor=False) for text in given]
    if session.select is not None:  # the choice shows no list then: say what was found
        for item in found:
            session.terminal.say(f"Found bluesky {item.account.id}: {item.account.name} ({item.detail})")
    return found


def competitor(session: Session, handle: str) -> Found:
    return profile(session, handle, competitor=True)


def profile(session: Session, text: str, *, competitor: bool) -> Found:
    """``app.bsky.actor.getProfile`` of the handle or DID in ``text``; a ConnectError when it does not resolve."""
    from collectors.errors import CollectorError

    actor = actor_of(text)
    with session.client(_classify()) as client:
        try:
            body = client.get_json(session.base_url(API_ROOT) + PROFILE_ENDPOINT, params={"actor": actor})
        except CollectorError as exc:
            said = exc.message.removeprefix(f"{PLATFORM}: ")
            if exc.code == "not_found":
                raise ConnectError(f"bluesky: no profile {actor} ({said}): nothing was written") from None
            if exc.code == "account_unavailable":
                raise ConnectError(
                    f"bluesky: {actor} is taken down or deactivated ({said}): Bluesky serves no counts for it; "
                    "nothing was written"
                ) from None
            raise ConnectError(f"bluesky: {actor} could not be looked up ({said}): nothing was written") from None
    found = parse_profile(body, actor)
    return Found(account=Account(PLATFORM, actor, found["name"], competitor=competitor), detail=found["detail"])


# -- pure parts ----------------------------------------------------------------------------------------


def actor_of(text: str) -> str:
    """``@Name.bsky.social``, ``https://bsky.app/profile/name.bsky.social[/post/...]``, ``did:plc:...`` -> the
    ``actor`` (a handle in lower case, or the DID); a ConnectError for anything else."""
    raw = text.strip().strip("<>")
    if "/" in raw:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) < 2 or segments[0] != "profile":
            raise ConnectError(
                f"bluesky: {text!r} is not a profile address (https://bsky.app/profile/HANDLE): nothing was written"
            )
        raw = segments[1]
    raw = raw.removeprefix("@")
    if DID.fullmatch(raw):
        return raw
    handle = raw.lower()
    if "." not in handle and re.fullmatch(r"[a-z0-9-]+", handle):
        raise ConnectError(
            f"bluesky: {text!r} is not a whole handle: a handle is a domain name, such as {handle}.bsky.social; "
            "nothing was written"
        )
    if len(handle) > 253 or not HANDLE.fullmatch(handle) or handle.rsplit(".", 1)[-1] in DISALLOWED_TLDS:
        raise ConnectError(
            f"bluesky: {text!r} is not a Bluesky handle (a domain name such as {EXAMPLE}) or a DID: nothing was written"
        )
    return handle


def parse_profile(body: Any, actor: str) -> dict[str, str]:
    """A ``profileViewDetailed`` -> its name and the line shown (``did`` and ``handle`` are the only required
    fields; the counts are optional)."""
    if not isinstance(body, dict) or not isinstance(body.get("did"), str) or not isinstance(body.get("handle"), str):
        raise ConnectError(f"bluesky: the profile of {actor} came back without its did and handle: nothing was written")
    handle = str(body["handle"])
    name = str(body.get("displayName") or "").strip() or handle
    detail = f"@{handle}"
    for field, what in (("followersCount", "followers"), ("postsCount", "posts")):
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            detail += f", {value:,} {what}"
    return {"name": name, "handle": handle, "did": str(body["did"]), "detail": detail}
