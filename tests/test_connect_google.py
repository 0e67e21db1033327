"""``socialkpi connect google|ga4|google_business|youtube`` end to end against the sandbox.

The sandbox follows Google's "OAuth 2.0 for iOS & Desktop Apps",
https://developers.google.com/identity/protocols/oauth2/native-app: "Loopback IP address (macOS, Linux,
Windows desktop) [...] To receive the authorization code using this URL, your application must be listening
on the local web server"; "Google supports the Proof Key for Code Exchange (PKCE) protocol" with
``code_challenge_method`` "S256"; "An error response: https://oauth2.example.com/auth?error=access_denied";
"Step 5: Exchange authorization code for refresh and access tokens" (``code``, ``client_id``,
``client_secret``, ``redirect_uri``, ``grant_type=authorization_code``, ``code_verifier``), whose answer holds
``access_token``, ``expires_in``, ``refresh_token``, ``scope`` and ``token_type``.  Token errors are Google's
JSON: ``{"error": "invalid_grant", "error_description": "Bad Request"}`` for a code already used,
``{"error": "invalid_client", "error_description": "Unauthorized"}`` for a wrong secret.

Discovery: the Admin API's accountSummaries.list ("Returns summaries of all accounts accessible by the
caller", https://developers.google.com/analytics/devguides/config/admin/v1/rest/v1beta/accountSummaries/list,
``accountSummaries[].propertySummaries[].property`` = ``properties/<id>``, ``nextPageToken``); Business
Profile accounts.list (Account Management API) then accounts.locations.list (Business Information API:
"readMask ... Required", ``pageSize`` "The maximum page size is 100"); YouTube channels.list with
``mine=true`` ("only return channels owned by the authenticated user") and ``forHandle`` ("The parameter value
can be prepended with an @ symbol"), https://developers.google.com/youtube/v3/docs/channels/list; an unknown
handle is HTTP 200 with no ``items``.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from socialkpi.cli import main
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import google_oauth as sandbox_google
from socialkpi.sandbox.__main__ import google_client_file
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from tests.conftest import FAST
from tests.consent import Run, connect, free_port, new_shop, store_of

ANALYTICS = "https://www.googleapis.com/auth/analytics.readonly"
YOUTUBE = "https://www.googleapis.com/auth/youtube.readonly"
YT_ANALYTICS = "https://www.googleapis.com/auth/yt-analytics.readonly"
BUSINESS = "https://www.googleapis.com/auth/business.manage"
PROPERTY, LOCATION = "312345678", "4812345678901234567"
CHANNEL, RIVAL = "UCcornerBakeryLyon00001A", "UCrivalPatisserie000001B"
BASE_URLS = ("SOCIALKPI_GA4_BASE_URL", "SOCIALKPI_YOUTUBE_BASE_URL", "SOCIALKPI_GOOGLE_BUSINESS_BASE_URL")


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env; the Desktop client JSON (its auth_uri and token_uri on
    the sandbox, as `python -m socialkpi.sandbox` writes it) and the three APIs' roots on the sandbox."""
    for name in list(os.environ):
        if name.startswith("OAUTHLIB_"):  # besides the SOCIALKPI_ ones new_shop removes
            monkeypatch.delenv(name)
    new_shop(tmp_path, monkeypatch, dict.fromkeys(BASE_URLS, sandbox.url))
    client_dir = tmp_path / "downloads"
    client_dir.mkdir()
    monkeypatch.setenv("SOCIALKPI_GOOGLE_CLIENT_SECRETS", str(google_client_file(sandbox.url, client_dir)))
    return tmp_path


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def google(argv: list[str], **kw: Any) -> Run:
    """``socialkpi connect ARGV`` on a free port, the browser pressing Allow unless told otherwise."""
    return connect([*argv, "--port", str(free_port())], policy=FAST, **kw)


