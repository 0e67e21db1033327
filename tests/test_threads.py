"""Threads collector: parsers on doc-shaped payloads, token refresh, and collect()/check() against the sandbox."""

from __future__ import annotations

import copy
import os
import stat
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors import threads as th
from collectors.context import Collected
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied
from collectors.tokens import StoredToken, TokenStore
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import threads as sb_th
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import COLLECTED_AT, days, fixture, make_client, make_ctx

OWN = sb_th.OWN_ID
RIVAL = "rivalpatisserie"
TODAY = date(2026, 3, 10)  # COLLECTED_AT (2026-03-10 06:30 UTC) read in Europe/Paris
LAST_PACIFIC = date(2026, 3, 8)  # at COLLECTED_AT it is 23:30 on 9 March in Los Angeles
DAY = date(2026, 3, 1)
ENV = "SOCIALKPI_THREADS_TOKEN"


def keyed(rows: list[Any]) -> dict[tuple[str, date], float]:
    out = {(o.metric, o.observed_on): o.value for o in rows}
    assert len(out) == len(rows), "two rows share one (metric, day) key"
    return out


def keyed_rows(rows: list[Any]) -> list[Any]:
    keyed(rows)  # one row per (metric, day)
    return rows


def meta_error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, **extra, "fbtrace_id": "AbC"}}


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore.beside(tmp_path / "socialkpi.duckdb")


def ctx_for(sandbox: Sandbox, account: str = OWN, store: TokenStore | None = None, **kw: Any) -> Any:
    return replace(make_ctx("threads", account, sandbox.url, **kw), token_store=store)


def run(
    sandbox: Sandbox,
    account: str = OWN,
    since: date = DAY,
    until: date = DAY,
    store: TokenStore | None = None,
    client: Any = None,
    **kw: Any,
) -> Collected:
    with client or make_client("threads", classify=th.classify) as client:
        return th.collect(client, ctx_for(sandbox, account, store, **kw), since=since, until=until)


def expected(since: date, until: date) -> dict[tuple[str, date], float]:
    """docs/metrics.md's rows, from the sandbox world's own numbers."""
    rows: dict[tuple[str, date], float] = {("followers", TODAY): sb_th.followers_on(OWN, datetime.now(UTC).date())}
    for day in days(since, min(until, LAST_PACIFIC)):
        rows[("profile_views", day)] = sb_th.value_for(OWN, "views", day)  # 0 when the day is left out
        rows[("engagements", day)] = sum(
            sb_th.value_for(OWN, m, day) for m in ("likes", "replies", "reposts", "quotes")
        )
    return rows


def data_requests(sandbox: Sandbox) -> list[Any]:
    return sandbox.requests_to(r"/threads_insights$")


# -- parsers (fixtures shaped as the docs quoted in each test) -------------------------------------------


@pytest.mark.parametrize(("day", "views"), [(date(2026, 3, 1), 38), (date(2026, 3, 2), 51), (date(2026, 3, 3), 0)])
def test_parse_insights_dates_views_by_pacific_day(day: date, views: int) -> None:
    # Shape: https://developers.facebook.com/documentation/threads/insights Endpoints and metrics (Example)
    rows = th.parse_insights(
        fixture("threads", "insights.json"), account_id=OWN, day=day, requested=["views"], collected_at=COLLECTED_AT
    )
    assert keyed(rows) == {("profile_views", day): views}
    assert rows[0].source_metric == "views"


def test_parse_insights_sums_the_four_interactions() -> None:
    # Shape: https://developers.facebook.com/documentation/threads/insights (views as values, the other user metrics as
    # total_value)
    rows = th.parse_insights(
        fixture("threads", "insights_day.json"),
        account_id=OWN,
        day=DAY,
        requested=th.DAILY_METRICS,
        collected_at=COLLECTED_AT,
    )
    assert keyed(rows) == {("profile_views", DAY): 38, ("engagements", DAY): 12 + 3 + 2 + 1}
    assert {o.metric: o.source_metric for o in rows}["engagements"] == "likes+replies+reposts+quotes"


