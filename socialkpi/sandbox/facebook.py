"""Sandbox part: the Graph API's Page node and Page Insights edge, for any version ``/vNN.N``.

Answers as https://developers.facebook.com/docs/graph-api/reference/page/insights/ documents it: Page fields as asked in
``fields``; insights
``data[{name, period, values[{value, end_time}], title, description, id}]`` with time-based
``paging.previous/next`` links that embed ``access_token`` (as the real ones do); ``end_time`` is
Pacific midnight after the day (``T08:00:00+0000`` in PST, ``T07:00:00+0000`` in PDT); ``since``
and ``until`` (dates read as Pacific midnight, or Unix seconds) give the days ``since <= d < until``,
never today or later (UTC).  Errors use Meta's envelope and codes: 190/463 for the expired token,
190 for any other wrong token, ``(#100) The value must be a valid insights metric`` for a metric
that is not current (the 2025-11-15 and 2026-06-15 removals), code 1 for a range over 93 days,
``(#10)`` for insights of a competitor's Page, ``(#100)`` subcode 33 for an unknown id.

Facebook Login (https://developers.facebook.com/documentation/facebook-login/guides/advanced/manual-flow):

* ``GET/POST /vNN.N/dialog/oauth`` and ``GET /vNN.N/oauth/access_token``: the Login Dialog and the token
  endpoint, :mod:`socialkpi.sandbox.facebook_login`.
* ``GET /vNN.N/me/accounts``: the Pages the person manages (the world's own two Pages) with the fields asked
  (``access_token`` a Page token this sandbox issues: no expiry when asked with a long-lived user token, an
  hour with a short-lived one; ``instagram_business_account{...}`` their linked Instagram accounts), ``limit``
  and ``after`` cursors, ``paging.cursors`` and ``paging.next`` when more follow; a Page token gets Meta's
  "(#100) Tried accessing nonexisting field (accounts) on node type (Page)".
* ``GET /vNN.N/<vanity name>``: a Page by its username (``rivalpatisserie``); an unknown one gets
  ``(#803) Some of the aliases you requested do not exist: <name>``.

Tokens the sandbox issues (:func:`issued`) are accepted here and by the Instagram part beside
:data:`world.TOKEN`; a user token reads Page fields, insights need a Page token (Meta's 190/2069032 "A Page
access token is required for this call", https://developers.facebook.com/documentation/pages-api/error-codes).

Use :func:`value_for` and :func:`page_fields` to compute what the sandbox serves (the tests do).
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from socialkpi.sandbox import instagram_accounts, world
from socialkpi.sandbox.facebook_login import (
    CONFIG_GRANT,
    Issued,
    _error,
    _expired,
    _issue,
    access_token,
    consent,
    decision,
    issued,
)
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "facebook"
PACIFIC = ZoneInfo("America/Los_Angeles")
MAX_RANGE = timedelta(days=93)
FOLLOWERS_BASE = 4800.0

# Current Page Insights metrics (https://developers.facebook.com/docs/graph-api/reference/page/insights/):
# (title, description, daily base or None for a level).
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


# -- errors (Meta's envelope: socialkpi.sandbox.facebook_login._error) ------------------------------
def _auth(request: Request) -> tuple[str | None, Reply | None]:
    token = request.bearer() or request.arg("access_token")
    if token == world.TOKEN:
        return token, None
    known = issued(token)
    if known is not None:
        return token, (_expired() if known.expired() else None)
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
    known = issued(token)
    if known is not None and known.kind != "page":
        return _error(400, 190, "A Page access token is required for this call for the new Pages experience.",
                      subcode=2069032)  # fmt: skip
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


# -- the person's Pages (Facebook Login's tokens: socialkpi.sandbox.facebook_login) ------------------
USER_ID = "10229876543210"  # the person who signs in: an admin of both own Pages
OWN_PAGES = ("104512345678901", "104512345678902")
LINKED_IG = {"104512345678901": "17841405309211844", "104512345678902": "17841405309211845"}
PAGE_TASKS = ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"]
PAGE_SHORT_TTL = 3600  # Page tokens listed with a short-lived user token: "valid for 1 hour"


def split_fields(text: str) -> list[str]:
    """Top-level fields of a Graph ``fields`` list (commas inside ``{...}`` or ``(...)`` kept)."""
    out, depth, current = [], 0, ""
    for ch in text:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    if current:
        out.append(current)
    return [f.strip() for f in out if f.strip()]


def _page_node(page_id: str, fields: list[str], asker: Issued) -> dict[str, Any]:
    """One entry of ``/me/accounts``: the fields asked, the Page token and the linked Instagram account."""
    known = page_fields(page_id)
    node: dict[str, Any] = {}
    for field in fields:
        name, _, inner = field.partition("{")
        if name == "access_token":
            expires = None if asker.long_lived else time.time() + PAGE_SHORT_TTL
            node["access_token"] = _issue("page", Issued("page", asker.long_lived, expires, asker.scopes, page_id))
        elif name == "tasks":
            node["tasks"] = list(PAGE_TASKS)
        elif name == "category":
            node["category"] = "Bakery"
        elif name == "instagram_business_account":
            ig_id = LINKED_IG.get(page_id)
            if ig_id is None:
                continue  # no linked professional account: the key is left out
            asked = split_fields(inner.rstrip("}")) if inner else ["id"]
            username = instagram_accounts.ACCOUNTS[ig_id]
            ig: dict[str, Any] = {
                "id": ig_id,
                "username": username,
                "name": next((a.name for a in world.DEMO_ACCOUNTS if a.id == ig_id), username),
                "followers_count": instagram_accounts.followers_on(ig_id, world.now().date()),
                "media_count": instagram_accounts.media_count_on(ig_id, world.now().date()),
            }
            node["instagram_business_account"] = {k: v for k, v in ig.items() if k in asked or k == "id"}
        elif name in known:
            node[name] = known[name]
    node["id"] = page_id
    return node


def me_accounts(request: Request) -> Reply:
    """``GET /vNN.N/me/accounts``: the Pages the token's person has a role on, a page of ``limit`` at a time."""
    token, denied = _auth(request)
    if denied:
        return denied
    asker = issued(token)
    if asker is not None and asker.kind == "page":
        return _error(400, 100, "(#100) Tried accessing nonexisting field (accounts) on node type (Page)")
    if asker is None:  # world.TOKEN: the demo's token, taken for a long-lived user token
        asker = Issued("user", True, None, tuple(CONFIG_GRANT))
    if "pages_show_list" not in asker.scopes:
        return Reply(200, {"data": []})  # without pages_show_list the edge is empty
    fields = split_fields(request.arg("fields") or "id,name,access_token,category,tasks")
    try:
        limit = max(1, min(100, int(request.arg("limit") or 25)))
    except ValueError:
        return _error(400, 100, "(#100) Param limit must be a number")
    cursor = request.arg("after")
    start = 0
    if cursor:
        try:
            start = OWN_PAGES.index(base64.urlsafe_b64decode(cursor.encode()).decode()) + 1
        except (ValueError, UnicodeDecodeError):
            return _error(400, 100, "(#100) The after cursor is not valid")
    chunk = OWN_PAGES[start : start + limit]
    data = [_page_node(page_id, fields, asker) for page_id in chunk]
    body: dict[str, Any] = {"data": data}
    if chunk:
        body["paging"] = {"cursors": {"before": _cursor(chunk[0]), "after": _cursor(chunk[-1])}}
        if start + limit < len(OWN_PAGES):
            query = {"access_token": token, "fields": request.arg("fields") or "", "limit": limit,
                     "after": _cursor(chunk[-1])}  # fmt: skip
            body["paging"]["next"] = f"{request.base_url}{request.path}?{urlencode(query)}"
    return Reply(200, body)


