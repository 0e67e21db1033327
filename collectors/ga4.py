"""Google Analytics 4: a website's page views, visits and visitors, and the part that came from social.

API: GA4 Data API v1beta ``properties.runReport`` (docs/platform-apis-web.md §1)
https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/properties/runReport

Credentials, the first one set wins:
    SOCIALKPI_GA4_TOKEN           a static OAuth bearer (scope analytics.readonly; lasts about an hour)
    SOCIALKPI_GOOGLE_CREDENTIALS  path of a service-account or authorized-user JSON file as Google issues
                                  it; refreshed through its ``token_uri``.  A service account's e-mail
                                  must be a Viewer in GA4 Admin > Property access management.
Optional:
    SOCIALKPI_GA4_BASE_URL        replaces https://analyticsdata.googleapis.com
    SOCIALKPI_GA4_TOKEN_URL       replaces the credential file's ``token_uri``

Metrics, dated by GA4's ``date`` (YYYYMMDD in the property's time zone):
    page_views ← screenPageViews, visits ← sessions, visitors ← activeUsers;
    social_visits, social_page_views ← sessions, screenPageViews of the channel groups
    "Organic Social" and "Paid Social".
A day in the range with no row is 0, except today or later in the property's time zone (not ready).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import google.auth.exceptions
import google.auth.transport.requests
from google.auth.credentials import Credentials as GoogleCredentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from collectors.http import (
    AuthError,
    Client,
    PayloadError,
    Verdict,
    paginate_offset,
    parse_retry_after,
    register_secret,
)
from collectors.observation import CollectContext, Collected, Credentials, Observation

PLATFORM = "ga4"
API_ROOT = "https://analyticsdata.googleapis.com"
REPORT_PATH = "/v1beta/properties/{property_id}:runReport"
SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
PAGE_LIMIT = 10_000  # GA4's default page; ctx.options["page_limit"] overrides it
SOCIAL_CHANNELS = frozenset({"Organic Social", "Paid Social"})
CREDENTIALS_ENV = "SOCIALKPI_GOOGLE_CREDENTIALS"

# Two reports, not one.  activeUsers is a distinct count: someone who came once from Search and
# once from Instagram is one user of the day but appears in two channel rows, so summing the
# channel report would over-count visitors.  The day's totals come from a report by date alone;
# sessions and page views do add up over channels, so the social ones come from the second report.
TOTALS = {"screenPageViews": "page_views", "sessions": "visits", "activeUsers": "visitors"}
SOCIAL = {"sessions": "social_visits", "screenPageViews": "social_page_views"}
REPORTS: tuple[tuple[tuple[str, ...], dict[str, str]], ...] = (
    (("date",), TOTALS),
    (("date", "sessionDefaultChannelGroup"), SOCIAL),
)


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read Google's error envelope ``{"error": {"code", "message", "status", "details"}}``."""
    err = body.get("error") if isinstance(body, dict) else None
    if status < 400 or not isinstance(err, dict):
        return None  # not Google's envelope: the HTTP status decides
    state = str(err.get("status") or "")
    message = str(err.get("message") or f"HTTP {status}")
    reasons = {str(d.get("reason")) for d in err.get("details") or [] if isinstance(d, dict)}
    if state == "UNAUTHENTICATED" or status == 401:
        return Verdict(
            "auth",
            f"the access token was refused ({message}); a SOCIALKPI_GA4_TOKEN lasts about an hour: "
            f"set a fresh one, or use {CREDENTIALS_ENV}, which is refreshed automatically",
            code="unauthenticated",
        )
    if state == "PERMISSION_DENIED" or status == 403:
        if "SERVICE_DISABLED" in reasons or "SERVICE_DISABLED" in message:
            advice, code = "enable the Google Analytics Data API in the Cloud project", "service_disabled"
        elif "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in reasons:
            advice, code = f"the token lacks the scope {SCOPE}: issue it again with that scope", "scope"
        else:
            advice = (
                "add the service account's e-mail (or the user) as Viewer in GA4 property access "
                "management, and check the property id"
            )
            code = "no_property_access"
        return Verdict("permission", f"{message}: {advice}", code=code)
    if state == "RESOURCE_EXHAUSTED" or status == 429:
        wait, code = _quota_wait(message)
        header = parse_retry_after(headers.get("Retry-After"))
        return Verdict("throttled", message, header if header is not None else wait, code)
    if status >= 500 or state in {"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"}:
        return Verdict("server", message, parse_retry_after(headers.get("Retry-After")), code=state.lower())
    if state == "INVALID_ARGUMENT":
        return Verdict("bad_request", message, code="invalid_argument")
    return None


