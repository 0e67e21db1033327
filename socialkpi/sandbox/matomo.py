"""Sandbox part: Matomo's Reporting API, ``/index.php?module=API`` (https://developer.matomo.org/api-reference/reporting-api).

Answers as Matomo 5 does for ``format=JSON`` with ``period=day`` and a ``date=YYYY-MM-DD,YYYY-MM-DD``
range: an object keyed by every date of the range, ``[]`` for a day without data (before the site
existed, the day the tracker was broken, today and later: data up to yesterday UTC), the report
object or row list otherwise.  ``format_metrics`` other than 0 turns rates into strings like "49%".
``filter_limit`` caps table rows (default 100, -1 = all).  ``segment=referrerType==social`` restricts
Actions.get to visits from social networks.

Auth: ``token_auth`` in the POST body.  A token sent in the URL is refused as Matomo 5 refuses a
secure-only token (401), as is an unknown or expired one.  Other errors use the same envelope
``{"result": "error", "message": ...}`` with HTTP 200, as Matomo answered before version 5 (clients
must read ``result`` whatever the status).  Unknown methods get 400.  Matomo documents no rate limit;
Matomo Cloud's throttle is imitated by :func:`throttled` (429 with Retry-After).

``SitesManager.getSitesWithAtLeastViewAccess`` (plugins/SitesManager/API.php: "Returns the list of websites
with the 'view' or 'admin' access for the current user") needs no ``idSite``: the token's sites
(``SITE_NAMES``, the world's Matomo site) as a JSON list of site rows, every value a string as MySQL
hands them to Matomo (``"idsite": "1"``, ``"ecommerce": "0"``); ``limit`` caps the list.

Numbers come from :mod:`socialkpi.sandbox.world`; per day the referrer types' visits sum to
``nb_visits``, getSocials' visits sum to the social row, social page views never exceed page views.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from socialkpi.sandbox import world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "matomo"
SITE_START = date(2024, 3, 1)
OUTAGE_DAYS = frozenset({date(2026, 1, 13)})  # the tracking code was missing from the site that day
NO_ACCESS_SITES = frozenset({"99"})
SITE_NAMES = {"1": "cornerbakery.fr"}
REFERRER_TYPES = {  # label, segment, referer_type, share of visits
    "direct": ("Direct Entry", 1, 0.32),
    "search": ("Search Engines", 2, 0.35),
    "website": ("Websites", 3, 0.10),
    "campaign": ("Campaigns", 6, 0.05),
    "social": ("Social networks", 7, 0.18),
}
SOCIALS = {  # Matomo's social network names (core/DataFiles/Socials) and their share of social visits
    "Facebook": 0.36,
    "Instagram": 0.30,
    "Twitter": 0.05,
    "LinkedIn": 0.05,
    "Pinterest": 0.10,
    "YouTube": 0.06,
    "Reddit": 0.03,
    "Vkontakte": 0.02,
    "Bluesky": 0.03,
}
SOCIAL_URLS = {
    "Facebook": "facebook.com",
    "Instagram": "instagram.com",
    "Twitter": "twitter.com",
    "LinkedIn": "linkedin.com",
    "Pinterest": "pinterest.com",
    "YouTube": "youtube.com",
    "Reddit": "reddit.com",
    "Vkontakte": "vk.com",
    "Bluesky": "bsky.app",
}
METHODS = frozenset(
    {
        "VisitsSummary.get",
        "Actions.get",
        "Referrers.getReferrerType",
        "Referrers.getSocials",
        "SitesManager.getSiteFromId",
        "SitesManager.getSitesWithAtLeastViewAccess",
    }
)
NO_SITE_METHODS = frozenset({"SitesManager.getSitesWithAtLeastViewAccess"})  # no idSite needed


# -- the world's numbers -------------------------------------------------------------------------
def has_data(site: str, day: date) -> bool:
    return SITE_START <= day < datetime.now(UTC).date() and day not in OUTAGE_DAYS


def visits_for(site: str, day: date) -> int:
    return world.daily(PLATFORM, site, "nb_visits", day, 50) if has_data(site, day) else 0


def uniq_visitors_for(site: str, day: date) -> int:
    return min(visits_for(site, day), world.daily(PLATFORM, site, "nb_uniq_visitors", day, 43))


def pageviews_for(site: str, day: date) -> int:
    return visits_for(site, day) + world.daily(PLATFORM, site, "extra", day, 80) if has_data(site, day) else 0


def split(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` in whole parts proportional to ``weights`` (largest remainder: the sum is exact)."""
    whole = sum(weights.values()) or 1.0
    raw = {k: total * w / whole for k, w in weights.items()}
    parts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: (parts[k] - raw[k], k))[: total - sum(parts.values())]:
        parts[k] += 1
    return parts