@pytest.mark.parametrize(
    ("requested", "want"),
    [
        (th.DAILY_METRICS, {("profile_views", DAY): 0, ("engagements", DAY): 0}),
        (("likes", "quotes"), {("engagements", DAY): 0}),
        ((), {}),
    ],
)
def test_parse_insights_missing_metrics_count_zero(requested: tuple[str, ...], want: dict[Any, int]) -> None:
    rows = th.parse_insights({"data": []}, account_id=OWN, day=DAY, requested=requested, collected_at=COLLECTED_AT)
    assert keyed(rows) == want


def test_parse_followers_takes_the_current_total() -> None:
    # Shape: https://developers.facebook.com/documentation/threads/insights (followers_count as total_value)
    rows = th.parse_followers(fixture("threads", "insights.json"), account_id=OWN, day=TODAY, collected_at=COLLECTED_AT)
    assert keyed(rows) == {("followers", TODAY): 1842}


def test_parse_profile_lookup() -> None:
    # Shape: https://developers.facebook.com/documentation/threads/threads-profiles, Example Response
    rows = th.parse_profile_lookup(
        fixture("threads", "profile_lookup.json"), account_id="meta", day=TODAY, collected_at=COLLECTED_AT
    )
    assert keyed(rows) == {("followers", TODAY): 1234567}  # the 7-day counters are windows: not stored
    assert rows[0].source_metric == "follower_count"


def test_parse_refresh() -> None:
    # Shape: https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/ Base URL, auth (refresh answer)
    token = th.parse_refresh(fixture("threads", "refresh.json"), now=1_000_000.0)
    assert token == StoredToken("THQWJRefreshedLongLivedToken123", None, 1_000_000.0 + 5183944)


@pytest.mark.parametrize(
    ("parser", "payload"),
    [
        ("insights", []),
        ("insights", {"data": {}}),
        ("insights", {"data": [{"values": []}]}),
        ("insights", {"data": [{"name": "likes", "total_value": {"value": "12"}}]}),
        ("insights", {"data": [{"name": "views", "values": [{"value": 3}]}]}),
        ("insights", {"data": [{"name": "views", "period": "day"}]}),
        ("followers", {"data": [{"name": "followers_count", "values": []}]}),
        ("followers", {"data": [{"name": "followers_count", "total_value": {"value": None}}]}),
        ("lookup", ["meta"]),
        ("lookup", {"follower_count": "12"}),
        ("refresh", {"token_type": "bearer"}),
    ],
)
def test_parsers_reject_wrong_shapes(parser: str, payload: Any) -> None:
    with pytest.raises(PayloadError):
        if parser == "insights":
            th.parse_insights(payload, account_id=OWN, day=DAY, requested=th.DAILY_METRICS, collected_at=COLLECTED_AT)
        elif parser == "followers":
            th.parse_followers(payload, account_id=OWN, day=TODAY, collected_at=COLLECTED_AT)
        elif parser == "lookup":
            th.parse_profile_lookup(payload, account_id=RIVAL, day=TODAY, collected_at=COLLECTED_AT)
        else:
            th.parse_refresh(payload, now=0.0)


@pytest.mark.parametrize("name", ["insights.json", "insights_day.json", "profile_lookup.json"])
def test_parsers_never_mutate_input(name: str) -> None:
    payload = fixture("threads", name)
    before = copy.deepcopy(payload)
    if "data" in payload:
        th.parse_insights(payload, account_id=OWN, day=DAY, requested=th.DAILY_METRICS, collected_at=COLLECTED_AT)
        th.parse_followers(payload, account_id=OWN, day=TODAY, collected_at=COLLECTED_AT)
    else:
        th.parse_profile_lookup(payload, account_id="meta", day=TODAY, collected_at=COLLECTED_AT)
    assert payload == before


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, meta_error(190, "Error validating access token: Session has expired", error_subcode=463), "auth"),
        (400, meta_error(10, "(#10) Application does not have permission for this action"), "permission"),
        (400, meta_error(4, "(#4) Application request limit reached"), "throttled"),
        (400, meta_error(100, "(#100) metric[0] must be one of the following values: views, likes"), "bad_request"),
        # the sporadic empty 500 of threads_insights (reported in 2026, not documented): judged by the status
        (500, None, None),
    ],
)
def test_classify_reads_the_graph_envelope(status: int, body: Any, kind: str | None) -> None:
    verdict = th.classify(status, {}, body)
    assert (verdict.kind if verdict else None) == kind
    if kind == "permission":
        assert verdict is not None and "threads_manage_insights" in verdict.message


