"""Plausible Analytics: a website's page views, visits and visitors, and which social network sent them.

API: Stats API v2, ``POST /api/v2/query``
https://plausible.io/docs/stats-api

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_PLAUSIBLE_TOKEN     required: a Stats API key (Account settings > API Keys > "Stats API");
                                  keys do not expire.  Sent as ``Authorization: Bearer``.
    SOCIALKPI_PLAUSIBLE_BASE_URL  optional: a self-hosted server, e.g. ``https://stats.example.com``
                                  (replaces https://plausible.io; ``/api/v2/query`` is appended)

The account id is the site id: the domain as registered in Plausible (``cornerbakery.fr``).

Metrics (docs/metrics.md), dated by Plausible's ``time:day`` (the site's time zone):
    page_views ← pageviews, visits ← visits, visitors ← visitors (asked per day: a distinct count,
    never summed); from the breakdown by ``visit:source`` (Plausible's friendly source names:
    "Facebook", "Twitter", ... or the referrer host), mapped with collectors.referrers.network_for:
    social_visits and social_page_views ← visits and pageviews of the social sources,
    visits_from_<network> ← visits per network.
Days: a day of the range with no bucket (Plausible omits empty buckets) is 0 when it is over
(before the collection day); a day still running is written only when Plausible has a bucket for it.
Networks: visits_from_<network> is written for every network that sent at least one visit in the
asked range, with 0 on that range's other days; a network that sent nothing in the range has no row.
What the answer declares: the echoed ``query`` must carry the dimensions asked (``time:day``, a day) and a
``date_range`` that covers the days to be written (Plausible echoes it as date-times in the site's time
zone, "2025-10-01T00:00:00+02:00"); a range it did not answer is refused, never written as zeros.
Numbers: JSON numbers (collectors.values.Counts; a string is refused: Plausible does not send them).
Optional: the ``visit:source`` breakdown.  Refused as an invalid query (400: a dimension the server does
not serve), its metrics are skipped with the reason and the day's totals are still written
(collectors.optional).  The ``time:day`` totals query is required.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from collectors.common import each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, PayloadError, PermissionDenied, Verdict, header, parse_retry_after
from collectors.http import Client
from collectors.observation import Observation
from collectors.optional import optional
from collectors.paging import paginate_offset
from collectors.referrers import metric_for, network_for
from collectors.values import Counts, expect

PLATFORM = "plausible"
API_ROOT = "https://plausible.io"
QUERY_PATH = "/api/v2/query"
PAGE_LIMIT = 10_000  # Plausible's default and maximum page; ctx.options["page_limit"] overrides it
TOTALS = {"pageviews": "page_views", "visits": "visits", "visitors": "visitors"}
SOCIAL = {"visits": "social_visits", "pageviews": "social_page_views"}
TOTALS_QUERY = (["time:day"], list(TOTALS))
SOURCES_QUERY = (["time:day", "visit:source"], ["visits", "pageviews"])
HOURLY = re.compile(r"limited to (\d+) requests per hour", re.I)
COUNT = Counts(PLATFORM)  # JSON numbers (https://plausible.io/docs/stats-api)


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read Plausible's ``{"error": "<text>"}`` (https://plausible.io/docs/stats-api; the texts are those of
    https://github.com/plausible/analytics's ExternalStatsController)."""
    if status < 400:
        return None
    message = body.get("error") if isinstance(body, dict) else None
    text = str(message) if isinstance(message, str) else f"HTTP {status}"
    if status == 401:
        return Verdict(
            "auth",
            f"{text.rstrip('.')} (Plausible says this both for a wrong key and for a site the key cannot "
            "see: check SOCIALKPI_PLAUSIBLE_TOKEN and that the account id is the site's domain as shown in "
            "Plausible)",
            code="invalid_key_or_site",
        )
    if status == 429:
        wait = parse_retry_after(header(headers, "Retry-After"))
        hourly = HOURLY.search(text)
        if wait is None and hourly:  # the key's hourly budget is spent: no use retrying in seconds
            return Verdict(
                "throttled",
                f"{text} Try again within the hour, or ask Plausible for a higher limit",
                retry_after=3600.0,
                code="hourly_limit",
            )
        return Verdict("throttled", text, retry_after=wait, code="rate_limited")
    if status >= 500:
        return Verdict("server", text, parse_retry_after(header(headers, "Retry-After")))
    if status == 400:
        return Verdict("bad_request", text, code="invalid_query")
    return None


# -- parsers -----------------------------------------------------------------------------------


