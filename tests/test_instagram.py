"""Instagram collector: parsers on doc-shaped payloads, the classifier, and collect()/check() against the sandbox."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from collectors import instagram as ig
from collectors.context import Collected
from collectors.errors import AuthError, BadRequest, PayloadError, PermissionDenied, ServerError
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import instagram as sb_ig
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import COLLECTED_AT, days, fixture, make_client, make_ctx

OWN = "17841405309211844"  # Corner Bakery's Instagram professional account
BRANCH = "17841405309211845"  # Croix-Rousse: its insights refuse profile_views
RIVAL = "rivalpatisserie"  # a competitor, by username
TODAY = date(2026, 3, 10)  # COLLECTED_AT (2026-03-10 06:30 UTC) read in Europe/Paris
LAST_PACIFIC = date(2026, 3, 8)  # at COLLECTED_AT it is 23:30 on 9 March in Los Angeles (PDT)
DAY = date(2026, 3, 2)
SOURCES = {"views": "impressions", "total_interactions": "engagements", "profile_links_taps": "link_clicks"}


def keyed(rows: list[Any]) -> dict[tuple[str, date], float]:
    out = {(o.metric, o.observed_on): o.value for o in rows}
    assert len(out) == len(rows), "two rows share one (metric, day) key"
    return out


def meta_error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, **extra, "fbtrace_id": "AbC"}}


def run(
    sandbox: Sandbox, account: str = OWN, since: date = DAY, until: date = DAY, client: Any = None, **ctx: Any
) -> Collected:
    with client or make_client("instagram", classify=ig.classify) as client:
        return ig.collect(client, make_ctx("instagram", account, sandbox.url, **ctx), since=since, until=until)


def expected(account: str, since: date, until: date, *, profile_views: bool = True) -> dict[tuple[str, date], float]:
    """What docs/metrics.md says the rows are, from the sandbox world's own numbers."""
    now = datetime.now(UTC).date()  # the sandbox serves the levels as of its today (UTC)
    rows: dict[tuple[str, date], float] = {
        ("followers", TODAY): sb_ig.followers_on(account, now),
        ("posts", TODAY): sb_ig.media_count_on(account, now),
    }
    sources = {**SOURCES, **({"profile_views": "profile_views"} if profile_views else {})}
    for day in days(since, min(until, LAST_PACIFIC)):
        for source, metric in sources.items():
            rows[(metric, day)] = sb_ig.value_for(account, source, day)  # a count: 0 when Instagram sends nothing
        if sb_ig.value_for(account, "reach", day):
            rows[("reach", day)] = sb_ig.value_for(account, "reach", day)  # a distinct count: never invented
    return rows


# -- parsers (fixtures shaped as the docs quoted in each test) -------------------------------------------


def test_parse_account_gives_todays_followers_and_posts() -> None:
    # Shape: https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/
    # Endpoints (follower count snapshot)
    rows = ig.parse_account(fixture("instagram", "account.json"), account_id=OWN, day=TODAY, collected_at=COLLECTED_AT)
    assert keyed(rows) == {("followers", TODAY): 1842, ("posts", TODAY): 412}
    assert {o.source_metric for o in rows} == {"followers_count", "media_count"}


def test_parse_insights_total_value_one_day() -> None:
    # Shape: https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/
    # Example responses (total_value form, with breakdowns)
    requested = list(ig.METRICS)
    rows = ig.parse_insights(
        fixture("instagram", "insights_total_value.json"),
        account_id=OWN,
        day=DAY,
        requested=requested,
        collected_at=COLLECTED_AT,
    )
    assert keyed(rows) == {
        ("reach", DAY): 224,  # the total, not the breakdown parts
        ("impressions", DAY): 612,
        ("engagements", DAY): 37,
        ("profile_views", DAY): 21,
        ("link_clicks", DAY): 0,  # asked, not answered: Instagram sends no zeros (an empty data array)
    }
    assert {o.metric: o.source_metric for o in rows}["link_clicks"] == "profile_links_taps"


