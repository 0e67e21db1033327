"""LinkedIn collector: parsers on doc-shaped fixtures, the raw Rest.li URL, the classifier, and
collect()/check() against the real sandbox (headers, raw timeIntervals, refresh, errors, competitors)."""

from __future__ import annotations

import copy
import json
import os
import stat
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from collectors import linkedin
from collectors.context import CollectContext
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, RateLimited, ServerError
from collectors.observation import Observation
from collectors.tokens import StoredToken, TokenStore
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox import linkedin as sandbox_li
from socialkpi.sandbox.server import Reply
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import COLLECTED_AT, fixture, make_client, make_ctx

ORG = "2414183"
RIVAL = "90412345"  # an organization the sandbox member does not administer
NOW = datetime.now(UTC)
YESTERDAY = NOW.date() - timedelta(days=1)
SINCE = YESTERDAY - timedelta(days=20)
MAR1, MAR2, MAR3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
STATS_PATHS = (
    "/rest/organizationalEntityFollowerStatistics",
    "/rest/organizationPageStatistics",
    "/rest/organizationalEntityShareStatistics",
)


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore.beside(tmp_path / "socialkpi.duckdb")


def ctx_for(sb: Sandbox, org: str = ORG, *, store: TokenStore | None = None, **kw: Any) -> CollectContext:
    kw.setdefault("collected_at", NOW)
    kw.setdefault("tz", "UTC")  # the follower level is dated by the UTC day the sandbox counts it (any hour of the day)
    return replace(make_ctx("linkedin", org, sb.url, **kw), token_store=store)


def collect(
    ctx: CollectContext, since: date = SINCE, until: date = YESTERDAY, client: Any = None
) -> linkedin.Collected:
    with client or make_client("linkedin", linkedin.classify) as client:
        return linkedin.collect(client, ctx, since=since, until=until)


def rows_of(got: linkedin.Collected) -> dict[tuple[str, date], float]:
    return {(o.metric, o.observed_on): o.value for o in got.observations}


def table(rows: list[Observation]) -> list[tuple[str, date, float, str]]:
    return sorted((o.metric, o.observed_on, o.value, o.source_metric) for o in rows)


def fresh_refresh_token() -> str:
    return f"sandbox-refresh-{uuid.uuid4().hex}"


# -- URLs --------------------------------------------------------------------------------------


def test_stats_url_keeps_rest_li_structure_raw_and_encodes_the_urn() -> None:
    # Shape: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
    # Endpoints and https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/protocol-version Gotchas
    # (Rest.li URL encoding)
    url = linkedin.stats_url("https://api.linkedin.com", linkedin.SHARE_STATS, ORG, MAR1, date(2026, 3, 7))
    assert url == (
        "https://api.linkedin.com/rest/organizationalEntityShareStatistics?q=organizationalEntity"
        "&organizationalEntity=urn%3Ali%3Aorganization%3A2414183"
        "&timeIntervals=(timeRange:(start:1772323200000,end:1772928000000),timeGranularityType:DAY)"
    )


# -- parsers -----------------------------------------------------------------------------------


def test_parse_network_size() -> None:
    # Shape: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
    # Endpoints (networkSizes)
    rows = linkedin.parse_network_size(
        fixture("linkedin", "network_sizes.json"), account_id=ORG, day=MAR3, collected_at=COLLECTED_AT
    )
    assert table(rows) == [("followers", MAR3, 18422, "firstDegreeSize")]


def test_parse_follower_statistics_adds_organic_and_paid_and_fills_an_omitted_day_with_0() -> None:
    # Shape: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
    # Example responses (followerGains)
    payload = fixture("linkedin", "follower_statistics.json")
    before = copy.deepcopy(payload)
    rows = linkedin.parse_follower_statistics(
        payload, account_id=ORG, since=MAR1, until=MAR3, collected_at=COLLECTED_AT
    )
    assert payload == before
    source = "organicFollowerGain+paidFollowerGain"
    assert table(rows) == [
        ("followers_gained", MAR1, 6, source),
        ("followers_gained", MAR2, 0, source),  # no element that day: a 0
        ("followers_gained", MAR3, 7, source),  # 4 organic + 3 paid
    ]


