"""Sandbox part: the GA4 Data API ``runReport``, the Admin API's account summaries, and the Google OAuth token
endpoint (:mod:`socialkpi.sandbox.google_oauth`, shared by the youtube and google_business parts).

Answers the way https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/RunReportResponse
documents it: ``RunReportResponse`` with
``dimensionHeaders``, typed ``metricHeaders``, string values, ``rowCount`` (left out when 0, as
proto-JSON does), ``metadata`` and ``kind``; ``limit``/``offset`` honoured; rows with no data left
out (``keepEmptyRows`` false); nothing for today or later (data up to yesterday, Europe/Paris).
Dimensions: ``date`` first, then ``sessionDefaultChannelGroup``, ``sessionSource`` and/or
``sessionMedium`` in any combination.

The numbers come from :mod:`socialkpi.sandbox.world`: per day, the channel sessions add up to the
date-only sessions, page views likewise, and active users never exceed sessions.  Each channel's
sessions and page views are split over real-looking ``(sessionSource, sessionMedium)`` pairs
(:data:`SOURCES`), so a channel's total equals the sum of its sources: Organic Social is
``l.facebook.com / referral``, ``instagram / social``, ``t.co / referral`` ...; youtube.com is in
Organic Video, as GA4's channel rules put it.  Use the ``*_for`` functions below to compute what
the sandbox serves (the tests do).

``POST /token`` (Google's token endpoint) and Google's installed-app authorization, for ``socialkpi connect
google|ga4|google_business|youtube``: :mod:`socialkpi.sandbox.google_oauth`.  Also for ``connect``:

* ``GET /v1beta/accountSummaries?pageSize=&pageToken=`` (Admin API,
  https://developers.google.com/analytics/devguides/config/admin/v1/rest/v1beta/accountSummaries/list):
  the summaries one per page, ``nextPageToken`` until the last; the first account has no GA4 property (an
  old Universal Analytics account), the second has the world's property ``properties/312345678``.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialkpi.sandbox import world
from socialkpi.sandbox.google_oauth import SCOPES_OK, consent, decision, scopes_of, token
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "ga4"
TIME_ZONE = "Europe/Paris"
PROPERTY_START = date(2024, 1, 1)  # the property collects nothing before this day
OUTAGE_DAYS = frozenset({date(2026, 2, 17)})  # the tag was broken: GA4 has no row at all that day

# Channel groups and their typical share of a bakery's sessions (shares wobble per day).
CHANNELS: dict[str, float] = {
    "Direct": 0.30,
    "Organic Search": 0.34,
    "Organic Social": 0.18,
    "Paid Social": 0.05,
    "Organic Video": 0.02,
    "Referral": 0.07,
    "Email": 0.04,
}
# Each channel's (sessionSource, sessionMedium) pairs and their typical share of its sessions.
SOURCES: dict[str, dict[tuple[str, str], float]] = {
    "Direct": {("(direct)", "(none)"): 1.0},
    "Organic Search": {("google", "organic"): 0.93, ("bing", "organic"): 0.07},
    "Organic Social": {
        ("l.facebook.com", "referral"): 0.24,
        ("lm.facebook.com", "referral"): 0.08,
        ("instagram", "social"): 0.30,
        ("t.co", "referral"): 0.07,
        ("lnkd.in", "referral"): 0.05,
        ("android-app://com.linkedin.android", "referral"): 0.04,
        ("pinterest.com", "referral"): 0.14,
        ("out.reddit.com", "referral"): 0.08,
    },
    "Paid Social": {("facebook", "cpc"): 0.7, ("instagram", "paid"): 0.3},
    "Organic Video": {("youtube.com", "referral"): 1.0},
    "Referral": {("tripadvisor.fr", "referral"): 0.6, ("lyon.citycrunch.fr", "referral"): 0.4},
    "Email": {("newsletter", "email"): 1.0},
}
METRIC_TYPES = {"screenPageViews": "TYPE_INTEGER", "sessions": "TYPE_INTEGER", "activeUsers": "TYPE_INTEGER"}
DIMENSIONS = ("date", "sessionDefaultChannelGroup", "sessionSource", "sessionMedium")

ADMIN_ACCOUNT = "accounts/98765432"  # the Google Analytics account that holds the world's property
ACCOUNT_SUMMARIES: tuple[dict[str, Any], ...] = (
    {  # an old Universal Analytics account: no GA4 property, so propertySummaries is left out
        "name": "accountSummaries/11223344",
        "account": "accounts/11223344",
        "displayName": "Corner Bakery (Universal Analytics)",
    },
    {
        "name": "accountSummaries/98765432",
        "account": ADMIN_ACCOUNT,
        "displayName": "Corner Bakery",
        "propertySummaries": [
            {
                "property": "properties/312345678",
                "displayName": "cornerbakery.fr",
                "propertyType": "PROPERTY_TYPE_ORDINARY",
                "parent": ADMIN_ACCOUNT,
            }
        ],
    },
)


# -- the world's numbers -------------------------------------------------------------------------
def has_data(property_id: str, day: date) -> bool:
    return day >= PROPERTY_START and day not in OUTAGE_DAYS


def sessions_for(property_id: str, day: date) -> int:
    return world.daily(PLATFORM, property_id, "sessions", day, 60) if has_data(property_id, day) else 0


def page_views_for(property_id: str, day: date) -> int:
    if not has_data(property_id, day):
        return 0
    return sessions_for(property_id, day) + world.daily(PLATFORM, property_id, "extra_pages", day, 95)


def active_users_for(property_id: str, day: date) -> int:
    if not has_data(property_id, day):
        return 0
    return min(sessions_for(property_id, day), world.daily(PLATFORM, property_id, "activeUsers", day, 48))


def _split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` in whole parts proportional to ``weights`` (largest remainder: the sum is exact)."""
    whole = sum(weights.values()) or 1.0
    raw = {k: total * w / whole for k, w in weights.items()}
    parts = {k: int(v) for k, v in raw.items()}
    left = total - sum(parts.values())
    for k in sorted(raw, key=lambda k: (parts[k] - raw[k], k))[:left]:
        parts[k] += 1
    return parts


