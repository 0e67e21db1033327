"""Matomo: parsers on doc-shaped payloads, the classifier, and collect()/check() against the sandbox."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from collectors import matomo
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, RateLimited, ServerError
from collectors.http import Client
from collectors.observation import Observation
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import matomo as sb
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import COLLECTED_AT, FAST, by_key, days, fixture, make_client, make_ctx

SITE = "1"
API = r"^/index\.php$"
OCT1, OCT2, OCT3 = date(2025, 10, 1), date(2025, 10, 2), date(2025, 10, 3)
TODAY = date(2026, 3, 10)  # COLLECTED_AT in Europe/Paris
JAN12, JAN14 = date(2026, 1, 12), date(2026, 1, 14)  # Jan 13 is the sandbox's outage day
# Matomo's social network names -> the network stored (by hand; the collector uses collectors.referrers)
NETWORK_OF = {
    "Facebook": "facebook",
    "Instagram": "instagram",
    "Twitter": "x",
    "LinkedIn": "linkedin",
    "Pinterest": "pinterest",
    "YouTube": "youtube",
    "Reddit": "other",
    "Vkontakte": "other",
    "Bluesky": "bluesky",
}


PARSE: dict[str, Any] = {
    "account_id": SITE,
    "since": OCT1,
    "until": OCT3,
    "today": TODAY,
    "collected_at": COLLECTED_AT,
}


# -- parsers -----------------------------------------------------------------------------------
# Shape: https://developer.matomo.org/api-reference/reporting-api "Response shapes (multi-day date=last30 ⇒ an object
# keyed by date)": an object keyed by YYYY-MM-DD, [] for a day without data, bounce_rate a percent string.


def test_parse_visits_summary_maps_and_turns_an_empty_day_into_zeros() -> None:
    rows = matomo.parse_visits_summary(fixture("matomo", "visits_summary.json"), **PARSE)
    assert by_key(rows) == {
        ("visits", OCT1): 61,
        ("visitors", OCT1): 52,
        ("visits", OCT2): 0,
        ("visitors", OCT2): 0,
        ("visits", OCT3): 55,
        ("visitors", OCT3): 47,
    }
    assert {o.metric: o.source_metric for o in rows} == {"visits": "nb_visits", "visitors": "nb_uniq_visitors"}


@pytest.mark.parametrize(
    ("social", "metric", "source"),
    [(False, "page_views", "nb_pageviews"), (True, "social_page_views", "nb_pageviews[referrerType==social]")],
)
def test_parse_actions(social: bool, metric: str, source: str) -> None:
    rows = matomo.parse_actions(fixture("matomo", "actions.json"), social=social, **PARSE)
    assert by_key(rows) == {(metric, OCT1): 131, (metric, OCT2): 0, (metric, OCT3): 117}
    assert {o.source_metric for o in rows} == {source}


def test_parse_referrer_type_finds_the_social_row_by_segment_not_label() -> None:
    rows = matomo.parse_referrer_type(fixture("matomo", "referrer_type.json"), **PARSE)
    # Oct 3's label is French ("Réseaux sociaux"): the segment still says referrerType==social
    assert by_key(rows) == {("social_visits", OCT1): 23, ("social_visits", OCT2): 0, ("social_visits", OCT3): 17}


def test_parse_socials_maps_network_names_and_fills_seen_networks() -> None:
    rows = matomo.parse_socials(fixture("matomo", "socials.json"), **PARSE)
    assert by_key(rows) == {
        ("visits_from_facebook", OCT1): 21,
        ("visits_from_facebook", OCT2): 0,
        ("visits_from_facebook", OCT3): 7,
        ("visits_from_other", OCT1): 2,  # Vkontakte: social, but not one of the named networks
        ("visits_from_other", OCT2): 0,
        ("visits_from_other", OCT3): 0,
        ("visits_from_x", OCT1): 0,
        ("visits_from_x", OCT2): 0,
        ("visits_from_x", OCT3): 10,  # Matomo still says "Twitter"
    }


def test_a_running_day_without_data_is_left_out() -> None:
    payload = fixture("matomo", "visits_summary.json")
    rows = matomo.parse_visits_summary(payload, **{**PARSE, "today": OCT2})
    assert sorted({o.observed_on for o in rows}) == [OCT1, OCT3]  # Oct 3 was archived: kept


def test_days_outside_the_range_are_ignored() -> None:
    rows = matomo.parse_visits_summary(fixture("matomo", "visits_summary.json"), **{**PARSE, "since": OCT3})
    assert {o.observed_on for o in rows} == {OCT3}


def test_numeric_strings_are_read_as_numbers() -> None:
    payload = fixture("matomo", "visits_summary.json")
    payload["2025-10-01"]["nb_visits"] = "61"
    assert by_key(matomo.parse_visits_summary(payload, **PARSE))[("visits", OCT1)] == 61


PARSERS: dict[str, Callable[..., list[Observation]]] = {
    "visits_summary.json": matomo.parse_visits_summary,
    "actions.json": matomo.parse_actions,
    "referrer_type.json": matomo.parse_referrer_type,
    "socials.json": matomo.parse_socials,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_parsers_do_not_mutate_their_input(name: str) -> None:
    payload = fixture("matomo", name)
    before = copy.deepcopy(payload)
    PARSERS[name](payload, **PARSE)
    assert payload == before


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("visits_summary.json", []),
        ("visits_summary.json", {"nb_visits": 61, "nb_uniq_visitors": 52}),  # a single-date bare object
        ("visits_summary.json", {"2025-10-01": {"nb_visits": "many", "nb_uniq_visitors": 1}}),
        ("visits_summary.json", {"2025-10-01": 61}),
        ("visits_summary.json", {"2025-10-01": [{"nb_visits": 1}]}),
        ("visits_summary.json", {"2025-02-30": []}),
        ("actions.json", {"result": "error", "message": "boom"}),
        ("socials.json", {"2025-10-01": [{"nb_visits": 3}]}),  # no label
        ("referrer_type.json", {"2025-10-01": {"label": "Social networks"}}),
        ("socials.json", {"2025-10-01": ["Facebook"]}),
    ],
)
def test_parsers_reject_a_wrong_shape(name: str, payload: Any) -> None:
    with pytest.raises(PayloadError):
        PARSERS[name](payload, **PARSE)


# -- classifier --------------------------------------------------------------------------------
# Shape: https://developer.matomo.org/api-reference/reporting-api "Auth" and "Errors, limits and freshness".
def err(message: str) -> dict[str, str]:
    return {"result": "error", "message": message}


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "retry_after", "says"),
    [
        (401, {}, err(sb.TOKEN_REFUSED), "auth", None, "Administration > Personal > Security"),
        (200, {}, err(sb.TOKEN_REFUSED), "auth", None, "SOCIALKPI_MATOMO_TOKEN"),
        (
            200,
            {},
            err("You can't access this resource as it requires 'view' access for the website id = 1."),
            "permission",
            None,
            "View access",
        ),
        (
            401,
            {},
            err("You can't access this resource as it requires 'view' access for the website id = 1."),
            "permission",
            None,
            "idSite",
        ),
        (
            400,
            {},
            err("The method 'getFoo' does not exist or is not available in the module 'Referrers'."),
            "bad_request",
            None,
            "getFoo",
        ),
        (200, {}, err("Date format must be: YYYY-MM-DD"), "bad_request", None, "Date format"),
        (429, {"Retry-After": "30"}, err("Too many requests"), "throttled", 30.0, "Too many"),
        (429, {"Retry-After": "5"}, "<html>slow down</html>", "throttled", 5.0, "HTTP 429"),
        (500, {}, err("Mysql server has gone away"), "server", None, "Mysql"),
    ],
)
def test_classify_reads_the_result_error_envelope_at_any_status(
    status: int, headers: dict[str, str], body: Any, kind: str, retry_after: float | None, says: str
) -> None:
    verdict = matomo.classify(status, headers, body)
    assert verdict is not None
    assert (verdict.kind, verdict.retry_after) == (kind, retry_after)
    assert says in verdict.message


@pytest.mark.parametrize("body", [{"2025-10-01": []}, {"result": "success", "message": "ok"}, [1, 2]])
def test_classify_leaves_real_answers_alone(body: Any) -> None:
    assert matomo.classify(200, {}, body) is None


# -- collect() against the sandbox -------------------------------------------------------------
def expected(site: str, since: date, until: date) -> dict[tuple[str, date], float]:
    """What the sandbox serves, from its world functions and the hand-written network table."""
    out: dict[tuple[str, date], float] = {}
    networks: dict[tuple[str, date], int] = {}
    for day in days(since, until):
        out[("visits", day)] = sb.visits_for(site, day)
        out[("visitors", day)] = sb.uniq_visitors_for(site, day)
        out[("page_views", day)] = sb.pageviews_for(site, day)
        out[("social_visits", day)] = sb.referrer_types_for(site, day)["social"]
        out[("social_page_views", day)] = sb.social_pageviews_for(site, day)
        for name, visits in sb.socials_for(site, day).items():
            key = (f"visits_from_{NETWORK_OF[name]}", day)
            networks[key] = networks.get(key, 0) + visits
    seen = {m for (m, _), v in networks.items() if v}
    out.update({(m, d): networks.get((m, d), 0) for m in seen for d in days(since, until)})
    return out


def run(sandbox: Sandbox, since: date, until: date, client: Client | None = None, **kw: Any) -> list[Observation]:
    client = client or make_client("matomo", matomo.classify)
    ctx = make_ctx("matomo", kw.pop("site", SITE), kw.pop("base_url", sandbox.url), **kw)
    with client:
        return matomo.collect(client, ctx, since=since, until=until).observations


def test_collect_writes_exactly_the_rows_metrics_md_gives(sandbox: Sandbox) -> None:
    got = by_key(run(sandbox, JAN12, JAN14))
    assert got == expected(SITE, JAN12, JAN14)
    outage = date(2026, 1, 13)
    assert {m: v for (m, d), v in got.items() if d == outage} == dict.fromkeys({m for m, _ in got}, 0), (
        "the outage day ([] everywhere) is all zeros"
    )
    for day in (JAN12, JAN14):
        assert 0 < got[("visitors", day)] <= got[("visits", day)] < got[("page_views", day)]
        assert 0 < got[("social_visits", day)] < got[("visits", day)]
        assert got[("social_visits", day)] <= got[("social_page_views", day)] < got[("page_views", day)]
        networks = sum(v for (m, d), v in got.items() if m.startswith("visits_from_") and d == day)
        assert networks == got[("social_visits", day)]


def test_the_token_travels_in_the_post_body_only(sandbox: Sandbox) -> None:
    run(sandbox, JAN12, JAN14)
    calls = sandbox.requests_to(API)
    assert [(r.method, r.query) for r in calls] == [("POST", {})] * 5
    forms = [r.form() for r in calls]
    assert all(f["token_auth"] == TOKEN and f["idSite"] == SITE and f["format"] == "JSON" for f in forms)
    assert [(f["method"], f.get("segment")) for f in forms] == [
        ("VisitsSummary.get", None),
        ("Actions.get", None),
        ("Actions.get", "referrerType==social"),
        ("Referrers.getReferrerType", None),
        ("Referrers.getSocials", None),
    ]
    assert all(f["period"] == "day" and f["date"] == "2026-01-12,2026-01-14" for f in forms)
    assert all(f["format_metrics"] == "0" for f in forms) and forms[-1]["filter_limit"] == "-1"
    assert all(TOKEN not in (r.header("Authorization") or "") for r in calls)


def test_today_and_later_without_data_are_not_zeros(sandbox: Sandbox) -> None:
    today = datetime.now(UTC).date()
    now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    rows = run(sandbox, today - timedelta(days=1), today + timedelta(days=1), collected_at=now, tz="UTC")
    assert {o.observed_on for o in rows} == {today - timedelta(days=1)}


def test_before_the_site_existed_is_zero(sandbox: Sandbox) -> None:
    start = sb.SITE_START
    got = by_key(run(sandbox, start - timedelta(days=1), start))
    assert got[("visits", start - timedelta(days=1))] == 0 and got[("visits", start)] == sb.visits_for(SITE, start) > 0


def test_base_url_may_be_given_with_index_php(sandbox: Sandbox) -> None:
    got = by_key(run(sandbox, JAN12, JAN12, base_url=f"{sandbox.url}/index.php"))
    assert got[("visits", JAN12)] == sb.visits_for(SITE, JAN12)


# -- errors ------------------------------------------------------------------------------------
def test_expired_token_is_an_auth_error_without_the_token(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError) as caught:
        run(sandbox, JAN12, JAN14, token=EXPIRED_TOKEN)
    text = str(caught.value) + repr(caught.value)
    assert caught.value.status == 401 and "SOCIALKPI_MATOMO_TOKEN" in text and EXPIRED_TOKEN not in text
    assert len(sandbox.requests_to(API)) == 1


def test_no_view_access_at_http_200_is_still_an_error(sandbox: Sandbox) -> None:
    with pytest.raises(PermissionDenied) as caught:
        run(sandbox, JAN12, JAN14, site="99")
    assert caught.value.status == 200 and "View access" in str(caught.value) and "website id = 99" in str(caught.value)


@pytest.mark.parametrize(
    ("kw", "error", "says"),
    [
        # no token: tests/test_platforms.py::test_no_token_fails_before_any_request
        ({"base_url": None}, BadRequest, "set SOCIALKPI_MATOMO_BASE_URL"),
        ({"site": "cornerbakery.fr"}, BadRequest, "numeric idSite"),
    ],
)
def test_missing_settings_fail_before_any_request(
    sandbox: Sandbox, kw: dict[str, Any], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        run(sandbox, JAN12, JAN14, **kw)
    assert sandbox.requests == []


def test_a_throttle_with_retry_after_is_waited_out(sandbox: Sandbox) -> None:
    slept: list[float] = []
    client = Client("matomo", policy=replace(FAST, max_retry_after=60), classify=matomo.classify, sleep=slept.append)
    sandbox.script(API, sb.throttled(30))
    assert by_key(run(sandbox, JAN12, JAN14, client=client)) == expected(SITE, JAN12, JAN14)
    assert slept == [30.0] and len(sandbox.requests_to(API)) == 6


@pytest.mark.parametrize(
    ("replies", "error", "says"),
    [
        ([Reply(500, {"result": "error", "message": "Mysql server has gone away"})], None, None),
        # a dropped connection, a lasting 5xx, truncated JSON: tests/test_platforms.py (every platform)
        (
            [Reply(200, "<html><body>Matomo login page</body></html>", {"Content-Type": "text/html"})],
            PayloadError,
            "not valid JSON",
        ),
    ],
    ids=["500-retried", "html-login-page"],
)
def test_server_faults(sandbox: Sandbox, replies: list[Reply], error: type[Exception] | None, says: str | None) -> None:
    sandbox.script(API, *replies)
    if error is None:
        assert by_key(run(sandbox, JAN12, JAN14)) == expected(SITE, JAN12, JAN14)
        return
    with pytest.raises(error) as caught:
        run(sandbox, JAN12, JAN14)
    assert says is not None and says in str(caught.value) and TOKEN not in str(caught.value)


# -- check() -----------------------------------------------------------------------------------
def test_check_names_the_site(sandbox: Sandbox) -> None:
    with make_client("matomo", matomo.classify) as client:
        detail = matomo.check(client, make_ctx("matomo", SITE, sandbox.url))
    assert (
        detail == "token valid (sent by POST): site 1 'cornerbakery.fr' (https://cornerbakery.fr, days in Europe/Paris)"
    )
    [call] = sandbox.requests_to(API)
    assert call.form()["method"] == "SitesManager.getSiteFromId" and call.query == {}


@pytest.mark.parametrize(
    ("site", "token", "error"), [(SITE, EXPIRED_TOKEN, AuthError), ("99", TOKEN, PermissionDenied)]
)
def test_check_failures_are_actionable(sandbox: Sandbox, site: str, token: str, error: type[Exception]) -> None:
    with make_client("matomo", matomo.classify) as client, pytest.raises(error) as caught:
        matomo.check(client, make_ctx("matomo", site, sandbox.url, token=token))
    assert EXPIRED_TOKEN not in str(caught.value)


# -- the sandbox itself --------------------------------------------------------------------------
def call(sandbox: Sandbox, http: str = "post", **params: str) -> tuple[int, Any]:
    base = {"module": "API", "format": "JSON", "idSite": SITE, "period": "day"}
    if http == "get":
        resp = requests.get(f"{sandbox.url}/index.php", params={**base, **params}, timeout=5)
    else:
        resp = requests.post(f"{sandbox.url}/index.php", data={**base, "token_auth": TOKEN, **params}, timeout=5)
    return resp.status_code, resp.json()


def test_sandbox_refuses_a_token_in_the_url_like_a_secure_only_token(sandbox: Sandbox) -> None:
    status, body = call(sandbox, "get", method="VisitsSummary.get", date="yesterday", token_auth=TOKEN)
    assert status == 401 and body == {"result": "error", "message": sb.TOKEN_REFUSED}


def test_sandbox_reports_add_up(sandbox: Sandbox) -> None:
    rng = "2025-12-01,2026-02-28"
    _, summary = call(sandbox, method="VisitsSummary.get", date=rng, format_metrics="0")
    _, types = call(sandbox, method="Referrers.getReferrerType", date=rng, filter_limit="-1")
    _, socials = call(sandbox, method="Referrers.getSocials", date=rng, filter_limit="-1")
    assert len(summary) == 90 and summary["2026-01-13"] == []
    for key, day in summary.items():
        if not day:
            assert types[key] == [] and socials[key] == []
            continue
        assert isinstance(day["bounce_rate"], float)
        assert sum(r["nb_visits"] for r in types[key]) == day["nb_visits"]
        [social] = [r for r in types[key] if r["segment"] == "referrerType==social"]
        assert sum(r["nb_visits"] for r in socials[key]) == social["nb_visits"]
    _, formatted = call(sandbox, method="VisitsSummary.get", date="2026-01-12")
    assert formatted["bounce_rate"].endswith("%")  # a single date: the bare object, rates as strings


def test_sandbox_caps_tables_at_filter_limit(sandbox: Sandbox) -> None:
    _, capped = call(sandbox, method="Referrers.getSocials", date="2026-01-12,2026-01-12", filter_limit="2")
    assert len(capped["2026-01-12"]) == 2


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"method": "Referrers.getFoo", "date": "yesterday"}, 400, "does not exist"),
        ({"method": "VisitsSummary.get", "date": "yesterday", "idSite": "99"}, 200, "requires 'view' access"),
        (
            {"method": "VisitsSummary.get", "date": "yesterday", "token_auth": EXPIRED_TOKEN},
            401,
            "Unable to authenticate",
        ),
    ],
)
def test_sandbox_errors_use_matomos_envelope(sandbox: Sandbox, params: dict[str, str], status: int, says: str) -> None:
    got_status, body = call(sandbox, **params)
    assert got_status == status and body["result"] == "error" and says in body["message"]


# -- issue 11: numbers as strings, what an answer says it is, optional breakdowns --------------------
# Shape: https://developer.matomo.org/api-reference/reporting-api "Response shapes" (VisitsSummary.get keyed by date;
# "bounce_rate is a percent
# string unless you pass format_metrics=0") and its Endpoint (period=day, date=2025-10-01,2025-10-31).
@pytest.mark.parametrize(
    ("value", "read"),
    [("61", 61), ("61.0", 61), (61, 61), (61.0, 61)],
)
def test_a_count_is_read_as_a_number_or_a_numeric_string(value: Any, read: int) -> None:
    payload = fixture("matomo", "visits_summary.json")
    payload["2025-10-01"]["nb_visits"] = value
    got = by_key(matomo.parse_visits_summary(payload, **PARSE))[("visits", OCT1)]
    assert got == read and type(got) is int


@pytest.mark.parametrize("value", ["49%", "61.5", 61.5, "1e5", "-3", -3, True, float("nan"), float("inf"), None])
def test_a_count_that_is_no_count_is_refused(value: Any) -> None:
    payload = fixture("matomo", "visits_summary.json")
    payload["2025-10-01"]["nb_visits"] = value
    with pytest.raises(PayloadError, match="VisitsSummary.get nb_visits is .*not a count"):
        matomo.parse_visits_summary(payload, **PARSE)


@pytest.mark.parametrize(
    ("key", "period"),
    [("2025-10", "month"), ("2025", "year"), ("2025-09-29,2025-10-05", "week or range")],
)
def test_an_answer_keyed_by_another_period_is_refused_naming_it(key: str, period: str) -> None:
    # date=2025-10-01,2025-10-31 with period=month is keyed "2025-10": a month's totals, not October 1st's
    payload = {key: fixture("matomo", "visits_summary.json")["2025-10-01"]}
    with pytest.raises(PayloadError, match=rf"answered period '{period} \({key}\)', but period 'day' was asked"):
        matomo.parse_visits_summary(payload, **PARSE)


def test_the_sandbox_answering_another_period_fails_the_account(sandbox: Sandbox) -> None:
    sandbox.script(API, Reply(200, {"2026-01": {"nb_visits": 900, "nb_uniq_visitors": 700}}))
    with pytest.raises(PayloadError, match="VisitsSummary.get answered period 'month"):
        run(sandbox, JAN12, JAN14)


def answers(sandbox: Sandbox, since: date, until: date, *calls: tuple[str, str | None]) -> list[Reply]:
    """The sandbox's own answers to ``calls`` ((method, segment)), to replay before a scripted refusal."""
    out = []
    for method, segment in calls:
        form = {"module": "API", "format": "JSON", "idSite": SITE, "token_auth": TOKEN, "method": method,
                "period": "day", "date": f"{since},{until}", "format_metrics": "0", "filter_limit": "-1"}  # fmt: skip
        if segment:
            form["segment"] = segment
        out.append(Reply(200, requests.post(f"{sandbox.url}/index.php", data=form, timeout=5).json()))
    sandbox.clear()
    return out