def test_parse_page_statistics_reads_all_page_views() -> None:
    # Shape: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/page-statistics
    # Example responses (totalPageStatistics.views)
    rows = linkedin.parse_page_statistics(
        fixture("linkedin", "page_statistics.json"), account_id=ORG, since=MAR1, until=MAR2, collected_at=COLLECTED_AT
    )
    assert table(rows) == [
        ("profile_views", MAR1, 57, "allPageViews.pageViews"),
        ("profile_views", MAR2, 0, "allPageViews.pageViews"),
    ]


def test_parse_share_statistics_gives_impressions_clicks_and_engagements() -> None:
    # Shape: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/share-statistics
    # Example responses (totalShareStatistics)
    rows = linkedin.parse_share_statistics(
        fixture("linkedin", "share_statistics.json"), account_id=ORG, since=MAR1, until=MAR1, collected_at=COLLECTED_AT
    )
    assert table(rows) == [
        ("engagements", MAR1, 25 + 3 + 2 + 37, "likeCount+commentCount+shareCount+clickCount"),
        ("impressions", MAR1, 1422, "impressionCount"),
        ("link_clicks", MAR1, 37, "clickCount"),
    ]


def test_parse_ignores_days_outside_the_range_and_zero_fills_an_empty_answer() -> None:
    # Shape: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
    # Example responses (elements; timeRange.start = UTC day)
    payload = fixture("linkedin", "follower_statistics.json")
    rows = linkedin.parse_follower_statistics(
        payload, account_id=ORG, since=MAR2, until=MAR2, collected_at=COLLECTED_AT
    )
    assert [(o.observed_on, o.value) for o in rows] == [(MAR2, 0)]
    empty = {"paging": {"start": 0, "count": 10, "links": []}, "elements": []}
    rows = linkedin.parse_share_statistics(empty, account_id=ORG, since=MAR1, until=MAR2, collected_at=COLLECTED_AT)
    assert len(rows) == 6 and {o.value for o in rows} == {0}


def test_a_field_linkedin_stops_sending_gives_no_rows_for_that_metric() -> None:
    # Shape: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
    # Example responses, with impressionCount retired
    payload = fixture("linkedin", "share_statistics.json")
    del payload["elements"][0]["totalShareStatistics"]["impressionCount"]
    rows = linkedin.parse_share_statistics(payload, account_id=ORG, since=MAR1, until=MAR2, collected_at=COLLECTED_AT)
    assert sorted({o.metric for o in rows}) == ["engagements", "link_clicks"]
    # A component missing in one element counts 0 there; the metric stays.
    payload = fixture("linkedin", "follower_statistics.json")
    del payload["elements"][1]["followerGains"]["paidFollowerGain"]
    rows = linkedin.parse_follower_statistics(
        payload, account_id=ORG, since=MAR3, until=MAR3, collected_at=COLLECTED_AT
    )
    assert [(o.metric, o.value) for o in rows] == [("followers_gained", 4)]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {"elements": {}},
        {"elements": ["x"]},
        {"elements": [{"followerGains": {"organicFollowerGain": 1}}]},  # no timeRange
        {"elements": [{"timeRange": {"start": "1772323200000"}, "followerGains": {}}]},
        {"elements": [{"timeRange": {"start": 1772323200000}, "followerGains": {"organicFollowerGain": "6"}}]},
        {"elements": [{"timeRange": {"start": 1772323200000}, "followerGains": [1]}]},
    ],
)
def test_parse_follower_statistics_rejects_wrong_shapes(payload: Any) -> None:
    with pytest.raises(PayloadError):
        linkedin.parse_follower_statistics(payload, account_id=ORG, since=MAR1, until=MAR1, collected_at=COLLECTED_AT)


