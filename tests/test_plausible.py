"""Plausible: parsers on doc-shaped payloads, the classifier, and collect()/check() against the sandbox."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from collectors import plausible
from collectors.errors import AuthError, BadRequest, PayloadError, RateLimited, ServerError
from collectors.http import Client
from collectors.observation import Observation
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import plausible as sb
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import COLLECTED_AT, FAST, by_key, days, fixture, make_client, make_ctx

SITE = "cornerbakery.fr"
QUERY = r"^/api/v2/query$"
OCT1, OCT2, OCT3 = date(2025, 10, 1), date(2025, 10, 2), date(2025, 10, 3)
TODAY = date(2026, 3, 10)  # COLLECTED_AT in Europe/Paris
# Feb 15 2026 is the Sunday of ISO week 7; Feb 16-17 are in week 8, when the sandbox's TikTok video runs.
FEB15, FEB17 = date(2026, 2, 15), date(2026, 2, 17)

# Plausible's source names as the sandbox serves them -> the network docs/metrics.md stores them under
# (written out by hand: the collector's mapping is collectors.referrers, this is the check on it).
NETWORK_OF = {
    "Facebook": "facebook",
    "Instagram": "instagram",
    "Twitter": "x",
    "LinkedIn": "linkedin",
    "Pinterest": "pinterest",
    "Reddit": "other",
    "Bluesky": "bluesky",
    "mastodon.social": "mastodon",
    "TikTok": "tiktok",
}


def obs(metric: str, day: date, value: float, source: str) -> Observation:
    return Observation("plausible", SITE, metric, day, value, source, COLLECTED_AT)


PARSE = {"account_id": SITE, "since": OCT1, "until": OCT3, "today": TODAY, "collected_at": COLLECTED_AT}


# -- parsers -----------------------------------------------------------------------------------
# Shape: https://plausible.io/docs/stats-api "v2 (current): POST /api/v2/query" (positional dimensions and
# metrics in the query's order, JSON numbers, empty time buckets omitted, meta.time_labels/total_rows,
# the query echoed back).


def test_parse_timeseries_maps_by_the_echoed_metric_order_and_fills_the_empty_bucket() -> None:
    rows = plausible.parse_timeseries(fixture("plausible", "query_timeseries.json"), **PARSE)
    assert sorted(rows, key=lambda o: (o.observed_on, o.metric)) == [
        obs("page_views", OCT1, 71, "pageviews"),
        obs("visitors", OCT1, 40, "visitors"),
        obs("visits", OCT1, 46, "visits"),
        obs("page_views", OCT2, 0, "pageviews"),  # Plausible omits empty buckets: a 0, not a gap
        obs("visitors", OCT2, 0, "visitors"),
        obs("visits", OCT2, 0, "visits"),
        obs("page_views", OCT3, 98, "pageviews"),
        obs("visitors", OCT3, 52, "visitors"),
        obs("visits", OCT3, 61, "visits"),
    ]


def test_parse_timeseries_leaves_a_running_day_without_bucket_out() -> None:
    payload = fixture("plausible", "query_timeseries.json")
    rows = plausible.parse_timeseries(payload, **{**PARSE, "today": OCT2})
    assert sorted({o.observed_on for o in rows}) == [OCT1, OCT3]  # Oct 3 has a bucket: kept


def test_parse_sources_sums_social_sources_and_counts_visits_per_network() -> None:
    rows = plausible.parse_sources(fixture("plausible", "query_sources.json"), **PARSE)
    assert by_key(rows) == {
        ("social_visits", OCT1): 36 + 12 + 3 + 2,  # Facebook, Instagram, Twitter, old.reddit.com
        ("social_page_views", OCT1): 58 + 19 + 4 + 2,
        ("social_visits", OCT2): 0,
        ("social_page_views", OCT2): 0,
        ("social_visits", OCT3): 14 + 1,  # Facebook, lnkd.in; news.ycombinator.com is not social
        ("social_page_views", OCT3): 21 + 3,
        ("visits_from_facebook", OCT1): 36,
        ("visits_from_facebook", OCT2): 0,
        ("visits_from_facebook", OCT3): 14,
        ("visits_from_instagram", OCT1): 12,
        ("visits_from_instagram", OCT2): 0,
        ("visits_from_instagram", OCT3): 0,
        ("visits_from_x", OCT1): 3,
        ("visits_from_x", OCT2): 0,
        ("visits_from_x", OCT3): 0,
        ("visits_from_other", OCT1): 2,
        ("visits_from_other", OCT2): 0,
        ("visits_from_other", OCT3): 0,
        ("visits_from_linkedin", OCT1): 0,
        ("visits_from_linkedin", OCT2): 0,
        ("visits_from_linkedin", OCT3): 1,
    }
    sources = {o.metric: o.source_metric for o in rows}
    assert sources["social_visits"] == "visits[social sources]"
    assert sources["visits_from_x"] == "visits[x sources]"


def test_parse_sources_reads_the_documented_example_with_extra_metrics() -> None:
    payload = fixture(
        "plausible", "query_doc_example.json"
    )  # verbatim https://plausible.io/docs/stats-api response: metrics [visitors, visits, pageviews]
    rows = by_key(plausible.parse_sources(payload, **{**PARSE, "until": OCT1}))
    assert rows == {
        ("social_visits", OCT1): 36 + 12,
        ("social_page_views", OCT1): 58 + 19,
        ("visits_from_facebook", OCT1): 36,
        ("visits_from_instagram", OCT1): 12,
    }


@pytest.mark.parametrize("name", ["query_timeseries.json", "query_sources.json"])
def test_parsers_do_not_mutate_their_input(name: str) -> None:
    payload = fixture("plausible", name)
    before = copy.deepcopy(payload)
    parse = plausible.parse_timeseries if "timeseries" in name else plausible.parse_sources
    parse(payload, **PARSE)
    assert payload == before


def _broken(change: str) -> Any:
    payload = fixture("plausible", "query_timeseries.json")
    if change == "not-object":
        return []
    if change == "no-results":
        del payload["results"]
    elif change == "no-query":
        del payload["query"]
    elif change == "other-dimensions":
        payload["query"]["dimensions"] = ["visit:source"]
    elif change == "string-number":
        payload["results"][0]["metrics"][1] = "46"
    elif change == "short-row":
        payload["results"][0]["metrics"] = [40, 46]
    elif change == "bad-day":
        payload["results"][0]["dimensions"] = ["20251001"]
    elif change == "no-pageviews":
        payload["query"]["metrics"] = ["visitors", "visits", "bounce_rate"]
    elif change == "row-not-object":
        payload["results"][0] = ["2025-10-01", 40]
    return payload


@pytest.mark.parametrize(
    "change",
    [
        "not-object",
        "no-results",
        "no-query",
        "other-dimensions",
        "string-number",
        "short-row",
        "bad-day",
        "no-pageviews",
        "row-not-object",
    ],
)
def test_parse_timeseries_rejects_a_wrong_shape(change: str) -> None:
    with pytest.raises(PayloadError):
        plausible.parse_timeseries(_broken(change), **PARSE)


# -- classifier --------------------------------------------------------------------------------
# Shape: https://plausible.io/docs/stats-api "Limits and errors".
HOURLY = "Too many API requests. Your API key is limited to 600 requests per hour."


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "retry_after", "says"),
    [
        (
            401,
            {},
            {"error": "Missing API key. Please use a valid Plausible API key as a Bearer Token."},
            "auth",
            None,
            "SOCIALKPI_PLAUSIBLE_TOKEN",
        ),
        (
            401,
            {},
            {
                "error": "Invalid API key or site ID. Please make sure you're using a valid API key with access "
                "to the site you've requested."
            },
            "auth",
            None,
            "site's domain",
        ),
        (429, {}, {"error": HOURLY}, "throttled", 3600.0, "within the hour"),
        (429, {"Retry-After": "7"}, {"error": HOURLY}, "throttled", 7.0, "600 requests per hour"),
        (429, {}, {"error": "Too many API requests in a short period of time."}, "throttled", None, "short period"),
        (
            400,
            {},
            {"error": "Missing site ID. Please provide the required site_id parameter with your request."},
            "bad_request",
            None,
            "site_id",
        ),
        (500, {}, {"error": "Internal server error"}, "server", None, "Internal"),
        (502, {}, "<html>Bad gateway</html>", "server", None, "HTTP 502"),
    ],
)
def test_classify_reads_plausibles_error_text(
    status: int, headers: dict[str, str], body: Any, kind: str, retry_after: float | None, says: str
) -> None:
    verdict = plausible.classify(status, headers, body)
    assert verdict is not None
    assert (verdict.kind, verdict.retry_after) == (kind, retry_after)
    assert says in verdict.message


def test_classify_leaves_successes_to_the_http_layer() -> None:
    assert plausible.classify(200, {}, {"results": []}) is None


# -- collect() against the sandbox -------------------------------------------------------------
def expected(site: str, since: date, until: date) -> dict[tuple[str, date], float]:
    """What the sandbox serves, from its world functions, with the hand-written network table."""
    out: dict[tuple[str, date], float] = {}
    per_network: dict[tuple[str, date], int] = {}
    for day in days(since, until):
        out[("page_views", day)] = sb.pageviews_for(site, day)
        out[("visits", day)] = sb.visits_for(site, day)
        out[("visitors", day)] = sb.visitors_for(site, day)
        sources = sb.sources_for(site, day)
        social = {s: v for s, v in sources.items() if s in NETWORK_OF}
        out[("social_visits", day)] = sum(v["visits"] for v in social.values())
        out[("social_page_views", day)] = sum(v["pageviews"] for v in social.values())
        for source, values in social.items():
            key = (f"visits_from_{NETWORK_OF[source]}", day)
            per_network[key] = per_network.get(key, 0) + values["visits"]
    seen = {metric for (metric, _), v in per_network.items() if v}
    out.update({(m, d): per_network.get((m, d), 0) for m in seen for d in days(since, until)})
    return out


def run(sandbox: Sandbox, since: date, until: date, client: Client | None = None, **kw: Any) -> list[Observation]:
    client = client or make_client("plausible", plausible.classify)
    options = kw.pop("options", {})
    ctx = replace(make_ctx("plausible", kw.pop("site", SITE), kw.pop("base_url", sandbox.url), **kw), options=options)
    with client:
        return plausible.collect(client, ctx, since=since, until=until).observations


def sent(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in sandbox.requests_to(QUERY)]


def test_collect_writes_exactly_the_rows_metrics_md_gives(sandbox: Sandbox) -> None:
    rows = run(sandbox, FEB15, FEB17)
    got = by_key(rows)
    want = expected(SITE, FEB15, FEB17)
    assert got == want
    # hand checks that the world is plausible and the mapping did its job
    assert got[("visits_from_tiktok", FEB15)] == 0 < got[("visits_from_tiktok", FEB17)]
    assert {m for m, _ in got if m.startswith("visits_from_")} == {
        "visits_from_" + n
        for n in ("facebook", "instagram", "x", "linkedin", "pinterest", "other", "bluesky", "mastodon", "tiktok")
    }
    for day in days(FEB15, FEB17):
        assert 0 < got[("visitors", day)] <= got[("visits", day)] < got[("page_views", day)]
        assert 0 < got[("social_visits", day)] < got[("visits", day)]
        networks = sum(v for (m, d), v in got.items() if m.startswith("visits_from_") and d == day)
        assert networks == got[("social_visits", day)]
    queries = sent(sandbox)
    assert [(q["dimensions"], q["metrics"]) for q in queries] == [
        (["time:day"], ["pageviews", "visits", "visitors"]),
        (["time:day", "visit:source"], ["visits", "pageviews"]),
    ]
    assert all(q["site_id"] == SITE and q["date_range"] == ["2026-02-15", "2026-02-17"] for q in queries)
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in sandbox.requests_to(QUERY))
    assert all(TOKEN not in r.body.decode() and not r.query for r in sandbox.requests_to(QUERY))


def test_paging_by_total_rows_gives_the_same_rows(sandbox: Sandbox) -> None:
    whole = sorted(run(sandbox, FEB15, FEB17), key=Observation.key)
    sandbox.clear()
    paged = sorted(run(sandbox, FEB15, FEB17, options={"page_limit": "10"}), key=Observation.key)
    assert paged == whole
    source_rows = sum(1 for d in days(FEB15, FEB17) for v in sb.sources_for(SITE, d).values() if any(v.values()))
    offsets = [q["pagination"]["offset"] for q in sent(sandbox) if len(q["dimensions"]) == 2]
    assert offsets == list(range(0, source_rows, 10)) and len(offsets) > 1


def test_days_before_the_site_existed_are_zero(sandbox: Sandbox) -> None:
    start = sb.SITE_START
    got = by_key(run(sandbox, start - timedelta(days=2), start))
    assert [got[("visits", d)] for d in days(start - timedelta(days=2), start)] == [0, 0, sb.visits_for(SITE, start)]
    assert got[("social_visits", start - timedelta(days=1))] == 0


def test_today_without_data_is_not_written_as_zero(sandbox: Sandbox) -> None:
    today = datetime.now(UTC).date()  # the sandbox has data up to yesterday (UTC)
    ctx_now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    rows = run(sandbox, today - timedelta(days=1), today, collected_at=ctx_now, tz="UTC")
    assert {o.observed_on for o in rows} == {today - timedelta(days=1)}


def test_a_self_hosted_server_under_a_path_prefix(sandbox: Sandbox) -> None:
    rows = run(sandbox, FEB15, FEB15, base_url=f"{sandbox.url}/api/v2/query")  # a pasted full endpoint
    assert by_key(rows)[("visits", FEB15)] == sb.visits_for(SITE, FEB15)


# -- errors ------------------------------------------------------------------------------------
def test_a_site_the_key_cannot_see_says_to_check_the_site_id(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError, match="the account id is the site's domain"):
        run(sandbox, FEB15, FEB17, site=next(iter(sb.FOREIGN_SITES)))


def test_a_short_throttle_with_retry_after_is_waited_out(sandbox: Sandbox) -> None:
    slept: list[float] = []
    client = Client(
        "plausible", policy=replace(FAST, max_retry_after=5), classify=plausible.classify, sleep=slept.append
    )
    sandbox.script(QUERY, Reply(429, {"error": HOURLY}, {"Retry-After": "2"}))
    assert by_key(run(sandbox, FEB15, FEB17, client=client)) == expected(SITE, FEB15, FEB17)
    assert slept == [2.0] and len(sandbox.requests_to(QUERY)) == 3


def test_the_sandbox_throttles_a_key_after_its_hourly_budget(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb, "HOURLY_LIMIT", 1)
    with pytest.raises(RateLimited, match="limited to 600 requests per hour"):  # Plausible's own text
        run(sandbox, FEB15, FEB17)
    assert len(sandbox.requests_to(QUERY)) == 2


@pytest.mark.parametrize(
    ("replies", "error", "says"),
    [
        ([Reply(500, {"error": "Internal server error"})], None, None),
        # a dropped connection, a lasting 5xx, truncated JSON: tests/test_platforms.py (every platform)
        ([Reply(200, {"results": [], "meta": {}})], PayloadError, "total_rows"),
    ],
    ids=["500-retried", "no-total-rows"],
)
def test_server_faults(sandbox: Sandbox, replies: list[Reply], error: type[Exception] | None, says: str | None) -> None:
    sandbox.script(QUERY, *replies)
    if error is None:
        assert by_key(run(sandbox, FEB15, FEB17)) == expected(SITE, FEB15, FEB17)
        return
    with pytest.raises(error) as caught:
        run(sandbox, FEB15, FEB17)
    assert says is not None and says in str(caught.value) and TOKEN not in str(caught.value)


# -- check() -----------------------------------------------------------------------------------
def test_check_proves_the_key_reads_the_site(sandbox: Sandbox) -> None:
    with make_client("plausible", plausible.classify) as client:
        detail = plausible.check(client, make_ctx("plausible", SITE, sandbox.url))
    assert detail.startswith(f"Stats API key valid for {SITE} on 127.0.0.1:")
    assert "do not expire" in detail and "visitors in 7 days" in detail
    [query] = sent(sandbox)
    assert query["date_range"] == "7d" and query["metrics"] == ["visitors"]


def test_check_with_a_bad_key_raises_auth_error(sandbox: Sandbox) -> None:
    with make_client("plausible", plausible.classify) as client, pytest.raises(AuthError) as caught:
        plausible.check(client, make_ctx("plausible", SITE, sandbox.url, token=EXPIRED_TOKEN))
    assert EXPIRED_TOKEN not in str(caught.value)


# -- the sandbox itself --------------------------------------------------------------------------
def post(sandbox: Sandbox, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
    auth = {"Authorization": f"Bearer {TOKEN}"} if headers is None else headers
    resp = requests.post(f"{sandbox.url}/api/v2/query", json=body, headers=auth, timeout=5)
    return resp.status_code, resp.json()


def test_sandbox_sources_add_up_to_the_daily_totals(sandbox: Sandbox) -> None:
    since, until = date(2025, 12, 1), date(2026, 2, 28)
    rng = [since.isoformat(), until.isoformat()]
    _, totals = post(
        sandbox, {"site_id": SITE, "metrics": ["visits", "pageviews"], "date_range": rng, "dimensions": ["time:day"]}
    )
    _, split = post(
        sandbox,
        {
            "site_id": SITE,
            "metrics": ["visits", "pageviews"],
            "date_range": rng,
            "dimensions": ["time:day", "visit:source"],
        },
    )
    sums: dict[str, list[int]] = {}
    for row in split["results"]:
        acc = sums.setdefault(row["dimensions"][0], [0, 0])
        acc[0] += row["metrics"][0]
        acc[1] += row["metrics"][1]
        assert any(row["metrics"]), "breakdown rows with nothing are left out"
    assert {r["dimensions"][0]: r["metrics"] for r in totals["results"]} == sums
    assert len(sums) == (until - since).days + 1
    assert split["query"]["date_range"] == ["2025-12-01T00:00:00+01:00", "2026-02-28T23:59:59+01:00"]


def test_sandbox_answers_up_to_yesterday_with_time_labels(sandbox: Sandbox) -> None:
    today = datetime.now(UTC).date()
    rng = [(today - timedelta(days=3)).isoformat(), (today + timedelta(days=1)).isoformat()]
    body = {
        "site_id": SITE,
        "metrics": ["visitors"],
        "date_range": rng,
        "dimensions": ["time:day"],
        "include": {"time_labels": True, "total_rows": True},
    }
    status, reply = post(sandbox, body)
    assert status == 200 and reply["results"][-1]["dimensions"] == [(today - timedelta(days=1)).isoformat()]
    assert len(reply["meta"]["time_labels"]) == 5 and reply["meta"]["total_rows"] == 3


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        ({"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"}, {}, 401, "Missing API key"),
        (
            {"site_id": SITE, "metrics": ["visitors"], "date_range": "7d"},
            {"Authorization": f"Bearer {EXPIRED_TOKEN}"},
            401,
            "Invalid API key or site ID",
        ),
        ({"metrics": ["visitors"], "date_range": "7d"}, None, 400, "Missing site ID"),
        ({"site_id": SITE, "metrics": ["sessions"], "date_range": "7d"}, None, 400, "Invalid metric"),
        (
            {"site_id": SITE, "metrics": ["visitors"], "date_range": "7d", "dimensions": ["event:page"]},
            None,
            400,
            "Invalid dimension",
        ),
    ],
)
def test_sandbox_errors_are_plausibles(
    sandbox: Sandbox, body: dict[str, Any], headers: dict[str, str] | None, status: int, says: str
) -> None:
    got_status, reply = post(sandbox, body, headers)
    assert got_status == status and says in reply["error"] and set(reply) == {"error"}


# -- issue 11: numbers, what an answer says it is, the optional breakdown -----------------------------
# Shape: https://plausible.io/docs/stats-api, the v2 response: "query": {... "date_range": ["2025-10-01T00:00:00+02:00",
# "2025-10-31T23:59:59+01:00"], "dimensions": ["time:day", "visit:source"] ...}, and "Numbers are JSON numbers".
@pytest.mark.parametrize("value", ["46", 46.5, -1, True, float("nan"), None])
def test_a_metric_that_is_no_count_is_refused(value: Any) -> None:
    payload = fixture("plausible", "query_timeseries.json")
    payload["results"][0]["metrics"][1] = value
    with pytest.raises(PayloadError, match="visits on 2025-10-01 is .*not a count"):
        plausible.parse_timeseries(payload, **PARSE)


def test_a_whole_float_is_the_count() -> None:
    payload = fixture("plausible", "query_timeseries.json")
    payload["results"][0]["metrics"][1] = 46.0
    got = by_key(plausible.parse_timeseries(payload, **PARSE))[("visits", OCT1)]
    assert got == 46 and type(got) is int


@pytest.mark.parametrize(
    "echoed",
    [
        ["2025-10-02T00:00:00+02:00", "2025-10-03T23:59:59+02:00"],  # starts a day late
        ["2025-10-01T00:00:00+02:00", "2025-10-02T23:59:59+02:00"],  # ends a day early
        ["2025-09-01", "2025-09-30"],  # another month
        "30d",
    ],
)
def test_an_echoed_date_range_that_does_not_cover_the_days_is_refused(echoed: Any) -> None:
    payload = fixture("plausible", "query_timeseries.json")
    payload["query"]["date_range"] = echoed
    with pytest.raises(PayloadError, match=r"query answered date_range .*, but date_range '2025-10-01..2025-10-03'"):
        plausible.parse_timeseries(payload, **PARSE)


@pytest.mark.parametrize("echoed", [["2025-10-01", "2025-10-03"], ["2025-09-30T00:00:00Z", "2025-10-31T23:59:59Z"]])
def test_an_echoed_date_range_that_covers_the_days_is_read(echoed: list[str]) -> None:
    payload = fixture("plausible", "query_timeseries.json")
    payload["query"]["date_range"] = echoed
    assert len(plausible.parse_timeseries(payload, **PARSE)) == 9


def totals_answer(sandbox: Sandbox, since: date = FEB15, until: date = FEB17) -> Any:
    """The sandbox's own answer to the totals query (then forgotten: the test scripts what follows)."""
    answer = requests.post(
        f"{sandbox.url}/api/v2/query",
        json={
            "site_id": SITE,
            "metrics": ["pageviews", "visits", "visitors"],
            "date_range": [str(since), str(until)],
            "dimensions": ["time:day"],
            "include": {"total_rows": True},
        },  # fmt: skip
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    sandbox.clear()
    return answer


def test_the_sandbox_answering_another_range_fails_the_account(sandbox: Sandbox) -> None:
    sandbox.script(QUERY, Reply(200, totals_answer(sandbox, FEB15 + timedelta(days=1), FEB17)))
    with pytest.raises(PayloadError, match="answered date_range '2026-02-16"):
        run(sandbox, FEB15, FEB17)  # Feb 15 is not in the answer: it must not be written as 0


def collected(sandbox: Sandbox) -> Any:
    with make_client("plausible", plausible.classify) as client:
        return plausible.collect(client, make_ctx("plausible", SITE, sandbox.url), since=FEB15, until=FEB17)


def test_a_refused_source_breakdown_is_skipped_and_the_totals_written(sandbox: Sandbox) -> None:
    refusal = "Invalid dimension 'visit:source'. Allowed dimensions: time:day"
    sandbox.script(QUERY, Reply(200, totals_answer(sandbox)), Reply(400, {"error": refusal}))
    out = collected(sandbox)
    want = {k: v for k, v in expected(SITE, FEB15, FEB17).items() if k[0] in ("page_views", "visits", "visitors")}
    assert by_key(out.observations) == want
    [(source, note)] = out.skipped
    assert source == "query [time:day, visit:source]"
    assert note == (
        f"query [time:day, visit:source] refused (not supported): {refusal}; "
        "social_visits, social_page_views and visits_from_<network> not collected"
    )


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        ([Reply(503, "<html>busy</html>")] * FAST.attempts, ServerError),
        ([Reply(429, {"error": HOURLY})], RateLimited),
        ([Reply(401, {"error": "Invalid API key or site ID."})], AuthError),
    ],
    ids=["5xx", "hourly-limit", "key-refused"],
)
def test_a_transient_or_auth_failure_of_the_breakdown_still_fails_the_account(
    sandbox: Sandbox, replies: list[Reply], error: type[Exception]
) -> None:
    sandbox.script(QUERY, Reply(200, totals_answer(sandbox)), *replies)
    with pytest.raises(error):
        collected(sandbox)


def test_the_totals_query_stays_required(sandbox: Sandbox) -> None:
    sandbox.script(QUERY, Reply(400, {"error": "Invalid metric 'pageviews'"}))
    with pytest.raises(BadRequest, match="Invalid metric"):
        collected(sandbox)
