"""YouTube: channels.list and reports.query parsers, the Google classifier, collect()/check() against the
sandbox, API key vs OAuth, the refresh flow and the 403 quotaExceeded reset."""

from __future__ import annotations

import copy
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors import google_auth, youtube
from collectors.context import CollectContext
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, ServerError
from collectors.tokens import StoredToken, TokenStore
from socialkpi.sandbox import Reply, Sandbox, world
from socialkpi.sandbox import youtube as part
from socialkpi.sandbox.google_oauth import issue_token as world_issue
from tests.conftest import COLLECTED_AT, fixture, make_client, make_ctx

CHANNELS = r"/youtube/v3/channels"
REPORTS = r"/v2/reports"
OWN = "UCcornerBakeryLyon00001A"  # the channel the sandbox's token belongs to
RIVAL = "UCrivalPatisserie000001B"
API_KEY = "AIzaSyTest-not-a-real-key-0000000000000"
BASES = {"views": 150.0, "subscribersGained": 6.0, "subscribersLost": 1.5}
CANONICAL = {"views": "video_views", "subscribersGained": "followers_gained", "subscribersLost": "followers_lost"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(parts=("socialkpi.sandbox.youtube",)) as sb:
        yield sb


def ctx_for(sb: Sandbox, channel: str = OWN, *, store: TokenStore | None = None, **kw: Any) -> CollectContext:
    kw.setdefault("collected_at", datetime.now(UTC))
    ctx = make_ctx("youtube", channel, sb.url, **kw)
    if store is None:
        return ctx
    return CollectContext(ctx.account, ctx.credentials, ctx.collected_at, ctx.business_tz, token_store=store)


def three_figures(n: int) -> int:
    return n if n < 1000 else int(str(n)[:3]) * 10 ** (len(str(n)) - 3)


def expected_stats(channel: str, day: date) -> set[tuple[str, date, float, str]]:
    now = datetime.now(UTC).date()  # the sandbox's "now"
    subscribers = three_figures(world.followers("youtube", channel, now, 2400))
    videos = int(40 * world.scale_of("youtube", channel) + (now - date(2019, 5, 1)).days / 9)
    return {("followers", day, subscribers, "subscriberCount"), ("posts", day, videos, "videoCount")}


def expected_daily(since: date, until: date) -> set[tuple[str, date, float, str]]:
    ready = min(until, datetime.now(UTC).date() - timedelta(days=3))  # the last days are not ready
    out = set()
    day = since
    while day <= ready:
        for name, base in BASES.items():
            out.add((CANONICAL[name], day, world.daily("youtube", OWN, name, day, base), name))
        day += timedelta(days=1)
    return out


def rows(out: Any) -> set[tuple[str, date, float, str]]:
    return {(o.metric, o.observed_on, o.value, o.source_metric) for o in out.observations}


def collect(ctx: CollectContext, since: date | None = None, until: date | None = None, client: Any = None) -> Any:
    until = until or ctx.today - timedelta(days=1)
    since = since or until - timedelta(days=9)
    return youtube.collect(client or make_client("youtube"), ctx, since=since, until=until)


# -- parsers -----------------------------------------------------------------------------------


def test_parse_channels_doc_example() -> None:
    # Shape: https://developers.google.com/youtube/v3/docs/channels/list Data API channels.list (counts as strings)
    payload = fixture("youtube", "channels.json")
    before = copy.deepcopy(payload)
    got, skipped = youtube.parse_channels(
        payload, account_id="UCxxxxxxxxxxxxxxxxxxxxxx", day=date(2025, 10, 2), collected_at=COLLECTED_AT
    )
    assert [(o.metric, o.observed_on, o.value, o.source_metric) for o in got] == [
        ("followers", date(2025, 10, 2), 12300, "subscriberCount"),
        ("posts", date(2025, 10, 2), 214, "videoCount"),
    ]
    assert all(isinstance(o.value, int) for o in got)
    assert skipped == [] and payload == before


def test_parse_channels_hidden_subscribers() -> None:
    # Shape: https://developers.google.com/youtube/v3/docs/channels/list (hiddenSubscriberCount true: treat the count as
    # unknown)
    got, skipped = youtube.parse_channels(
        fixture("youtube", "channels_hidden.json"),
        account_id="UCxxxxxxxxxxxxxxxxxxxxxx",
        day=date(2025, 10, 2),
        collected_at=COLLECTED_AT,
    )
    assert [(o.metric, o.value) for o in got] == [("posts", 214)]
    assert [m for m, _ in skipped] == ["subscriberCount"] and "hides" in skipped[0][1]
    # even if a subscriberCount came along with the flag, it is not stored
    payload = fixture("youtube", "channels.json")
    payload["items"][0]["statistics"]["hiddenSubscriberCount"] = True
    got, _ = youtube.parse_channels(
        payload, account_id="UCxxxxxxxxxxxxxxxxxxxxxx", day=date(2025, 10, 2), collected_at=COLLECTED_AT
    )
    assert [o.metric for o in got] == ["posts"]


def test_parse_channels_unknown_channel_is_not_success() -> None:
    # Shape: https://developers.google.com/youtube/v3/docs/channels/list Errors (unknown channel: 200, totalResults 0,
    # no items)
    with pytest.raises(BadRequest, match="no channel UCxxxxxxxxxxxxxxxxxxxxxx"):
        youtube.parse_channels(
            fixture("youtube", "channels_unknown.json"),
            account_id="UCxxxxxxxxxxxxxxxxxxxxxx",
            day=date(2025, 10, 2),
            collected_at=COLLECTED_AT,
        )


@pytest.mark.parametrize(
    "stats",
    [
        {"subscriberCount": 12300.5, "videoCount": "214"},
        {"subscriberCount": "12,300", "videoCount": "214"},
        {"subscriberCount": "12300"},
        {"subscriberCount": "12300", "videoCount": "214", "hiddenSubscriberCount": "false"},
        None,
    ],
)
def test_parse_channels_wrong_shape(stats: Any) -> None:
    payload = {"items": [{"id": "UCx", "statistics": stats}]}
    with pytest.raises(PayloadError):
        youtube.parse_channels(payload, account_id="UCx", day=date(2025, 1, 1), collected_at=COLLECTED_AT)


def test_parse_report_doc_example() -> None:
    # Shape: https://developers.google.com/youtube/analytics/reference/reports/query Analytics reports.query (positional
    # rows in columnHeaders order)
    payload = fixture("youtube", "report.json")
    before = copy.deepcopy(payload)
    got = youtube.parse_report(
        payload, account_id="UCx", since=date(2025, 10, 1), until=date(2025, 10, 2), collected_at=COLLECTED_AT
    )
    assert {(o.metric, o.observed_on, o.value, o.source_metric) for o in got} == {
        ("video_views", date(2025, 10, 1), 412, "views"),
        ("followers_gained", date(2025, 10, 1), 7, "subscribersGained"),
        ("followers_lost", date(2025, 10, 1), 1, "subscribersLost"),
        ("video_views", date(2025, 10, 2), 388, "views"),
        ("followers_gained", date(2025, 10, 2), 4, "subscribersGained"),
        ("followers_lost", date(2025, 10, 2), 2, "subscribersLost"),
    }
    assert payload == before


def test_parse_report_without_rows_and_with_gaps() -> None:
    # Shape: https://developers.google.com/youtube/analytics/reference/reports/query ("rows is missing entirely when
    # there is no data"; floats like 18552.0)
    assert (
        youtube.parse_report(
            fixture("youtube", "report_empty.json"),
            account_id="UCx",
            since=date(2025, 10, 1),
            until=date(2025, 10, 5),
            collected_at=COLLECTED_AT,
        )
        == []
    )
    payload = fixture("youtube", "report_empty.json")
    payload["rows"] = [["2025-10-01", 18552.0, 3, 0], ["2025-10-03", 10, 1, 1]]
    got = youtube.parse_report(
        payload, account_id="UCx", since=date(2025, 10, 1), until=date(2025, 10, 5), collected_at=COLLECTED_AT
    )
    by = {(o.metric, o.observed_on): o.value for o in got}
    assert by[("video_views", date(2025, 10, 1))] == 18552 and isinstance(by[("video_views", date(2025, 10, 1))], int)
    assert by[("video_views", date(2025, 10, 2))] == 0  # inside the answered days: a real 0
    assert not any(d > date(2025, 10, 3) for _, d in by)  # after the newest day: not ready, left out


@pytest.mark.parametrize(
    "payload",
    [
        {"rows": [["2025-10-01", 1, 1, 1]]},
        {"columnHeaders": [{"name": "views"}], "rows": [[1]]},
        {"columnHeaders": [{"name": "day"}, {"name": "views"}], "rows": [["2025-10-01"]]},
        {"columnHeaders": [{"name": "day"}, {"name": "views"}], "rows": [["2025-10-01", "412"]]},
        {"columnHeaders": [{"name": "day"}, {"name": "views"}], "rows": [["01/10/2025", 412]]},
        {"columnHeaders": [{"name": "day"}, {"name": "views"}], "rows": "none"},
    ],
)
def test_parse_report_wrong_shape(payload: Any) -> None:
    with pytest.raises(PayloadError):
        youtube.parse_report(
            payload, account_id="UCx", since=date(2025, 10, 1), until=date(2025, 10, 2), collected_at=COLLECTED_AT
        )


# -- classifier --------------------------------------------------------------------------------


def test_quota_resets_at_midnight_pacific() -> None:
    pacific = ZoneInfo("America/Los_Angeles")
    assert google_auth.seconds_until_pacific_midnight(datetime(2025, 10, 1, 23, 0, tzinfo=pacific)) == 3600
    # 08:30 UTC on 2 Nov 2025 is 01:30 PDT, the day the clocks go back: 22.5 h of wall clock, 23.5 h of time
    assert google_auth.seconds_until_pacific_midnight(datetime(2025, 11, 2, 8, 30, tzinfo=UTC)) == 23.5 * 3600


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        # Shape: https://developers.google.com/youtube/v3/docs/channels/list Errors (Google envelope plus legacy
        # errors[])
        (403, fixture("youtube", "quota_exceeded.json"), "throttled", "quota_exceeded"),
        (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "User Rate Limit Exceeded",
                    "errors": [{"reason": "rateLimitExceeded"}],
                }
            },
            "throttled",
            "rate",
        ),
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "errors": [{"reason": "keyInvalid"}],
                    "status": "INVALID_ARGUMENT",
                }
            },
            "auth",
            "key_invalid",
        ),
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid.",
                    "status": "INVALID_ARGUMENT",
                    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
                }
            },
            "auth",
            "key_invalid",
        ),
        (
            401,
            {
                "error": {
                    "code": 401,
                    "message": "Request had invalid authentication credentials.",
                    "status": "UNAUTHENTICATED",
                    "errors": [{"reason": "authError"}],
                }
            },
            "auth",
            "unauthenticated",
        ),
        (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "Forbidden",
                    "status": "PERMISSION_DENIED",
                    "errors": [{"reason": "forbidden"}],
                }
            },
            "permission",
            "forbidden",
        ),
        (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "YouTube Data API v3 has not been used in project 1 before",
                    "status": "PERMISSION_DENIED",
                    "details": [{"reason": "SERVICE_DISABLED"}],
                }
            },
            "permission",
            "service_disabled",
        ),
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "The query is not supported.",
                    "status": "INVALID_ARGUMENT",
                    "errors": [{"reason": "badRequest"}],
                }
            },
            "bad_request",
            "invalid_argument",
        ),
    ],
)
def test_classify(status: int, body: Any, kind: str, code: str) -> None:
    verdict = youtube.classify(status, {}, body)
    assert verdict is not None and (verdict.kind, verdict.code) == (kind, code)
    assert body["error"]["message"] in verdict.message


