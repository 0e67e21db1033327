"""Sandbox part: the GA4 Data API ``runReport`` and the Google OAuth token endpoint (shared by the
youtube and google_business parts).

Answers the way platform-apis-web.md §1 documents it: ``RunReportResponse`` with
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

``POST /token`` stands in for ``https://oauth2.googleapis.com/token``: the ``refresh_token`` grant
(client id and secret required; a refresh token starting ``revoked`` gets ``invalid_grant``, one
starting ``analytics-only`` was granted only analytics.readonly) and the service-account
``jwt-bearer`` grant (signature not checked: the sandbox has no public key) issue ``ya29.sandbox-...``
bearers carrying the scopes asked for (a refresh without ``scope`` gets the ones granted).  A scope
not granted gets ``invalid_scope``.  :func:`scopes_of` tells each route what a bearer may do;
``world.TOKEN`` may do everything.

Google's installed-app authorization (https://developers.google.com/identity/protocols/oauth2/native-app),
for ``socialkpi connect google|ga4|google_business|youtube``:

* ``GET /o/oauth2/auth`` (also ``/o/oauth2/v2/auth``): the consent page for the sandbox's Desktop client
  (``socialkpi.sandbox.oauth.CLIENT_ID``), a loopback ``redirect_uri`` (``http://127.0.0.1:<any port>``,
  ``[::1]`` or ``localhost``), ``response_type=code``, known ``scope`` values and, when a ``code_challenge``
  is sent, ``code_challenge_method`` S256 or plain; anything else gets Google's error page ("Error 401:
  invalid_client", "Error 400: invalid_scope", "Error 400: redirect_uri_mismatch" ...), never a redirect.
  ``POST`` is the page's form: Allow redirects with ``code`` and ``state`` (and ``scope``, as Google does),
  Deny with ``error=access_denied`` and ``state`` only (the doc's "An error response:
  https://oauth2.example.com/auth?error=access_denied").
* ``POST /token`` with ``grant_type=authorization_code``: the client as HTTP Basic or ``client_id`` and
  ``client_secret`` in the form; an unknown client gets 401 ``{"error": "invalid_client",
  "error_description": "The OAuth client was not found."}``, a wrong secret 401 ``{"error":
  "invalid_client", "error_description": "Unauthorized"}``; a code used before, expired or unknown 400
  ``{"error": "invalid_grant", "error_description": "Bad Request"}``; another ``redirect_uri`` 400
  ``redirect_uri_mismatch``; a wrong PKCE verifier ``invalid_grant``.  The answer: ``access_token``,
  ``expires_in`` 3599, ``refresh_token``, ``scope`` (the scopes granted), ``token_type`` "Bearer".  The
  refresh token keeps its scopes for the refresh grant.
* ``GET /v1beta/accountSummaries?pageSize=&pageToken=`` (Admin API,
  https://developers.google.com/analytics/devguides/config/admin/v1/rest/v1beta/accountSummaries/list):
  the summaries one per page, ``nextPageToken`` until the last; the first account has no GA4 property (an
  old Universal Analytics account), the second has the world's property ``properties/312345678``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from socialkpi.sandbox import oauth, world
from socialkpi.sandbox.server import Reply, Request

PLATFORM = "ga4"
TIME_ZONE = "Europe/Paris"
PROPERTY_START = date(2024, 1, 1)  # the property collects nothing before this day
OUTAGE_DAYS = frozenset({date(2026, 2, 17)})  # the tag was broken: GA4 has no row at all that day
SCOPES_OK = (
    "https://www.googleapis.com/auth/analytics.readonly",
    "https://www.googleapis.com/auth/analytics",
)
GOOGLE_SCOPES = frozenset(
    {
        *SCOPES_OK,
        "https://www.googleapis.com/auth/youtube.readonly",
        "https://www.googleapis.com/auth/yt-analytics.readonly",
        "https://www.googleapis.com/auth/business.manage",
    }
)  # what the sandbox's OAuth client may be granted
ISSUED_PREFIX = "ya29.sandbox-"

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

_issued: dict[str, frozenset[str]] = {}  # access token -> granted scopes
_refresh_scopes: dict[str, frozenset[str]] = {}  # refresh token issued by the code grant -> its scopes
_issued_lock = threading.Lock()
OAUTH_PLATFORM = "google"  # the codes of Google's one consent page (socialkpi.sandbox.oauth)
ACCESS_TTL = 3599
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


# -- OAuth token endpoint (Google's, for ga4, youtube and google_business) -------------------------
def scopes_of(token: str | None) -> frozenset[str] | None:
    """The scopes a bearer carries; None for an unknown (or expired) one."""
    if token == world.TOKEN:
        return GOOGLE_SCOPES
    with _issued_lock:
        return _issued.get(token or "")


def issue_token(scopes: frozenset[str] = GOOGLE_SCOPES) -> str:
    """A bearer the routes accept, as the token endpoint would issue it (tests script it in replies)."""
    token = f"{ISSUED_PREFIX}{uuid.uuid4().hex}"
    with _issued_lock:
        _issued[token] = scopes
    return token


def _oauth_error(error: str, description: str, status: int = 400) -> Reply:
    return Reply(status, {"error": error, "error_description": description})


def _issue(scopes: frozenset[str]) -> Reply:
    body = {"access_token": issue_token(scopes), "expires_in": 3599, "token_type": "Bearer"}
    body["scope"] = " ".join(sorted(scopes))
    return Reply(200, body)


def _jwt_claims(assertion: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (the sandbox has no way to know the public key)."""
    payload = assertion.split(".")[1]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def _scoped(asked: str, granted: frozenset[str]) -> Reply:
    scopes = frozenset(asked.split()) or granted
    if not scopes <= granted:
        return _oauth_error(
            "invalid_scope", f"Some requested scopes were invalid. {{invalid={sorted(scopes - granted)}}}"
        )
    return _issue(scopes)


