"""Umami: parsers on doc-shaped payloads, the classifier, and collect()/check() against the sandbox,
self-hosted (Bearer, login) and Umami Cloud (x-umami-api-key)."""

from __future__ import annotations

import copy
import os
import stat
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from collectors import umami
from collectors.context import CollectContext
from collectors.errors import AuthError, BadRequest, PayloadError, RateLimited, ServerError
from collectors.http import Client
from collectors.observation import Observation
from collectors.redaction import redact
from collectors.tokens import StoredToken, TokenStore
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import umami as sb
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN
from tests.conftest import COLLECTED_AT, FAST, by_key, days, fixture, make_client, make_ctx

SITE = "6f1c2b7e-3d4a-4e5b-9c8d-1a2b3c4d5e6f"
STATS = r"/websites/[^/]+/stats$"
METRICS = r"/websites/[^/]+/metrics$"
LOGIN = r"^/api/auth/login$"
DAY = date(2025, 10, 1)
TODAY = date(2026, 3, 10)  # COLLECTED_AT in Europe/Paris
FEB15, FEB17 = date(2026, 2, 15), date(2026, 2, 17)
USER, PASSWORD = next(iter(sb.USERS.items()))
# Referrer domains as Umami stores them -> network (by hand; the collector uses collectors.referrers)
NETWORK_OF = {
    "l.facebook.com": "facebook",
    "lm.facebook.com": "facebook",
    "l.instagram.com": "instagram",
    "t.co": "x",
    "lnkd.in": "linkedin",
    "com.linkedin.android": "linkedin",
    "out.reddit.com": "other",
    "pinterest.com": "pinterest",
    "bsky.app": "bluesky",
    "mastodon.social": "mastodon",
}


ONE = {"account_id": SITE, "day": DAY, "today": TODAY, "collected_at": COLLECTED_AT}


# -- parsers -----------------------------------------------------------------------------------
# Shape: https://umami.is/docs/api/website-stats "Endpoints": /stats flat numbers + comparison (current), or
# {"value", "prev"} objects (older v2 servers); /metrics?type=referrer [{"x", "y"}].


@pytest.mark.parametrize("name", ["stats_v3.json", "stats_v2.json"])
def test_parse_stats_reads_both_shapes(name: str) -> None:
    rows = umami.parse_stats(fixture("umami", name), **ONE)
    assert by_key(rows) == {("page_views", DAY): 15420, ("visits", DAY): 4010, ("visitors", DAY): 3120}
    assert {o.metric: o.source_metric for o in rows} == {
        "page_views": "pageviews",
        "visits": "visits",
        "visitors": "visitors",
    }


def test_parse_stats_empty_day_is_zero_when_over_and_absent_while_running() -> None:
    payload = fixture("umami", "stats_empty_day.json")
    assert {o.value for o in umami.parse_stats(payload, **ONE)} == {0}
    assert umami.parse_stats(payload, **{**ONE, "today": DAY}) == []
    assert len(umami.parse_stats(fixture("umami", "stats_v3.json"), **{**ONE, "today": DAY})) == 3  # data: kept


def test_parse_referrers_maps_real_referrer_domains() -> None:
    per = umami.parse_referrers(fixture("umami", "metrics_referrer.json"), **ONE)
    assert per == {"facebook": 58 + 21 + 9, "instagram": 30, "x": 7, "linkedin": 4 + 2, "other": 3}


def test_parse_referrers_empty_list() -> None:
    assert umami.parse_referrers([], **ONE) == {}
    assert umami.parse_referrers([], **{**ONE, "today": DAY}) is None  # a running day without data


def test_social_rows_fill_seen_networks_with_zeros() -> None:
    d2 = DAY + timedelta(days=1)
    rows = umami.social_rows({DAY: {"facebook": 5, "x": 1}, d2: {}}, account_id=SITE, collected_at=COLLECTED_AT)
    assert by_key(rows) == {
        ("social_visits", DAY): 6,
        ("visits_from_facebook", DAY): 5,
        ("visits_from_x", DAY): 1,
        ("social_visits", d2): 0,
        ("visits_from_facebook", d2): 0,
        ("visits_from_x", d2): 0,
    }


