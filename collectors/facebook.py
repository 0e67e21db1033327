"""Facebook Pages: follower counts and Page Insights through Meta's Graph API.

Docs: https://developers.facebook.com/docs/graph-api/reference/page/insights/,
https://developers.facebook.com/docs/graph-api/guides/error-handling (error codes),
https://developers.facebook.com/docs/graph-api/overview/rate-limiting/ (limits) and
https://developers.facebook.com/documentation/pages-api/platforminsights/page/deprecated-metrics (the 2025-11-15
and 2026-06-15 removals).

Environment (read by the command line, passed in as ``ctx.credentials``):
    SOCIALKPI_FACEBOOK_TOKEN      required: a Page access token (from a long-lived user token via
                                  ``/me/accounts``: it does not expire); an account's ``token_env``
                                  names another variable for that account
    SOCIALKPI_FACEBOOK_BASE_URL   optional: replaces https://graph.facebook.com (the sandbox)

Metrics (docs/metrics.md): followers (Page field ``followers_count``, dated today in the business's
time zone; insights ``page_follows`` for past days), impressions, reach, engagements, profile_views,
followers_gained, followers_lost.  A competitor Page gives followers only (Page Public Metadata Access).
Daily values are dated by Meta's Pacific reporting day.

Numbers: JSON numbers, whole and not negative (collectors.values.Counts; a string is refused).
What the answer declares: each insights entry's ``period``; ``period=day`` is asked, and an entry of
another period (``week``, ``days_28``) is refused naming it, never stored as a day.
No optional endpoint: Page fields and insights are both the Page token's (pages_read_engagement,
read_insights); a refused insights metric is skipped alone (collectors.meta.ask_metrics).
Concurrency: after the Page fields, a chunk's metric groups are asked at once (:func:`_chunk`); Meta limits
calls, CPU time and total time per window ("the number of API calls an app or user can make within a given
time period", https://developers.facebook.com/docs/graph-api/overview/rate-limiting/), not requests in flight,
and the calls are the same.  The answers are taken in GROUPS' order: rows, skips and errors as one by one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

from collectors.common import chunks, each_day, token_env
from collectors.context import CollectContext, Collected
from collectors.errors import AuthError, PayloadError, Verdict, header, parse_retry_after
from collectors.http import Client
from collectors.meta import PACIFIC as PACIFIC  # re-exported: the reporting day's zone
from collectors.meta import USAGE_HEADERS, ask_metrics, read_error, regain_minutes
from collectors.meta import pacific_day as meta_pacific_day
from collectors.observation import Observation
from collectors.values import Counts, expect

PLATFORM = "facebook"
API_ROOT = "https://graph.facebook.com"
VERSION = "v26.0"
PAGE_ENDPOINT = "/{version}/{page_id}"
INSIGHTS_ENDPOINT = "/{version}/{page_id}/insights"
PAGE_FIELDS = "id,name,followers_count,fan_count"
CHUNK_DAYS = 90  # "only 90 days of insights can be viewed at one time" (93 enforced)

# Meta's metric -> canonical metric.  Only metrics still served after the 2026-06-15 wave.
METRICS: dict[str, str] = {
    "page_media_view": "impressions",
    "page_total_media_view_unique": "reach",
    "page_post_engagements": "engagements",
    "page_views_total": "profile_views",
    "page_daily_follows_unique": "followers_gained",
    "page_daily_unfollows_unique": "followers_lost",
    "page_follows": "followers",
}
# Small groups, so that one refused metric cannot sink the others (https://developers.facebook.com/docs/graph-api/reference/page/insights/).
GROUPS: tuple[tuple[str, ...], ...] = (
    ("page_media_view", "page_total_media_view_unique", "page_post_engagements"),
    ("page_views_total", "page_daily_follows_unique", "page_daily_unfollows_unique"),
    ("page_follows",),
)
# Counts: a day missing inside the asked range is a 0 (docs/metrics.md).  Reach (distinct) and
# followers (level) are never invented.
COUNTS = frozenset({"impressions", "engagements", "profile_views", "followers_gained", "followers_lost"})
# Removed for every API version (2023-11-01, 2024-03-14, 2025-11-15, 2026-06-15): never request.
REMOVED = frozenset(
    """
    page_impressions page_impressions_unique page_impressions_paid page_impressions_paid_unique
    page_impressions_organic page_impressions_organic_unique page_impressions_viral
    page_impressions_viral_unique page_impressions_nonviral page_impressions_nonviral_unique page_fans
    page_fans_locale page_fans_city page_fans_country page_fans_gender_age page_fan_adds
    page_fan_adds_unique page_fan_removes page_fan_removes_unique page_engaged_users page_consumptions
    page_consumptions_unique page_content_activity page_content_activity_unique page_posts_impressions
    page_posts_impressions_unique page_posts_impressions_paid page_posts_impressions_paid_unique
    page_posts_impressions_organic page_posts_impressions_organic_unique page_posts_impressions_viral
    page_posts_impressions_viral_unique page_posts_impressions_nonviral
    page_posts_impressions_nonviral_unique page_posts_served_impressions_organic_unique
    page_video_views_unique
    """.split()  # noqa: SIM905 (a word list reads better than 36 quoted lines)
)
AUTH_CODES = frozenset({102, 190, 2500})  # 2500: no token sent ("An active access token must be used")
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, 80001})
COUNT = Counts(PLATFORM)  # JSON numbers


# -- classification ----------------------------------------------------------------------------


def classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict | None:
    """Read Meta's error envelope; the HTTP status is not reliable (https://developers.facebook.com/docs/graph-api/guides/error-handling)."""
    err = read_error(status, body)
    if err is None:
        return None  # no envelope: judge by the HTTP status
    code, sub, message, detail = err.code, err.subcode, err.message, err.detail
    if code in AUTH_CODES:
        return Verdict("auth", f"{detail}; create a new Page access token", code="token_invalid")
    if code == 10 or (code is not None and 200 <= code <= 299):
        return Verdict("permission", f"{detail}; the token needs pages_read_engagement and read_insights")
    if code in THROTTLE_CODES:
        return Verdict("throttled", detail, retry_after=_throttle_wait(headers))
    if code == 368:  # blocked for policy: waiting minutes is no use, fail now with a reset time
        return Verdict("throttled", detail, retry_after=3600.0, code="blocked")
    if code == 100:
        if "valid insights metric" in message:
            return Verdict("bad_request", detail, code="invalid_metric")
        return Verdict("bad_request", detail, code="unknown_object" if sub == 33 else "invalid_parameter")
    if code == 1 and "days" in message and "between since and until" in message:
        return Verdict("bad_request", detail, code="range_too_long")  # code 1, but not transient
    if code in (1, 2) or err.raw.get("is_transient") is True:
        return Verdict("server", detail)
    return None


