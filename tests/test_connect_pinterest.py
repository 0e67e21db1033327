"""``socialkpi connect pinterest`` end to end against the sandbox: consent, code exchange, discovery, then collect.

The sandbox follows Pinterest's OpenAPI description (github.com/pinterest/api-description, ``v5/openapi.yaml``
5.23.0) and its official quickstart (github.com/pinterest/api-quickstart):

* ``securitySchemes.pinterest_oauth2.flows.authorizationCode``: "authorizationUrl:
  'https://www.pinterest.com/oauth/'", "tokenUrl: 'https://api.pinterest.com/v5/oauth/token'"; the
  quickstart joins the scopes with ``","`` and says "The REDIRECT_URI must be literally the same as
  configured at https://developers.pinterest.com/apps/".
* ``/oauth/token``: "security: - basic: []", ``application/x-www-form-urlencoded``, schema
  ``OauthAccessTokenRequestCode`` ("required: - code - redirect_uri", ``grant_type: authorization_code``);
  "If your app was created before September 25, 2025, make sure to set the continuous_refresh parameter to
  true to use the continuous refresh token (60-day expiration, refreshable indefinitely)".  The answer,
  ``OauthAccessTokenResponseCode``: ``access_token``, ``refresh_token``, ``response_type``,
  ``token_type``, ``expires_in``, ``refresh_token_expires_in``, ``refresh_token_expires_at``, ``scope``;
  the quickstart's test fixture has ``"expires_in": "2592000"`` (a string).
* Errors: schema ``Error`` ``{code, message}``; "'401': description: Client authentication error. ...
  example: code: 2 message: Authentication failed." (``/oauth/token/revoke``, same Basic auth).  The code
  for a used authorization code is not documented: the sandbox answers ``{"code": 283, "message": "The
  authorization grant is invalid"}``, as its refresh grant does for a dead refresh token.
* ``GET /v5/user_account`` and ``GET /v5/user_account/analytics``: "security: - pinterest_oauth2: -
  'user_accounts:read'", the one scope asked for.
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
from socialkpi.connect import pinterest as flow
from socialkpi.connect.flow import ConnectError
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox import pinterest as sb_pinterest
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from tests.conftest import FAST
from tests.consent import Run, connect, free_port, new_shop, store_of

USERNAME = sb_pinterest.USERNAME


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, the Pinterest app's credentials and the sandbox's address."""
    return new_shop(
        tmp_path,
        monkeypatch,
        {
            "SOCIALKPI_PINTEREST_BASE_URL": sandbox.url,
            "SOCIALKPI_PINTEREST_CLIENT_ID": CLIENT_ID,
            "SOCIALKPI_PINTEREST_CLIENT_SECRET": CLIENT_SECRET,
        },
    )


def run(*argv: str, **kwargs: Any) -> Run:
    return connect(["pinterest", "--port", str(free_port()), *argv], policy=FAST, **kwargs)


def no_app_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIALKPI_PINTEREST_CLIENT_ID")
    monkeypatch.delenv("SOCIALKPI_PINTEREST_CLIENT_SECRET")
    assert not (Path.cwd() / ".env").exists()
    assert [n for n in os.environ if n.startswith("SOCIALKPI_")] == ["SOCIALKPI_PINTEREST_BASE_URL"]


def exported(folder: Path) -> list[str]:
    assert main(["export", "--out", "obs.csv"]) == 0
    return (folder / "obs.csv").read_text().splitlines()


