"""``socialkpi connect tiktok`` end to end against the sandbox: consent, code exchange, discovery, then collect.

The sandbox and the flow follow TikTok's docs:

* https://developers.tiktok.com/doc/login-kit-desktop: "Only localhost or loopback IP 127.0.0.1 are allowed
  host names in URI." "URIs must have a port number, and wildcard port number (*) is supported." "TikTok
  requires the Proof Key for Code Exchange (PKCE) protocol for desktop apps [...] You must use hex encoding of
  SHA256 to generate the code challenge from the code verifier." "Since we only support S256 as
  code_challenge_method, use code_challenge = SHA256(code_verifier)" with the example
  ``CryptoJS.SHA256(code_verifier).toString(CryptoJS.enc.Hex)``; the query parameters ``client_key``,
  ``scope`` ("A comma (,) separated string of authorization scope(s)"), ``redirect_uri``, ``state``,
  ``response_type`` ("This value should always be set to code"), ``code_challenge``,
  ``code_challenge_method`` ("This value should always be set to S256"); the redirect carries ``code``,
  ``scopes``, ``state``, or ``error`` and ``error_description``.  (The stored copies of the page end before
  its PKCE section; its text is quoted from the copy in github.com/smokiebacon/restaurantRandomizer,
  TIKTOK_IMPLEMENT.md.)
* https://developers.tiktok.com/doc/oauth-user-access-token-management: "POST
  https://open.tiktokapis.com/v2/oauth/token/", ``Content-Type: application/x-www-form-urlencoded``,
  ``client_key``, ``client_secret``, ``code`` "The authorization code from the web, iOS, Android or desktop
  authorization callback. The value should be URL decoded.", ``grant_type`` "Its value should always be set
  as authorization_code.", ``redirect_uri`` "Its value must be the same as the redirect_uri used for
  requesting code.", ``code_verifier`` "Required for mobile and desktop app only."; the answer ``open_id``,
  ``scope``, ``access_token``, ``expires_in`` "It is valid for 24 hours after initial issuance.",
  ``refresh_token`` "It is valid for 365 days after the initial issuance.", ``refresh_expires_in``,
  ``token_type``.
* https://developers.tiktok.com/doc/oauth-error-handling: "error | String | The error category in string.",
  "error_description", "log_id"; ``invalid_client`` "Client authentication failed", ``invalid_grant`` "The
  provided authorization grant [...] is invalid, expired, revoked, does not match the redirection URI".  The
  HTTP status is not documented; TikTok sends such errors with a 200 ("TikTok API can return HTTP 200 with an
  error JSON body (e.g. {"error": "invalid_client", ...})", github.com/HohnerJulian/ResearchTikPy pull #28),
  and a real code holds characters a redirect URL-encodes (``...Iw*1!6431.u1``, github.com/yachty66/aitiktokz).
* https://developers.tiktok.com/doc/tiktok-api-v2-get-user-info: ``GET https://open.tiktokapis.com/v2/user/info/``
  with ``fields``; ``username`` needs ``user.info.profile``
  (https://developers.tiktok.com/bulletin/user-info-scope-migration: "username | User's username |
  user.info.basic | user.info.profile").
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from socialkpi.cli import main
from socialkpi.connect import tiktok as flow
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox import tiktok as sb_tiktok
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from tests.conftest import FAST
from tests.consent import connect, free_port, new_shop, press, store_of

USER = sb_tiktok.USERNAME  # cornerbakery.lyon, the world's own TikTok account


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, the TikTok app's credentials and the sandbox's address."""
    return new_shop(
        tmp_path,
        monkeypatch,
        {
            "SOCIALKPI_TIKTOK_BASE_URL": sandbox.url,
            "SOCIALKPI_TIKTOK_CLIENT_ID": CLIENT_ID,
            "SOCIALKPI_TIKTOK_CLIENT_SECRET": CLIENT_SECRET,
        },
    )


