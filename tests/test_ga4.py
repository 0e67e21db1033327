"""GA4: the pure parser on documented payloads, the classifier, and collect() against the sandbox."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from collectors import ga4
from collectors.errors import BadRequest, PayloadError, PermissionDenied, RateLimited
from collectors.http import Client, RetryPolicy
from collectors.observation import Observation
from socialkpi.sandbox import Reply, Request, Sandbox
from socialkpi.sandbox import ga4 as sb_ga4
from socialkpi.sandbox import google_oauth as sb_google
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests import together_part
from tests.conftest import COLLECTED_AT, FAST, days, fixture, make_client, make_ctx

PROPERTY = "312345678"
REPORT = r":runReport$"
SOCIAL = "[Organic Social+Paid Social]"


def obs(metric: str, day: date, value: float, source: str, account: str = "42") -> Observation:
    return Observation("ga4", account, metric, day, value, source, COLLECTED_AT)


def by_key(rows: list[Observation]) -> dict[tuple[str, date], Observation]:
    keyed = {(o.metric, o.observed_on): o for o in rows}
    assert len(keyed) == len(rows), "one row per (metric, day)"
    return keyed


# -- parser ------------------------------------------------------------------------------------
# Shape: https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/RunReportResponse Example
# response (dimensionHeaders, typed metricHeaders, rows of
# string values, rowCount, metadata{currencyCode,timeZone}, propertyQuota, kind).

OCT1, OCT2, OCT3 = date(2025, 10, 1), date(2025, 10, 2), date(2025, 10, 3)


def test_parse_date_report_maps_totals_and_fills_the_omitted_day_with_zero() -> None:
    rows = ga4.parse_report(
        fixture("ga4", "run_report_date.json"), account_id="42", since=OCT1, until=OCT3, collected_at=COLLECTED_AT
    )
    assert sorted(rows, key=lambda o: (o.observed_on, o.metric)) == [
        obs("page_views", OCT1, 412, "screenPageViews"),
        obs("visitors", OCT1, 118, "activeUsers"),
        obs("visits", OCT1, 137, "sessions"),
        obs("page_views", OCT2, 0, "screenPageViews"),
        obs("visitors", OCT2, 0, "activeUsers"),
        obs("visits", OCT2, 0, "sessions"),
        obs("page_views", OCT3, 389, "screenPageViews"),
        obs("visitors", OCT3, 104, "activeUsers"),
        obs("visits", OCT3, 129, "sessions"),
    ]
    assert all(type(o.value) is int for o in rows)  # TYPE_INTEGER strings become ints


def test_parse_channel_report_sums_organic_and_paid_social_only() -> None:
    rows = by_key(
        ga4.parse_report(
            fixture("ga4", "run_report_channels.json"),
            account_id="42",
            since=OCT1,
            until=OCT3,
            collected_at=COLLECTED_AT,
        )
    )
    assert {k: o.value for k, o in rows.items()} == {
        ("social_visits", OCT1): 17 + 6,
        ("social_page_views", OCT1): 42 + 9,
        ("social_visits", OCT2): 0,  # only Direct that day
        ("social_page_views", OCT2): 0,
        ("social_visits", OCT3): 23,  # "(other)" is not social
        ("social_page_views", OCT3): 58,
    }
    assert rows[("social_visits", OCT1)].source_metric == "sessions" + SOCIAL
    assert rows[("social_page_views", OCT1)].source_metric == "screenPageViews" + SOCIAL


def test_parse_report_without_rows_gives_zeros_for_past_days() -> None:
    rows = ga4.parse_report(
        fixture("ga4", "run_report_empty.json"), account_id="42", since=OCT1, until=OCT2, collected_at=COLLECTED_AT
    )
    assert len(rows) == 6 and {o.value for o in rows} == {0}


def test_parse_report_leaves_out_empty_days_not_over_in_the_property_time_zone() -> None:
    payload = fixture("ga4", "run_report_date.json")
    # 23:30 UTC on Oct 2 is already Oct 3 in Berlin: Oct 3 is "today" there, Oct 2 is over.
    late = datetime(2025, 10, 2, 23, 30, tzinfo=UTC)
    del payload["rows"][1]  # no row for Oct 3
    rows = ga4.parse_report(payload, account_id="42", since=OCT1, until=date(2025, 10, 4), collected_at=late)
    assert sorted({o.observed_on for o in rows}) == [OCT1, OCT2]
    payload["metadata"]["timeZone"] = "America/Los_Angeles"  # still Oct 2 there: Oct 2 not over
    rows = ga4.parse_report(payload, account_id="42", since=OCT1, until=date(2025, 10, 4), collected_at=late)
    assert sorted({o.observed_on for o in rows}) == [OCT1]


def test_parse_report_keeps_only_days_inside_the_range() -> None:
    rows = ga4.parse_report(
        fixture("ga4", "run_report_date.json"), account_id="42", since=OCT2, until=OCT2, collected_at=COLLECTED_AT
    )
    assert {(o.observed_on, o.value) for o in rows} == {(OCT2, 0)}


def test_parse_report_does_not_mutate_its_input() -> None:
    payload = fixture("ga4", "run_report_channels.json")
    before = copy.deepcopy(payload)
    ga4.parse_report(payload, account_id="42", since=OCT1, until=OCT3, collected_at=COLLECTED_AT)
    assert payload == before


def test_parse_report_casts_by_metric_type() -> None:
    payload = fixture("ga4", "run_report_date.json")
    payload["metricHeaders"][0]["type"] = "TYPE_FLOAT"
    payload["rows"][0]["metricValues"][0]["value"] = "412.5"
    rows = by_key(ga4.parse_report(payload, account_id="42", since=OCT1, until=OCT1, collected_at=COLLECTED_AT))
    assert rows[("page_views", OCT1)].value == 412.5
    assert type(rows[("visits", OCT1)].value) is int


def source_report(rows: list[tuple[str, str, str, int]], time_zone: str = "Europe/Berlin") -> dict[str, Any]:
    """A ``[date, sessionSource, sessionMedium]`` x ``sessions`` RunReportResponse (shape: https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/properties/runReport)."""
    return {
        "dimensionHeaders": [{"name": "date"}, {"name": "sessionSource"}, {"name": "sessionMedium"}],
        "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}],
        "rows": [
            {
                "dimensionValues": [{"value": day}, {"value": source}, {"value": medium}],
                "metricValues": [{"value": str(sessions)}],
            }
            for day, source, medium, sessions in rows
        ],
        "rowCount": len(rows),
        "metadata": {"currencyCode": "EUR", "timeZone": time_zone},
        "kind": "analyticsData#runReport",
    }


SOURCE_ROWS = [
    ("20251001", "l.facebook.com", "referral", 17),
    ("20251001", "instagram", "social", 6),
    ("20251001", "lm.facebook.com", "referral", 3),
    ("20251001", "facebook", "cpc", 5),  # Paid Social: still Facebook
    ("20251001", "google", "organic", 61),
    ("20251001", "(direct)", "(none)", 53),
    ("20251001", "newsletter", "email", 4),
    ("20251002", "t.co", "referral", 2),
    ("20251002", "android-app://com.linkedin.android", "referral", 1),
    ("20251002", "lnkd.in", "referral", 2),
    ("20251002", "(direct)", "(none)", 48),
    ("20251003", "pinterest.com", "referral", 7),
    ("20251003", "out.reddit.com", "referral", 1),
    ("20251003", "youtube.com", "referral", 3),
    ("20251003", "l.facebook.com", "referral", 9),
    ("20250930", "instagram", "social", 40),  # outside the range: neither counted nor a reason to write
]


def test_parse_source_report_sums_sessions_per_network() -> None:
    rows = by_key(
        ga4.parse_report(source_report(SOURCE_ROWS), account_id="42", since=OCT1, until=OCT3, collected_at=COLLECTED_AT)
    )
    # hand-summed from SOURCE_ROWS; search, direct and e-mail are no network
    assert {k: o.value for k, o in rows.items()} == {
        ("visits_from_facebook", OCT1): 17 + 3 + 5,
        ("visits_from_facebook", OCT2): 0,
        ("visits_from_facebook", OCT3): 9,
        ("visits_from_instagram", OCT1): 6,
        ("visits_from_instagram", OCT2): 0,
        ("visits_from_instagram", OCT3): 0,
        ("visits_from_x", OCT1): 0,
        ("visits_from_x", OCT2): 2,
        ("visits_from_x", OCT3): 0,
        ("visits_from_linkedin", OCT1): 0,
        ("visits_from_linkedin", OCT2): 1 + 2,
        ("visits_from_linkedin", OCT3): 0,
        ("visits_from_pinterest", OCT1): 0,
        ("visits_from_pinterest", OCT2): 0,
        ("visits_from_pinterest", OCT3): 7,
        ("visits_from_other", OCT1): 0,
        ("visits_from_other", OCT2): 0,
        ("visits_from_other", OCT3): 1,
        ("visits_from_youtube", OCT1): 0,
        ("visits_from_youtube", OCT2): 0,
        ("visits_from_youtube", OCT3): 3,
    }
    assert rows[("visits_from_facebook", OCT1)].source_metric == "sessions[facebook sources]"
    assert all(type(o.value) is int for o in rows.values())


def test_parse_source_report_writes_no_network_without_visits_in_the_range() -> None:
    # instagram's only visits are on Sep 30, outside Oct 1..2; inside it, direct and search only
    payload = source_report(
        [
            ("20250930", "instagram", "social", 40),
            ("20251001", "(direct)", "(none)", 53),
            ("20251002", "google", "organic", 12),
            ("20251002", "instagram", "social", 0),  # a zero row is no visit either
        ]
    )
    assert ga4.parse_report(payload, account_id="42", since=OCT1, until=OCT2, collected_at=COLLECTED_AT) == []
    empty = source_report([])
    del empty["rows"], empty["rowCount"]  # proto-JSON leaves both out when there is no data
    assert ga4.parse_report(empty, account_id="42", since=OCT1, until=OCT2, collected_at=COLLECTED_AT) == []


def test_parse_source_report_leaves_out_days_not_over() -> None:
    # 23:30 UTC on Oct 2 is Oct 3 in Berlin: Oct 3 is "today" there; a row for it makes it count, else not
    late = datetime(2025, 10, 2, 23, 30, tzinfo=UTC)
    payload = source_report([r for r in SOURCE_ROWS if r[0] != "20251003"])
    rows = ga4.parse_report(payload, account_id="42", since=OCT1, until=OCT3, collected_at=late)
    assert {o.observed_on for o in rows} == {OCT1, OCT2}
    rows = ga4.parse_report(source_report(SOURCE_ROWS), account_id="42", since=OCT1, until=OCT3, collected_at=late)
    assert by_key(rows)[("visits_from_pinterest", OCT3)].value == 7


def test_parse_source_report_does_not_mutate_its_input() -> None:
    payload = source_report(SOURCE_ROWS)
    before = copy.deepcopy(payload)
    ga4.parse_report(payload, account_id="42", since=OCT1, until=OCT3, collected_at=COLLECTED_AT)
    assert payload == before


def _broken(path: str, value: Any) -> Any:
    payload = fixture("ga4", "run_report_date.json")
    target = payload
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return payload


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param([], id="not-an-object"),
        pytest.param(_broken("rows", {"a": 1}), id="rows-not-a-list"),
        pytest.param(_broken("rows.0.dimensionValues.0", {"value": "2025-10-01"}), id="iso-date"),
        pytest.param(_broken("rows.0.metricValues.1", {"value": "many"}), id="not-a-number"),
        pytest.param(_broken("rows.0.metricValues.1", {"value": 137}), id="value-not-a-string"),
        pytest.param(_broken("rows.0.metricValues", [{"value": "1"}]), id="too-few-values"),
        pytest.param(_broken("dimensionHeaders", [{"name": "pagePath"}]), id="unknown-dimensions"),
        pytest.param(_broken("metricHeaders.2", {"name": "totalUsers", "type": "TYPE_INTEGER"}), id="no-activeUsers"),
        pytest.param(_broken("rows.0", "20251001"), id="row-not-an-object"),
    ],
)
def test_parse_report_rejects_a_wrong_shape(payload: Any) -> None:
    with pytest.raises(PayloadError):
        ga4.parse_report(payload, account_id="42", since=OCT1, until=OCT3, collected_at=COLLECTED_AT)


# -- classifier --------------------------------------------------------------------------------
def envelope(code: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


SERVICE_DISABLED = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}]


@pytest.mark.parametrize(
    ("status", "body", "kind", "retry_after", "says"),
    [
        (
            401,
            envelope(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
            "auth",
            None,
            "SOCIALKPI_GOOGLE_CREDENTIALS",
        ),
        (
            403,
            envelope(403, "PERMISSION_DENIED", "User does not have sufficient permissions for this property."),
            "permission",
            None,
            "as Viewer in GA4 property access management",
        ),
        (
            403,
            envelope(403, "PERMISSION_DENIED", "API has not been used.", details=SERVICE_DISABLED),
            "permission",
            None,
            "enable the Google Analytics Data API in the Cloud project",
        ),
        (
            429,
            envelope(429, "RESOURCE_EXHAUSTED", "Exhausted concurrent requests quota."),
            "throttled",
            30.0,
            "concurrent",
        ),
        (
            429,
            envelope(
                429,
                "RESOURCE_EXHAUSTED",
                "Exhausted property tokens per hour. These quota tokens will return in under an hour.",
            ),
            "throttled",
            1800.0,
            "per hour",
        ),
        (
            429,
            envelope(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens for a project per hour."),
            "throttled",
            1800.0,
            "project",
        ),
        (
            429,
            envelope(429, "RESOURCE_EXHAUSTED", "Exhausted potentially thresholded requests quota."),
            "throttled",
            1800.0,
            "thresholded",
        ),
        (
            400,
            envelope(400, "INVALID_ARGUMENT", "Field customEvent:x is not a valid dimension."),
            "bad_request",
            None,
            "customEvent:x",
        ),
        (500, envelope(500, "INTERNAL", "Internal error encountered."), "server", None, "Internal"),
        (503, envelope(503, "UNAVAILABLE", "The service is currently unavailable."), "server", None, "unavailable"),
    ],
)
def test_classify_reads_googles_envelope(
    status: int, body: dict[str, Any], kind: str, retry_after: float | None, says: str
) -> None:
    verdict = ga4.classify(status, {}, body)
    assert verdict is not None
    assert (verdict.kind, verdict.retry_after) == (kind, retry_after)
    assert says in verdict.message


def test_classify_daily_quota_waits_until_the_next_day() -> None:
    verdict = ga4.classify(429, {}, envelope(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per day."))
    assert verdict is not None and verdict.kind == "throttled" and verdict.code == "daily_quota"
    assert verdict.retry_after is not None and 60 <= verdict.retry_after <= 25 * 3600


def test_daily_quota_wait_is_right_on_the_day_the_clocks_change() -> None:
    # 08:30 UTC on 2 Nov 2025 is 01:30 PDT, the day the clocks go back: 22.5 h of wall clock, 23.5 h of time
    assert ga4._quota_wait("Exhausted property tokens per day.", datetime(2025, 11, 2, 8, 30, tzinfo=UTC)) == (
        23.5 * 3600,
        "daily_quota",
    )
    # 09:30 UTC on 9 Mar 2025 is 01:30 PST, the day the clocks go forward: 22.5 h of wall clock and of time
    spring = datetime(2025, 3, 9, 9, 30, tzinfo=UTC)
    assert ga4._quota_wait("Exhausted property tokens per day.", spring)[0] == 21.5 * 3600


@pytest.mark.parametrize(("status", "body"), [(200, {"rows": []}), (502, "<html>Bad Gateway</html>"), (404, None)])
def test_classify_leaves_non_envelopes_to_the_http_status(status: int, body: Any) -> None:
    assert ga4.classify(status, {}, body) is None


# -- collect() against the sandbox -------------------------------------------------------------
# The sandbox's sources and the network each belongs to, written out by hand (not via collectors.referrers).
NETWORK_OF = {
    ("l.facebook.com", "referral"): "facebook",
    ("lm.facebook.com", "referral"): "facebook",
    ("facebook", "cpc"): "facebook",
    ("instagram", "social"): "instagram",
    ("instagram", "paid"): "instagram",
    ("t.co", "referral"): "x",
    ("lnkd.in", "referral"): "linkedin",
    ("android-app://com.linkedin.android", "referral"): "linkedin",
    ("pinterest.com", "referral"): "pinterest",
    ("out.reddit.com", "referral"): "other",
    ("youtube.com", "referral"): "youtube",
}


def network_sessions(property_id: str, day: date) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_, source, medium), values in sb_ga4.sources_for(property_id, day).items():
        network = NETWORK_OF.get((source, medium))
        if network:
            out[network] = out.get(network, 0) + values["sessions"]
    return out


def expected_rows(property_id: str, since: date, until: date) -> dict[tuple[str, date], float]:
    """What the sandbox serves, from its world functions (not from the parser)."""
    out: dict[tuple[str, date], float] = {}
    seen = {n for day in days(since, until) for n, v in network_sessions(property_id, day).items() if v}
    for day in days(since, until):
        out[("page_views", day)] = sb_ga4.page_views_for(property_id, day)
        out[("visits", day)] = sb_ga4.sessions_for(property_id, day)
        out[("visitors", day)] = sb_ga4.active_users_for(property_id, day)
        split = sb_ga4.channels_for(property_id, day)
        social = [split["Organic Social"], split["Paid Social"]]
        out[("social_visits", day)] = sum(c["sessions"] for c in social)
        out[("social_page_views", day)] = sum(c["screenPageViews"] for c in social)
        networks = network_sessions(property_id, day)
        for network in seen:
            out[(f"visits_from_{network}", day)] = networks.get(network, 0)
    return out


def report_bodies(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in sandbox.requests_to(REPORT)]


def dims_of(request: Request) -> tuple[str, ...]:
    return tuple(d["name"] for d in json.loads(request.body)["dimensions"])


def asking(*dims: str) -> Callable[[Request], bool]:
    """For ``sandbox.script(..., when=)``: the report by these dimensions (the three are sent at once, in any order)."""
    return lambda request: dims_of(request) == dims


def asked_once_each(sandbox: Sandbox) -> bool:
    """Each report was sent once (none retried), whatever came first."""
    return sorted(dims_of(r) for r in sandbox.requests_to(REPORT)) == sorted(ga4.REPORTS)


def run(sandbox: Sandbox, since: date, until: date, client: Client | None = None, **ctx_kw: Any) -> list[Observation]:
    client = client or make_client("ga4", ga4.classify)
    options = ctx_kw.pop("options", {})
    ctx = replace(make_ctx("ga4", ctx_kw.pop("account", PROPERTY), sandbox.url, **ctx_kw), options=options)
    with client:
        return ga4.collect(client, ctx, since=since, until=until).observations


# Feb 8 2026 is a Sunday of ISO week 6 (Paid Social running); Feb 9-10 are in week 7 (no ads).
FEB8, FEB10 = date(2026, 2, 8), date(2026, 2, 10)


def test_collect_three_days_matches_the_sandbox_exactly(sandbox: Sandbox) -> None:
    rows = by_key(run(sandbox, FEB8, FEB10))
    assert {k: o.value for k, o in rows.items()} == expected_rows(PROPERTY, FEB8, FEB10)
    assert rows[("visits", FEB8)].source_metric == "sessions"
    assert rows[("social_page_views", FEB8)].source_metric == "screenPageViews" + SOCIAL
    # hand checks: the world is plausible and the Sunday ads show up in social_visits
    organic = sb_ga4.channels_for(PROPERTY, FEB8)["Organic Social"]["sessions"]
    assert rows[("social_visits", FEB8)].value > organic > 0
    assert rows[("social_visits", FEB10)].value == sb_ga4.channels_for(PROPERTY, FEB10)["Organic Social"]["sessions"]
    for day in days(FEB8, FEB10):
        assert 0 < rows[("visitors", day)].value <= rows[("visits", day)].value < rows[("page_views", day)].value
    sent = sorted(report_bodies(sandbox), key=lambda b: len(b["dimensions"]))  # sent at once: in any order
    assert [[d["name"] for d in b["dimensions"]] for b in sent] == [
        ["date"],
        ["date", "sessionDefaultChannelGroup"],
        ["date", "sessionSource", "sessionMedium"],
    ]
    assert [[m["name"] for m in b["metrics"]] for b in sent] == [
        ["screenPageViews", "sessions", "activeUsers"],
        ["sessions", "screenPageViews"],
        ["sessions"],
    ]
    assert all(b["dateRanges"] == [{"startDate": "2026-02-08", "endDate": "2026-02-10"}] for b in sent)
    assert all(r.bearer() == TOKEN for r in sandbox.requests_to(REPORT))


def test_visits_per_network_hand_checked(sandbox: Sandbox) -> None:
    rows = by_key(run(sandbox, FEB8, FEB10))
    # Feb 8, the sandbox's source rows (sb_ga4.sources_for), added up by hand:
    # l.facebook.com 5 + lm.facebook.com 2 + facebook/cpc 4; instagram/social 6 + instagram/paid 2;
    # t.co 1; lnkd.in 1 + android-app://com.linkedin.android 1; pinterest.com 3; out.reddit.com 2;
    # youtube.com 3 (GA4's Organic Video); google, bing, (direct), tripadvisor.fr, newsletter: no network.
    assert {m: rows[(m, FEB8)].value for m, d in rows if d == FEB8 and m.startswith("visits_from_")} == {
        "visits_from_facebook": 11,
        "visits_from_instagram": 8,
        "visits_from_x": 1,
        "visits_from_linkedin": 2,
        "visits_from_pinterest": 3,
        "visits_from_other": 2,
        "visits_from_youtube": 3,
    }
    assert rows[("social_visits", FEB8)].value == 21 + 6 == 11 + 8 + 1 + 2 + 3 + 2  # Organic + Paid Social
    assert rows[("visits_from_linkedin", FEB10)].value == 1  # no LinkedIn app visit that day: lnkd.in alone
    for day in days(FEB8, FEB10):  # every network but youtube is in GA4's social channels here
        networks = sum(o.value for (m, d), o in rows.items() if d == day and m.startswith("visits_from_"))
        assert networks - rows[("visits_from_youtube", day)].value == rows[("social_visits", day)].value
        organic_video = sb_ga4.channels_for(PROPERTY, day)["Organic Video"]["sessions"]
        assert rows[("visits_from_youtube", day)].value == organic_video


def test_collect_pages_with_limit_and_offset(sandbox: Sandbox) -> None:
    whole = run(sandbox, FEB8, FEB10)
    sandbox.clear()
    paged = run(sandbox, FEB8, FEB10, options={"page_limit": "4"})
    assert sorted(paged, key=Observation.key) == sorted(whole, key=Observation.key)
    channel_rows = sum(
        1 for day in days(FEB8, FEB10) for c in sb_ga4.channels_for(PROPERTY, day).values() if any(c.values())
    )
    assert channel_rows == 7 + 6 + 6  # Paid Social only on the Sunday
    source_rows = sum(
        1 for day in days(FEB8, FEB10) for v in sb_ga4.sources_for(PROPERTY, day).values() if v["sessions"]
    )
    assert source_rows == 17 + 15 + 14  # see test_visits_per_network_hand_checked
    sent = [(len(b["dimensions"]), b["offset"], b["limit"]) for b in report_bodies(sandbox)]
    # the reports at once, each report's pages one after the other
    for n, rows_of_report in ((1, 3), (2, channel_rows), (3, source_rows)):
        assert [s for s in sent if s[0] == n] == [(n, o, 4) for o in range(0, rows_of_report, 4)]
    assert len(sent) == 1 + len(range(0, channel_rows, 4)) + len(range(0, source_rows, 4))


def test_days_without_data_are_zero(sandbox: Sandbox) -> None:
    outage = next(iter(sb_ga4.OUTAGE_DAYS))
    rows = by_key(run(sandbox, outage - timedelta(days=1), outage + timedelta(days=1)))
    assert {metric: rows[(metric, outage)].value for metric in ga4.TOTALS.values()} == {
        "page_views": 0,
        "visits": 0,
        "visitors": 0,
    }
    assert rows[("social_visits", outage)].value == rows[("social_page_views", outage)].value == 0
    networks = {m: o.value for (m, d), o in rows.items() if d == outage and m.startswith("visits_from_")}
    assert networks and set(networks.values()) == {0}  # networks seen around the outage: 0 on that day
    assert rows[("visits", outage - timedelta(days=1))].value > 0
    # before the property existed: no rows at all (and no rowCount) in either report
    start = sb_ga4.PROPERTY_START
    rows = by_key(run(sandbox, start - timedelta(days=2), start))
    assert [rows[("visits", d)].value for d in days(start - timedelta(days=2), start)][:2] == [0, 0]
    assert rows[("visits", start)].value == sb_ga4.sessions_for(PROPERTY, start) > 0


def test_unknown_property_ids_still_get_data(sandbox: Sandbox) -> None:
    rows = by_key(run(sandbox, FEB8, FEB8, account="987654321"))
    assert rows[("visits", FEB8)].value == sb_ga4.sessions_for("987654321", FEB8) > 0
    assert rows[("visits", FEB8)].value != sb_ga4.sessions_for(PROPERTY, FEB8)


def quota(message: str) -> Reply:
    return Reply(429, envelope(429, "RESOURCE_EXHAUSTED", message))


def test_concurrency_quota_waits_30_s_then_succeeds(sandbox: Sandbox) -> None:
    slept: list[float] = []
    client = Client("ga4", policy=replace(FAST, max_retry_after=60), classify=ga4.classify, sleep=slept.append)
    sandbox.script(REPORT, quota("Exhausted concurrent requests quota."))
    rows = run(sandbox, FEB8, FEB10, client=client)
    assert slept == [30.0]
    assert {(o.metric, o.observed_on): o.value for o in rows} == expected_rows(PROPERTY, FEB8, FEB10)
    assert len(sandbox.requests_to(REPORT)) == 4  # three reports, the first one twice


@pytest.mark.parametrize(
    ("message", "at_least"),
    [
        ("Exhausted property tokens per hour. These quota tokens will return in under an hour.", 1700),
        ("Exhausted property tokens for a project per hour.", 1700),
        ("Exhausted property tokens per day. Please wait until tomorrow.", 60),
    ],
)
def test_hourly_and_daily_quotas_fail_fast_with_the_reset_time(sandbox: Sandbox, message: str, at_least: int) -> None:
    slept: list[float] = []
    client = Client("ga4", policy=RetryPolicy(), classify=ga4.classify, sleep=slept.append)  # default policy
    sandbox.script(REPORT, quota(message), when=asking("date"))
    with pytest.raises(RateLimited) as caught:
        run(sandbox, FEB8, FEB10, client=client)
    assert slept == []  # every wait goes through the injected sleep: none was taken
    assert asked_once_each(sandbox)  # the throttled one not retried (the other two were sent with it)
    assert caught.value.reset_at is not None
    assert caught.value.reset_at >= datetime.now(UTC) + timedelta(seconds=at_least)


@pytest.mark.parametrize(
    ("details", "says"),
    [
        (None, "as Viewer in GA4 property access management"),
        (SERVICE_DISABLED, "enable the Google Analytics Data API in the Cloud project"),
    ],
)
def test_permission_denied(sandbox: Sandbox, details: Any, says: str) -> None:
    extra = {"details": details} if details else {}
    message = "User does not have sufficient permissions for this property."
    sandbox.script(REPORT, Reply(403, envelope(403, "PERMISSION_DENIED", message, **extra)), when=asking("date"))
    with pytest.raises(PermissionDenied, match=says):
        run(sandbox, FEB8, FEB10)
    assert asked_once_each(sandbox)


# -- SOCIALKPI_GOOGLE_CREDENTIALS end to end (the file kinds and their errors: tests/test_google_auth.py) ------
REFRESH_SECRET = "1//0gSandboxRefreshToken-x7Yq"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
CLIENT = {"client_id": "1234-sandbox.apps.googleusercontent.com", "client_secret": "GOCSPX-sandbox-client-secret"}


def user_file(tmp_path: Path, token_uri: str | None) -> Path:
    info = {
        "type": "authorized_user",
        "client_id": "1234-sandbox.apps.googleusercontent.com",
        "client_secret": "GOCSPX-sandbox-client-secret",
        "refresh_token": REFRESH_SECRET,
    }
    if token_uri:
        info["token_uri"] = token_uri
    path = tmp_path / "authorized_user.json"
    path.write_text(json.dumps(info))
    return path


@pytest.mark.parametrize("via", ["file token_uri", "SOCIALKPI_GA4_TOKEN_URL"])
def test_authorized_user_refreshes_through_the_token_endpoint(sandbox: Sandbox, tmp_path: Path, via: str) -> None:
    token_url = f"{sandbox.url}/token"
    if via == "file token_uri":
        path, extra = user_file(tmp_path, token_url), {}
    else:
        path, extra = user_file(tmp_path, GOOGLE_TOKEN_URI), {"token_url": token_url}
    rows = run(sandbox, FEB8, FEB10, token=None, google_credentials=str(path), **extra)
    assert {(o.metric, o.observed_on): o.value for o in rows} == expected_rows(PROPERTY, FEB8, FEB10)
    [grant] = sandbox.requests_to(r"^/token$")
    form = grant.form()
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == REFRESH_SECRET
    assert form["scope"] == ga4.SCOPE
    bearers = {r.bearer() for r in sandbox.requests_to(REPORT)}
    assert len(bearers) == 1 and next(iter(bearers)).startswith("ya29.sandbox-")  # the issued token


def test_a_refused_access_token_is_refreshed_once(sandbox: Sandbox, tmp_path: Path) -> None:
    path = user_file(tmp_path, f"{sandbox.url}/token")
    sandbox.script(
        REPORT,
        Reply(401, envelope(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")),
        when=asking("date"),
    )
    rows = run(sandbox, FEB8, FEB10, token=None, google_credentials=str(path))
    assert {(o.metric, o.observed_on): o.value for o in rows} == expected_rows(PROPERTY, FEB8, FEB10)
    assert len(sandbox.requests_to(r"^/token$")) == 2
    first, retried = [r for r in sandbox.requests_to(REPORT) if dims_of(r) == ("date",)]
    assert first.bearer() != retried.bearer()


def test_a_token_without_the_analytics_scope_is_refused(sandbox: Sandbox) -> None:
    bearer = sb_google.issue_token(frozenset({"https://www.googleapis.com/auth/business.manage"}))
    with pytest.raises(PermissionDenied, match="lacks the scope https://www.googleapis.com/auth/analytics.readonly"):
        run(sandbox, FEB8, FEB10, token=bearer)


# -- a property's reports at once (collectors.ga4.REPORT_CONCURRENCY) ----------------------------
# Google allows it: PropertyQuota.concurrentRequests, "Standard Analytics Properties can send up to 10
# concurrent requests; Analytics 360 Properties can use up to 50 concurrent requests."
# (https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/PropertyQuota)
@pytest.fixture
def together() -> Iterator[Sandbox]:
    """A sandbox whose runReport answers only once the three reports are in flight together (tests/together_part)."""
    together_part.reset(len(ga4.REPORTS))
    with Sandbox(parts=("tests.together_part", "socialkpi.sandbox.ga4")) as sb:
        yield sb


def test_a_propertys_three_reports_are_in_flight_at_the_same_time(together: Sandbox) -> None:
    rows = run(together, FEB8, FEB10)  # one after the other, the first would be refused "not in flight together"
    assert {(o.metric, o.observed_on): o.value for o in rows} == expected_rows(PROPERTY, FEB8, FEB10)
    assert sorted(together_part.arrived) == [0, 1, 2]  # the last one found the other two waiting for it
    assert asked_once_each(together)


def test_a_token_refused_to_all_three_reports_is_refreshed_once_and_used_by_all(together: Sandbox) -> None:
    rows = run(together, FEB8, FEB10, token=EXPIRED_TOKEN, refresh_token=REFRESH_SECRET, **CLIENT)
    assert {(o.metric, o.observed_on): o.value for o in rows} == expected_rows(PROPERTY, FEB8, FEB10)
    assert len(sandbox_grants(together)) == 1  # one refresh, not one per report
    bearers = [r.bearer() for r in together.requests_to(REPORT)]
    assert bearers[:3] == [EXPIRED_TOKEN] * 3  # all three refused together (the barrier) ...
    [renewed] = set(bearers[3:])  # ... and all three sent again with the one new token
    assert len(bearers) == 6 and renewed not in (EXPIRED_TOKEN, None)
    assert sorted(dims_of(r) for r in together.requests_to(REPORT)[3:]) == sorted(ga4.REPORTS)


def test_a_credentials_file_token_is_minted_once_for_the_three_reports(together: Sandbox, tmp_path: Path) -> None:
    path = user_file(tmp_path, f"{together.url}/token")
    rows = run(together, FEB8, FEB10, token=None, google_credentials=str(path))
    assert {(o.metric, o.observed_on): o.value for o in rows} == expected_rows(PROPERTY, FEB8, FEB10)
    assert len(sandbox_grants(together)) == 1  # the first report's thread minted it, the others waited for it
    [bearer] = {r.bearer() for r in together.requests_to(REPORT)}
    assert bearer is not None and bearer.startswith("ya29.sandbox-")
    assert asked_once_each(together)


def sandbox_grants(sandbox: Sandbox) -> list[Request]:
    return sandbox.requests_to(r"^/token$")


# -- the sandbox itself: its numbers must add up the way GA4's do ------------------------------
def post_report(sandbox: Sandbox, body: dict[str, Any], token: str = TOKEN, property_id: str = PROPERTY) -> Any:
    resp = requests.post(
        f"{sandbox.url}/v1beta/properties/{property_id}:runReport",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    return resp.status_code, resp.json()


def report_body(since: date, until: date, *dims: str, **extra: Any) -> dict[str, Any]:
    return {
        "dateRanges": [{"startDate": since.isoformat(), "endDate": until.isoformat()}],
        "dimensions": [{"name": d} for d in dims],
        "metrics": [{"name": m} for m in ("sessions", "screenPageViews", "activeUsers")],
        **extra,
    }


def test_sandbox_channels_add_up_to_the_daily_totals(sandbox: Sandbox) -> None:
    since, until = date(2025, 12, 1), date(2026, 2, 28)  # includes the Christmas spikes and the outage
    _, totals = post_report(sandbox, report_body(since, until, "date"))
    _, channels = post_report(sandbox, report_body(since, until, "date", "sessionDefaultChannelGroup"))
    assert channels["rowCount"] == len(channels["rows"]) > totals["rowCount"] == len(totals["rows"])
    day_totals = {
        r["dimensionValues"][0]["value"]: [int(v["value"]) for v in r["metricValues"]] for r in totals["rows"]
    }
    assert "20260217" not in day_totals and len(day_totals) == (until - since).days  # one outage day
    sums: dict[str, list[int]] = {}
    for row in channels["rows"]:
        values = [int(v["value"]) for v in row["metricValues"]]
        assert any(values), "rows with no data are left out"
        assert row["dimensionValues"][1]["value"] in sb_ga4.CHANNELS
        acc = sums.setdefault(row["dimensionValues"][0]["value"], [0, 0, 0])
        for i, v in enumerate(values):
            acc[i] += v
    for day, (sessions, views, users) in day_totals.items():
        assert sums[day][:2] == [sessions, views]
        assert 0 < users <= sessions < views


def test_sandbox_sources_add_up_to_their_channels(sandbox: Sandbox) -> None:
    since, until = date(2025, 12, 1), date(2026, 2, 28)
    by = ("date", "sessionDefaultChannelGroup")
    _, channels = post_report(sandbox, report_body(since, until, *by))
    _, detailed = post_report(sandbox, report_body(since, until, *by, "sessionSource", "sessionMedium"))
    _, sources = post_report(sandbox, report_body(since, until, "date", "sessionSource", "sessionMedium"))

    def cells(row: dict[str, Any]) -> tuple[list[str], list[int]]:
        return [v["value"] for v in row["dimensionValues"]], [int(v["value"]) for v in row["metricValues"]]

    want = {tuple(cells(r)[0]): cells(r)[1][:2] for r in channels["rows"]}  # sessions, page views
    got: dict[tuple[str, ...], list[int]] = {}
    channel_of: dict[tuple[str, str], str] = {}
    for row in detailed["rows"]:
        (day, channel, source, medium), values = cells(row)
        assert channel_of.setdefault((source, medium), channel) == channel  # a source belongs to one channel
        acc = got.setdefault((day, channel), [0, 0])
        acc[0], acc[1] = acc[0] + values[0], acc[1] + values[1]
    assert got == want
    # the [date, source, medium] report is the same rows without the channel: Organic Social per day
    # equals its social sources' sessions, and they are the sources NETWORK_OF names (youtube aside)
    social = {(d, ch): v[0] for (d, ch), v in want.items() if ch in ("Organic Social", "Paid Social")}
    per_day: dict[str, int] = {}
    for row in sources["rows"]:
        (day, source, medium), values = cells(row)
        if channel_of[(source, medium)] in ("Organic Social", "Paid Social"):
            assert (source, medium) in NETWORK_OF
            per_day[day] = per_day.get(day, 0) + values[0]
    for day in {d for d, _ in social}:
        assert per_day.get(day, 0) == sum(v for (d, _), v in social.items() if d == day)
    assert channel_of[("youtube.com", "referral")] == "Organic Video"
    assert {s for s, _ in channel_of} >= {"l.facebook.com", "instagram", "t.co", "google", "(direct)", "newsletter"}


def test_sandbox_answers_up_to_yesterday_and_honours_paging(sandbox: Sandbox) -> None:
    today = datetime.now(sb_ga4.ZoneInfo(sb_ga4.TIME_ZONE)).date()
    body = report_body(today - timedelta(days=5), today + timedelta(days=3), "date")
    status, whole = post_report(sandbox, body)
    yesterday = (today - timedelta(days=1)).strftime("%Y%m%d")
    assert status == 200 and whole["rows"][-1]["dimensionValues"][0]["value"] == yesterday
    assert whole["metadata"] == {"currencyCode": "EUR", "timeZone": "Europe/Paris"}
    assert whole["kind"] == "analyticsData#runReport"
    _, page = post_report(sandbox, {**body, "limit": 2, "offset": 3})
    assert page["rows"] == whole["rows"][3:5] and page["rowCount"] == whole["rowCount"]
    _, past_end = post_report(sandbox, {**body, "offset": 50})
    assert "rows" not in past_end and past_end["rowCount"] == whole["rowCount"]
    _, empty = post_report(sandbox, report_body(date(2023, 1, 1), date(2023, 1, 3), "date"))
    assert "rows" not in empty and "rowCount" not in empty


@pytest.mark.parametrize(
    ("token", "body", "status", "state"),
    [
        (EXPIRED_TOKEN, report_body(FEB8, FEB10, "date"), 401, "UNAUTHENTICATED"),
        ("ya29.never-issued", report_body(FEB8, FEB10, "date"), 401, "UNAUTHENTICATED"),
        (TOKEN, report_body(FEB8, FEB10, "pagePath"), 400, "INVALID_ARGUMENT"),
        (TOKEN, report_body(FEB10, FEB8, "date"), 400, "INVALID_ARGUMENT"),
    ],
)
def test_sandbox_errors_use_googles_envelope(
    sandbox: Sandbox, token: str, body: dict[str, Any], status: int, state: str
) -> None:
    got_status, got = post_report(sandbox, body, token=token)
    assert got_status == status and got["error"]["status"] == state and got["error"]["code"] == status


# -- issue 11: numbers as strings, what an answer says it is, optional breakdowns --------------------
# Shape: https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/RunReportResponse Example
# response ("metricValues": [{"value": "42"}], typed metricHeaders) and
# https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/RunReportResponse
# ("dimensionHeaders ... The number of DimensionHeaders and ordering of DimensionHeaders matches the dimensions
# present in rows").
@pytest.mark.parametrize(
    ("kind", "value"),
    [("TYPE_INTEGER", "-3"), ("TYPE_INTEGER", " 137"), ("TYPE_INTEGER", "1e5"), ("TYPE_INTEGER", "137.5"),
     ("TYPE_FLOAT", "nan"), ("TYPE_FLOAT", "inf"), ("TYPE_FLOAT", "-1.5"), ("TYPE_FLOAT", "1.5e3")],
)  # fmt: skip
def test_a_value_that_is_no_count_of_its_declared_type_is_refused(kind: str, value: str) -> None:
    payload = fixture("ga4", "run_report_date.json")
    payload["metricHeaders"][1]["type"] = kind
    payload["rows"][0]["metricValues"][1]["value"] = value
    with pytest.raises(PayloadError, match=rf"sessions \({kind}\) is .*not a count"):
        ga4.parse_report(payload, account_id="42", since=OCT1, until=OCT3, collected_at=COLLECTED_AT)


def test_an_answer_with_other_dimensions_than_asked_is_refused_naming_them() -> None:
    # two dateRanges add a dateRange dimension; a report by week would have isoYearIsoWeek for date
    payload = fixture("ga4", "run_report_date.json")
    with pytest.raises(PayloadError, match=r"answered dimensionHeaders \['date'\], but dimensionHeaders \['date', "):
        ga4.parse_report(
            payload, account_id="42", since=OCT1, until=OCT3, collected_at=COLLECTED_AT, dimensions=ga4.CHANNEL_DIMS
        )


def test_a_row_outside_the_asked_date_range_is_refused_when_collect_asks() -> None:
    payload = fixture("ga4", "run_report_date.json")  # rows of Oct 1 and Oct 3
    kw: dict[str, Any] = {"account_id": "42", "since": OCT3, "until": OCT3, "collected_at": COLLECTED_AT}
    assert ga4.parse_report(payload, **kw)  # a saved answer read for a shorter window: rows outside ignored
    with pytest.raises(PayloadError, match="answered date '2025-10-01', but date '2025-10-03..2025-10-03' was asked"):
        ga4.parse_report(payload, **kw, dimensions=("date",), date_range=(OCT3, OCT3))


def sandbox_report(sandbox: Sandbox, dims: tuple[str, ...], since: date, until: date) -> Any:
    """The sandbox's own runReport answer, as collect asks it."""
    metrics = ga4.REPORTS[dims]
    body = {
        "dateRanges": [{"startDate": since.isoformat(), "endDate": until.isoformat()}],
        "dimensions": [{"name": d} for d in dims],
        "metrics": [{"name": m} for m in metrics],
        "orderBys": [{"dimension": {"dimensionName": "date"}}],
        "keepEmptyRows": False,
        "offset": 0,
        "limit": ga4.PAGE_LIMIT,
    }
    url = f"{sandbox.url}/v1beta/properties/{PROPERTY}:runReport"
    answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
    sandbox.clear()
    return answer


