"""Bluesky: the profile parser, the XRPC classifier, and collect()/check() against the sandbox AppView."""

from __future__ import annotations

import copy
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from collectors import bluesky
from collectors.errors import AuthError, BadRequest, PayloadError
from socialkpi.sandbox import Reply, Sandbox, world
from socialkpi.sandbox import bluesky as part
from tests.conftest import COLLECTED_AT, fixture, make_client, make_ctx

PROFILE = r"/xrpc/app\.bsky\.actor\.getProfile"
HANDLE = "testbakery.bsky.social"
GONE = "account_unavailable"


def ctx_for(sb: Sandbox, account: str = HANDLE, **kw: Any) -> Any:
    kw.setdefault("token", None)
    kw.setdefault("collected_at", datetime.now(UTC))
    return make_ctx("bluesky", account, sb.url, **kw)


def expected(key: str, day: date) -> set[tuple[str, date, float, str]]:
    # Independent of the parser: the world's numbers for the sandbox's "now" (UTC today).
    now = datetime.now(UTC).date()
    followers = world.followers("bluesky", key, now, 1300)
    posts = int(450 * world.scale_of("bluesky", key) + 0.5 * (now - date(2023, 7, 14)).days)
    return {("followers", day, followers, "followersCount"), ("posts", day, posts, "postsCount")}


def rows(out: Any) -> set[tuple[str, date, float, str]]:
    return {(o.metric, o.observed_on, o.value, o.source_metric) for o in out.observations}


def run(sb: Sandbox, ctx: Any, client: Any = None) -> Any:
    client = client or make_client("bluesky")
    return bluesky.collect(client, ctx, since=ctx.today - timedelta(days=3), until=ctx.today)


# -- parser ------------------------------------------------------------------------------------


def test_parse_profile_doc_example() -> None:
    # Shape: https://docs.bsky.app/docs/api/app-bsky-actor-get-profile Endpoint (profileViewDetailed example)
    payload = fixture("bluesky", "profile.json")
    before = copy.deepcopy(payload)
    got = bluesky.parse_profile(
        payload, account_id="bakeryrosa.bsky.social", day=date(2025, 10, 1), collected_at=COLLECTED_AT
    )
    assert [(o.platform, o.account_id, o.metric, o.observed_on, o.value, o.source_metric) for o in got] == [
        ("bluesky", "bakeryrosa.bsky.social", "followers", date(2025, 10, 1), 1290, "followersCount"),
        ("bluesky", "bakeryrosa.bsky.social", "posts", date(2025, 10, 1), 455, "postsCount"),
    ]
    assert payload == before


def test_parse_profile_counts_are_optional() -> None:
    # Shape: https://docs.bsky.app/docs/api/app-bsky-actor-get-profile Endpoint (only did and handle are required)
    payload = {"did": "did:plc:abcd1234efgh5678ijkl9012", "handle": "bakeryrosa.bsky.social", "postsCount": 3}
    got = bluesky.parse_profile(payload, account_id="x.bsky.social", day=date(2025, 10, 1), collected_at=COLLECTED_AT)
    assert [(o.metric, o.value) for o in got] == [("posts", 3)]


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"handle": "a.bsky.social", "followersCount": 1},
        {"did": "did:plc:x", "followersCount": "1290"},
        {"did": "did:plc:x", "followersCount": 1290, "postsCount": 4.5},
        {"did": "did:plc:x", "followersCount": None},
        {"did": "did:plc:x", "postsCount": False},
    ],
)
def test_parse_profile_wrong_shape(payload: Any) -> None:
    with pytest.raises(PayloadError):
        bluesky.parse_profile(payload, account_id="a.b", day=date(2025, 1, 1), collected_at=COLLECTED_AT)


@pytest.mark.parametrize(
    ("account_id", "actor"),
    [
        ("cornerbakery.bsky.social", "cornerbakery.bsky.social"),
        ("@CornerBakery.bsky.social", "cornerbakery.bsky.social"),
        ("cornerbakery.fr", "cornerbakery.fr"),
        ("did:plc:abcd1234efgh5678ijkl9012", "did:plc:abcd1234efgh5678ijkl9012"),
    ],
)
def test_actor_of(account_id: str, actor: str) -> None:
    assert bluesky.actor_of(account_id) == actor


@pytest.mark.parametrize("account_id", ["cornerbakery", "user@mastodon.social", "https://bsky.app/profile/x.y", ""])
def test_actor_of_refuses_other_ids(account_id: str) -> None:
    with pytest.raises(BadRequest, match="handle"):
        bluesky.actor_of(account_id)


# -- classifier --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        # Shape: https://docs.bsky.app/docs/advanced-guides/rate-limits (XRPC {error, message})
        (400, fixture("bluesky", "not_found.json"), "bad_request", "not_found"),
        (429, fixture("bluesky", "throttled.json"), "throttled", "rate_limited"),
        (400, {"error": "AccountTakedown", "message": "Account has been suspended"}, "bad_request", GONE),
        (400, {"error": "AccountDeactivated", "message": "Account is deactivated"}, "bad_request", GONE),
        (400, {"error": "ExpiredToken", "message": "Token has expired"}, "auth", "token_invalid"),
        (401, {"error": "AuthenticationRequired", "message": "Authentication Required"}, "auth", "token_invalid"),
        (
            400,
            {"error": "InvalidRequest", "message": 'Error: Params must have the property "actor"'},
            "bad_request",
            "InvalidRequest",
        ),
        (502, {"error": "UpstreamFailure", "message": "Upstream Failure"}, "server", "UpstreamFailure"),
    ],
)
def test_classify(status: int, body: Any, kind: str, code: str) -> None:
    verdict = bluesky.classify(status, {}, body)
    assert verdict is not None
    assert (verdict.kind, verdict.code) == (kind, code)
    assert body["message"] in verdict.message