def _throttle_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from BUC ``estimated_time_to_regain_access`` (minutes), then Retry-After.

    X-App-Usage normally carries only percentages; an ``estimated_time_to_regain_access`` in it
    is honoured too.  The first header with a hint decides: 0 minutes means no hint, and the client
    backs off on its own schedule (Retry-After is not read then).
    """
    for name in USAGE_HEADERS:
        minutes = regain_minutes(headers, name)
        if minutes:
            return max(minutes) * 60.0 or None
    return parse_retry_after(header(headers, "Retry-After"))


# -- parsers -----------------------------------------------------------------------------------


def parse_page(payload: Any, *, account_id: str, day: date, collected_at: datetime) -> list[Observation]:
    """``GET /{page-id}?fields=...`` -> today's followers (a level only given as "now")."""
    if not isinstance(payload, dict):
        raise PayloadError("facebook: the Page answer is not an object", platform=PLATFORM)
    if "id" not in payload:  # every Page node answer carries its id: anything else is another shape
        raise PayloadError("facebook: the Page answer has no id (the response shape changed)", platform=PLATFORM)
    count = payload.get("followers_count")
    if count is None:
        return []  # the field is left out when the token may not read it
    value = COUNT(count, "followers_count")
    return [Observation(PLATFORM, account_id, "followers", day, value, "followers_count", collected_at)]


