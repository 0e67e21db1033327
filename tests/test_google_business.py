"""Google Business Profile: the Performance API parser (string values, zero days left out), the Google
classifier, collect()/check() against the sandbox, the refresh flow and competitor refusal."""

from __future__ import annotations

import copy
import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors import google_business as gbp
from collectors.context import CollectContext
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, ServerError
from collectors.tokens import TokenStore
from socialkpi.sandbox import Reply, Sandbox, world
from socialkpi.sandbox import google_business as part
from socialkpi.sandbox.google_oauth import issue_token
from tests.conftest import COLLECTED_AT, fixture, make_client, make_ctx

MULTI = r":fetchMultiDailyMetricsTimeSeries"
LOCATION = "4812345678901234567"
ALL = gbp.IMPRESSIONS + tuple(gbp.ACTIONS)
BASES = {
    "BUSINESS_IMPRESSIONS_DESKTOP_MAPS": 7.0,
    "BUSINESS_IMPRESSIONS_DESKTOP_SEARCH": 16.0,
    "BUSINESS_IMPRESSIONS_MOBILE_MAPS": 42.0,
    "BUSINESS_IMPRESSIONS_MOBILE_SEARCH": 55.0,
    "WEBSITE_CLICKS": 3.0,
    "CALL_CLICKS": 0.4,
    "BUSINESS_DIRECTION_REQUESTS": 4.0,
}
REFRESH = {
    "refresh_token": "1//rt-gbp-0123456789",
    "client_id": "123.apps.googleusercontent.com",
    "client_secret": "GOCSPX-gbp-secret",
}


def ctx_for(sb: Sandbox, location: str = LOCATION, *, store: TokenStore | None = None, **kw: Any) -> CollectContext:
    kw.setdefault("collected_at", datetime.now(UTC))
    ctx = make_ctx("google_business", location, sb.url, **kw)
    if store is None:
        return ctx
    return CollectContext(ctx.account, ctx.credentials, ctx.collected_at, ctx.business_tz, token_store=store)


def world_value(location: str, metric: str, day: date) -> int:
    if (day.month, day.day) in {(12, 25), (1, 1), (5, 1)} and metric in ("CALL_CLICKS", "BUSINESS_DIRECTION_REQUESTS"):
        return 0
    return world.daily("google_business", location, metric, day, BASES[metric])


def expected(location: str, since: date, until: date) -> set[tuple[str, date, float, str]]:
    out = set()
    day = since
    while day <= until:
        impressions = sum(world_value(location, m, day) for m in gbp.IMPRESSIONS)
        out.add(("impressions", day, impressions, "BUSINESS_IMPRESSIONS_*"))
        out.add(("link_clicks", day, world_value(location, "WEBSITE_CLICKS", day), "WEBSITE_CLICKS"))
        out.add(("calls", day, world_value(location, "CALL_CLICKS", day), "CALL_CLICKS"))
        out.add(
            (
                "direction_requests",
                day,
                world_value(location, "BUSINESS_DIRECTION_REQUESTS", day),
                "BUSINESS_DIRECTION_REQUESTS",
            )
        )
        day += timedelta(days=1)
    return out


def rows(out: Any) -> set[tuple[str, date, float, str]]:
    return {(o.metric, o.observed_on, o.value, o.source_metric) for o in out.observations}


def window(ctx: CollectContext, days: int = 14) -> tuple[date, date]:
    until = datetime.now(UTC).date() - timedelta(days=1)  # the sandbox has data up to yesterday (UTC)
    return until - timedelta(days=days - 1), until


def collect(ctx: CollectContext, since: date | None = None, until: date | None = None, client: Any = None) -> Any:
    s, u = window(ctx)
    return gbp.collect(client or make_client("google_business"), ctx, since=since or s, until=until or u)


# -- parser ------------------------------------------------------------------------------------