@pytest.mark.parametrize(
    ("requested", "want"),
    [
        (["views", "reach", "profile_links_taps"], {("impressions", DAY): 0, ("link_clicks", DAY): 0}),
        (["reach"], {}),  # reach is distinct: nothing is invented
        ([], {}),
    ],
)
def test_parse_insights_empty_data_is_zero_for_counts_only(requested: list[str], want: dict[Any, int]) -> None:
    # Shape: https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/
    # Gotchas ("No data -> empty data array, not zeros")
    rows = ig.parse_insights(
        fixture("instagram", "insights_empty.json"),
        account_id=OWN,
        day=DAY,
        requested=requested,
        collected_at=COLLECTED_AT,
    )
    assert keyed(rows) == want


@pytest.mark.parametrize(("day", "value"), [(date(2026, 3, 1), 41), (date(2026, 3, 2), 57), (date(2026, 3, 3), None)])
def test_parse_insights_time_series_takes_the_asked_pacific_day(day: date, value: int | None) -> None:
    # Shape: https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/
    # Example responses (time_series form; end_time = next Pacific midnight)
    rows = ig.parse_insights(
        fixture("instagram", "insights_time_series.json"),
        account_id=OWN,
        day=day,
        requested=["reach"],
        collected_at=COLLECTED_AT,
    )
    assert keyed(rows) == ({("reach", day): value} if value is not None else {})


def test_parse_business_discovery() -> None:
    # Shape: https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/business_discovery
    # Competitor: Business Discovery
    rows = ig.parse_business_discovery(
        fixture("instagram", "business_discovery.json"), account_id=RIVAL, day=TODAY, collected_at=COLLECTED_AT
    )
    assert keyed(rows) == {("followers", TODAY): 267793, ("posts", TODAY): 1205}
    assert {o.account_id for o in rows} == {RIVAL}


def test_parse_debug_token() -> None:
    # Shape: https://developers.facebook.com/docs/facebook-login/guides/access-tokens/debugging (debug_token
    # returns expires_at, scopes)
    info = ig.parse_debug_token(fixture("instagram", "debug_token.json"))
    assert info["valid"] is True
    assert info["expires_at"] == datetime(2026, 5, 1, tzinfo=UTC)
    assert "instagram_manage_insights" not in info["scopes"]


@pytest.mark.parametrize(
    ("parser", "payload"),
    [
        ("insights", []),
        ("insights", {"error": "x"}),
        ("insights", {"data": [{"name": "views", "total_value": {"value": "612"}}]}),
        ("insights", {"data": [{"name": "views", "period": "day"}]}),
        ("insights", {"data": [{"total_value": {"value": 3}}]}),
        ("insights", {"data": [{"name": "reach", "values": [{"value": 4}]}]}),
        ("account", ["x"]),
        ("account", {"followers_count": "1842"}),
        ("account", {"media_count": True}),
        ("discovery", {"id": OWN}),
        ("discovery", {"business_discovery": {"followers_count": 1.5e3, "media_count": "12"}}),
    ],
)
def test_parsers_reject_wrong_shapes(parser: str, payload: Any) -> None:
    with pytest.raises(PayloadError):
        if parser == "insights":
            ig.parse_insights(payload, account_id=OWN, day=DAY, requested=["views"], collected_at=COLLECTED_AT)
        elif parser == "account":
            ig.parse_account(payload, account_id=OWN, day=TODAY, collected_at=COLLECTED_AT)
        else:
            ig.parse_business_discovery(payload, account_id=RIVAL, day=TODAY, collected_at=COLLECTED_AT)


@pytest.mark.parametrize(
    "name", ["account.json", "insights_total_value.json", "insights_time_series.json", "business_discovery.json"]
)
def test_parsers_never_mutate_input(name: str) -> None:
    payload = fixture("instagram", name)
    before = copy.deepcopy(payload)
    ig.parse_account(payload, account_id=OWN, day=TODAY, collected_at=COLLECTED_AT)
    if "data" in payload:
        ig.parse_insights(payload, account_id=OWN, day=DAY, requested=list(ig.METRICS), collected_at=COLLECTED_AT)
    if "business_discovery" in payload:
        ig.parse_business_discovery(payload, account_id=RIVAL, day=TODAY, collected_at=COLLECTED_AT)
    assert payload == before


