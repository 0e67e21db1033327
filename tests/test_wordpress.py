"""WordPress.com / Jetpack Stats: parsers on doc-shaped payloads, the classifier, collect() and check()."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from collectors import wordpress as wp
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, RateLimited, ServerError
from collectors.http import Client
from collectors.observation import Observation
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import wordpress as sb
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import COLLECTED_AT, FAST, by_key, days, fixture, make_client, make_ctx

SITE = "cornerbakery.blog"
VISITS = r"/stats/visits$"
REFERRERS = r"/stats/referrers$"
OCT29, OCT30, OCT31 = date(2025, 10, 29), date(2025, 10, 30), date(2025, 10, 31)
TODAY = date(2026, 3, 10)
FEB15, FEB17 = date(2026, 2, 15), date(2026, 2, 17)
# WordPress.com referrer group names -> network (by hand; the collector uses collectors.referrers)
NETWORK_OF = {
    "Facebook": "facebook",
    "Instagram": "instagram",
    "Pinterest": "pinterest",
    "Twitter": "x",
    "LinkedIn": "linkedin",
    "Reddit": "other",
}


PARSE: dict[str, Any] = {
    "account_id": SITE,
    "since": OCT29,
    "until": OCT31,
    "today": TODAY,
    "collected_at": COLLECTED_AT,
}


# -- parsers -----------------------------------------------------------------------------------
# Shape: https://developer.wordpress.com/docs/api/1.1/get/sites/%24site/stats/ "Endpoints": /stats/visits is a `fields`
# header plus positional `data`
# rows with `utc_offset`; /stats/referrers groups referrers under `days.{date}.groups[]` [3p shape].


def test_parse_visits_reads_rows_by_the_fields_header() -> None:
    rows = wp.parse_visits(fixture("wordpress", "visits.json"), **PARSE)
    assert by_key(rows) == {
        ("page_views", OCT29): 0,  # not listed and over: 0
        ("visitors", OCT29): 0,
        ("page_views", OCT30): 268,
        ("visitors", OCT30): 131,
        ("page_views", OCT31): 301,
        ("visitors", OCT31): 144,
    }
    assert {o.metric: o.source_metric for o in rows} == {"page_views": "views", "visitors": "visitors"}


def test_parse_visits_follows_the_field_order_it_is_given() -> None:
    payload = fixture("wordpress", "visits.json")
    payload["fields"] = ["visitors", "period", "views"]
    payload["data"] = [[131, "2025-10-30", 268]]
    assert by_key(wp.parse_visits(payload, **{**PARSE, "since": OCT30, "until": OCT30})) == {
        ("page_views", OCT30): 268,
        ("visitors", OCT30): 131,
    }


def test_parse_visits_leaves_a_running_day_without_views_out() -> None:
    payload = fixture("wordpress", "visits.json")
    payload["data"][1] = ["2025-10-31", 0, 0]
    assert {o.observed_on for o in wp.parse_visits(payload, **{**PARSE, "today": OCT31})} == {OCT29, OCT30}


def test_parse_referrers_maps_groups_to_networks() -> None:
    rows = wp.parse_referrers(fixture("wordpress", "referrers.json"), **PARSE)
    assert by_key(rows) == {
        ("social_visits", OCT29): 0,
        ("social_visits", OCT30): 22 + 3,  # Facebook, t.co; search engines and the Reader are not social
        ("social_visits", OCT31): 9 + 4,
        ("visits_from_facebook", OCT29): 0,
        ("visits_from_facebook", OCT30): 22,
        ("visits_from_facebook", OCT31): 4,  # the l.facebook.com link shim
        ("visits_from_x", OCT29): 0,
        ("visits_from_x", OCT30): 3,
        ("visits_from_x", OCT31): 0,
        ("visits_from_pinterest", OCT29): 0,
        ("visits_from_pinterest", OCT30): 0,
        ("visits_from_pinterest", OCT31): 9,
    }
    assert {o.source_metric for o in rows if o.metric == "visits_from_x"} == {"views[referrers: x]"}


@pytest.mark.parametrize(
    ("group", "network"),
    [
        ({"group": "facebook.com", "name": "Facebook"}, "facebook"),
        ({"group": "t.co", "name": "t.co", "url": "https://t.co/x"}, "x"),
        ({"group": "lnkd.in", "name": "lnkd.in"}, "linkedin"),
        ({"group": "out.reddit.com", "name": "out.reddit.com"}, "other"),
        ({"group": "android-app://com.linkedin.android", "name": "android-app://com.linkedin.android"}, "linkedin"),
        ({"group": "Search Engines", "name": "Search Engines"}, None),
        (
            {"group": "WordPress.com Reader", "name": "WordPress.com Reader", "url": "https://wordpress.com/reader"},
            None,
        ),
    ],
)
def test_network_of_group(group: dict[str, str], network: str | None) -> None:
    assert wp.network_of_group(group) == network


@pytest.mark.parametrize("name", ["visits.json", "referrers.json"])
def test_parsers_do_not_mutate_their_input(name: str) -> None:
    payload = fixture("wordpress", name)
    before = copy.deepcopy(payload)
    (wp.parse_visits if name == "visits.json" else wp.parse_referrers)(payload, **PARSE)
    assert payload == before


@pytest.mark.parametrize(
    ("parser", "payload"),
    [
        ("visits", []),
        ("visits", {"fields": ["period", "views"], "data": []}),
        ("visits", {"unit": "week", "fields": ["period", "views", "visitors"], "data": []}),
        # a numeric string is a count WordPress.com really sends (test_visits_read_numbers_sent_as_strings);
        # text that is no number is still refused
        ("visits", {"fields": ["period", "views", "visitors"], "data": [["2025-10-30", "268 views", 131]]}),
        ("visits", {"fields": ["period", "views", "visitors"], "data": [["2025-10-30", 268]]}),
        ("visits", {"fields": ["period", "views", "visitors"], "data": [["30/10/2025", 268, 131]]}),
        ("referrers", {"date": "2025-10-31"}),
        ("referrers", {"days": {"2025-10-30": {"total_views": 3}}}),
        ("referrers", {"days": {"2025-10-30": {"groups": [{"name": "Facebook", "total": "twenty-two"}]}}}),
        ("referrers", {"days": {"2025-10-30": {"groups": ["Facebook"]}}}),
    ],
)
def test_parsers_reject_a_wrong_shape(parser: str, payload: Any) -> None:
    with pytest.raises(PayloadError):
        (wp.parse_visits if parser == "visits" else wp.parse_referrers)(payload, **PARSE)


# -- classifier --------------------------------------------------------------------------------
# Shape: https://developer.wordpress.com/docs/api/1.1/get/sites/%24site/stats/ "Errors and limits".
@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "retry_after", "says"),
    [
        (
            403,
            {},
            {"error": "invalid_token", "message": "The OAuth2 token is invalid."},
            "auth",
            None,
            "SOCIALKPI_WORDPRESS_TOKEN",
        ),
        (400, {}, {"error": "invalid_token", "message": "The OAuth2 token is invalid."}, "auth", None, "two weeks"),
        (403, {}, {"error": "unauthorized", "message": "user cannot view stats"}, "permission", None, "stats access"),
        (
            404,
            {},
            {"error": "invalid_blog", "message": "This blog does not have the Stats module enabled"},
            "bad_request",
            None,
            "Jetpack",
        ),
        (
            429,
            {"Retry-After": "20"},
            {"error": "rate_limited", "message": "Too many requests"},
            "throttled",
            20.0,
            "rate_limited",
        ),
        (503, {}, "<html>Service Unavailable</html>", "server", None, "503"),
    ],
)
def test_classify_reads_wordpress_errors(
    status: int, headers: dict[str, str], body: Any, kind: str, retry_after: float | None, says: str
) -> None:
    verdict = wp.classify(status, headers, body)
    assert verdict is not None
    assert (verdict.kind, verdict.retry_after) == (kind, retry_after)
    assert says in verdict.message


# -- collect() against the sandbox -------------------------------------------------------------
def expected(site: str, since: date, until: date) -> dict[tuple[str, date], float]:
    out: dict[tuple[str, date], float] = {}
    networks: dict[tuple[str, date], int] = {}
    for day in days(since, until):
        out[("page_views", day)] = sb.views_for(site, day)
        out[("visitors", day)] = sb.visitors_for(site, day)
        social = {g: v for g, v in sb.groups_for(site, day).items() if g in NETWORK_OF}
        out[("social_visits", day)] = sum(social.values())
        for name, v in social.items():
            key = (f"visits_from_{NETWORK_OF[name]}", day)
            networks[key] = networks.get(key, 0) + v
    seen = {m for (m, _), v in networks.items() if v}
    out.update({(m, d): networks.get((m, d), 0) for m in seen for d in days(since, until)})
    return out


def run(sandbox: Sandbox, since: date, until: date, client: Client | None = None, **kw: Any) -> list[Observation]:
    client = client or make_client("wordpress", wp.classify)
    ctx = make_ctx("wordpress", kw.pop("site", SITE), sandbox.url, **kw)
    with client:
        return wp.collect(client, ctx, since=since, until=until).observations


def test_collect_writes_exactly_the_rows_metrics_md_gives(sandbox: Sandbox) -> None:
    got = by_key(run(sandbox, FEB15, FEB17))
    assert got == expected(SITE, FEB15, FEB17)
    for day in days(FEB15, FEB17):
        assert 0 < got[("visitors", day)] <= got[("page_views", day)]
        assert 0 < got[("social_visits", day)] < got[("page_views", day)]
    assert "visits" not in {m for m, _ in got}  # WordPress has no visits metric
    [visits] = sandbox.requests_to(VISITS)
    assert visits.query == {
        "unit": ["day"],
        "quantity": ["3"],
        "date": ["2026-02-17"],
        "stat_fields": ["views,visitors"],
    }
    [refs] = sandbox.requests_to(REFERRERS)
    assert refs.query == {"period": ["day"], "date": ["2026-02-17"], "num": ["3"]}
    assert all(r.bearer() == TOKEN for r in sandbox.requests)


def test_a_long_range_is_asked_in_30_day_chunks_and_networks_fill_across_chunks(sandbox: Sandbox) -> None:
    since, until = date(2025, 11, 1), date(2026, 1, 15)
    got = by_key(run(sandbox, since, until))
    assert got == expected(SITE, since, until)
    assert [r.query["date"][0] for r in sandbox.requests_to(VISITS)] == ["2025-11-30", "2025-12-30", "2026-01-15"]
    assert [r.query["quantity"][0] for r in sandbox.requests_to(VISITS)] == ["30", "30", "16"]


def test_before_the_blog_and_today(sandbox: Sandbox) -> None:
    got = by_key(run(sandbox, sb.BLOG_START - timedelta(days=1), sb.BLOG_START))
    assert got[("page_views", sb.BLOG_START - timedelta(days=1))] == 0 < got[("page_views", sb.BLOG_START)]
    today = datetime.now(UTC).date()
    now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    rows = run(sandbox, today - timedelta(days=1), today, collected_at=now, tz="UTC")
    assert {o.observed_on for o in rows} == {today - timedelta(days=1)}


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "error", "says"),
    [
        # a refused token: tests/test_platforms.py::test_a_refused_token_fails_with_its_variable_and_not_the_token
        ({"site": "private-diary.example"}, PermissionDenied, "needs stats access"),
        ({"site": "oldblog.example"}, BadRequest, "Jetpack connected"),
    ],
)
def test_refusals_are_actionable_and_secret_free(
    sandbox: Sandbox, kw: dict[str, Any], error: type[Exception], says: str
) -> None:
    with pytest.raises(error) as caught:
        run(sandbox, FEB15, FEB17, **kw)
    text = str(caught.value) + repr(caught.value)
    assert says in text and EXPIRED_TOKEN not in text and TOKEN not in text
    assert len(sandbox.requests) == 1  # no refresh tokens on WordPress.com: nothing to retry


def test_throttle_with_retry_after_is_waited_out(sandbox: Sandbox) -> None:
    slept: list[float] = []
    client = Client("wordpress", policy=replace(FAST, max_retry_after=60), classify=wp.classify, sleep=slept.append)
    sandbox.script(VISITS, Reply(429, {"error": "rate_limited", "message": "Too many requests"}, {"Retry-After": "20"}))
    assert by_key(run(sandbox, FEB15, FEB17, client=client)) == expected(SITE, FEB15, FEB17)
    assert slept == [20.0]


@pytest.mark.parametrize(
    ("replies", "error", "says"),
    [
        ([Reply(500, {"error": "internal_error", "message": "Internal error"})], None, None),
        # a dropped connection, a lasting 5xx, truncated JSON: tests/test_platforms.py (every platform)
    ],
    ids=["500-retried"],
)
def test_server_faults(sandbox: Sandbox, replies: list[Reply], error: type[Exception] | None, says: str | None) -> None:
    sandbox.script(VISITS, *replies)
    if error is None:
        assert by_key(run(sandbox, FEB15, FEB17)) == expected(SITE, FEB15, FEB17)
        return
    with pytest.raises(error) as caught:
        run(sandbox, FEB15, FEB17)
    assert says is not None and says in str(caught.value) and TOKEN not in str(caught.value)


# -- check() -----------------------------------------------------------------------------------
def test_check(sandbox: Sandbox) -> None:
    with make_client("wordpress", wp.classify) as client:
        assert wp.check(client, make_ctx("wordpress", SITE, sandbox.url)) == (
            "token can read the stats of cornerbakery.blog (site time zone UTC+01:00)"
        )
    with make_client("wordpress", wp.classify) as client, pytest.raises(AuthError):
        wp.check(client, make_ctx("wordpress", SITE, sandbox.url, token=EXPIRED_TOKEN))


# -- the sandbox itself --------------------------------------------------------------------------
def test_sandbox_referrers_never_exceed_views_and_errors_are_wordpress_shaped(sandbox: Sandbox) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{sandbox.url}/rest/v1.1/sites/{SITE}/stats"
    visits = requests.get(
        f"{url}/visits", params={"unit": "day", "quantity": 60, "date": "2026-02-28"}, headers=auth, timeout=5
    ).json()
    refs = requests.get(
        f"{url}/referrers", params={"period": "day", "num": 60, "date": "2026-02-28"}, headers=auth, timeout=5
    ).json()
    assert visits["fields"] == ["period", "views", "visitors", "likes", "reblogs", "comments", "posts"]  # the defaults
    views = {row[0]: row[1] for row in visits["data"]}
    assert len(views) == 60 == len(refs["days"])
    for key, day in refs["days"].items():
        assert day["total_views"] == sum(g["total"] for g in day["groups"]) <= views[key]
    bad = requests.get(f"{url}/visits", headers={"Authorization": f"Bearer {EXPIRED_TOKEN}"}, timeout=5)
    assert bad.status_code == 403 and bad.json() == {
        "error": "invalid_token",
        "message": "The OAuth2 token is invalid.",
    }


# -- issue 11: numbers as strings, what an answer says it is, an optional endpoint -------------------
# A real /stats/visits response, kept by the WordPress iOS app's networking tests (WordPressKit, "Mock Data"):
# https://github.com/wordpress-mobile/WordPressKit-iOS/blob/8e4e7da758c034b2a5105734142d91634a216f4f/WordPressKitTests/Mock%20Data/stats-visits-day-2.json
# Its views are a JSON number on some rows (5, 4, 6) and a string on others ("1", "3"); the fixture keeps
# each cell's type and value.
STRINGS = "visits_numbers_as_strings.json"
DEC20, JAN2 = date(2023, 12, 20), date(2024, 1, 2)


def test_visits_read_numbers_sent_as_strings() -> None:
    rows = by_key(
        wp.parse_visits(fixture("wordpress", STRINGS), **{**PARSE, "since": DEC20, "until": JAN2, "asked": JAN2})
    )
    views = {day: v for (metric, day), v in rows.items() if metric == "page_views"}
    assert views == {
        date(2023, 12, 20): 5, date(2023, 12, 21): 0, date(2023, 12, 22): 1, date(2023, 12, 23): 1,
        date(2023, 12, 24): 3, date(2023, 12, 25): 4, date(2023, 12, 26): 6, date(2023, 12, 27): 1,
        date(2023, 12, 28): 1, date(2023, 12, 29): 0, date(2023, 12, 30): 0, date(2023, 12, 31): 1,
        date(2024, 1, 1): 1, date(2024, 1, 2): 0,
    }  # fmt: skip
    assert all(type(v) is int for v in rows.values())  # "1" is stored as the count 1, not as text


def test_collect_writes_a_visits_answer_with_numbers_as_strings(sandbox: Sandbox) -> None:
    sandbox.script(VISITS, Reply(200, fixture("wordpress", STRINGS)))
    got = by_key(run(sandbox, DEC20, JAN2))  # one chunk: date=2024-01-02, quantity=14, as in the answer
    assert [r.query["date"] for r in sandbox.requests_to(VISITS)] == [["2024-01-02"]]
    assert (got[("page_views", date(2023, 12, 20))], got[("page_views", date(2023, 12, 22))]) == (5, 1)
    assert sum(v for (m, _), v in got.items() if m == "page_views") == 24


@pytest.mark.parametrize(
    "views",
    ["five", "1e5", "12.5", "-3", " 12", "1,234", "", True, -1, 2.5, None, [1]],
)
def test_visits_still_refuse_what_is_no_count(views: Any) -> None:
    payload = fixture("wordpress", "visits.json")
    payload["data"][0][1] = views
    with pytest.raises(PayloadError, match=r"views on 2025-10-30 is .*not a count"):
        wp.parse_visits(payload, **PARSE)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_visits_refuse_nan_and_infinity_that_json_lets_through(sandbox: Sandbox, literal: str) -> None:
    # Python's json reads NaN and Infinity (and 1e999 as infinity): a count must be finite
    body = json.dumps(fixture("wordpress", STRINGS)).replace('["2023-12-20", 5,', f'["2023-12-20", {literal},')
    sandbox.script(VISITS, Reply.raw(body))
    with pytest.raises(PayloadError, match="not a count"):
        run(sandbox, DEC20, JAN2)


def test_referrers_of_a_month_are_refused_not_dated_on_its_first_day(sandbox: Sandbox) -> None:
    # Shape: https://developer.wordpress.com/docs/api/1.1/get/sites/%24site/stats/ ("GET
    # /stats/referrers?period=day&date=...&num=30 groups referrers
    # ... under days.{date}.groups[]"); the same endpoint with period=month keys each month by its first day
    month = fixture("wordpress", "referrers.json")
    month["period"] = "month"
    month["days"] = {"2025-10-01": month["days"]["2025-10-30"]}
    with pytest.raises(PayloadError, match="period 'month', but period 'day' was asked"):
        wp.parse_referrers(month, **PARSE)
    sandbox.script(REFERRERS, Reply(200, {**month, "date": "2026-02-17"}))
    with pytest.raises(PayloadError, match="stats/referrers answered period 'month'"):
        run(sandbox, FEB15, FEB17)


@pytest.mark.parametrize(
    ("endpoint", "change", "field"),
    [
        ("visits.json", {"unit": "month"}, "unit"),
        ("visits.json", {"date": "2025-10-30"}, "date"),  # another window than the one asked
        ("referrers.json", {"date": "2025-11-30"}, "date"),
    ],
)
def test_an_answer_must_declare_the_unit_period_and_date_asked(
    endpoint: str, change: dict[str, str], field: str
) -> None:
    payload = {**fixture("wordpress", endpoint), **change}
    parse = wp.parse_visits if endpoint == "visits.json" else wp.parse_referrers
    with pytest.raises(PayloadError, match=f"answered {field} "):
        parse(payload, **{**PARSE, "asked": OCT31})
    assert parse({**fixture("wordpress", endpoint)}, **{**PARSE, "asked": OCT31})  # as asked: read


def test_the_sandbox_answer_is_checked_against_the_date_asked(sandbox: Sandbox) -> None:
    answer = requests.get(
        f"{sandbox.url}/rest/v1.1/sites/{SITE}/stats/visits",
        params={"unit": "day", "quantity": "3", "date": "2026-02-16", "stat_fields": "views,visitors"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    sandbox.clear()
    sandbox.script(VISITS, Reply(200, answer))  # an answer for a window ending a day early
    with pytest.raises(PayloadError, match="answered date '2026-02-16', but date '2026-02-17' was asked"):
        run(sandbox, FEB15, FEB17)


UNKNOWN_METHOD = Reply(404, {"error": "unknown_method", "message": "Unknown method"})
NO_REFERRERS = {(m, d): v for (m, d), v in expected(SITE, FEB15, FEB17).items() if m in ("page_views", "visitors")}


def collected(sandbox: Sandbox, since: date = FEB15, until: date = FEB17) -> Any:
    ctx = make_ctx("wordpress", SITE, sandbox.url)
    with make_client("wordpress", wp.classify) as client:
        return wp.collect(client, ctx, since=since, until=until)


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (UNKNOWN_METHOD, "stats/referrers refused (not supported): Unknown method (unknown_method)"),
        (
            Reply(403, {"error": "unauthorized", "message": "user cannot view stats"}),
            "stats/referrers refused (permission): user cannot view stats (unauthorized)",
        ),
    ],
    ids=["404-unknown_method", "403-unauthorized"],
)
def test_a_refused_referrers_endpoint_skips_its_metrics_and_keeps_the_visits(
    sandbox: Sandbox, reply: Reply, says: str
) -> None:
    sandbox.script(REFERRERS, reply)
    out = collected(sandbox)
    assert by_key(out.observations) == NO_REFERRERS  # the views and visitors fetched before it are written
    [(source, note)] = out.skipped
    assert source == "stats/referrers" and note.startswith(says)
    assert note.endswith("social_visits and visits_from_<network> not collected")


def test_a_referrers_endpoint_refused_in_a_later_chunk_writes_no_referrer_row_at_all(sandbox: Sandbox) -> None:
    since, until = date(2025, 11, 1), date(2026, 1, 15)  # three chunks
    first = requests.get(
        f"{sandbox.url}/rest/v1.1/sites/{SITE}/stats/referrers",
        params={"period": "day", "date": "2025-11-30", "num": "30"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    assert any(day["groups"] for day in first["days"].values())  # the first chunk has social referrers
    sandbox.clear()
    sandbox.script(REFERRERS, Reply(200, first), UNKNOWN_METHOD)
    out = collected(sandbox, since, until)
    assert {o.metric for o in out.observations} == {"page_views", "visitors"}  # nothing partial
    assert [s for s, _ in out.skipped] == ["stats/referrers"]
    assert len(sandbox.requests_to(REFERRERS)) == 2  # refused once: the third chunk is not asked
    assert len(sandbox.requests_to(VISITS)) == 3


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        ([Reply(503, {"error": "unavailable", "message": "Service Unavailable"})] * 4, ServerError),
        ([Reply.drop()] * 4, ServerError),
        ([Reply(429, {"error": "rate_limited", "message": "Too many requests"}, {"Retry-After": "3600"})], RateLimited),
        ([Reply(403, {"error": "invalid_token", "message": "The OAuth2 token is invalid."})], AuthError),
    ],
    ids=["5xx", "dropped", "throttled", "token-refused"],
)
def test_a_transient_failure_of_referrers_still_fails_the_account(
    sandbox: Sandbox, replies: list[Reply], error: type[Exception]
) -> None:
    sandbox.script(REFERRERS, *replies)
    with pytest.raises(error):
        collected(sandbox)  # the next run fills the account whole
