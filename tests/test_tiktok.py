"""TikTok: the parser on doc-shaped fixtures, error.code classification, the collector against the
sandbox part, the 24-hour token refresh, errors, competitors and doctor."""

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

from collectors import tiktok
from collectors.context import CollectContext
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, RateLimited, ServerError
from collectors.observation import Observation
from collectors.tokens import StoredToken, TokenStore
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import tiktok as sb_tiktok
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import COLLECTED_AT, fixture, make_client, make_ctx

USER = sb_tiktok.USERNAME
AT = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
REFRESH = "rft.sandbox-initial-refresh-token"
APP = {"client_id": sb_tiktok.CLIENT_KEY, "client_secret": sb_tiktok.CLIENT_SECRET}


# -- parser --------------------------------------------------------------------------------------
# Shape: https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info Display API (the response, "error" present on
# success too)
def test_parse_user_info_gives_followers_and_posts_for_today() -> None:
    payload = fixture("tiktok", "user_info.json")
    before = copy.deepcopy(payload)
    got = tiktok.parse_user_info(payload, account_id="bakery.rosa", day=date(2026, 3, 10), collected_at=AT)
    assert got == [
        Observation("tiktok", "bakery.rosa", "followers", date(2026, 3, 10), 15234, "follower_count", AT),
        Observation("tiktok", "bakery.rosa", "posts", date(2026, 3, 10), 87, "video_count", AT),
    ]
    assert payload == before


# Shape: https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info Display API (user.info.stats fields missing
# without that scope)
def test_parse_user_info_without_stats_gives_no_rows() -> None:
    got = tiktok.parse_user_info(
        fixture("tiktok", "user_info_no_stats.json"), account_id="bakery.rosa", day=date(2026, 3, 10), collected_at=AT
    )
    assert got == []


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"data": {}, "error": {"code": "ok"}},
        {"data": {"user": []}},
        {"data": {"user": {"follower_count": "15234"}}},
        {"data": {"user": {"follower_count": 15234.5}}},
        {"data": {"user": {"video_count": True}}},
    ],
)
def test_parse_user_info_rejects_wrong_shapes(payload: Any) -> None:
    with pytest.raises(PayloadError):
        tiktok.parse_user_info(payload, account_id=USER, day=date(2026, 3, 10), collected_at=AT)


# Shape: https://developers.tiktok.com/doc/tiktok-api-v2-error-handling (v2 envelope) and
# https://developers.tiktok.com/doc/oauth-user-access-token-management (OAuth)
@pytest.mark.parametrize(
    ("status", "name", "kind", "code"),
    [
        (200, "user_info.json", "ok", ""),
        (401, "error_access_token_invalid.json", "auth", "access_token_invalid"),
        (401, "error_scope_not_authorized.json", "permission", "scope_not_authorized"),
        (429, "error_rate_limit_exceeded.json", "throttled", "rate_limit_exceeded"),
        (400, "oauth_invalid_grant.json", "auth", "invalid_grant"),
        (200, "oauth_invalid_grant.json", "auth", "invalid_grant"),  # whatever the HTTP status
    ],
)
def test_classify_reads_error_code_not_its_presence(status: int, name: str, kind: str, code: str) -> None:
    verdict = tiktok.classify(status, {}, fixture("tiktok", name))
    assert verdict is not None and verdict.kind == kind and verdict.code == code


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, {"code": "scope_permission_missed", "message": "needs user.info.stats"}, "permission"),
        (400, {"code": "invalid_params", "message": "Invalid field"}, "bad_request"),
        (500, {"code": "internal_error", "message": "oops"}, "server"),
        (200, {"code": "some_new_code", "message": "refused"}, "bad_request"),
        (503, {"code": "some_new_code", "message": "busy"}, "server"),
    ],
)
def test_classify_other_codes(status: int, error: dict[str, str], kind: str) -> None:
    verdict = tiktok.classify(status, {}, {"data": {}, "error": {**error, "log_id": "L1"}})
    assert verdict is not None and verdict.kind == kind
    assert "L1" in verdict.message


def test_classify_honours_a_retry_after_when_one_is_sent() -> None:
    verdict = tiktok.classify(429, {"Retry-After": "3600"}, fixture("tiktok", "error_rate_limit_exceeded.json"))
    assert verdict is not None and verdict.retry_after == 3600
    assert tiktok.classify(502, {}, "<html>bad gateway</html>") is None  # no envelope: by HTTP status