@pytest.mark.parametrize("payload", [None, {}, {"firstDegreeSize": "18422"}, {"firstDegreeSize": -1}])
def test_parse_network_size_rejects_wrong_shapes(payload: Any) -> None:
    with pytest.raises(PayloadError):
        linkedin.parse_network_size(payload, account_id=ORG, day=MAR1, collected_at=COLLECTED_AT)


# -- classifier --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload_file", "kind", "code", "says"),
    [
        # Shape: https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling Errors (table rows)
        # and https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits Rate limits (429 body)
        (401, "expired_token.json", "auth", "expired_access_token", "expired (they last 60 days)"),
        (401, "revoked_token.json", "auth", "revoked_access_token", "revoked"),
        (403, "access_denied.json", "permission", "access_denied", "ADMINISTRATOR"),
        (
            426,
            "nonexistent_version.json",
            "bad_request",
            "version_sunset",
            "LinkedIn-Version 202607 is past its sunset",
        ),
        (400, "illegal_argument.json", "bad_request", "illegal_argument", "timeIntervals"),
        (500, "server_error.json", "server", "", "Internal Server Error"),
    ],
)
def test_classify_reads_linkedin_envelopes(status: int, payload_file: str, kind: str, code: str, says: str) -> None:
    verdict = linkedin.classify(status, {}, fixture("linkedin", payload_file))
    assert verdict is not None
    assert (verdict.kind, verdict.code) == (kind, code)
    assert says in verdict.message


def test_classify_daily_throttle_waits_until_midnight_utc() -> None:
    verdict = linkedin.classify(429, {}, fixture("linkedin", "throttled_day.json"))
    assert verdict is not None and verdict.kind == "throttled" and verdict.retry_after is not None
    midnight = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
    assert abs(time.time() + verdict.retry_after - midnight.timestamp()) < 5


def test_classify_other_throttles_are_short_term() -> None:
    body = {"status": 429, "code": "TOO_MANY_REQUESTS", "message": "Too many requests"}
    verdict = linkedin.classify(429, {}, body)
    assert verdict is not None and verdict.kind == "throttled" and verdict.retry_after is None


def test_classify_names_the_support_id_of_a_server_error() -> None:
    verdict = linkedin.classify(503, {"x-li-uuid": "AAYabc123=="}, {"status": 503, "code": "SERVICE_UNAVAILABLE"})
    assert verdict is not None and verdict.kind == "server" and "x-li-uuid AAYabc123==" in verdict.message


# -- collect against the sandbox ---------------------------------------------------------------


def expected(org: str, since: date, until: date) -> dict[tuple[str, date], float]:
    """The rows docs/metrics.md gives, from the world's numbers (not from the parser)."""
    want: dict[tuple[str, date], float] = {("followers", NOW.date()): sandbox_li.followers_for(org, NOW.date())}
    lag_from = NOW.date() - timedelta(days=sandbox_li.FOLLOWER_LAG_DAYS)
    day = since
    while day <= until:
        organic, paid = sandbox_li.follower_gains_for(org, day)
        want[("followers_gained", day)] = 0 if day >= lag_from else organic + paid
        want[("profile_views", day)] = sandbox_li.page_views_for(org, day)["all"]
        share = sandbox_li.share_statistics_for(org, day) or {}
        want[("impressions", day)] = share.get("impressionCount", 0)
        want[("link_clicks", day)] = share.get("clickCount", 0)
        want[("engagements", day)] = sum(
            share.get(k, 0) for k in ("likeCount", "commentCount", "shareCount", "clickCount")
        )
        day += timedelta(days=1)
    return want


def test_collect_writes_exactly_the_rows_of_metrics_md(sandbox: Sandbox) -> None:
    got = collect(ctx_for(sandbox), client=(client := make_client("linkedin")))
    assert rows_of(got) == expected(ORG, SINCE, YESTERDAY)
    assert len(got.observations) == 1 + 5 * 21
    assert got.skipped == [] and client.requests_made == 4