def test_classify_reads_the_epoch_reset() -> None:
    verdict = bluesky.classify(
        429, {"ratelimit-reset": str(int(time.time()) + 60)}, fixture("bluesky", "throttled.json")
    )
    assert verdict is not None and verdict.retry_after is not None
    assert 55 <= verdict.retry_after <= 60


def test_classify_leaves_success_and_bare_statuses_alone() -> None:
    assert bluesky.classify(200, {}, fixture("bluesky", "profile.json")) is None
    assert bluesky.classify(503, {}, "<html>") is None


# -- collect against the sandbox ----------------------------------------------------------------


@pytest.mark.parametrize("competitor", [False, True])
def test_collect_writes_today_followers_and_posts(sandbox: Sandbox, competitor: bool) -> None:
    ctx = ctx_for(sandbox, competitor=competitor)
    out = run(sandbox, ctx, client := make_client("bluesky"))
    assert rows(out) == expected(HANDLE, ctx.today)
    assert {(o.platform, o.account_id) for o in out.observations} == {("bluesky", HANDLE)}
    assert out.skipped == [] and client.requests_made == 1
    [req] = sandbox.requests_to(PROFILE)
    assert req.query == {"actor": [HANDLE]}
    assert req.header("Authorization") is None  # public AppView: nothing sent


def test_collect_by_did_keeps_the_configured_id(sandbox: Sandbox) -> None:
    did = "did:plc:abcd1234efgh5678ijkl9012"
    ctx = ctx_for(sandbox, did)
    out = run(sandbox, ctx)
    assert rows(out) == expected(did, ctx.today)
    assert {o.account_id for o in out.observations} == {did}


def test_token_is_never_sent(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox, token=world.EXPIRED_TOKEN)
    assert len(run(sandbox, ctx).observations) == 2
    assert sandbox.requests_to(PROFILE)[0].header("Authorization") is None


def test_collect_dates_by_the_business_day(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox, collected_at=datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    assert {o.observed_on for o in run(sandbox, ctx).observations} == {date(2026, 3, 10)}


def test_a_count_left_out_is_skipped_and_noted(sandbox: Sandbox) -> None:
    profile = fixture("bluesky", "profile.json")
    del profile["followersCount"]
    sandbox.script(PROFILE, Reply(200, profile, part.rate_headers()))
    ctx = ctx_for(sandbox)
    out = run(sandbox, ctx)
    assert rows(out) == {("posts", ctx.today, 455, "postsCount")}
    assert out.skipped == [("followersCount", "left out of the profile by the AppView")]


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        ("unknownshop.bsky.social", "no profile unknownshop.bsky.social (Profile not found): check the handle"),
        ("takendown-shop.bsky.social", "AccountTakedown: Account has been suspended (takendown-shop.bsky.social is"),
    ],
)
def test_unavailable_profiles_fail_clearly(sandbox: Sandbox, handle: str, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        run(sandbox, ctx_for(sandbox, handle))
    assert message in str(err.value)
    assert err.value.status == 400
    assert len(sandbox.requests_to(PROFILE)) == 1  # a 400 is not retried


def test_expired_token_error_is_an_auth_error_with_advice(sandbox: Sandbox) -> None:
    # A base URL pointing to a host that wants a token answers with XRPC's ExpiredToken.
    sandbox.script(PROFILE, part.xrpc_error(400, "ExpiredToken", "Token has expired"))
    with pytest.raises(AuthError, match="ExpiredToken: Token has expired .*needs no token.*BASE_URL"):
        run(sandbox, ctx_for(sandbox))


# -- check -------------------------------------------------------------------------------------


def test_check_reports_the_public_profile(sandbox: Sandbox) -> None:
    followers = world.followers("bluesky", HANDLE, datetime.now(UTC).date(), 1300)
    detail = bluesky.check(make_client("bluesky"), ctx_for(sandbox))
    assert detail.startswith(f"{HANDLE} (did:plc:")
    assert detail.endswith(f"found (public, no token needed): {followers} followers")


def test_check_fails_for_an_unknown_handle(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="check the handle"):
        bluesky.check(make_client("bluesky"), ctx_for(sandbox, "unknown.bsky.social"))


# -- issue 11: counts ----------------------------------------------------------------------------------
# Shape: the lexicon app.bsky.actor.defs#profileViewDetailed ("followersCount": {"type": "integer"}), as in
# https://docs.bsky.app/docs/api/app-bsky-actor-get-profile; levels declare no period, and getProfile is the only call
# (nothing optional).
@pytest.mark.parametrize("value", [-1, 10.5, float("nan"), "10", True])
def test_what_is_no_count_is_refused(value: Any) -> None:
    payload = {**fixture("bluesky", "profile.json"), "postsCount": value}
    with pytest.raises(PayloadError, match="postsCount is .*not a count"):
        bluesky.parse_profile(payload, account_id=HANDLE, day=date(2025, 10, 2), collected_at=COLLECTED_AT)


def test_a_whole_float_from_the_sandbox_is_a_count(sandbox: Sandbox) -> None:
    sandbox.script(PROFILE, Reply(200, {**fixture("bluesky", "profile.json"), "postsCount": 120.0}))
    got = {o.metric: o.value for o in run(sandbox, ctx_for(sandbox)).observations}
    assert got["posts"] == 120 and type(got["posts"]) is int
