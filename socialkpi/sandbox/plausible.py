"""Sandbox part: Plausible's Stats API v2, ``POST /api/v2/query`` (https://plausible.io/docs/stats-api).

Answers as Plausible does: positional ``results[].dimensions`` / ``results[].metrics`` in the query's
order, JSON numbers, empty buckets (and breakdown rows with nothing) left out, ``meta.time_labels`` /
``meta.total_rows`` when ``include`` asks for them, ``pagination`` limit/offset, and the query echoed
back with the date range as date-times in the site's time zone.  Errors are ``{"error": "<text>"}``:
401 without a key or for a key/site it does not know, 400 for a bad query, and 429 with Plausible's
text once a key has made ``HOURLY_LIMIT`` queries in the clock hour (no rate-limit headers).

Numbers come from :mod:`socialkpi.sandbox.world` and add up as Plausible's do: per day the sources'
visits and pageviews sum to the day's totals, and visitors never exceed visits.  Data up to
yesterday (UTC), from ``SITE_START``.  The ``*_for`` functions compute what is served (tests use them).

``GET /api/v1/sites`` (the Sites API listing, https://plausible.io/docs/sites-api: "Gets a list of existing
sites your Plausible account can access") answers ``{"sites": [{"domain", "timezone"}], "meta": {"after",
"before", "limit"}}`` with cursor paging (``limit``, default 100; ``after``), for the sandbox key: the
sites in ``SITES`` (the world's Plausible account).  Plausible gives every key the implicit scope
``sites:read:*`` (plausible/analytics ``authorize_public_api.ex``), so a Stats API key may list; a wrong
key gets 401 "Invalid API key. ...".  A self-hosted Community Edition has no such route (404, HTML):
tests script that reply.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialkpi.sandbox import world
from socialkpi.sandbox.limits import Window
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "plausible"
TIME_ZONE = "Europe/Paris"
SITE_START = date(2024, 6, 1)
HOURLY_LIMIT = 600
FOREIGN_SITES = frozenset({"someone-else.example"})  # exists, but the sandbox key has no access
SITES = tuple(a.id for a in world.DEMO_ACCOUNTS if a.platform == PLATFORM and not a.competitor)  # the key's sites
METRICS = ("visitors", "visits", "pageviews")
DIMENSIONS = frozenset({"time:day", "visit:source"})
# Plausible's source names (friendly names from its referrer list, utm_source as written, or the
# referrer host when unknown) and their typical share of a bakery's visits.
SOURCES: dict[str, float] = {
    "Direct / None": 0.27,
    "Google": 0.30,
    "Bing": 0.03,
    "DuckDuckGo": 0.02,
    "Facebook": 0.10,
    "Instagram": 0.09,
    "Twitter": 0.02,
    "LinkedIn": 0.02,
    "Pinterest": 0.03,
    "Reddit": 0.01,
    "Bluesky": 0.01,
    "mastodon.social": 0.01,
    "Newsletter": 0.04,
    "TikTok": 0.03,
    "lyon-gourmand.example": 0.02,
}

HOUR = Window(3600)
WINDOWS = (HOUR,)


# -- the world's numbers -------------------------------------------------------------------------
def has_data(site: str, day: date) -> bool:
    return day >= SITE_START


def visits_for(site: str, day: date) -> int:
    return world.daily(PLATFORM, site, "visits", day, 55) if has_data(site, day) else 0


def pageviews_for(site: str, day: date) -> int:
    return visits_for(site, day) + world.daily(PLATFORM, site, "extra_pages", day, 70) if has_data(site, day) else 0


def visitors_for(site: str, day: date) -> int:
    return min(visits_for(site, day), world.daily(PLATFORM, site, "visitors", day, 47))


def split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` in whole parts proportional to ``weights`` (largest remainder: the sum is exact)."""
    whole = sum(weights.values()) or 1.0
    raw = {k: total * w / whole for k, w in weights.items()}
    parts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (parts[k] - raw[k], k))[: total - sum(parts.values())]:
        parts[k] += 1
    return parts


def _weights(site: str, day: date) -> dict[str, float]:
    weights = {}
    for source, share in SOURCES.items():
        w = float(world.daily(PLATFORM, site, f"share:{source}", day, share * 1000))
        if source == "TikTok" and day.isocalendar().week % 4:
            w = 0.0  # a TikTok video goes out one week in four
        weights[source] = w
    return weights


def sources_for(site: str, day: date) -> dict[str, dict[str, int]]:
    """Per source: visitors, visits and pageviews on ``day`` (zeros included)."""
    weights = _weights(site, day)
    visits = split(visits_for(site, day), weights)
    extra = split(pageviews_for(site, day) - visits_for(site, day), weights)
    total = visits_for(site, day) or 1
    users = visitors_for(site, day)
    return {
        s: {
            "visitors": min(visits[s], round(visits[s] * users / total)),
            "visits": visits[s],
            "pageviews": visits[s] + extra[s],
        }
        for s in SOURCES
    }


def totals_for(site: str, day: date) -> dict[str, int]:
    return {"visitors": visitors_for(site, day), "visits": visits_for(site, day), "pageviews": pageviews_for(site, day)}


# -- the query endpoint --------------------------------------------------------------------------
def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message})


def throttled(limit: int = HOURLY_LIMIT) -> Reply:
    """Plausible's 429 (no rate-limit headers)."""
    return _error(429, f"Too many API requests. Your API key is limited to {limit} requests per hour.")


def _today() -> date:
    return datetime.now(UTC).date()


