"""Sandbox part: LinkedIn Community Management API (``/rest``) and the OAuth 2.0 token endpoint
(:mod:`socialkpi.sandbox.linkedin_auth`).

Answers as https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
shows:

* Every ``/rest`` call needs ``Authorization: Bearer`` (:data:`world.TOKEN` or a token issued here;
  :data:`world.EXPIRED_TOKEN` gets ``EXPIRED_ACCESS_TOKEN`` 65602, anything else
  ``INVALID_ACCESS_TOKEN`` 65600), a ``LinkedIn-Version`` header (missing: 400 ``VERSION_MISSING``;
  unknown or past its sunset, which is the 16th of the same month a year later: 426
  ``NONEXISTENT_VERSION`` "Requested version 20240301 is not active") and
  ``X-Restli-Protocol-Version: 2.0.0``.
* Query strings are checked on the raw bytes that arrived: URN values must be percent-encoded
  (``urn%3Ali%3Aorganization%3A123``) and the Rest.li ``timeIntervals`` value must be raw
  (``(timeRange:(start:..,end:..),timeGranularityType:DAY)``); an encoded ``(``, ``)``, ``:`` or ``,``
  gets a 400 ``ILLEGAL_ARGUMENT``, as LinkedIn does.
* ``GET /rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER`` -> ``{"firstDegreeSize": n}``
  for any organization (the doc's unverified reading: not admin-gated).
* Time-bound ``organizationalEntityFollowerStatistics`` / ``organizationPageStatistics`` /
  ``organizationalEntityShareStatistics``: one element per bucket with ``timeRange`` in epoch ms (end
  exclusive), ``paging {start, count, links: []}``; only days up to yesterday (UTC) and within 365
  days; follower gains lag :data:`FOLLOWER_LAG_DAYS` days; a day with no gains, or no impressions,
  has no element.  Without ``timeIntervals`` they answer lifetime statistics.  An organization the
  member does not administer (:data:`NOT_ADMIN`, demo competitors) gets 403 ``ACCESS_DENIED``.
* Daily throttling: more than :data:`DAY_LIMIT` calls to one resource in a UTC day -> 429
  ``TOO_MANY_REQUESTS`` "Resource level throttle APPLICATION DAY limit ..." with no headers.
* ``socialkpi connect linkedin``'s discovery (its consent page and token route:
  :mod:`~socialkpi.sandbox.linkedin_auth`): ``GET /rest/organizationAcls?q=roleAssignee`` (the member
  administers :data:`~socialkpi.sandbox.linkedin_auth.ADMINISTERED`, filtered by ``role`` and ``state``), ``GET
  /rest/organizations/{id}`` (all fields for an administrator, the public ones otherwise, 404 for an
  unknown id) and the ``vanityName`` finder ``GET /rest/organizations?q=vanityName&vanityName=``.
  A token issued here that has passed its 60 days gets ``EXPIRED_ACCESS_TOKEN``.

Numbers: :func:`followers_for`, :func:`follower_gains_for`, :func:`page_views_for`,
:func:`share_statistics_for`, pure functions of the world.
"""

from __future__ import annotations

import inspect
import re
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from socialkpi.sandbox import world
from socialkpi.sandbox.linkedin_auth import PLATFORM, _access, _lock, _orgs_of, access_token, consent, decision
from socialkpi.sandbox.server import Reply, Request

FOLLOWERS_BASE = 1840
FOLLOWER_LAG_DAYS = 2  # follower gains appear about two days late
HISTORY_DAYS = 365
DAY_LIMIT = 1000
NOT_ADMIN = frozenset({"90412345"})  # besides the demo competitors
DAY_MS = 86_400_000
URN_PREFIX = "urn:li:organization:"

URN_ENCODED = re.compile(r"urn%3Ali%3Aorganization%3A(\d+)")
INTERVALS = re.compile(r"\(timeRange:\(start:(\d+),end:(\d+)\),timeGranularityType:(DAY|MONTH)\)")

_calls: dict[tuple[str, str, date], int] = {}