def test_parse_multi_doc_example() -> None:
    # Shape: https://developers.google.com/my-business/reference/performance/rest/v1/locations/fetchMultiDailyMetricsTimeSeries
    # Example response (fetchMultiDailyMetricsTimeSeries)
    payload = fixture("google_business", "multi.json")
    before = copy.deepcopy(payload)
    got = gbp.parse_multi(
        payload,
        account_id="123",
        since=date(2025, 10, 1),
        until=date(2025, 10, 3),
        collected_at=COLLECTED_AT,
        metrics=("BUSINESS_IMPRESSIONS_MOBILE_MAPS", "WEBSITE_CLICKS"),
    )
    # impressions need the four surfaces; only one was asked here, so none are written
    assert [(o.metric, o.observed_on, o.value, o.source_metric) for o in got] == [
        ("link_clicks", date(2025, 10, 1), 4, "WEBSITE_CLICKS"),
        ("link_clicks", date(2025, 10, 2), 0, "WEBSITE_CLICKS"),  # no value: a real 0
        ("link_clicks", date(2025, 10, 3), 2, "WEBSITE_CLICKS"),
    ]
    assert all(isinstance(o.value, int) for o in got)
    assert payload == before


def test_parse_multi_sums_the_four_impression_surfaces() -> None:
    # Shape: https://developers.google.com/my-business/reference/performance/rest/v1/DailyMetric
    # (four BUSINESS_IMPRESSIONS_* enums)
    payload = fixture("google_business", "multi.json")
    series = payload["multiDailyMetricTimeSeries"][0]["dailyMetricTimeSeries"]
    for name, value in (("DESKTOP_MAPS", "3"), ("DESKTOP_SEARCH", "10"), ("MOBILE_SEARCH", "30")):
        series.append(
            {
                "dailyMetric": f"BUSINESS_IMPRESSIONS_{name}",
                "timeSeries": {"datedValues": [{"date": {"year": 2025, "month": 10, "day": 2}, "value": value}]},
            }
        )
    got = gbp.parse_multi(
        payload, account_id="123", since=date(2025, 10, 1), until=date(2025, 10, 3), collected_at=COLLECTED_AT,
        metrics=ALL,
    )  # fmt: skip
    impressions = {o.observed_on: o.value for o in got if o.metric == "impressions"}
    assert impressions == {date(2025, 10, 1): 57, date(2025, 10, 2): 43, date(2025, 10, 3): 61}
    # CALL_CLICKS and BUSINESS_DIRECTION_REQUESTS were asked but left out entirely: zeros
    assert {o.value for o in got if o.metric in ("calls", "direction_requests")} == {0}


def test_parse_multi_empty_location_is_zeros() -> None:
    # Shape: https://developers.google.com/my-business/reference/performance/rest/v1/locations/fetchMultiDailyMetricsTimeSeries
    # ("A location with no data can return {}")
    got = gbp.parse_multi(
        {}, account_id="1", since=date(2025, 10, 1), until=date(2025, 10, 2), collected_at=COLLECTED_AT, metrics=ALL
    )
    assert len(got) == 8 and {o.value for o in got} == {0}


@pytest.mark.parametrize(
    "values",
    [
        [{"date": {"year": 2025, "month": 10, "day": 1}, "value": 4}],
        [{"date": {"year": 2025, "month": 10, "day": 1}, "value": "4.5"}],
        [{"date": "2025-10-01", "value": "4"}],
        [{"date": {"year": 2025, "month": 13, "day": 1}, "value": "4"}],
        [{"value": "4"}],
        [{"date": {"year": 2025, "month": 9, "day": 30}, "value": "4"}],  # outside the range asked
        "none",
    ],
)
def test_parse_multi_wrong_shape(values: Any) -> None:
    payload = {
        "multiDailyMetricTimeSeries": [
            {"dailyMetricTimeSeries": [{"dailyMetric": "WEBSITE_CLICKS", "timeSeries": {"datedValues": values}}]}
        ]
    }
    with pytest.raises(PayloadError):
        gbp.parse_multi(
            payload, account_id="1", since=date(2025, 10, 1), until=date(2025, 10, 2), collected_at=COLLECTED_AT,
            metrics=ALL,
        )  # fmt: skip