def _quota_wait(message: str) -> tuple[float, str]:
    """Seconds until a GA4 quota returns (Airbyte's figures, platform-apis-web.md §1 "Throttled")."""
    text = message.lower()
    if "concurrent" in text:
        return 30.0, "concurrent_quota"
    if "per day" in text or "daily" in text:
        # Google's daily quotas reset at midnight Pacific time [unverified for GA4]: far longer than
        # any policy's max_retry_after, so the http layer fails at once with the reset time.
        now = datetime.now(ZoneInfo("America/Los_Angeles"))
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
        return max(60.0, (midnight - now).total_seconds()), "daily_quota"
    if "hour" in text or "thresholded" in text:
        return 1800.0, "hourly_quota"
    return 60.0, "quota"


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    client.auth_headers, client.refresh = _auth(client, ctx.credentials)
    base = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    url = base + REPORT_PATH.format(property_id=quote(ctx.account.id, safe=""))
    limit = int(ctx.options.get("page_limit", PAGE_LIMIT))
    out = Collected()
    for dimensions, mapping in REPORTS:
        body = {
            "dateRanges": [{"startDate": since.isoformat(), "endDate": until.isoformat()}],
            "dimensions": [{"name": d} for d in dimensions],
            "metrics": [{"name": m} for m in mapping],
            "orderBys": [{"dimension": {"dimensionName": "date"}}],
            "keepEmptyRows": False,
        }
        # runReport is a read: retrying the POST is safe.
        pages = list(paginate_offset(partial(_fetch, client, url, body), total=_row_count, limit=limit))
        merged = {**pages[0], "rows": [row for page in pages for row in _list(page, "rows")]}
        out.observations += parse_report(
            merged, account_id=ctx.account.id, since=since, until=until, collected_at=ctx.collected_at
        )
    out.requests = client.requests_made
    return out


def _fetch(client: Client, url: str, body: dict[str, Any], offset: int, limit: int) -> Any:
    return client.post_json(url, json_body={**body, "offset": offset, "limit": limit})


def _row_count(page: Any) -> int:
    if not isinstance(page, dict):
        raise PayloadError(f"{PLATFORM}: runReport answered {type(page).__name__}, not an object")
    try:
        return int(page.get("rowCount", 0))  # left out when 0 (proto-JSON)
    except (TypeError, ValueError):
        raise PayloadError(f"{PLATFORM}: rowCount is not a number: {page.get('rowCount')!r}") from None