# -- collect() against the sandbox ------------------------------------------------------------------------


def test_collect_gives_the_rows_metrics_md_describes(sandbox: Sandbox) -> None:
    since, until = date(2026, 2, 27), date(2026, 3, 9)  # crosses the no-data day (3 March) and DST (8 March)
    out = run(sandbox, since=since, until=until, client=(client := make_client("threads")))
    assert keyed(out.observations) == expected(since, until)
    assert keyed(out.observations)[("profile_views", date(2026, 3, 3))] == 0  # left out by the API: a 0
    assert not out.skipped
    assert all(o.platform == "threads" and o.account_id == OWN for o in out.observations)
    assert client.requests_made == 1 + len(days(since, LAST_PACIFIC)) + 1  # followers, one per day, one refresh


def test_collect_asks_one_pacific_day_at_a_time(sandbox: Sandbox) -> None:
    run(sandbox, since=date(2026, 3, 7), until=date(2026, 3, 9))
    asked = data_requests(sandbox)
    assert asked[0].arg("metric") == "followers_count" and asked[0].arg("since") is None
    assert [(int(r.arg("since") or 0), int(r.arg("until") or 0)) for r in asked[1:]] == [
        th.pacific_bounds(date(2026, 3, 7)),
        th.pacific_bounds(date(2026, 3, 8)),  # 23 hours; the 9th has not ended in Los Angeles
    ]
    assert all(r.arg("metric") == "views,likes,replies,reposts,quotes" for r in asked[1:])


def test_days_before_the_api_floor_are_not_asked(sandbox: Sandbox) -> None:
    out = run(sandbox, since=date(2024, 4, 10), until=date(2024, 4, 14))
    assert sorted({o.observed_on for o in out.observations if o.metric != "followers"}) == [
        date(2024, 4, 13),
        date(2024, 4, 14),
    ]


def test_a_metric_retired_later_is_skipped_and_engagements_use_the_rest(sandbox: Sandbox) -> None:
    retired = meta_error(100, "(#100) metric[4] must be one of the following values: views, likes, replies, reposts")
    sandbox.script(r"/threads_insights$", Reply(200, fixture("threads", "insights.json")), Reply(400, retired))
    sandbox.script(r"/threads_insights$", *[Reply(200, {"data": []})] * 4, Reply(400, retired))
    out = run(sandbox)
    assert [m for m, _ in out.skipped] == ["quotes"]
    rows = {o.metric: o for o in keyed_rows(out.observations)}
    assert rows["engagements"].source_metric == "likes+replies+reposts"


@pytest.mark.parametrize(("token", "what"), [(EXPIRED_TOKEN, "Session has expired"), ("wrong-token-1", "Cannot parse")])
def test_a_dead_token_says_what_to_do_and_never_shows_the_token(
    sandbox: Sandbox, store: TokenStore, token: str, what: str
) -> None:
    with pytest.raises(AuthError) as info:
        run(sandbox, token=token, store=store)
    message = str(info.value)
    assert what in message and ENV in message and "60 days" in message
    assert token not in message
    assert not store.path.exists()  # nothing stored


def test_the_token_travels_in_a_header_on_data_calls(sandbox: Sandbox) -> None:
    run(sandbox)
    for request in data_requests(sandbox):
        assert (request.header("Authorization") or "").startswith("Bearer ")
        assert "access_token" not in request.query


