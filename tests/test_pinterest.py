"""Pinterest: parsers on doc-shaped fixtures, the collector against the sandbox part, refresh, errors."""

from __future__ import annotations

import copy
import json
import stat
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors import pinterest
from collectors.context import CollectContext
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, RateLimited, ServerError
from collectors.observation import Observation
from collectors.tokens import StoredToken, TokenStore
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import pinterest as sb_pinterest
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import fixture, make_client, make_ctx

USER = sb_pinterest.USERNAME
AT = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
REFRESH = "pinr_sandbox-initial-refresh-token"
MAPPING = {"IMPRESSION": "impressions", "ENGAGEMENT": "engagements", "OUTBOUND_CLICK": "link_clicks"}  # docs/metrics.md
APP = {"client_id": sb_pinterest.CLIENT_ID, "client_secret": sb_pinterest.CLIENT_SECRET}


def rows(observations: list[Observation]) -> set[tuple[str, date, float, str]]:
    return {(o.metric, o.observed_on, o.value, o.source_metric) for o in observations}


# -- parsers -------------------------------------------------------------------------------------
# Shape: https://developers.pinterest.com/docs/api/v5/ Endpoints ("Account (snapshot)")
def test_parse_user_account_gives_todays_followers() -> None:
    payload = fixture("pinterest", "user_account.json")
    before = copy.deepcopy(payload)
    got = pinterest.parse_user_account(payload, account_id=USER, day=date(2026, 3, 10), collected_at=AT)
    assert got == [Observation("pinterest", USER, "followers", date(2026, 3, 10), 1520, "follower_count", AT)]
    assert payload == before


@pytest.mark.parametrize(
    "payload",
    [[], {"follower_count": 3}, {"username": "x", "follower_count": "1520"}, {"username": "x", "follower_count": True}],
)
def test_parse_user_account_rejects_wrong_shapes(payload: Any) -> None:
    with pytest.raises(PayloadError):
        pinterest.parse_user_account(payload, account_id=USER, day=date(2026, 3, 10), collected_at=AT)


# Shape: https://developers.pinterest.com/docs/api/v5/ Endpoints ("Account analytics": map keyed by split value)
def test_parse_analytics_writes_ready_days_only() -> None:
    payload = fixture("pinterest", "analytics.json")
    before = copy.deepcopy(payload)
    got = pinterest.parse_analytics(
        payload, account_id=USER, since=date(2026, 3, 1), until=date(2026, 3, 2), collected_at=AT
    )
    assert rows(got) == {
        ("impressions", date(2026, 3, 1), 240, "IMPRESSION"),
        ("engagements", date(2026, 3, 1), 31, "ENGAGEMENT"),
        ("link_clicks", date(2026, 3, 1), 20, "OUTBOUND_CLICK"),
    }  # 2026-03-02 is PROCESSING: left out, fetched again later
    assert payload == before
    assert pinterest.unready_days(payload) == {"PROCESSING": [date(2026, 3, 2)]}


# Shape: https://developers.pinterest.com/docs/api/v5/ Endpoints (data_status enum; docs/metrics.md "a day answered with
# nothing")
def test_parse_analytics_statuses_missing_days_and_values() -> None:
    got = pinterest.parse_analytics(
        fixture("pinterest", "analytics_statuses.json"),
        account_id=USER,
        since=date(2026, 2, 24),
        until=date(2026, 3, 1),
        collected_at=AT,
    )
    assert rows(got) == {
        ("impressions", date(2026, 2, 25), 112, "IMPRESSION"),
        ("engagements", date(2026, 2, 25), 9, "ENGAGEMENT"),
        ("link_clicks", date(2026, 2, 25), 4, "OUTBOUND_CLICK"),
        # 2026-02-26 left out of the answer: a 0 for every count
        ("impressions", date(2026, 2, 26), 0, "IMPRESSION"),
        ("engagements", date(2026, 2, 26), 0, "ENGAGEMENT"),
        ("link_clicks", date(2026, 2, 26), 0, "OUTBOUND_CLICK"),
        # 2026-02-27 READY without OUTBOUND_CLICK: 0
        ("impressions", date(2026, 2, 27), 95, "IMPRESSION"),
        ("engagements", date(2026, 2, 27), 7, "ENGAGEMENT"),
        ("link_clicks", date(2026, 2, 27), 0, "OUTBOUND_CLICK"),
    }  # BEFORE_BUSINESS_CREATED, ESTIMATE and PROCESSING days give no row


