"""Mastodon: the Account parser, the classifier, and collect()/check() against the sandbox instance."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from collectors import mastodon
from collectors.errors import AuthError, BadRequest, PayloadError
from socialkpi.sandbox import Reply, Sandbox, world
from tests.conftest import COLLECTED_AT, fixture, make_client, make_ctx

LOOKUP = r"/api/v1/accounts/lookup"
ACCOUNT = "testbakery@bakers.social"


def ctx_for(sb: Sandbox, account: str = ACCOUNT, **kw: Any) -> Any:
    kw.setdefault("token", None)  # public: no token
    kw.setdefault("collected_at", datetime.now(UTC))
    return make_ctx("mastodon", account, sb.url, **kw)


def expected(username: str, day: date, sandbox_day: date) -> set[tuple[str, date, int, str]]:
    # Independent of the parser: the world's numbers for today (the sandbox's "now" is UTC).
    followers = world.followers("mastodon", username, sandbox_day, 900)
    posts = int(320 * world.scale_of("mastodon", username) + 0.4 * (sandbox_day - date(2022, 11, 8)).days)
    return {("followers", day, followers, "followers_count"), ("posts", day, posts, "statuses_count")}


def rows(out: Any) -> set[tuple[str, date, float, str]]:
    return {(o.metric, o.observed_on, o.value, o.source_metric) for o in out.observations}


# -- parser ------------------------------------------------------------------------------------


def test_parse_account_doc_example() -> None:
    # Shape: https://docs.joinmastodon.org/methods/accounts/ Endpoints (the Account example)
    payload = fixture("mastodon", "lookup.json")
    before = copy.deepcopy(payload)
    got = mastodon.parse_account(
        payload, account_id="bakeryrosa@mastodon.social", day=date(2025, 10, 2), collected_at=COLLECTED_AT
    )
    assert [(o.platform, o.account_id, o.metric, o.observed_on, o.value, o.source_metric) for o in got] == [
        ("mastodon", "bakeryrosa@mastodon.social", "followers", date(2025, 10, 2), 842, "followers_count"),
        ("mastodon", "bakeryrosa@mastodon.social", "posts", date(2025, 10, 2), 311, "statuses_count"),
    ]
    assert all(o.collected_at == COLLECTED_AT for o in got)
    assert payload == before  # never mutated


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "Record not found",
        {"id": "1", "statuses_count": 3},
        {"id": "1", "followers_count": "842", "statuses_count": 3},
        {"id": "1", "followers_count": True, "statuses_count": 3},
        {"id": "1", "followers_count": 842, "statuses_count": None},
        {"id": "1", "followers_count": -1, "statuses_count": 3},
    ],
)
def test_parse_account_wrong_shape(payload: Any) -> None:
    with pytest.raises(PayloadError):
        mastodon.parse_account(payload, account_id="a@b.c", day=date(2025, 1, 1), collected_at=COLLECTED_AT)


@pytest.mark.parametrize(
    ("account_id", "user", "instance"),
    [
        ("cornerbakery@mastodon.social", "cornerbakery", "mastodon.social"),
        ("@cornerbakery@Mastodon.Social", "cornerbakery", "mastodon.social"),
        ("boulangerie@piaille.fr", "boulangerie", "piaille.fr"),
    ],
)
def test_split_account(account_id: str, user: str, instance: str) -> None:
    assert mastodon.split_account(account_id) == (user, instance)


@pytest.mark.parametrize("account_id", ["cornerbakery", "@cornerbakery", "a@b@c", "user@", "https://x.y/@u"])
def test_split_account_refuses_other_ids(account_id: str) -> None:
    with pytest.raises(BadRequest, match="user@instance"):
        mastodon.split_account(account_id)


@pytest.mark.parametrize(
    ("instance", "base_url", "url"),
    [
        ("mastodon.social", None, "https://mastodon.social/api/v1/accounts/lookup"),
        ("piaille.fr", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/api/v1/accounts/lookup"),
    ],
)
def test_lookup_url(instance: str, base_url: str | None, url: str) -> None:
    assert mastodon.lookup_url(instance, base_url) == url


# -- classifier --------------------------------------------------------------------------------


def test_reset_header_is_iso_8601() -> None:
    # Shape: https://docs.joinmastodon.org/api/rate-limits/ (X-RateLimit-Reset: ISO 8601 with microseconds)
    now = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
    assert mastodon.seconds_until_iso("2025-10-01T12:05:00.123456Z", now=now) == pytest.approx(300.123456)
    assert mastodon.seconds_until_iso("2025-10-01T11:00:00.000000Z", now=now) == 0.0
    assert mastodon.seconds_until_iso("1759320300", now=now) is None  # not an epoch header
    assert mastodon.seconds_until_iso(None, now=now) is None


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        # Shape: https://docs.joinmastodon.org/methods/accounts/ and https://docs.joinmastodon.org/api/rate-limits/
        (401, {"error": "The access token is invalid"}, "auth", "token_invalid"),
        (401, {"error": "This API requires an authenticated user"}, "auth", "auth_required"),
        (404, fixture("mastodon", "not_found.json"), "bad_request", "not_found"),
        (429, fixture("mastodon", "throttled.json"), "throttled", "rate_limited"),
        (403, {"error": "This action is not allowed"}, "permission", ""),
    ],
)
def test_classify(status: int, body: Any, kind: str, code: str) -> None:
    verdict = mastodon.classify(status, {}, body)
    assert verdict is not None
    assert (verdict.kind, verdict.code) == (kind, code)
    assert body["error"] in verdict.message


def test_classify_reads_reset_header() -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    verdict = mastodon.classify(429, {"x-ratelimit-reset": reset}, {"error": "Too many requests"})
    assert verdict is not None and verdict.retry_after is not None
    assert 80 < verdict.retry_after <= 90


def test_classify_leaves_success_and_5xx_to_the_status() -> None:
    assert mastodon.classify(200, {}, {"id": "1"}) is None
    assert mastodon.classify(503, {}, "<html>") is None


# -- collect against the sandbox ----------------------------------------------------------------


@pytest.mark.parametrize("competitor", [False, True])
def test_collect_writes_today_followers_and_posts(sandbox: Sandbox, competitor: bool) -> None:
    ctx = ctx_for(sandbox, competitor=competitor)
    yesterday = ctx.today - timedelta(days=1)
    out = mastodon.collect(client := make_client("mastodon"), ctx, since=date(2026, 1, 1), until=yesterday)
    assert rows(out) == expected("testbakery", ctx.today, datetime.now(UTC).date())
    assert {(o.platform, o.account_id) for o in out.observations} == {("mastodon", ACCOUNT)}
    assert out.skipped == [] and client.requests_made == 1
    [req] = sandbox.requests_to(LOOKUP)
    assert req.query == {"acct": ["testbakery"]}  # asked of the home instance, local name
    assert req.header("Authorization") is None  # public: nothing sent


def test_collect_dates_by_the_business_day(sandbox: Sandbox) -> None:
    # 23:30 UTC on 9 March is already 10 March in Paris: the snapshot belongs to the business's day
    ctx = ctx_for(sandbox, collected_at=datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    out = mastodon.collect(make_client("mastodon"), ctx, since=date(2026, 3, 1), until=date(2026, 3, 9))
    assert {o.observed_on for o in out.observations} == {date(2026, 3, 10)}


def test_optional_token_goes_in_a_header(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox, token=world.TOKEN)
    out = mastodon.collect(make_client("mastodon"), ctx, since=ctx.today, until=ctx.today)
    assert len(out.observations) == 2
    [req] = sandbox.requests_to(LOOKUP)
    assert req.header("Authorization") == f"Bearer {world.TOKEN}"
    assert world.TOKEN not in json.dumps(req.query)


def test_suspended_account_is_skipped_not_zeroed(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox, "suspendedshop@bakers.social")
    out = mastodon.collect(make_client("mastodon"), ctx, since=ctx.today, until=ctx.today)
    assert out.observations == []
    assert [m for m, _ in out.skipped] == ["followers_count", "statuses_count"]
    assert all("suspended" in why for _, why in out.skipped)


def test_unknown_account_fails_clearly(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox, "unknownshop@bakers.social")
    with pytest.raises(BadRequest) as err:
        mastodon.collect(make_client("mastodon"), ctx, since=ctx.today, until=ctx.today)
    assert "no account @unknownshop on bakers.social" in str(err.value)
    assert err.value.status == 404


def test_instance_requiring_auth_says_to_create_a_token(sandbox: Sandbox) -> None:
    sandbox.script(LOOKUP, Reply(401, {"error": "This API requires an authenticated user"}))
    ctx = ctx_for(sandbox)
    advice = r"refuses unauthenticated API calls.*read:accounts.*SOCIALKPI_MASTODON_TOKEN"
    with pytest.raises(AuthError, match=advice):
        mastodon.collect(make_client("mastodon"), ctx, since=ctx.today, until=ctx.today)


# -- check -------------------------------------------------------------------------------------


def test_check_reports_the_public_profile(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox)
    followers = world.followers("mastodon", "testbakery", datetime.now(UTC).date(), 900)
    assert mastodon.check(make_client("mastodon"), ctx) == (
        f"@{ACCOUNT} found (public, no token needed): {followers} followers"
    )


def test_check_fails_for_an_unknown_account(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="check the id"):
        mastodon.check(make_client("mastodon"), ctx_for(sandbox, "unknown_x@bakers.social"))


# -- issue 11: counts ----------------------------------------------------------------------------------
# Shape: https://docs.joinmastodon.org/entities/Account/ ("followers_count ... Type: Integer"); levels declare
# no period, and the lookup is the only call (nothing optional).
@pytest.mark.parametrize("value", [-1, 842.5, float("nan"), "842", True, None])
def test_what_is_no_count_is_refused(value: Any) -> None:
    payload = {**fixture("mastodon", "lookup.json"), "followers_count": value}
    with pytest.raises(PayloadError, match="followers_count is .*not a count"):
        mastodon.parse_account(payload, account_id=ACCOUNT, day=date(2025, 10, 2), collected_at=COLLECTED_AT)


def test_a_whole_float_from_the_sandbox_is_a_count(sandbox: Sandbox) -> None:
    sandbox.script(LOOKUP, Reply(200, {**fixture("mastodon", "lookup.json"), "followers_count": 842.0}))
    ctx = ctx_for(sandbox)
    out = mastodon.collect(make_client("mastodon"), ctx, since=ctx.today, until=ctx.today)
    assert {o.metric: o.value for o in out.observations} == {"followers": 842, "posts": 311}