def test_connect_google_asks_once_for_all_three_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["google", "--select", "all", "--port", str(free_port())], policy=FAST)
    assert run.code == 0, run.stderr
    assert len(run.pressed) == 1  # one consent page for the three platforms
    assert len(sandbox.requests_to(r"^/o/oauth2/auth$")) == 2  # that page (GET) and its Allow (POST)
    query = query_of(run.url)
    assert run.url.startswith(sandbox.url + "/o/oauth2/auth?")  # the client file's auth_uri
    assert sorted(query["scope"][0].split()) == sorted([ANALYTICS, YOUTUBE, YT_ANALYTICS, BUSINESS])
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:") and query["redirect_uri"][0].endswith("/callback")
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]
    assert len(query["state"][0]) >= 40
    assert run.pressed[0].callback is not None and "Connected" in run.pressed[0].callback.text

    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)
    for platform, account in (("ga4", PROPERTY), ("google_business", LOCATION), ("youtube", CHANNEL)):
        assert f'platform = "{platform}"\nid = "{account}"' in text
    assert text.count(f'id = "{LOCATION}"') == 1  # the listing reached through two accounts, kept once
    assert 'name = "cornerbakery.fr"' in text and 'name = "Corner Bakery (Lyon)"' in text
    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conns = [
        store.connection(p, a) for p, a in (("ga4", PROPERTY), ("google_business", LOCATION), ("youtube", CHANNEL))
    ]
    for conn in conns:
        assert conn is not None and conn.token.refresh_token and conn.client_id == CLIENT_ID
        assert conn.client_secret == CLIENT_SECRET and conn.token_url == sandbox.url + "/token"
        assert conn.token.expires_at and conn.token.expires_at > time.time() + 3000
        for secret in (conn.token.access_token, conn.token.refresh_token, CLIENT_SECRET):
            assert secret not in text and secret not in run.stdout + run.stderr
    # the exchange: the code, its PKCE verifier and the client in the form (the doc's step 5)
    exchange = [r for r in sandbox.requests_to(r"^/token$") if b"authorization_code" in r.body][0]
    form = exchange.form()
    assert form["client_id"] == CLIENT_ID and form["client_secret"] == CLIENT_SECRET
    assert len(form["code_verifier"]) >= 43 and form["redirect_uri"] == query["redirect_uri"][0]
    # discovery followed every page
    assert len(sandbox.requests_to(r"^/v1beta/accountSummaries$")) == 2
    assert len(sandbox.requests_to(r"^/v1/accounts$")) == 2
    assert all(r.arg("readMask") == "name,title" for r in sandbox.requests_to(r"/locations$"))
    assert "ga4" in run.stderr and "3 account(s) added" in run.stderr

    # collect with no client file, no client id or secret, no token: only the APIs' roots
    monkeypatch.delenv("SOCIALKPI_GOOGLE_CLIENT_SECRETS")
    assert not (shop / ".env").exists()
    assert not [n for n in os.environ if n.startswith("SOCIALKPI_") and n not in BASE_URLS]
    assert main(["collect"]) == 0
    assert main(["export", "--out", "obs.csv"]) == 0
    rows = (shop / "obs.csv").read_text()
    assert f",ga4,{PROPERTY},cornerbakery.fr,false,visits," in rows
    assert f",google_business,{LOCATION},Corner Bakery (Lyon),false,impressions," in rows
    assert f",youtube,{CHANNEL},Corner Bakery,false,followers," in rows
    assert f",youtube,{CHANNEL},Corner Bakery,false,video_views," in rows  # Analytics: the OAuth scopes work
    for conn in conns:
        assert conn is not None and conn.token.access_token not in rows