def _weights(property_id: str, day: date) -> dict[str, float]:
    weights = {}
    for channel, share in CHANNELS.items():
        w = world.daily(PLATFORM, property_id, f"share:{channel}", day, share * 1000)
        if channel == "Paid Social" and day.isocalendar().week % 3:
            w = 0  # ads run one week in three
        weights[channel] = float(w)
    return weights


def channels_for(property_id: str, day: date) -> dict[str, dict[str, int]]:
    """Per channel group: sessions, screenPageViews and activeUsers on ``day`` (zeros included)."""
    sessions = _split(sessions_for(property_id, day), _weights(property_id, day))
    extra = _split(page_views_for(property_id, day) - sessions_for(property_id, day), _weights(property_id, day))
    total_s = sessions_for(property_id, day) or 1
    users = active_users_for(property_id, day)
    return {
        ch: {
            "sessions": sessions[ch],
            "screenPageViews": sessions[ch] + extra[ch],
            "activeUsers": min(sessions[ch], round(sessions[ch] * users / total_s)),
        }
        for ch in CHANNELS
    }


def sources_for(property_id: str, day: date) -> dict[tuple[str, str, str], dict[str, int]]:
    """Per (channel, sessionSource, sessionMedium): sessions, screenPageViews and activeUsers on ``day``.

    A channel's sessions and page views are split exactly over its sources; active users likewise,
    capped by each source's sessions.
    """
    out: dict[tuple[str, str, str], dict[str, int]] = {}
    for channel, values in channels_for(property_id, day).items():
        weights = {
            pair: float(world.daily(PLATFORM, property_id, f"share:{channel}:{pair[0]}", day, share * 1000))
            for pair, share in SOURCES[channel].items()
        }
        parts = {metric: _split(values[metric], weights) for metric in METRIC_TYPES}
        for pair in weights:
            sessions = parts["sessions"][pair]
            out[(channel, *pair)] = {
                "sessions": sessions,
                "screenPageViews": parts["screenPageViews"][pair],
                "activeUsers": min(sessions, parts["activeUsers"][pair]),
            }
    return out