# -- socialkpi connect linkedin: the member who signs in, the organizations ---------------------------
MEMBER = "urn:li:person:Sb4kRy7Qx2"  # the member on the consent page
ORGANIZATIONS: dict[str, tuple[str, str]] = {  # id -> (localizedName, vanityName)
    "2414183": ("Corner Bakery", "corner-bakery-lyon"),
    "2414190": ("Corner Bakery Traiteur", "corner-bakery-traiteur"),
    "90412345": ("Rival Patisserie", "rival-patisserie"),
}


# -- the world's numbers -------------------------------------------------------------------------
def _quiet(org: str, what: str, day: date, share: float) -> bool:
    return world._noise(PLATFORM, org, what, day.toordinal()) < share


def followers_for(org: str, day: date) -> int:
    return world.followers(PLATFORM, org, day, FOLLOWERS_BASE)


def follower_gains_for(org: str, day: date) -> tuple[int, int]:
    """(organicFollowerGain, paidFollowerGain); (0, 0) on a quiet day."""
    organic = 0 if _quiet(org, "no-follows", day, 0.15) else world.daily(PLATFORM, org, "organicFollowerGain", day, 3)
    paid = world.daily(PLATFORM, org, "paidFollowerGain", day, 4) if _quiet(org, "campaign", day, 0.1) else 0
    return organic, paid


def page_views_for(org: str, day: date) -> dict[str, int]:
    total = world.daily(PLATFORM, org, "allPageViews", day, 45)
    desktop = round(total * 0.37)
    overview = round(total * 0.6)
    careers = min(total - overview, world.daily(PLATFORM, org, "careersPageViews", day, 2))
    return {"all": total, "desktop": desktop, "mobile": total - desktop, "overview": overview, "careers": careers}


def share_statistics_for(org: str, day: date) -> dict[str, Any] | None:
    """``totalShareStatistics`` of a day, or None on a day nothing was shown (no element)."""
    if _quiet(org, "no-impressions", day, 0.08):
        return None
    impressions = world.daily(PLATFORM, org, "impressionCount", day, 950)
    counts = {name: world.daily(PLATFORM, org, name, day, base) for name, base in _SHARE_BASES.items()}
    engaged = counts["likeCount"] + counts["commentCount"] + counts["shareCount"] + counts["clickCount"]
    return {
        "impressionCount": impressions,
        "uniqueImpressionsCount": 0,  # "often 0 in daily time-bound results" (seen in practice, not documented)
        "clickCount": counts["clickCount"],
        "likeCount": counts["likeCount"],
        "commentCount": counts["commentCount"],
        "shareCount": counts["shareCount"],
        "engagement": round(engaged / impressions, 4) if impressions else 0.0,
        "commentMentionsCount": 0,
        "shareMentionsCount": 0,
    }


_SHARE_BASES = {"clickCount": 24, "likeCount": 17, "commentCount": 2, "shareCount": 1.2}


def _admin(org: str) -> bool:
    rivals = {a.id for a in world.DEMO_ACCOUNTS if a.platform == PLATFORM and a.competitor}
    return org not in NOT_ADMIN | rivals


def _today() -> date:
    return world.now().date()


# -- checks shared by every /rest call -----------------------------------------------------------
def _error(status: int, code: str | None, message: str, service: int | None = None) -> Reply:
    body: dict[str, Any] = {"status": status}
    if service is not None:
        body["serviceErrorCode"] = service
    if code:
        body["code"] = code
    body["message"] = message
    return Reply(status, body)


def _version_active(version: str) -> bool:
    match = re.fullmatch(r"(\d{4})(\d{2})", version)
    if not match:
        return False
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        return False
    real_today = datetime.now(UTC).date()  # versions live on the real calendar, not the replay clock
    return date(year, month, 1) <= real_today < date(year + 1, month, 16)


def raw_query(request: Request) -> str | None:
    """The query string exactly as it arrived (``Request.query`` is already percent-decoded).

    Uses ``request.raw_query`` when the server provides it; otherwise reads the path of the
    ``BaseHTTPRequestHandler`` that is serving this request, further up the call stack.  The raw
    string is kept on the request (``raw_query``) so tests can see it in ``sandbox.requests``.
    """
    raw = getattr(request, "raw_query", None)
    if isinstance(raw, str):
        return raw
    frame = inspect.currentframe()
    while frame is not None:
        handler = frame.f_locals.get("h")
        if isinstance(handler, BaseHTTPRequestHandler):
            raw = urlsplit(handler.path).query
            request.raw_query = raw  # type: ignore[attr-defined]
            return raw
        frame = frame.f_back
    return None