def test_only_current_metrics_are_asked() -> None:
    assert not set(ig.METRICS) & ig.REMOVED
    assert "impressions" not in ig.METRICS and "website_clicks" not in ig.METRICS
    assert set(ig.METRICS.values()) == {"impressions", "reach", "engagements", "link_clicks", "profile_views"}


@pytest.mark.parametrize(
    ("day", "start", "hours"),
    [
        (date(2026, 3, 2), "2026-03-02T08:00:00+00:00", 24),  # PST
        (date(2026, 3, 8), "2026-03-08T08:00:00+00:00", 23),  # spring forward
        (date(2026, 7, 1), "2026-07-01T07:00:00+00:00", 24),  # PDT
        (date(2026, 11, 1), "2026-11-01T07:00:00+00:00", 25),  # fall back
    ],
)
def test_pacific_bounds(day: date, start: str, hours: int) -> None:
    since, until = ig.pacific_bounds(day)
    assert datetime.fromtimestamp(since, UTC).isoformat() == start
    assert until - since == hours * 3600


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (COLLECTED_AT, date(2026, 3, 8)),
        (datetime(2026, 3, 10, 7, 0, tzinfo=UTC), date(2026, 3, 9)),  # midnight PDT: the 9th has ended
        (datetime(2026, 1, 10, 7, 59, tzinfo=UTC), date(2026, 1, 8)),  # 23:59 PST on the 9th
    ],
)
def test_last_complete_pacific_day(moment: datetime, day: date) -> None:
    assert ig.last_complete_pacific_day(moment) == day


# -- classification (Meta's envelope: https://developers.facebook.com/docs/graph-api/guides/error-handling) --

BUC = "X-Business-Use-Case-Usage"


def buc(minutes: int) -> dict[str, str]:
    entry = {"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": minutes}
    return {BUC: json.dumps({OWN: [entry]})}


NOT_FOUND = {"error_subcode": 2207013, "error_user_msg": "The user with username: x cannot be found."}
CLASSIFY_CASES = [
    (400, fixture("instagram", "error_expired.json"), {}, "auth", "token_expired", None),
    (400, meta_error(190, "Invalid OAuth access token"), {}, "auth", "token_invalid", None),
    (400, meta_error(104, "An access token is required to request this resource."), {}, "auth", "token_invalid", None),
    (403, meta_error(10, "(#10) Application does not have permission"), {}, "permission", "permission", None),
    (400, meta_error(200, "(#200) Requires instagram_manage_insights"), {}, "permission", "permission", None),
    (400, fixture("instagram", "error_impressions.json"), {}, "bad_request", "invalid_metric", None),
    (400, meta_error(100, "(#100) metric[0] must be one of the following values: reach"), {}, "bad_request",
     "invalid_metric", None),
    (400, meta_error(100, "Unsupported get request.", error_subcode=33), {}, "bad_request", "unknown_object", None),
    (400, meta_error(110, "Invalid user id", **NOT_FOUND), {}, "bad_request", "unknown_user", None),
    (400, meta_error(80002, "Too many calls to this Instagram account."), buc(7), "throttled", "throttled", 420.0),
    (400, meta_error(80002, "Too many calls to this Instagram account."), buc(0), "throttled", "throttled", None),
    (403, meta_error(4, "(#4) Application request limit reached"), {"X-App-Usage": '{"call_count":100}'},
     "throttled", "throttled", None),
    (400, meta_error(613, "Calls exceeded the rate limit."), {"Retry-After": "9"}, "throttled", "throttled", 9.0),
    (500, meta_error(2, "An unexpected error has occurred.", is_transient=True), {}, "server", "", None),
    (400, meta_error(1, "An unknown error has occurred."), {}, "server", "", None),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "headers", "kind", "code", "wait"), CLASSIFY_CASES)
