"""Sandbox part: WordPress.com / Jetpack Stats REST v1.1 (https://developer.wordpress.com/docs/api/1.1/get/sites/%24site/stats/).

* ``GET /rest/v1.1/sites/{site}/stats/visits?unit=day&quantity=N&date=D&stat_fields=views,visitors`` ->
  ``{"date", "unit", "fields": ["period", ...], "data": [[period, ...], ...], "utc_offset"}``: one row per
  day of the N ending at D (default: today), zeros where nothing happened (and for today: data up to
  yesterday, UTC).
* ``GET /rest/v1.1/sites/{site}/stats/referrers?period=day&date=D&num=N`` ->
  ``{"date", "period", "days": {"YYYY-MM-DD": {"groups": [...], "other_views", "total_views"}}}``; a group
  is ``{"group", "name", "url", "icon", "total", "results"}``, ``results`` a list of referrers for grouped
  sources (search engines, the WordPress.com Reader) or ``{"views": n}`` for a single site.
* Errors ``{"error": "<identifier>", "message": "<text>"}``: 403 ``invalid_token`` (world.EXPIRED_TOKEN or an
  unknown token), 403 ``authorization_required`` (no token), 403 ``unauthorized`` (a private blog the user
  cannot see), 404 ``invalid_blog`` (no Jetpack / Stats off), 400 for bad parameters.

Numbers come from :mod:`socialkpi.sandbox.world`; per day the referrer groups' totals never exceed the views.

``socialkpi connect wordpress`` (https://developer.wordpress.com/docs/api/oauth2/):

* ``GET/POST /oauth2/authorize`` (``client_id``, ``redirect_uri``, ``response_type=code``, ``scope``,
  ``state``): the consent page of the sandbox app (socialkpi.sandbox.oauth); Allow ->
  ``?code=...&state=...``, Deny -> "User denial: ``?error=access_denied``" (state echoed).
* ``POST /oauth2/token`` (form: ``client_id``, ``client_secret``, ``redirect_uri``, ``code``,
  ``grant_type=authorization_code``) -> ``{"access_token", "blog_id" (a string), "blog_url",
  "token_type": "bearer", "scope"}``; errors ``{"error", "error_description"}`` with 400: ``invalid_client``
  ("Unknown client_id." / "Invalid client credentials."), ``invalid_grant`` ("Invalid or expired
  authorization code"), ``unsupported_grant_type``.  The tokens never expire.
* ``GET /rest/v1.1/me/sites`` (``fields``, ``site_visibility``) -> ``{"sites": [{"ID" (int), "name", "URL",
  "jetpack", "capabilities": {...}}]}``: the user's blog, and a blog they only contribute to
  (``view_stats`` false).  The stats routes take the tokens issued here as well as ``world.TOKEN``.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

from socialkpi.sandbox import oauth, world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "wordpress"
BLOG_START = date(2024, 5, 1)
NO_JETPACK = frozenset({"oldblog.example"})
PRIVATE = frozenset({"private-diary.example"})
# The sites of the user who signs in on the consent page (GET /me/sites): ID, name, URL, jetpack, can view stats
OWN_SITES: list[tuple[int, str, str, bool, bool]] = [
    (198765432, "Corner Bakery blog", "https://cornerbakery.blog", False, True),
    (187654321, "Lyon Gourmand", "https://lyon-gourmand.example", True, False),  # a contributor only
]
_lock = threading.Lock()
_issued: set[str] = set()  # access tokens the code grant issued (they do not expire)
# Referrer groups as WordPress.com lists them: (group key, name, url), share of the day's views.
GROUPS: list[tuple[str, str, str | None, float]] = [
    ("Search Engines", "Search Engines", None, 0.30),
    ("WordPress.com Reader", "WordPress.com Reader", "https://wordpress.com/reader", 0.06),
    ("facebook.com", "Facebook", "https://facebook.com", 0.08),
    ("instagram.com", "Instagram", "https://instagram.com", 0.04),
    ("pinterest.com", "Pinterest", "https://pinterest.com", 0.05),
    ("twitter.com", "Twitter", "https://twitter.com", 0.01),
    ("linkedin.com", "LinkedIn", "https://linkedin.com", 0.01),
    ("reddit.com", "Reddit", "https://reddit.com", 0.01),
    ("lyon-gourmand.example", "lyon-gourmand.example", "https://lyon-gourmand.example", 0.03),
]


def has_data(site: str, day: date) -> bool:
    return BLOG_START <= day < datetime.now(UTC).date()


def views_for(site: str, day: date) -> int:
    return world.daily(PLATFORM, site, "views", day, 85) if has_data(site, day) else 0


def visitors_for(site: str, day: date) -> int:
    return min(views_for(site, day), world.daily(PLATFORM, site, "visitors", day, 41))


def groups_for(site: str, day: date) -> dict[str, int]:
    """Referred views per group name on ``day`` (zeros included)."""
    views = views_for(site, day)
    return {
        name: min(views, world.daily(PLATFORM, site, f"ref:{key}", day, share * 85)) if views else 0
        for key, name, _, share in GROUPS
    }


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": code, "message": message})


def _guard(request: Request) -> Reply | None:
    token = request.bearer()
    if token is None:
        return _error(
            403,
            "authorization_required",
            "An active access token must be used to query information about the current user.",
        )
    if not _known(token):
        return _error(403, "invalid_token", "The OAuth2 token is invalid.")
    site = request.groups[0]
    if site in NO_JETPACK:
        return _error(404, "invalid_blog", "This blog does not have Jetpack connected")
    if site in PRIVATE:
        return _error(403, "unauthorized", "user cannot view stats")
    return None


def _window(request: Request, count_arg: str) -> tuple[date, list[date]]:
    end = date.fromisoformat(request.arg("date") or datetime.now(UTC).date().isoformat())
    n = int(request.arg(count_arg) or 30)
    if n < 1:
        raise ValueError(f"{count_arg} must be positive")
    return end, [end - timedelta(days=n - 1 - i) for i in range(n)]


def visits(request: Request) -> Reply:
    refused = _guard(request)
    if refused:
        return refused
    if (request.arg("unit") or "day") != "day":
        return _error(400, "invalid_input", "The sandbox answers unit=day only")
    try:
        end, days = _window(request, "quantity")
    except ValueError as exc:
        return _error(400, "invalid_input", str(exc))
    wanted = (request.arg("stat_fields") or "views,visitors,likes,reblogs,comments,posts").split(",")
    site = request.groups[0]
    values = {
        "views": views_for,
        "visitors": visitors_for,
        "likes": lambda s, d: world.daily(PLATFORM, s, "likes", d, 3) if has_data(s, d) else 0,
        "reblogs": lambda s, d: 0,
        "comments": lambda s, d: world.daily(PLATFORM, s, "comments", d, 1) if has_data(s, d) else 0,
        "posts": lambda s, d: 1 if has_data(s, d) and d.weekday() == 2 else 0,
    }
    fields = ["period", *[f for f in wanted if f in values]]
    data = [[d.isoformat(), *[values[f](site, d) for f in fields[1:]]] for d in days]
    return Reply(200, {"date": end.isoformat(), "unit": "day", "fields": fields, "data": data, "utc_offset": "+01:00"})


def _group(key: str, name: str, url: str | None, total: int) -> dict[str, Any]:
    icon = f"https://secure.gravatar.com/blavatar/{key.replace(' ', '-').lower()}?s=48"
    if key == "Search Engines":
        google = total - total // 6
        results: Any = [
            {"name": "Google Search", "url": "http://www.google.com/", "icon": icon, "views": google},
            {"name": "Bing", "url": "http://www.bing.com/", "icon": icon, "views": total - google},
        ]
        results = [r for r in results if r["views"]]
    elif key == "WordPress.com Reader":
        results = [{"name": "WordPress.com Reader", "url": url, "icon": icon, "views": total}]
    else:
        results = {"views": total}
    group: dict[str, Any] = {
        "group": key,
        "name": name,
        "icon": icon,
        "total": total,
        "follow_data": None,
        "results": results,
    }
    if url:
        group["url"] = url
    return group


def referrers(request: Request) -> Reply:
    refused = _guard(request)
    if refused:
        return refused
    if (request.arg("period") or "day") != "day":
        return _error(400, "invalid_input", "The sandbox answers period=day only")
    try:
        end, days = _window(request, "num")
    except ValueError as exc:
        return _error(400, "invalid_input", str(exc))
    site = request.groups[0]
    out: dict[str, Any] = {}
    for day in days:
        counts = groups_for(site, day)
        groups = [_group(key, name, url, counts[name]) for key, name, url, _ in GROUPS if counts[name]]
        groups.sort(key=lambda g: -g["total"])
        total = views_for(site, day)
        out[day.isoformat()] = {
            "groups": groups,
            "other_views": 0,
            "total_views": sum(g["total"] for g in groups) if total else 0,
        }
    return Reply(200, {"date": end.isoformat(), "period": "day", "days": out})


# -- socialkpi connect wordpress: the OAuth2 code flow and the user's sites -----------------------------


def _known(token: str | None) -> bool:
    if token == world.TOKEN:
        return True
    with _lock:
        return token in _issued


def consent(request: Request) -> Reply:
    """``GET https://public-api.wordpress.com/oauth2/authorize``."""
    bad = oauth.check_authorize(request, platform="WordPress.com")
    if bad is not None:
        return bad
    return oauth.consent_page(
        request, platform="WordPress.com", title="Howdy! socialkpi (sandbox app) would like to connect to your account"
    )