# -- the collector against the sandbox -----------------------------------------------------------
@pytest.fixture
def sb(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox (tests/conftest.py), cleared around each test."""
    yield sandbox


def now() -> datetime:
    return datetime.now(UTC)


def ctx_for(sb: Sandbox, tmp_path: Path | None = None, **kw: Any) -> CollectContext:
    ctx = make_ctx("tiktok", kw.pop("account", USER), sb.url, collected_at=now(), **kw)
    if tmp_path is not None:
        ctx = replace(ctx, token_store=TokenStore(tmp_path / "socialkpi.duckdb.tokens.json"))
    return ctx


def expected(ctx: CollectContext) -> set[tuple[str, date, float, str]]:
    """docs/metrics.md: followers ← follower_count, posts ← video_count, both dated today (business tz)."""
    utc_today = now().date()
    return {
        ("followers", ctx.today, sb_tiktok.followers_on(USER, utc_today), "follower_count"),
        ("posts", ctx.today, sb_tiktok.videos_on(USER, utc_today), "video_count"),
    }


def rows(observations: list[Observation]) -> set[tuple[str, date, float, str]]:
    return {(o.metric, o.observed_on, o.value, o.source_metric) for o in observations}


def collect(ctx: CollectContext, client: Any = None) -> Any:
    return tiktok.collect(client or make_client("tiktok"), ctx, since=ctx.today - timedelta(days=30), until=ctx.today)


def test_collect_writes_exactly_the_rows_metrics_md_gives(sb: Sandbox) -> None:
    ctx = ctx_for(sb)
    got = collect(ctx, client := make_client("tiktok"))
    assert rows(got.observations) == expected(ctx) and len(got.observations) == 2
    assert got.skipped == [] and client.requests_made == 1
    (sent,) = sb.requests
    assert sent.path == "/v2/user/info/" and sent.header("Authorization") == f"Bearer {TOKEN}"
    assert set(sent.arg("fields", "").split(",")) >= {"username", "follower_count", "video_count"}
    assert TOKEN not in json.dumps(sent.query)


@pytest.mark.parametrize("account", [USER, "@" + USER, USER.upper()])
def test_the_configured_username_matches_loosely(sb: Sandbox, account: str) -> None:
    got = collect(ctx_for(sb, account=account))
    assert {o.metric for o in got.observations} == {"followers", "posts"}


def test_a_token_of_another_account_fails_clearly(sb: Sandbox) -> None:
    with pytest.raises(PermissionDenied) as err:
        collect(ctx_for(sb, token=sb_tiktok.OTHER_USER_TOKEN))
    assert "'rival.patisserie'" in str(err.value) and f"{USER!r}" in str(err.value)
    assert sb_tiktok.OTHER_USER_TOKEN not in str(err.value)


INTERNAL = Reply(500, {"data": {}, "error": {"code": "internal_error", "message": "Internal error", "log_id": "x"}})
NO_USER = Reply(200, {"data": {}, "error": {"code": "ok", "message": "", "log_id": "x"}})


@pytest.mark.parametrize(
    ("token", "script", "error", "words"),
    [
        # a refused token, truncated JSON: tests/test_platforms.py (every platform)
        (sb_tiktok.BASIC_ONLY_TOKEN, None, PermissionDenied, ["did not authorize the scope", "user.info.stats"]),
        (TOKEN, [sb_tiktok.throttled()] * 4, RateLimited, ["rate limit was exceeded", "rate_limit_exceeded"]),
        (TOKEN, [INTERNAL] * 4, ServerError, ["internal_error"]),
        (TOKEN, [NO_USER], PayloadError, ["no data.user"]),
    ],
)  # fmt: skip
def test_error_cases_fail_with_a_clear_message_and_no_token(
    sb: Sandbox, token: str, script: list[Reply] | None, error: type[Exception], words: list[str]
) -> None:
    if script:
        sb.script(r"/v2/user/info/", *script)
    with pytest.raises(error) as err:
        collect(ctx_for(sb, token=token))
    message = str(err.value)
    assert message.startswith("tiktok: ")
    for word in words:
        assert word in message
    assert token not in message


# -- tokens --------------------------------------------------------------------------------------
def test_an_expired_token_is_refreshed_and_the_new_pair_stored_0600(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(sb, tmp_path, token=EXPIRED_TOKEN, refresh_token=REFRESH, **APP)
    got = collect(ctx)
    assert rows(got.observations) == expected(ctx)
    assert [r.path for r in sb.requests] == ["/v2/user/info/", "/v2/oauth/token/", "/v2/user/info/"]
    exchange = sb.requests[1]
    assert exchange.header("Content-Type") == "application/x-www-form-urlencoded"
    assert exchange.header("Authorization") is None  # the dead bearer is not sent to the token endpoint
    assert exchange.form() == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_key": sb_tiktok.CLIENT_KEY,
        "client_secret": sb_tiktok.CLIENT_SECRET,
    }
    assert ctx.token_store is not None
    assert stat.S_IMODE(ctx.token_store.path.stat().st_mode) == 0o600
    stored = ctx.token_store.get("tiktok", USER)
    assert stored is not None and stored.access_token.startswith("act.sandbox-")
    assert stored.refresh_token and stored.refresh_token.startswith("rft.sandbox-")  # rotated, kept
    assert stored.expires_at and abs(stored.expires_at - (time.time() + 86400)) < 60
    assert sb.requests[2].header("Authorization") == f"Bearer {stored.access_token}"
    # Next cron run, same day: the stored token wins over the dead env token; no exchange.
    sb.clear()
    assert rows(collect(ctx).observations) == expected(ctx)
    assert [r.path for r in sb.requests] == ["/v2/user/info/"]


def test_a_day_old_stored_token_is_refreshed_before_any_call(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(sb, tmp_path, token=None, **APP)
    assert ctx.token_store is not None
    ctx.token_store.put("tiktok", USER, StoredToken("act.yesterday", "rft.stored-rotated", time.time() - 3600))
    got = collect(ctx)
    assert rows(got.observations) == expected(ctx)
    assert [r.path for r in sb.requests] == ["/v2/oauth/token/", "/v2/user/info/"]
    assert sb.requests[0].form()["refresh_token"] == "rft.stored-rotated"  # the newest refresh token
    stored = ctx.token_store.get("tiktok", USER)
    assert stored is not None and stored.refresh_token not in (None, "rft.stored-rotated")


def test_a_dead_refresh_token_says_what_to_do(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(sb, tmp_path, token=EXPIRED_TOKEN, refresh_token="rft.revoked-long-ago", **APP)
    with pytest.raises(AuthError) as err:
        collect(ctx)
    message = str(err.value)
    assert "Refresh token is invalid or expired" in message
    assert "authorize the app again" in message and "SOCIALKPI_TIKTOK_REFRESH_TOKEN" in message
    for secret in ("rft.revoked-long-ago", sb_tiktok.CLIENT_SECRET, EXPIRED_TOKEN):
        assert secret not in message
    assert len(sb.requests_to(r"/oauth/token/")) == 1  # no refresh loop


def test_a_wrong_client_secret_says_what_to_do(sb: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(
        sb, tmp_path, token=None, refresh_token=REFRESH, client_id=sb_tiktok.CLIENT_KEY, client_secret="nope-wrong"
    )
    with pytest.raises(AuthError, match="Client key or secret is incorrect"):
        collect(ctx)


# -- competitors and doctor ----------------------------------------------------------------------
def test_a_competitor_is_refused_without_a_request(sb: Sandbox) -> None:
    with pytest.raises(BadRequest, match="only answers for the account that authorized the token"):
        collect(ctx_for(sb, account="rival.patisserie", competitor=True))
    assert sb.requests == []


def test_check_proves_the_token_with_one_call(sb: Sandbox, tmp_path: Path) -> None:
    detail = tiktok.check(make_client("tiktok"), ctx_for(sb))
    assert detail.startswith(f"token valid for {USER!r}") and "SOCIALKPI_TIKTOK_REFRESH_TOKEN" in detail
    assert len(sb.requests) == 1
    detail = tiktok.check(make_client("tiktok"), ctx_for(sb, tmp_path, token=None, refresh_token=REFRESH, **APP))
    assert detail.startswith(f"token valid for {USER!r}, access token expires ")
    assert f"{(now() + timedelta(days=1)):%Y-%m-%d}" in detail


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (EXPIRED_TOKEN, AuthError),
        (sb_tiktok.OTHER_USER_TOKEN, PermissionDenied),
        (sb_tiktok.BASIC_ONLY_TOKEN, PermissionDenied),
    ],
)
def test_check_fails_with_advice(sb: Sandbox, token: str, error: type[Exception]) -> None:
    with pytest.raises(error) as err:
        tiktok.check(make_client("tiktok"), ctx_for(sb, token=token))
    assert token not in str(err.value)


# -- issue 11: counts ----------------------------------------------------------------------------------
# Shape: https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info (/v2/user/info/ data.user {follower_count,
# video_count ...}: JSON integers); levels declare no period, and there is one call (nothing optional).
@pytest.mark.parametrize("value", [-1, 87.5, float("nan"), "87", True])
def test_what_is_no_count_is_refused(value: Any) -> None:
    payload = fixture("tiktok", "user_info.json")
    payload["data"]["user"]["video_count"] = value
    with pytest.raises(PayloadError, match="video_count is .*not a count"):
        tiktok.parse_user_info(payload, account_id=USER, day=date(2025, 10, 1), collected_at=COLLECTED_AT)


def test_a_whole_float_is_a_count(sb: Sandbox) -> None:
    payload = fixture("tiktok", "user_info.json")
    payload["data"]["user"].update(username=USER, video_count=87.0)
    sb.script(r"/v2/user/info/$", Reply(200, payload))
    got = {o.metric: o.value for o in collect(ctx_for(sb)).observations}
    assert got == {"followers": 15234, "posts": 87} and type(got["posts"]) is int
