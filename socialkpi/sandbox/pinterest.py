"""Sandbox part: Pinterest API v5 ``user_account``, ``user_account/analytics`` and ``oauth/token``.

Answers as https://developers.pinterest.com/docs/api/v5/ documents it:

* ``GET /v5/user_account``: the token owner's account object (``follower_count`` a JSON integer).
* ``GET /v5/user_account/analytics``: ``{"all": {"daily_metrics": [{date, data_status, metrics}],
  "summary_metrics": {...}}}`` for every day ``start_date..end_date`` up to today (UTC); the last
  :data:`PROCESSING_DAYS` days before today, and today, are ``PROCESSING``; ``metric_types`` defaults
  to all of :data:`METRIC_BASES`.  A ``start_date`` more than 90 days back, a range over 90 days or an
  end before the start get 400 ``{"code": 400, "message": "Invalid user accounts analytics parameters."}``;
  a metric type not served (one in :data:`RETIRED`, or unknown) gets 400 ``{"code": 1, ...metric_types...}``.
* Auth: ``world.TOKEN`` (or a token this part issued) is the demo account :data:`USERNAME`;
  :data:`OTHER_USER_TOKEN` is another account; :data:`NO_SCOPE_TOKEN` lacks ``user_accounts:read``
  (403 code 29); ``world.EXPIRED_TOKEN`` and anything else get 401 ``{"code": 2, "message":
  "Authentication failed."}``.
* Throttling: 429 ``{"code": 8, ...}`` with ``X-RateLimit-Limit``, ``X-RateLimit-Remaining: 0``,
  ``X-RateLimit-Reset`` (seconds until reset) and ``x-envoy-ratelimited`` (see :func:`throttled`).
* ``POST /v5/oauth/token``: HTTP Basic client auth, ``grant_type=refresh_token``; answers a new access
  token and a rotated continuous refresh token; a refresh token starting ``pinr_revoked`` (or a wrong
  client) gets 401 ``{"code": 283, "message": "The authorization grant is invalid"}``.  Both apps are
  accepted for a refresh: this part's :data:`CLIENT_ID` and the consent page's (socialkpi.sandbox.oauth).
* ``socialkpi connect pinterest`` (tests/test_connect_pinterest.py quotes the docs): ``GET/POST /oauth/``,
  the consent page (``client_id``, ``redirect_uri``, ``response_type=code``, comma-separated ``scope``;
  Deny answers ``error=access_denied``, Pinterest documents no refusal shape); on the token route
  ``grant_type=authorization_code`` with HTTP Basic of the consent app (anything else: 401 ``{"code": 2,
  "message": "Authentication failed."}``, the spec's client-authentication example), ``code`` and
  ``redirect_uri``; a used, expired or unknown code gets 400 ``{"code": 283, "message": "The authorization
  grant is invalid"}`` (Pinterest's code for it is not documented).  The answer carries ``expires_in`` as a
  string (``"2592000"``, as the quickstart's fixture), a continuous 60-day refresh token, and
  ``response_type: "authorization_code"``; the access token is the demo account :data:`USERNAME`'s.

Use :func:`followers_on` and :func:`value_for` to compute what the sandbox serves (the tests do).
"""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from socialkpi.sandbox import oauth, world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "pinterest"
USERNAME = "cornerbakerylyon"  # the demo account world.TOKEN belongs to
OTHER_USERNAME = "rivalpatisserie"
OTHER_USER_TOKEN = "sandbox-token-pinterest-other-user"  # noqa: S105
NO_SCOPE_TOKEN = "sandbox-token-pinterest-pins-only"  # noqa: S105
CLIENT_ID = "1484362"
CLIENT_SECRET = "sandbox-pinterest-secret"  # noqa: S105
MAX_DAYS_BACK = 90
PROCESSING_DAYS = 2
FOLLOWERS_BASE = 1520.0
METRIC_BASES: dict[str, float] = {  # daily base per metric type (a rate is computed, not based)
    "IMPRESSION": 240,
    "ENGAGEMENT": 31,
    "PIN_CLICK": 37,
    "OUTBOUND_CLICK": 20,
    "SAVE": 20,
    "SAVE_RATE": 0,
}
RETIRED: set[str] = set()  # tests add a metric type here to see it refused

_issued: dict[str, str] = {}  # access token -> username
_lock = threading.Lock()