def test_classify_quota_waits_until_pacific_midnight() -> None:
    verdict = youtube.classify(403, {}, fixture("youtube", "quota_exceeded.json"))
    assert verdict is not None and verdict.retry_after is not None
    assert verdict.retry_after == pytest.approx(google_auth.seconds_until_pacific_midnight(), abs=5)


def test_classify_leaves_other_bodies_to_the_status() -> None:
    assert youtube.classify(200, {}, fixture("youtube", "channels.json")) is None
    assert youtube.classify(502, {}, "<html>bad gateway</html>") is None


# -- collect against the sandbox: OAuth, own channel ----------------------------------------------


def test_own_channel_with_oauth(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox)
    until = ctx.today - timedelta(days=1)
    since = until - timedelta(days=9)
    out = collect(ctx, since, until, client := make_client("youtube"))
    assert rows(out) == expected_stats(OWN, ctx.today) | expected_daily(since, until)
    assert out.skipped == [] and client.requests_made == 2
    [stats_req] = sandbox.requests_to(CHANNELS)
    assert stats_req.query == {"part": ["statistics"], "id": [OWN]}
    [report] = sandbox.requests_to(REPORTS)
    assert report.query == {
        "ids": ["channel==MINE"],
        "startDate": [since.isoformat()],
        "endDate": [until.isoformat()],
        "metrics": ["views,subscribersGained,subscribersLost"],
        "dimensions": ["day"],
        "sort": ["day"],
    }
    assert report.header("Authorization") == f"Bearer {world.TOKEN}"