def test_range_params_are_camel_case_and_repeat_metrics() -> None:
    # Shape: https://developers.google.com/my-business/reference/performance/rest/v1/locations/fetchMultiDailyMetricsTimeSeries
    # Endpoints (dailyMetrics repeated, dailyRange.startDate.year ...)
    params = gbp.range_params(("WEBSITE_CLICKS", "CALL_CLICKS"), date(2025, 10, 1), date(2025, 10, 31))
    assert params == {
        "dailyMetrics": ["WEBSITE_CLICKS", "CALL_CLICKS"],
        "dailyRange.startDate.year": 2025,
        "dailyRange.startDate.month": 10,
        "dailyRange.startDate.day": 1,
        "dailyRange.endDate.year": 2025,
        "dailyRange.endDate.month": 10,
        "dailyRange.endDate.day": 31,
    }


# -- classifier --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "kind", "code"),
    [
        # Shape: https://developers.google.com/my-business/content/limits (Google envelope)
        (401, "unauthenticated.json", "auth", "unauthenticated"),
        (403, "permission_denied.json", "permission", "permission_denied"),
        (404, "not_found.json", "bad_request", "not_found"),
        (429, "resource_exhausted.json", "throttled", "quota"),
    ],
)
def test_classify(status: int, name: str, kind: str, code: str) -> None:
    body = fixture("google_business", name)
    verdict = gbp.classify(status, {}, body)
    assert verdict is not None and (verdict.kind, verdict.code) == (kind, code)
    assert body["error"]["message"] in verdict.message


def test_classify_unapproved_project_is_a_permission_problem() -> None:
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded ... limit: 0"}}
    verdict = gbp.classify(429, {}, body)
    assert verdict is not None and verdict.kind == "permission" and "access request form" in verdict.message


def test_classify_leaves_other_bodies_alone() -> None:
    assert gbp.classify(200, {}, fixture("google_business", "multi.json")) is None
    assert gbp.classify(502, {}, "<html>") is None


# -- collect against the sandbox ----------------------------------------------------------------


def test_collect_writes_exactly_the_rows(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox)
    since, until = window(ctx)
    out = collect(ctx, since, until, client := make_client("google_business"))
    assert rows(out) == expected(LOCATION, since, until)
    assert any(o.value == 0 for o in out.observations if o.metric == "calls")  # zero days were left out
    assert out.skipped == [] and client.requests_made == 1
    [req] = sandbox.requests_to(MULTI)
    assert req.path == f"/v1/locations/{LOCATION}:fetchMultiDailyMetricsTimeSeries"
    assert req.query["dailyMetrics"] == list(ALL)
    assert req.query["dailyRange.startDate.day"] == [str(since.day)]
    assert req.query["dailyRange.endDate.month"] == [str(until.month)]
    assert req.header("Authorization") == f"Bearer {world.TOKEN}"


def test_long_ranges_are_chunked(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox)
    until = datetime.now(UTC).date() - timedelta(days=1)
    since = until - timedelta(days=364)
    out = collect(ctx, since, until)
    assert len(sandbox.requests_to(MULTI)) == 3  # 180 + 180 + 5 days
    assert rows(out) == expected(LOCATION, since, until)


def test_location_without_data_gives_zeros(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox, "1000000000000000001")
    out = collect(ctx)
    assert len(out.observations) == 14 * 4 and {o.value for o in out.observations} == {0}