# -- the world's numbers ---------------------------------------------------------------------------
def followers_on(username: str, day: date) -> int:
    return world.followers(PLATFORM, username, day, FOLLOWERS_BASE)


def value_for(username: str, metric: str, day: date) -> int | float:
    """The value the sandbox serves for ``metric`` on UTC day ``day``."""
    if metric == "SAVE_RATE":
        impressions = value_for(username, "IMPRESSION", day)
        return round(value_for(username, "SAVE", day) / impressions, 3) if impressions else 0.0
    value = world.daily(PLATFORM, username, metric, day, METRIC_BASES[metric])
    if metric in ("ENGAGEMENT", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE"):
        value = min(value, world.daily(PLATFORM, username, "IMPRESSION", day, METRIC_BASES["IMPRESSION"]))
    return value


def _today() -> date:
    return world.now().date()


def status_on(day: date, today: date | None = None) -> str:
    today = today or _today()
    return "PROCESSING" if day >= today - timedelta(days=PROCESSING_DAYS) else "READY"


def account_for(username: str) -> dict[str, Any]:
    today = _today()
    name = "Corner Bakery Lyon" if username == USERNAME else username.replace("_", " ").title()
    return {
        "account_type": "BUSINESS",
        "id": str(2783136121146311751 + sum(map(ord, username))),
        "username": username,
        "business_name": name,
        "about": "Breads & pastries",
        "profile_image": "https://i.pinimg.com/280x280_RS/sandbox.jpg",
        "website_url": "https://cornerbakery.example",
        "board_count": 14,
        "pin_count": 339,
        "follower_count": followers_on(username, today),
        "following_count": 347,
        "monthly_views": sum(value_for(username, "IMPRESSION", today - timedelta(days=n)) for n in range(1, 31)),
    }


# -- replies ---------------------------------------------------------------------------------------
def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"code": code, "message": message}, headers or {})


def throttled(reset_seconds: int = 30) -> Reply:
    """Pinterest's 429 with its headers (``X-RateLimit-Reset`` is the seconds until the reset)."""
    return _error(
        429,
        8,
        "This request exceeded a rate limit. This can happen if the client exceeds the limit for the "
        "category of endpoints or for the entire API.",
        {
            "X-RateLimit-Limit": "1000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset_seconds),
            "x-envoy-ratelimited": "true",
        },
    )


def _owner(request: Request) -> tuple[str | None, Reply | None]:
    token = request.bearer()
    if token == world.TOKEN:
        return USERNAME, None
    if token == OTHER_USER_TOKEN:
        return OTHER_USERNAME, None
    if token == NO_SCOPE_TOKEN:
        return None, _error(403, 29, "You are not permitted to access that resource.")
    with _lock:
        username = _issued.get(token or "")
    if username is None:  # world.EXPIRED_TOKEN, a revoked one, none at all
        return None, _error(401, 2, "Authentication failed.")
    return username, None


def user_account(request: Request) -> Reply:
    username, refused = _owner(request)
    if refused or username is None:
        return refused or _error(401, 2, "Authentication failed.")
    return Reply(200, account_for(username))


def analytics(request: Request) -> Reply:
    username, refused = _owner(request)
    if refused or username is None:
        return refused or _error(401, 2, "Authentication failed.")
    today = _today()
    try:
        start = date.fromisoformat(request.arg("start_date") or "")
        end = date.fromisoformat(request.arg("end_date") or "")
    except ValueError:
        return _error(400, 1, "Invalid parameters. start_date and end_date are required (YYYY-MM-DD).")
    if start < today - timedelta(days=MAX_DAYS_BACK) or end < start or end > start + timedelta(days=90):
        return _error(400, 400, "Invalid user accounts analytics parameters.")
    asked = [m for m in (request.arg("metric_types") or ",".join(METRIC_BASES)).split(",") if m]
    for metric in asked:
        if metric not in METRIC_BASES or metric in RETIRED:
            allowed = sorted(set(METRIC_BASES) - RETIRED)
            return _error(400, 1, f"Invalid parameters. metric_types: '{metric}' is not one of {allowed}")
    daily: list[dict[str, Any]] = []
    day = start
    while day <= min(end, today):
        values = {m: value_for(username, m, day) for m in asked}
        daily.append({"date": day.isoformat(), "data_status": status_on(day, today), "metrics": values})
        day += timedelta(days=1)
    summary: dict[str, int | float] = {}
    for metric in asked:
        if metric.endswith("_RATE"):
            base = metric.removesuffix("_RATE")
            shown = sum(value_for(username, "IMPRESSION", date.fromisoformat(d["date"])) for d in daily)
            done = sum(value_for(username, base, date.fromisoformat(d["date"])) for d in daily)
            summary[metric] = round(done / shown, 3) if shown else 0.0
        else:
            summary[metric] = sum(d["metrics"][metric] for d in daily)
    return Reply(200, {"all": {"daily_metrics": daily, "summary_metrics": summary}})