@pytest.mark.parametrize(
    "fault",
    [
        Reply(500, None),  # the sporadic empty 500 (reported in 2026, not documented)
        Reply(500, meta_error(2, "An unexpected error has occurred.", is_transient=True)),
        # the (#4) throttle and a dropped connection: tests/test_platforms.py (near throttle, transient faults)
    ],
)
def test_transient_faults_and_throttling_are_retried(sandbox: Sandbox, fault: Reply) -> None:
    sandbox.script(r"/threads_insights$", fault, fault)
    assert keyed(run(sandbox).observations) == expected(DAY, DAY)


@pytest.mark.parametrize(
    "reply",
    [Reply(200, {"data": "views"}), Reply.raw("<html></html>")],  # truncated JSON: tests/test_platforms.py
)
def test_malformed_answers_are_a_payload_error(sandbox: Sandbox, reply: Reply) -> None:
    sandbox.script(r"/threads_insights$", reply)
    with pytest.raises(PayloadError):
        run(sandbox)


def test_a_missing_permission_names_the_scopes(sandbox: Sandbox) -> None:
    sandbox.script(r"/threads_insights$", Reply(400, meta_error(10, "(#10) Application does not have permission")))
    with pytest.raises(PermissionDenied, match="threads_basic and threads_manage_insights"):
        run(sandbox)


def test_an_own_account_id_must_be_numeric(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="competitor = true"):
        run(sandbox, account="cornerbakerylyon")
    assert sandbox.requests == []


# -- token refresh (th_refresh_token) ----------------------------------------------------------------------


def refreshes(sandbox: Sandbox) -> list[Any]:
    return sandbox.requests_to(r"^/(refresh_access_token|token)$")


def test_the_first_run_refreshes_the_env_token_and_keeps_it_0600(sandbox: Sandbox, store: TokenStore) -> None:
    run(sandbox, store=store)
    (refresh,) = refreshes(sandbox)
    assert refresh.arg("grant_type") == "th_refresh_token" and refresh.arg("access_token") == TOKEN
    assert refresh.header("Authorization") is None
    kept = store.get("threads", ENV)
    assert kept is not None and kept.access_token.startswith("THQWsandbox")
    assert kept.expires_at is not None and abs(kept.expires_at - (time.time() + sb_th.TOKEN_LIFETIME)) < 60
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert all(r.bearer() == kept.access_token for r in data_requests(sandbox))  # used at once


def test_a_fresh_stored_token_wins_and_is_not_refreshed(sandbox: Sandbox, store: TokenStore) -> None:
    run(sandbox, store=store)
    kept = store.get("threads", ENV)
    sandbox.clear()
    run(sandbox, store=store)
    assert refreshes(sandbox) == []
    assert kept is not None and all(r.bearer() == kept.access_token for r in data_requests(sandbox))


def test_a_stored_token_near_expiry_is_refreshed_before_use(sandbox: Sandbox, store: TokenStore) -> None:
    run(sandbox, store=store)
    old = store.get("threads", ENV)
    assert old is not None
    store.put("threads", ENV, replace(old, expires_at=time.time() + 10 * 86400))  # 10 days left
    sandbox.clear()
    run(sandbox, store=store)
    (refresh,) = refreshes(sandbox)
    assert refresh.arg("access_token") == old.access_token
    new = store.get("threads", ENV)
    assert new is not None and new.access_token != old.access_token
    assert all(r.bearer() == new.access_token for r in data_requests(sandbox))


def test_a_refused_stored_token_falls_back_to_the_env_token_and_heals(sandbox: Sandbox, store: TokenStore) -> None:
    store.put("threads", ENV, StoredToken("THQWrevoked-by-a-password-change", None, time.time() + 50 * 86400))
    out = run(sandbox, store=store)
    assert keyed(out.observations) == expected(DAY, DAY)
    healed = store.get("threads", ENV)
    assert healed is not None and healed.access_token.startswith("THQWsandbox")