def parse_timeseries(
    payload: Any, *, account_id: str, since: date, until: date, today: date, collected_at: datetime
) -> list[Observation]:
    """A ``time:day`` query (metrics pageviews, visits, visitors) -> the day's totals.

    Days of since..until without a bucket are 0 once over (``day < today``).
    """
    metrics, rows = _results(payload, ["time:day"], since, until)
    missing = set(TOTALS) - set(metrics)
    if missing:
        raise PayloadError(f"{PLATFORM}: the answer lacks the metrics {sorted(missing)}", platform=PLATFORM)
    per_day: dict[date, dict[str, float]] = {}
    for dims, values in rows:
        day = _day(dims[0])
        per_day[day] = dict(zip(metrics, values, strict=True))
    out: list[Observation] = []
    for day in each_day(since, until):
        if day not in per_day and day >= today:
            continue
        for name, metric in TOTALS.items():
            value = per_day.get(day, {}).get(name, 0)
            out.append(Observation(PLATFORM, account_id, metric, day, value, name, collected_at))
    return out


def parse_sources(
    payload: Any, *, account_id: str, since: date, until: date, today: date, collected_at: datetime
) -> list[Observation]:
    """A ``[time:day, visit:source]`` query (metrics visits, pageviews) -> social sums and visits per network."""
    metrics, rows = _results(payload, ["time:day", "visit:source"], since, until)
    missing = set(SOCIAL) - set(metrics)
    if missing:
        raise PayloadError(f"{PLATFORM}: the answer lacks the metrics {sorted(missing)}", platform=PLATFORM)
    social: dict[date, dict[str, float]] = {}
    networks: dict[date, dict[str, float]] = {}
    seen_days: set[date] = set()
    for dims, values in rows:
        day = _day(dims[0])
        seen_days.add(day)
        if not since <= day <= until:
            continue
        network = network_for(dims[1])
        if network is None:
            continue
        numbers = dict(zip(metrics, values, strict=True))
        sums = social.setdefault(day, {})
        for name in SOCIAL:
            sums[name] = sums.get(name, 0) + numbers[name]
        per = networks.setdefault(day, {})
        per[network] = per.get(network, 0) + numbers["visits"]
    seen_networks = sorted({n for per in networks.values() for n in per})
    out: list[Observation] = []
    for day in each_day(since, until):
        if day not in seen_days and day >= today:
            continue
        for name, metric in SOCIAL.items():
            value = social.get(day, {}).get(name, 0)
            out.append(Observation(PLATFORM, account_id, metric, day, value, f"{name}[social sources]", collected_at))
        for network in seen_networks:
            value = networks.get(day, {}).get(network, 0)
            source = f"visits[{network} sources]"
            out.append(Observation(PLATFORM, account_id, metric_for(network), day, value, source, collected_at))
    return out