def test_a_refused_metric_is_skipped_not_fatal(sandbox: Sandbox) -> None:
    # the whole request is refused, then the per-metric probes: only CALL_CLICKS stays refused
    ctx = ctx_for(sandbox)
    since, until = window(ctx)
    original = part.BASES.pop("CALL_CLICKS")  # the sandbox now refuses it like a retired enum
    try:
        out = collect(ctx, since, until)
    finally:
        part.BASES["CALL_CLICKS"] = original
    assert [m for m, _ in out.skipped] == ["CALL_CLICKS"]
    assert {o.metric for o in out.observations} == {"impressions", "link_clicks", "direction_requests"}
    assert rows(out) == {r for r in expected(LOCATION, since, until) if r[0] != "calls"}


def test_competitor_is_refused_before_any_call(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="competitor's listing cannot be collected"):
        collect(ctx_for(sandbox, competitor=True))
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("location", "error", "message"),
    [
        ("4040000000000000001", BadRequest, "no location 4040000000000000001; check the id"),
        ("4030000000000000001", PermissionDenied, "must own or manage the listing"),
    ],
)
def test_location_errors(sandbox: Sandbox, location: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        collect(ctx_for(sandbox, location))


def test_the_own_variables_win_over_the_shared_credentials_file(sandbox: Sandbox, tmp_path: Path) -> None:
    unreadable = str(tmp_path / "never-read.json")  # a file set up for GA4 is not touched
    ctx = ctx_for(sandbox, google_credentials=unreadable)
    since, until = window(ctx)
    assert rows(collect(ctx, since, until)) == expected(LOCATION, since, until)
    assert sandbox.requests_to("/token") == []


def test_a_token_without_the_business_scope_is_refused(sandbox: Sandbox) -> None:
    bearer = issue_token(frozenset({"https://www.googleapis.com/auth/analytics.readonly"}))
    with pytest.raises(PermissionDenied, match="insufficient authentication scopes"):
        collect(ctx_for(sandbox, token=bearer))


def test_a_lasting_server_error_gives_googles_message(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox)
    sandbox.script(
        MULTI, *[Reply(500, {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}})] * 4
    )
    with pytest.raises(ServerError, match="Internal error"):
        collect(ctx)


# -- refresh flow --------------------------------------------------------------------------------


def test_expired_token_is_refreshed_and_stored(sandbox: Sandbox, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "wh.duckdb.tokens.json")
    ctx = ctx_for(sandbox, token=world.EXPIRED_TOKEN, store=store, **REFRESH)
    since, until = window(ctx)
    assert rows(collect(ctx, since, until)) == expected(LOCATION, since, until)
    assert len(sandbox.requests_to("/token")) == 1
    saved = store.get("google_business", LOCATION)
    assert saved is not None and saved.access_token.startswith("ya29.sandbox-")
    assert saved.refresh_token == REFRESH["refresh_token"] and saved.fresh()
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    sandbox.clear()
    collect(ctx)
    assert sandbox.requests_to("/token") == []


def test_dead_refresh_token_says_what_to_do(sandbox: Sandbox, tmp_path: Path) -> None:
    creds = {**REFRESH, "refresh_token": "revoked-1//rt-gbp-0123456789"}
    ctx = ctx_for(sandbox, token=None, store=TokenStore(tmp_path / "t.json"), **creds)
    with pytest.raises(AuthError) as err:
        collect(ctx)
    message = str(err.value)
    assert "refresh token was refused" in message and "SOCIALKPI_GOOGLE_BUSINESS_REFRESH_TOKEN" in message
    assert "revoked-1//rt-gbp-0123456789" not in message
    assert sandbox.requests_to(MULTI) == []


# -- check -------------------------------------------------------------------------------------


def test_check(sandbox: Sandbox) -> None:
    detail = gbp.check(make_client("google_business"), ctx_for(sandbox))
    assert detail == f"token valid; location {LOCATION} answers the Performance API"
    [req] = sandbox.requests_to(r":getDailyMetricsTimeSeries")
    assert req.query["dailyMetric"] == ["WEBSITE_CLICKS"]