# -- runReport ---------------------------------------------------------------------------------
def _google_error(code: int, status: str, message: str, **extra: Any) -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, "status": status, **extra}})


def _today() -> date:
    return world.now().astimezone(ZoneInfo(TIME_ZONE)).date()


def _resolve_date(text: Any) -> date:
    today = _today()
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    match = re.fullmatch(r"(\d+)daysAgo", str(text))
    if match:
        return today - timedelta(days=int(match.group(1)))
    return date.fromisoformat(str(text))


def _check_bearer(request: Request) -> Reply | None:
    token = request.bearer()
    if token is None:
        return _google_error(
            401,
            "UNAUTHENTICATED",
            "Request is missing required authentication credential. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
        )
    scopes = scopes_of(token)
    if scopes is None:  # world.EXPIRED_TOKEN and anything unknown
        return _google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
            "or other valid authentication credential.",
        )
    if not scopes & set(SCOPES_OK):
        return _google_error(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                }
            ],
        )
    return None


def run_report(request: Request) -> Reply:
    refused = _check_bearer(request)
    if refused:
        return refused
    property_id = request.groups[0]
    try:
        body = request.json()
        ranges = body["dateRanges"]
        if not isinstance(ranges, list) or len(ranges) != 1:
            raise ValueError("the sandbox answers exactly one date range")
        start, end = _resolve_date(ranges[0]["startDate"]), _resolve_date(ranges[0]["endDate"])
        dims = [d["name"] for d in body.get("dimensions", [])]
        metrics = [m["name"] for m in body.get("metrics", [])]
        limit = int(body.get("limit", 10000))
        offset = int(body.get("offset", 0))
    except (KeyError, TypeError, ValueError) as exc:
        return _google_error(400, "INVALID_ARGUMENT", f"Invalid request: {exc}")
    for name in dims:
        if name not in DIMENSIONS:
            return _google_error(400, "INVALID_ARGUMENT", f"Field {name} is not a valid dimension.")
    for name in metrics:
        if name not in METRIC_TYPES:
            return _google_error(400, "INVALID_ARGUMENT", f"Field {name} is not a valid metric.")
    if not metrics or not dims or dims[0] != "date" or len(set(dims)) != len(dims):
        return _google_error(
            400, "INVALID_ARGUMENT", "The sandbox answers metrics by date first, then other dimensions."
        )
    if end < start:
        return _google_error(400, "INVALID_ARGUMENT", "endDate must not be before startDate.")
    if limit <= 0 or offset < 0:
        return _google_error(400, "INVALID_ARGUMENT", "limit must be positive and offset not negative.")

    rows: list[dict[str, Any]] = []
    last = min(end, _today() - timedelta(days=1))  # data up to yesterday
    day = start
    while day <= last:
        if has_data(property_id, day):
            for key, values in _grouped(property_id, day, dims[1:]):
                if any(values[m] for m in metrics):
                    rows.append(_row([day.strftime("%Y%m%d"), *key], [values[m] for m in metrics]))
        day += timedelta(days=1)

    reply: dict[str, Any] = {
        "dimensionHeaders": [{"name": d} for d in dims],
        "metricHeaders": [{"name": m, "type": METRIC_TYPES[m]} for m in metrics],
    }
    page = rows[offset : offset + min(limit, 250_000)]
    if page:  # proto-JSON leaves out empty lists and zero counts
        reply["rows"] = page
    if rows:
        reply["rowCount"] = len(rows)
    reply["metadata"] = {"currencyCode": "EUR", "timeZone": TIME_ZONE}
    if body.get("returnPropertyQuota"):
        reply["propertyQuota"] = {
            "tokensPerDay": {"consumed": 6, "remaining": 199870},
            "tokensPerHour": {"consumed": 6, "remaining": 39950},
            "concurrentRequests": {"consumed": 0, "remaining": 10},
            "serverErrorsPerProjectPerHour": {"consumed": 0, "remaining": 10},
            "potentiallyThresholdedRequestsPerHour": {"consumed": 0, "remaining": 120},
            "tokensPerProjectPerHour": {"consumed": 6, "remaining": 13990},
        }
    reply["kind"] = "analyticsData#runReport"
    return Reply(200, reply)