def test_every_call_sends_the_version_headers_and_a_raw_time_intervals(sandbox: Sandbox) -> None:
    collect(ctx_for(sandbox))
    assert len(sandbox.requests) == 4
    for req in sandbox.requests:
        assert req.header("Authorization") == f"Bearer {TOKEN}"
        assert req.header("LinkedIn-Version") == linkedin.VERSION
        assert req.header("X-Restli-Protocol-Version") == "2.0.0"
    (size,) = sandbox.requests_to("/rest/networkSizes/")
    assert size.path == "/rest/networkSizes/urn%3Ali%3Aorganization%3A2414183"
    start = int(datetime.combine(SINCE, datetime.min.time(), UTC).timestamp() * 1000)
    end = int(datetime.combine(NOW.date(), datetime.min.time(), UTC).timestamp() * 1000)
    raw = f"timeIntervals=(timeRange:(start:{start},end:{end}),timeGranularityType:DAY)"
    for path in STATS_PATHS:
        (req,) = sandbox.requests_to(path)
        assert req.raw_query.endswith(raw)  # type: ignore[attr-defined]
        assert "urn%3Ali%3Aorganization%3A2414183" in req.raw_query  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        # requests' params= percent-encodes ( ) : , -- LinkedIn (and the sandbox) refuse that
        (
            {
                "q": "organizationalEntity",
                "organizationalEntity": "urn:li:organization:2414183",
                "timeIntervals": "(timeRange:(start:1772323200000,end:1772928000000),timeGranularityType:DAY)",
            },
            "timeIntervals",
        ),
        # a raw URN value is not Rest.li 2.0 either
        (
            "q=organizationalEntity&organizationalEntity=urn:li:organization:2414183"
            "&timeIntervals=(timeRange:(start:1772323200000,end:1772928000000),timeGranularityType:DAY)",
            "organizationalEntity",
        ),
    ],
)
def test_the_sandbox_refuses_what_linkedin_refuses(sandbox: Sandbox, query: Any, says: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", **linkedin.HEADERS}
    url = sandbox.url + "/rest/organizationalEntityShareStatistics"
    if isinstance(query, str):
        resp = requests.get(f"{url}?{query}", headers=headers, timeout=5)
    else:
        resp = requests.get(url, params=query, headers=headers, timeout=5)
        assert "timeIntervals=%28timeRange%3A%28start%3A" in (resp.request.url or "")
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "ILLEGAL_ARGUMENT" and says in body["message"]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"LinkedIn-Version": "202401", "X-Restli-Protocol-Version": "2.0.0"}, 426, "NONEXISTENT_VERSION"),
        ({"X-Restli-Protocol-Version": "2.0.0"}, 400, "VERSION_MISSING"),
        ({"LinkedIn-Version": linkedin.VERSION}, 400, "ILLEGAL_ARGUMENT"),
    ],
)
def test_the_sandbox_checks_the_version_headers(
    sandbox: Sandbox, headers: dict[str, str], status: int, code: str
) -> None:
    resp = requests.get(
        sandbox.url + "/rest/networkSizes/urn%3Ali%3Aorganization%3A2414183?edgeType=COMPANY_FOLLOWED_BY_MEMBER",
        headers={"Authorization": f"Bearer {TOKEN}", **headers},
        timeout=5,
    )
    assert (resp.status_code, resp.json()["code"]) == (status, code)


def test_only_complete_utc_days_inside_the_12_month_window_are_asked(sandbox: Sandbox) -> None:
    got = collect(ctx_for(sandbox), since=NOW.date() - timedelta(days=800), until=NOW.date() + timedelta(days=3))
    days = {o.observed_on for o in got.observations if o.metric != "followers"}
    assert max(days) == YESTERDAY
    assert min(days) == YESTERDAY - timedelta(days=linkedin.HISTORY_DAYS - 1)


def test_competitor_gets_followers_only_through_network_sizes(sandbox: Sandbox) -> None:
    got = collect(ctx_for(sandbox, RIVAL, competitor=True))
    assert table(got.observations) == [
        ("followers", NOW.date(), sandbox_li.followers_for(RIVAL, NOW.date()), "firstDegreeSize")
    ]
    assert [r.path for r in sandbox.requests] == ["/rest/networkSizes/urn%3Ali%3Aorganization%3A90412345"]