def test_an_expired_access_token_is_renewed_by_collect_with_the_stored_client(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert google(["google", "--select", "all"]).code == 0
    store = store_of(shop)
    data = json.loads(store.path.read_text())
    old = {}
    for key in (f"ga4/{PROPERTY}", f"google_business/{LOCATION}", f"youtube/{CHANNEL}"):
        data[key]["expires_at"] = time.time() - 10  # an hour later
        old[key] = data[key]["access_token"]
    store.path.write_text(json.dumps(data))
    monkeypatch.delenv("SOCIALKPI_GOOGLE_CLIENT_SECRETS")
    sandbox.clear()
    assert main(["collect"]) == 0
    refreshes = [r.form() for r in sandbox.requests_to(r"^/token$")]
    assert len(refreshes) == 3 and all(f["grant_type"] == "refresh_token" for f in refreshes)
    assert all(f["client_id"] == CLIENT_ID and f["client_secret"] == CLIENT_SECRET for f in refreshes)
    after = json.loads(store.path.read_text())
    for key, token in old.items():
        assert after[key]["access_token"] != token and after[key]["expires_at"] > time.time()
        assert after[key]["via"] == "connect" and after[key]["client_id"] == CLIENT_ID  # the connection kept
    assert main(["export", "--out", "obs.csv"]) == 0
    assert f",ga4,{PROPERTY}," in (shop / "obs.csv").read_text()


def test_connect_ga4_alone_asks_only_for_analytics(shop: Path) -> None:
    run = google(["ga4", "--select", "all"])
    assert run.code == 0, run.stderr
    assert query_of(run.url)["scope"] == [ANALYTICS]
    text = (shop / "socialkpi.toml").read_text()
    assert f'id = "{PROPERTY}"' in text and "youtube" not in text and "google_business" not in text
    assert store_of(shop).connection("ga4", PROPERTY) is not None


def test_connect_youtube_alone_asks_for_its_two_scopes(shop: Path) -> None:
    run = google(["youtube"])  # one channel found: no --select needed
    assert run.code == 0, run.stderr
    assert sorted(query_of(run.url)["scope"][0].split()) == [YOUTUBE, YT_ANALYTICS]
    assert "@cornerbakerylyon" in run.stderr
    assert f'id = "{CHANNEL}"' in (shop / "socialkpi.toml").read_text()


def test_a_scope_left_unticked_names_the_platform_and_connects_the_others(shop: Path, sandbox: Sandbox) -> None:
    """Google's granular consent: the token carries fewer scopes than asked (here no business.manage)."""
    granted = frozenset({ANALYTICS, YOUTUBE, YT_ANALYTICS})
    body = {
        "access_token": sandbox_google.issue_token(granted),
        "expires_in": 3599,
        "refresh_token": "1//sandbox-refresh-granular",
        "scope": " ".join(sorted(granted)),
        "token_type": "Bearer",
    }
    sandbox.script(r"^/token$", Reply(200, body))
    run = google(["google", "--select", "all"])
    assert run.code == 0, run.stderr
    assert "google_business: not connected: the consent did not grant business.manage" in run.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert f'id = "{PROPERTY}"' in text and f'id = "{CHANNEL}"' in text and LOCATION not in text
    assert sandbox.requests_to(r"^/v1/accounts$") == []


def test_deny_exits_2_and_writes_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = google(["google", "--select", "all"], button="Deny")
    assert run.code == 2
    assert "consent was refused on Google (access_denied)" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_state_that_does_not_match_is_refused(shop: Path) -> None:
    run = google(["google", "--select", "all"], tamper=lambda loc: loc.replace("state=", "state=forged"))
    assert run.code == 2 and "state does not match" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_code_already_used_is_refused(shop: Path, sandbox: Sandbox) -> None:
    def spend(location: str) -> str:  # someone redeemed the code first
        code = query_of(location)["code"][0]
        answer = requests.post(
            sandbox.url + "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": "http://127.0.0.1:1/elsewhere",
            },
            timeout=5,
        )
        assert answer.status_code == 400
        return location

    run = google(["google", "--select", "all"], tamper=spend)
    assert run.code == 2
    assert "authorization code was refused (invalid_grant: Bad Request)" in run.stderr
    assert "already used" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_wrong_client_secret_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(os.environ["SOCIALKPI_GOOGLE_CLIENT_SECRETS"])
    data = json.loads(path.read_text())
    data["installed"]["client_secret"] = "GOCSPX-not-the-secret-at-all"
    path.write_text(json.dumps(data))
    run = google(["google", "--select", "all"])
    assert run.code == 2
    err = run.stderr
    assert "client id or secret was refused (invalid_client: Unauthorized)" in err and str(path) in err
    assert "GOCSPX-not-the-secret-at-all" not in err
    assert not store_of(shop).path.exists()