# Shape: https://developers.pinterest.com/docs/api/v5/ Endpoints (summary_metrics carries every served metric)
def test_a_metric_in_no_day_and_no_summary_is_not_invented() -> None:
    payload = fixture("pinterest", "analytics_retired.json")
    assert pinterest.served_metrics(payload, tuple(pinterest.METRICS)) == {"IMPRESSION", "ENGAGEMENT"}
    got = pinterest.parse_analytics(
        payload, account_id=USER, since=date(2026, 3, 1), until=date(2026, 3, 2), collected_at=AT
    )
    assert {o.metric for o in got} == {"impressions", "engagements"}


@pytest.mark.parametrize("payload", [{}, {"all": {"daily_metrics": [], "summary_metrics": {}}}])
def test_an_empty_answer_is_zero_for_every_count(payload: Any) -> None:
    got = pinterest.parse_analytics(
        payload, account_id=USER, since=date(2026, 3, 1), until=date(2026, 3, 2), collected_at=AT
    )
    assert len(got) == 6 and {o.value for o in got} == {0}


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"all": []},
        {"all": {"daily_metrics": "soon"}},
        {"all": {"daily_metrics": [{"data_status": "READY", "metrics": {}}]}},
        {"all": {"daily_metrics": [{"date": "01/03/2026", "data_status": "READY", "metrics": {}}]}},
        {"all": {"daily_metrics": [{"date": "2026-03-01", "data_status": "READY", "metrics": []}]}},
        {"all": {"daily_metrics": [{"date": "2026-03-01", "data_status": "READY", "metrics": {"IMPRESSION": "240"}}]}},
    ],
)
def test_parse_analytics_rejects_wrong_shapes(payload: Any) -> None:
    with pytest.raises(PayloadError):
        pinterest.parse_analytics(
            payload, account_id=USER, since=date(2026, 3, 1), until=date(2026, 3, 1), collected_at=AT
        )


# Shape: https://developers.pinterest.com/docs/reference/rate-limits/ Rate limits and https://developers.pinterest.com/docs/api/v5/
# Errors
@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "retry_after"),
    [
        (401, {}, {"code": 2, "message": "Authentication failed."}, "auth", None),
        (401, {}, {"code": 283, "message": "The authorization grant is invalid"}, "auth", None),
        (403, {}, {"code": 29, "message": "You are not permitted to access that resource."}, "permission", None),
        (403, {}, {"code": 403, "message": "Not authorized to access the user account analytics."}, "permission", None),
        (429, {"X-RateLimit-Reset": "67000"}, {"code": 8, "message": "exceeded a rate limit."}, "throttled", 67000),
        (429, {"x-ratelimit-reset": "12"}, {"code": 8, "message": "rate limit"}, "throttled", 12),
        (400, {}, {"code": 400, "message": "Invalid user accounts analytics parameters."}, "bad_request", None),
        (503, {}, {"code": 4197, "message": "The endpoint has been ramped down ..."}, "server", None),
        (502, {}, "<html>bad gateway</html>", "server", None),
    ],
)  # fmt: skip
def test_classify_reads_pinterest_errors(
    status: int, headers: dict[str, str], body: Any, kind: str, retry_after: float | None
) -> None:
    verdict = pinterest.classify(status, headers, body)
    assert verdict is not None and verdict.kind == kind
    assert verdict.retry_after == retry_after
    assert pinterest.classify(200, {}, {"username": USER}) is None


def test_classify_marks_a_refused_metric_type() -> None:
    body = {"code": 1, "message": "Invalid parameters. metric_types: 'SAVE' is not one of [...]"}
    verdict = pinterest.classify(400, {}, body)
    assert verdict is not None and verdict.code == "invalid_metric"


# -- the collector against the sandbox -----------------------------------------------------------
@pytest.fixture
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox (tests/conftest.py), cleared around each test."""
    yield sandbox
    sb_pinterest.RETIRED.clear()


def now() -> datetime:
    return datetime.now(UTC)


def ctx_for(sb: Sandbox, tmp_path: Path | None = None, **kw: Any) -> CollectContext:
    ctx = make_ctx("pinterest", kw.pop("account", USER), sb.url, collected_at=kw.pop("collected_at", now()), **kw)
    if tmp_path is not None:
        ctx = replace(ctx, token_store=TokenStore(tmp_path / "socialkpi.duckdb.tokens.json"))
    return ctx


def expected(ctx: CollectContext, since: date, until: date) -> set[tuple[str, date, float, str]]:
    """What docs/metrics.md says the rows are, from the sandbox's world functions."""
    utc_today = ctx.collected_at.astimezone(UTC).date()
    out = {("followers", ctx.today, sb_pinterest.followers_on(USER, utc_today), "follower_count")}
    day = max(since, utc_today - timedelta(days=90))
    while day <= min(until, utc_today - timedelta(days=1)):
        if day < utc_today - timedelta(days=sb_pinterest.PROCESSING_DAYS):  # READY in the sandbox
            for source, metric in MAPPING.items():
                out.add((metric, day, sb_pinterest.value_for(USER, source, day), source))
        day += timedelta(days=1)
    return out