def referrer_types_for(site: str, day: date) -> dict[str, int]:
    """Visits per referrer type (direct, search, website, campaign, social) on ``day``."""
    weights = {k: float(world.daily(PLATFORM, site, f"type:{k}", day, v[2] * 1000)) for k, v in REFERRER_TYPES.items()}
    return split(visits_for(site, day), weights)


def socials_for(site: str, day: date) -> dict[str, int]:
    """Visits per social network on ``day`` (they add up to the social referrer type)."""
    weights = {k: float(world.daily(PLATFORM, site, f"social:{k}", day, v * 1000)) for k, v in SOCIALS.items()}
    return split(referrer_types_for(site, day)["social"], weights)


def social_pageviews_for(site: str, day: date) -> int:
    social = referrer_types_for(site, day)["social"]
    return social + min(pageviews_for(site, day) - visits_for(site, day), world.daily(PLATFORM, site, "sx", day, 9))


# -- reports ---------------------------------------------------------------------------------------
def _rate(value: float, formatted: bool) -> Any:
    return f"{round(value * 100)}%" if formatted else round(value, 2)


def _visits_summary(site: str, day: date, formatted: bool) -> Any:
    visits = visits_for(site, day)
    if not visits:
        return []
    actions = pageviews_for(site, day) + world.daily(PLATFORM, site, "downloads", day, 4)
    bounces = visits // 2
    return {
        "nb_uniq_visitors": uniq_visitors_for(site, day),
        "nb_users": 0,
        "nb_visits": visits,
        "nb_actions": actions,
        "nb_visits_converted": world.daily(PLATFORM, site, "conv", day, 2),
        "bounce_count": bounces,
        "sum_visit_length": visits * 118,
        "max_actions": 12,
        "bounce_rate": _rate(bounces / visits, formatted),
        "nb_actions_per_visit": round(actions / visits, 1),
        "avg_time_on_site": 118,
    }


def _actions(site: str, day: date, social: bool) -> Any:
    views = social_pageviews_for(site, day) if social else pageviews_for(site, day)
    if not visits_for(site, day) or (social and not views):
        return []
    return {
        "nb_pageviews": views,
        "nb_uniq_pageviews": views - views // 5,
        "nb_downloads": 0 if social else world.daily(PLATFORM, site, "downloads", day, 4),
        "nb_uniq_downloads": 0,
        "nb_outlinks": views // 20,
        "nb_uniq_outlinks": views // 25,
        "nb_searches": 0,
        "nb_keywords": 0,
    }


def _row(label: str, visits: int, segment: str, **extra: Any) -> dict[str, Any]:
    return {
        "label": label,
        "nb_uniq_visitors": visits - visits // 8,
        "nb_visits": visits,
        "nb_actions": visits * 2 + 1,
        "nb_users": 0,
        "max_actions": 7,
        "sum_visit_length": visits * 95,
        "bounce_count": visits // 2,
        "nb_visits_converted": 0,
        "segment": segment,
        **extra,
    }


def _referrer_types(site: str, day: date, limit: int) -> list[dict[str, Any]]:
    counts = referrer_types_for(site, day)
    rows = [
        _row(label, counts[key], f"referrerType=={key}", referer_type=code, idsubdatatable=code)
        for key, (label, code, _) in REFERRER_TYPES.items()
        if counts[key]
    ]
    rows.sort(key=lambda r: -r["nb_visits"])
    return rows if limit < 0 else rows[:limit]


def _socials(site: str, day: date, limit: int) -> list[dict[str, Any]]:
    rows = [
        _row(name, visits, f"referrerType==social;referrerName=={name}", idsubdatatable=i + 1)
        | {"url": SOCIAL_URLS[name], "logo": f"plugins/Morpheus/icons/dist/socials/{SOCIAL_URLS[name]}.png"}
        for i, (name, visits) in enumerate(socials_for(site, day).items())
        if visits
    ]
    rows.sort(key=lambda r: -r["nb_visits"])
    return rows if limit < 0 else rows[:limit]


# -- the endpoint ------------------------------------------------------------------------------------
def _error(message: str, status: int = 200) -> Reply:
    return Reply(status, {"result": "error", "message": message})


def throttled(seconds: int = 30) -> Reply:
    """A throttle as a hosted Matomo's proxy sends it (Matomo itself documents none)."""
    return Reply(429, {"result": "error", "message": "Too many requests"}, {"Retry-After": str(seconds)})


TOKEN_REFUSED = (
    "Unable to authenticate with the provided token. It is either invalid, expired or is required to be "  # noqa: S105
    "sent as a POST parameter."
)