def _cursor(page_id: str) -> str:
    return base64.urlsafe_b64encode(page_id.encode()).decode()


def vanity_handler(request: Request) -> Reply:
    """``GET /vNN.N/<username>``: a Page by its vanity name (a page id works as well: :func:`page_handler`)."""
    _, denied = _auth(request)
    if denied:
        return denied
    name = request.groups[0].lower()
    page = next(
        (a.id for a in world.DEMO_ACCOUNTS if a.platform == PLATFORM and page_fields(a.id)["username"] == name), None
    )
    if page is None:
        return _error(404, 803, f"(#803) Some of the aliases you requested do not exist: {request.groups[0]}")
    request.groups = (page,)
    return page_handler(request)


GRAPH = r"/v[1-9]\d\.\d+"  # two-digit Graph versions (v26.0): Threads' /v1.0 stays the Threads part's
ROUTES = [
    ("GET", r"/v\d+\.\d+/(\d+)", page_handler),
    ("GET", r"/v\d+\.\d+/(\d+)/insights", insights_handler),
    ("GET", GRAPH + r"/dialog/oauth", consent),
    ("POST", GRAPH + r"/dialog/oauth", decision),
    ("GET", GRAPH + r"/oauth/access_token", access_token),
    ("GET", GRAPH + r"/me/accounts", me_accounts),
    # last: any other one-segment name is a Page's vanity name (/me and /debug_token are the Instagram part's)
    ("GET", GRAPH + r"/([A-Za-z][A-Za-z0-9.\-]{0,99})", vanity_handler),
]