def test_classify_reads_the_envelope(
    status: int, body: Any, headers: dict[str, str], kind: str, code: str, wait: float | None
) -> None:
    verdict = ig.classify(status, headers, body)
    assert verdict is not None
    assert (verdict.kind, verdict.code, verdict.retry_after) == (kind, code, wait)


@pytest.mark.parametrize("body", [None, {"data": []}, "<html>Bad Gateway</html>", {"error": "plain"}])
def test_classify_without_envelope_falls_back_to_the_status(body: Any) -> None:
    assert ig.classify(502, {}, body) is None


# -- the sandbox answers as the docs say ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric": "impressions", "metric_type": "total_value"}, "impressions metric is no longer supported"),
        ({"metric": "views,website_clicks", "metric_type": "total_value"}, r"metric\[1\] must be one of"),
        ({"metric": "views,reach"}, "should be specified with parameter metric_type=total_value"),
    ],
)
def test_sandbox_refuses_retired_metrics_and_wrong_metric_types(
    sandbox: Sandbox, params: dict[str, str], message: str
) -> None:
    with make_client("instagram", classify=ig.classify) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {TOKEN}"}
        with pytest.raises(BadRequest, match=message) as info:
            client.get_json(f"{sandbox.url}/v26.0/{OWN}/insights", params={**params, "period": "day"})
    assert info.value.code == "invalid_metric"


def test_sandbox_total_value_spans_the_whole_range(sandbox: Sandbox) -> None:
    since, _ = ig.pacific_bounds(date(2026, 3, 1))
    _, until = ig.pacific_bounds(date(2026, 3, 2))
    with make_client("instagram", classify=ig.classify) as client:
        client.auth_headers = lambda: {"Authorization": f"Bearer {TOKEN}"}
        body = client.get_json(
            f"{sandbox.url}/v26.0/{OWN}/insights",
            params={
                "metric": "views,reach",
                "period": "day",
                "metric_type": "total_value",
                "since": since,
                "until": until,
            },
        )
    got = {e["name"]: e["total_value"]["value"] for e in body["data"]}
    two = [date(2026, 3, 1), date(2026, 3, 2)]
    assert got["views"] == sum(sb_ig.value_for(OWN, "views", d) for d in two)
    assert got["reach"] < sum(sb_ig.value_for(OWN, "reach", d) for d in two)  # distinct, not summed
    assert f"access_token={TOKEN}" in body["paging"]["next"]  # as Meta's paging links do


# -- collect() against the sandbox ------------------------------------------------------------------------


def test_collect_gives_the_rows_metrics_md_describes(sandbox: Sandbox) -> None:
    since, until = date(2026, 2, 28), date(2026, 3, 9)  # crosses the no-data day (3 March) and DST (8 March)
    out = run(sandbox, since=since, until=until, client=(client := make_client("instagram")))
    assert keyed(out.observations) == expected(OWN, since, until)
    assert not out.skipped
    assert ("reach", date(2026, 3, 3)) not in keyed(out.observations)
    assert keyed(out.observations)[("impressions", date(2026, 3, 3))] == 0
    assert {o.source_metric for o in out.observations} == {
        "followers_count", "media_count", "views", "reach", "total_interactions", "profile_links_taps", "profile_views",
    }  # fmt: skip
    assert all(o.platform == "instagram" and o.account_id == OWN for o in out.observations)
    assert all(o.collected_at == COLLECTED_AT for o in out.observations)
    assert client.requests_made == 1 + len(days(since, LAST_PACIFIC))


def test_collect_asks_one_pacific_day_at_a_time_with_total_value(sandbox: Sandbox) -> None:
    run(sandbox, since=date(2026, 3, 7), until=date(2026, 3, 9))
    asked = sandbox.requests_to(r"/insights$")
    assert [(int(r.arg("since") or 0), int(r.arg("until") or 0)) for r in asked] == [
        ig.pacific_bounds(date(2026, 3, 7)),
        ig.pacific_bounds(date(2026, 3, 8)),  # 23 hours: the spring-forward day
    ]  # 9 March has not ended in Los Angeles at COLLECTED_AT: not asked
    for r in asked:
        assert r.arg("metric_type") == "total_value" and r.arg("period") == "day"
        assert set((r.arg("metric") or "").split(",")) == set(ig.METRICS)