def test_allow_adds_the_account_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    before = (shop / "socialkpi.toml").read_text()
    started = time.time()
    run = connect(["tiktok", "--port", str(port)], policy=FAST)
    assert run.code == 0, run.stderr
    parts = urlsplit(run.url)
    assert parts.path == "/v2/auth/authorize/"
    query = parse_qs(parts.query)
    assert query["client_key"] == [CLIENT_ID] and "client_id" not in query
    assert query["redirect_uri"] == [f"http://localhost:{port}/callback"]
    assert query["scope"] == ["user.info.basic,user.info.profile,user.info.stats"]
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 40
    assert run.pressed[0].callback is not None and "Connected" in run.pressed[0].callback.text
    assert f"added   tiktok {USER} (Corner Bakery Lyon)" in run.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)  # the owner's file kept as it was, the account appended
    assert f'platform = "tiktok"\nid = "{USER}"' in text
    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conn = store.connection("tiktok", USER)
    assert conn is not None and conn.client_id == CLIENT_ID and conn.client_secret == CLIENT_SECRET
    token = conn.token
    assert token.access_token.startswith("act.") and token.refresh_token and token.refresh_token.startswith("rft.")
    # "expires_in [...] valid for 24 hours", "refresh_token [...] valid for 365 days": both ends stored
    assert token.expires_at is not None and started + 86400 - 5 <= token.expires_at <= time.time() + 86400
    assert token.refresh_expires_at is not None
    assert started + 31536000 - 5 <= token.refresh_expires_at <= time.time() + 31536000
    assert conn.extra.get("open_id") == sb_tiktok.user_for(USER)["open_id"]
    for secret in (token.access_token, token.refresh_token, CLIENT_SECRET):
        assert secret not in text and secret not in run.stdout + run.stderr

    for name in ("SOCIALKPI_TIKTOK_CLIENT_ID", "SOCIALKPI_TIKTOK_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    assert [k for k in os.environ if k.startswith("SOCIALKPI_")] == ["SOCIALKPI_TIKTOK_BASE_URL"]
    assert not (shop / ".env").exists()
    assert main(["collect"]) == 0
    assert main(["export", "--out", "obs.csv"]) == 0
    rows = (shop / "obs.csv").read_text()
    assert f",tiktok,{USER},Corner Bakery Lyon,false,followers," in rows
    assert f",tiktok,{USER},Corner Bakery Lyon,false,posts," in rows
    assert token.access_token not in rows


def test_the_challenge_is_the_hex_sha256_of_the_verifier_sent_with_the_url_decoded_code(
    shop: Path, sandbox: Sandbox
) -> None:
    """ "You must use hex encoding of SHA256 to generate the code challenge from the code verifier" (not RFC
    7636's base64url), and the code sent is "URL decoded" (TikTok's hold '*' and '!')."""
    run = connect(["tiktok", "--port", str(free_port())], policy=FAST)
    assert run.code == 0, run.stderr
    challenge = parse_qs(urlsplit(run.url).query)["code_challenge"][0]
    assert len(challenge) == 64 and set(challenge) <= set("0123456789abcdef")
    location = run.pressed[0].location
    assert "%2A0%216431.e1" in location  # the redirect carries the code URL-encoded
    (exchange,) = [r for r in sandbox.requests_to(r"/v2/oauth/token/") if b"authorization_code" in r.body]
    assert (exchange.header("Content-Type") or "").startswith("application/x-www-form-urlencoded")
    form = exchange.form()
    assert hashlib.sha256(form["code_verifier"].encode("ascii")).hexdigest() == challenge
    assert 43 <= len(form["code_verifier"]) <= 128
    assert form["code"] == parse_qs(urlsplit(location).query)["code"][0] and form["code"].endswith("*0!6431.e1")
    assert form["client_key"] == CLIENT_ID and form["client_secret"] == CLIENT_SECRET
    assert (
        form["grant_type"] == "authorization_code"
        and form["redirect_uri"] == parse_qs(urlsplit(run.url).query)["redirect_uri"][0]
    )
    (info,) = sandbox.requests_to(r"/v2/user/info/")
    assert info.arg("fields") == "open_id,username,display_name,follower_count"


def test_the_sandbox_refuses_a_base64url_challenge_as_tiktok_does(sandbox: Sandbox) -> None:
    """The standard RFC 7636 challenge is not what TikTok's desktop flow checks: the exchange is refused with
    ``invalid_request`` "Code verifier or code challenge is invalid." (the answer quoted at
    https://www.volcengine.com/article/1153620 for a base64url challenge)."""
    import base64

    verifier = "v" * 50
    b64 = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://localhost:8765/callback"
    query = {
        "client_key": CLIENT_ID,
        "scope": "user.info.basic,user.info.profile,user.info.stats",
        "response_type": "code",
        "redirect_uri": redirect,
        "state": "s",
        "code_challenge": b64,
        "code_challenge_method": "S256",
    }
    done = press(sandbox.url + "/v2/auth/authorize/?" + urlencode(query), follow=False)
    code = parse_qs(urlsplit(done.location).query)["code"][0]
    answer = requests.post(
        sandbox.url + "/v2/oauth/token/",
        data={"client_key": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code,
              "grant_type": "authorization_code", "redirect_uri": redirect, "code_verifier": verifier},
        timeout=5,
    )  # fmt: skip
    assert answer.status_code == 200 and answer.json()["error"] == "invalid_request"
    assert answer.json()["error_description"] == "Code verifier or code challenge is invalid."


def test_the_sandbox_consent_page_checks_the_request_as_tiktok_does(sandbox: Sandbox) -> None:
    base = {
        "client_key": CLIENT_ID,
        "scope": "user.info.basic",
        "response_type": "code",
        "redirect_uri": "http://localhost:8765/callback",
        "state": "s",
        "code_challenge": "0" * 64,
        "code_challenge_method": "S256",
    }
    url = sandbox.url + "/v2/auth/authorize/?"
    assert requests.get(url + urlencode(base), timeout=5).status_code == 200
    for change, said in (
        ({"redirect_uri": "http://localhost/callback"}, "port number"),  # "URIs must have a port number"
        ({"redirect_uri": "https://shop.example/callback"}, "redirect_uri"),  # only localhost or 127.0.0.1
        ({"scope": "user.info.basic user.info.stats"}, "scope"),  # comma-separated, not spaces
        ({"code_challenge_method": "plain"}, "S256"),
        ({"client_key": "someone-else"}, "client_key"),
    ):
        page = requests.get(url + urlencode({**base, **change}), timeout=5)
        assert page.status_code == 400 and said in page.text, change


def test_the_stored_token_is_refreshed_by_collect_with_the_stored_client(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connect(["tiktok", "--port", str(free_port())], policy=FAST).code == 0
    store = store_of(shop)
    conn = store.connection("tiktok", USER)
    assert conn is not None
    data = json.loads(store.path.read_text())
    data[f"tiktok/{USER}"]["expires_at"] = time.time() - 10  # a day later
    store.path.write_text(json.dumps(data))
    for name in ("SOCIALKPI_TIKTOK_CLIENT_ID", "SOCIALKPI_TIKTOK_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    sandbox.clear()
    assert main(["collect"]) == 0
    (refresh,) = [r.form() for r in sandbox.requests_to(r"/v2/oauth/token/")]
    assert refresh["grant_type"] == "refresh_token" and refresh["refresh_token"] == conn.token.refresh_token
    assert refresh["client_key"] == CLIENT_ID and refresh["client_secret"] == CLIENT_SECRET
    after = store.connection("tiktok", USER)
    assert after is not None and after.token.refresh_token != conn.token.refresh_token  # TikTok rotates it
    assert after.client_id == CLIENT_ID and after.token.expires_at and after.token.expires_at > time.time()
    assert after.extra.get("open_id") == conn.extra.get("open_id")  # kept beside the refreshed pair


def test_deny_exits_2_and_writes_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["tiktok", "--port", str(free_port())], button="Deny", policy=FAST)
    assert run.code == 2
    assert "consent was refused on TikTok" in run.stderr and "access_denied" in run.stderr
    assert run.stderr.count("socialkpi: error:") == 1 and run.stderr.rstrip().endswith("press Allow")
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_state_that_does_not_match_is_refused(shop: Path) -> None:
    def forge(location: str) -> str:
        return location.replace("state=", "state=forged")

    run = connect(["tiktok", "--port", str(free_port())], tamper=forge, policy=FAST)
    assert run.code == 2 and "state does not match" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_code_already_used_is_refused(shop: Path, sandbox: Sandbox) -> None:
    def spend(location: str) -> str:  # someone redeemed the code first
        params = parse_qs(urlsplit(location).query)
        requests.post(
            sandbox.url + "/v2/oauth/token/",
            data={"client_key": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": params["code"][0],
                  "grant_type": "authorization_code", "redirect_uri": location.split("?")[0]},
            timeout=5,
        )  # fmt: skip
        return location

    before = (shop / "socialkpi.toml").read_text()
    run = connect(["tiktok", "--port", str(free_port())], tamper=spend, policy=FAST)
    assert run.code == 2
    assert "authorization code was refused" in run.stderr and "already used" in run.stderr
    assert "invalid_grant" in run.stderr and "log_id" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_wrong_client_secret_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_TIKTOK_CLIENT_SECRET", "not-the-secret-at-all")
    run = connect(["tiktok", "--port", str(free_port())], policy=FAST)
    assert run.code == 2
    assert "client id or secret was refused" in run.stderr and "invalid_client" in run.stderr
    assert "SOCIALKPI_TIKTOK_CLIENT_SECRET" in run.stderr and "SOCIALKPI_TIKTOK_CLIENT_ID" in run.stderr
    assert "not-the-secret-at-all" not in run.stderr
    assert not store_of(shop).path.exists()


def test_no_browser_prints_the_url_alone_and_takes_the_pasted_address(shop: Path) -> None:
    run = connect(["tiktok", "--no-browser", "--port", str(free_port())], paste=True, policy=FAST)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [run.url]
    assert run.pressed[0].callback is None  # the redirect never reached the loopback: it was pasted
    assert store_of(shop).connection("tiktok", USER) is not None


def test_connecting_again_renews_the_token_and_adds_no_duplicate(shop: Path) -> None:
    assert connect(["tiktok", "--port", str(free_port())], policy=FAST).code == 0
    first = store_of(shop).connection("tiktok", USER)
    again = connect(["tiktok", "--port", str(free_port())], policy=FAST)
    assert again.code == 0 and f"renewed tiktok {USER}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{USER}"') == 1
    second = store_of(shop).connection("tiktok", USER)
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


def test_a_competitor_is_refused_with_the_reason(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["tiktok", "--competitor", "@rival.patisserie"], button=None, policy=FAST)
    assert run.code == 2
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("socialkpi: error: tiktok: '@rival.patisserie' cannot be added as a competitor")
    assert "only answers for the account that authorized the token" in line and "nothing was written" in line
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


# -- pure parts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 400, 401])
def test_token_errors_are_read_from_the_body_whatever_the_status(status: int) -> None:
    from socialkpi.connect.flow import exchange_failed

    def error(name: str, said: str) -> Exception:
        from collectors.http import Client

        verdict = flow.token_classify(status, {}, {"error": name, "error_description": said, "log_id": "2026X"})
        assert verdict is not None
        return Client("tiktok")._error(verdict, status, "https://open.tiktokapis.com/v2/oauth/token/", reset_in=None)

    grant = exchange_failed(
        error("invalid_grant", "Authorization code is expired."), platform="tiktok",
        secret_env=flow.SECRET_ENV, client_id_env=flow.CLIENT_ENV,
    )  # fmt: skip
    assert "authorization code was refused (invalid_grant: Authorization code is expired. (log_id 2026X))" in str(grant)
    client = exchange_failed(
        error("invalid_client", "Client key or secret is incorrect."), platform="tiktok",
        secret_env=flow.SECRET_ENV, client_id_env=flow.CLIENT_ENV,
    )  # fmt: skip
    assert "client id or secret was refused" in str(client) and "SOCIALKPI_TIKTOK_CLIENT_SECRET" in str(client)
    assert flow.token_classify(200, {}, {"access_token": "act.x"}) is None


def test_a_consent_with_a_permission_unticked_is_refused() -> None:
    """ "If a scope is toggleable, the user can deny access to one scope while granting access to others"
    (login-kit-desktop, ``scope``): without user.info.stats there would be no follower count to collect."""
    body = {"access_token": "act.a", "refresh_token": "rft.b", "expires_in": 86400, "refresh_expires_in": 31536000,
            "scope": "user.info.basic,user.info.profile", "token_type": "Bearer"}  # fmt: skip
    with pytest.raises(flow.ConnectError, match=r"left out user\.info\.stats"):
        flow.parse_token(body)
    token = flow.parse_token({**body, "scope": "user.info.stats,user.info.profile,user.info.basic"}, now=1000.0)
    assert (token.expires_at, token.refresh_expires_at) == (1000.0 + 86400, 1000.0 + 31536000)


def test_the_user_info_answer_gives_the_username_as_the_account_id() -> None:
    body = {
        "data": {"user": {"open_id": "-000ab", "username": "cornerbakery.lyon", "display_name": "Corner Bakery",
                          "follower_count": 12345}},
        "error": {"code": "ok", "message": "", "log_id": "2026"},
    }  # fmt: skip
    assert flow.parse_user(body) == {
        "open_id": "-000ab",
        "username": "cornerbakery.lyon",
        "name": "Corner Bakery",
        "followers": "12345",
    }
    with pytest.raises(flow.ConnectError, match="user.info.profile"):
        flow.parse_user({"data": {"user": {"open_id": "-000ab"}}, "error": {"code": "ok"}})
