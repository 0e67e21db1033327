"""Sandbox part: YouTube Data API v3 ``channels.list``, YouTube Analytics v2 ``reports.query`` and a
Google OAuth token endpoint.

Answers as https://developers.google.com/youtube/v3/docs/channels/list and https://developers.google.com/youtube/analytics/reference/reports/query
documents it:

* ``GET /youtube/v3/channels?part=statistics&id=...`` (or ``mine=true`` with OAuth): a
  ``youtube#channelListResponse`` whose ``statistics`` counts are **strings**, the subscriber count
  rounded down to 3 significant figures; channels whose id starts ``UChidden`` hide it
  (``hiddenSubscriberCount: true``, no ``subscriberCount``); an unknown id (``UCunknown...``) gives
  HTTP 200 with ``totalResults: 0`` and no ``items``.  An API key is accepted as ``key=`` or in the
  ``X-Goog-Api-Key`` header, an OAuth token as a bearer.
* ``channels.list`` by handle: ``forHandle=@cornerbakerylyon`` or ``forHandle=rivalpatisserie`` (the
  channels/list doc: "The forHandle parameter specifies a YouTube handle, thereby requesting the channel
  associated with that handle. The parameter value can be prepended with an @ symbol"), case-insensitive;
  ``forUsername`` for a legacy username; an unknown one is HTTP 200 with ``totalResults: 0`` and no
  ``items``.  ``part=snippet`` adds ``title``, ``description``, ``customUrl`` (the handle, lower case,
  with its ``@``), ``publishedAt``, ``thumbnails`` and ``country``.
* ``GET /v2/reports?ids=channel==MINE&metrics=...&dimensions=day``: a ``youtubeAnalytics#resultTable``
  with positional ``rows`` (numbers), one per day up to three days ago (UTC): later days are not
  ready, and ``rows`` is left out when there is none.  OAuth only: an API key gets 401.
* Errors in Google's envelope with the legacy ``errors[]``: 401 ``authError`` for ``world.EXPIRED_TOKEN``
  and unknown bearers, 400 ``keyInvalid`` for a wrong key; :func:`quota_exceeded` builds the **403**
  ``quotaExceeded`` reply tests script.
* ``POST /token``: Google's token endpoint, shared with the ga4 part (:func:`socialkpi.sandbox.google_oauth.token`:
  refresh-token and service-account grants, ``ya29.sandbox-...`` bearers carrying their scopes).  Google
  does not rotate refresh tokens, and neither does this.  A bearer without ``youtube.readonly`` gets 403
  ``insufficientPermissions``; ``reports.query`` also wants ``yt-analytics.readonly``.

The world's numbers: :func:`subscribers_for`, :func:`videos_for` and :func:`daily_for`.  The token
(``world.TOKEN`` or an issued one) belongs to :data:`OWN_CHANNEL`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from socialkpi.sandbox import world
from socialkpi.sandbox.google_oauth import scopes_of
from socialkpi.sandbox.google_oauth import token as google_token
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "youtube"
OWN_CHANNEL = "UCcornerBakeryLyon00001A"  # the channel world.TOKEN's owner manages
SUBSCRIBERS_BASE = 2400
READY_LAG_DAYS = 3  # Analytics data up to three days ago
DAILY_BASE = {"views": 150.0, "subscribersGained": 6.0, "subscribersLost": 1.5, "estimatedMinutesWatched": 520.0}
READ_SCOPE = "https://www.googleapis.com/auth/youtube.readonly"
ANALYTICS_SCOPE = "https://www.googleapis.com/auth/yt-analytics.readonly"


# -- the world's numbers -------------------------------------------------------------------------
def round_3_significant(n: int) -> int:
    """The public subscriber count: above 1,000 rounded down to 3 significant figures."""
    if n < 1000:
        return n
    step = 10 ** (len(str(n)) - 3)
    return n // step * step


def subscribers_for(channel: str, day: date) -> int:
    return round_3_significant(world.followers(PLATFORM, channel, day, SUBSCRIBERS_BASE))


def videos_for(channel: str, day: date) -> int:
    return int(40 * world.scale_of(PLATFORM, channel) + (day - date(2019, 5, 1)).days / 9)


def daily_for(channel: str, metric: str, day: date) -> int:
    return world.daily(PLATFORM, channel, metric, day, DAILY_BASE[metric])


def _today() -> date:
    return world.now().date()


# handle (lower case, no @) -> channel id; YouTube's handles are unique and case-insensitive
HANDLES = {"cornerbakerylyon": OWN_CHANNEL, "rivalpatisserie": "UCrivalPatisserie000001B"}
USERNAMES = {"cornerbakery": OWN_CHANNEL}  # a legacy username (youtube.com/user/...)


def _name(channel: str) -> str:
    for acc in world.DEMO_ACCOUNTS:
        if acc.platform == PLATFORM and acc.id == channel:
            return acc.name
    return "Some Channel"


def _handle(channel: str) -> str:
    return next((f"@{h}" for h, c in HANDLES.items() if c == channel), f"@channel{channel[-6:].lower()}")


# -- errors ----------------------------------------------------------------------------------------
def google_error(code: int, message: str, reason: str, *, status: str = "", domain: str = "global") -> Reply:
    err: dict[str, Any] = {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    }
    if status:
        err["status"] = status
    return Reply(code, {"error": err})


def quota_exceeded() -> Reply:
    """YouTube's daily quota: HTTP 403 (not 429), reason ``quotaExceeded``."""
    message = (
        'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">'
        "quota</a>."
    )
    return google_error(403, message, "quotaExceeded", domain="youtube.quota")


