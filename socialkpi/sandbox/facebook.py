"""Sandbox part: the Graph API's Page node and Page Insights edge, for any version ``/vNN.N``.

Answers as platform-apis-social.md §1 documents it: Page fields as asked in ``fields``; insights
``data[{name, period, values[{value, end_time}], title, description, id}]`` with time-based
``paging.previous/next`` links that embed ``access_token`` (as the real ones do); ``end_time`` is
Pacific midnight after the day (``T08:00:00+0000`` in PST, ``T07:00:00+0000`` in PDT); ``since``
and ``until`` (dates read as Pacific midnight, or Unix seconds) give the days ``since <= d < until``,
never today or later (UTC).  Errors use Meta's envelope and codes: 190/463 for the expired token,
190 for any other wrong token, ``(#100) The value must be a valid insights metric`` for a metric
that is not current (the 2025-11-15 and 2026-06-15 removals), code 1 for a range over 93 days,
``(#10)`` for insights of a competitor's Page, ``(#100)`` subcode 33 for an unknown id.

Use :func:`value_for` and :func:`page_fields` to compute what the sandbox serves (the tests do).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from socialkpi.sandbox import world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "facebook"
PACIFIC = ZoneInfo("America/Los_Angeles")
MAX_RANGE = timedelta(days=93)
FOLLOWERS_BASE = 4800.0

# Current Page Insights metrics (§1.4): (title, description, daily base or None for a level).
METRICS: dict[str, tuple[str, str, float | None]] = {
    "page_media_view": (
        "Daily Media Views",
        "Daily: The number of times your content was played or displayed.",
        620,
    ),
    "page_total_media_view_unique": (
        "Daily Media Viewers",
        "Daily: The number of people who saw your content.",
        380,
    ),
    "page_post_engagements": (
        "Daily Post Engagements",
        "Daily: The number of interactions with your posts.",
        34,
    ),
    "page_views_total": ("Daily Total Page Views", "Daily: The number of times your Page was viewed.", 42),
    "page_daily_follows": ("Daily Follows", "Daily: The number of follows of your Page.", 3.5),
    "page_daily_follows_unique": ("Daily New Follows", "Daily: The number of new followers of your Page.", 3),
    "page_daily_unfollows_unique": (
        "Daily Unfollows",
        "Daily: The number of people who unfollowed your Page.",
        1,
    ),
    "page_follows": ("Lifetime Follows", "Lifetime: The total number of people who follow your Page.", None),
    "page_total_actions": (
        "Daily Total Actions",
        "Daily: Clicks on your contact info and call-to-action.",
        6,
    ),
    "page_video_views": ("Daily Video Views", "Daily: The number of times your videos were viewed.", 140),
}


# -- the world's numbers ---------------------------------------------------------------------------
def _account(page_id: str) -> world.DemoAccount | None:
    return next((a for a in world.DEMO_ACCOUNTS if a.platform == PLATFORM and a.id == page_id), None)


def followers_on(page_id: str, day: date) -> int:
    return world.followers(PLATFORM, page_id, day, FOLLOWERS_BASE)


def value_for(page_id: str, metric: str, day: date) -> int:
    """The value the sandbox serves for ``metric`` on Pacific day ``day``."""
    base = METRICS[metric][2]
    if base is None:
        return followers_on(page_id, day)
    value = world.daily(PLATFORM, page_id, metric, day, base)
    if metric == "page_total_media_view_unique":  # viewers never exceed views
        value = min(value, value_for(page_id, "page_media_view", day))
    if metric == "page_daily_follows":
        value = max(value, value_for(page_id, "page_daily_follows_unique", day))
    return value


def page_fields(page_id: str, today: date | None = None) -> dict[str, Any]:
    acc = _account(page_id)
    day = today or world.now().date()
    name = acc.name if acc else f"Page {page_id}"
    followers = followers_on(page_id, day)
    return {
        "id": page_id,
        "name": name,
        "username": name.lower().replace(" ", "").replace("-", ""),
        "followers_count": followers,
        "fan_count": int(followers * 0.91),
    }


# -- errors (Meta's envelope) --------------------------------------------------------------------
def _error(status: int, code: int, message: str, *, subcode: int | None = None, kind: str = "OAuthException") -> Reply:
    err: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = "AsAnDbOxTrAcE01"
    return Reply(
        status,
        {"error": err},
        {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'} if code == 190 else {},
    )


def _auth(request: Request) -> tuple[str | None, Reply | None]:
    token = request.bearer() or request.arg("access_token")
    if token == world.TOKEN:
        return token, None
    if token == world.EXPIRED_TOKEN:
        return token, _error(
            400,
            190,
            "Error validating access token: Session has expired on Tuesday, 03-Mar-26 10:00:00 PST. "
            "The current time is Wednesday, 04-Mar-26 02:13:40 PST.",
            subcode=463,
        )
    if token is None:
        return None, _error(
            400, 2500, "An active access token must be used to query information about the current user."
        )
    return token, _error(400, 190, "Invalid OAuth access token - Cannot parse access token")


def _unknown(page_id: str) -> Reply:
    return _error(
        400,
        100,
        f"Unsupported get request. Object with ID '{page_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        subcode=33,
        kind="GraphMethodException",
    )


# -- routes ----------------------------------------------------------------------------------------
def page_handler(request: Request) -> Reply:
    _, denied = _auth(request)
    if denied:
        return denied
    page_id = request.groups[0]
    if _account(page_id) is None:
        return _unknown(page_id)
    fields = (request.arg("fields") or "id,name").split(",")
    known = page_fields(page_id)
    unknown = [f for f in fields if f not in known]
    if unknown:
        return _error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (Page)")
    return Reply(200, {f: known[f] for f in fields})


def _moment(text: str | None, default: date) -> date:
    """A ``since``/``until`` value as a Pacific day: ``YYYY-MM-DD`` or Unix seconds."""
    if text is None:
        return default
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC).astimezone(PACIFIC).date()
    return date.fromisoformat(text)


def _stamp(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=PACIFIC).timestamp())


def _end_time(day: date) -> str:
    """Pacific midnight that ends ``day``, printed in UTC as Meta does."""
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), PACIFIC).astimezone(UTC)
    return end.strftime("%Y-%m-%dT%H:%M:%S+0000")


def insights_handler(request: Request) -> Reply:
    token, denied = _auth(request)
    if denied:
        return denied
    page_id = request.groups[0]
    acc = _account(page_id)
    if acc is None:
        return _unknown(page_id)
    if acc.competitor:
        return _error(403, 10, "(#10) Application does not have permission for this action")
    metric_arg = request.arg("metric")
    if not metric_arg:
        return _error(400, 3001, "Invalid query", subcode=1504028)
    metrics = metric_arg.split(",")
    if any(m not in METRICS for m in metrics):
        return _error(400, 100, "(#100) The value must be a valid insights metric")
    period = request.arg("period") or "day"
    if period != "day":
        return _error(400, 100, "(#100) The sandbox serves period=day only")
    today = world.now().date()
    try:
        until = _moment(request.arg("until"), today)
        since = _moment(request.arg("since"), until - timedelta(days=2))
    except ValueError:
        return _error(400, 100, "(#100) Invalid since/until")
    if until - since > MAX_RANGE:
        return _error(
            400,
            1,
            "There cannot be more than 93 days (8035200 s) between since and until",
            kind="OAuthException",
        )
    days = [since + timedelta(days=n) for n in range((until - since).days) if since + timedelta(days=n) < today]
    data = [
        {
            "name": m,
            "period": "day",
            "values": [{"value": value_for(page_id, m, d), "end_time": _end_time(d)} for d in days],
            "title": METRICS[m][0],
            "description": METRICS[m][1],
            "id": f"{page_id}/insights/{m}/day",
        }
        for m in metrics
    ]
    span = until - since

    def link(start: date, end: date) -> str:
        query = urlencode(
            {
                "access_token": token,
                "metric": metric_arg,
                "period": "day",
                "since": _stamp(start),
                "until": _stamp(end),
            }
        )
        return f"{request.base_url}{request.path}?{query}"

    paging = {"previous": link(since - span, since), "next": link(until, until + span)}
    return Reply(200, {"data": data, "paging": paging})


ROUTES = [
    ("GET", r"/v\d+\.\d+/(\d+)", page_handler),
    ("GET", r"/v\d+\.\d+/(\d+)/insights", insights_handler),
]