def test_allow_adds_the_account_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    before = (shop / "socialkpi.toml").read_text()
    done = connect(["pinterest", "--port", str(port)], policy=FAST)
    assert done.code == 0, done.stderr
    parts = urlsplit(done.url)
    query = parse_qs(parts.query)
    assert parts.path == "/oauth/" and query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"http://localhost:{port}/callback"]
    assert query["scope"] == ["user_accounts:read"] and len(query["state"][0]) >= 40
    assert "code_challenge" not in query  # PKCE is not documented by Pinterest
    assert done.pressed[0].callback is not None and "Connected" in done.pressed[0].callback.text
    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)
    assert f'platform = "pinterest"\nid = "{USERNAME}"\nname = "Corner Bakery Lyon"' in text
    assert "business account" in done.stderr and "followers" in done.stderr

    # the exchange: HTTP Basic app id:secret, the form of OauthAccessTokenRequestCode + continuous_refresh
    (exchange,) = sandbox.requests_to(r"/v5/oauth/token")
    assert (exchange.header("Authorization") or "").startswith("Basic ")
    form = exchange.form()
    assert form["grant_type"] == "authorization_code" and form["continuous_refresh"] == "true"
    assert form["redirect_uri"] == f"http://localhost:{port}/callback"
    assert "client_secret" not in form and "client_id" not in form
    assert sandbox.requests_to(r"/v5/user_account$")

    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conn = store.connection("pinterest", USERNAME)
    assert conn is not None and conn.client_id == CLIENT_ID and conn.client_secret == CLIENT_SECRET
    assert conn.token.refresh_token and conn.token.refresh_token.startswith("pinr_")
    assert conn.token.expires_at == pytest.approx(time.time() + 2592000, abs=120)  # "2592000", a string
    assert conn.token.refresh_expires_at == pytest.approx(time.time() + 60 * 86400, abs=120)
    for secret in (conn.token.access_token, conn.token.refresh_token, CLIENT_SECRET):
        assert secret not in text and secret not in done.stdout + done.stderr

    no_app_in_env(monkeypatch)
    assert main(["collect"]) == 0
    rows = exported(shop)
    assert any(f",pinterest,{USERNAME},Corner Bakery Lyon,false,followers," in r for r in rows)
    assert any(f",pinterest,{USERNAME},Corner Bakery Lyon,false,impressions," in r for r in rows)
    assert conn.token.access_token not in (shop / "obs.csv").read_text()