@pytest.mark.parametrize(
    ("kw", "error"),
    [({"token": world.EXPIRED_TOKEN}, AuthError), ({"competitor": True}, BadRequest)],
)
def test_check_fails_clearly(sandbox: Sandbox, kw: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        gbp.check(make_client("google_business"), ctx_for(sandbox, **kw))


# -- issue 11: int64 strings, and what a time series says it is ---------------------------------------
# Shape: https://developers.google.com/my-business/reference/performance/rest/v1/TimeSeries (DatedValue
# "value": "string (int64 format)") and https://developers.google.com/my-business/reference/performance/rest/v1/locations/fetchMultiDailyMetricsTimeSeries
# Example response and "dailySubEntityType can
# appear as {}"; the fetchMultiDailyMetricsTimeSeries reference lists dailyMetrics and dailyRange as the asked
# metrics and range.
def multi(series: list[dict[str, Any]]) -> dict[str, Any]:
    return {"multiDailyMetricTimeSeries": [{"dailyMetricTimeSeries": series}]}


def clicks(value: Any, **extra: Any) -> dict[str, Any]:
    dated = [{"date": {"year": 2025, "month": 10, "day": 1}, "value": value}]
    return {"dailyMetric": "WEBSITE_CLICKS", "timeSeries": {"datedValues": dated}, **extra}


PARSE_OCT = {"account_id": "1", "since": date(2025, 10, 1), "until": date(2025, 10, 1), "collected_at": COLLECTED_AT}


@pytest.mark.parametrize("value", ["²", "٤", "-1", "1e5", " 4", "4,0", True])
def test_a_value_that_is_no_int64_string_is_refused(value: Any) -> None:
    # "²" and "٤" (Arabic-Indic four) pass str.isdigit(); int() then fails or reads a foreign digit
    with pytest.raises(PayloadError, match="WEBSITE_CLICKS on 2025-10-01 is .*not a count"):
        gbp.parse_multi(multi([clicks(value)]), **PARSE_OCT, metrics=("WEBSITE_CLICKS",))


def test_an_int64_string_is_the_count() -> None:
    rows = gbp.parse_multi(multi([clicks("12")]), **PARSE_OCT, metrics=("WEBSITE_CLICKS",))
    assert [(o.metric, o.value) for o in rows] == [("link_clicks", 12)] and type(rows[0].value) is int


def test_a_series_of_a_metric_not_asked_is_refused() -> None:
    series = {**clicks("4"), "dailyMetric": "BUSINESS_FOOD_ORDERS"}
    with pytest.raises(PayloadError, match="answered dailyMetric 'BUSINESS_FOOD_ORDERS'"):
        gbp.parse_multi(multi([series]), **PARSE_OCT, metrics=("WEBSITE_CLICKS",))


def test_a_series_broken_down_by_day_of_week_is_refused() -> None:
    weekly = clicks("4", dailySubEntityType={"dayOfWeek": "MONDAY"})
    with pytest.raises(PayloadError, match="answered dailySubEntityType"):
        gbp.parse_multi(multi([weekly]), **PARSE_OCT, metrics=("WEBSITE_CLICKS",))
    empty = clicks("4", dailySubEntityType={})  # the docs' empty object declares nothing
    assert [o.value for o in gbp.parse_multi(multi([empty]), **PARSE_OCT, metrics=("WEBSITE_CLICKS",))] == [4]


def test_the_sandbox_answering_a_metric_not_asked_fails_the_account(sandbox: Sandbox) -> None:
    day = datetime.now(UTC).date() - timedelta(days=3)
    dated = [{"date": {"year": day.year, "month": day.month, "day": day.day}, "value": "9"}]
    sandbox.script(
        MULTI, Reply(200, multi([{"dailyMetric": "BUSINESS_BOOKINGS", "timeSeries": {"datedValues": dated}}]))
    )
    with make_client("google_business", gbp.classify) as client, pytest.raises(PayloadError, match="BUSINESS_BOOKINGS"):
        gbp.collect(client, ctx_for(sandbox), since=day, until=day)