def test_collect_writes_exactly_the_rows_metrics_md_gives(sb: Sandbox) -> None:
    ctx = ctx_for(sb)
    since, until = ctx.today - timedelta(days=20), ctx.today - timedelta(days=1)
    got = pinterest.collect(client := make_client("pinterest"), ctx, since=since, until=until)
    assert rows(got.observations) == expected(ctx, since, until)
    assert len(got.observations) == len(rows(got.observations))  # one row per key
    assert got.skipped == []
    assert client.requests_made == 2
    sent = sb.requests_to(r"/v5/user_account/analytics")[0]
    assert sent.arg("metric_types") == "IMPRESSION,ENGAGEMENT,OUTBOUND_CLICK"
    assert sent.arg("start_date") == since.isoformat()
    assert sent.header("Authorization") == f"Bearer {TOKEN}"
    assert all(TOKEN not in json.dumps(r.query) for r in sb.requests)
    processing = ctx.collected_at.date() - timedelta(days=1)
    assert not any(o.observed_on == processing for o in got.observations if o.metric != "followers")


def test_since_beyond_90_days_is_clamped_and_noted(sb: Sandbox) -> None:
    ctx = ctx_for(sb)
    utc_today = ctx.collected_at.date()
    since, until = utc_today - timedelta(days=200), ctx.today - timedelta(days=1)
    got = pinterest.collect(make_client("pinterest"), ctx, since=since, until=until)
    assert sb.requests_to(r"/analytics")[0].arg("start_date") == (utc_today - timedelta(days=90)).isoformat()
    assert rows(got.observations) == expected(ctx, since, until)
    assert min(o.observed_on for o in got.observations) == utc_today - timedelta(days=90)
    (source, note), *_ = got.skipped
    assert source == "user_account/analytics" and "90 days" in note and str(since) in note


def test_a_retired_metric_type_is_skipped_and_noted(sb: Sandbox) -> None:
    sb_pinterest.RETIRED.add("OUTBOUND_CLICK")
    ctx = ctx_for(sb)
    since, until = ctx.today - timedelta(days=10), ctx.today - timedelta(days=1)
    got = pinterest.collect(make_client("pinterest"), ctx, since=since, until=until)
    assert rows(got.observations) == {r for r in expected(ctx, since, until) if r[0] != "link_clicks"}
    assert [s for s, _ in got.skipped] == ["OUTBOUND_CLICK"]


def test_a_token_of_another_account_fails_clearly(sb: Sandbox) -> None:
    ctx = ctx_for(sb, token=sb_pinterest.OTHER_USER_TOKEN)
    with pytest.raises(PermissionDenied) as err:
        pinterest.collect(make_client("pinterest"), ctx, since=ctx.today, until=ctx.today)
    assert "'rivalpatisserie'" in str(err.value) and f"{USER!r}" in str(err.value)
    assert sb_pinterest.OTHER_USER_TOKEN not in str(err.value)
    assert not sb.requests_to(r"/analytics")


def _far_throttle() -> Reply:
    return sb_pinterest.throttled(reset_seconds=67000)


@pytest.mark.parametrize(
    ("token", "script", "error", "words"),
    [
        (EXPIRED_TOKEN, None, AuthError, ["Authentication failed", "SOCIALKPI_PINTEREST_TOKEN"]),
        (sb_pinterest.NO_SCOPE_TOKEN, None, PermissionDenied, ["not permitted", "user_accounts:read"]),
        # a far throttle, truncated JSON: tests/test_platforms.py (every platform)
        (TOKEN, [Reply(503, {"code": 4197, "message": "ramped down"})] * 4, ServerError, ["ramped down"]),
    ],
)  # fmt: skip
def test_error_cases_fail_with_a_clear_message_and_no_token(
    sb: Sandbox, token: str, script: list[Reply] | None, error: type[Exception], words: list[str]
) -> None:
    if script:
        sb.script(r"/v5/user_account/analytics", *script)
    ctx = ctx_for(sb, token=token)
    with pytest.raises(error) as err:
        pinterest.collect(make_client("pinterest"), ctx, since=ctx.today - timedelta(days=9), until=ctx.today)
    message = str(err.value)
    assert message.startswith("pinterest: ")
    for word in words:
        assert word in message
    assert token not in message


