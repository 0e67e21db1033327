"""``socialkpi connect x`` end to end against the sandbox: consent, code exchange, discovery, then collect.

The sandbox follows X's docs, https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token:
"Step 1: Construct an Authorize URL [...] https://x.com/i/oauth2/authorize?response_type=code&client_id=...
&redirect_uri=...&scope=tweet.read%20users.read%20offline.access&state=state&code_challenge=challenge
&code_challenge_method=plain"; "Step 3: POST oauth2/token [...] code, grant_type authorization_code,
client_id, redirect_uri, code_verifier"; "Confidential clients [...] use basic authentication"; and
https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code: "you will need to use
http://127.0.0.1 instead of http://localhost" for a local callback.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from socialkpi.cli import main
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from tests.conftest import FAST
from tests.consent import connect, free_port, new_shop, store_of


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, the X app's credentials and the sandbox's address."""
    return new_shop(
        tmp_path,
        monkeypatch,
        {
            "SOCIALKPI_X_BASE_URL": sandbox.url,
            "SOCIALKPI_X_CLIENT_ID": CLIENT_ID,
            "SOCIALKPI_X_CLIENT_SECRET": CLIENT_SECRET,
        },
    )


def test_allow_adds_the_user_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["x", "--port", str(port)], policy=FAST)
    assert run.code == 0, run.stderr
    query = parse_qs(urlsplit(run.url).query)
    assert query["redirect_uri"] == [f"http://127.0.0.1:{port}/callback"]
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) >= 40
    assert query["scope"] == ["tweet.read users.read offline.access"]
    assert run.pressed[0].callback is not None and "Connected" in run.pressed[0].callback.text
    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)  # the owner's file kept as it was, the account appended
    assert 'platform = "x"\nid = "cornerbakery"' in text
    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conn = store.connection("x", "cornerbakery")
    assert conn is not None and conn.token.refresh_token and conn.client_id == CLIENT_ID
    for secret in (conn.token.access_token, conn.token.refresh_token, CLIENT_SECRET):
        assert secret not in text and secret not in run.stdout + run.stderr
    # the code exchange was a confidential client's: HTTP Basic, the PKCE verifier in the form
    exchange = [r for r in sandbox.requests_to(r"/2/oauth2/token") if b"authorization_code" in r.body][0]
    assert (exchange.header("Authorization") or "").startswith("Basic ")
    assert b"code_verifier=" in exchange.body

    monkeypatch.delenv("SOCIALKPI_X_CLIENT_ID")
    monkeypatch.delenv("SOCIALKPI_X_CLIENT_SECRET")
    assert not (shop / ".env").exists()
    assert main(["collect"]) == 0
    assert main(["export", "--out", "obs.csv"]) == 0
    rows = (shop / "obs.csv").read_text().splitlines()
    assert any(",x,cornerbakery,Corner Bakery,false,followers," in r for r in rows)
    assert conn.token.access_token not in (shop / "obs.csv").read_text()