def _unauthenticated() -> Reply:
    return google_error(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "authError",
        status="UNAUTHENTICATED",
    )


def _bearer_refused(token: str, *needed: str) -> Reply | None:
    """401 for an unknown bearer, 403 ``insufficientPermissions`` for one without the ``needed`` scopes."""
    scopes = scopes_of(token)
    if scopes is None:
        return _unauthenticated()
    if not set(needed) <= scopes:
        return google_error(
            403,
            "Request had insufficient authentication scopes.",
            "insufficientPermissions",
            status="PERMISSION_DENIED",
        )
    return None


def _api_key(request: Request) -> str | None:
    return request.header("X-Goog-Api-Key") or request.arg("key")


# -- channels.list ---------------------------------------------------------------------------------
def _channel(channel: str, today: date, parts: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "youtube#channel", "etag": f"etag-{channel[-6:]}", "id": channel}
    if "snippet" in parts:
        thumb = f"https://yt3.ggpht.com/sandbox-{channel[-6:]}"
        item["snippet"] = {
            "title": _name(channel),
            "description": "Sourdough, croissants and the Christmas log cake, from Lyon.",
            "customUrl": _handle(channel),
            "publishedAt": "2019-05-01T09:12:44Z",
            "thumbnails": {"default": {"url": f"{thumb}=s88", "width": 88, "height": 88}},
            "localized": {"title": _name(channel), "description": ""},
            "country": "FR",
        }
    if "statistics" in parts:
        stats: dict[str, Any] = {"viewCount": str(40 * subscribers_for(channel, today) + 1843)}
        if channel.startswith("UChidden"):
            stats["hiddenSubscriberCount"] = True
        else:
            stats["subscriberCount"] = str(subscribers_for(channel, today))
            stats["hiddenSubscriberCount"] = False
        stats["videoCount"] = str(videos_for(channel, today))
        item["statistics"] = stats
    return item


