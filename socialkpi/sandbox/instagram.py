"""Sandbox part: the Instagram API with Facebook Login on graph.facebook.com, any version ``/vNN.N``.

Answers as https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/
documents it:

* ``GET /{ig-user-id}?fields=...`` the account's fields as asked (``followers_count`` and
  ``media_count`` as of today, UTC), or ``business_discovery.username(x){...}`` for another
  professional account, with the answer under ``business_discovery`` beside the asker's ``id``;
  an unknown username gets code 110, subcode 2207013 ("Cannot find User").
* ``GET /{ig-user-id}/insights?metric=...&period=day&metric_type=total_value&since=&until=``: one
  ``total_value`` per metric for the whole since..until range (unix seconds or dates, read in
  Los Angeles; the default is the last 24 h), counts summed, reach a distinct count (not the sum);
  ``data: []`` for a range without any data and a metric left out when its total is 0, as Instagram
  does; ``paging`` links that embed ``access_token`` as the real ones do.  ``impressions`` (gone
  since v22 / 2025-04-21) and ``website_clicks`` (2025-01-08) are refused with Meta's ``(#100)``;
  ``views`` and the other total_value-only metrics without ``metric_type=total_value`` likewise.
  ``profile_views`` still answers (as 2026 probes saw), except for the Croix-Rousse account
  (:data:`PROFILE_VIEWS_REFUSED`), whose insights refuse it like a retired metric.
* ``GET /me`` (the token is the Corner Bakery Page's token: ``me`` is the Page, with its
  ``instagram_business_account``; a Page token that Facebook Login issued: its Page; a user token: the
  person, who has no such field) and ``GET /debug_token`` (a Page token that does not expire, with its
  scopes; an issued token with its own type, expiry and granted scopes).  ``GET /me/accounts`` (the
  person's Pages and their Instagram accounts) is the Facebook part's (socialkpi.sandbox.facebook).
* Tokens Facebook Login issued (``socialkpi.sandbox.facebook_login.issued``) are accepted beside world.TOKEN.
* Every ``X-Business-Use-Case-Usage`` header carries ``"type": "instagram"`` usage; errors use Meta's
  envelope: 190/463 for ``world.EXPIRED_TOKEN``, 190 for any other wrong token, 104 for none,
  ``(#100)`` subcode 33 for an account the token cannot see.

The routes match only Instagram ids (``1784…``) so that a Facebook Page part on the same server keeps
its Page ids, and only two-digit Graph versions so that Threads' ``/v1.0/me`` is not taken.  Use
:func:`value_for`, :func:`followers_on` and :func:`media_count_on` to compute what the sandbox serves
(the tests do).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from socialkpi.sandbox import facebook, facebook_login, world
from socialkpi.sandbox.instagram_accounts import ACCOUNTS as ACCOUNTS
from socialkpi.sandbox.instagram_accounts import OWN_ID as OWN_ID
from socialkpi.sandbox.instagram_accounts import PLATFORM, followers_on
from socialkpi.sandbox.instagram_accounts import media_count_on as media_count_on
from socialkpi.sandbox.server import Reply, Request

PACIFIC = ZoneInfo("America/Los_Angeles")
PAGE_ID = "104512345678901"  # the Facebook Page the sandbox token belongs to
SCOPES = ["instagram_basic", "instagram_manage_insights", "pages_read_engagement", "pages_show_list"]
NO_DATA_DAYS = frozenset({date(2026, 3, 3)})  # Instagram answers "data": [] for these days
# profile_views is undocumented since 2025 (https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/):
# this account's insights refuse it like a retired metric.
PROFILE_VIEWS_REFUSED = frozenset({"17841405309211845"})
UNKNOWN_USERNAMES = frozenset({"no_such_bakery", "privatebaker"})  # not found by business discovery

# Current account metrics (https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/):
# (title, description, daily base, time_series allowed).
METRICS: dict[str, tuple[str, str, float, bool]] = {
    "views": ("Views", "The number of times your content was played or displayed.", 420, False),
    "reach": (
        "Accounts reached",
        "The number of unique accounts that have seen your content, at least once, including in ads.",
        160,
        True,
    ),
    "total_interactions": (
        "Content interactions",
        "The total number of post interactions, story interactions, reels interactions, video interactions "
        "and live video interactions, including any interactions on boosted content.",
        28,
        False,
    ),
    "accounts_engaged": (
        "Accounts engaged",
        "The number of accounts that have interacted with your content, including in ads.",
        19,
        False,
    ),
    "profile_links_taps": (
        "Profile links taps",
        "The number of taps on your business address, call button, email button and text button.",
        1.4,
        False,
    ),
    "profile_views": ("Profile views", "The number of times your profile was visited.", 18, False),
}
DISTINCT = frozenset({"reach", "accounts_engaged"})


# -- the world's numbers -----------------------------------------------------------------------------
def value_for(account: str, metric: str, day: date) -> int:
    """The value of ``metric`` on Pacific day ``day`` (0 on a day Instagram has no data for)."""
    if day in NO_DATA_DAYS:
        return 0
    value = world.daily(PLATFORM, account, metric, day, METRICS[metric][2])
    if metric in DISTINCT:  # distinct accounts never exceed views
        value = min(value, value_for(account, "views", day))
    return value


def total_for(account: str, metric: str, days: list[date]) -> int:
    """A ``total_value`` over several days: the sum for counts; a distinct count is below the sum."""
    values = [value_for(account, metric, d) for d in days]
    if not values:
        return 0
    if metric in DISTINCT and len(values) > 1:
        return round(max(values) + 0.35 * (sum(values) - max(values)))
    return sum(values)


# -- errors (Meta's envelope) ---------------------------------------------------------------------------
def _error(status: int, code: int, message: str, *, subcode: int | None = None, **extra: Any) -> Reply:
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err.update(extra)
    err["fbtrace_id"] = "AzIgSaNdBoXtRaCe"
    headers = {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'} if code == 190 else {}
    return Reply(status, {"error": err}, headers)


def _auth(request: Request) -> tuple[str, Reply | None]:
    token = request.bearer() or request.arg("access_token") or ""
    if token == world.TOKEN:
        return token, None
    known = facebook_login.issued(token)
    if known is not None:
        return token, (_error(400, 190, "Error validating access token: Session has expired.", subcode=463)
                       if known.expired() else None)  # fmt: skip
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


def _usage_headers(account: str, calls: int = 3) -> dict[str, str]:
    usage = {account: [{"type": "instagram", "call_count": calls, "total_cputime": 1, "total_time": 2,
                        "estimated_time_to_regain_access": 0}]}  # fmt: skip
    return {"X-Business-Use-Case-Usage": json.dumps(usage)}


def _unknown_object(ident: str) -> Reply:
    return _error(
        400,
        100,
        f"Unsupported get request. Object with ID '{ident}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        subcode=33,
        type="GraphMethodException",
    )


# -- the account node ------------------------------------------------------------------------------------
_DISCOVERY_RE = re.compile(r"business_discovery\.username\(([^)]*)\)\{([^}]*)\}")


def _today() -> date:
    return world.now().date()


def _profile(account: str, username: str, fields: list[str], *, discovered: bool) -> dict[str, Any]:
    today = _today()
    known: dict[str, Any] = {
        "username": username,
        "followers_count": followers_on(account, today),
        "media_count": media_count_on(account, today),
        "name": username.replace(".", " ").replace("_", " ").title(),
    }
    if not discovered:  # business discovery gives no follows_count and no name (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/business_discovery)
        known["follows_count"] = 310 + int(40 * world.scale_of(PLATFORM, account))
    else:
        known.pop("name")
    body = {f: known[f] for f in fields if f in known}
    body["id"] = _discovered_id(username) if discovered else account
    return body


def _discovered_id(username: str) -> str:
    digest = hashlib.blake2b(username.encode(), digest_size=6).digest()
    return "178414" + str(int.from_bytes(digest, "big"))[:11].rjust(11, "0")


def account_handler(request: Request) -> Reply:
    _, refused = _auth(request)
    if refused:
        return refused
    ig_id = request.groups[0]
    if ig_id not in ACCOUNTS:
        return _unknown_object(ig_id)
    fields = facebook.split_fields(request.arg("fields") or "id")
    body: dict[str, Any] = {}
    for field in fields:
        match = _DISCOVERY_RE.fullmatch(field)
        if match:
            username, inner = match.group(1), facebook.split_fields(match.group(2))
            if username in UNKNOWN_USERNAMES or not re.fullmatch(r"[A-Za-z0-9._]{1,30}", username):
                return _error(
                    400,
                    110,
                    "Invalid user id",
                    subcode=2207013,
                    is_transient=False,
                    error_user_title="Cannot find User",
                    error_user_msg=f"The user with username: {username} cannot be found.",
                )
            body["business_discovery"] = _profile(username, username, inner, discovered=True)
        elif field.startswith("business_discovery"):
            return _error(400, 100, '(#100) Syntax error "Expected "(" instead of end of string."')
    body.update(_profile(ig_id, ACCOUNTS[ig_id], [f for f in fields if "(" not in f], discovered=False))
    return Reply(200, body)


# -- insights ------------------------------------------------------------------------------------------------
def _moment(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    if re.fullmatch(r"\d+", text):
        return datetime.fromtimestamp(int(text), UTC)
    return datetime.combine(date.fromisoformat(text[:10]), time(0), PACIFIC)


def _days(since: datetime, until: datetime) -> list[date]:
    """The Pacific days a since..until range covers, up to the last day that has ended."""
    first = since.astimezone(PACIFIC).date()
    last = (until - timedelta(seconds=1)).astimezone(PACIFIC).date()
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
    ig_id = request.groups[0]
    if ig_id not in ACCOUNTS:
        return _unknown_object(ig_id)
    names = [m for m in (request.arg("metric") or "").split(",") if m]
    if not names:
        return _error(400, 100, "(#100) The parameter metric is required")
    for index, name in enumerate(names):
        if name == "impressions":
            return _error(
                400,
                100,
                "(#100) Starting from version 22 and above, the impressions metric is no longer supported for "
                "the queried user. Please use views instead.",
            )
        if name not in METRICS or (name == "profile_views" and ig_id in PROFILE_VIEWS_REFUSED):
            allowed = [m for m in METRICS if m != "profile_views" or ig_id not in PROFILE_VIEWS_REFUSED]
            allowed += ["follower_count", "online_followers", "follows_and_unfollows"]
            return _error(400, 100, f"(#100) metric[{index}] must be one of the following values: {', '.join(allowed)}")
    if (request.arg("period") or "day") != "day":
        return _error(400, 100, "(#100) period must be one of the following values: day")
    metric_type = request.arg("metric_type") or "time_series"
    if metric_type not in ("total_value", "time_series"):
        return _error(400, 100, "(#100) metric_type must be one of the following values: total_value, time_series")
    if metric_type == "time_series":
        wrong = [n for n in names if not METRICS[n][3]]
        if wrong:
            return _error(
                400,
                100,
                f"(#100) The following metrics ({', '.join(wrong)}) should be specified with parameter "
                "metric_type=total_value",
            )
    now = datetime.now(UTC)
    try:
        until = _moment(request.arg("until"), now)
        since = _moment(request.arg("since"), until - timedelta(days=1))
    except ValueError:
        return _error(400, 100, "(#100) The parameter since must be a unix timestamp or a date")
    if until <= since:
        return _error(400, 100, "(#100) The since parameter must be before the until parameter")
    days = _days(since, until)
    data: list[dict[str, Any]] = []
    if any(d not in NO_DATA_DAYS for d in days):
        for name in names:
            title, description = METRICS[name][0], METRICS[name][1]
            entry: dict[str, Any] = {"name": name, "period": "day", "title": title, "description": description}
            if metric_type == "total_value":
                value = total_for(ig_id, name, days)
                if value == 0:
                    continue  # Instagram leaves a metric without data out
                entry["total_value"] = {"value": value}
            else:
                entry["values"] = [
                    {"value": value_for(ig_id, name, d), "end_time": _end_time(d)}
                    for d in days
                    if d not in NO_DATA_DAYS
                ]
            entry["id"] = f"{ig_id}/insights/{name}/day"
            data.append(entry)
    body: dict[str, Any] = {"data": data}
    span = int(until.timestamp()) - int(since.timestamp())
    base = f"{request.base_url}{request.path}"
    common = {"access_token": token, "metric": ",".join(names), "period": "day", "metric_type": metric_type}
    body["paging"] = {
        "previous": base
        + "?"
        + urlencode({**common, "since": int(since.timestamp()) - span, "until": int(since.timestamp())}),  # fmt: skip
        "next": base
        + "?"
        + urlencode({**common, "since": int(until.timestamp()), "until": int(until.timestamp()) + span}),  # fmt: skip
    }
    return Reply(200, body, _usage_headers(ig_id))


def _end_time(day: date) -> str:
    end = datetime.combine(day + timedelta(days=1), time(0), PACIFIC).astimezone(UTC)
    return end.strftime("%Y-%m-%dT%H:%M:%S+0000")


# -- the token's own nodes -------------------------------------------------------------------------------------
def _page(fields: list[str], page_id: str = PAGE_ID) -> dict[str, Any]:
    page: dict[str, Any] = {"id": page_id}
    known: dict[str, Any] = {"name": facebook.page_fields(page_id)["name"]}
    if page_id in facebook.LINKED_IG:
        known["instagram_business_account"] = {"id": facebook.LINKED_IG[page_id]}
    page.update({f: known[f] for f in fields if f in known})
    return page


def me_handler(request: Request) -> Reply:
    """``GET /me``: the Page of a Page token (world.TOKEN is the Corner Bakery Page's), the person of a user token."""
    token, refused = _auth(request)
    if refused:
        return refused
    fields = facebook.split_fields(request.arg("fields") or "id,name")
    known = facebook_login.issued(token)
    if known is not None and known.kind == "user":
        wrong = [f for f in fields if f not in ("id", "name")]
        if wrong:
            return _error(400, 100, f"(#100) Tried accessing nonexisting field ({wrong[0]}) on node type (User)")
        return Reply(200, {"id": facebook.USER_ID, **({"name": "Camille Martin"} if "name" in fields else {})})
    page_id = known.page_id if known is not None and known.page_id else PAGE_ID
    return Reply(200, _page(fields, page_id))


def debug_token_handler(request: Request) -> Reply:
    _, refused = _auth(request)
    if refused:
        return refused
    inspected = request.arg("input_token") or ""
    known = facebook_login.issued(inspected)
    if known is not None:
        return Reply(200, {"data": _debug_issued(known)})
    if inspected != world.TOKEN:
        return Reply(200, {"data": {"is_valid": False, "error": {"code": 190, "message": "Invalid OAuth access token."},
                                    "scopes": []}})  # fmt: skip
    now = int(datetime.now(UTC).timestamp())
    return Reply(
        200,
        {
            "data": {
                "app_id": "138483919580948",
                "type": "PAGE",
                "application": "Corner Bakery KPIs",
                "data_access_expires_at": now + 90 * 86400,
                "expires_at": 0,
                "is_valid": True,
                "issued_at": now - 30 * 86400,
                "profile_id": PAGE_ID,
                "scopes": SCOPES,
                "granular_scopes": [{"scope": s, "target_ids": [PAGE_ID]} for s in SCOPES],
                "user_id": "10229876543210",
            }
        },
    )


def _debug_issued(known: Any) -> dict[str, Any]:
    """``debug_token`` of a token Facebook Login issued: its type, expiry (0: never) and granted scopes."""
    now = int(datetime.now(UTC).timestamp())
    data: dict[str, Any] = {
        "app_id": "138483919580948",
        "type": known.kind.upper(),
        "application": "Corner Bakery KPIs",
        "data_access_expires_at": now + 90 * 86400,
        "expires_at": int(known.expires_at) if known.expires_at else 0,
        "is_valid": not known.expired(),
        "issued_at": now,
        "scopes": list(known.scopes),
        "user_id": facebook.USER_ID,
    }
    if known.page_id:
        data["profile_id"] = known.page_id
    return data


GRAPH = r"/v[1-9]\d\.\d+"  # Graph API versions (v26.0): two digits, so Threads' /v1.0 stays the Threads part's
ROUTES = [
    ("GET", GRAPH + r"/me", me_handler),
    ("GET", GRAPH + r"/debug_token", debug_token_handler),
    ("GET", GRAPH + r"/(1784\d{9,14})", account_handler),
    ("GET", GRAPH + r"/(1784\d{9,14})/insights", insights_handler),
]