def _raw_params(request: Request) -> dict[str, str] | Reply:
    raw = raw_query(request)
    if raw is None:
        return Reply(500, {"message": "sandbox: the raw query string is not available"})
    params: dict[str, str] = {}
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            params[unquote(name)] = value  # values stay raw: the checks below need the bytes that arrived
    return params


def _gate(request: Request, resource: str) -> tuple[str, str] | Reply:
    """(token, version) when auth and headers are right, else LinkedIn's error."""
    token = request.bearer()
    if token == world.EXPIRED_TOKEN:
        return _error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602)
    with _lock:
        expiry = _access.get(token or "")
    if token != world.TOKEN and expiry is not None and expiry <= time.time():
        return _error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602)
    if token != world.TOKEN and not (expiry and expiry > time.time()):
        return _error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
    version = request.header("LinkedIn-Version")
    if not version:
        return _error(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        )
    if not _version_active(version):
        return _error(426, "NONEXISTENT_VERSION", f"Requested version {version}01 is not active")
    if request.header("X-Restli-Protocol-Version") != "2.0.0":
        return _error(400, "ILLEGAL_ARGUMENT", "Rest.li protocol 2.0.0 syntax used without X-Restli-Protocol-Version")
    day = _today()
    with _lock:
        used = _calls.get((token or "", resource, day), 0) + 1
        _calls[(token or "", resource, day)] = used
    if used > DAY_LIMIT:
        return _error(
            429,
            "TOO_MANY_REQUESTS",
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            101,
        )
    return token or "", version