def decision(request: Request) -> Reply:
    return oauth.decide(request, platform=PLATFORM, denial={"error": "access_denied"})


def _oauth_error(error: str, description: str) -> Reply:
    return Reply(400, {"error": error, "error_description": description})


def token(request: Request) -> Reply:
    """``POST https://public-api.wordpress.com/oauth2/token`` (the code grant; form-encoded)."""
    form = request.form()
    if form.get("grant_type") != "authorization_code":
        return _oauth_error("unsupported_grant_type", "The grant type is not supported.")
    if form.get("client_id") != oauth.CLIENT_ID:
        return _oauth_error("invalid_client", "Unknown client_id.")
    if form.get("client_secret") != oauth.CLIENT_SECRET:
        return _oauth_error("invalid_client", "Invalid client credentials.")
    done = oauth.redeem(
        PLATFORM, form.get("code"), client_id=form.get("client_id"), redirect_uri=form.get("redirect_uri")
    )
    if done.error or done.issued is None:
        return _oauth_error("invalid_grant", "Invalid or expired authorization code.")
    access = secrets.token_urlsafe(48)
    with _lock:
        _issued.add(access)
    blog_id, _, blog_url, _, _ = OWN_SITES[0]
    return Reply(
        200,
        {
            "access_token": access,
            "blog_id": str(blog_id),
            "blog_url": blog_url,
            "token_type": "bearer",
            "scope": done.issued.scope,
        },
    )