def parse_insights(
    payload: Any, *, account_id: str, since: date, until: date, collected_at: datetime
) -> list[Observation]:
    """``GET /{page-id}/insights?period=day`` -> one row per metric per Pacific day in since..until."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise PayloadError("facebook: the insights answer has no data list", platform=PLATFORM)
    rows: list[Observation] = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
            raise PayloadError("facebook: an insights entry has no values list", platform=PLATFORM)
        source = entry.get("name")
        if source not in METRICS:
            continue
        expect(entry.get("period"), "day", field="period", what=f"insights {source}", platform=PLATFORM)
        metric = METRICS[source]
        seen: set[date] = set()
        for item in entry["values"]:
            if not isinstance(item, dict) or not isinstance(item.get("end_time"), str):
                raise PayloadError(f"facebook: a {source} value has no end_time", platform=PLATFORM)
            day = pacific_day(item["end_time"])
            value = item.get("value")
            if not since <= day <= until or day in seen:
                continue
            if value is None:  # an omitted value: a 0 for a count, below
                continue
            seen.add(day)
            if isinstance(value, dict):  # a breakdown object, not a total: nothing to store
                continue
            count = COUNT(value, f"{source} on {day}")
            rows.append(Observation(PLATFORM, account_id, metric, day, count, source, collected_at))
        if metric in COUNTS:
            rows += [
                Observation(PLATFORM, account_id, metric, day, 0, source, collected_at)
                for day in each_day(since, until)
                if day not in seen
            ]
    return rows


def pacific_day(end_time: str) -> date:
    """The day a daily value describes: ``end_time`` read in Los Angeles, minus one day (collectors.meta)."""
    return meta_pacific_day(end_time, platform=PLATFORM)


# -- I/O ---------------------------------------------------------------------------------------


def collect(client: Client, ctx: CollectContext, *, since: date, until: date) -> Collected:
    """Today's followers, plus (own Pages) Page Insights for since..until, both days included."""
    creds, page_id = ctx.credentials, ctx.account.id
    env = token_env(ctx)
    if not creds.token:
        raise AuthError(f"facebook: no Page access token; set {env}", platform=PLATFORM)
    token = creds.token
    client.use_token(token)  # never access_token= in a URL
    root = (creds.base_url or API_ROOT).rstrip("/")
    out = Collected()
    try:
        page_url = root + PAGE_ENDPOINT.format(version=VERSION, page_id=page_id)
        page = client.get_json(page_url, params={"fields": PAGE_FIELDS})
        out.observations += parse_page(page, account_id=page_id, day=ctx.today, collected_at=ctx.collected_at)
        if not ctx.account.competitor:
            url = root + INSIGHTS_ENDPOINT.format(version=VERSION, page_id=page_id)
            refused: set[str] = set()
            for start, end in chunks(since, until, CHUNK_DAYS):
                _chunk(client, ctx, url, start, end, refused, out)
    except AuthError as exc:
        raise exc.with_message(
            f"{exc.message} (Graph API Explorer, then /me/accounts with a long-lived user token) and put it in {env}"
        ) from None
    # The snapshot owns today: a page_follows value on or after today would be a partial day.
    out.observations = [
        o for o in out.observations if not (o.source_metric == "page_follows" and o.observed_on >= ctx.today)
    ]
    return out


def check(client: Client, ctx: CollectContext) -> str:
    """``socialkpi doctor``: one Page-fields read (the cheapest call) proves the token reads the Page."""
    out = collect(client, ctx, since=ctx.today, until=ctx.today - timedelta(days=1))  # an empty range: fields only
    followers = next((o.value for o in out.observations if o.metric == "followers"), None)
    kind = "public fields (Page Public Metadata Access)" if ctx.account.competitor else "Page token"
    if followers is None:
        return f"{kind} ok, but followers_count is not visible to this token"
    return f"{kind} ok: {int(followers):,} followers"


def _chunk(
    client: Client, ctx: CollectContext, url: str, start: date, end: date, refused: set[str], out: Collected
) -> None:
    """The chunk's groups at once, each into a Collected of its own, then added in GROUPS' order (a group's
    error raised there): the groups' metrics are disjoint, so this is what asking one after the other gave."""

    def one(group: Sequence[str]) -> tuple[Collected, set[str]]:
        mine, seen = Collected(), set(refused)
        _insights(client, ctx, url, group, start, end, seen, mine)
        return mine, seen

    with ThreadPoolExecutor(len(GROUPS), thread_name_prefix="facebook-insights") as pool:
        answers = [pool.submit(one, group) for group in GROUPS]
    for answer in answers:
        mine, seen = answer.result()
        out.observations += mine.observations
        out.skipped += mine.skipped
        refused |= seen


def _insights(
    client: Client,
    ctx: CollectContext,
    url: str,
    group: Sequence[str],
    start: date,
    end: date,
    refused: set[str],
    out: Collected,
) -> None:
    """One group for one chunk; on an invalid-metric refusal, each metric alone; skip what stays refused."""

    # Graph's until is exclusive in days; the answer covers exactly this chunk, so paging.next
    # (the *following* time window, with the token embedded) is never followed: we chunk ourselves.
    def fetch(batch: list[str]) -> Any:
        params = {
            "metric": ",".join(batch),
            "period": "day",
            "since": start.isoformat(),
            "until": (end + timedelta(days=1)).isoformat(),
        }
        return client.get_json(url, params=params)

    metrics = [m for m in group if m not in REMOVED]
    for _, payload in ask_metrics(fetch, metrics, refused, out, api="Graph API"):
        out.observations += parse_insights(
            payload, account_id=ctx.account.id, since=start, until=end, collected_at=ctx.collected_at
        )