def test_retired_metrics_are_never_asked(sandbox: Sandbox) -> None:
    run(sandbox, since=date(2026, 3, 1), until=date(2026, 3, 3))
    for request in sandbox.requests:
        asked = set((request.arg("metric") or "").split(",")) | set((request.arg("fields") or "").split(","))
        assert not asked & {"impressions", "website_clicks"}


def test_a_refused_profile_views_is_skipped_quietly(sandbox: Sandbox) -> None:
    out = run(sandbox, account=BRANCH, since=date(2026, 3, 1), until=date(2026, 3, 4))
    assert keyed(out.observations) == expected(BRANCH, date(2026, 3, 1), date(2026, 3, 4), profile_views=False)
    assert [m for m, _ in out.skipped] == ["profile_views"]  # recorded once, not per day
    assert "must be one of" in out.skipped[0][1]
    asked = [r.arg("metric") for r in sandbox.requests_to(r"/insights$")]
    # day 1: the group, then each metric alone; later days without profile_views
    assert asked[:6] == [",".join(ig.METRICS), *ig.METRICS]
    assert all("profile_views" not in (m or "") for m in asked[6:]) and len(asked) == 6 + 3


def test_a_metric_retired_later_is_skipped_and_the_others_land(sandbox: Sandbox) -> None:
    retired = meta_error(100, "(#100) metric[3] must be one of the following values: views, reach, total_interactions")
    sandbox.script(r"/insights$", Reply(400, retired), *[Reply(200, {"data": []})] * 3, Reply(400, retired))
    out = run(sandbox, since=DAY, until=DAY)
    assert [m for m, _ in out.skipped] == ["profile_links_taps"]
    assert ("link_clicks", DAY) not in keyed(out.observations)
    assert ("profile_views", DAY) in keyed(out.observations)


def test_a_missing_permission_is_not_mistaken_for_a_refused_metric(sandbox: Sandbox) -> None:
    denied = Reply(400, meta_error(10, "(#10) Application does not have permission for this action"))
    sandbox.script(r"/insights$", denied, denied)
    with pytest.raises(PermissionDenied, match="instagram_manage_insights"):
        run(sandbox)


@pytest.mark.parametrize(
    ("token", "what"), [(EXPIRED_TOKEN, "Session has expired"), ("wrong-token-123", "Cannot parse")]
)
def test_a_dead_token_says_what_to_do_and_never_shows_the_token(sandbox: Sandbox, token: str, what: str) -> None:
    with pytest.raises(AuthError) as info:
        run(sandbox, token=token)
    message = str(info.value)
    assert what in message and "SOCIALKPI_INSTAGRAM_TOKEN" in message and "Page access token" in message
    assert token not in message


def test_the_token_travels_in_a_header_never_in_a_url(sandbox: Sandbox) -> None:
    run(sandbox)
    for request in sandbox.requests:
        assert request.header("Authorization") == f"Bearer {TOKEN}"
        assert "access_token" not in request.query


THROTTLED = meta_error(80002, "There have been too many calls to this Instagram account. Wait a bit and try again.")


@pytest.mark.parametrize("path", [rf"/{OWN}$", r"/insights$"])
def test_buc_throttling_is_retried_then_ok(sandbox: Sandbox, path: str) -> None:
    sandbox.script(path, Reply(400, THROTTLED, buc(0)), Reply(400, THROTTLED, buc(0)))
    out = run(sandbox)
    assert keyed(out.observations) == expected(OWN, DAY, DAY)