def test_a_token_too_young_to_refresh_is_used_as_it_is(sandbox: Sandbox, store: TokenStore) -> None:
    young = Reply(400, meta_error(100, "(#100) The access token must be at least 24 hours old to be refreshed"))
    sandbox.script(r"^/refresh_access_token$", young)
    out = run(sandbox, store=store)
    assert keyed(out.observations) == expected(DAY, DAY)
    assert all(r.bearer() == TOKEN for r in data_requests(sandbox))
    assert store.get("threads", ENV) is None


def test_the_token_url_setting_replaces_the_refresh_endpoint(sandbox: Sandbox, store: TokenStore) -> None:
    run(sandbox, store=store, token_url=sandbox.url + "/token")
    assert [r.path for r in refreshes(sandbox)] == ["/token"]


@pytest.mark.parametrize(
    ("days_left", "what"),
    [
        (20, "Session has expired"),  # refreshed before use: refused quietly, then the data call fails
        (50, "could not be refreshed"),  # not due: the auth error triggers the refresh, which fails
    ],
)
def test_an_expired_token_that_cannot_be_refreshed_says_what_to_do(
    sandbox: Sandbox, store: TokenStore, days_left: int, what: str
) -> None:
    store.put("threads", ENV, StoredToken(EXPIRED_TOKEN, None, time.time() + days_left * 86400))
    with pytest.raises(AuthError) as info:
        run(sandbox, store=store, token=EXPIRED_TOKEN)
    message = str(info.value)
    assert what in message and "th_exchange_token" in message and ENV in message
    assert EXPIRED_TOKEN not in message
    assert len(refreshes(sandbox)) == 1  # tried once, not hammered


def test_an_auth_error_mid_run_refreshes_once_then_goes_on(sandbox: Sandbox, store: TokenStore) -> None:
    run(sandbox, store=store)  # a stored, fresh token
    sandbox.clear()
    expired = meta_error(190, "Error validating access token: Session has expired", error_subcode=463)
    # the stored token is refused once: fall back to the env token, refresh it, go on
    sandbox.script(r"/threads_insights$", Reply(400, expired))
    out = run(sandbox, store=store, since=DAY, until=date(2026, 3, 2))
    assert keyed(out.observations) == expected(DAY, date(2026, 3, 2))


# -- competitors: profile_lookup --------------------------------------------------------------------------


def test_a_competitor_gives_followers_through_profile_lookup(sandbox: Sandbox) -> None:
    out = run(sandbox, account=RIVAL, competitor=True, since=date(2026, 3, 1), until=date(2026, 3, 8))
    assert keyed(out.observations) == {("followers", TODAY): sb_th.followers_on(RIVAL, datetime.now(UTC).date())}
    assert data_requests(sandbox) == []
    (lookup,) = sandbox.requests_to(r"/profile_lookup$")
    assert lookup.arg("username") == RIVAL and lookup.bearer() is not None


def test_an_unknown_competitor_is_a_clear_error(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="no_such_bakery.*at least 1,000 followers"):
        run(sandbox, account="no_such_bakery", competitor=True)


def test_profile_discovery_without_advanced_access_says_so(sandbox: Sandbox) -> None:
    sandbox.script(r"/profile_lookup$", Reply(400, meta_error(10, "(#10) Application does not have permission")))
    with pytest.raises(PermissionDenied, match="threads_profile_discovery permission with Advanced Access"):
        run(sandbox, account=RIVAL, competitor=True)


@pytest.mark.parametrize("username", ["rival patisserie", "a&b=c", ""])
def test_a_competitor_id_that_is_no_username_is_refused_before_any_request(sandbox: Sandbox, username: str) -> None:
    with pytest.raises(BadRequest, match="not a Threads username"):
        run(sandbox, account=username, competitor=True)
    assert sandbox.requests == []


# -- check() for socialkpi doctor ------------------------------------------------------------------------


def check(sandbox: Sandbox, account: str = OWN, store: TokenStore | None = None, **kw: Any) -> str:
    with make_client("threads", classify=th.classify) as client:
        return th.check(client, ctx_for(sandbox, account, store, **kw))


