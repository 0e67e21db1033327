"""Google Analytics 4: a website's page views, visits and visitors, the part that came from social, and
which social network sent the visits.

API: GA4 Data API v1beta ``properties.runReport``
https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/properties/runReport

Credentials, the first one set wins (collectors/google_auth.py):
    socialkpi connect ga4         (or ``connect google``) the token store's connection: the refresh token,
                                  the OAuth client and its token endpoint; the access token is renewed
                                  when it has ended and kept (0600) beside the warehouse
    SOCIALKPI_GA4_REFRESH_TOKEN   with SOCIALKPI_GA4_CLIENT_ID and _CLIENT_SECRET: an offline grant, renewed
                                  the same way
    SOCIALKPI_GA4_TOKEN           a static OAuth bearer (scope analytics.readonly; lasts about an hour)
    SOCIALKPI_GOOGLE_CREDENTIALS  path of a service-account or authorized-user JSON file as Google issues
                                  it; refreshed through its ``token_uri``.  A service account's e-mail
                                  must be a Viewer in GA4 Admin > Property access management.
A variable set in the environment or ``.env`` wins over the token store (socialkpi.credentials.credentials_for).
Optional:
    SOCIALKPI_GA4_BASE_URL        replaces https://analyticsdata.googleapis.com
    SOCIALKPI_GA4_TOKEN_URL       replaces the credential file's ``token_uri``

Metrics, dated by GA4's ``date`` (YYYYMMDD in the property's time zone), from three reports:
    [date]: page_views ← screenPageViews, visits ← sessions, visitors ← activeUsers;
    [date, sessionDefaultChannelGroup]: social_visits, social_page_views ← sessions, screenPageViews of
    the channel groups "Organic Social" and "Paid Social";
    [date, sessionSource, sessionMedium]: visits_from_<network> ← sessions of the rows that
    collectors.referrers.network_for(sessionSource, sessionMedium) maps to that network, summed.
A day in the range with no row is 0, except today or later in the property's time zone (not ready).
visits_from_<network> is written for every network with visits in the asked range, 0 on that range's
other days; a network that sent nothing in the range has no row.  The networks follow our referrer
list, not GA4's channel rules: youtube.com is GA4's "Organic Video", and a source GA4 counts as social
but we do not know is in social_visits only, so the networks need not add up to social_visits.

Numbers: GA4 sends every value as a string; a ``TYPE_INTEGER`` value is read as a count, any other type as
a decimal, with the shared reader (collectors.values.Counts: no exponent, NaN, infinity or negative).
What the answer declares: its dimension headers must be the dimensions asked (``date``, a day, and no
``dateRange`` dimension, which a second date range would add), and its dates inside the asked range.
Concurrency: a property's three reports are sent at once (:data:`REPORT_CONCURRENCY`); each report's pages
one after the other.  Their answers are then read in the order above, so the rows, what is skipped and the
error that fails the account (the first report's, in that order) are what asking one after the other gave.
Optional: the channel and source reports (the social breakdown).  Refused as INVALID_ARGUMENT (a dimension
the property or API no longer serves), their metrics are skipped with the reason and the day's totals are
still written (collectors.optional).  The ``[date]`` totals report is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from functools import partial
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectors.common import each_day
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, PayloadError, Verdict, parse_retry_after
from collectors.google_auth import (
    CREDENTIALS_ENV,
    SCOPES,
    google_bearer,
    seconds_until_pacific_midnight,
    use_credentials_file,
)
from collectors.http import Client
from collectors.observation import Observation
from collectors.optional import optional
from collectors.paging import paginate_offset
from collectors.redaction import register_secret
from collectors.referrers import metric_for, network_for
from collectors.values import Counts, expect

PLATFORM = "ga4"
API_ROOT = "https://analyticsdata.googleapis.com"
REPORT_PATH = "/v1beta/properties/{property_id}:runReport"
SCOPE = SCOPES[PLATFORM][0]  # analytics.readonly
PAGE_LIMIT = 10_000  # GA4's default page; ctx.options["page_limit"] overrides it
SOCIAL_CHANNELS = frozenset({"Organic Social", "Paid Social"})

# Three reports, not one.  activeUsers is a distinct count: someone who came once from Search and
# once from Instagram is one user of the day but appears in two channel rows, so summing the
# channel report would over-count visitors.  The day's totals come from a report by date alone;
# sessions and page views do add up over channels and sources, so the social ones come from the
# second report and the sessions per network from the third.
CHANNEL_DIMS = ("date", "sessionDefaultChannelGroup")
SOURCE_DIMS = ("date", "sessionSource", "sessionMedium")
TOTALS = {"screenPageViews": "page_views", "sessions": "visits", "activeUsers": "visitors"}
SOCIAL = {"sessions": "social_visits", "screenPageViews": "social_page_views"}
NETWORK = {"sessions": "visits_from_<network>"}
REPORTS: dict[tuple[str, ...], dict[str, str]] = {("date",): TOTALS, CHANNEL_DIMS: SOCIAL, SOURCE_DIMS: NETWORK}
BREAKDOWNS = {  # the optional reports: what is not collected when GA4 refuses them
    CHANNEL_DIMS: "social_visits and social_page_views",
    SOURCE_DIMS: "visits_from_<network>",
}
COUNT = Counts(PLATFORM, text=True)  # proto-JSON: values are strings, rowCount a number
# A property's reports in flight at once.  Google's PropertyQuota.concurrentRequests: "Standard Analytics
# Properties can send up to 10 concurrent requests; Analytics 360 Properties can use up to 50 concurrent
# requests." (https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/PropertyQuota).
# Three (one per report) stays under it with [collect] concurrency.ga4 properties at once, each its own quota;
# a "concurrent requests" 429 is still retried after 30 s (_quota_wait).
REPORT_CONCURRENCY = len(REPORTS)


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


def _quota_wait(message: str, now: datetime | None = None) -> tuple[float, str]:
    """Seconds until a GA4 quota returns (https://developers.google.com/analytics/devguides/reporting/data/v1/quotas,
    with the figures of Airbyte's source-google-analytics-data-api, api_quota.py)."""
    text = message.lower()
    if "concurrent" in text:
        return 30.0, "concurrent_quota"
    if "per day" in text or "daily" in text:
        # Google's daily quotas reset at midnight Pacific time [unverified for GA4]: far longer than
        # any policy's max_retry_after, so the http layer fails at once with the reset time.
        return max(60.0, seconds_until_pacific_midnight(now)), "daily_quota"
    if "hour" in text or "thresholded" in text:
        return 1800.0, "hourly_quota"
    return 60.0, "quota"


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    _authorize(client, ctx)
    base = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    url = base + REPORT_PATH.format(property_id=quote(ctx.account.id, safe=""))
    limit = int(ctx.options.get("page_limit", PAGE_LIMIT))
    out = Collected()
    # runReport is a read: retrying the POST is safe.  Every report is sent at once; each answer (or error) is
    # read below in REPORTS' order, as if they had been asked one after the other.
    with ThreadPoolExecutor(REPORT_CONCURRENCY, thread_name_prefix="ga4-report") as pool:
        answers = [pool.submit(_pages, client, url, _body(d, m, since, until), limit) for d, m in REPORTS.items()]
    for dimensions, answer in zip(REPORTS, answers, strict=True):
        report = None
        if dimensions in BREAKDOWNS:
            report = optional(
                out,
                f"runReport [{', '.join(dimensions)}]",
                metrics=BREAKDOWNS[dimensions],
                permission=False,
                unsupported={"invalid_argument"},
            )
        pages = answer.result() if report is None else report.fetch(answer.result)  # result() raises its error
        if pages is None:
            continue  # refused: noted in out.skipped
        merged = {**pages[0], "rows": [row for page in pages for row in _list(page, "rows")]}
        rows = parse_report(
            merged,
            account_id=ctx.account.id,
            since=since,
            until=until,
            collected_at=ctx.collected_at,
            dimensions=dimensions,
            date_range=(since, until),
        )
        if report is None:
            out.observations += rows
        else:
            report.keep(rows)
            out.observations += report.rows()
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """``socialkpi doctor``: a one-row runReport for yesterday (a few quota tokens)."""
    _authorize(client, ctx)
    base = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    url = base + REPORT_PATH.format(property_id=quote(ctx.account.id, safe=""))
    body = {
        "dateRanges": [{"startDate": "yesterday", "endDate": "yesterday"}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": "sessions"}],
        "limit": 1,
    }
    page = client.post_json(url, json_body=body)
    zone = page.get("metadata", {}).get("timeZone", "?") if isinstance(page, dict) else "?"
    return f"property {ctx.account.id} readable (reporting time zone {zone})"


ENV_REFRESH = "SOCIALKPI_GA4_REFRESH_TOKEN"


def _authorize(client: Client, ctx: CollectContext) -> None:
    """The connection of ``socialkpi connect`` or a refresh token (renewed as needed), else a static
    SOCIALKPI_GA4_TOKEN, else SOCIALKPI_GOOGLE_CREDENTIALS (refreshed as needed)."""
    creds = ctx.credentials
    # where a refused refresh token is replaced: a connection's by connecting again
    hint = "socialkpi's token store: run `socialkpi connect ga4` again" if creds.source == "store" else ENV_REFRESH
    if (creds.source == "store" or creds.refresh_token) and google_bearer(
        client, ctx, platform=PLATFORM, env_refresh=hint
    ):
        return
    token = creds.token
    if token:
        register_secret(token)
        client.auth_headers, client.refresh = (lambda: {"Authorization": f"Bearer {token}"}), None
    elif not use_credentials_file(client, ctx, platform=PLATFORM):
        raise AuthError(
            f"{PLATFORM}: no credentials: set SOCIALKPI_GA4_TOKEN or {CREDENTIALS_ENV} "
            "(the path of a service-account or authorized-user JSON file)",
            platform=PLATFORM,
        )


def _body(dimensions: tuple[str, ...], mapping: dict[str, str], since: date, until: date) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": since.isoformat(), "endDate": until.isoformat()}],
        "dimensions": [{"name": d} for d in dimensions],
        "metrics": [{"name": m} for m in mapping],
        "orderBys": [{"dimension": {"dimensionName": "date"}}],
        "keepEmptyRows": False,
    }


def _pages(client: Client, url: str, body: dict[str, Any], limit: int) -> list[Any]:
    return list(paginate_offset(partial(_fetch, client, url, body), total=_row_count, limit=limit))


def _fetch(client: Client, url: str, body: dict[str, Any], offset: int, limit: int) -> Any:
    return client.post_json(url, json_body={**body, "offset": offset, "limit": limit})


def _row_count(page: Any) -> int:
    if not isinstance(page, dict):
        raise PayloadError(f"{PLATFORM}: runReport answered {type(page).__name__}, not an object")
    return COUNT(page.get("rowCount", 0), "rowCount")  # left out when 0 (proto-JSON)


def parse_report(
    payload: Any,
    *,
    account_id: str,
    since: date,
    until: date,
    collected_at: datetime,
    dimensions: tuple[str, ...] | None = None,
    date_range: tuple[date, date] | None = None,
) -> list[Observation]:
    """Observations from one ``RunReportResponse`` (all pages' rows in ``rows``).

    The report is recognised by its dimension headers (:data:`REPORTS`): ``[date]`` gives the day's
    totals, ``[date, sessionDefaultChannelGroup]`` the social sums, ``[date, sessionSource,
    sessionMedium]`` the sessions per network (networks with visits in since..until only).  Days from
    ``since`` to ``until`` without a row are 0, except days not over yet in the property's time zone.

    ``dimensions`` and ``date_range`` are what the request asked (collect passes them): the dimension
    headers must be those, and no row may be dated outside the range (None: a saved answer, not checked).
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"{PLATFORM}: runReport answered {type(payload).__name__}, not an object")
    dims = tuple(_name(h) for h in _list(payload, "dimensionHeaders"))
    if dimensions is not None:
        expect(list(dims), list(dimensions), field="dimensionHeaders", what="runReport", platform=PLATFORM)
    if dims not in REPORTS:
        raise PayloadError(f"{PLATFORM}: unexpected report dimensions {list(dims)}")
    mapping = REPORTS[dims]
    headers = [(_name(h), str(h.get("type", "TYPE_INTEGER"))) for h in _list(payload, "metricHeaders")]
    missing = set(mapping) - {name for name, _ in headers}
    if missing:
        raise PayloadError(f"{PLATFORM}: the report lacks the metrics {sorted(missing)}")

    sums: dict[date, dict[str, float]] = {}  # day -> canonical metric -> value
    for row in _list(payload, "rows"):
        if not isinstance(row, dict):
            raise PayloadError(f"{PLATFORM}: a report row is {type(row).__name__}, not an object")
        dvals = [_value(v) for v in _list(row, "dimensionValues")]
        mvals = [_value(v) for v in _list(row, "metricValues")]
        if len(dvals) != len(dims) or len(mvals) != len(headers):
            raise PayloadError(f"{PLATFORM}: a row's values do not match the headers")
        day = _day(dvals[0])
        if date_range is not None and not date_range[0] <= day <= date_range[1]:
            expect(
                day.isoformat(), f"{date_range[0]}..{date_range[1]}", field="date", what="runReport", platform=PLATFORM
            )
        per_day = sums.setdefault(day, {})  # days outside since..until are never read
        targets = _targets(dims, dvals)
        for (name, kind), raw in zip(headers, mvals, strict=True):
            if name in targets:
                per_day[targets[name]] = per_day.get(targets[name], 0) + _cast(raw, kind, name)

    if dims == SOURCE_DIMS:
        seen = sorted({m for d, per in sums.items() if since <= d <= until for m, v in per.items() if v})
        outputs = [(m, f"sessions[{m.removeprefix('visits_from_')} sources]") for m in seen]
    else:
        suffix = "[Organic Social+Paid Social]" if dims == CHANNEL_DIMS else ""
        outputs = [(metric, name + suffix) for name, metric in mapping.items()]
    today = collected_at.astimezone(_zone(payload.get("metadata"))).date()
    rows: list[Observation] = []
    for day in each_day(since, until):
        if day in sums or day < today:  # today's numbers are still being processed
            for metric, source in outputs:
                value = sums.get(day, {}).get(metric, 0)
                rows.append(Observation(PLATFORM, account_id, metric, day, value, source, collected_at))
    return rows


def _targets(dims: tuple[str, ...], dvals: list[str]) -> dict[str, str]:
    """Which canonical metric each GA4 metric of this row adds to (empty: the row is not counted)."""
    if dims == CHANNEL_DIMS:
        return SOCIAL if dvals[1] in SOCIAL_CHANNELS else {}
    if dims == SOURCE_DIMS:
        network = network_for(dvals[1], dvals[2])
        return {"sessions": metric_for(network)} if network else {}
    return TOTALS


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


def _cast(raw: str, kind: str, name: str) -> float:
    """A metric value by its declared type: TYPE_INTEGER a count, any other type a decimal (collectors.values)."""
    return COUNT(raw, f"{name} ({kind})", whole=kind == "TYPE_INTEGER")


def _zone(metadata: Any) -> ZoneInfo:
    name = metadata.get("timeZone") if isinstance(metadata, dict) else None
    try:
        return ZoneInfo(str(name)) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