def _results(
    payload: Any, dimensions: list[str], since: date, until: date
) -> tuple[list[str], list[tuple[list[str], list[float]]]]:
    """The query's metric names and its ``(dimensions, metrics)`` rows, checked against the echoed query.

    The echoed ``date_range`` (when there) must cover since..until: days it leaves out would be zeros.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"{PLATFORM}: the answer is {type(payload).__name__}, not an object", platform=PLATFORM)
    query, results = payload.get("query"), payload.get("results")
    if not isinstance(query, dict) or not isinstance(results, list):
        raise PayloadError(f"{PLATFORM}: the answer has no query object or results list", platform=PLATFORM)
    metrics, dims = query.get("metrics"), query.get("dimensions", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics) or dims != dimensions:
        raise PayloadError(
            f"{PLATFORM}: unexpected query echo (metrics {metrics!r:.80}, dimensions {dims!r:.80})", platform=PLATFORM
        )
    _covers(query.get("date_range"), since, until)
    rows: list[tuple[list[str], list[float]]] = []
    for row in results:
        if not isinstance(row, dict):
            raise PayloadError(f"{PLATFORM}: a result is {type(row).__name__}, not an object", platform=PLATFORM)
        d, m = row.get("dimensions"), row.get("metrics")
        if not isinstance(d, list) or not isinstance(m, list) or len(d) != len(dims) or len(m) != len(metrics):
            raise PayloadError(f"{PLATFORM}: a result does not match the query: {row!r:.100}", platform=PLATFORM)
        if not all(isinstance(x, str) for x in d):
            raise PayloadError(f"{PLATFORM}: a dimension value is not a string: {d!r:.80}", platform=PLATFORM)
        values: list[float] = [COUNT(x, f"{name} on {d[0] if d else '?'}") for name, x in zip(metrics, m, strict=True)]
        rows.append((list(d), values))
    return list(metrics), rows


def _covers(echoed: Any, since: date, until: date) -> None:
    """The echoed ``date_range`` (``[start, end]``, dates or date-times) must cover since..until."""
    if echoed is None:
        return  # not declared
    asked = f"{since}..{until}"
    if not isinstance(echoed, list) or len(echoed) != 2 or not all(isinstance(x, str) for x in echoed):
        expect(repr(echoed), asked, field="date_range", what="query", platform=PLATFORM)
        return
    try:
        start, end = (date.fromisoformat(x[:10]) for x in echoed)
    except ValueError:
        start, end = until, since  # no dates: refused below
    if not (start <= since and until <= end):
        expect(f"{echoed[0]}..{echoed[1]}", asked, field="date_range", what="query", platform=PLATFORM)


def _day(text: str) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{PLATFORM}: time:day {text[:30]!r} is not YYYY-MM-DD", platform=PLATFORM) from None


# -- I/O ---------------------------------------------------------------------------------------


def _prepare(client: Client, ctx: CollectContext) -> str:
    """The auth header on the client; the query URL."""
    env = token_env(ctx)
    token = ctx.credentials.token
    if not token:
        raise AuthError(
            f"{PLATFORM}: no Stats API key; create one under Account settings > API Keys and set {env}",
            platform=PLATFORM,
        )
    client.use_token(token)
    root = (ctx.credentials.base_url or API_ROOT).rstrip("/")
    if urlsplit(root).path.rstrip("/").endswith("/api/v2/query"):  # a pasted full endpoint
        return root
    return root + QUERY_PATH


def _query(
    client: Client, url: str, site: str, dims: list[str], metrics: list[str], since: date, until: date, limit: int
) -> dict[str, Any]:
    """All pages of one query, merged into one answer (paging by ``meta.total_rows``)."""
    body: dict[str, Any] = {
        "site_id": site,
        "metrics": metrics,
        "date_range": [since.isoformat(), until.isoformat()],
        "dimensions": dims,
        "include": {"total_rows": True},
    }

    def fetch(offset: int, size: int) -> Any:
        # a query is a read: retrying the POST is safe
        return client.post_json(url, json_body={**body, "pagination": {"limit": size, "offset": offset}})

    pages = list(paginate_offset(fetch, total=_total_rows, limit=limit))
    return {**pages[0], "results": [row for page in pages for row in page.get("results", [])]}


def _total_rows(page: Any) -> int:
    meta = page.get("meta") if isinstance(page, dict) else None
    total = meta.get("total_rows") if isinstance(meta, dict) else None
    if total is None:
        raise PayloadError(f"{PLATFORM}: the answer has no meta.total_rows", platform=PLATFORM)
    return COUNT(total, "meta.total_rows")


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Daily totals and social visits for since..until (both included) of the site ``ctx.account.id``."""
    if ctx.account.competitor:
        raise PermissionDenied(f"{PLATFORM}: a competitor's website analytics are private", platform=PLATFORM)
    url = _prepare(client, ctx)
    site, limit = ctx.account.id, int(ctx.options.get("page_limit", PAGE_LIMIT))
    out = Collected()
    kw: dict[str, Any] = {
        "account_id": site,
        "since": since,
        "until": until,
        "today": ctx.today,
        "collected_at": ctx.collected_at,
    }
    out.observations += parse_timeseries(_query(client, url, site, *TOTALS_QUERY, since, until, limit), **kw)
    sources = optional(
        out,
        "query [time:day, visit:source]",
        metrics="social_visits, social_page_views and visits_from_<network>",
        permission=False,
        unsupported={"invalid_query"},
    )
    answer = sources.fetch(partial(_query, client, url, site, *SOURCES_QUERY, since, until, limit))
    if answer is not None:
        sources.keep(parse_sources(answer, **kw))
    out.observations += sources.rows()
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """One small aggregate query (visitors over 7 days): proves the key can read the site."""
    url = _prepare(client, ctx)
    query = {"site_id": ctx.account.id, "metrics": ["visitors"], "date_range": "7d"}
    payload = client.post_json(url, json_body=query)
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list):
        raise PayloadError(f"{PLATFORM}: the answer has no results list", platform=PLATFORM)
    first = results[0].get("metrics") if results and isinstance(results[0], dict) else None
    visitors = first[0] if isinstance(first, list) and first else 0
    where = urlsplit(url).netloc
    return f"Stats API key valid for {ctx.account.id} on {where} (keys do not expire): {visitors} visitors in 7 days"