def _grouped(property_id: str, day: date, dims: list[str]) -> list[tuple[tuple[str, ...], dict[str, int]]]:
    """The day's values grouped by ``dims`` (besides date), sorted by key."""
    if not dims:
        total = {
            "sessions": sessions_for(property_id, day),
            "screenPageViews": page_views_for(property_id, day),
            "activeUsers": active_users_for(property_id, day),
        }
        return [((), total)]
    if dims == ["sessionDefaultChannelGroup"]:
        return [((ch,), v) for ch, v in sorted(channels_for(property_id, day).items())]
    groups: dict[tuple[str, ...], dict[str, int]] = {}
    for (channel, source, medium), values in sources_for(property_id, day).items():
        named = {"sessionDefaultChannelGroup": channel, "sessionSource": source, "sessionMedium": medium}
        acc = groups.setdefault(tuple(named[d] for d in dims), dict.fromkeys(METRIC_TYPES, 0))
        for metric, value in values.items():
            acc[metric] += value
    for acc in groups.values():  # a distinct count does not add up: keep it plausible
        acc["activeUsers"] = min(acc["activeUsers"], acc["sessions"])
    return sorted(groups.items())


def _row(dims: list[str], values: list[int]) -> dict[str, Any]:
    return {
        "dimensionValues": [{"value": d} for d in dims],
        "metricValues": [{"value": str(v)} for v in values],
    }


# -- Admin API: the properties a user can see ------------------------------------------------------
def account_summaries(request: Request) -> Reply:
    """``GET /v1beta/accountSummaries``: one summary per page (the API "may return fewer than this value, even
    if there are additional pages"), ``nextPageToken`` until the last."""
    token = request.bearer()
    scopes = scopes_of(token) if token else None
    if scopes is None:
        return _google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
            "or other valid authentication credential.",
        )
    if not scopes & {*SCOPES_OK, "https://www.googleapis.com/auth/analytics.edit"}:
        return _google_error(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
            details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
            ],
        )
    try:
        size = int(request.arg("pageSize") or 50)
        start = int(request.arg("pageToken") or 0)
    except ValueError:
        return _google_error(400, "INVALID_ARGUMENT", "Invalid page token or page size.")
    if size < 0 or not 0 <= start < len(ACCOUNT_SUMMARIES):
        return _google_error(400, "INVALID_ARGUMENT", "Invalid page token or page size.")
    body: dict[str, Any] = {"accountSummaries": [ACCOUNT_SUMMARIES[start]]}
    if start + 1 < len(ACCOUNT_SUMMARIES):
        body["nextPageToken"] = str(start + 1)
    return Reply(200, body)


ROUTES = [
    ("POST", r"/v1beta/properties/(\d+):runReport", run_report),
    ("POST", r"/token", token),
    ("GET", r"/o/oauth2(?:/v2)?/auth", consent),
    ("POST", r"/o/oauth2(?:/v2)?/auth", decision),
    ("GET", r"/v1beta/accountSummaries", account_summaries),
]