@pytest.mark.parametrize(
    "fault",
    [
        # a 503 and a dropped connection: tests/test_platforms.py (transient faults, every platform)
        Reply(
            500, meta_error(2, "An unexpected error has occurred. Please retry your request later.", is_transient=True)
        ),
    ],
)
def test_transient_faults_are_retried(sandbox: Sandbox, fault: Reply) -> None:
    sandbox.script(r"/insights$", fault)
    assert keyed(run(sandbox).observations) == expected(OWN, DAY, DAY)


def test_a_lasting_server_error_fails_with_a_clear_message(sandbox: Sandbox) -> None:
    sandbox.script(
        r"/insights$", *[Reply(500, meta_error(2, "Service temporarily unavailable", is_transient=True))] * 4
    )
    with pytest.raises(ServerError, match="Service temporarily unavailable") as info:
        run(sandbox)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("path", "reply"),
    [
        # truncated JSON: tests/test_platforms.py::test_a_malformed_answer_fails_the_account_as_a_payload_error
        (r"/insights$", Reply(200, {"data": {"views": 3}})),
        (rf"/{OWN}$", Reply.raw("<html>oops</html>")),
    ],
)
def test_malformed_answers_are_a_payload_error(sandbox: Sandbox, path: str, reply: Reply) -> None:
    sandbox.script(path, reply)
    with pytest.raises(PayloadError):
        run(sandbox)


def test_an_own_account_id_must_be_numeric(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="competitor = true"):
        run(sandbox, account="cornerbakerylyon")
    assert sandbox.requests == []


def test_an_unknown_account_id_is_a_clear_error(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="does not exist") as info:
        run(sandbox, account="17841400000000000")
    assert info.value.code == "unknown_object"


# -- competitors: business discovery ---------------------------------------------------------------------


def test_a_competitor_gives_followers_and_posts_through_business_discovery(sandbox: Sandbox) -> None:
    out = run(sandbox, account=RIVAL, competitor=True, since=date(2026, 3, 1), until=date(2026, 3, 8))
    now = datetime.now(UTC).date()
    assert keyed(out.observations) == {
        ("followers", TODAY): sb_ig.followers_on(RIVAL, now),
        ("posts", TODAY): sb_ig.media_count_on(RIVAL, now),
    }
    assert sandbox.requests_to(r"/insights$") == []  # no insights for someone else's account
    me, discovery = sandbox.requests
    assert me.path == "/v26.0/me" and me.arg("fields") == "instagram_business_account"
    assert discovery.path == f"/v26.0/{OWN}"
    assert discovery.arg("fields") == f"business_discovery.username({RIVAL}){{username,followers_count,media_count}}"


def test_a_competitor_through_a_user_token_finds_the_page_in_me_accounts(sandbox: Sandbox) -> None:
    sandbox.script(
        r"/me$",
        Reply(
            400,
            meta_error(
                100, "(#100) Tried accessing nonexisting field (instagram_business_account) on node type (User)"
            ),
        ),
    )
    out = run(sandbox, account="@" + RIVAL, competitor=True)
    assert {o.metric for o in out.observations} == {"followers", "posts"}
    assert [r.path for r in sandbox.requests] == ["/v26.0/me", "/v26.0/me/accounts", f"/v26.0/{OWN}"]


def test_an_unknown_competitor_username_is_a_clear_error(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="no_such_bakery cannot be found") as info:
        run(sandbox, account="no_such_bakery", competitor=True)
    assert info.value.code == "unknown_user"


@pytest.mark.parametrize("username", ["rival patisserie", "x){id}", "a" * 31, ""])
def test_a_competitor_id_that_is_no_username_is_refused_before_any_request(sandbox: Sandbox, username: str) -> None:
    with pytest.raises(BadRequest, match="not an Instagram username"):
        run(sandbox, account=username, competitor=True)
    assert sandbox.requests == []


# -- check() for socialkpi doctor ------------------------------------------------------------------------


def check(sandbox: Sandbox, account: str = OWN, **ctx: Any) -> str:
    with make_client("instagram", classify=ig.classify) as client:
        return ig.check(client, make_ctx("instagram", account, sandbox.url, **ctx))