def token(request: Request) -> Reply:
    form = request.form()
    grant = form.get("grant_type")
    if grant == "refresh_token":
        refresh = form.get("refresh_token", "")
        if not refresh or not form.get("client_id") or not form.get("client_secret"):
            return _oauth_error("invalid_request", "Missing required parameter: refresh_token or client.")
        if refresh.startswith("revoked"):
            return _oauth_error("invalid_grant", "Token has been expired or revoked.")
        with _issued_lock:
            known = _refresh_scopes.get(refresh)
        granted = known or (frozenset({SCOPES_OK[0]}) if refresh.startswith("analytics-only") else GOOGLE_SCOPES)
        return _scoped(form.get("scope", ""), granted)
    if grant == "authorization_code":
        return _code_grant(request, form)
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        try:
            claims = _jwt_claims(form.get("assertion", ""))
        except (IndexError, ValueError):
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        if not claims.get("iss") or not claims.get("exp"):
            return _oauth_error("invalid_grant", "Invalid JWT: missing iss or exp.")
        if not claims.get("scope"):
            return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        return _scoped(str(claims["scope"]), GOOGLE_SCOPES)
    return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant}")


# -- Google's authorization endpoint and the code grant (installed apps) ----------------------------
def _google_error_page(code: int, error: str, message: str) -> Reply:
    """What accounts.google.com shows for a bad authorization request: "Access blocked" and the error."""
    return oauth.error_page(
        "Google", f"Access blocked: this app's request is invalid. Error {code}: {error}. {message}", code
    )


def consent(request: Request) -> Reply:
    """``GET /o/oauth2/auth``: Google's consent page, after the checks accounts.google.com makes."""
    if request.arg("client_id") != oauth.CLIENT_ID:
        return _google_error_page(401, "invalid_client", "The OAuth client was not found.")
    redirect = request.arg("redirect_uri") or ""
    if not redirect:
        return _google_error_page(400, "invalid_request", "Missing required parameter: redirect_uri")
    if not oauth.loopback(redirect) and "[::1]" not in redirect:
        return _google_error_page(
            400, "redirect_uri_mismatch", "A Desktop client takes loopback redirects only (http://127.0.0.1:port)."
        )
    if request.arg("response_type") != "code":
        return _google_error_page(400, "unsupported_response_type", "Invalid response_type: use code.")
    scopes = (request.arg("scope") or "").split()
    if not scopes:
        return _google_error_page(400, "invalid_request", "Missing required parameter: scope")
    unknown = sorted(set(scopes) - GOOGLE_SCOPES)
    if unknown:
        return _google_error_page(400, "invalid_scope", f"Some requested scopes were invalid. {{invalid={unknown}}}")
    if request.arg("code_challenge") and request.arg("code_challenge_method", "plain") not in {"S256", "plain"}:
        return _google_error_page(400, "invalid_request", "Invalid code_challenge_method.")
    return oauth.consent_page(
        request,
        platform="Google",
        title="socialkpi (sandbox) wants access to your Google Account",
        scope=" ".join(scopes),
    )


def decision(request: Request) -> Reply:
    """The consent form: Allow -> ``code``, ``scope`` and ``state``; Deny -> ``error=access_denied`` and ``state``."""
    form = request.form()
    return oauth.decide(
        request,
        platform=OAUTH_PLATFORM,
        denial={"error": "access_denied"},
        redirect_extra={"scope": form.get("scope", "")} if form.get("decision") == "allow" else None,
    )


def _client(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """(client_id, client_secret) from HTTP Basic (client_secret_basic) or the form (client_secret_post)."""
    auth = request.header("Authorization") or ""
    if auth.lower().startswith("basic "):
        try:
            pair = base64.b64decode(auth[6:]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = pair.partition(":")
        return unquote(client_id) or None, unquote(secret) or None
    return form.get("client_id") or None, form.get("client_secret") or None


def _code_grant(request: Request, form: dict[str, str]) -> Reply:
    """``grant_type=authorization_code`` (native-app doc, "Step 5: Exchange authorization code for refresh and
    access tokens": ``code``, ``client_id``, ``client_secret``, ``redirect_uri``, ``code_verifier``)."""
    client_id, secret = _client(request, form)
    if client_id != oauth.CLIENT_ID:
        return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
    if secret != oauth.CLIENT_SECRET:
        return _oauth_error("invalid_client", "Unauthorized", 401)
    done = oauth.redeem(
        OAUTH_PLATFORM,
        form.get("code"),
        client_id=client_id,
        redirect_uri=form.get("redirect_uri"),
        verifier=form.get("code_verifier"),
    )
    if done.error == "redirect_uri":
        return _oauth_error("redirect_uri_mismatch", "Bad Request")
    if done.error or done.issued is None:
        return _oauth_error("invalid_grant", "Bad Request")
    scopes = frozenset(done.issued.scope.split()) & GOOGLE_SCOPES
    refresh = f"1//sandbox-refresh-{uuid.uuid4().hex}"
    with _issued_lock:
        _refresh_scopes[refresh] = scopes
    body = {
        "access_token": issue_token(scopes),
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh,
        "scope": " ".join(sorted(scopes)),
        "token_type": "Bearer",
    }
    return Reply(200, body)


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