def parse_report(
    payload: Any, *, account_id: str, since: date, until: date, collected_at: datetime
) -> list[Observation]:
    """Observations from one ``RunReportResponse`` (all pages' rows in ``rows``).

    The report is recognised by its dimension headers: ``[date]`` gives the day's totals,
    ``[date, sessionDefaultChannelGroup]`` the social sums.  Days from ``since`` to ``until``
    without a row are 0, except days not over yet in the property's time zone.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"{PLATFORM}: runReport answered {type(payload).__name__}, not an object")
    dims = [_name(h) for h in _list(payload, "dimensionHeaders")]
    if dims == ["date"]:
        mapping, social = TOTALS, False
    elif dims == ["date", "sessionDefaultChannelGroup"]:
        mapping, social = SOCIAL, True
    else:
        raise PayloadError(f"{PLATFORM}: unexpected report dimensions {dims}")
    headers = [(_name(h), str(h.get("type", "TYPE_INTEGER"))) for h in _list(payload, "metricHeaders")]
    missing = set(mapping) - {name for name, _ in headers}
    if missing:
        raise PayloadError(f"{PLATFORM}: the report lacks the metrics {sorted(missing)}")

    sums: dict[date, dict[str, float]] = {}
    for row in _list(payload, "rows"):
        if not isinstance(row, dict):
            raise PayloadError(f"{PLATFORM}: a report row is {type(row).__name__}, not an object")
        dvals = [_value(v) for v in _list(row, "dimensionValues")]
        mvals = [_value(v) for v in _list(row, "metricValues")]
        if len(dvals) != len(dims) or len(mvals) != len(headers):
            raise PayloadError(f"{PLATFORM}: a row's values do not match the headers")
        per_day = sums.setdefault(_day(dvals[0]), {})  # days outside since..until are never read
        if social and dvals[1] not in SOCIAL_CHANNELS:
            continue
        for (name, kind), raw in zip(headers, mvals, strict=True):
            if name in mapping:
                per_day[name] = per_day.get(name, 0) + _cast(raw, kind)

    today = collected_at.astimezone(_zone(payload.get("metadata"))).date()
    rows: list[Observation] = []
    day = since
    while day <= until:
        if day in sums or day < today:  # today's numbers are still being processed
            for name, metric in mapping.items():
                source = f"{name}[Organic Social+Paid Social]" if social else name
                value = sums.get(day, {}).get(name, 0)
                rows.append(Observation(PLATFORM, account_id, metric, day, value, source, collected_at))
        day += timedelta(days=1)
    return rows


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key, [])  # proto-JSON leaves empty lists out
    if not isinstance(value, list):
        raise PayloadError(f"{PLATFORM}: {key} is {type(value).__name__}, not a list")
    return value


def _name(header: Any) -> str:
    if not isinstance(header, dict) or not isinstance(header.get("name"), str):
        raise PayloadError(f"{PLATFORM}: a header without a name: {header!r:.80}")
    return str(header["name"])


def _value(cell: Any) -> str:
    if not isinstance(cell, dict) or not isinstance(cell.get("value"), str):
        raise PayloadError(f"{PLATFORM}: a cell without a string value: {cell!r:.80}")
    return str(cell["value"])


def _day(text: str) -> date:
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise PayloadError(f"{PLATFORM}: date {text!r:.20} is not YYYYMMDD") from None


def _cast(raw: str, kind: str) -> float:
    try:
        return int(raw) if kind == "TYPE_INTEGER" else float(raw)
    except ValueError:
        raise PayloadError(f"{PLATFORM}: {raw!r:.20} is not a {kind} value") from None


def _zone(metadata: Any) -> ZoneInfo:
    name = metadata.get("timeZone") if isinstance(metadata, dict) else None
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# -- credentials ----------------------------------------------------------------------------------
def _auth(client: Client, creds: Credentials) -> tuple[Callable[[], dict[str, str]], Callable[[], bool] | None]:
    """``(auth_headers, refresh)`` hooks for the client: a static bearer, or Google credentials."""
    if creds.token:
        header = {"Authorization": f"Bearer {creds.token}"}
        return (lambda: header), None
    if not creds.google_credentials:
        raise AuthError(
            f"{PLATFORM}: no credentials: set SOCIALKPI_GA4_TOKEN or {CREDENTIALS_ENV} "
            "(the path of a service-account or authorized-user JSON file)",
            platform=PLATFORM,
        )
    cred = load_google_credentials(creds.google_credentials, token_url=creds.token_url)
    # google-auth posts to token_uri through our session, with our timeouts (its own default is 120 s).
    transport = google.auth.transport.requests.Request(session=client.session)
    request = partial(transport, timeout=client.policy.timeout)

    def headers() -> dict[str, str]:
        if not cred.valid:
            _refresh(cred, request)
        return {"Authorization": f"Bearer {cred.token}"}

    def refresh() -> bool:  # the API refused the token: get a new one and try once more
        _refresh(cred, request)
        return True

    return headers, refresh


def load_google_credentials(path: str, *, token_url: str | None = None) -> GoogleCredentials:
    """Service-account or authorized-user credentials from Google's JSON file, scoped read-only."""
    where = f"{CREDENTIALS_ENV} ({path})"
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuthError(f"{PLATFORM}: cannot read {where}: {exc.strerror}", platform=PLATFORM) from None
    except ValueError:
        raise AuthError(
            f"{PLATFORM}: {where} is not JSON: download the key file from Google Cloud again",
            platform=PLATFORM,
        ) from None
    if not isinstance(info, dict):
        raise AuthError(f"{PLATFORM}: {where} is not a JSON object", platform=PLATFORM)
    for key in ("private_key", "refresh_token", "client_secret"):
        if isinstance(info.get(key), str):
            register_secret(info[key])
    kind = info.get("type")
    cred: Any
    try:
        if kind == "service_account":
            cred = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[SCOPE]
            )
        elif kind == "authorized_user":
            cred = user_credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=[SCOPE]
            )
            if info.get("token_uri"):  # from_authorized_user_info always puts Google's endpoint there
                cred = cred.with_token_uri(str(info["token_uri"]))
        else:
            raise AuthError(
                f"{PLATFORM}: {where} has type {str(kind)[:40]!r}: expected a service_account or authorized_user file",
                platform=PLATFORM,
            )
    except (ValueError, TypeError, KeyError, AttributeError, google.auth.exceptions.GoogleAuthError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise AuthError(
            f"{PLATFORM}: {where} is not a usable {kind} file ({reason}): download it from Google Cloud again",
            platform=PLATFORM,
        ) from None
    if token_url:
        cred = cred.with_token_uri(token_url)
    result: GoogleCredentials = cred
    return result


def _refresh(cred: GoogleCredentials, request: Callable[..., Any]) -> None:
    try:
        cred.refresh(request)  # type: ignore[no-untyped-call]
    except google.auth.exceptions.RefreshError as exc:
        raise AuthError(_refresh_advice(cred, exc), platform=PLATFORM) from None
    except google.auth.exceptions.TransportError:
        raise AuthError(
            f"{PLATFORM}: could not reach the OAuth endpoint (token_uri): check the network, or the token_uri "
            f"in {CREDENTIALS_ENV}",
            platform=PLATFORM,
        ) from None
    register_secret(cred.token)


def _refresh_advice(cred: GoogleCredentials, exc: google.auth.exceptions.RefreshError) -> str:
    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    error = str(data.get("error") or "")
    said = str(exc.args[0]) if exc.args else ""
    if error:
        said = f"{error}: {data.get('error_description') or ''}"
    said = said.splitlines()[0][:200] if said else "no reason given"
    if error == "invalid_grant" and isinstance(cred, service_account.Credentials):
        advice = (
            "the service-account key was refused (deleted or disabled key, or a wrong clock): "
            f"create a new key and update {CREDENTIALS_ENV}"
        )
    elif error == "invalid_grant":
        advice = (
            "the refresh token was revoked or expired (apps in Testing mode lose them after 7 days): "
            f"create new credentials and update {CREDENTIALS_ENV}"
        )
    elif error in {"invalid_client", "unauthorized_client"}:
        advice = f"the OAuth client was refused: check client_id and client_secret in {CREDENTIALS_ENV}"
    else:
        advice = f"the OAuth endpoint refused the credentials: check {CREDENTIALS_ENV}"
    return f"{PLATFORM}: {advice} ({said})"