@pytest.mark.parametrize("name", ["stats_v3.json", "stats_v2.json", "metrics_referrer.json"])
def test_parsers_do_not_mutate_their_input(name: str) -> None:
    payload = fixture("umami", name)
    before = copy.deepcopy(payload)
    (umami.parse_referrers if name.startswith("metrics") else umami.parse_stats)(payload, **ONE)
    assert payload == before


@pytest.mark.parametrize(
    ("parser", "payload"),
    [
        ("stats", []),
        ("stats", {"pageviews": "15420", "visitors": 1, "visits": 1}),
        ("stats", {"pageviews": 1, "visitors": 1}),
        ("stats", {"pageviews": {"prev": 3}, "visitors": 1, "visits": 1}),
        ("referrers", {"x": "t.co", "y": 1}),
        ("referrers", [{"x": "t.co"}]),
        ("referrers", [{"y": 3}]),
        ("referrers", [["t.co", 3]]),
    ],
)
def test_parsers_reject_a_wrong_shape(parser: str, payload: Any) -> None:
    with pytest.raises(PayloadError):
        (umami.parse_stats if parser == "stats" else umami.parse_referrers)(payload, **ONE)


# -- classifier --------------------------------------------------------------------------------
# Shape: https://umami.is/docs/api/website-stats "Errors" ({"error": {"message", "code", "status"}}; older: plain text).
def err(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "code": code, "status": status}}


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "retry_after", "says"),
    [
        (401, {}, err(401, "unauthorized", "Unauthorized"), "auth", None, "SOCIALKPI_UMAMI_CLIENT_ID"),
        (401, {}, "Unauthorized", "auth", None, "SOCIALKPI_UMAMI_TOKEN"),
        (403, {}, err(403, "forbidden", "Forbidden"), "permission", None, "view access"),
        (429, {}, err(429, "too-many-requests", "Too many requests"), "throttled", 15.0, "Too many"),
        (429, {"Retry-After": "3"}, err(429, "too-many-requests", "Too many requests"), "throttled", 3.0, "Too many"),
        (404, {}, err(404, "not-found", "Not found"), "bad_request", None, "website with this id"),
        (400, {}, err(400, "bad-request", "Invalid request"), "bad_request", None, "Invalid request"),
        (500, {}, err(500, "server-error", "Internal Server Error"), "server", None, "Internal"),
    ],
)
def test_classify_reads_umamis_error_envelope(
    status: int, headers: dict[str, str], body: Any, kind: str, retry_after: float | None, says: str
) -> None:
    verdict = umami.classify(status, headers, body)
    assert verdict is not None
    assert (verdict.kind, verdict.retry_after) == (kind, retry_after)
    assert says in verdict.message


@pytest.mark.parametrize(
    ("base_url", "root", "cloud"),
    [
        (None, "https://api.umami.is/v1", True),
        ("https://api.umami.is", "https://api.umami.is/v1", True),
        ("https://api.umami.is/v1/", "https://api.umami.is/v1", True),
        ("https://umami.example.com", "https://umami.example.com/api", False),
        ("https://example.com/umami/api", "https://example.com/umami/api", False),
        ("http://127.0.0.1:3000/v1", "http://127.0.0.1:3000/v1", True),
    ],
)
def test_the_base_url_picks_self_hosted_or_cloud(base_url: str | None, root: str, cloud: bool) -> None:
    assert umami.api_root(base_url) == (root, cloud)


# -- collect() against the sandbox -------------------------------------------------------------
def expected(site: str, since: date, until: date) -> dict[tuple[str, date], float]:
    out: dict[tuple[str, date], float] = {}
    networks: dict[tuple[str, date], int] = {}
    for day in days(since, until):
        out[("page_views", day)] = sb.pageviews_for(site, day)
        out[("visits", day)] = sb.visits_for(site, day)
        out[("visitors", day)] = sb.visitors_for(site, day)
        social = {r: y for r, y in sb.referrers_for(site, day).items() if r in NETWORK_OF}
        out[("social_visits", day)] = sum(social.values())
        for ref, y in social.items():
            key = (f"visits_from_{NETWORK_OF[ref]}", day)
            networks[key] = networks.get(key, 0) + y
    seen = {m for (m, _), v in networks.items() if v}
    out.update({(m, d): networks.get((m, d), 0) for m in seen for d in days(since, until)})
    return out