def test_not_ready_days_are_left_out_not_zero(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox)
    until = ctx.today - timedelta(days=1)
    out = collect(ctx, until - timedelta(days=4), until)
    days = {o.observed_on for o in out.observations if o.metric == "video_views"}
    assert max(days) == datetime.now(UTC).date() - timedelta(days=3)
    assert not any(o.value == 0 and o.metric == "video_views" for o in out.observations)


def test_a_refused_analytics_metric_is_skipped_not_fatal(sandbox: Sandbox) -> None:
    refused = part.google_error(
        400, "Unknown identifier (views) given in field parameters.metrics.", "badRequest", status="INVALID_ARGUMENT"
    )
    sandbox.script(REPORTS, refused, refused)  # the whole query, then views alone
    ctx = ctx_for(sandbox)
    out = collect(ctx)
    assert [m for m, _ in out.skipped] == ["views"]
    assert "Unknown identifier (views)" in out.skipped[0][1]
    assert {o.metric for o in out.observations} == {"followers", "posts", "followers_gained", "followers_lost"}


# -- API key and competitors ---------------------------------------------------------------------


def treat_the_sandbox_token_as_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (youtube, google_auth):
        monkeypatch.setattr(module, "is_api_key", lambda token: bool(token))


def test_an_api_key_goes_in_a_header_and_a_wrong_one_is_refused(sandbox: Sandbox) -> None:
    # an AIza... token is an API key (the sandbox's only valid key is world.TOKEN, so this one is refused)
    assert google_auth.is_api_key(API_KEY) and not google_auth.is_api_key(world.TOKEN)
    ctx = ctx_for(sandbox, token=API_KEY)
    with pytest.raises(AuthError, match="API key not valid.*check the API key in SOCIALKPI_YOUTUBE_TOKEN") as err:
        collect(ctx)
    assert API_KEY not in str(err.value)
    req = sandbox.requests_to(CHANNELS)[0]
    assert req.header("X-Goog-Api-Key") == API_KEY and "key" not in req.query  # in a header, never the URL


