"""Google Business Profile: a local listing's daily impressions, website clicks, calls and direction
requests (Business Profile Performance API v1), the successor of a 2012 bakery's Google+ page.

Docs: https://developers.google.com/my-business/reference/performance/rest/v1/locations/fetchMultiDailyMetricsTimeSeries,
https://developers.google.com/my-business/reference/performance/rest/v1/TimeSeries,
https://developers.google.com/my-business/content/limits.

Environment (read by the command line, passed in as ``ctx.credentials``), the first one set wins:
    SOCIALKPI_GOOGLE_BUSINESS_TOKEN          an OAuth access token of a user who owns or manages the
                                             listing (scope business.manage; lasts about an hour)
    SOCIALKPI_GOOGLE_BUSINESS_REFRESH_TOKEN  optional, with SOCIALKPI_GOOGLE_BUSINESS_CLIENT_ID and
                                             _CLIENT_SECRET: an offline grant; access tokens are refreshed
                                             and kept (0600) beside the warehouse (wins over a static token)
    SOCIALKPI_GOOGLE_CREDENTIALS             a service-account or authorized-user JSON file (shared with ga4
                                             and youtube; read with the scope business.manage), used when
                                             none of the variables above is set
    SOCIALKPI_GOOGLE_BUSINESS_BASE_URL       optional: replaces https://businessprofileperformance.googleapis.com
    SOCIALKPI_GOOGLE_BUSINESS_TOKEN_URL      optional: replaces https://oauth2.googleapis.com/token (and the
                                             credentials file's ``token_uri``)
The Cloud project must be approved for the Business Profile APIs (GBP API access form).

Metrics (docs/metrics.md), dated by each value's ``date {year, month, day}``:
    impressions <- the sum of BUSINESS_IMPRESSIONS_DESKTOP_MAPS, _DESKTOP_SEARCH, _MOBILE_MAPS, _MOBILE_SEARCH;
    link_clicks <- WEBSITE_CLICKS; calls <- CALL_CLICKS; direction_requests <- BUSINESS_DIRECTION_REQUESTS.
Values are int64 strings and a zero is left out: a day inside the asked range without a value is 0.
They are read with the shared reader (collectors.values.Counts, text only: proto-JSON never sends an int64
as a number, and "4.5", "1e5" or "-1" are no int64).
What the answer declares: each series' ``dailyMetric`` must be one asked, its dates inside the asked
``dailyRange``, and it must carry no ``dailySubEntityType`` breakdown (a day-of-week or time-of-day series
is no daily total); anything else is refused.
No competitors: the API only answers for listings the user manages.  No optional endpoint: one call, and
a metric it refuses as INVALID_ARGUMENT is skipped on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from collectors.common import chunks, each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, BadRequest, PayloadError, Verdict, parse_retry_after
from collectors.google_auth import CREDENTIALS_ENV, EXPLAINED, WHO, google_bearer, use_credentials_file
from collectors.http import Client
from collectors.observation import Observation
from collectors.values import Counts, expect

PLATFORM = "google_business"
API_ROOT = "https://businessprofileperformance.googleapis.com"
MULTI_ENDPOINT = "/v1/locations/{location_id}:fetchMultiDailyMetricsTimeSeries"
SINGLE_ENDPOINT = "/v1/locations/{location_id}:getDailyMetricsTimeSeries"
IMPRESSIONS = (
    "BUSINESS_IMPRESSIONS_DESKTOP_MAPS",
    "BUSINESS_IMPRESSIONS_DESKTOP_SEARCH",
    "BUSINESS_IMPRESSIONS_MOBILE_MAPS",
    "BUSINESS_IMPRESSIONS_MOBILE_SEARCH",
)
ACTIONS: dict[str, str] = {
    "WEBSITE_CLICKS": "link_clicks",
    "CALL_CLICKS": "calls",
    "BUSINESS_DIRECTION_REQUESTS": "direction_requests",
}
IMPRESSIONS_SOURCE = "BUSINESS_IMPRESSIONS_*"  # the four surfaces, summed
COUNT = Counts(PLATFORM, text=True, numbers=False)  # "DatedValue.value is int64 as a string"
CHUNK_DAYS = 180
ENV_REFRESH = "SOCIALKPI_GOOGLE_BUSINESS_REFRESH_TOKEN"
ACCESS_ADVICE = (
    "the signed-in user must own or manage the listing, and the Cloud project must be approved for the "
    "Business Profile APIs (GBP API access request form)"
)


# -- classification ----------------------------------------------------------------------------


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read Google's envelope ``{"error": {"code", "message", "status", "details"}}``."""
    err = body.get("error") if isinstance(body, dict) else None
    if status < 400 or not isinstance(err, dict):
        return None
    state = str(err.get("status") or "")
    message = str(err.get("message") or f"HTTP {status}")
    if status == 401 or state == "UNAUTHENTICATED":
        return Verdict("auth", message, code="unauthenticated")
    if status == 429 or state == "RESOURCE_EXHAUSTED":
        if "limit: 0" in message or "limit '0'" in message:  # an unapproved project has no quota at all
            return Verdict("permission", f"{message}: {ACCESS_ADVICE}", code="not_approved")
        return Verdict("throttled", message, retry_after=parse_retry_after(headers.get("Retry-After")), code="quota")
    if status == 403 or state == "PERMISSION_DENIED":
        return Verdict("permission", f"{message}: {ACCESS_ADVICE}", code="permission_denied")
    if status == 404 or state == "NOT_FOUND":
        return Verdict("bad_request", message, code="not_found")
    if status >= 500:
        return Verdict("server", message, retry_after=parse_retry_after(headers.get("Retry-After")))
    if status == 400 or state == "INVALID_ARGUMENT":
        return Verdict("bad_request", message, code="invalid_argument")
    return None