def _dates(text: str) -> list[date]:
    if "," in text:
        first, last = (date.fromisoformat(p) for p in text.split(",", 1))
        if last < first:
            raise ValueError("end before start")
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]
    today = datetime.now(UTC).date()
    if text == "today":
        return [today]
    if text == "yesterday":
        return [today - timedelta(days=1)]
    if text.startswith("last") and text[4:].isdigit():
        n = int(text[4:])
        return [today - timedelta(days=n - 1 - i) for i in range(n)]
    return [date.fromisoformat(text)]


def _site_row(idsite: str) -> dict[str, str]:
    """A row of SitesManager.getSitesWithAtLeastViewAccess: Matomo's site fields, all strings."""
    name = SITE_NAMES.get(idsite, f"site {idsite}")
    return {
        "idsite": idsite,
        "name": name,
        "main_url": f"https://{name}",
        "ts_created": "2024-03-01 09:12:44",
        "ecommerce": "0",
        "sitesearch": "1",
        "sitesearch_keyword_parameters": "",
        "sitesearch_category_parameters": "",
        "timezone": "Europe/Paris",
        "currency": "EUR",
        "exclude_unknown_urls": "0",
        "excluded_ips": "",
        "excluded_parameters": "",
        "excluded_user_agents": "",
        "excluded_referrers": "",
        "group": "",
        "type": "website",
        "keep_url_fragment": "0",
        "creator_login": "admin",
    }


def api(request: Request) -> Reply:
    params = {k: v[0] for k, v in request.query.items()}
    if "token_auth" in params:  # a secure-only token in the URL: refused, whatever its value
        return _error(TOKEN_REFUSED, 401)
    if request.method == "POST":
        params.update(request.form())
    if params.get("module") != "API":
        return Reply(200, "<html><body>Matomo login page</body></html>", {"Content-Type": "text/html"})
    token = params.get("token_auth")
    site = params.get("idSite", "")
    method = params.get("method", "")
    if token and token != world.TOKEN:
        return _error(TOKEN_REFUSED, 401)
    if method not in METHODS:
        module = method.split(".")[0]
        return _error(
            f"The method '{method.split('.')[-1]}' does not exist or is not available in the module '{module}'.", 400
        )
    if method in NO_SITE_METHODS and not token:
        return _error("You can't access this resource as it requires 'view' access for at least one website.")
    if method not in NO_SITE_METHODS and (not token or site in NO_ACCESS_SITES or not site.isdigit()):
        return _error(f"You can't access this resource as it requires 'view' access for the website id = {site}.")
    if params.get("format", "xml").lower() != "json":
        return Reply(200, '<?xml version="1.0" encoding="utf-8" ?>\n<result />', {"Content-Type": "text/xml"})
    if method == "SitesManager.getSitesWithAtLeastViewAccess":
        rows = [_site_row(idsite) for idsite in sorted(SITE_NAMES, key=int)]
        limit = params.get("limit", "")
        return Reply(200, rows[: int(limit)] if limit.isdigit() and int(limit) > 0 else rows)
    if method == "SitesManager.getSiteFromId":
        return Reply(
            200,
            {
                "idsite": int(site),
                "name": SITE_NAMES.get(site, f"site {site}"),
                "main_url": f"https://{SITE_NAMES.get(site, f'site{site}.example')}",
                "ts_created": "2024-03-01 09:12:44",
                "ecommerce": 0,
                "sitesearch": 1,
                "timezone": "Europe/Paris",
                "currency": "EUR",
                "type": "website",
            },
        )
    if params.get("period") != "day":
        return _error("The sandbox answers period=day only.")
    try:
        days = _dates(params.get("date", ""))
    except ValueError:
        return _error(
            "Date format must be: YYYY-MM-DD, or 'today' or 'yesterday' or any keyword supported by the "
            f"strtotime function. Passed: {params.get('date')}"
        )
    segment = params.get("segment", "")
    if segment not in ("", "referrerType==social"):
        return _error("The sandbox knows the segment referrerType==social only.")
    formatted = params.get("format_metrics", "bc") not in ("0",)
    limit = int(params.get("filter_limit", "100"))

    def report(day: date) -> Any:
        if method == "VisitsSummary.get":
            return _visits_summary(site, day, formatted)
        if method == "Actions.get":
            return _actions(site, day, social=bool(segment))
        if method == "Referrers.getReferrerType":
            return _referrer_types(site, day, limit)
        return _socials(site, day, limit)

    if "," in params.get("date", "") or params.get("date", "").startswith("last"):
        return Reply(200, {d.isoformat(): report(d) for d in days})
    return Reply(200, report(days[0]))  # a single date: the bare report


ROUTES = [("POST", r"/index\.php", api), ("GET", r"/index\.php", api)]