def test_the_stored_token_is_refreshed_by_collect_with_the_stored_client(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run().code == 0
    store = store_of(shop)
    conn = store.connection("pinterest", USERNAME)
    assert conn is not None
    data = json.loads(store.path.read_text())
    data[f"pinterest/{USERNAME}"]["expires_at"] = time.time() - 10  # 30 days later
    store.path.write_text(json.dumps(data))
    no_app_in_env(monkeypatch)
    sandbox.clear()
    assert main(["collect"]) == 0
    (refresh,) = sandbox.requests_to(r"/v5/oauth/token")
    assert (
        refresh.form()["grant_type"] == "refresh_token" and refresh.form()["refresh_token"] == conn.token.refresh_token
    )
    import base64

    assert (
        refresh.header("Authorization") == "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    )
    after = store.connection("pinterest", USERNAME)
    assert after is not None and after.token.refresh_token != conn.token.refresh_token  # continuous: a new one
    assert after.token.expires_at and after.token.expires_at > time.time() + 29 * 86400
    assert after.client_id == CLIENT_ID and after.client_secret == CLIENT_SECRET


def test_a_refused_refresh_of_a_connection_says_to_connect_again(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run().code == 0
    store = store_of(shop)
    data = json.loads(store.path.read_text())
    entry = data[f"pinterest/{USERNAME}"]
    entry["expires_at"], entry["refresh_token"] = time.time() - 10, "pinr_revoked-by-the-owner"
    store.path.write_text(json.dumps(data))
    with sb_pinterest._lock:
        sb_pinterest._issued.pop(entry["access_token"], None)  # Pinterest no longer takes it either
    no_app_in_env(monkeypatch)
    capsys.readouterr()
    assert main(["collect"]) == 1
    err = capsys.readouterr().err
    assert "The authorization grant is invalid" in err and "run `socialkpi connect pinterest` again" in err
    assert "SOCIALKPI_PINTEREST_REFRESH_TOKEN" not in err and "pinr_revoked-by-the-owner" not in err


def test_deny_exits_2_and_writes_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    done = run(button="Deny")
    assert done.code == 2 and "consent was refused" in done.stderr and "access_denied" in done.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_state_that_does_not_match_is_refused(shop: Path) -> None:
    done = run(tamper=lambda location: location.replace("state=", "state=forged"))
    assert done.code == 2 and "state does not match" in done.stderr
    assert not store_of(shop).path.exists()


def test_a_code_already_used_is_refused(shop: Path, sandbox: Sandbox) -> None:
    def spend(location: str) -> str:  # someone redeemed the code first
        first = requests.post(
            sandbox.url + "/v5/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": parse_qs(urlsplit(location).query)["code"][0],
                "redirect_uri": location.split("?", 1)[0],
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=5,
        )
        assert first.status_code == 200
        return location

    done = run(tamper=spend)
    assert done.code == 2
    assert "authorization code was refused" in done.stderr and "already used" in done.stderr
    assert "The authorization grant is invalid (code 283)" in done.stderr
    assert not store_of(shop).path.exists()


def test_a_wrong_client_secret_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_PINTEREST_CLIENT_SECRET", "not-the-secret-at-all")
    done = run()
    assert done.code == 2
    assert "client id or secret was refused" in done.stderr and "Authentication failed. (code 2)" in done.stderr
    assert "SOCIALKPI_PINTEREST_CLIENT_SECRET" in done.stderr and "not-the-secret-at-all" not in done.stderr
    assert not store_of(shop).path.exists()


def test_no_browser_prints_the_url_alone_and_takes_the_pasted_address(shop: Path) -> None:
    done = connect(["pinterest", "--no-browser", "--port", str(free_port())], paste=True, policy=FAST)
    assert done.code == 0, done.stderr
    assert done.stdout.splitlines() == [done.url]
    assert store_of(shop).connection("pinterest", USERNAME) is not None


def test_connecting_again_renews_the_token_and_adds_no_duplicate(shop: Path) -> None:
    assert run().code == 0
    first = store_of(shop).connection("pinterest", USERNAME)
    again = run()
    assert again.code == 0 and f"renewed pinterest {USERNAME}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{USERNAME}"') == 1
    second = store_of(shop).connection("pinterest", USERNAME)
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


def test_a_competitor_is_refused_with_the_reason(shop: Path) -> None:
    assert run().code == 0
    before = (shop / "socialkpi.toml").read_text()
    stored = store_of(shop).path.read_text()
    done = run("--competitor", "rivalpatisserie", button=None)
    assert done.code == 2
    (line,) = done.stderr.strip().splitlines()
    assert line == (
        "socialkpi: error: pinterest: 'rivalpatisserie' cannot be added as a competitor: Pinterest's API has no "
        "public profile lookup: only the token's own account can be collected; nothing was written"
    )
    assert (shop / "socialkpi.toml").read_text() == before and store_of(shop).path.read_text() == stored


# -- pure parts ------------------------------------------------------------------------------------


def test_token_answers_with_numbers_as_strings() -> None:
    token = flow.parse_token(
        {
            "access_token": "pina_x",
            "refresh_token": "pinr_x",
            "expires_in": "2592000",
            "refresh_token_expires_in": "5184000",
        },
        now=0,
    )
    assert token.expires_at == 2592000 and token.refresh_expires_at == 5184000
    token = flow.parse_token(
        {"access_token": "pina_x", "refresh_token": "pinr_x", "expires_in": 2592000, "refresh_token_expires_at": 99},
        now=0,
    )
    assert token.refresh_expires_at == 99
    with pytest.raises(ConnectError, match="no refresh token"):
        flow.parse_token({"access_token": "pina_x", "expires_in": 2592000})


def test_pinterest_token_errors_map_to_the_frameworks_causes() -> None:
    assert flow.token_classify(401, {}, {"code": 2, "message": "Authentication failed."}).code == "invalid_client"
    refused = flow.token_classify(400, {}, {"code": 283, "message": "The authorization grant is invalid"})
    assert refused.kind == "bad_request" and refused.code == "invalid_grant"
    assert flow.token_classify(401, {}, {"code": 283, "message": "The authorization grant is invalid"}).kind == (
        "bad_request"
    )
    assert flow.token_classify(503, {}, {"code": 4197, "message": "ramped down"}).kind == "server"
    assert flow.token_classify(200, {}, {}) is None


def test_a_personal_account_without_a_business_name_is_named_by_its_username() -> None:
    account = flow.parse_account({"username": "someone", "account_type": "PINNER", "business_name": None})
    assert account == {"username": "someone", "name": "someone", "type": "PINNER", "followers": ""}