# -- /rest/networkSizes ----------------------------------------------------------------------------
def network_sizes(request: Request) -> Reply:
    gate = _gate(request, "networkSizes")
    if isinstance(gate, Reply):
        return gate
    match = URN_ENCODED.fullmatch(request.groups[0])
    if not match:
        return _error(400, "ILLEGAL_ARGUMENT", f"Invalid URN syntax: {unquote(request.groups[0])}")
    if request.arg("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER":
        return _error(400, "ILLEGAL_ARGUMENT", "Invalid value for param edgeType")
    return Reply(200, {"firstDegreeSize": followers_for(match[1], _today())})


# -- time-bound and lifetime statistics ----------------------------------------------------------
def _buckets(start_ms: int, end_ms: int, granularity: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    cursor = start_ms
    while cursor < end_ms and len(out) < 1000:
        if granularity == "DAY":
            nxt = cursor + DAY_MS
        else:
            d = datetime.fromtimestamp(cursor / 1000, UTC).date()
            first = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
            nxt = int(datetime.combine(first, datetime.min.time(), UTC).timestamp() * 1000)
        out.append((cursor, min(nxt, end_ms)))
        cursor = nxt
    return out


def _days(start_ms: int, end_ms: int) -> list[date]:
    day = datetime.fromtimestamp(start_ms / 1000, UTC).date()
    last = datetime.fromtimestamp((end_ms - 1) / 1000, UTC).date()
    return [day + timedelta(days=n) for n in range((last - day).days + 1)]


def _stats(request: Request, resource: str, finder: str, value_of: Any) -> Reply:
    gate = _gate(request, resource)
    if isinstance(gate, Reply):
        return gate
    version = gate[1]
    params = _raw_params(request)
    if isinstance(params, Reply):
        return params
    if params.get("q") != finder:
        return _error(400, "ILLEGAL_ARGUMENT", f"Invalid value for param q: expected {finder}")
    urn = params.get(finder, "")
    match = URN_ENCODED.fullmatch(urn)
    if not match:
        return _error(400, "ILLEGAL_ARGUMENT", f"Invalid value for param {finder}: {unquote(urn)}")
    org = match[1]
    if not _admin(org):
        return _error(403, "ACCESS_DENIED", f"Not enough permissions to access: {resource}.GET.{version}01", 100)
    entity = {finder: f"urn:li:organization:{org}"}
    raw_intervals = params.get("timeIntervals")
    if raw_intervals is None:  # lifetime statistics
        element = value_of(org, None)
        return Reply(200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": [entity | element]})
    intervals = INTERVALS.fullmatch(raw_intervals)
    if not intervals:  # encoded structure ((, ), :, ,) or a malformed value: refused as LinkedIn does
        return _error(400, "ILLEGAL_ARGUMENT", "Invalid query parameter: timeIntervals")
    start_ms, end_ms, granularity = int(intervals[1]), int(intervals[2]), intervals[3]
    if end_ms <= start_ms:
        return _error(400, "ILLEGAL_ARGUMENT", "timeRange.end must be after timeRange.start")
    elements = []
    for lo, hi in _buckets(start_ms, end_ms, granularity):
        values = value_of(org, _days(lo, hi))
        if values is not None:
            elements.append(entity | {"timeRange": {"start": lo, "end": hi}} | values)
    return Reply(200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements})


def _served(days: list[date], lag: int = 0) -> list[date]:
    today = _today()
    return [d for d in days if today - timedelta(days=HISTORY_DAYS) <= d <= today - timedelta(days=1 + lag)]


def _follower_values(org: str, days: list[date] | None) -> dict[str, Any] | None:
    if days is None:
        total = followers_for(org, _today())
        return {
            "followerCountsByGeoCountry": [
                {
                    "geo": "urn:li:geo:105015875",
                    "followerCounts": {"organicFollowerCount": round(total * 0.81), "paidFollowerCount": 12},
                }
            ],
            "followerCountsBySeniority": [
                {
                    "seniority": "urn:li:seniority:3",
                    "followerCounts": {"organicFollowerCount": round(total * 0.24), "paidFollowerCount": 1},
                }
            ],
        }
    gains = [follower_gains_for(org, d) for d in _served(days, FOLLOWER_LAG_DAYS)]
    organic, paid = sum(g[0] for g in gains), sum(g[1] for g in gains)
    if not organic and not paid:
        return None
    return {"followerGains": {"organicFollowerGain": organic, "paidFollowerGain": paid}}


def _page_values(org: str, days: list[date] | None) -> dict[str, Any] | None:
    served = _served(days) if days is not None else _served(_days_back(HISTORY_DAYS))
    if not served:
        return None
    views = [page_views_for(org, d) for d in served]

    def total(key: str) -> dict[str, int]:
        return {"pageViews": sum(v[key] for v in views)}

    return {
        "totalPageStatistics": {
            "views": {
                "allPageViews": total("all"),
                "allDesktopPageViews": total("desktop"),
                "allMobilePageViews": total("mobile"),
                "overviewPageViews": total("overview"),
                "careersPageViews": total("careers"),
            },
            "clicks": {"desktopCustomButtonClickCounts": [], "mobileCustomButtonClickCounts": []},
        }
    }


def _share_values(org: str, days: list[date] | None) -> dict[str, Any] | None:
    served = _served(days) if days is not None else _served(_days_back(HISTORY_DAYS))
    stats = [s for s in (share_statistics_for(org, d) for d in served) if s is not None]
    if not stats:
        return None
    keys = ("impressionCount", "clickCount", "likeCount", "commentCount", "shareCount")
    summed: dict[str, Any] = {k: sum(s[k] for s in stats) for k in keys}
    engaged = summed["likeCount"] + summed["commentCount"] + summed["shareCount"] + summed["clickCount"]
    summed |= {
        "uniqueImpressionsCount": 0,
        "engagement": round(engaged / summed["impressionCount"], 4) if summed["impressionCount"] else 0.0,
        "commentMentionsCount": 0,
        "shareMentionsCount": 0,
    }
    return {"totalShareStatistics": summed}


def _days_back(n: int) -> list[date]:
    today = _today()
    return [today - timedelta(days=k) for k in range(n, 0, -1)]


def follower_statistics(request: Request) -> Reply:
    return _stats(request, "organizationalEntityFollowerStatistics", "organizationalEntity", _follower_values)


def page_statistics(request: Request) -> Reply:
    return _stats(request, "organizationPageStatistics", "organization", _page_values)


def share_statistics(request: Request) -> Reply:
    return _stats(request, "organizationalEntityShareStatistics", "organizationalEntity", _share_values)


# -- discovery (socialkpi connect linkedin) -------------------------------------------------------
def organization_acls(request: Request) -> Reply:
    """``GET /rest/organizationAcls?q=roleAssignee[&role=ADMINISTRATOR][&state=APPROVED]``: the member's roles."""
    gate = _gate(request, "organizationAcls")
    if isinstance(gate, Reply):
        return gate
    if request.arg("q") != "roleAssignee":
        return _error(400, "ILLEGAL_ARGUMENT", "Invalid value for param q: expected roleAssignee or organization")
    role, state = request.arg("role"), request.arg("state")
    roles = [
        {"roleAssignee": MEMBER, "state": "APPROVED", "role": "ADMINISTRATOR", "organization": URN_PREFIX + o}
        for o in _orgs_of(gate[0])
        if role in (None, "ADMINISTRATOR") and state in (None, "APPROVED")
    ]
    start = int(request.arg("start") or 0)
    count = int(request.arg("count") or 10)
    page = roles[start : start + count]
    return Reply(200, {"paging": {"count": count, "start": start, "total": len(roles), "links": []}, "elements": page})


def _org_name(org: str) -> tuple[str, str] | None:
    if org in ORGANIZATIONS:
        return ORGANIZATIONS[org]
    for acc in world.DEMO_ACCOUNTS:
        if acc.platform == PLATFORM and acc.id == org:
            return acc.name, acc.name.lower().replace(" ", "-")
    return None


def _public(org: str, name: str, vanity: str) -> dict[str, Any]:
    """The fields "APIs that do not require administrative access will only return"."""
    return {
        "id": int(org),
        "name": {"localized": {"fr_FR": name}, "preferredLocale": {"country": "FR", "language": "fr"}},
        "localizedName": name,
        "vanityName": vanity,
        "localizedWebsite": f"https://{vanity}.example",
        "primaryOrganizationType": "NONE",
        "locations": [{"locationType": "HEADQUARTERS", "address": {"city": "Lyon", "country": "FR"}}],
    }


def organization(request: Request) -> Reply:
    """``GET /rest/organizations/{id}``: every field for its administrator, the public ones for anyone else."""
    gate = _gate(request, "organizations")
    if isinstance(gate, Reply):
        return gate
    org = request.groups[0]
    known = _org_name(org)
    if known is None:
        return _error(404, "NOT_FOUND", f"Organization {org} not found", 0)
    record = _public(org, *known)
    if org in _orgs_of(gate[0]):
        record |= {"localizedDescription": "Boulangerie", "staffCountRange": "SIZE_11_TO_50", "versionTag": "3"}
    return Reply(200, record)


def organizations_finder(request: Request) -> Reply:
    """``GET /rest/organizations?q=vanityName&vanityName=...`` (case-insensitive; no wildcards)."""
    gate = _gate(request, "organizations")
    if isinstance(gate, Reply):
        return gate
    if request.arg("q") != "vanityName":
        return _error(400, "ILLEGAL_ARGUMENT", "Invalid value for param q")
    wanted = (request.arg("vanityName") or "").lower()
    ids = dict.fromkeys([*ORGANIZATIONS, *(a.id for a in world.DEMO_ACCOUNTS if a.platform == PLATFORM)])
    elements = []
    for org in ids:
        known = _org_name(org)
        if known is not None and known[1].lower() == wanted:
            elements.append(_public(org, *known))
    return Reply(200, {"paging": {"count": 10, "start": 0, "links": []}, "elements": elements})


ROUTES = [
    ("GET", r"/oauth/v2/authorization", consent),
    ("POST", r"/oauth/v2/authorization", decision),
    ("GET", r"/rest/organizationAcls", organization_acls),
    ("GET", r"/rest/organizations/(\d+)", organization),
    ("GET", r"/rest/organizations", organizations_finder),
    ("GET", r"/rest/networkSizes/([^/]+)", network_sizes),
    ("GET", r"/rest/organizationalEntityFollowerStatistics", follower_statistics),
    ("GET", r"/rest/organizationPageStatistics", page_statistics),
    ("GET", r"/rest/organizationalEntityShareStatistics", share_statistics),
    ("POST", r"/oauth/v2/accessToken", access_token),
]