# -- parsing -----------------------------------------------------------------------------------


def _date(obj: Any) -> date:
    """A ``google.type.Date`` object ``{year, month, day}`` (integers, no time zone)."""
    if not isinstance(obj, dict):
        raise PayloadError("google_business: a datedValue has no date object", platform=PLATFORM)
    try:
        parts = [obj[k] for k in ("year", "month", "day")]
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in parts):
            raise TypeError
        return date(*parts)
    except (KeyError, TypeError, ValueError):
        raise PayloadError(f"google_business: {obj!r:.60} is not a {{year, month, day}} date") from None


def _value(raw: Any, metric: str, day: date) -> int:
    if raw is None:
        return 0  # left out: a zero
    return COUNT(raw, f"{metric} on {day}")


def parse_multi(
    payload: Any, *, account_id: str, since: date, until: date, collected_at: datetime, metrics: tuple[str, ...]
) -> list[Observation]:
    """``fetchMultiDailyMetricsTimeSeries`` -> one row per canonical metric per day in since..until.

    ``metrics`` are the DailyMetrics asked for; one the answer leaves out (or ``{}`` for a location
    without data) is all zeros.  Impressions are written only when all four surfaces were asked.
    A date outside the asked range means the range was not understood: PayloadError.
    """
    if not isinstance(payload, dict):
        raise PayloadError("google_business: the answer is not an object", platform=PLATFORM)
    outer = payload.get("multiDailyMetricTimeSeries", [])
    if not isinstance(outer, list):
        raise PayloadError("google_business: multiDailyMetricTimeSeries is not a list", platform=PLATFORM)
    per_metric: dict[str, dict[date, int]] = {m: {} for m in metrics}
    for group in outer:
        series_list = group.get("dailyMetricTimeSeries", []) if isinstance(group, dict) else None
        if not isinstance(series_list, list):
            raise PayloadError("google_business: dailyMetricTimeSeries is not a list", platform=PLATFORM)
        for series in series_list:
            if not isinstance(series, dict) or not isinstance(series.get("dailyMetric"), str):
                raise PayloadError("google_business: a time series without dailyMetric", platform=PLATFORM)
            metric = series["dailyMetric"]
            time_series = series.get("timeSeries", {})
            values = time_series.get("datedValues", []) if isinstance(time_series, dict) else None
            if not isinstance(values, list):
                raise PayloadError(f"google_business: {metric} has no datedValues list", platform=PLATFORM)
            if metric not in per_metric:
                expect(metric, sorted(per_metric), field="dailyMetric", what="the time series", platform=PLATFORM)
            expect(series.get("dailySubEntityType") or None, None, field="dailySubEntityType",
                   what=f"the {metric} series", platform=PLATFORM)  # fmt: skip
            for item in values:
                if not isinstance(item, dict):
                    raise PayloadError(f"google_business: a {metric} datedValue is not an object", platform=PLATFORM)
                day = _date(item.get("date"))
                if not since <= day <= until:
                    raise PayloadError(
                        f"google_business: {metric} has a value for {day}, outside {since}..{until}: the "
                        "dailyRange was not understood",
                        platform=PLATFORM,
                    )
                per_metric[metric][day] = per_metric[metric].get(day, 0) + _value(item.get("value"), metric, day)

    rows: list[Observation] = []
    for day in each_day(since, until):
        if all(m in per_metric for m in IMPRESSIONS):
            total = sum(per_metric[m].get(day, 0) for m in IMPRESSIONS)
            rows.append(Observation(PLATFORM, account_id, "impressions", day, total, IMPRESSIONS_SOURCE, collected_at))
        for source, canonical in ACTIONS.items():
            if source in per_metric:
                value = per_metric[source].get(day, 0)
                rows.append(Observation(PLATFORM, account_id, canonical, day, value, source, collected_at))
    return rows


def range_params(metrics: tuple[str, ...], since: date, until: date, *, key: str = "dailyMetrics") -> dict[str, Any]:
    """Query parameters: ``dailyMetrics`` repeated (or ``key``), ``dailyRange`` as camelCase date parts."""
    return {
        key: list(metrics),
        "dailyRange.startDate.year": since.year,
        "dailyRange.startDate.month": since.month,
        "dailyRange.startDate.day": since.day,
        "dailyRange.endDate.year": until.year,
        "dailyRange.endDate.month": until.month,
        "dailyRange.endDate.day": until.day,
    }


