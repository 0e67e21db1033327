"""``socialkpi connect threads`` end to end against the sandbox: the authorization window, the code grant,
the 60-day exchange, ``/me``, then ``socialkpi collect`` with nothing but the sandbox's address.

What the sandbox follows (socialkpi/sandbox/threads.py), from Meta's Threads docs:

* https://developers.facebook.com/documentation/threads/get-started/get-access-tokens-and-permissions:
  "https://threads.com/oauth/authorize ?client_id=<THREADS_APP_ID> &redirect_uri=<REDIRECT_URI>
  &scope=<SCOPE> &response_type=code &state=<STATE>"; "scope [...] A comma-separated list, or URL-encoded
  space-separated list [...] threads_basic is required"; "Authorization codes are valid for 1 hour and can
  only be used once"; "https://socialsizzle.herokuapp.com/auth/?code=AQBx-hBsH3...#_" and "#_ will be
  appended to the end of the redirect URI, but it is not part of the code itself"; the code exchange
  "POST https://graph.threads.net/oauth/access_token" with client_id, client_secret, code,
  grant_type=authorization_code and redirect_uri ("This must be the same URI or the request will be
  rejected") answering ``{"access_token": "string", "user_id": "string"}`` (Meta's Postman collection; the
  sandbox sends user_id as a number, which the API also does).
* https://developers.facebook.com/docs/threads/get-started/long-lived-tokens/: "curl -i -X GET
  "https://graph.threads.net/access_token ?grant_type=th_exchange_token &client_secret=<THREADS_APP_SECRET>
  &access_token=<SHORT_LIVED_ACCESS_TOKEN>"" -> "{ "access_token": "<LONG_LIVED_USER_ACCESS_TOKEN>",
  "token_type": "bearer", "expires_in": 5183944 }"; "Long-lived tokens are valid for 60 days and can be
  refreshed as long as they are at least 24 hours old but have not expired".
* https://developers.facebook.com/documentation/threads/threads-profiles: ``GET /me?fields=id,username,name``
  ("id | Threads user ID"); "With standard access, only some of the official Meta accounts can be looked up.
  These include @meta, @threads, @instagram, and @facebook" (``profile_lookup`` needs
  threads_profile_discovery).
* Meta's sample README (github.com/fbsamples/threads_api): "OAuth redirects are only supported over HTTPS";
  issue #32: "I just added `https://127.0.0.1:8080/connection/threads/callback` as the callback url. And when I
  am being redirected to it, I am manually removing the "s" from HTTPS." The tests' browser does the same
  (:func:`by_hand_to_http`), or the landing address is pasted (the default path for a real browser, which
  cannot load an https address on a plain loopback).

Refusals that Threads does not document use Facebook Login's / the Graph API's: the denial
``error=access_denied&error_reason=user_denied``, "Error validating client secret." (code 1), "This
authorization code has been used." (code 100).
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from collectors.tokens import TokenStore
from socialkpi.cli import main
from socialkpi.connect import threads as flow
from socialkpi.connect.flow import ConnectError
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import threads as sb_th
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from socialkpi.sandbox.world import TOKEN
from tests.conftest import FAST
from tests.consent import Run, connect, free_port, new_shop, store_of

OWN = sb_th.OWN_ID  # 7812345678901234, the world's own Threads account


def by_hand_to_http(location: str) -> str:
    """What issue #32 does: the https loopback address opened as http, so the receiver gets it."""
    assert location.startswith("https://127.0.0.1:") or location.startswith("https://localhost:"), location
    return "http://" + location.removeprefix("https://")


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, the Threads app's credentials and the sandbox's address."""
    return new_shop(
        tmp_path,
        monkeypatch,
        {
            "SOCIALKPI_THREADS_BASE_URL": sandbox.url,
            "SOCIALKPI_THREADS_CLIENT_ID": CLIENT_ID,
            "SOCIALKPI_THREADS_CLIENT_SECRET": CLIENT_SECRET,
        },
    )


def connected(*extra: str) -> Run:
    run = connect(["threads", "--port", str(free_port()), *extra], tamper=by_hand_to_http, policy=FAST)
    assert run.code == 0, run.stderr
    return run


def drop_app_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SOCIALKPI_THREADS_CLIENT_ID", "SOCIALKPI_THREADS_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_allow_adds_the_own_account_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    before = (shop / "socialkpi.toml").read_text()
    started = time.time()
    run = connect(["threads", "--port", str(port)], tamper=by_hand_to_http, policy=FAST)
    assert run.code == 0, run.stderr
    query = parse_qs(urlsplit(run.url).query)
    assert run.url.startswith(sandbox.url + "/oauth/authorize?")
    assert query["redirect_uri"] == [f"https://127.0.0.1:{port}/callback"]  # Threads takes https only
    assert query["scope"] == ["threads_basic,threads_manage_insights"]  # comma-separated, as the doc's example
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID] and len(query["state"][0]) >= 40
    assert "code_challenge" not in query  # no PKCE: not among the window's parameters
    assert "https://127.0.0.1" in run.stderr and "paste" in run.stderr  # the person is told what happens next
    assert run.pressed[0].location.endswith("#_")
    assert run.pressed[0].callback is not None and "Connected" in run.pressed[0].callback.text

    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)
    assert f'platform = "threads"\nid = "{OWN}"\nname = "Corner Bakery"' in text
    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conn = store.connection("threads", OWN)
    assert conn is not None and conn.client_id == CLIENT_ID and conn.client_secret is None  # renewing needs no secret
    assert conn.token.refresh_token is None and conn.extra["username"] == sb_th.USERNAME

    # the code grant, then the 60-day exchange of the one-hour token, then /me with the 60-day token
    grant = sandbox.requests_to(r"^/oauth/access_token$")
    assert len(grant) == 1 and grant[0].method == "POST"
    form = parse_qs(grant[0].body.decode())
    assert form["grant_type"] == ["authorization_code"] and form["client_secret"] == [CLIENT_SECRET]
    assert form["redirect_uri"] == [f"https://127.0.0.1:{port}/callback"] and "#" not in form["code"][0]
    exchange = sandbox.requests_to(r"^/access_token$")
    assert len(exchange) == 1 and exchange[0].arg("grant_type") == "th_exchange_token"
    short = exchange[0].arg("access_token") or ""
    assert short.startswith("THQWsandboxshort") and conn.token.access_token.startswith("THQWsandboxlong")
    assert conn.token.expires_at is not None
    assert started + sb_th.TOKEN_LIFETIME - 5 <= conn.token.expires_at <= time.time() + sb_th.TOKEN_LIFETIME
    me = sandbox.requests_to(r"^/v1\.0/me$")
    assert me[-1].bearer() == conn.token.access_token and me[-1].arg("fields") == "id,username,name"
    for secret in (conn.token.access_token, short, CLIENT_SECRET):
        assert secret not in text and secret not in run.stdout + run.stderr

    drop_app_credentials(monkeypatch)
    assert [n for n in os.environ if n.startswith("SOCIALKPI_")] == ["SOCIALKPI_THREADS_BASE_URL"]
    assert not (shop / ".env").exists()
    sandbox.clear()
    assert main(["collect"]) == 0
    assert not sandbox.requests_to(r"/refresh_access_token")  # a token of a moment ago is not renewed (< 24 h)
    assert all(r.bearer() == conn.token.access_token for r in sandbox.requests_to(r"/threads_insights"))
    assert main(["export", "--out", "obs.csv"]) == 0
    rows = (shop / "obs.csv").read_text()
    assert f",threads,{OWN},Corner Bakery,false,followers," in rows
    assert f",threads,{OWN},Corner Bakery,false,profile_views," in rows
    assert conn.token.access_token not in rows


def test_collect_renews_a_connected_token_near_its_end_in_its_own_entry(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected()
    store = store_of(shop)
    data = json.loads(store.path.read_text())
    data[f"threads/{OWN}"]["expires_at"] = time.time() + 10 * 86400  # 50 days later
    store.path.write_text(json.dumps(data))
    old = store.connection("threads", OWN)
    drop_app_credentials(monkeypatch)
    sandbox.clear()
    assert main(["collect"]) == 0
    refresh = sandbox.requests_to(r"^/refresh_access_token$")
    assert len(refresh) == 1 and refresh[0].arg("grant_type") == "th_refresh_token"
    new = store.connection("threads", OWN)
    assert old is not None and new is not None and new.token.access_token != old.token.access_token
    assert new.token.expires_at is not None and new.token.expires_at > time.time() + 59 * 86400
    assert new.client_id == CLIENT_ID and new.extra == old.extra  # the connection is kept, only the token moves
    assert store.get("threads", "SOCIALKPI_THREADS_TOKEN") is None  # not the .env token's entry
    assert sandbox.requests_to(r"/threads_insights")[-1].bearer() == new.token.access_token


def test_a_connected_token_past_its_end_says_to_connect_again(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connected()
    store = store_of(shop)
    data = json.loads(store.path.read_text())
    data[f"threads/{OWN}"]["expires_at"] = time.time() - 3600
    store.path.write_text(json.dumps(data))
    drop_app_credentials(monkeypatch)
    sandbox.clear()
    capsys.readouterr()
    assert main(["collect"]) != 0
    said = capsys.readouterr()
    assert "run `socialkpi connect threads` again" in said.out + said.err
    assert not sandbox.requests_to(r"/threads_insights") and not sandbox.requests_to(r"/refresh_access_token")


def test_a_failed_60_day_exchange_stores_nothing(shop: Path, sandbox: Sandbox) -> None:
    """ "Expired short-lived tokens cannot be exchanged for long-lived tokens": the one-hour token is never
    stored as if it were the 60-day one."""
    before = (shop / "socialkpi.toml").read_text()
    refusal = {"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException",
                         "code": 190, "error_subcode": 463, "fbtrace_id": "AtHrEaDsTrAcE01"}}  # fmt: skip
    sandbox.script(r"^/access_token$", Reply(400, refusal))
    run = connect(["threads", "--port", str(free_port())], tamper=by_hand_to_http, policy=FAST)
    assert run.code == 2
    assert "could not be exchanged for the 60-day one" in run.stderr and "Session has expired" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_deny_exits_2_and_writes_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["threads", "--port", str(free_port())], button="Deny", tamper=by_hand_to_http, policy=FAST)
    assert run.code == 2
    assert "consent was refused" in run.stderr and "access_denied" in run.stderr
    assert len(run.stderr.strip().splitlines()[-1]) > 0 and run.stderr.count("socialkpi: error:") == 1
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_state_that_does_not_match_is_refused(shop: Path) -> None:
    def forge(location: str) -> str:
        return by_hand_to_http(location.replace("state=", "state=forged"))

    run = connect(["threads", "--port", str(free_port())], tamper=forge, policy=FAST)
    assert run.code == 2 and "state does not match" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_code_already_used_is_refused(shop: Path, sandbox: Sandbox) -> None:
    def spend(location: str) -> str:  # someone redeemed the code first
        query = parse_qs(urlsplit(location.split("#", 1)[0]).query)
        first = requests.post(
            sandbox.url + "/oauth/access_token",
            data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": query["code"][0],
                  "grant_type": "authorization_code", "redirect_uri": location.split("?", 1)[0]},
            timeout=5,
        )  # fmt: skip
        assert first.status_code == 200
        return by_hand_to_http(location)

    before = (shop / "socialkpi.toml").read_text()
    run = connect(["threads", "--port", str(free_port())], tamper=spend, policy=FAST)
    assert run.code == 2
    assert "authorization code was refused" in run.stderr and "This authorization code has been used" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_wrong_client_secret_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_THREADS_CLIENT_SECRET", "not-the-secret-at-all")
    run = connect(["threads", "--port", str(free_port())], tamper=by_hand_to_http, policy=FAST)
    assert run.code == 2
    assert "client id or secret was refused" in run.stderr and "Error validating client secret" in run.stderr
    assert "SOCIALKPI_THREADS_CLIENT_SECRET" in run.stderr and "not the Meta app's" in run.stderr
    assert "not-the-secret-at-all" not in run.stderr + run.stdout
    assert not store_of(shop).path.exists()


def test_no_browser_takes_the_pasted_address_with_its_trailing_hash(shop: Path) -> None:
    """A real browser cannot load https://127.0.0.1:<port>/callback: the person pastes the address it
    shows, ``#_`` and all."""
    run = connect(["threads", "--no-browser", "--port", str(free_port())], paste=True, policy=FAST)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [run.url]
    assert run.pressed[0].callback is None and run.pressed[0].location.endswith("#_")
    assert store_of(shop).connection("threads", OWN) is not None