def test_check_an_own_account(sandbox: Sandbox) -> None:
    assert check(sandbox) == "token valid for @cornerbakerylyon, expiry unknown until the first collect refreshes it"
    assert [r.path for r in sandbox.requests] == ["/v1.0/me"]  # no refresh from doctor


def test_check_tells_a_refreshed_tokens_expiry(sandbox: Sandbox, store: TokenStore) -> None:
    run(sandbox, store=store)
    kept = store.get("threads", ENV)
    assert kept is not None and kept.expires_at is not None
    day = datetime.fromtimestamp(kept.expires_at, UTC).date()
    assert check(sandbox, store=store) == (
        f"token valid for @cornerbakerylyon, refreshed token expires {day:%Y-%m-%d} (refreshed automatically)"
    )


def test_check_a_token_of_another_user(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match=f"put {OWN} as the id"):
        check(sandbox, account="1234567")


def test_check_a_competitor(sandbox: Sandbox) -> None:
    followers = sb_th.followers_on(RIVAL, datetime.now(UTC).date())
    assert check(sandbox, RIVAL, competitor=True).startswith(
        f"profile discovery of @{RIVAL} works ({followers} followers)"
    )


def test_check_an_expired_token(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError, match=ENV) as info:
        check(sandbox, token=EXPIRED_TOKEN)
    assert EXPIRED_TOKEN not in str(info.value)


# -- issue 11: counts, and the period an entry declares -------------------------------------------------
# Shape: https://developers.facebook.com/documentation/threads/insights Example: {"name": "views", "period": "day",
# "values": [...]} and
# {"name": "followers_count", "period": "day", "total_value": {"value": 1842}}; "likes, replies, reposts,
# quotes, clicks (link clicks) — totals over the range".
def test_a_total_of_another_period_is_refused_not_dated_on_the_day() -> None:
    payload = fixture("threads", "insights_day.json")
    payload["data"][1]["period"] = "lifetime"  # likes over the account's life, not over the asked day
    with pytest.raises(PayloadError, match="threads_insights likes answered period 'lifetime', but period 'day'"):
        th.parse_insights(payload, account_id=OWN, day=DAY, requested=th.DAILY_METRICS, collected_at=COLLECTED_AT)


@pytest.mark.parametrize("value", [-1, 12.5, float("nan"), float("inf")])
def test_a_value_that_is_no_count_is_refused(value: Any) -> None:
    payload = fixture("threads", "insights_day.json")
    payload["data"][1]["total_value"]["value"] = value
    with pytest.raises(PayloadError, match="the likes value is .*not a count"):
        th.parse_insights(payload, account_id=OWN, day=DAY, requested=th.DAILY_METRICS, collected_at=COLLECTED_AT)


def test_followers_count_of_another_period_is_refused() -> None:
    payload = {"data": [{"name": "followers_count", "period": "lifetime", "total_value": {"value": 1842}}]}
    with pytest.raises(PayloadError, match="followers_count answered period 'lifetime'"):
        th.parse_followers(payload, account_id=OWN, day=DAY, collected_at=COLLECTED_AT)
    payload["data"][0]["period"] = "day"
    assert [o.value for o in th.parse_followers(payload, account_id=OWN, day=DAY, collected_at=COLLECTED_AT)] == [1842]


def test_the_sandbox_answering_lifetime_totals_fails_the_account(sandbox: Sandbox) -> None:
    lifetime = fixture("threads", "insights_day.json")
    for entry in lifetime["data"][1:]:
        entry["period"] = "lifetime"
    sandbox.script(r"/threads_insights$", Reply(200, {"data": [{"name": "followers_count", "period": "day",
                                                               "total_value": {"value": 1842}}]}),  # fmt: skip
                   Reply(200, lifetime))  # fmt: skip
    with pytest.raises(PayloadError, match="answered period 'lifetime'"):
        run(sandbox, since=DAY, until=DAY)