def channels(request: Request) -> Reply:
    bearer, key = request.bearer(), _api_key(request)
    if bearer is not None:
        refused = _bearer_refused(bearer, READ_SCOPE)
        if refused:
            return refused
    elif key is not None:
        if key != world.TOKEN:
            return google_error(
                400, "API key not valid. Please pass a valid API key.", "keyInvalid", status="INVALID_ARGUMENT"
            )
    else:
        return google_error(
            403,
            "The request is missing a valid API key.",
            "forbidden",
            status="PERMISSION_DENIED",
        )
    parts = (request.arg("part") or "").split(",")
    if not request.arg("part"):
        return google_error(400, "No filter selected. Expected one of: id, mine, forHandle", "missingRequiredParameter")
    if request.arg("mine") == "true":
        if bearer is None:
            return _unauthenticated()
        ids = [OWN_CHANNEL]
    elif request.arg("forHandle") is not None:
        handle = (request.arg("forHandle") or "").removeprefix("@").lower()
        ids = [HANDLES[handle]] if handle in HANDLES else []
    elif request.arg("forUsername") is not None:
        username = (request.arg("forUsername") or "").lower()
        ids = [USERNAMES[username]] if username in USERNAMES else []
    else:
        ids = [i for i in (request.arg("id") or "").split(",") if i]
        if not ids:
            return google_error(
                400, "No filter selected. Expected one of: id, mine, forHandle", "missingRequiredParameter"
            )
        if len(ids) > 50:
            return google_error(400, "The request specifies more than 50 ids.", "invalidParameter")
    items = [_channel(c, _today(), parts) for c in ids if not c.startswith("UCunknown")]
    body: dict[str, Any] = {
        "kind": "youtube#channelListResponse",
        "etag": "sandbox-etag",
        "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
    }
    if items:
        body["items"] = items
    return Reply(200, body)


# -- reports.query ---------------------------------------------------------------------------------
def reports(request: Request) -> Reply:
    bearer = request.bearer()
    if bearer is None:
        if _api_key(request) is not None:
            return google_error(
                401,
                "API keys are not supported by this API. Expected OAuth2 access token or other authentication "
                "credentials that assert a principal.",
                "required",
                status="UNAUTHENTICATED",
            )
        return _unauthenticated()
    refused = _bearer_refused(bearer, READ_SCOPE, ANALYTICS_SCOPE)
    if refused:
        return refused
    ids = request.arg("ids")
    if ids not in ("channel==MINE", f"channel=={OWN_CHANNEL}"):
        return google_error(403, "Forbidden", "forbidden", status="PERMISSION_DENIED")
    metrics = [m for m in (request.arg("metrics") or "").split(",") if m]
    for metric in metrics:
        if metric not in DAILY_BASE:
            return google_error(
                400,
                f"Unknown identifier ({metric}) given in field parameters.metrics.",
                "badRequest",
                status="INVALID_ARGUMENT",
            )
    if not metrics or request.arg("dimensions") != "day":
        return google_error(400, "The query is not supported.", "badRequest", status="INVALID_ARGUMENT")
    try:
        start = date.fromisoformat(request.arg("startDate") or "")
        end = date.fromisoformat(request.arg("endDate") or "")
    except ValueError:
        return google_error(400, "Invalid value for startDate or endDate.", "badRequest", status="INVALID_ARGUMENT")
    if end < start:
        return google_error(400, "The end date is before the start date.", "badRequest", status="INVALID_ARGUMENT")
    last = min(end, _today() - timedelta(days=READY_LAG_DAYS))
    rows: list[list[Any]] = []
    day = start
    while day <= last:
        rows.append([day.isoformat(), *[daily_for(OWN_CHANNEL, m, day) for m in metrics]])
        day += timedelta(days=1)
    body: dict[str, Any] = {
        "kind": "youtubeAnalytics#resultTable",
        "columnHeaders": [
            {"name": "day", "columnType": "DIMENSION", "dataType": "STRING"},
            *[{"name": m, "columnType": "METRIC", "dataType": "INTEGER"} for m in metrics],
        ],
    }
    if rows:
        body["rows"] = rows
    return Reply(200, body)


ROUTES = [
    ("GET", r"/youtube/v3/channels", channels),
    ("GET", r"/v2/reports", reports),
    ("POST", r"/token", google_token),
]
