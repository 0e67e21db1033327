"""Sandbox part: the Business Profile Performance API v1 and a Google OAuth token endpoint.

Answers as https://developers.google.com/my-business/reference/performance/rest/v1/locations/fetchMultiDailyMetricsTimeSeries
documents it:

* ``GET /v1/locations/{id}:fetchMultiDailyMetricsTimeSeries?dailyMetrics=...&dailyRange.startDate.year=...``
  (camelCase or snake_case range parameters): ``multiDailyMetricTimeSeries[].dailyMetricTimeSeries[]``
  with ``dailyMetric`` and ``timeSeries.datedValues[]``; every date of the range up to yesterday (UTC)
  is listed, its ``value`` an int64 **string**, **left out when zero**; days from today on are not
  listed.  ``{}`` for a location without data (ids starting ``1000``).
* ``GET /v1/locations/{id}:getDailyMetricsTimeSeries?dailyMetric=...``: ``{"timeSeries": {...}}``.
* Google's envelope: 401 ``UNAUTHENTICATED`` for ``world.EXPIRED_TOKEN`` and unknown bearers, 403
  ``PERMISSION_DENIED`` for locations starting ``403``, 404 ``NOT_FOUND`` for ids starting ``404``, 400
  ``INVALID_ARGUMENT`` for a bad range or an unknown metric; :func:`throttled` builds the 429
  ``RESOURCE_EXHAUSTED`` reply tests script.
* ``POST /token``: Google's token endpoint, shared with the ga4 part (:func:`socialkpi.sandbox.google_oauth.token`);
  a bearer without ``business.manage`` gets 403 ``ACCESS_TOKEN_SCOPE_INSUFFICIENT``.

Discovery, for ``socialkpi connect google_business``:

* ``GET /v1/accounts?pageSize=&pageToken=`` (Account Management API,
  https://developers.google.com/my-business/reference/accountmanagement/rest/v1/accounts/list): the
  signed-in user's accounts, one per page with ``nextPageToken``: a ``PERSONAL`` account, then a
  ``LOCATION_GROUP`` (a business group) that also holds the bakery's listing.
* ``GET /v1/accounts/{id}/locations?readMask=...&pageSize=&pageToken=`` (Business Information API,
  https://developers.google.com/my-business/reference/businessinformation/rest/v1/accounts.locations/list):
  ``readMask`` is "Required" (400 ``INVALID_ARGUMENT`` without it); only the masked fields of each
  ``Location`` come back; an account without listings answers ``{}``; an unknown account 404.
  The world's listing ``locations/4812345678901234567`` is in both accounts (the owner's and the group's).
* Both want ``business.manage`` (403 ``ACCESS_TOKEN_SCOPE_INSUFFICIENT`` otherwise).

The world's numbers: :func:`value_for` (zeros included).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from socialkpi.sandbox import world
from socialkpi.sandbox.google_oauth import scopes_of
from socialkpi.sandbox.google_oauth import token as google_token
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "google_business"
SCOPE = "https://www.googleapis.com/auth/business.manage"
BASES: dict[str, float] = {
    "BUSINESS_IMPRESSIONS_DESKTOP_MAPS": 7.0,
    "BUSINESS_IMPRESSIONS_DESKTOP_SEARCH": 16.0,
    "BUSINESS_IMPRESSIONS_MOBILE_MAPS": 42.0,
    "BUSINESS_IMPRESSIONS_MOBILE_SEARCH": 55.0,
    "WEBSITE_CLICKS": 3.0,
    "CALL_CLICKS": 0.4,
    "BUSINESS_DIRECTION_REQUESTS": 4.0,
    "BUSINESS_BOOKINGS": 0.0,
    "BUSINESS_FOOD_ORDERS": 0.0,
    "BUSINESS_FOOD_MENU_CLICKS": 1.0,
    "BUSINESS_CONVERSATIONS": 0.3,
}
CLOSED = {(12, 25), (1, 1), (5, 1)}  # the bakery is shut: nobody calls or asks the way


def value_for(location: str, metric: str, day: date) -> int:
    if location.startswith("1000"):
        return 0
    if (day.month, day.day) in CLOSED and metric in ("CALL_CLICKS", "BUSINESS_DIRECTION_REQUESTS"):
        return 0
    return world.daily(PLATFORM, location, metric, day, BASES[metric])


def google_error(code: int, status: str, message: str) -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, "status": status}})


def throttled(retry_after: float | None = None) -> Reply:
    reply = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service "
        "'businessprofileperformance.googleapis.com' for consumer 'project_number:123456'.",
    )
    if retry_after is not None:
        reply.headers["Retry-After"] = str(int(retry_after))
    return reply


def _refused(request: Request, location: str) -> Reply | None:
    scopes = scopes_of(request.bearer())
    if scopes is None:
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
            "other valid authentication credential.",
        )
    if SCOPE not in scopes:
        reply = google_error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        reply.body["error"]["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
        ]
        return reply
    if location.startswith("404"):
        return google_error(404, "NOT_FOUND", "Requested entity was not found.")
    if location.startswith("403"):
        return google_error(403, "PERMISSION_DENIED", "The caller does not have permission")
    return None


def _range(request: Request, prefix: str = "dailyRange") -> tuple[date, date]:
    def part(which: str, field: str) -> int:
        camel = request.arg(f"{prefix}.{which}Date.{field}")
        snake = request.arg(f"daily_range.{which}_date.{field}")
        value = camel if camel is not None else snake
        if value is None:
            raise ValueError(f"dailyRange.{which}Date.{field} is required")
        return int(value)

    start = date(part("start", "year"), part("start", "month"), part("start", "day"))
    end = date(part("end", "year"), part("end", "month"), part("end", "day"))
    if end < start:
        raise ValueError("dailyRange end date is before the start date")
    return start, end


def _series(location: str, metric: str, start: date, end: date) -> dict[str, Any]:
    values: list[dict[str, Any]] = []
    last = min(end, world.now().date() - timedelta(days=1))
    day = start
    while day <= last:
        item: dict[str, Any] = {"date": {"year": day.year, "month": day.month, "day": day.day}}
        value = value_for(location, metric, day)
        if value:  # int64 as a string, left out when zero
            item["value"] = str(value)
        values.append(item)
        day += timedelta(days=1)
    return {"datedValues": values} if values else {}


def fetch_multi(request: Request) -> Reply:
    location = request.groups[0]
    refused = _refused(request, location)
    if refused:
        return refused
    metrics = request.query.get("dailyMetrics", []) or request.query.get("daily_metrics", [])
    if not metrics:
        return google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument: dailyMetrics is empty.")
    for metric in metrics:
        if metric not in BASES:
            return google_error(
                400,
                "INVALID_ARGUMENT",
                f"Invalid value at 'daily_metrics' (type.googleapis.com/DailyMetric), \"{metric}\"",
            )
    try:
        start, end = _range(request)
    except ValueError as exc:
        return google_error(400, "INVALID_ARGUMENT", f"Request contains an invalid argument: {exc}")
    if location.startswith("1000"):
        return Reply(200, {})  # a location with no data at all
    series = [{"dailyMetric": m, "timeSeries": _series(location, m, start, end)} for m in metrics]
    return Reply(200, {"multiDailyMetricTimeSeries": [{"dailyMetricTimeSeries": series}]})


def get_single(request: Request) -> Reply:
    location = request.groups[0]
    refused = _refused(request, location)
    if refused:
        return refused
    metric = request.arg("dailyMetric") or request.arg("daily_metric")
    if metric not in BASES:
        return google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument: dailyMetric.")
    try:
        start, end = _range(request)
    except ValueError as exc:
        return google_error(400, "INVALID_ARGUMENT", f"Request contains an invalid argument: {exc}")
    return Reply(200, {"timeSeries": _series(location, str(metric), start, end)})


# -- discovery: accounts and their locations ------------------------------------------------------
LOCATION = "4812345678901234567"  # world.DEMO_ACCOUNTS' listing
ACCOUNTS: tuple[dict[str, Any], ...] = (
    {
        "name": "accounts/108217367895732490152",
        "accountName": "Claire Martin",
        "type": "PERSONAL",
        "verificationState": "UNVERIFIED",
        "vettedState": "NOT_VETTED",
    },
    {
        "name": "accounts/4510976843210987654",
        "accountName": "Corner Bakery",
        "type": "LOCATION_GROUP",
        "role": "PRIMARY_OWNER",
        "verificationState": "VERIFIED",
        "vettedState": "NOT_VETTED",
        "permissionLevel": "OWNER_LEVEL",
    },
)
LOCATIONS: dict[str, list[dict[str, Any]]] = {  # account id -> its listings (every field the mask may ask)
    "108217367895732490152": [
        {
            "name": f"locations/{LOCATION}",
            "title": "Corner Bakery (Lyon)",
            "storeCode": "LYON-01",
            "websiteUri": "https://cornerbakery.fr/",
            "languageCode": "fr",
        }
    ],
    "4510976843210987654": [
        {
            "name": f"locations/{LOCATION}",
            "title": "Corner Bakery (Lyon)",
            "storeCode": "LYON-01",
            "websiteUri": "https://cornerbakery.fr/",
            "languageCode": "fr",
        }
    ],
}


def _scope_refused(request: Request) -> Reply | None:
    scopes = scopes_of(request.bearer())
    if scopes is None:
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
            "other valid authentication credential.",
        )
    if SCOPE not in scopes:
        reply = google_error(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        reply.body["error"]["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
        ]
        return reply
    return None


def _page(request: Request, items: list[dict[str, Any]], per_page: int) -> tuple[list[dict[str, Any]], str | None]:
    start = int(request.arg("pageToken") or 0)
    size = min(per_page, int(request.arg("pageSize") or per_page) or per_page)
    nxt = start + size
    return items[start:nxt], (str(nxt) if nxt < len(items) else None)


def accounts(request: Request) -> Reply:
    """``accounts.list``: one account per page (the sandbox pages by one so that paging is exercised)."""
    refused = _scope_refused(request)
    if refused:
        return refused
    try:
        page, nxt = _page(request, list(ACCOUNTS), 1)
    except ValueError:
        return google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
    body: dict[str, Any] = {"accounts": page}
    if nxt:
        body["nextPageToken"] = nxt
    return Reply(200, body)


def locations(request: Request) -> Reply:
    """``accounts.locations.list``: the masked fields of the account's listings."""
    refused = _scope_refused(request)
    if refused:
        return refused
    account = request.groups[0]
    mask = [f.strip() for f in (request.arg("readMask") or request.arg("read_mask") or "").split(",") if f.strip()]
    if not mask:
        reply = google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
        reply.body["error"]["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "read_mask", "description": "Field is required"}],
            }
        ]
        return reply
    if account not in LOCATIONS:
        return google_error(404, "NOT_FOUND", "Requested entity was not found.")
    try:
        page, nxt = _page(request, LOCATIONS[account], 100)
    except ValueError:
        return google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
    body: dict[str, Any] = {}
    if page:
        body["locations"] = [{k: v for k, v in loc.items() if k in mask} for loc in page]
    if nxt:
        body["nextPageToken"] = nxt
    return Reply(200, body)


ROUTES = [
    ("GET", r"/v1/accounts", accounts),
    ("GET", r"/v1/accounts/(\d+)/locations", locations),
    ("GET", r"/v1/locations/(\d+):fetchMultiDailyMetricsTimeSeries", fetch_multi),
    ("GET", r"/v1/locations/(\d+):getDailyMetricsTimeSeries", get_single),
    ("POST", r"/token", google_token),
]
