"""X collector: parser on doc-shaped fixtures, classifier, and collect()/check() against the real sandbox."""

from __future__ import annotations

import base64
import copy
import json
import os
import stat
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors import x
from collectors.context import CollectContext
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, RateLimited, ServerError
from collectors.observation import Observation
from collectors.tokens import StoredToken, TokenStore
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.server import Reply
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN, followers
from tests.conftest import COLLECTED_AT, fixture, make_client, make_ctx

USER_PATH = r"/2/users/by/username/"
TOKEN_PATH = r"/2/oauth2/token"
ACCOUNT = "cornerbakery"
TODAY = date(2026, 3, 10)  # COLLECTED_AT (06:30 UTC) in Europe/Paris


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore.beside(tmp_path / "socialkpi.duckdb")


def ctx_for(sb: Sandbox, account: str = ACCOUNT, *, store: TokenStore | None = None, **kw: Any) -> CollectContext:
    ctx = make_ctx("x", account, sb.url, **kw)
    return replace(ctx, token_store=store)


def now_values(account: str) -> tuple[set[int], set[int]]:
    """What X says "now": the world's level on the UTC day of the request (either side of midnight)."""
    days = {datetime.now(UTC).date()}
    return {followers("x", account, d, 1320) for d in days}, {followers("x", account, d, 870) for d in days}


def run(sb: Sandbox, ctx: CollectContext) -> list[Observation]:
    with make_client("x", x.classify) as client:
        got = x.collect(client, ctx, since=date(2026, 3, 1), until=date(2026, 3, 9))
    return sorted(got.observations, key=lambda o: o.metric)


def fresh_refresh_token() -> str:
    return f"sandbox-refresh-{uuid.uuid4().hex}"


# -- parser ------------------------------------------------------------------------------------


def test_parse_user_gives_followers_and_posts_dated_the_collection_day() -> None:
    # Shape: https://docs.x.com/x-api/users/lookup/introduction Endpoints (user lookup example)
    payload = fixture("x", "user.json")
    before = copy.deepcopy(payload)
    rows = x.parse_user(payload, account_id=ACCOUNT, day=TODAY, collected_at=COLLECTED_AT)
    assert payload == before  # never mutates its input
    assert [(o.metric, o.observed_on, o.value, o.source_metric) for o in rows] == [
        ("followers", TODAY, 1320, "public_metrics.followers_count"),
        ("posts", TODAY, 874, "public_metrics.tweet_count"),
    ]
    assert all(o.platform == "x" and o.account_id == ACCOUNT and o.collected_at == COLLECTED_AT for o in rows)


def test_parse_user_leaves_out_a_count_x_did_not_send() -> None:
    # Shape: https://docs.x.com/x-api/users/lookup/introduction Endpoints (public_metrics fields vary by client/version)
    payload = fixture("x", "user.json")
    del payload["data"]["public_metrics"]["tweet_count"]
    rows = x.parse_user(payload, account_id=ACCOUNT, day=TODAY, collected_at=COLLECTED_AT)
    assert [(o.metric, o.value) for o in rows] == [("followers", 1320)]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"data": []},
        {"data": {"id": "1", "username": ACCOUNT}},  # user.fields not honoured: no public_metrics
        {"data": {"public_metrics": {"followers_count": "1320"}}},
        {"data": {"public_metrics": {"followers_count": True}}},
        fixture("x", "not_found.json"),  # a partial error reaching the parser is not a user
    ],
)
def test_parse_user_rejects_wrong_shapes(payload: Any) -> None:
    with pytest.raises(PayloadError):
        x.parse_user(payload, account_id=ACCOUNT, day=TODAY, collected_at=COLLECTED_AT)


# -- classifier --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload_file", "kind", "code", "says"),
    [
        # Shape: https://docs.x.com/x-api/fundamentals/response-codes-and-errors Errors (each body below)
        (401, "unauthorized.json", "auth", "", "Unauthorized"),
        (403, "client_forbidden.json", "permission", "client-forbidden", "attached to a Project"),
        (400, "invalid_request.json", "bad_request", "invalid-request", "public_metrix"),
        (200, "not_found.json", "bad_request", "not_found", "Could not find user"),
        (429, "usage_capped.json", "throttled", "usage_capped", "monthly usage cap"),
        (429, "rate_limit_legacy.json", "throttled", "rate_limited", "Rate limit exceeded (code 88)"),
        (503, "too_many_requests.json", "server", "", "Too Many Requests"),
    ],
)
def test_classify_reads_x_problem_json(status: int, payload_file: str, kind: str, code: str, says: str) -> None:
    verdict = x.classify(status, {}, fixture("x", payload_file))
    assert verdict is not None
    assert (verdict.kind, verdict.code) == (kind, code)
    assert says in verdict.message