def test_no_client_file_says_which_variable_and_where_the_docs_are(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIALKPI_GOOGLE_CLIENT_SECRETS")
    run = google(["google"], button=None)
    assert run.code == 2
    assert "SOCIALKPI_GOOGLE_CLIENT_SECRETS is not set" in run.stderr
    assert "Desktop app" in run.stderr and "docs/connect.md" in run.stderr


def test_a_web_client_file_is_refused_before_the_consent(shop: Path, sandbox: Sandbox) -> None:
    path = Path(os.environ["SOCIALKPI_GOOGLE_CLIENT_SECRETS"])
    path.write_text(json.dumps({"web": json.loads(path.read_text())["installed"]}))
    run = google(["ga4"], button=None)
    assert run.code == 2 and "is a Web application client" in run.stderr
    assert sandbox.requests == []


def test_the_token_url_variable_wins_over_the_client_file(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(os.environ["SOCIALKPI_GOOGLE_CLIENT_SECRETS"])
    data = json.loads(path.read_text())
    data["installed"]["token_uri"] = "https://oauth2.invalid/token"
    data["installed"]["auth_uri"] = "https://accounts.invalid/o/oauth2/auth"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("SOCIALKPI_GA4_AUTH_URL", sandbox.url + "/o/oauth2/v2/auth")
    monkeypatch.setenv("SOCIALKPI_GA4_TOKEN_URL", sandbox.url + "/token")
    run = google(["ga4", "--select", "all"])
    assert run.code == 0, run.stderr
    assert run.url.startswith(sandbox.url + "/o/oauth2/v2/auth?")
    conn = store_of(shop).connection("ga4", PROPERTY)
    assert conn is not None and conn.token_url == sandbox.url + "/token"


def test_oauthlib_is_allowed_plain_http_only_for_the_call_and_only_on_loopback(shop: Path) -> None:
    from socialkpi.connect.google import _oauthlib

    assert google(["ga4", "--select", "all"]).code == 0
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ and "OAUTHLIB_RELAX_TOKEN_SCOPE" not in os.environ
    with _oauthlib("https://oauth2.googleapis.com/token"):
        assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ
    with _oauthlib("http://127.0.0.1:9/token"):
        assert os.environ["OAUTHLIB_INSECURE_TRANSPORT"] == "1"
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_a_plain_http_endpoint_that_is_not_this_machine_is_refused(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_GA4_TOKEN_URL", "http://oauth2.example.com/token")
    run = google(["ga4"], button=None)
    assert run.code == 2 and "must be an https:// address" in run.stderr


def test_no_browser_prints_the_url_alone_and_takes_the_pasted_address(shop: Path) -> None:
    run = google(["google", "--no-browser", "--select", "all"], paste=True)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [run.url]
    assert run.pressed[0].callback is None
    assert store_of(shop).connection("youtube", CHANNEL) is not None


def test_connecting_again_renews_the_tokens_and_adds_no_duplicate(shop: Path) -> None:
    assert google(["google", "--select", "all"]).code == 0
    first = store_of(shop).connection("ga4", PROPERTY)
    again = google(["google", "--select", "all"])
    assert again.code == 0 and f"renewed ga4 {PROPERTY}" in again.stderr
    assert "0 account(s) added, 3 renewed" in again.stderr
    text = (shop / "socialkpi.toml").read_text()
    for account in (PROPERTY, LOCATION, CHANNEL):
        assert text.count(f'id = "{account}"') == 1
    second = store_of(shop).connection("ga4", PROPERTY)
    assert first is not None and second is not None
    assert second.token.access_token != first.token.access_token
    assert second.token.refresh_token != first.token.refresh_token


def test_a_competitor_channel_is_found_by_handle_and_collected_with_the_owners_connection(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert google(["youtube"]).code == 0
    run = connect(["youtube", "--competitor", "https://www.youtube.com/@RivalPatisserie"], button=None, policy=FAST)
    assert run.code == 0, run.stderr
    assert f"Found youtube {RIVAL}: Rival Patisserie (@rivalpatisserie, " in run.stderr and "subscribers" in run.stderr
    lookup = sandbox.requests_to(r"^/youtube/v3/channels$")[-1]
    assert lookup.arg("forHandle") == "@RivalPatisserie" and (lookup.header("Authorization") or "").startswith(
        "Bearer "
    )
    text = (shop / "socialkpi.toml").read_text()
    assert f'id = "{RIVAL}"\nname = "Rival Patisserie"\ncompetitor = true' in text
    assert store_of(shop).connection("youtube", RIVAL) is None  # read with the owner's connection

    monkeypatch.delenv("SOCIALKPI_GOOGLE_CLIENT_SECRETS")
    sandbox.clear()
    assert main(["collect"]) == 0
    assert main(["export", "--out", "obs.csv"]) == 0
    rows = (shop / "obs.csv").read_text()
    assert f",youtube,{RIVAL},Rival Patisserie,true,followers," in rows
    assert f",youtube,{RIVAL},Rival Patisserie,true,video_views," not in rows  # Analytics: the own channel only
    reports = sandbox.requests_to(r"^/v2/reports$")
    assert reports and all(r.arg("ids") == "channel==MINE" for r in reports)


def test_a_competitor_by_channel_id_with_an_api_key(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialkpi.sandbox import world

    monkeypatch.setattr("socialkpi.connect.google.is_api_key", lambda token: True)
    monkeypatch.setenv("SOCIALKPI_YOUTUBE_TOKEN", world.TOKEN)  # the sandbox's one valid API key
    run = connect(["youtube", "--competitor", RIVAL], button=None, policy=FAST)
    assert run.code == 0, run.stderr
    lookup = sandbox.requests_to(r"^/youtube/v3/channels$")[-1]
    assert lookup.arg("id") == RIVAL and lookup.header("X-Goog-Api-Key") == world.TOKEN and "key" not in lookup.query


def test_a_competitor_that_does_not_exist_adds_nothing(shop: Path) -> None:
    assert google(["youtube"]).code == 0
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["youtube", "--competitor", "@nosuchbakery"], button=None, policy=FAST)
    assert run.code == 2
    assert "no channel '@nosuchbakery' (channels.list forHandle=@nosuchbakery found none)" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_a_competitor_needs_a_token_or_a_connection(shop: Path) -> None:
    run = connect(["youtube", "--competitor", "@rivalpatisserie"], button=None, policy=FAST)
    assert run.code == 2 and "run `socialkpi connect youtube` first" in run.stderr


def test_competitors_are_refused_where_the_data_is_private(shop: Path) -> None:
    run = connect(["ga4", "--competitor", "rival.fr"], button=None, policy=FAST)
    assert run.code == 2 and "website analytics are private" in run.stderr


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("@RivalPatisserie", {"forHandle": "@RivalPatisserie"}),
        ("rivalpatisserie", {"forHandle": "@rivalpatisserie"}),
        ("youtube.com/@rival.patisserie", {"forHandle": "@rival.patisserie"}),
        ("https://m.youtube.com/@rival_patisserie/videos", {"forHandle": "@rival_patisserie"}),
        (RIVAL, {"id": RIVAL}),
        (f"https://www.youtube.com/channel/{RIVAL}", {"id": RIVAL}),
        ("https://www.youtube.com/user/cornerbakery", {"forUsername": "cornerbakery"}),
    ],
)
def test_channel_query(text: str, query: dict[str, str]) -> None:
    from socialkpi.connect.google_accounts import channel_query

    assert channel_query(text) == query


@pytest.mark.parametrize("text", ["https://www.youtube.com/c/RivalPatisserie", "https://example.com/@x", "a b"])
def test_channel_query_refuses_what_the_api_cannot_look_up(text: str) -> None:
    from socialkpi.connect.flow import ConnectError
    from socialkpi.connect.google_accounts import channel_query

    with pytest.raises(ConnectError):
        channel_query(text)


def test_the_environment_wins_over_the_token_store(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialkpi.credentials import credentials_for
    from socialkpi.settings import load_settings

    assert google(["ga4", "--select", "all"]).code == 0
    account = next(a for a in load_settings().accounts if a.platform == "ga4")
    stored = credentials_for(account, load_settings().env, store_of(shop))
    assert stored.source == "store" and stored.store_key == PROPERTY and stored.refresh_token
    assert stored.token_url and stored.token_url.endswith("/token")
    monkeypatch.setenv("SOCIALKPI_GA4_TOKEN", "token-from-the-environment")
    from_env = credentials_for(account, load_settings().env, store_of(shop))
    assert from_env.source == "env" and from_env.token == "token-from-the-environment"


def test_a_revoked_refresh_token_says_to_connect_again(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refresh tokens end (https://developers.google.com/identity/protocols/oauth2#expiration: "A Google Cloud
    Platform project with an OAuth consent screen configured for an external user type and a publishing status
    of "Testing" is issued a refresh token expiring in 7 days"): the sandbox refuses one starting ``revoked``."""
    assert google(["ga4", "--select", "all"]).code == 0
    store = store_of(shop)
    data = json.loads(store.path.read_text())
    data[f"ga4/{PROPERTY}"].update(expires_at=time.time() - 10, refresh_token="revoked-after-seven-days")
    store.path.write_text(json.dumps(data))
    monkeypatch.delenv("SOCIALKPI_GOOGLE_CLIENT_SECRETS")
    capsys.readouterr()
    assert main(["collect"]) != 0
    out = capsys.readouterr()
    said = out.out + out.err
    assert "Token has been expired or revoked" in said and "run `socialkpi connect ga4` again" in said
    assert "revoked-after-seven-days" not in said


def test_doctor_checks_the_connected_accounts_and_the_competitor(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert google(["google", "--select", "all"]).code == 0
    assert connect(["youtube", "--competitor", "@rivalpatisserie"], button=None, policy=FAST).code == 0
    monkeypatch.delenv("SOCIALKPI_GOOGLE_CLIENT_SECRETS")
    capsys.readouterr()
    assert main(["doctor"]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert f"channel {RIVAL} found (public statistics only)" in out
    assert f"OAuth token valid for channel {CHANNEL}" in out and f"property {PROPERTY} readable" in out


DISABLED = {
    "error": {
        "code": 403,
        "message": "My Business Account Management API has not been used in project 123456 before or it is disabled.",
        "status": "PERMISSION_DENIED",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}],
    }
}


def test_an_api_not_enabled_skips_that_platform_of_connect_google(shop: Path, sandbox: Sandbox) -> None:
    sandbox.script(r"^/v1/accounts$", Reply(403, DISABLED))
    run = google(["google", "--select", "all"])
    assert run.code == 0, run.stderr
    assert "google_business: skipped:" in run.stderr and "enable the My Business Account Management API" in run.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert f'id = "{PROPERTY}"' in text and f'id = "{CHANNEL}"' in text and LOCATION not in text


def test_an_api_not_enabled_fails_connect_google_business_and_writes_nothing(shop: Path, sandbox: Sandbox) -> None:
    sandbox.script(r"^/v1/accounts$", Reply(403, DISABLED))
    before = (shop / "socialkpi.toml").read_text()
    run = google(["google_business", "--select", "all"])
    assert run.code == 2
    assert "enable the My Business Account Management API" in run.stderr and "nothing was written" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before and not store_of(shop).path.exists()


def test_the_command_line_prints_the_url_on_its_own_line(shop: Path) -> None:
    """The whole command as a script runs it: a process, the URL read from its standard output, the
    redirected address pasted on its standard input."""
    import subprocess
    import sys

    from tests.consent import press

    proc = subprocess.Popen(
        [sys.executable, "-m", "socialkpi.cli", "connect", "google", "--no-browser", "--select", "all"]
        + ["--port", str(free_port())],
        cwd=shop,
        env=dict(os.environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http") and "/o/oauth2/auth?" in url
    done = press(url, "Allow", follow=False)
    proc.stdin.write(done.location + "\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "3 account(s) added" in err and out == ""
    assert "OAUTHLIB" not in err and "access_token" not in err