def test_competitor_refused_by_linkedin_says_why(sandbox: Sandbox) -> None:
    sandbox.script("/rest/networkSizes/", Reply(403, fixture("linkedin", "access_denied.json")))
    with pytest.raises(PermissionDenied, match="does not administer.*remove this competitor"):
        collect(ctx_for(sandbox, RIVAL, competitor=True))


def test_own_organization_without_the_admin_role_is_permission_denied(sandbox: Sandbox) -> None:
    with pytest.raises(PermissionDenied, match="rw_organization_admin.*ADMINISTRATOR"):
        collect(ctx_for(sandbox, RIVAL))


# -- errors ------------------------------------------------------------------------------------


def assert_clean(message: str, *secrets: str) -> None:
    for secret in (TOKEN, EXPIRED_TOKEN, *secrets):
        assert secret not in message


def test_a_sunset_version_names_the_version(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(linkedin.HEADERS, "LinkedIn-Version", "202401")
    with pytest.raises(BadRequest) as err:
        collect(ctx_for(sandbox))
    assert err.value.code == "version_sunset"
    assert "Requested version 20240101 is not active" in str(err.value)
    assert "LinkedIn-Version 202401 is past its sunset" in str(err.value)


def test_the_sandbox_throttles_for_the_day(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_li, "DAY_LIMIT", 0)
    with pytest.raises(RateLimited, match="APPLICATION DAY limit"):
        collect(ctx_for(sandbox))
    assert len(sandbox.requests) == 1


def test_a_server_error_is_retried_then_reported(sandbox: Sandbox) -> None:
    sandbox.script(STATS_PATHS[0], Reply(503, {"status": 503, "code": "SERVICE_UNAVAILABLE"}))
    assert rows_of(collect(ctx_for(sandbox))) == expected(ORG, SINCE, YESTERDAY)
    sandbox.clear()
    sandbox.script(
        STATS_PATHS[0], *[Reply(500, fixture("linkedin", "server_error.json"), {"x-li-uuid": "AAYsupport=="})] * 4
    )
    with pytest.raises(ServerError, match="x-li-uuid AAYsupport=="):
        collect(ctx_for(sandbox))


def test_a_retired_field_or_endpoint_is_skipped_and_recorded(sandbox: Sandbox) -> None:
    day = YESTERDAY
    ms = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)
    element = fixture("linkedin", "share_statistics.json")["elements"][0] | {
        "timeRange": {"start": ms, "end": ms + 86_400_000}
    }
    del element["totalShareStatistics"]["impressionCount"]
    sandbox.script(
        STATS_PATHS[2], Reply(200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": [element]})
    )
    sandbox.script(STATS_PATHS[1], Reply(404, {"status": 404, "code": "NOT_FOUND", "message": "Not Found"}))
    got = collect(ctx_for(sandbox), since=day, until=day)
    assert sorted({o.metric for o in got.observations}) == [
        "engagements",
        "followers",
        "followers_gained",
        "link_clicks",
    ]
    assert ("impressionCount", "not in LinkedIn's organizationalEntityShareStatistics answer any more") in got.skipped
    assert any(s.startswith("organizationPageStatistics: allPageViews.pageViews") for s, _ in got.skipped)


def test_paging_next_links_are_followed(sandbox: Sandbox) -> None:
    day1, day2 = YESTERDAY - timedelta(days=1), YESTERDAY
    ms = [int(datetime.combine(d, datetime.min.time(), UTC).timestamp() * 1000) for d in (day1, day2)]

    def element(start: int, gain: int) -> dict[str, Any]:
        return {
            "organizationalEntity": f"urn:li:organization:{ORG}",
            "timeRange": {"start": start, "end": start + 86_400_000},
            "followerGains": {"organicFollowerGain": gain, "paidFollowerGain": 1},
        }

    nxt = {
        "rel": "next",
        "type": "application/json",
        "href": STATS_PATHS[0] + "?q=organizationalEntity&start=1&count=1",
    }
    sandbox.script(
        STATS_PATHS[0],
        Reply(200, {"paging": {"start": 0, "count": 1, "links": [nxt]}, "elements": [element(ms[0], 5)]}),
        Reply(200, {"paging": {"start": 1, "count": 1, "links": []}, "elements": [element(ms[1], 2)]}),
    )
    got = rows_of(collect(ctx_for(sandbox), since=day1, until=day2))
    assert (got[("followers_gained", day1)], got[("followers_gained", day2)]) == (6, 3)


# -- refresh -----------------------------------------------------------------------------------


def stored_entry(store: TokenStore) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(store.path.read_text(encoding="utf-8"))
    return data["linkedin/oauth2:SOCIALKPI_LINKEDIN_TOKEN"]


def refreshing(sb: Sandbox, store: TokenStore, refresh: str, token: str | None = EXPIRED_TOKEN) -> CollectContext:
    return ctx_for(
        sb, token=token, store=store, refresh_token=refresh, client_id="li-client", client_secret="li-secret-123"
    )


def test_expired_token_is_refreshed_and_kept_in_a_0600_file(sandbox: Sandbox, store: TokenStore) -> None:
    refresh = fresh_refresh_token()
    ctx = refreshing(sandbox, store, refresh)
    assert rows_of(collect(ctx)) == expected(ORG, SINCE, YESTERDAY)
    (exchange,) = sandbox.requests_to("/oauth/v2/accessToken")
    assert exchange.form() == {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "client_id": "li-client",
        "client_secret": "li-secret-123",
    }
    assert exchange.header("LinkedIn-Version") is None and exchange.bearer() is None
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    entry = stored_entry(store)
    assert entry["access_token"].startswith("AQsandbox-") and entry["refresh_token"] == refresh
    assert entry["expires_at"] == pytest.approx(time.time() + 60 * 86400, abs=60)
    bearers = [r.bearer() for r in sandbox.requests_to("/rest/")]
    assert bearers == [EXPIRED_TOKEN] + [entry["access_token"]] * 4

    sandbox.clear()  # the next cron run: the stored token, no refresh
    collect(ctx)
    assert sandbox.requests_to("/oauth/v2/accessToken") == []
    assert {r.bearer() for r in sandbox.requests} == {entry["access_token"]}


def test_a_stored_token_past_expiry_is_refreshed_before_any_call(sandbox: Sandbox, store: TokenStore) -> None:
    refresh = fresh_refresh_token()
    store.put("linkedin", "oauth2:SOCIALKPI_LINKEDIN_TOKEN", StoredToken("AQold-token-xyz", refresh, time.time() - 10))
    collect(refreshing(sandbox, store, refresh, token=None))
    assert [r.path for r in sandbox.requests][0] == "/oauth/v2/accessToken"
    assert {r.bearer() for r in sandbox.requests_to("/rest/")} == {stored_entry(store)["access_token"]}


def test_a_dead_refresh_token_says_to_authorize_again(sandbox: Sandbox, store: TokenStore) -> None:
    dead = f"revoked-{uuid.uuid4().hex}"
    with pytest.raises(AuthError) as err:
        collect(refreshing(sandbox, store, dead))
    message = str(err.value)
    assert "invalid, expired or revoked" in message and "365 days" in message
    assert "authorize the app again" in message and "SOCIALKPI_LINKEDIN_REFRESH_TOKEN" in message
    assert_clean(message, dead, "li-secret-123")
    data = json.loads(store.path.read_text(encoding="utf-8"))  # no token kept: only the .env token's first use
    assert list(data) == ["linkedin/oauth2:SOCIALKPI_LINKEDIN_TOKEN@env"] and "access_token" not in data[list(data)[0]]
    assert_clean(store.path.read_text(encoding="utf-8"), dead, EXPIRED_TOKEN, "li-secret-123")


def test_the_first_use_of_a_env_token_is_noted_so_its_60_day_end_can_be_foretold(
    sandbox: Sandbox, store: TokenStore
) -> None:
    """https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens: "Access tokens: 60
    days", and without a refresh token (not a
    Marketing Developer Platform partner) nothing renews them: the .env token ends 60 days after it was
    issued, so at the latest 60 days after socialkpi first used it."""
    before = time.time()
    collect(ctx_for(sandbox, store=store))
    name = "linkedin/oauth2:SOCIALKPI_LINKEDIN_TOKEN@env"
    first = json.loads(store.path.read_text(encoding="utf-8"))[name]
    assert before <= first["first_used_at"] <= time.time() and first["lifetime_days"] == 60
    assert first["expires_at"] == first["first_used_at"] + 60 * 86400 and first["estimated"] is True
    assert_clean(store.path.read_text(encoding="utf-8"), TOKEN)  # a fingerprint, never the token
    collect(ctx_for(sandbox, store=store))  # the next cron run, the same token: its first use stays
    assert json.loads(store.path.read_text(encoding="utf-8"))[name] == first
    with pytest.raises(AuthError):  # the owner put another token in .env (here one LinkedIn refuses)
        collect(ctx_for(sandbox, store=store, token=EXPIRED_TOKEN))
    assert json.loads(store.path.read_text(encoding="utf-8"))[name]["fingerprint"] != first["fingerprint"]


def test_a_refreshed_token_replaces_the_env_tokens_first_use_record(sandbox: Sandbox, store: TokenStore) -> None:
    store.note_env_token("linkedin", "oauth2:SOCIALKPI_LINKEDIN_TOKEN", EXPIRED_TOKEN, 60)
    collect(refreshing(sandbox, store, fresh_refresh_token()))  # the env token is refused, then refreshed
    assert list(json.loads(store.path.read_text(encoding="utf-8"))) == ["linkedin/oauth2:SOCIALKPI_LINKEDIN_TOKEN"]


def test_refresh_needs_the_client_secret(sandbox: Sandbox, store: TokenStore) -> None:
    ctx = ctx_for(sandbox, token=EXPIRED_TOKEN, store=store, refresh_token=fresh_refresh_token(), client_id="li-client")
    with pytest.raises(AuthError, match="SOCIALKPI_LINKEDIN_CLIENT_SECRET"):
        collect(ctx)


# -- check (socialkpi doctor) ------------------------------------------------------------------


def test_check_own_organization(sandbox: Sandbox) -> None:
    with make_client("linkedin", linkedin.classify) as client:
        detail = linkedin.check(client, ctx_for(sandbox))
    followers = sandbox_li.followers_for(ORG, NOW.date())
    assert detail == (
        f"token valid; organization {ORG} has {followers} followers; admin statistics ok; "
        f"LinkedIn-Version {linkedin.VERSION} supported until about {linkedin.VERSION_SUPPORTED_UNTIL:%Y-%m}"
    )
    assert len(sandbox.requests) == 2


def test_check_competitor_and_refreshed_token_expiry(sandbox: Sandbox, store: TokenStore) -> None:
    ctx = replace(
        refreshing(sandbox, store, fresh_refresh_token(), token=None),
        account=ctx_for(sandbox, RIVAL, competitor=True).account,
    )
    with make_client("linkedin", linkedin.classify) as client:
        detail = linkedin.check(client, ctx)
    until = datetime.fromtimestamp(time.time() + 60 * 86400, UTC)
    assert detail.startswith(f"token valid until {until:%Y-%m-%d}; organization {RIVAL} has ")
    assert "competitor: networkSizes only (unverified)" in detail


@pytest.mark.parametrize(
    ("org", "error", "says"),
    [(RIVAL, PermissionDenied, "rw_organization_admin"), (ORG, AuthError, "SOCIALKPI_LINKEDIN_TOKEN")],
)
def test_check_fails_with_advice(sandbox: Sandbox, org: str, error: type[Exception], says: str) -> None:
    token = EXPIRED_TOKEN if error is AuthError else TOKEN
    with make_client("linkedin", linkedin.classify) as client, pytest.raises(error, match=says):
        linkedin.check(client, ctx_for(sandbox, org, token=token))


def test_check_reports_a_sunset_version(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(linkedin.HEADERS, "LinkedIn-Version", "202311")
    with (
        make_client("linkedin", linkedin.classify) as client,
        pytest.raises(BadRequest, match="202311 is past its sunset"),
    ):
        linkedin.check(client, ctx_for(sandbox))


# -- issue 11: numbers, the bucket an element declares, endpoints LinkedIn no longer serves ----------
# Shape: https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/follower-statistics
# Example responses ("timeRange": {"start": 1772323200000, "end":
# 1772409600000}, a DAY bucket; "Timestamps are epoch milliseconds; DAY buckets are UTC days ...;
# timeRange.end is exclusive") and the same page's request
# (timeIntervals=(timeRange:(start:..,end:..),timeGranularityType:DAY)).
def test_a_whole_float_is_a_count_and_no_count_is_refused() -> None:
    payload = fixture("linkedin", "follower_statistics.json")
    payload["elements"][0]["followerGains"]["organicFollowerGain"] = 6.0
    rows = linkedin.parse_follower_statistics(
        payload, account_id=ORG, since=MAR1, until=MAR1, collected_at=COLLECTED_AT
    )
    assert [o.value for o in rows] == [6] and type(rows[0].value) is int
    for value in (6.5, -1, float("nan"), "6", True):
        payload["elements"][0]["followerGains"]["organicFollowerGain"] = value
        with pytest.raises(PayloadError, match="followerGains.organicFollowerGain on 2026-03-01 is .*not a count"):
            linkedin.parse_follower_statistics(
                payload, account_id=ORG, since=MAR1, until=MAR1, collected_at=COLLECTED_AT
            )


def test_an_element_of_a_month_is_refused_not_dated_on_its_first_day() -> None:
    payload = fixture("linkedin", "share_statistics.json")
    start = payload["elements"][0]["timeRange"]["start"]  # 2026-03-01
    payload["elements"] = [payload["elements"][0] | {"timeRange": {"start": start, "end": start + 31 * 86_400_000}}]
    with pytest.raises(PayloadError, match=r"answered timeRange \(timeGranularityType DAY\) '31 days', but .* '1 day'"):
        linkedin.parse_share_statistics(payload, account_id=ORG, since=MAR1, until=MAR3, collected_at=COLLECTED_AT)


def test_the_sandbox_answering_month_buckets_fails_the_account(sandbox: Sandbox) -> None:
    day = YESTERDAY
    ms = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)
    month = fixture("linkedin", "follower_statistics.json")["elements"][0] | {
        "timeRange": {"start": ms, "end": ms + 30 * 86_400_000}
    }
    sandbox.script(STATS_PATHS[0], Reply(200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": [month]}))
    with pytest.raises(PayloadError, match="timeGranularityType DAY"):
        collect(ctx_for(sandbox), since=day, until=day)


def test_an_endpoint_gone_410_is_skipped_too(sandbox: Sandbox) -> None:
    sandbox.script(STATS_PATHS[2], Reply(410, {"status": 410, "code": "GONE", "message": "Resource is gone"}))
    got = collect(ctx_for(sandbox), since=YESTERDAY, until=YESTERDAY)
    assert {o.metric for o in got.observations} == {"followers", "followers_gained", "profile_views"}
    notes = dict(got.skipped)
    assert set(notes) == {f"organizationalEntityShareStatistics: {'+'.join(s)}" for s in linkedin.SHARE_FIELDS.values()}
    assert all("refused (not supported): Resource is gone" in n for n in notes.values())


def test_a_transient_failure_of_a_statistics_endpoint_still_fails_the_account(sandbox: Sandbox) -> None:
    sandbox.script(STATS_PATHS[1], *[Reply(504, {"status": 504, "message": "Gateway Timeout"})] * 4)
    with pytest.raises(ServerError):
        collect(ctx_for(sandbox), since=YESTERDAY, until=YESTERDAY)