def test_classify_takes_the_wait_from_x_rate_limit_reset() -> None:
    # Shape: https://docs.x.com/x-api/fundamentals/rate-limits Rate limits (epoch seconds, no Retry-After)
    reset = int(time.time()) + 600
    verdict = x.classify(429, {"X-Rate-Limit-Reset": str(reset)}, fixture("x", "too_many_requests.json"))
    assert verdict is not None and verdict.kind == "throttled"
    assert verdict.retry_after is not None and 590 <= verdict.retry_after <= 600


def test_classify_lets_a_user_answer_through() -> None:
    assert x.classify(200, {}, fixture("x", "user.json")) is None


# -- collect against the sandbox ---------------------------------------------------------------


@pytest.mark.parametrize("competitor", [False, True])
def test_collect_writes_todays_followers_and_posts_with_one_read(sandbox: Sandbox, competitor: bool) -> None:
    account = "cornerbakery" if not competitor else "rivalpatisserie"
    ctx = ctx_for(sandbox, account, competitor=competitor)
    rows = run(sandbox, ctx)
    want_followers, want_posts = now_values(account)
    assert [(o.metric, o.observed_on, o.source_metric) for o in rows] == [
        ("followers", TODAY, "public_metrics.followers_count"),
        ("posts", TODAY, "public_metrics.tweet_count"),
    ]
    assert rows[0].value in want_followers and rows[1].value in want_posts
    sent = sandbox.requests_to(USER_PATH)
    assert len(sandbox.requests) == len(sent) == 1  # X bills per read: exactly one, nothing else
    assert sent[0].path == f"/2/users/by/username/{account}"
    assert sent[0].query == {"user.fields": ["public_metrics"]}  # no extra fields, no expansions
    assert sent[0].header("Authorization") == f"Bearer {TOKEN}"


def test_collect_reports_its_requests_and_skips_a_missing_count(sandbox: Sandbox) -> None:
    body = fixture("x", "user.json")
    del body["data"]["public_metrics"]["tweet_count"]
    sandbox.script(USER_PATH, Reply(200, body))
    with make_client("x", x.classify) as client:
        got = x.collect(client, ctx_for(sandbox), since=TODAY, until=TODAY)
    assert [(o.metric, o.value) for o in got.observations] == [("followers", 1320)]
    assert got.skipped == [("public_metrics.tweet_count", "not in X's answer")]
    assert client.requests_made == 1