APPS = frozenset({f"{CLIENT_ID}:{CLIENT_SECRET}", f"{oauth.CLIENT_ID}:{oauth.CLIENT_SECRET}"})
REFRESH_SECONDS = 5184000  # a continuous refresh token: 60 days, renewed with every refresh


def _code_grant(pair: str, form: dict[str, str]) -> Reply:
    """``grant_type=authorization_code``: HTTP Basic of the consent page's app, ``code``, ``redirect_uri``."""
    if pair != f"{oauth.CLIENT_ID}:{oauth.CLIENT_SECRET}":
        return _error(401, 2, "Authentication failed.")
    for name in ("code", "redirect_uri"):
        if not form.get(name):
            return _error(400, 1, f"Invalid parameters. {name} is required")
    done = oauth.redeem(PLATFORM, form["code"], client_id=oauth.CLIENT_ID, redirect_uri=form["redirect_uri"])
    if done.error or done.issued is None:
        return _error(400, 283, "The authorization grant is invalid")
    access = f"pina_sandbox-{uuid.uuid4().hex}"
    with _lock:
        _issued[access] = USERNAME
    now = int(datetime.now(UTC).timestamp())
    return Reply(
        200,
        {
            "access_token": access,
            "refresh_token": f"pinr_sandbox-{uuid.uuid4().hex}",
            "response_type": "authorization_code",
            "token_type": "bearer",
            "expires_in": "2592000",  # a string, as Pinterest's own quickstart fixture has it
            "refresh_token_expires_in": REFRESH_SECONDS,
            "refresh_token_expires_at": now + REFRESH_SECONDS,
            "scope": done.issued.scope,
        },
    )


def consent(request: Request) -> Reply:
    """``GET https://www.pinterest.com/oauth/``: the app and redirect URI checked, then the Allow/Deny page."""
    bad = oauth.check_authorize(request, platform="Pinterest")
    if bad is not None:
        return bad
    scopes = [s for s in (request.arg("scope") or "").split(",") if s]
    if not scopes:
        return oauth.error_page("Pinterest", "Oops! You must pass a value for scope.")
    return oauth.consent_page(
        request, platform="Pinterest", title="Give socialkpi access to your Pinterest account?", scope=", ".join(scopes)
    )


def decision(request: Request) -> Reply:
    return oauth.decide(request, platform=PLATFORM)


def token(request: Request) -> Reply:
    auth = request.header("Authorization") or ""
    try:
        pair = base64.b64decode(auth.removeprefix("Basic ")).decode() if auth.startswith("Basic ") else ""
    except ValueError:
        pair = ""
    form = request.form()
    if form.get("grant_type") == "authorization_code":
        return _code_grant(pair, form)
    if pair not in APPS:
        return _error(401, 283, "The authorization grant is invalid")
    if form.get("grant_type") != "refresh_token":
        return _error(400, 1, f"Invalid parameters. grant_type: {form.get('grant_type')!r} is not supported here")
    refresh = form.get("refresh_token", "")
    if not refresh.startswith("pinr_") or refresh.startswith("pinr_revoked"):
        return _error(401, 283, "The authorization grant is invalid")
    access = f"pina_sandbox-{uuid.uuid4().hex}"
    with _lock:
        _issued[access] = USERNAME
    now = int(datetime.now(UTC).timestamp())
    return Reply(
        200,
        {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": 2592000,
            "scope": "user_accounts:read,pins:read,boards:read",
            "refresh_token": f"pinr_sandbox-{uuid.uuid4().hex}",
            "refresh_token_expires_in": 5184000,
            "refresh_token_expires_at": now + 5184000,
            "response_type": "refresh_token",
        },
    )


ROUTES = [
    ("GET", r"/v5/user_account", user_account),
    ("GET", r"/v5/user_account/analytics", analytics),
    ("POST", r"/v5/oauth/token", token),
    ("GET", r"/oauth/", consent),
    ("POST", r"/oauth/", decision),
]