def context(
    sandbox: Sandbox, *, base_url: str | None = "", store: TokenStore | None = None, **kw: Any
) -> CollectContext:
    ctx = make_ctx("umami", kw.pop("site", SITE), sandbox.url if base_url == "" else base_url, **kw)
    return replace(ctx, token_store=store)


def run(sandbox: Sandbox, since: date, until: date, client: Client | None = None, **kw: Any) -> list[Observation]:
    client = client or make_client("umami", umami.classify)
    with client:
        return umami.collect(client, context(sandbox, **kw), since=since, until=until).observations


def test_self_hosted_collect_writes_exactly_the_rows_metrics_md_gives(sandbox: Sandbox) -> None:
    got = by_key(run(sandbox, FEB15, FEB17))
    assert got == expected(SITE, FEB15, FEB17)
    for day in days(FEB15, FEB17):
        assert 0 < got[("visitors", day)] <= got[("visits", day)] < got[("page_views", day)]
        assert 0 < got[("social_visits", day)] < got[("visitors", day)]
    assert "social_page_views" not in {m for m, _ in got}  # Umami gives no page views per referrer
    calls = sandbox.requests_to(r"/websites/")
    assert [c.path for c in calls] == [f"/api/websites/{SITE}/{p}" for _ in range(3) for p in ("stats", "metrics")]
    assert all(c.bearer() == TOKEN and c.header("x-umami-api-key") is None for c in calls)
    paris = ZoneInfo("Europe/Paris")
    first = calls[0].query
    assert first["timezone"] == ["Europe/Paris"]
    assert int(first["startAt"][0]) == int(datetime(2026, 2, 15, tzinfo=paris).timestamp() * 1000)
    assert int(first["endAt"][0]) == int(datetime(2026, 2, 16, tzinfo=paris).timestamp() * 1000) - 1
    assert calls[1].query["type"] == ["referrer"]


def test_cloud_collect_sends_the_api_key_header(sandbox: Sandbox) -> None:
    got = by_key(run(sandbox, FEB15, FEB15, base_url=f"{sandbox.url}/v1"))
    assert got == expected(SITE, FEB15, FEB15)
    calls = sandbox.requests_to(r"/websites/")
    assert {c.path.split("/")[1] for c in calls} == {"v1"}
    assert all(c.header("x-umami-api-key") == TOKEN and c.header("Authorization") is None for c in calls)


def test_a_dst_day_is_asked_with_its_23_hours(sandbox: Sandbox) -> None:
    dst = date(2026, 3, 29)  # Europe/Paris springs forward
    got = by_key(run(sandbox, dst, dst, collected_at=datetime(2026, 4, 2, tzinfo=UTC)))
    assert got[("visits", dst)] == sb.visits_for(SITE, dst)
    q = sandbox.requests_to(STATS)[0].query
    assert int(q["endAt"][0]) + 1 - int(q["startAt"][0]) == 23 * 3600 * 1000


def test_days_before_the_website_existed_are_zero_and_today_is_left_out(sandbox: Sandbox) -> None:
    got = by_key(run(sandbox, sb.SITE_START - timedelta(days=1), sb.SITE_START))
    assert got[("visits", sb.SITE_START - timedelta(days=1))] == 0 < got[("visits", sb.SITE_START)]
    today = datetime.now(UTC).date()
    now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    rows = run(sandbox, today - timedelta(days=1), today, collected_at=now, tz="UTC")
    assert {o.observed_on for o in rows} == {today - timedelta(days=1)}