def test_the_sandbox_answering_a_day_not_asked_fails_the_account(sandbox: Sandbox) -> None:
    answer = sandbox_report(sandbox, ("date",), FEB8 - timedelta(days=1), FEB10)  # one day too many
    sandbox.script(REPORT, Reply(200, answer), when=asking("date"))
    with pytest.raises(PayloadError, match="answered date '2026-02-07'"):
        run(sandbox, FEB8, FEB10)


def invalid(field: str) -> Reply:
    return Reply(400, envelope(400, "INVALID_ARGUMENT", f"Field {field} is not a valid dimension."))


@pytest.mark.parametrize(
    ("dims", "gone"),
    [
        (ga4.CHANNEL_DIMS, {"social_visits", "social_page_views"}),
        (ga4.SOURCE_DIMS, "visits_from_"),
    ],
    ids=["channel-report", "source-report"],
)
def test_a_breakdown_report_refused_as_invalid_is_skipped_and_the_totals_written(
    sandbox: Sandbox, dims: tuple[str, ...], gone: Any
) -> None:
    sandbox.script(REPORT, invalid(dims[1]), when=asking(*dims))
    client = make_client("ga4", ga4.classify)
    ctx = make_ctx("ga4", PROPERTY, sandbox.url)
    with client:
        out = ga4.collect(client, ctx, since=FEB8, until=FEB10)
    want = {
        k: v
        for k, v in expected_rows(PROPERTY, FEB8, FEB10).items()
        if not (k[0] in gone if isinstance(gone, set) else k[0].startswith(gone))
    }
    assert {k: o.value for k, o in by_key(out.observations).items()} == want
    [(source, note)] = out.skipped
    assert source == f"runReport [{', '.join(dims)}]"
    assert f"refused (not supported): Field {dims[1]} is not a valid dimension." in note
    assert len(sandbox.requests_to(REPORT)) == 3  # the other breakdown is still asked


def test_the_totals_report_stays_required(sandbox: Sandbox) -> None:
    sandbox.script(REPORT, invalid("date"), when=asking("date"))
    with pytest.raises(BadRequest, match="not a valid dimension"):
        run(sandbox, FEB8, FEB10)


def test_a_permission_refusal_of_a_breakdown_still_fails_the_account(sandbox: Sandbox) -> None:
    refusal = Reply(403, envelope(403, "PERMISSION_DENIED", "User does not have access."))
    sandbox.script(REPORT, refusal, when=asking(*ga4.CHANNEL_DIMS))
    with pytest.raises(PermissionDenied):
        run(sandbox, FEB8, FEB10)