# -- I/O ---------------------------------------------------------------------------------------


def _location(client: Client, ctx: CollectContext) -> tuple[str, str]:
    """Check the account, install the bearer; the location's base URL."""
    creds = ctx.credentials
    env = token_env(ctx)
    if ctx.account.competitor:
        raise BadRequest(
            "google_business: the Performance API only answers for listings you manage; a competitor's "
            "listing cannot be collected: remove competitor = true or the account",
            platform=PLATFORM,
            code="no_competitors",
        )
    if not (
        google_bearer(client, ctx, platform=PLATFORM, env_refresh=ENV_REFRESH)
        or use_credentials_file(client, ctx, platform=PLATFORM)
    ):
        raise AuthError(
            f"google_business: no credentials: set {env} to an OAuth access token (scope business.manage), "
            f"or {ENV_REFRESH} with SOCIALKPI_GOOGLE_BUSINESS_CLIENT_ID and SOCIALKPI_GOOGLE_BUSINESS_CLIENT_SECRET, "
            f"or {CREDENTIALS_ENV}",
            platform=PLATFORM,
        )
    location = ctx.account.id.removeprefix("locations/")
    if not location.isdigit():
        raise BadRequest(
            f"google_business: {ctx.account.id!r} is not a location id (digits, from the Business Information "
            "API's locations/{id})",
            platform=PLATFORM,
            code="bad_account_id",
        )
    return (creds.base_url or API_ROOT).rstrip("/"), location


def _fail(exc: AuthError | BadRequest, ctx: CollectContext) -> Exception:
    env = token_env(ctx)
    if isinstance(exc, AuthError):
        if exc.code in EXPLAINED:
            return exc
        creds = ctx.credentials
        advice = (
            f"the token from {CREDENTIALS_ENV} was refused: authorize again as {WHO[PLATFORM]}"
            if creds.google_credentials and not (creds.token or creds.refresh_token)
            else f"an OAuth access token lasts about an hour: set a fresh one in {env}, or set {ENV_REFRESH} with "
            "the client id and secret to refresh it automatically"
        )
        return exc.with_message(f"{exc.message}; {advice}")
    if exc.code == "not_found":
        return exc.with_message(
            f"{exc.message}: no location {ctx.account.id}; check the id in socialkpi.toml (the digits of "
            "locations/{id} from the Business Information API)"
        )
    return exc


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Daily impressions, website clicks, calls and direction requests for since..until."""
    out = Collected()
    root, location = _location(client, ctx)
    url = root + MULTI_ENDPOINT.format(location_id=location)
    metrics: tuple[str, ...] = (*IMPRESSIONS, *ACTIONS)
    try:
        for start, end in chunks(since, until, CHUNK_DAYS):
            metrics = _fetch(client, ctx, url, metrics, start, end, out)
    except (AuthError, BadRequest) as exc:
        raise _fail(exc, ctx) from None
    return out


def _fetch(
    client: Client,
    ctx: CollectContext,
    url: str,
    metrics: tuple[str, ...],
    start: date,
    end: date,
    out: Collected,
) -> tuple[str, ...]:
    """One chunk; on INVALID_ARGUMENT each metric alone, the refused ones skipped.  The metrics still served."""
    try:
        payload = client.get_json(url, params=range_params(metrics, start, end))
    except BadRequest as exc:
        if exc.code != "invalid_argument" or len(metrics) == 1:
            raise
        served = []
        for metric in metrics:
            try:
                client.get_json(url, params=range_params((metric,), start, end))
            except BadRequest as single:
                if single.code != "invalid_argument":
                    raise
                out.skipped.append((metric, f"refused by the Performance API: {single.message}"))
                continue
            served.append(metric)
        if any(m not in served for m in IMPRESSIONS):
            out.skipped.append((IMPRESSIONS_SOURCE, "impressions need all four surfaces; not written"))
            served = [m for m in served if m not in IMPRESSIONS]
        if not served:
            return ()
        metrics = tuple(served)
        payload = client.get_json(url, params=range_params(metrics, start, end))
    out.observations += parse_multi(
        payload, account_id=ctx.account.id, since=start, until=end, collected_at=ctx.collected_at, metrics=metrics
    )
    return metrics


def check(client: Client, ctx: CollectContext) -> str:
    """The cheapest call: one metric for one day (getDailyMetricsTimeSeries)."""
    root, location = _location(client, ctx)
    day = ctx.today - timedelta(days=2)
    params = range_params(("WEBSITE_CLICKS",), day, day, key="dailyMetric")
    try:
        payload = client.get_json(root + SINGLE_ENDPOINT.format(location_id=location), params=params)
    except (AuthError, BadRequest) as exc:
        raise _fail(exc, ctx) from None
    if not isinstance(payload, dict):
        raise PayloadError("google_business: getDailyMetricsTimeSeries answered no object", platform=PLATFORM)
    return f"token valid; location {location} answers the Performance API"