# -- errors ------------------------------------------------------------------------------------
def test_a_website_the_user_cannot_view(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError, match="cannot view the website"):
        run(sandbox, FEB15, FEB17, site=next(iter(sb.FOREIGN_WEBSITES)))


@pytest.mark.parametrize(
    ("kw", "error", "says"),
    [
        ({"token": None}, AuthError, "SOCIALKPI_UMAMI_CLIENT_ID and SOCIALKPI_UMAMI_CLIENT_SECRET"),
        ({"token": None, "base_url": None}, AuthError, "Umami Cloud API key"),
        ({"site": "cornerbakery.fr"}, BadRequest, "website's UUID"),
    ],
)
def test_missing_settings_fail_before_any_request(
    sandbox: Sandbox, kw: dict[str, Any], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        run(sandbox, FEB15, FEB17, **kw)
    assert sandbox.requests == []


def test_cloud_throttle_waits_out_the_15_second_window(sandbox: Sandbox) -> None:
    slept: list[float] = []
    client = Client("umami", policy=replace(FAST, max_retry_after=60), classify=umami.classify, sleep=slept.append)
    sandbox.script(STATS, sb.throttled())
    assert by_key(run(sandbox, FEB15, FEB15, client=client, base_url=f"{sandbox.url}/v1")) == expected(
        SITE, FEB15, FEB15
    )
    assert slept == [15.0]


def test_the_sandbox_throttles_a_cloud_key_past_50_calls(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb, "CLOUD_LIMIT", 3)
    slept: list[float] = []
    client = Client("umami", policy=replace(FAST, max_retry_after=60), classify=umami.classify, sleep=slept.append)
    with pytest.raises(RateLimited, match="Too many requests"):  # the window does not pass in fake sleeps
        run(sandbox, FEB15, FEB17, client=client, base_url=f"{sandbox.url}/v1")
    assert slept == [15.0] * (FAST.attempts - 1) and len(sandbox.requests_to(r"/websites/")) == 3 + FAST.attempts


@pytest.mark.parametrize(
    ("replies", "error", "says"),
    [
        ([Reply(500, err(500, "server-error", "Internal Server Error"))], None, None),
        # a dropped connection, truncated JSON: tests/test_platforms.py (every platform)
        ([Reply(503, err(503, "server-error", "Service Unavailable"))] * 4, ServerError, "Service Unavailable"),
        ([Reply(404, err(404, "not-found", "Not found"))], BadRequest, "check the id"),
    ],
    ids=["500-retried", "503-exhausted", "not-found"],
)
def test_server_faults(sandbox: Sandbox, replies: list[Reply], error: type[Exception] | None, says: str | None) -> None:
    sandbox.script(STATS, *replies)
    if error is None:
        assert by_key(run(sandbox, FEB15, FEB17)) == expected(SITE, FEB15, FEB17)
        return
    with pytest.raises(error) as caught:
        run(sandbox, FEB15, FEB17)
    assert says is not None and says in str(caught.value) and TOKEN not in str(caught.value)


# -- self-hosted login (the re-login flow) -------------------------------------------------------
def login_kw(password: str = PASSWORD) -> dict[str, str]:
    return {"client_id": USER, "client_secret": password}


def test_an_expired_token_is_replaced_by_logging_in_and_stored_0600(sandbox: Sandbox, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "socialkpi.duckdb.tokens.json")
    got = by_key(run(sandbox, FEB15, FEB17, token=EXPIRED_TOKEN, store=store, **login_kw()))
    assert got == expected(SITE, FEB15, FEB17)
    [login] = sandbox.requests_to(LOGIN)
    assert login.json() == {"username": USER, "password": PASSWORD} and login.header("Authorization") is None
    stored = store.get("umami", SITE)
    assert stored is not None and stored.access_token.startswith("eyJhbGciOiJIUzI1NiJ9.sandbox-")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    bearers = [c.bearer() for c in sandbox.requests_to(r"/websites/")]
    assert bearers[0] == EXPIRED_TOKEN and set(bearers[1:]) == {stored.access_token}
    assert redact(f"x {stored.access_token}") == "x ***" and redact(PASSWORD) == "***"


def test_a_stored_token_wins_over_the_env_token(sandbox: Sandbox, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    run(sandbox, FEB15, FEB15, token=None, store=store, **login_kw())  # logs in, stores a token
    stored = store.get("umami", SITE)
    assert stored is not None
    sandbox.clear()
    run(sandbox, FEB15, FEB15, token=EXPIRED_TOKEN, store=store, **login_kw())
    assert sandbox.requests_to(LOGIN) == []
    assert {c.bearer() for c in sandbox.requests_to(r"/websites/")} == {stored.access_token}


def test_a_stale_stored_token_falls_back_to_the_env_token(sandbox: Sandbox, tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    store.put("umami", SITE, StoredToken(access_token="eyJ-a-token-the-server-forgot"))
    assert by_key(run(sandbox, FEB15, FEB15, store=store)) == expected(SITE, FEB15, FEB15)
    assert [c.bearer() for c in sandbox.requests_to(STATS)] == ["eyJ-a-token-the-server-forgot", TOKEN]


def test_a_wrong_password_is_an_auth_error_with_advice_and_no_secret(sandbox: Sandbox, tmp_path: Path) -> None:
    wrong = "not-the-password-123"
    with pytest.raises(AuthError) as caught:
        run(sandbox, FEB15, FEB17, token=EXPIRED_TOKEN, store=TokenStore(tmp_path / "t.json"), **login_kw(wrong))
    text = str(caught.value) + repr(caught.value)
    assert "Incorrect username and/or password" in text and "SOCIALKPI_UMAMI_CLIENT_SECRET (password)" in text
    assert wrong not in text and EXPIRED_TOKEN not in text
    assert len(sandbox.requests_to(LOGIN)) == 1  # no loop


# -- check() -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "says"),
    [("", "self-hosted token on 127.0.0.1:"), ("/v1", "Umami Cloud API key (keys do not expire)")],
)
def test_check_names_the_website(sandbox: Sandbox, suffix: str, says: str) -> None:
    with make_client("umami", umami.classify) as client:
        detail = umami.check(client, context(sandbox, base_url=sandbox.url + suffix))
    assert says in detail and detail.endswith("can read website 'cornerbakery.fr' (cornerbakery.fr)")


def test_check_with_an_expired_token(sandbox: Sandbox) -> None:
    with make_client("umami", umami.classify) as client, pytest.raises(AuthError) as caught:
        umami.check(client, context(sandbox, token=EXPIRED_TOKEN))
    assert EXPIRED_TOKEN not in str(caught.value)


# -- the sandbox itself --------------------------------------------------------------------------
def test_sandbox_referrers_add_up_and_visitors_are_distinct_over_a_period(sandbox: Sandbox) -> None:
    import requests

    paris = ZoneInfo("Europe/Paris")
    start = int(datetime(2026, 2, 1, tzinfo=paris).timestamp() * 1000)
    end = int(datetime(2026, 3, 1, tzinfo=paris).timestamp() * 1000) - 1
    q = {"startAt": start, "endAt": end, "timezone": "Europe/Paris"}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    month = requests.get(f"{sandbox.url}/api/websites/{SITE}/stats", params=q, headers=auth, timeout=5).json()
    refs = requests.get(
        f"{sandbox.url}/api/websites/{SITE}/metrics", params={**q, "type": "referrer"}, headers=auth, timeout=5
    ).json()
    feb = days(date(2026, 2, 1), date(2026, 2, 28))
    assert month["visits"] == sum(sb.visits_for(SITE, d) for d in feb)
    assert month["visitors"] < sum(sb.visitors_for(SITE, d) for d in feb)
    assert set(month["comparison"]) == {"pageviews", "visitors", "visits", "bounces", "totaltime"}
    assert sum(r["y"] for r in refs) == sum(sb.visitors_for(SITE, d) for d in feb)
    assert [r["y"] for r in refs] == sorted((r["y"] for r in refs), reverse=True) and refs[0]["x"] is None
    bad = requests.get(
        f"{sandbox.url}/api/websites/{SITE}/stats",
        params=q,
        headers={"Authorization": f"Bearer {EXPIRED_TOKEN}"},
        timeout=5,
    )
    assert bad.status_code == 401 and bad.json() == {
        "error": {"message": "Unauthorized", "code": "unauthorized", "status": 401}
    }


# -- issue 11: numbers and the optional referrer breakdown --------------------------------------------
# Shape: https://umami.is/docs/api/website-stats "Endpoints" (/stats flat numbers; /metrics?type=referrer returns
# [{"x":"facebook.com","y":58}]) and "Errors" ({"error":{"message":"Unauthorized","code":"unauthorized",
# "status":401}}, "the same pattern covers bad-request/400, forbidden/403, not-found/404 ...").
@pytest.mark.parametrize("value", [-1, 1.5, float("nan"), float("inf"), True, "15420"])
def test_stats_refuse_what_is_no_count(value: Any) -> None:
    payload = {**fixture("umami", "stats_v3.json"), "visits": value}
    with pytest.raises(PayloadError, match="/stats visits is .*not a count"):
        umami.parse_stats(payload, **ONE)


def test_a_whole_float_is_a_count() -> None:
    rows = by_key(umami.parse_stats({**fixture("umami", "stats_v3.json"), "visits": 4010.0}, **ONE))
    assert rows[("visits", DAY)] == 4010 and type(rows[("visits", DAY)]) is int


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (Reply(400, err(400, "bad-request", "Invalid type: referrer")), "not supported"),
        (Reply(404, err(404, "not-found", "Not found")), "not supported"),
        (Reply(403, err(403, "forbidden", "Forbidden")), "permission"),
    ],
    ids=["400", "404", "403"],
)
def test_a_refused_referrer_breakdown_is_asked_once_skipped_and_the_stats_written(
    sandbox: Sandbox, reply: Reply, kind: str
) -> None:
    sandbox.script(METRICS, reply)
    with make_client("umami", umami.classify) as client:
        out = umami.collect(client, context(sandbox), since=FEB15, until=FEB17)
    want = {k: v for k, v in expected(SITE, FEB15, FEB17).items() if k[0] in ("page_views", "visits", "visitors")}
    assert by_key(out.observations) == want  # every day's stats, no social row
    [(source, note)] = out.skipped
    assert source == "metrics?type=referrer" and f"refused ({kind})" in note
    assert len(sandbox.requests_to(METRICS)) == 1 and len(sandbox.requests_to(STATS)) == 3


