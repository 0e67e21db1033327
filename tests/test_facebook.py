"""Facebook Pages collector: parsers on doc-shaped payloads, the classifier, and collect() against the sandbox."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from collectors import facebook as fb
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import facebook as sandbox_fb
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests import together_part
from tests.conftest import COLLECTED_AT, days, fixture, make_client, make_ctx

PAGE = "104512345678901"  # Corner Bakery (own Page)
RIVAL = "209876543210987"  # Rival Patisserie (competitor=True in the sandbox world)
TODAY = date(2026, 3, 10)  # COLLECTED_AT read in Europe/Paris


def rows_by_key(rows: list[Any]) -> dict[tuple[str, date], Any]:
    keyed = {(o.metric, o.observed_on): o for o in rows}
    assert len(keyed) == len(rows), "two rows share one (metric, day) key"
    return keyed


def run(sandbox: Sandbox, since: date, until: date, page: str = PAGE, **ctx: Any) -> Any:
    client = make_client("facebook", classify=fb.classify)
    with client:
        return fb.collect(client, make_ctx("facebook", page, sandbox.url, **ctx), since=since, until=until), client


def asked_metrics(sandbox: Sandbox) -> list[list[str]]:
    return [r.query["metric"][0].split(",") for r in sandbox.requests_to(r"/insights$")]


META_ERROR = {"type": "OAuthException", "fbtrace_id": "AbCdEf12345"}


def meta_error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "code": code, **META_ERROR, **extra}}


# -- parsers ---------------------------------------------------------------------------------------


def test_parse_page_gives_todays_followers() -> None:
    # Shape: https://developers.facebook.com/docs/graph-api/reference/page/insights/ "Page fields"
    rows = fb.parse_page(fixture("facebook", "page.json"), account_id=PAGE, day=TODAY, collected_at=COLLECTED_AT)
    assert [(o.metric, o.observed_on, o.value, o.source_metric) for o in rows] == [
        ("followers", TODAY, 4821, "followers_count")
    ]
    assert rows[0].platform == "facebook" and rows[0].account_id == PAGE and rows[0].collected_at == COLLECTED_AT


def test_parse_insights_doc_example() -> None:
    # Shape: https://developers.facebook.com/docs/graph-api/reference/page/insights/ "Page insights (two metrics,
    # period=day, since=2026-03-01,
    # until=2026-03-03)": the first end_time is since + 1 day at 08:00 GMT, so 03-01 and 03-02.
    rows = fb.parse_insights(
        fixture("facebook", "insights.json"),
        account_id=PAGE,
        since=date(2026, 3, 1),
        until=date(2026, 3, 2),
        collected_at=COLLECTED_AT,
    )
    got = {(o.metric, o.observed_on): (o.value, o.source_metric) for o in rows}
    assert got == {
        ("impressions", date(2026, 3, 1)): (312, "page_media_view"),
        ("impressions", date(2026, 3, 2)): (287, "page_media_view"),
        ("followers_gained", date(2026, 3, 1)): (4, "page_daily_follows_unique"),
        ("followers_gained", date(2026, 3, 2)): (1, "page_daily_follows_unique"),
    }


@pytest.mark.parametrize(
    ("payload_file", "since", "base"),
    [
        ("insights_dst_spring.json", date(2026, 3, 6), 401),  # PST -> PDT on 2026-03-08
        ("insights_dst_autumn.json", date(2026, 10, 30), 501),  # PDT -> PST on 2026-11-01
    ],
)
def test_parse_insights_dates_across_dst(payload_file: str, since: date, base: int) -> None:
    # Shape: https://developers.facebook.com/docs/graph-api/reference/page/insights/;
    # end_time prints T07:00:00+0000 in PDT and T08:00:00+0000 in PST (metrics.md "Whose day")
    until = since + timedelta(days=4)
    rows = fb.parse_insights(
        fixture("facebook", payload_file), account_id=PAGE, since=since, until=until, collected_at=COLLECTED_AT
    )
    assert sorted((o.observed_on, o.value) for o in rows) == [(d, base + i) for i, d in enumerate(days(since, until))]


@pytest.mark.parametrize(
    ("end_time", "day"),
    [
        ("2026-03-02T08:00:00+0000", date(2026, 3, 1)),
        ("2026-03-08T08:00:00+0000", date(2026, 3, 7)),
        ("2026-03-09T07:00:00+0000", date(2026, 3, 8)),  # 24 h before is 2026-03-07 23:00 PST
        ("2026-11-01T07:00:00+0000", date(2026, 10, 31)),
        ("2026-11-02T08:00:00+0000", date(2026, 11, 1)),
    ],
)
def test_pacific_day(end_time: str, day: date) -> None:
    assert fb.pacific_day(end_time) == day


def test_parse_insights_fills_count_gaps_only() -> None:
    # Shape: https://developers.facebook.com/docs/graph-api/reference/page/insights/ (an omitted value, a missing day,
    # a breakdown object); docs/metrics.md: inside the asked
    # range a missing day is 0 for a count; reach (distinct) and followers (level) are never invented.
    since, until = date(2026, 3, 1), date(2026, 3, 5)
    rows = fb.parse_insights(
        fixture("facebook", "insights_gaps.json"), account_id=PAGE, since=since, until=until, collected_at=COLLECTED_AT
    )
    got = {(o.metric, o.observed_on): o.value for o in rows}
    assert got == {
        ("impressions", date(2026, 3, 1)): 312,
        ("impressions", date(2026, 3, 2)): 0,  # value left out
        ("impressions", date(2026, 3, 3)): 0,  # day left out
        ("impressions", date(2026, 3, 5)): 0,
        # 03-04 is a breakdown object: no total to store, and not a 0 either
        ("reach", date(2026, 3, 1)): 198,
        ("followers", date(2026, 3, 1)): 4815,
        ("followers", date(2026, 3, 4)): 4821,
    }


def test_parse_insights_drops_days_outside_the_range() -> None:
    rows = fb.parse_insights(
        fixture("facebook", "insights.json"),
        account_id=PAGE,
        since=date(2026, 3, 2),
        until=date(2026, 3, 2),
        collected_at=COLLECTED_AT,
    )
    assert {o.observed_on for o in rows} == {date(2026, 3, 2)}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        [],
        {"data": "page_media_view"},
        {"data": [{"name": "page_media_view", "period": "day"}]},
        {"data": [{"name": "page_media_view", "values": [{"value": 3}]}]},
        {"data": [{"name": "page_media_view", "values": [{"value": 3, "end_time": "2026-03-02"}]}]},
        {"data": [{"name": "page_media_view", "values": [{"value": "3", "end_time": "2026-03-02T08:00:00+0000"}]}]},
        {"data": [{"name": "page_media_view", "values": [{"value": True, "end_time": "2026-03-02T08:00:00+0000"}]}]},
    ],
    ids=["no-data", "list", "data-str", "no-values", "no-end-time", "bad-end-time", "str-value", "bool-value"],
)
def test_parse_insights_rejects_wrong_shapes(payload: Any) -> None:
    with pytest.raises(PayloadError):
        fb.parse_insights(
            payload, account_id=PAGE, since=date(2026, 3, 1), until=date(2026, 3, 1), collected_at=COLLECTED_AT
        )


@pytest.mark.parametrize("payload", [[], "x", {"followers_count": "4821"}, {"followers_count": None, "id": PAGE}])
def test_parse_page_shapes(payload: Any) -> None:
    if isinstance(payload, dict) and payload.get("followers_count") is None:
        assert fb.parse_page(payload, account_id=PAGE, day=TODAY, collected_at=COLLECTED_AT) == []
    else:
        with pytest.raises(PayloadError):
            fb.parse_page(payload, account_id=PAGE, day=TODAY, collected_at=COLLECTED_AT)


@pytest.mark.parametrize("name", ["page.json", "insights.json", "insights_gaps.json", "insights_dst_spring.json"])
def test_parsers_never_mutate_input(name: str) -> None:
    payload = fixture("facebook", name)
    before = copy.deepcopy(payload)
    if name == "page.json":
        fb.parse_page(payload, account_id=PAGE, day=TODAY, collected_at=COLLECTED_AT)
    else:
        fb.parse_insights(
            payload, account_id=PAGE, since=date(2026, 3, 1), until=date(2026, 3, 10), collected_at=COLLECTED_AT
        )
    assert payload == before


# -- the metric lists ----------------------------------------------------------------------------


def test_metric_lists_hold_only_current_metrics() -> None:
    grouped = [m for group in fb.GROUPS for m in group]
    assert sorted(grouped) == sorted(fb.METRICS), "every mapped metric in exactly one group"
    assert not set(fb.METRICS) & fb.REMOVED
    assert {
        "page_impressions",
        "page_impressions_unique",
        "page_fans",
        "page_fan_adds",
        "page_engaged_users",
    } <= fb.REMOVED
    assert set(fb.METRICS.values()) == {
        "followers",
        "impressions",
        "reach",
        "engagements",
        "profile_views",
        "followers_gained",
        "followers_lost",
    }


# -- classifier --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "kind", "code"),
    [
        (400, fixture("facebook", "error_expired.json")["error"], "auth", "token_invalid"),  # Meta's envelope
        (400, {"code": 190, "message": "Invalid OAuth access token"}, "auth", "token_invalid"),
        (400, {"code": 190, "error_subcode": 460, "message": "password changed"}, "auth", "token_invalid"),
        (400, {"code": 102, "message": "Session key invalid"}, "auth", "token_invalid"),
        (400, {"code": 2500, "message": "An active access token must be used"}, "auth", "token_invalid"),
        (403, {"code": 10, "message": "(#10) Application does not have permission for this action"}, "permission", ""),
        (400, {"code": 200, "message": "(#200) Permissions error"}, "permission", ""),
        (400, {"code": 299, "message": "(#299) Requires extended permission"}, "permission", ""),
        (
            400,
            {"code": 100, "message": "(#100) The value must be a valid insights metric"},
            "bad_request",
            "invalid_metric",
        ),
        (
            400,
            {"code": 100, "error_subcode": 33, "message": "Object with ID 'x' does not exist"},
            "bad_request",
            "unknown_object",
        ),
        (400, {"code": 100, "message": "(#100) Invalid parameter"}, "bad_request", "invalid_parameter"),
        (
            400,
            {"code": 1, "message": "There cannot be more than 93 days (8035200 s) between since and until"},
            "bad_request",
            "range_too_long",
        ),
        (500, {"code": 1, "message": "An unknown error occurred", "is_transient": True}, "server", ""),
        (
            400,
            {"code": 2, "message": "An unexpected error has occurred. Please retry your request later."},
            "server",
            "",
        ),
        (400, {"code": 9999, "message": "odd", "is_transient": True}, "server", ""),
        (400, {"code": 368, "message": "temporarily blocked"}, "throttled", "blocked"),
    ]
    + [(403, {"code": c, "message": "rate limited"}, "throttled", "") for c in (4, 17, 32, 341, 613, 80001)],
)
def test_classify_reads_the_envelope_not_the_status(status: int, error: dict[str, Any], kind: str, code: str) -> None:
    verdict = fb.classify(status, {}, {"error": error})
    assert verdict is not None and (verdict.kind, verdict.code) == (kind, code)
    assert error["message"] in verdict.message


@pytest.mark.parametrize("body", [None, {"data": []}, "Service Unavailable", {"error": "plain"}])
def test_classify_without_envelope_falls_back(body: Any) -> None:
    assert fb.classify(503, {}, body) is None


BUC = "X-Business-Use-Case-Usage"


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        (
            {BUC: json.dumps({PAGE: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 3}]})},
            180.0,
        ),
        (
            {
                BUC.lower(): json.dumps(
                    {
                        PAGE: [
                            {"type": "pages", "estimated_time_to_regain_access": 1},
                            {"type": "pages", "estimated_time_to_regain_access": 7},
                        ]
                    }
                )
            },
            420.0,
        ),
        ({BUC: json.dumps({PAGE: [{"estimated_time_to_regain_access": 0}]}), "Retry-After": "9"}, None),
        (
            {"X-App-Usage": json.dumps({"call_count": 100, "total_time": 25, "total_cputime": 25}), "Retry-After": "7"},
            7.0,
        ),
        ({"X-App-Usage": json.dumps({"call_count": 100, "estimated_time_to_regain_access": 2})}, 120.0),
        ({BUC: "not json", "Retry-After": "5"}, 5.0),
        ({}, None),
    ],
)
def test_throttle_wait(headers: dict[str, str], wait: float | None) -> None:
    verdict = fb.classify(400, headers, {"error": {"code": 80001, "message": "too many calls"}})
    assert verdict is not None and verdict.kind == "throttled" and verdict.retry_after == wait


# -- the sandbox answers like the Graph API ------------------------------------------------------


def graph(sandbox: Sandbox, path: str, **params: str) -> Any:
    client = make_client("facebook", classify=fb.classify)
    client.auth_headers = lambda: {"Authorization": f"Bearer {TOKEN}"}
    with client:
        return client.get_json(f"{sandbox.url}/v26.0/{path}", params=params)


@pytest.mark.parametrize("metric", ["page_impressions", "page_impressions_unique", "page_fans", "page_engaged_users"])
def test_sandbox_refuses_removed_metrics(sandbox: Sandbox, metric: str) -> None:
    with pytest.raises(BadRequest) as err:
        graph(sandbox, f"{PAGE}/insights", metric=f"page_media_view,{metric}", period="day")
    assert err.value.code == "invalid_metric" and err.value.status == 400


@pytest.mark.parametrize(
    ("path", "params", "error", "code"),
    [
        (
            f"{PAGE}/insights",
            {"metric": "page_media_view", "since": "2026-01-01", "until": "2026-04-05"},
            BadRequest,
            "range_too_long",
        ),
        ("123456789", {"fields": "id"}, BadRequest, "unknown_object"),
        (f"{RIVAL}/insights", {"metric": "page_media_view"}, PermissionDenied, ""),
    ],
)
def test_sandbox_errors(sandbox: Sandbox, path: str, params: dict[str, str], error: type, code: str) -> None:
    with pytest.raises(error) as err:
        graph(sandbox, path, **params)
    assert err.value.code == code
    assert len(sandbox.requests) == 1, "a refusal is not retried"


def test_sandbox_paging_links_embed_the_token_like_meta(sandbox: Sandbox) -> None:
    body = graph(sandbox, f"{PAGE}/insights", metric="page_media_view", since="2026-03-01", until="2026-03-03")
    assert [v["end_time"] for v in body["data"][0]["values"]] == [
        "2026-03-02T08:00:00+0000",
        "2026-03-03T08:00:00+0000",
    ]
    assert f"access_token={TOKEN}" in body["paging"]["next"]


# -- collect() against the sandbox ------------------------------------------------------------


def test_collect_gives_the_rows_metrics_md_describes(sandbox: Sandbox) -> None:
    since, until = date(2026, 3, 1), date(2026, 3, 5)
    out, client = run(sandbox, since, until)
    got = rows_by_key(out.observations)
    expected = {
        (fb.METRICS[m], d): (m, sandbox_fb.value_for(PAGE, m, d)) for m in fb.METRICS for d in days(since, until)
    }
    expected[("followers", TODAY)] = ("followers_count", sandbox_fb.page_fields(PAGE)["followers_count"])
    assert {k: (o.source_metric, o.value) for k, o in got.items()} == expected
    assert {(o.platform, o.account_id, o.collected_at) for o in out.observations} == {("facebook", PAGE, COLLECTED_AT)}
    assert out.skipped == []
    assert client.requests_made == 1 + len(fb.GROUPS)


@pytest.mark.parametrize(
    ("since", "until"), [(date(2026, 3, 5), date(2026, 3, 12)), (date(2026, 10, 28), date(2026, 11, 4))]
)
def test_collect_dates_days_across_dst(sandbox: Sandbox, since: date, until: date) -> None:
    out, _ = run(sandbox, since, until)
    impressions = {o.observed_on: o.value for o in out.observations if o.metric == "impressions"}
    assert impressions == {d: sandbox_fb.value_for(PAGE, "page_media_view", d) for d in days(since, until)}


def test_collect_chunks_long_ranges_at_90_days(sandbox: Sandbox) -> None:
    since, until = date(2025, 9, 1), date(2026, 2, 28)  # 181 days: 90 + 90 + 1
    out, _ = run(sandbox, since, until)
    windows = sorted(
        {
            (date.fromisoformat(r.query["since"][0]), date.fromisoformat(r.query["until"][0]))
            for r in sandbox.requests_to(r"/insights$")
        }
    )
    assert [(b - a).days for a, b in windows] == [90, 90, 1]
    assert windows[0][0] == since and windows[-1][1] == until + timedelta(days=1)
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False)), "no gap, no overlap"
    got = rows_by_key(out.observations)
    for metric in fb.METRICS.values():
        assert sorted(d for m, d in got if m == metric and d != TODAY) == days(since, until)


def test_collect_never_asks_a_removed_metric(sandbox: Sandbox) -> None:
    run(sandbox, date(2025, 11, 1), date(2026, 3, 9))
    asked = {m for metrics in asked_metrics(sandbox) for m in metrics}
    assert asked == set(fb.METRICS)
    assert not asked & fb.REMOVED


def test_a_refused_metric_is_skipped_and_the_others_land(sandbox: Sandbox) -> None:
    refusal = Reply(400, meta_error(100, "(#100) The value must be a valid insights metric"))
    # the first group (its groups are asked at once: told apart by their metrics), then page_media_view alone
    sandbox.script(r"/insights$", refusal, refusal, when=lambda r: "page_media_view" in r.query["metric"][0].split(","))
    since, until = date(2026, 1, 1), date(2026, 4, 30)  # two chunks
    out, _ = run(sandbox, since, until)
    assert [m for m, _ in out.skipped] == ["page_media_view"]
    assert "valid insights metric" in out.skipped[0][1]
    metrics = {o.metric for o in out.observations}
    assert "impressions" not in metrics
    assert metrics == set(fb.METRICS.values()) - {"impressions"}
    reach = [o for o in out.observations if o.metric == "reach"]
    assert len(reach) == len(days(since, until))
    asking_views = [m for m in asked_metrics(sandbox) if "page_media_view" in m]
    assert asking_views == [list(fb.GROUPS[0]), ["page_media_view"]], "not asked again in the next chunk"


def test_a_chunks_metric_groups_are_in_flight_at_the_same_time() -> None:
    together_part.reset(len(fb.GROUPS))
    with Sandbox(parts=("tests.together_part", "socialkpi.sandbox.facebook")) as sandbox:
        out, client = run(sandbox, date(2026, 3, 1), date(2026, 3, 3))  # one after the other: "not in flight together"
        assert sorted(asked_metrics(sandbox)) == sorted(list(g) for g in fb.GROUPS)
    assert sorted(together_part.arrived) == list(range(len(fb.GROUPS)))  # the last found the others waiting
    assert len(out.observations) == 1 + 3 * len(fb.METRICS) and out.skipped == []
    assert client.requests_made == 1 + len(fb.GROUPS)  # every request counted, from every thread


@pytest.mark.parametrize(
    ("token", "token_env"),
    [
        (EXPIRED_TOKEN, "SOCIALKPI_FACEBOOK_TOKEN"),
        (EXPIRED_TOKEN, "FB_TOKEN_SHOP2"),
        ("wrong-token-1234", "FB_TOKEN_SHOP2"),
    ],
)
def test_a_dead_token_names_the_variable_and_not_the_token(sandbox: Sandbox, token: str, token_env: str) -> None:
    ctx = make_ctx("facebook", PAGE, sandbox.url, token=token)
    ctx = replace(ctx, credentials=replace(ctx.credentials, token_env=token_env))
    client = make_client("facebook", classify=fb.classify)
    with client, pytest.raises(AuthError) as err:
        fb.collect(client, ctx, since=date(2026, 3, 1), until=date(2026, 3, 2))
    message = str(err.value)
    assert token_env in message and "Page access token" in message
    assert token not in message and token not in err.value.url
    assert len(sandbox.requests) == 1, "an auth failure is not retried"
    if token == EXPIRED_TOKEN:
        assert "Session has expired" in message


@pytest.mark.parametrize(("code", "status"), [(4, 403), (32, 400), (80001, 400)])
def test_throttling_is_retried_then_ok(sandbox: Sandbox, code: int, status: int) -> None:
    usage = {
        PAGE: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 40,
                "total_time": 60,
                "estimated_time_to_regain_access": 0,
            }
        ]
    }
    sandbox.script(r"/insights$", Reply(status, meta_error(code, f"(#{code}) rate limited"), {BUC: json.dumps(usage)}))
    out, client = run(sandbox, date(2026, 3, 1), date(2026, 3, 3))
    assert len(client.waits) == 1
    assert len(sandbox.requests_to(r"/insights$")) == len(fb.GROUPS) + 1
    assert len(out.observations) == 1 + 3 * len(fb.METRICS)


@pytest.mark.parametrize(
    "fault",
    [
        Reply(503, "Service Unavailable"),
        Reply(500, meta_error(2, "An unexpected error has occurred.", is_transient=True)),
        Reply.drop(),
        Reply.truncated({"data": []}),
    ],
    ids=["503", "code-2", "dropped", "truncated"],
)
@pytest.mark.parametrize("path", [rf"/{PAGE}$", r"/insights$"])
def test_transient_faults_are_retried(sandbox: Sandbox, fault: Reply, path: str) -> None:
    sandbox.script(path, fault)
    out, client = run(sandbox, date(2026, 3, 1), date(2026, 3, 3))
    assert len(client.waits) == 1
    assert len(out.observations) == 1 + 3 * len(fb.METRICS)


@pytest.mark.parametrize(
    "reply", [Reply.raw('{"data": [{"name": "page_media_view", '), Reply(200, {"data": "page_media_view"})]
)
def test_malformed_insights_are_a_payload_error(sandbox: Sandbox, reply: Reply) -> None:
    sandbox.script(r"/insights$", reply)
    with pytest.raises(PayloadError):
        run(sandbox, date(2026, 3, 1), date(2026, 3, 3))


def test_the_token_travels_in_a_header_never_in_a_url(sandbox: Sandbox) -> None:
    run(sandbox, date(2026, 1, 1), date(2026, 4, 30))
    assert len(sandbox.requests) == 1 + 2 * len(fb.GROUPS)
    for request in sandbox.requests:
        assert "access_token" not in request.query
        assert TOKEN not in request.path + json.dumps(request.query)
        assert request.header("Authorization") == f"Bearer {TOKEN}"


def test_paging_next_is_not_followed(sandbox: Sandbox) -> None:
    run(sandbox, date(2026, 3, 1), date(2026, 3, 5))
    # The sandbox's next link asks since/until as Unix seconds; the collector only ever sends dates: one request
    # per metric group for the one chunk, each with the dates asked (none made would not pass).
    asked = [
        (r.query["metric"][0], r.query["since"][0], r.query["until"][0]) for r in sandbox.requests_to(r"/insights$")
    ]
    assert sorted(asked) == sorted((",".join(group), "2026-03-01", "2026-03-06") for group in fb.GROUPS)


def test_a_competitor_gives_followers_only(sandbox: Sandbox) -> None:
    out, _ = run(sandbox, date(2026, 3, 1), date(2026, 3, 5), page=RIVAL, competitor=True)
    assert [(o.metric, o.observed_on, o.value) for o in out.observations] == [
        ("followers", TODAY, sandbox_fb.page_fields(RIVAL)["followers_count"])
    ]
    assert sandbox.requests_to(r"/insights$") == []


def test_todays_snapshot_and_the_daily_series_never_collide(sandbox: Sandbox) -> None:
    out, _ = run(sandbox, date(2026, 3, 8), TODAY)  # asked up to today: page_follows has a 03-10 value
    got = rows_by_key(out.observations)
    assert got[("followers", TODAY)].source_metric == "followers_count"
    assert got[("followers", date(2026, 3, 9))].source_metric == "page_follows"
    assert got[("impressions", TODAY)].value == sandbox_fb.value_for(PAGE, "page_media_view", TODAY)


# -- issue 11: counts, and the period an insights entry declares -------------------------------------
# Shape: https://developers.facebook.com/docs/graph-api/reference/page/insights/ "Page insights (two metrics,
# period=day, ...)": data[{name, "period":
# "day", values[{value, end_time}], title, description, id}]; the same page: period "day | week | days_28"
# (metric-dependent; some are lifetime); week/days_28 are rolling windows: never summed as days.
@pytest.mark.parametrize("period", ["week", "days_28", "lifetime"])
def test_an_entry_of_another_period_is_refused_not_stored_as_a_day(period: str) -> None:
    payload = fixture("facebook", "insights.json")
    payload["data"][0]["period"] = period
    with pytest.raises(PayloadError, match=f"insights page_media_view answered period '{period}', but period 'day'"):
        fb.parse_insights(
            payload, account_id=PAGE, since=date(2026, 3, 1), until=date(2026, 3, 2), collected_at=COLLECTED_AT
        )


@pytest.mark.parametrize("value", [-5, 3.5, float("nan"), float("inf"), "3"])
def test_a_value_that_is_no_count_is_refused(value: Any) -> None:
    payload = fixture("facebook", "insights.json")
    payload["data"][0]["values"][0]["value"] = value
    with pytest.raises(PayloadError, match="page_media_view on 2026-03-01 is .*not a count"):
        fb.parse_insights(
            payload, account_id=PAGE, since=date(2026, 3, 1), until=date(2026, 3, 2), collected_at=COLLECTED_AT
        )


def test_followers_count_must_be_a_count() -> None:
    assert [o.value for o in fb.parse_page({"id": PAGE, "followers_count": 4821.0}, account_id=PAGE, day=TODAY,
                                           collected_at=COLLECTED_AT)] == [4821]  # fmt: skip
    with pytest.raises(PayloadError, match="followers_count is -1, not a count"):
        fb.parse_page({"id": PAGE, "followers_count": -1}, account_id=PAGE, day=TODAY, collected_at=COLLECTED_AT)


def test_the_sandbox_answering_a_week_fails_the_account(sandbox: Sandbox) -> None:
    weekly = fixture("facebook", "insights.json")
    for entry in weekly["data"]:
        entry["period"] = "week"
    sandbox.script(r"/insights$", Reply(200, weekly))
    with pytest.raises(PayloadError, match="answered period 'week'"):
        run(sandbox, date(2026, 3, 1), date(2026, 3, 2))