def me_sites(request: Request) -> Reply:
    """``GET /rest/v1.1/me/sites``: "Get a list of the current user's sites" ("Requires authentication? Yes")."""
    token_ = request.bearer()
    if token_ is None:
        return _error(
            403,
            "authorization_required",
            "An active access token must be used to query information about the current user.",
        )
    if not _known(token_):
        return _error(403, "invalid_token", "The OAuth2 token is invalid.")
    fields = [f for f in (request.arg("fields") or "").split(",") if f]
    sites = []
    for blog_id, name, url, jetpack, stats in OWN_SITES:
        site: dict[str, Any] = {
            "ID": blog_id,
            "name": name,
            "description": "",
            "URL": url,
            "jetpack": jetpack,
            "is_private": False,
            "visible": True,
            "capabilities": {
                "edit_pages": stats,
                "edit_posts": True,
                "manage_options": stats,
                "view_stats": stats,
                "publish_posts": True,
            },
        }
        sites.append({k: v for k, v in site.items() if not fields or k in fields})
    return Reply(200, {"sites": sites})


ROUTES = [
    ("GET", r"/oauth2/authorize", consent),
    ("POST", r"/oauth2/authorize", decision),
    ("POST", r"/oauth2/token", token),
    ("GET", r"/rest/v1\.1/me/sites", me_sites),
    ("GET", r"/rest/v1\.1/sites/([^/]+)/stats/visits", visits),
    ("GET", r"/rest/v1\.1/sites/([^/]+)/stats/referrers", referrers),
]