def test_sandbox_sends_rate_limit_headers_on_every_answer(sandbox: Sandbox) -> None:
    import requests

    resp = requests.get(
        sandbox.url + "/2/users/by/username/cornerbakery",
        params={"user.fields": "public_metrics"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert resp.status_code == 200
    reset = int(resp.headers["x-rate-limit-reset"])
    assert time.time() < reset <= time.time() + 900
    assert int(resp.headers["x-rate-limit-remaining"]) < int(resp.headers["x-rate-limit-limit"])


# -- errors ------------------------------------------------------------------------------------


def assert_clean(message: str, *secrets: str) -> None:
    for secret in (TOKEN, EXPIRED_TOKEN, *secrets):
        assert secret not in message


@pytest.mark.parametrize(
    ("reply", "error", "says"),
    [
        (Reply(403, fixture("x", "client_forbidden.json")), PermissionDenied, "attached to a Project"),
        (Reply(200, fixture("x", "not_found.json")), BadRequest, "without @"),
        (Reply(400, fixture("x", "invalid_request.json")), BadRequest, "public_metrix"),
        (Reply.raw('{"data": {"id": "1", "public_metrics": {'), PayloadError, "not valid JSON"),
    ],
)
def test_refusals_fail_with_a_clear_reason(sandbox: Sandbox, reply: Reply, error: type[Exception], says: str) -> None:
    sandbox.script(USER_PATH, reply)
    with pytest.raises(error) as err:
        run(sandbox, ctx_for(sandbox))
    assert says in str(err.value)
    assert_clean(str(err.value))


@pytest.mark.parametrize(
    ("username", "says"),
    [
        ("nosuchbakery", r"Could not find user with username: \[nosuchbakery\]\.: check the account id"),
        ("suspendedshop", r"User has been suspended: \[suspendedshop\]"),
        ("corner-bakery", r"`username` query parameter value \[corner-bakery\] does not match"),
    ],
)
def test_a_username_x_refuses_is_a_clear_bad_request(sandbox: Sandbox, username: str, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        run(sandbox, ctx_for(sandbox, username))


def test_usage_cap_is_reported_as_such(sandbox: Sandbox) -> None:
    sandbox.script(USER_PATH, *[Reply(429, fixture("x", "usage_capped.json"))] * 4)
    with pytest.raises(RateLimited, match="monthly usage cap"):
        run(sandbox, ctx_for(sandbox))


def test_a_server_error_is_retried_then_reported(sandbox: Sandbox) -> None:
    sandbox.script(USER_PATH, Reply(503, fixture("x", "too_many_requests.json") | {"title": "Service Unavailable"}))
    assert len(run(sandbox, ctx_for(sandbox))) == 2
    sandbox.clear()
    sandbox.script(USER_PATH, *[Reply(500, {"title": "Internal Server Error", "type": "about:blank"})] * 4)
    with pytest.raises(ServerError, match="Internal Server Error"):
        run(sandbox, ctx_for(sandbox))


# -- OAuth 2.0 refresh -------------------------------------------------------------------------


def stored_entry(store: TokenStore) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(store.path.read_text(encoding="utf-8"))
    return data["x/oauth2:SOCIALKPI_X_TOKEN"]


@pytest.mark.parametrize("secret", [None, "x-client-secret-123"])
def test_expired_user_token_is_refreshed_and_kept_in_a_0600_file(
    sandbox: Sandbox, store: TokenStore, secret: str | None
) -> None:
    refresh = fresh_refresh_token()
    creds: dict[str, str] = {"refresh_token": refresh, "client_id": "x-client-id"}
    if secret:
        creds["client_secret"] = secret
    ctx = ctx_for(sandbox, token=EXPIRED_TOKEN, store=store, **creds)
    rows = run(sandbox, ctx)
    assert [o.metric for o in rows] == ["followers", "posts"]

    (exchange,) = sandbox.requests_to(TOKEN_PATH)
    form = exchange.form()
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == refresh
    if secret:  # a confidential client authenticates with HTTP Basic
        pair = base64.b64encode(f"x-client-id:{secret}".encode()).decode()
        assert exchange.header("Authorization") == f"Basic {pair}"
    else:  # a public client sends its client_id in the form
        assert form["client_id"] == "x-client-id" and exchange.header("Authorization") is None

    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    entry = stored_entry(store)
    assert entry["access_token"].startswith("x-sandbox-access-")
    assert entry["refresh_token"].startswith("x-sandbox-refresh-")  # X rotated it: the new one is kept
    assert entry["expires_at"] == pytest.approx(time.time() + 7200, abs=30)
    calls = sandbox.requests_to(USER_PATH)
    assert [c.bearer() for c in calls] == [EXPIRED_TOKEN, entry["access_token"]]

    # The next cron run uses the stored token: no refresh, no 401.
    sandbox.clear()
    run(sandbox, ctx)
    assert sandbox.requests_to(TOKEN_PATH) == []
    assert [c.bearer() for c in sandbox.requests_to(USER_PATH)] == [entry["access_token"]]


def test_a_stored_token_past_expiry_is_refreshed_before_the_read_with_the_rotated_refresh_token(
    sandbox: Sandbox, store: TokenStore
) -> None:
    env_refresh = fresh_refresh_token()
    ctx = ctx_for(sandbox, token=EXPIRED_TOKEN, store=store, refresh_token=env_refresh, client_id="x-client-id")
    run(sandbox, ctx)
    rotated = stored_entry(store)["refresh_token"]
    # Two hours later: the stored access token has expired; the env refresh token is dead (used once).
    store.put("x", "oauth2:SOCIALKPI_X_TOKEN", StoredToken("x-sandbox-access-old", rotated, time.time() - 60))
    sandbox.clear()
    run(sandbox, ctx)
    (exchange,) = sandbox.requests_to(TOKEN_PATH)
    assert exchange.form()["refresh_token"] == rotated
    entry = stored_entry(store)
    assert entry["refresh_token"] not in (rotated, env_refresh)
    assert [c.bearer() for c in sandbox.requests_to(USER_PATH)] == [entry["access_token"]]  # no 401 first


def test_a_dead_refresh_token_says_to_authorize_again(sandbox: Sandbox, store: TokenStore) -> None:
    dead = f"revoked-{uuid.uuid4().hex}"
    ctx = ctx_for(sandbox, token=EXPIRED_TOKEN, store=store, refresh_token=dead, client_id="x-client-id")
    with pytest.raises(AuthError) as err:
        run(sandbox, ctx)
    message = str(err.value)
    assert "Value passed for the token was invalid" in message
    assert "authorize the App again" in message and "SOCIALKPI_X_REFRESH_TOKEN" in message
    assert_clean(message, dead)
    assert not store.path.exists()


def test_refresh_without_client_id_says_so(sandbox: Sandbox, store: TokenStore) -> None:
    ctx = ctx_for(sandbox, token=EXPIRED_TOKEN, store=store, refresh_token=fresh_refresh_token())
    with pytest.raises(AuthError, match="SOCIALKPI_X_CLIENT_ID"):
        run(sandbox, ctx)


def test_refresh_alone_without_an_env_token_works(sandbox: Sandbox, store: TokenStore) -> None:
    ctx = ctx_for(sandbox, token=None, store=store, refresh_token=fresh_refresh_token(), client_id="x-client-id")
    assert len(run(sandbox, ctx)) == 2
    assert len(sandbox.requests_to(USER_PATH)) == 1  # refreshed first, then the one read


# -- check (socialkpi doctor) ------------------------------------------------------------------


def test_check_reports_the_account_and_the_cost(sandbox: Sandbox) -> None:
    with make_client("x", x.classify) as client:
        detail = x.check(client, ctx_for(sandbox))
    (want,), _ = now_values(ACCOUNT)
    assert detail == f"token valid; @{ACCOUNT} has {want} followers (1 user read, ~$0.01)"


def test_check_tells_the_refreshed_user_token_expiry(sandbox: Sandbox, store: TokenStore) -> None:
    ctx = ctx_for(sandbox, token=None, store=store, refresh_token=fresh_refresh_token(), client_id="x-client-id")
    with make_client("x", x.classify) as client:
        detail = x.check(client, ctx)
    assert detail.startswith("user token valid until ") and "refreshed automatically" in detail


def test_check_fails_with_advice_on_a_refused_token(sandbox: Sandbox) -> None:
    with make_client("x", x.classify) as client, pytest.raises(AuthError, match="SOCIALKPI_X_TOKEN"):
        x.check(client, ctx_for(sandbox, token=EXPIRED_TOKEN))


def test_accounts_collected_at_once_share_one_refresh(sandbox: Sandbox, store: TokenStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    refresh = fresh_refresh_token()
    ctxs = [
        ctx_for(sandbox, name, token=EXPIRED_TOKEN, store=store, refresh_token=refresh, client_id="x-client-id")
        for name in ("cornerbakery", "rivalpatisserie", "thirdbakery")
    ]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda c: run(sandbox, c), ctxs))
    assert [len(r) for r in results] == [2, 2, 2]
    assert len(sandbox.requests_to(TOKEN_PATH)) == 1  # X's refresh token is single-use: one exchange


# -- issue 11: counts ----------------------------------------------------------------------------------
# Shape: https://docs.x.com/x-api/users/lookup/introduction (public_metrics {"followers_count": 1320, ...}: JSON
# integers); a level declares no period, and the lookup is the only call (nothing optional).
@pytest.mark.parametrize(("value", "read"), [(1320, 1320), (1320.0, 1320)])
def test_a_count_is_read_as_a_whole_number(value: Any, read: int) -> None:
    payload = fixture("x", "user.json")
    payload["data"]["public_metrics"]["followers_count"] = value
    got = x.parse_user(payload, account_id=ACCOUNT, day=TODAY, collected_at=COLLECTED_AT)
    assert got[0].value == read and type(got[0].value) is int


@pytest.mark.parametrize("value", [-1, 1320.5, float("nan"), "1320", True])
def test_what_is_no_count_is_refused(value: Any) -> None:
    payload = fixture("x", "user.json")
    payload["data"]["public_metrics"]["followers_count"] = value
    with pytest.raises(PayloadError, match="public_metrics.followers_count is .*not a count"):
        x.parse_user(payload, account_id=ACCOUNT, day=TODAY, collected_at=COLLECTED_AT)


def test_the_sandbox_answering_a_negative_count_fails_the_account(sandbox: Sandbox) -> None:
    payload = fixture("x", "user.json")
    payload["data"]["public_metrics"]["followers_count"] = -1
    sandbox.script(USER_PATH, Reply(200, payload))
    with pytest.raises(PayloadError, match="followers_count is -1, not a count"):
        run(sandbox, ctx_for(sandbox))