# -- tokens --------------------------------------------------------------------------------------
def test_an_expired_token_is_refreshed_and_the_new_pair_stored_0600(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(sb, tmp_path, token=EXPIRED_TOKEN, refresh_token=REFRESH, **APP)
    since, until = ctx.today - timedelta(days=5), ctx.today - timedelta(days=1)
    got = pinterest.collect(make_client("pinterest"), ctx, since=since, until=until)
    assert rows(got.observations) == expected(ctx, since, until)
    (exchange,) = sb.requests_to(r"/v5/oauth/token")
    assert exchange.header("Authorization") == "Basic MTQ4NDM2MjpzYW5kYm94LXBpbnRlcmVzdC1zZWNyZXQ="
    assert exchange.form() == {"grant_type": "refresh_token", "refresh_token": REFRESH, "continuous_refresh": "true"}
    assert ctx.token_store is not None
    path = ctx.token_store.path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = ctx.token_store.get("pinterest", USER)
    assert stored is not None and stored.access_token.startswith("pina_sandbox-")
    assert stored.refresh_token and stored.refresh_token.startswith("pinr_sandbox-")  # rotated, kept
    assert stored.expires_at and stored.expires_at > time.time() + 29 * 86400
    last = sb.requests_to(r"/analytics")[-1]
    assert last.header("Authorization") == f"Bearer {stored.access_token}"
    # The next cron run uses the stored token: no second exchange although the env token is still dead.
    sb.clear()
    again = pinterest.collect(make_client("pinterest"), ctx, since=since, until=until)
    assert rows(again.observations) == rows(got.observations)
    assert not sb.requests_to(r"/oauth/token")


def test_a_stored_token_near_expiry_is_refreshed_before_any_call(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(sb, tmp_path, token=None, **APP)
    assert ctx.token_store is not None
    ctx.token_store.put("pinterest", USER, StoredToken("pina_old-stored", "pinr_stored-rotated", time.time() + 60))
    pinterest.collect(make_client("pinterest"), ctx, since=ctx.today, until=ctx.today)
    assert sb.requests[0].path == "/v5/oauth/token"
    assert sb.requests[0].form()["refresh_token"] == "pinr_stored-rotated"  # the newest refresh token
    stored = ctx.token_store.get("pinterest", USER)
    assert stored is not None and stored.refresh_token != "pinr_stored-rotated"


def test_a_refresh_token_alone_is_enough(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(sb, tmp_path, token=None, refresh_token=REFRESH, **APP)
    got = pinterest.collect(make_client("pinterest"), ctx, since=ctx.today, until=ctx.today)
    assert [o.metric for o in got.observations] == ["followers"]
    assert [r.path for r in sb.requests] == ["/v5/oauth/token", "/v5/user_account"]


def test_a_dead_refresh_token_says_what_to_do(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(sb, tmp_path, token=EXPIRED_TOKEN, refresh_token="pinr_revoked-long-ago", **APP)
    with pytest.raises(AuthError) as err:
        pinterest.collect(make_client("pinterest"), ctx, since=ctx.today, until=ctx.today)
    message = str(err.value)
    assert "authorization grant is invalid" in message
    assert "authorize the app again" in message and "SOCIALKPI_PINTEREST_REFRESH_TOKEN" in message
    for secret in ("pinr_revoked-long-ago", sb_pinterest.CLIENT_SECRET, EXPIRED_TOKEN):
        assert secret not in message
    assert len(sb.requests_to(r"/oauth/token")) == 1  # no refresh loop


# -- competitors and doctor ----------------------------------------------------------------------
def test_a_competitor_is_refused_without_a_request(sb: Sandbox) -> None:
    ctx = ctx_for(sb, account="rivalpatisserie", competitor=True)
    with pytest.raises(BadRequest, match="no public profile lookup"):
        pinterest.collect(make_client("pinterest"), ctx, since=ctx.today, until=ctx.today)
    assert sb.requests == []


def test_check_proves_the_token_with_one_call(sb: Sandbox, tmp_path: Path) -> None:
    assert pinterest.check(make_client("pinterest"), ctx_for(sb)) == f"token valid for {USER!r} (business account)"
    assert len(sb.requests) == 1
    ctx = ctx_for(sb, tmp_path, token=None, refresh_token=REFRESH, **APP)
    detail = pinterest.check(make_client("pinterest"), ctx)
    expires = (now() + timedelta(days=30)).date()
    assert detail.startswith(f"token valid for {USER!r}") and "access token expires" in detail
    assert str(expires) in detail or str(expires - timedelta(days=1)) in detail


@pytest.mark.parametrize(
    ("token", "error"), [(EXPIRED_TOKEN, AuthError), (sb_pinterest.OTHER_USER_TOKEN, PermissionDenied)]
)
def test_check_fails_with_advice(sb: Sandbox, token: str, error: type[Exception]) -> None:
    with pytest.raises(error) as err:
        pinterest.check(make_client("pinterest"), ctx_for(sb, token=token))
    assert token not in str(err.value)


def test_a_dead_stored_refresh_token_falls_back_to_the_configured_one(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(sb, tmp_path, token=None, refresh_token=REFRESH, **APP)
    assert ctx.token_store is not None
    ctx.token_store.put("pinterest", USER, StoredToken("pina_old", "pinr_revoked-stored", time.time() - 10))
    got = pinterest.collect(make_client("pinterest"), ctx, since=ctx.today, until=ctx.today)
    assert [o.metric for o in got.observations] == ["followers"]
    assert [r.form()["refresh_token"] for r in sb.requests_to(r"/oauth/token")] == ["pinr_revoked-stored", REFRESH]


# -- issue 11: numbers, what an answer says it is, analytics as an optional endpoint -----------------
# Shape: https://developers.pinterest.com/docs/api/v5/ ("Response = map keyed by split value ("all" when not split) →
# daily_metrics[] + summary_metrics", "IMPRESSION": 240 ...) and its Error schema ("403 {"code": 403, "message": "Not
# authorized to access the user account analytics."}").
def day_with(value: Any) -> dict[str, Any]:
    entry = {"date": "2026-03-01", "data_status": "READY", "metrics": {"IMPRESSION": value, "ENGAGEMENT": 3}}
    return {"all": {"daily_metrics": [entry]}}


@pytest.mark.parametrize("value", [2.5, -1, float("nan"), float("inf"), True, "240"])
def test_a_metric_that_is_no_count_is_refused(value: Any) -> None:
    with pytest.raises(PayloadError, match="IMPRESSION on 2026-03-01 is .*not a count"):
        pinterest.parse_analytics(
            day_with(value), account_id=USER, since=date(2026, 3, 1), until=date(2026, 3, 1), collected_at=AT
        )


def test_a_split_answer_is_refused_when_none_was_asked() -> None:
    split = {**day_with(240), "WEB": day_with(100)["all"]}  # split_field=APP_TYPE would key by app type
    with pytest.raises(PayloadError, match=r"answered split \(its keys\) \['WEB', 'all'\], but .* \['all'\]"):
        pinterest.parse_analytics(
            split, account_id=USER, since=date(2026, 3, 1), until=date(2026, 3, 1), collected_at=AT
        )


def test_a_day_outside_the_asked_range_is_refused() -> None:
    with pytest.raises(PayloadError, match="answered date '2026-03-01', but date '2026-03-02..2026-03-03' was asked"):
        pinterest.parse_analytics(
            day_with(240), account_id=USER, since=date(2026, 3, 2), until=date(2026, 3, 3), collected_at=AT
        )


NOT_AUTHORIZED = Reply(403, {"code": 403, "message": "Not authorized to access the user account analytics."})


def test_analytics_refused_for_a_permission_keeps_the_follower_count(sb: Sandbox) -> None:
    sb.script(r"/v5/user_account/analytics$", NOT_AUTHORIZED)
    ctx = ctx_for(sb)
    since, until = ctx.today - timedelta(days=10), ctx.today - timedelta(days=1)
    got = pinterest.collect(make_client("pinterest"), ctx, since=since, until=until)
    assert rows(got.observations) == {r for r in expected(ctx, since, until) if r[0] == "followers"}
    assert [s for s, _ in got.skipped] == list(pinterest.METRICS)
    assert all(
        "refused (permission): Not authorized to access the user account analytics." in n for _, n in got.skipped
    )


@pytest.mark.parametrize(
    ("replies", "error"),
    [([Reply(503, {"code": 4197, "message": "ramped down"})] * 4, ServerError), ([_far_throttle()], RateLimited)],
    ids=["5xx", "throttled"],
)
def test_a_transient_failure_of_analytics_still_fails_the_account(
    sb: Sandbox, replies: list[Reply], error: type[Exception]
) -> None:
    sb.script(r"/v5/user_account/analytics$", *replies)
    ctx = ctx_for(sb)
    with pytest.raises(error):
        pinterest.collect(make_client("pinterest"), ctx, since=ctx.today - timedelta(days=3), until=ctx.today)