@pytest.mark.parametrize("competitor", [True, False])
def test_api_key_reads_public_statistics(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, competitor: bool) -> None:
    treat_the_sandbox_token_as_a_key(monkeypatch)
    ctx = ctx_for(sandbox, RIVAL, competitor=competitor)
    out = collect(ctx)
    assert rows(out) == expected_stats(RIVAL, ctx.today)
    assert sandbox.requests_to(REPORTS) == []  # Analytics is OAuth-only
    req = sandbox.requests_to(CHANNELS)[0]
    assert req.header("X-Goog-Api-Key") == world.TOKEN and req.header("Authorization") is None
    assert "key" not in req.query
    if competitor:
        assert out.skipped == []
    else:
        assert [m for m, _ in out.skipped] == ["views", "subscribersGained", "subscribersLost"]
        assert "needs OAuth" in out.skipped[0][1]


def test_a_competitor_uses_the_api_key_when_one_is_set(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    treat_the_sandbox_token_as_a_key(monkeypatch)
    ctx = ctx_for(sandbox, RIVAL, competitor=True, refresh_token="rt-123456789", client_id="cid", client_secret="cs")
    out = collect(ctx)
    assert rows(out) == expected_stats(RIVAL, ctx.today)
    assert sandbox.requests_to("/token") == []
    assert sandbox.requests_to(CHANNELS)[0].header("X-Goog-Api-Key") == world.TOKEN


def test_a_competitor_without_a_key_is_read_with_the_owners_oauth_token(sandbox: Sandbox) -> None:
    """Issue 11 item 17: "channels.list reads any public channel with the owner's OAuth credentials"
    (https://developers.google.com/youtube/v3/docs/channels/list: "id [...] a comma-separated list of the
    YouTube channel ID(s) for the resource(s) that are being retrieved", any authorization); the README's platforms
    table: competitors "with an API key or your own OAuth credentials"."""
    ctx = ctx_for(sandbox, RIVAL, competitor=True)  # an OAuth access token in SOCIALKPI_YOUTUBE_TOKEN, no key
    out = collect(ctx)
    assert rows(out) == expected_stats(RIVAL, ctx.today)
    req = sandbox.requests_to(CHANNELS)[0]
    assert req.header("Authorization") == f"Bearer {world.TOKEN}" and req.header("X-Goog-Api-Key") is None
    assert sandbox.requests_to(REPORTS) == []  # a competitor: statistics only, never Analytics


def test_competitor_without_a_key_says_what_to_do(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError, match="competitor channel is read with an API key.*SOCIALKPI_YOUTUBE_TOKEN"):
        collect(ctx_for(sandbox, RIVAL, competitor=True, token=None))
    assert sandbox.requests == []


def test_an_api_key_wins_over_the_shared_credentials_file(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    treat_the_sandbox_token_as_a_key(monkeypatch)
    unreadable = str(tmp_path / "never-read.json")  # a file set up for GA4 is not touched
    out = collect(ctx_for(sandbox, google_credentials=unreadable))
    assert {o.metric for o in out.observations} == {"followers", "posts"}
    assert "SOCIALKPI_GOOGLE_CREDENTIALS with SOCIALKPI_YOUTUBE_TOKEN unset" in out.skipped[0][1]
    assert sandbox.requests_to("/token") == []


def test_a_token_without_the_youtube_scopes_is_refused(sandbox: Sandbox) -> None:
    bearer = world_issue(frozenset({"https://www.googleapis.com/auth/youtube.readonly"}))
    with pytest.raises(PermissionDenied, match="insufficient authentication scopes.*yt-analytics.readonly"):
        collect(ctx_for(sandbox, token=bearer))
    assert len(sandbox.requests_to(CHANNELS)) == 1 and len(sandbox.requests_to(REPORTS)) == 1


def test_hidden_subscriber_count(sandbox: Sandbox) -> None:
    ctx = ctx_for(sandbox, "UChiddenSubscribers00001", competitor=True)
    out = collect(ctx)
    assert {o.metric for o in out.observations} == {"posts"}
    assert [m for m, _ in out.skipped] == ["subscriberCount"]


def test_unknown_channel_fails_clearly(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="no channel UCunknownChannel0000001 .*check the channel id"):
        collect(ctx_for(sandbox, "UCunknownChannel0000001", competitor=True))


# -- errors --------------------------------------------------------------------------------------


def test_missing_permission(sandbox: Sandbox) -> None:
    sandbox.script(REPORTS, part.google_error(403, "Forbidden", "forbidden", status="PERMISSION_DENIED"))
    with pytest.raises(PermissionDenied, match="yt-analytics.readonly"):
        collect(ctx_for(sandbox))


def test_a_lasting_server_error_gives_googles_message(sandbox: Sandbox) -> None:
    sandbox.script(CHANNELS, *[Reply(500, {"error": {"code": 500, "message": "Backend Error"}})] * 4)
    with pytest.raises(ServerError, match="Backend Error"):
        collect(ctx_for(sandbox))


# -- refresh flow --------------------------------------------------------------------------------

REFRESH = {
    "refresh_token": "1//rt-sandbox-0123456789",
    "client_id": "123.apps.googleusercontent.com",
    "client_secret": "GOCSPX-sandbox-secret",
}


def test_expired_token_is_refreshed_and_stored(sandbox: Sandbox, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "wh.duckdb.tokens.json")
    ctx = ctx_for(sandbox, token=world.EXPIRED_TOKEN, store=store, **REFRESH)
    out = collect(ctx)
    assert rows(out) == expected_stats(OWN, ctx.today) | expected_daily(
        ctx.today - timedelta(days=10), ctx.today - timedelta(days=1)
    )
    [grant] = sandbox.requests_to("/token")
    assert grant.form()["grant_type"] == "refresh_token" and grant.form()["refresh_token"] == REFRESH["refresh_token"]
    saved = store.get("youtube", OWN)
    assert saved is not None and saved.access_token.startswith("ya29.sandbox-")
    assert saved.refresh_token == REFRESH["refresh_token"]  # Google does not rotate: the old one is kept
    assert saved.expires_at is not None and saved.fresh()
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    # the next run uses the stored token: no refresh, no expired token sent
    sandbox.clear()
    collect(ctx)
    assert sandbox.requests_to("/token") == []
    assert {r.header("Authorization") for r in sandbox.requests} == {f"Bearer {saved.access_token}"}


def test_a_stale_stored_token_is_refreshed_before_the_call(sandbox: Sandbox, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    store.put("youtube", OWN, StoredToken("ya29.old-stale-token", REFRESH["refresh_token"], expires_at=1.0))
    ctx = ctx_for(sandbox, token=None, store=store, **REFRESH)
    collect(ctx)
    first = sandbox.requests[0]
    assert first.path == "/token"  # refreshed before expiry bites, not after a 401
    assert all(r.header("Authorization") != "Bearer ya29.old-stale-token" for r in sandbox.requests)


def test_a_rotated_refresh_token_is_kept(sandbox: Sandbox, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    sandbox.script(
        "/token",
        Reply(
            200,
            {
                "access_token": "ya29.sandbox-rotated-access",  # fake, shaped like Google's
                "expires_in": 3599,
                "refresh_token": "1//rt-rotated-9876543210",
                "token_type": "Bearer",
            },
        ),
    )
    collect(ctx_for(sandbox, token=None, store=store, **REFRESH))
    saved = store.get("youtube", OWN)
    assert saved is not None and saved.refresh_token == "1//rt-rotated-9876543210"
    raw = json.loads(store.path.read_text())
    assert "GOCSPX" not in json.dumps(raw)  # the client secret is never stored


def test_dead_refresh_token_says_what_to_do(sandbox: Sandbox, tmp_path: Path) -> None:
    ctx = ctx_for(
        sandbox,
        token=world.EXPIRED_TOKEN,
        store=TokenStore(tmp_path / "t.json"),
        **{**REFRESH, "refresh_token": "revoked-1//rt-0123456789"},
    )
    with pytest.raises(AuthError) as err:
        collect(ctx)
    message = str(err.value)
    assert "refresh token was refused" in message and "Token has been expired or revoked" in message
    assert "SOCIALKPI_YOUTUBE_REFRESH_TOKEN" in message and "7 days" in message
    assert "revoked-1//rt-0123456789" not in message and world.EXPIRED_TOKEN not in message


# -- check -------------------------------------------------------------------------------------


def test_check_with_oauth(sandbox: Sandbox) -> None:
    assert youtube.check(make_client("youtube"), ctx_for(sandbox)) == (
        f"OAuth token valid for channel {OWN} (statistics and Analytics)"
    )
    assert sandbox.requests_to(CHANNELS)[0].query == {"part": ["id"], "mine": ["true"]}


def test_check_with_oauth_for_someone_elses_channel(sandbox: Sandbox) -> None:
    with pytest.raises(PermissionDenied, match=f"belongs to {OWN}, not {RIVAL}"):
        youtube.check(make_client("youtube"), ctx_for(sandbox, RIVAL))


def test_check_with_a_key(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    treat_the_sandbox_token_as_a_key(monkeypatch)
    detail = youtube.check(make_client("youtube"), ctx_for(sandbox, RIVAL, competitor=True))
    assert detail == f"API key valid; channel {RIVAL} found (public statistics only)"


def test_check_expired(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError, match="SOCIALKPI_YOUTUBE_TOKEN"):
        youtube.check(make_client("youtube"), ctx_for(sandbox, token=world.EXPIRED_TOKEN))


# -- issue 11: numbers, what a report says it is, the Analytics API as an optional second API ---------
# Shape: https://developers.google.com/youtube/v3/docs/channels/list ("viewCount, subscriberCount and videoCount are
# uint64 sent as JSON strings")
# and https://developers.google.com/youtube/analytics/reference/reports/query
# (columnHeaders [{"name": "day", "columnType": "DIMENSION", ...}, {"name": "views", "columnType":
# "METRIC", ...}]; "Metric values are JSON numbers; some clients show them as floats such as 18552.0").
@pytest.mark.parametrize("value", ["-5", "1e4", " 214", "２１４", True, -5])
def test_statistics_refuse_what_is_no_uint64(value: Any) -> None:
    payload = {"items": [{"id": "UCx", "statistics": {"subscriberCount": "12300", "videoCount": value}}]}
    with pytest.raises(PayloadError, match="videoCount is .*not a count"):
        youtube.parse_channels(payload, account_id="UCx", day=date(2025, 1, 1), collected_at=COLLECTED_AT)


@pytest.mark.parametrize("value", ["214", 214, 214.0])
def test_statistics_read_a_uint64_string_or_a_number(value: Any) -> None:
    payload = {"items": [{"id": "UCx", "statistics": {"subscriberCount": "12300", "videoCount": value}}]}
    got, _ = youtube.parse_channels(payload, account_id="UCx", day=date(2025, 1, 1), collected_at=COLLECTED_AT)
    assert {o.metric: o.value for o in got} == {"followers": 12300, "posts": 214}


@pytest.mark.parametrize("cell", [float("nan"), float("inf"), -1, 412.5, "412", None])
def test_report_cells_refuse_what_is_no_count(cell: Any) -> None:
    payload = fixture("youtube", "report.json")
    payload["rows"][0][1] = cell
    with pytest.raises(PayloadError, match="views on 2025-10-01 is .*not a count"):
        youtube.parse_report(
            payload, account_id="UCx", since=date(2025, 10, 1), until=date(2025, 10, 2), collected_at=COLLECTED_AT
        )


def test_a_report_with_another_dimension_than_day_is_refused() -> None:
    payload = fixture("youtube", "report.json")
    payload["columnHeaders"].insert(1, {"name": "country", "columnType": "DIMENSION", "dataType": "STRING"})
    payload["rows"] = [[row[0], "FR", *row[1:]] for row in payload["rows"]]
    with pytest.raises(PayloadError, match=r"columnHeaders \(DIMENSION\) \['day', 'country'\], but .* \['day'\]"):
        youtube.parse_report(
            payload, account_id="UCx", since=date(2025, 10, 1), until=date(2025, 10, 2), collected_at=COLLECTED_AT
        )


def test_a_report_with_other_metrics_or_days_than_asked_is_refused_when_collect_asks() -> None:
    kw: dict[str, Any] = {"account_id": "UCx", "since": date(2025, 10, 1), "until": date(2025, 10, 2)}
    asked = list(youtube.ANALYTICS)
    with pytest.raises(PayloadError, match=r"columnHeaders \(METRIC\) \['views', 'estimatedMinutesWatched'"):
        youtube.parse_report(fixture("youtube", "report.json"), **kw, collected_at=COLLECTED_AT, metrics=asked)
    payload = fixture("youtube", "report.json")
    del payload["columnHeaders"][2]
    payload["rows"] = [[*row[:2], *row[3:]] for row in payload["rows"]]
    assert youtube.parse_report(payload, **kw, collected_at=COLLECTED_AT, metrics=asked)  # as asked: read
    with pytest.raises(PayloadError, match="answered day '2025-10-02', but day '2025-10-01..2025-10-01' was asked"):
        youtube.parse_report(payload, **{**kw, "until": date(2025, 10, 1)}, collected_at=COLLECTED_AT, metrics=asked)


DISABLED = "YouTube Analytics API has not been used in project 123456 before or it is disabled."


def test_the_analytics_api_disabled_in_the_project_skips_its_metrics_and_keeps_the_statistics(
    sandbox: Sandbox,
) -> None:
    sandbox.script(REPORTS, part.google_error(403, DISABLED, "accessNotConfigured", status="PERMISSION_DENIED"))
    ctx = ctx_for(sandbox)
    out = collect(ctx)
    assert rows(out) == expected_stats(OWN, ctx.today)  # subscribers and videos are written
    assert [m for m, _ in out.skipped] == list(youtube.ANALYTICS)
    assert all(
        note.startswith(f"YouTube Analytics reports.query refused (permission): {DISABLED}") for _, note in out.skipped
    )
    assert "enable the YouTube Data API v3 and the YouTube Analytics API" in out.skipped[0][1]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (part.google_error(403, "Forbidden", "forbidden", status="PERMISSION_DENIED"), PermissionDenied),
        (Reply(503, "<html>unavailable</html>"), ServerError),
    ],
    ids=["scope-or-owner", "5xx"],
)
def test_other_analytics_refusals_still_fail_the_account(
    sandbox: Sandbox, reply: Reply, error: type[Exception]
) -> None:
    sandbox.script(REPORTS, *[reply] * 4)
    with pytest.raises(error):
        collect(ctx_for(sandbox))