def test_the_redirect_uri_registered_can_be_given(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Keep in mind that the App Dashboard may have added a trailing slash to your URIs": the URI sent is
    byte for byte the one given, in the window and in the exchange."""
    uri = "https://localhost:8443/threads/callback/"
    monkeypatch.setenv("SOCIALKPI_THREADS_REDIRECT_URI", uri)
    run = connect(["threads", "--no-browser", "--port", str(free_port())], paste=True, policy=FAST)
    assert run.code == 0, run.stderr
    assert parse_qs(urlsplit(run.url).query)["redirect_uri"] == [uri]
    assert parse_qs(sandbox.requests_to(r"^/oauth/access_token$")[0].body.decode())["redirect_uri"] == [uri]


def test_connecting_again_renews_the_token_and_adds_no_duplicate(shop: Path) -> None:
    connected()
    first = store_of(shop).connection("threads", OWN)
    again = connected()
    assert f"renewed threads {OWN}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{OWN}"') == 1
    second = store_of(shop).connection("threads", OWN)
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


def test_the_meta_app_variables_are_read_with_a_warning(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ "When creating your app there will be 2 app IDs and app secrets. For Threads API implementation
    purposes, use the Threads app ID and its corresponding app secret." (get-started)"""
    drop_app_credentials(monkeypatch)
    monkeypatch.setenv("SOCIALKPI_META_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SOCIALKPI_META_CLIENT_SECRET", CLIENT_SECRET)
    run = connected()
    assert "Threads app ID and secret, which differ from the Meta app's" in run.stderr


def test_nobody_answering_times_out_with_the_window_errors_explained(shop: Path) -> None:
    run = connect(["threads", "--port", str(free_port()), "--timeout", "0.5"], button=None, policy=FAST)
    assert run.code == 2
    assert "no answer from Threads within 0.5 s" in run.stderr and "1349245 = accept the tester invite" in run.stderr
    assert not store_of(shop).path.exists()


def test_missing_app_credentials_name_the_https_redirect(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drop_app_credentials(monkeypatch)
    run = connect(["threads", "--port", "8765"], button=None, policy=FAST)
    assert run.code == 2
    assert "SOCIALKPI_THREADS_CLIENT_ID" in run.stderr and "https://127.0.0.1:8765/callback" in run.stderr


def test_a_competitor_is_looked_up_and_collected(shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_THREADS_PROFILE_DISCOVERY", "1")
    run = connected()
    assert parse_qs(urlsplit(run.url).query)["scope"] == [
        "threads_basic,threads_manage_insights,threads_profile_discovery"
    ]
    found = connect(["threads", "--competitor", "https://www.threads.com/@rivalpatisserie"], button=None, policy=FAST)
    assert found.code == 0, found.stderr
    assert "Found threads rivalpatisserie" in found.stderr and "followers" in found.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert 'id = "rivalpatisserie"\nname = "Rivalpatisserie"\ncompetitor = true' in text
    lookup = sandbox.requests_to(r"^/v1\.0/profile_lookup$")[-1]
    conn = store_of(shop).connection("threads", OWN)
    assert (
        conn is not None and lookup.bearer() == conn.token.access_token and lookup.arg("username") == "rivalpatisserie"
    )

    drop_app_credentials(monkeypatch)
    monkeypatch.delenv("SOCIALKPI_THREADS_PROFILE_DISCOVERY")
    assert main(["collect"]) == 0
    assert main(["export", "--out", "obs.csv"]) == 0
    assert ",threads,rivalpatisserie,Rivalpatisserie,true,followers," in (shop / "obs.csv").read_text()


def test_a_competitor_that_does_not_exist_adds_nothing(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_THREADS_PROFILE_DISCOVERY", "1")
    connected()
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["threads", "--competitor", "@no_such_bakery"], button=None, policy=FAST)
    assert run.code == 2
    assert "no public Threads profile @no_such_bakery" in run.stderr and "nothing was written" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_a_competitor_without_profile_discovery_says_what_it_needs(shop: Path) -> None:
    connected()  # without SOCIALKPI_THREADS_PROFILE_DISCOVERY: the token has no threads_profile_discovery
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["threads", "--competitor", "rivalpatisserie"], button=None, policy=FAST)
    assert run.code == 2
    assert "SOCIALKPI_THREADS_PROFILE_DISCOVERY=1" in run.stderr and "App Review" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_a_competitor_needs_a_token(shop: Path) -> None:
    run = connect(["threads", "--competitor", "rivalpatisserie"], button=None, policy=FAST)
    assert run.code == 2 and "run `socialkpi connect threads` first" in run.stderr


def test_the_environment_wins_over_the_token_store(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialkpi.credentials import credentials_for
    from socialkpi.settings import load_settings

    connected()
    settings = load_settings()
    account = settings.accounts[0]
    stored = credentials_for(account, settings.env, store_of(shop))
    assert stored.source == "store" and stored.store_key == OWN
    monkeypatch.setenv("SOCIALKPI_THREADS_TOKEN", "token-from-the-environment")
    from_env = credentials_for(account, load_settings().env, store_of(shop))
    assert from_env.source == "env" and from_env.token == "token-from-the-environment"


def test_the_sandbox_window_refuses_what_threads_refuses(sandbox: Sandbox) -> None:
    """The window's own errors never reach the redirect (issue #17: "No application data was given", 1349026)."""
    base = {"response_type": "code", "scope": "threads_basic", "state": "s"}
    wrong_app = requests.get(
        sandbox.url + "/oauth/authorize",
        params={**base, "client_id": "990602627938098", "redirect_uri": "https://127.0.0.1:8765/callback"},
        timeout=5,
    )
    assert wrong_app.json()["error_code"] == 1349026
    http = requests.get(
        sandbox.url + "/oauth/authorize",
        params={**base, "client_id": CLIENT_ID, "redirect_uri": "http://localhost:8765/callback"},
        timeout=5,
    )
    assert http.status_code == 400 and "https only" in http.text


# -- pure parts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("@rivalpatisserie", "rivalpatisserie"),
        ("rival.patisserie_", "rival.patisserie_"),
        ("threads.net/@rivalpatisserie", "rivalpatisserie"),
        ("https://www.threads.com/@rivalpatisserie/post/C8abc", "rivalpatisserie"),
    ],
)
def test_handle_of(text: str, name: str) -> None:
    assert flow.handle_of(text) == name


def test_handle_of_refuses_what_is_no_username() -> None:
    with pytest.raises(ConnectError, match="not a Threads username"):
        flow.handle_of("rival patisserie!")


@pytest.mark.parametrize("user_id", ["7812345678901234", 7812345678901234])
def test_the_code_answer_user_id_may_be_a_string_or_a_number(user_id: object) -> None:
    assert flow.parse_code_answer({"access_token": "THQWshort", "user_id": user_id}) == ("THQWshort", OWN)


def test_the_60_day_token_ends_when_expires_in_says() -> None:
    token = flow.parse_long_lived({"access_token": "THQWlong", "token_type": "bearer", "expires_in": 5183944},
                                  short="THQWshort", now=1000.0)  # fmt: skip
    assert token.expires_at == 1000.0 + 5183944 and token.refresh_token is None
    with pytest.raises(ConnectError, match="without a new access_token"):
        flow.parse_long_lived({"access_token": "THQWshort"}, short="THQWshort")


def graph(message: str, code: int, subcode: int | None = None) -> dict[str, object]:
    err: dict[str, object] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}
    if subcode is not None:
        err["error_subcode"] = subcode
    return {"error": err}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (graph("Error validating client secret.", 1), "invalid_client"),
        (graph("Error validating application. Invalid application ID.", 101), "invalid_client"),
        (graph("This authorization code has been used.", 100, 36009), "invalid_grant"),
        (graph("Error validating verification code. Please make sure your redirect_uri is identical", 100, 36008),
         "invalid_grant"),
        ({"error_message": "No application data was given: ...", "error_code": 1349026}, "invalid_client"),
        ({"error": "invalid_grant", "error_description": "code expired"}, "invalid_grant"),
        (graph("(#4) Application request limit reached", 4), "throttled"),
    ],
)  # fmt: skip
def test_token_errors_are_read_as_rfc_6749_codes(body: dict[str, object], code: str) -> None:
    verdict = flow.token_classify(400, {}, body)
    assert verdict is not None and verdict.code == code