def test_the_stored_token_is_refreshed_by_collect_with_the_stored_client(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connect(["x", "--port", str(free_port())], policy=FAST).code == 0
    store = store_of(shop)
    conn = store.connection("x", "cornerbakery")
    assert conn is not None
    data = json.loads(store.path.read_text())
    data["x/cornerbakery"]["expires_at"] = time.time() - 10  # two hours later
    store.path.write_text(json.dumps(data))
    for name in ("SOCIALKPI_X_CLIENT_ID", "SOCIALKPI_X_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    assert main(["collect"]) == 0
    after = store.connection("x", "cornerbakery")
    assert after is not None and after.token.refresh_token != conn.token.refresh_token  # X rotated it
    assert after.client_id == CLIENT_ID and after.token.expires_at and after.token.expires_at > time.time()


def test_deny_exits_2_and_writes_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["x", "--port", str(free_port())], button="Deny", policy=FAST)
    assert run.code == 2
    assert "consent was refused" in run.stderr and "access_denied" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_state_that_does_not_match_is_refused(shop: Path) -> None:
    def forge(location: str) -> str:
        return location.replace("state=", "state=forged")

    run = connect(["x", "--port", str(free_port())], tamper=forge, policy=FAST)
    assert run.code == 2 and "state does not match" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_code_already_used_is_refused(shop: Path, sandbox: Sandbox) -> None:
    def spend(location: str) -> str:  # someone redeemed the code first
        code = parse_qs(urlsplit(location).query)["code"][0]
        requests.post(
            sandbox.url + "/2/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID, "redirect_uri": "x"},
            timeout=5,
        )
        return location

    run = connect(["x", "--port", str(free_port())], tamper=spend, policy=FAST)
    assert run.code == 2
    assert "authorization code was refused" in run.stderr and "already used" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_wrong_client_secret_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_X_CLIENT_SECRET", "not-the-secret-at-all")
    run = connect(["x", "--port", str(free_port())], policy=FAST)
    assert run.code == 2
    assert "client id or secret was refused" in run.stderr and "SOCIALKPI_X_CLIENT_SECRET" in run.stderr
    assert "not-the-secret-at-all" not in run.stderr
    assert not store_of(shop).path.exists()


def test_nobody_answering_times_out_with_what_to_do(shop: Path) -> None:
    run = connect(["x", "--port", str(free_port()), "--timeout", "0.5"], button=None, policy=FAST)
    assert run.code == 2
    assert "no answer from X within 0.5 s" in run.stderr and "--no-browser" in run.stderr


def test_no_browser_prints_the_url_alone_and_takes_the_pasted_address(shop: Path) -> None:
    run = connect(["x", "--no-browser", "--port", str(free_port())], paste=True, policy=FAST)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [run.url]  # the URL alone on standard output
    assert run.pressed[0].callback is None  # the redirect never reached the loopback: it was pasted
    assert store_of(shop).connection("x", "cornerbakery") is not None


def test_connecting_again_renews_the_token_and_adds_no_duplicate(shop: Path) -> None:
    assert connect(["x", "--port", str(free_port())], policy=FAST).code == 0
    first = store_of(shop).connection("x", "cornerbakery")
    again = connect(["x", "--port", str(free_port())], policy=FAST)
    assert again.code == 0 and "renewed x cornerbakery" in again.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert text.count('id = "cornerbakery"') == 1
    second = store_of(shop).connection("x", "cornerbakery")
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


def test_a_competitor_is_looked_up_and_added(shop: Path) -> None:
    assert connect(["x", "--port", str(free_port())], policy=FAST).code == 0
    run = connect(["x", "--competitor", "https://x.com/rivalpatisserie"], button=None, policy=FAST)
    assert run.code == 0, run.stderr
    assert "Found x rivalpatisserie" in run.stderr and "followers" in run.stderr
    assert (
        'id = "rivalpatisserie"\nname = "Rival Patisserie"\ncompetitor = true' in (shop / "socialkpi.toml").read_text()
    )


def test_a_competitor_that_does_not_exist_adds_nothing(shop: Path) -> None:
    assert connect(["x", "--port", str(free_port())], policy=FAST).code == 0
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["x", "--competitor", "@nosuchbakery"], button=None, policy=FAST)
    assert run.code == 2 and "no account @nosuchbakery" in run.stderr and "Could not find user" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_the_environment_wins_over_the_token_store(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialkpi.credentials import credentials_for
    from socialkpi.settings import load_settings

    assert connect(["x", "--port", str(free_port())], policy=FAST).code == 0
    settings = load_settings()
    account = settings.accounts[0]
    stored = credentials_for(account, settings.env, store_of(shop))
    assert stored.source == "store" and stored.store_key == "cornerbakery" and stored.refresh_token
    monkeypatch.setenv("SOCIALKPI_X_TOKEN", "token-from-the-environment")
    settings = load_settings()
    from_env = credentials_for(account, settings.env, store_of(shop))
    assert from_env.source == "env" and from_env.token == "token-from-the-environment"
    assert from_env.refresh_token is None


def test_the_command_line_prints_the_url_on_its_own_line(shop: Path, sandbox: Sandbox) -> None:
    """The whole command as a script runs it: a process, the URL read from its standard output, the
    redirected address pasted on its standard input."""
    from tests.consent import press

    env = {k: v for k, v in os.environ.items()}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "socialkpi.cli",
            "connect",
            "x",
            "--no-browser",
            "--select",
            "all",
            "--port",
            str(free_port()),
        ],
        cwd=shop,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http") and "/i/oauth2/authorize?" in url
    done = press(url, "Allow", follow=False)
    proc.stdin.write(done.location + "\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "1 account(s) added" in err and out == ""


def test_status_doctor_and_data_health_say_where_the_credential_comes_from(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from warehouse import health

    assert connect(["x", "--port", str(free_port())], policy=FAST).code == 0
    assert main(["collect"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("x ") and "comes" not in x and "token store" in x)
    assert "cornerbakery" in line and "renewed by collect" in line and "renew: socialkpi connect x" in line
    frame = health.credentials(shop / "data" / "socialkpi.duckdb", store_of(shop).path)
    row = frame[frame.account_id == "cornerbakery"].iloc[0]
    assert row.source == "connect" and row.renew == "socialkpi connect x" and row.ends.startswith("renewed by collect")

    monkeypatch.setenv("SOCIALKPI_X_TOKEN", "a-token-set-by-hand")  # the environment wins: status says so
    assert main(["doctor"]) in (0, 1)
    out = capsys.readouterr().out
    assert ".env / environment: SOCIALKPI_X_TOKEN" in out and "a-token-set-by-hand" not in out
    assert main(["collect"]) in (0, 1)  # the sandbox refuses the hand-made token: collect records the source anyway
    frame = health.credentials(shop / "data" / "socialkpi.duckdb", store_of(shop).path)
    assert frame[frame.account_id == "cornerbakery"].iloc[0].source == "env"


def test_a_connection_near_its_end_is_renewed_by_connecting_again(shop: Path) -> None:
    from warehouse.tokens import token_rows, token_warnings

    assert connect(["x", "--port", str(free_port())], policy=FAST).code == 0
    store = store_of(shop)
    data = json.loads(store.path.read_text())
    data["x/cornerbakery"].update(refresh_token=None, expires_at=time.time() + 3 * 86400)  # no way to renew it
    store.path.write_text(json.dumps(data))
    rows = token_rows(shop / "data" / "socialkpi.duckdb", store.path)
    assert [r.account_id for r in rows] == ["cornerbakery"]  # the platform's default alias is not a token
    (warning,) = token_warnings(rows)
    assert warning.message.endswith("run `socialkpi connect x` again.") and ".env" not in warning.message