def test_check_an_own_account(sandbox: Sandbox) -> None:
    assert check(sandbox) == "token valid for @cornerbakerylyon, does not expire"
    assert [r.path for r in sandbox.requests] == [f"/v26.0/{OWN}", "/v26.0/debug_token"]


def test_check_a_competitor(sandbox: Sandbox) -> None:
    followers = sb_ig.followers_on(RIVAL, datetime.now(UTC).date())
    assert check(sandbox, RIVAL, competitor=True) == (
        f"business discovery of @{RIVAL} works ({followers} followers), does not expire"
    )


def test_check_reports_a_user_tokens_expiry(sandbox: Sandbox) -> None:
    info = fixture("instagram", "debug_token.json")
    info["data"]["scopes"] = list(ig.REQUIRED_SCOPES)
    sandbox.script(r"/debug_token$", Reply(200, info))
    assert check(sandbox) == "token valid for @cornerbakerylyon, expires 2026-05-01"


def test_check_names_a_missing_scope(sandbox: Sandbox) -> None:
    sandbox.script(r"/debug_token$", Reply(200, fixture("instagram", "debug_token.json")))
    with pytest.raises(PermissionDenied, match="lacks instagram_manage_insights"):
        check(sandbox)


def test_check_survives_a_token_that_cannot_inspect_itself(sandbox: Sandbox) -> None:
    sandbox.script(r"/debug_token$", Reply(400, meta_error(100, "(#100) You must provide an app access token")))
    assert check(sandbox) == "token valid for @cornerbakerylyon"


def test_check_an_expired_token(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError, match="SOCIALKPI_INSTAGRAM_TOKEN") as info:
        check(sandbox, token=EXPIRED_TOKEN)
    assert EXPIRED_TOKEN not in str(info.value)


# -- issue 11: counts, and the period an insights entry declares -------------------------------------
# Shape: https://developers.facebook.com/documentation/instagram-platform/api-reference/instagram-user/insights/ Example
# responses ("total_value form": data[{"name": "reach", "period":
# "day", "total_value": {"value": 224, ...}, "id": ".../insights/reach/day"}]).
@pytest.mark.parametrize("period", ["week", "days_28", "lifetime"])
def test_an_entry_of_another_period_is_refused(period: str) -> None:
    payload = fixture("instagram", "insights_total_value.json")
    payload["data"][1]["period"] = period
    with pytest.raises(PayloadError, match=f"insights views answered period '{period}', but period 'day' was asked"):
        ig.parse_insights(payload, account_id=OWN, day=DAY, requested=list(ig.METRICS), collected_at=COLLECTED_AT)


@pytest.mark.parametrize("value", [-1, 612.5, float("nan"), "612"])
def test_a_value_that_is_no_count_is_refused(value: Any) -> None:
    payload = fixture("instagram", "insights_total_value.json")
    payload["data"][1]["total_value"]["value"] = value
    with pytest.raises(PayloadError, match=f"views on {DAY} is .*not a count"):
        ig.parse_insights(payload, account_id=OWN, day=DAY, requested=list(ig.METRICS), collected_at=COLLECTED_AT)


def test_levels_must_be_counts() -> None:
    rows = ig.parse_account(
        {"followers_count": 1520.0, "media_count": 88}, account_id=OWN, day=DAY, collected_at=COLLECTED_AT
    )
    assert [(o.metric, o.value) for o in rows] == [("followers", 1520), ("posts", 88)]
    with pytest.raises(PayloadError, match="media_count is -1, not a count"):
        ig.parse_account({"followers_count": 1, "media_count": -1}, account_id=OWN, day=DAY, collected_at=COLLECTED_AT)


def test_the_sandbox_answering_a_28_day_window_fails_the_account(sandbox: Sandbox) -> None:
    payload = fixture("instagram", "insights_total_value.json")
    for entry in payload["data"]:
        entry["period"] = "days_28"
    sandbox.script(r"/insights$", Reply(200, payload))
    with pytest.raises(PayloadError, match="answered period 'days_28'"):
        run(sandbox)