def _range(value: Any) -> tuple[date, date]:
    today = datetime.now(ZoneInfo(TIME_ZONE)).date()
    if value == "day":
        return today, today
    if isinstance(value, str) and value.endswith("d") and value[:-1].isdigit():
        return today - timedelta(days=int(value[:-1]) - 1), today
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        start, end = date.fromisoformat(value[0][:10]), date.fromisoformat(value[1][:10])
        if end < start:
            raise ValueError("date_range end is before its start")
        return start, end
    raise ValueError(f"Invalid date_range {value!r}")


def _iso(day: date, end: bool = False) -> str:
    moment = datetime.combine(day, datetime.max.time() if end else datetime.min.time(), ZoneInfo(TIME_ZONE))
    return moment.replace(microsecond=0).isoformat()


def query(request: Request) -> Reply:
    auth = request.header("Authorization")
    if not auth:
        return _error(401, "Missing API key. Please use a valid Plausible API key as a Bearer Token.")
    key = request.bearer()
    try:
        body = request.json()
    except ValueError:
        return _error(400, "Invalid JSON body")
    site = body.get("site_id") if isinstance(body, dict) else None
    if key != world.TOKEN or site in FOREIGN_SITES:
        return _error(
            401,
            "Invalid API key or site ID. Please make sure you're using a valid API key with access to the "
            "site you've requested.",
        )
    if HOUR.hit(key)[0] > HOURLY_LIMIT:
        return throttled()
    if not isinstance(site, str) or not site:
        return _error(400, "Missing site ID. Please provide the required site_id parameter with your request.")
    metrics, dims = body.get("metrics"), body.get("dimensions", [])
    if not isinstance(metrics, list) or not metrics:
        return _error(400, "#/metrics: Expected a non-empty list of metrics")
    for m in metrics:
        if m not in METRICS:
            return _error(400, f"#/metrics/0: Invalid metric {m!r}")
    for d in dims:
        if d not in DIMENSIONS:
            return _error(400, f"Invalid dimension {d!r}")
    if body.get("filters"):
        return _error(400, "The sandbox answers queries without filters")
    try:
        start, end = _range(body.get("date_range"))
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    include = body.get("include") or {}
    page = body.get("pagination") or {}
    limit, offset = int(page.get("limit", 10000)), int(page.get("offset", 0))
    if not 1 <= limit <= 10000 or offset < 0:
        return _error(400, "#/pagination: limit must be 1..10000 and offset not negative")

    last = min(end, _today() - timedelta(days=1))
    days = [start + timedelta(days=n) for n in range((last - start).days + 1)]
    rows: list[dict[str, Any]] = []
    if not dims:  # an aggregate: one row, always
        sums = {m: sum(totals_for(site, d)[m] for d in days) for m in metrics}
        if "visitors" in metrics:  # a distinct count over the period, not a sum of days
            sums["visitors"] = round(sums["visitors"] * 0.8)
        rows.append({"dimensions": [], "metrics": [sums[m] for m in metrics]})
    else:
        for day in days:
            cells: dict[str, dict[str, int]] = (
                {"": totals_for(site, day)} if dims == ["time:day"] else sources_for(site, day)
            )
            ordered = sorted(cells.items(), key=lambda kv: (-kv[1]["visitors"], kv[0]))
            for extra, values in ordered:
                if any(values[m] for m in METRICS):  # rows with nothing are left out
                    labels = [day.isoformat() if d == "time:day" else extra for d in dims]
                    rows.append({"dimensions": labels, "metrics": [values[m] for m in metrics]})
        if "visit:source" in dims and "time:day" not in dims:
            raise ValueError("the sandbox breaks sources down by day only")

    meta: dict[str, Any] = {}
    if include.get("time_labels") and "time:day" in dims:
        meta["time_labels"] = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    if include.get("total_rows") and dims:
        meta["total_rows"] = len(rows)
    order = [["time:day", "asc"]] if "time:day" in dims else []
    return Reply(
        200,
        {
            "results": rows[offset : offset + limit] if dims else rows,
            "meta": meta,
            "query": {
                "site_id": site,
                "metrics": metrics,
                "date_range": [_iso(start), _iso(end, end=True)],
                "dimensions": dims,
                "filters": [],
                "order_by": [*order, [metrics[0], "desc"]],
                "include": include,
                "pagination": {"limit": limit, "offset": offset},
            },
        },
    )


def sites(request: Request) -> Reply:
    """``GET /api/v1/sites``: the sites the key's account can access, paged by cursor."""
    if not request.header("Authorization"):
        return _error(401, "Missing API key. Please use a valid Plausible API key as a Bearer Token.")
    if request.bearer() != world.TOKEN:
        return _error(
            401,
            "Invalid API key. Please make sure you're using a valid API key with access to the resource you've "
            "requested.",
        )
    try:
        limit = int(request.arg("limit") or 100)
        start = int(request.arg("after") or "0")
    except ValueError:
        return _error(400, "Invalid pagination parameters")
    if not 1 <= limit <= 1000 or start < 0:
        return _error(400, "Invalid pagination parameters")
    page = SITES[start : start + limit]
    after = str(start + limit) if start + limit < len(SITES) else None
    before = str(max(0, start - limit)) if start else None
    return Reply(
        200,
        {
            "sites": [{"domain": s, "timezone": TIME_ZONE} for s in page],
            "meta": {"after": after, "before": before, "limit": limit},
        },
    )


ROUTES = [("POST", r"/api/v2/query", query), ("GET", r"/api/v1/sites", sites)]