def test_a_referrer_breakdown_refused_on_a_later_day_leaves_no_social_row(sandbox: Sandbox) -> None:
    first = requests.get(
        f"{sandbox.url}/api/websites/{SITE}/metrics",
        params={
            **dict(zip(("startAt", "endAt"), umami.day_bounds(FEB15, ZoneInfo("Europe/Paris")), strict=True)),
            "timezone": "Europe/Paris",
            "type": "referrer",
        },  # fmt: skip
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    assert first  # Feb 15 has referrers
    sandbox.clear()
    sandbox.script(METRICS, Reply(200, first), Reply(400, err(400, "bad-request", "Invalid type")))
    with make_client("umami", umami.classify) as client:
        out = umami.collect(client, context(sandbox), since=FEB15, until=FEB17)
    assert {o.metric for o in out.observations} == {"page_views", "visits", "visitors"}  # nothing partial
    assert [s for s, _ in out.skipped] == ["metrics?type=referrer"]


@pytest.mark.parametrize(
    ("replies", "error"),
    [([Reply(502, "Bad Gateway")] * FAST.attempts, ServerError), ([sb.throttled()] * FAST.attempts, RateLimited)],
    ids=["5xx", "throttled"],
)
def test_a_transient_failure_of_the_breakdown_still_fails_the_account(
    sandbox: Sandbox, replies: list[Reply], error: type[Exception]
) -> None:
    sandbox.script(METRICS, *replies)
    with make_client("umami", umami.classify) as client, pytest.raises(error):
        umami.collect(client, context(sandbox), since=FEB15, until=FEB17)