def test_status_doctor_and_data_health_say_where_the_credential_comes_from(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from warehouse import health

    connected()
    drop_app_credentials(monkeypatch)
    assert main(["collect"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("threads ") and "token store" in x)
    assert OWN in line and "renewed by collect while valid" in line and "renew: socialkpi connect threads" in line
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert f"token valid for @{sb_th.USERNAME}, connected token (socialkpi connect threads) expires" in out
    frame = health.credentials(shop / "data" / "socialkpi.duckdb", store_of(shop).path)
    row = frame[frame.account_id == OWN].iloc[0]
    assert row.source == "connect" and row.renew == "socialkpi connect threads"


def test_accounts_sharing_a_connection_renew_it_once(sandbox: Sandbox, tmp_path: Path) -> None:
    """The own account and a competitor read with its connection share one entry: the second takes the
    token the first renewed a moment ago instead of renewing it again."""
    from dataclasses import replace
    from datetime import date

    from collectors import threads as th
    from collectors.tokens import Connection, StoredToken
    from tests.conftest import make_client, make_ctx

    store = TokenStore.beside(tmp_path / "socialkpi.duckdb")
    old = StoredToken(TOKEN, None, time.time() + 5 * 86400)  # 5 days left
    store.save_connections([Connection("threads", OWN, old, client_id=CLIENT_ID, extra={"username": "x"})])
    for account, competitor in ((OWN, False), ("rivalpatisserie", True)):
        ctx = make_ctx("threads", account, sandbox.url, token=old.access_token, competitor=competitor,
                       source="store", store_key=OWN)  # fmt: skip
        with make_client("threads", classify=th.classify) as client:
            th.collect(client, replace(ctx, token_store=store), since=date(2026, 3, 1), until=date(2026, 3, 1))
    assert len(sandbox.requests_to(r"^/refresh_access_token$")) == 1
    kept = store.connection("threads", OWN)
    assert kept is not None and kept.token.access_token != old.access_token and kept.extra == {"username": "x"}
    assert sandbox.requests_to(r"/profile_lookup")[-1].bearer() == kept.token.access_token


def test_the_command_line_takes_the_pasted_landing_address(shop: Path) -> None:
    """The whole command as a script runs it: a process, the URL read from its standard output, the address the
    browser landed on (``https://127.0.0.1:<port>/callback?code=...&state=...#_``) pasted on its standard input."""
    import subprocess
    import sys

    from tests.consent import press

    proc = subprocess.Popen(
        [sys.executable, "-m", "socialkpi.cli", "connect", "threads", "--no-browser", "--port", str(free_port())],
        cwd=shop,
        env=dict(os.environ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http") and "/oauth/authorize?" in url
    done = press(url, "Allow", follow=False)
    assert done.location.startswith("https://127.0.0.1:") and done.location.endswith("#_")
    proc.stdin.write(done.location + "\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "1 account(s) added" in err and out == ""
    assert store_of(shop).connection("threads", OWN) is not None