def collected(sandbox: Sandbox, since: date = JAN12, until: date = JAN14) -> Any:
    with make_client("matomo", matomo.classify) as client:
        return matomo.collect(client, make_ctx("matomo", SITE, sandbox.url), since=since, until=until)


UNKNOWN = "The method 'getSocials' does not exist or is not available in the module '\\Piwik\\Plugins\\Referrers\\API'."
REQUIRED = [("VisitsSummary.get", None), ("Actions.get", None)]


def test_a_breakdown_matomo_does_not_serve_is_skipped_and_the_rest_written(sandbox: Sandbox) -> None:
    before = answers(
        sandbox, JAN12, JAN14, *REQUIRED, ("Actions.get", matomo.SOCIAL_SEGMENT), ("Referrers.getReferrerType", None)
    )
    sandbox.script(API, *before, Reply(400, {"result": "error", "message": UNKNOWN}))
    out = collected(sandbox)
    want = {k: v for k, v in expected(SITE, JAN12, JAN14).items() if not k[0].startswith("visits_from_")}
    assert by_key(out.observations) == want
    [(source, note)] = out.skipped
    assert source == "Referrers.getSocials"
    assert note == f"Referrers.getSocials refused (not supported): {UNKNOWN}; visits_from_<network> not collected"


def test_a_segment_refused_for_a_permission_skips_social_page_views_only(sandbox: Sandbox) -> None:
    denied = "You can't access this resource as it requires 'view' access for the website id = 1."
    sandbox.script(API, *answers(sandbox, JAN12, JAN14, *REQUIRED), Reply(200, {"result": "error", "message": denied}))
    out = collected(sandbox)
    assert {m for m, _ in by_key(out.observations)} == {m for m, _ in expected(SITE, JAN12, JAN14)} - {
        "social_page_views"
    }
    assert [s for s, _ in out.skipped] == ["Actions.get [referrerType==social]"]
    assert "refused (permission)" in out.skipped[0][1] and "social_page_views not collected" in out.skipped[0][1]


@pytest.mark.parametrize(
    ("reply", "error"),
    [(sb.throttled(3600), RateLimited), (Reply(503, "<html>busy</html>"), ServerError)],
    ids=["throttled", "5xx"],
)
def test_a_transient_failure_of_a_breakdown_still_fails_the_account(
    sandbox: Sandbox, reply: Reply, error: type[Exception]
) -> None:
    sandbox.script(API, *answers(sandbox, JAN12, JAN14, *REQUIRED), *[reply] * FAST.attempts)
    with pytest.raises(error):
        collected(sandbox)


def test_visits_summary_stays_required(sandbox: Sandbox) -> None:
    sandbox.script(API, Reply(400, {"result": "error", "message": UNKNOWN.replace("getSocials", "get")}))
    with pytest.raises(BadRequest, match="does not exist"):
        collected(sandbox)
