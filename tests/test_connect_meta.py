"""``socialkpi connect facebook|instagram`` end to end against the sandbox: the Login Dialog, the code for a user
token, that for the long-lived one, ``/me/accounts`` for the Pages and their Instagram accounts, then collect.

The sandbox follows Meta's docs (quoted below with their URLs) and what Meta is seen to answer:

* https://developers.facebook.com/documentation/facebook-login/guides/advanced/manual-flow: "Your app must
  initiate a redirect to an endpoint which will display the login dialog:
  https://www.facebook.com/v21.0/dialog/oauth? client_id={app-id} &redirect_uri={redirect-uri}
  &state={state-param}"; state "will be passed back to you, unchanged, in your redirect URI"; the Canceled
  Login answer "error_reason=user_denied &error=access_denied &error_description=Permissions+error.", which
  Facebook sends as ``error=access_denied&error_code=200&error_description=Permissions+error
  &error_reason=user_denied#_=_`` (a Facebook iOS SDK unit test; Meta appends ``#_=_`` to its redirects).
* https://developers.facebook.com/documentation/facebook-login/guides/advanced/oidc-token: "Facebook Login
  supports the OpenID Connect (OIDC) standard's Authorization Code flow with Proof Key for Code Exchange
  (PKCE)"; "S256 (Recommended): The code challenge is a Base64URL (with no padding) encoded SHA256 hash of
  the code verifier".
* The code exchange ``GET https://graph.facebook.com/vXX.X/oauth/access_token?client_id&redirect_uri
  &client_secret&code`` -> ``{"access_token", "token_type", "expires_in"}``; its errors in the Graph envelope:
  ``{"error":{"message":"This authorization code has been used.","type":"OAuthException","code":100,
  "error_subcode":36009,"fbtrace_id":"AHtohT4VFYAhX-Ii6g-6xL7"}}`` (laravel/socialite#385) and
  ``{"error":{"message":"Error validating client secret.","type":"OAuthException","code":1,...}}``
  (facebookarchive/php-graph-sdk#538).
* https://developers.facebook.com/documentation/facebook-login/guides/access-tokens/get-long-lived: "A
  long-lived token generally lasts about 60 days"; ``grant_type=fb_exchange_token& client_id={app-id}&
  client_secret={app-secret}& fb_exchange_token={your-access-token}`` -> ``{"access_token":
  "{long-lived-user-access-token}", "token_type": "bearer", "expires_in": 5183944}``.
* https://developers.facebook.com/docs/graph-api/reference/user/accounts: "The Facebook Pages that a person
  owns or is able to perform tasks on"; an answer is ``{"data":[{"access_token":"…","category":"…","name":
  "…","id":"{page-id}","tasks":["ADVERTISE","ANALYZE",...]}],"paging":{"cursors":{"before":"QVFI…","after":
  "QVFI…"}}}`` (qiita.com/te-k); Page tokens from a long-lived user token do not expire
  (https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived), those from a short-lived
  one "are valid for 1 hour"
  (https://developers.facebook.com/documentation/business-sdk/common-scenarios/token-switch).
* https://developers.facebook.com/documentation/instagram-platform/instagram-graph-api/reference/page.md:
  "Returns the IG User connected to the Facebook Page", ``{"instagram_business_account": {"id":
  "17841405822304914"}, "id": "134895793791914"}``.
* Competitors: ``graph.facebook.com/FANPAGE_ID?fields=name,fan_count`` where "FANPAGE_ID can be any FB Page's
  username or page_id" (a Stack Overflow answer); an unknown alias gets "(#803) Some of the aliases you
  requested do not exist", an unknown id "Unsupported get request. Object with ID ... does not exist"
  (100/33); https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/
  business_discovery: "Returns data about another Instagram Business or Creator IG User. Perform this request
  on the Instagram Business or Creator IG User who is making the query" (an unknown username: code 110,
  subcode 2207013, the shape seen in third-party code, assumed).
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from socialkpi.cli import main
from socialkpi.connect import meta as flow
from socialkpi.connect.flow import ConnectError
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import facebook_login as sb_fb_login
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from socialkpi.sandbox.world import TOKEN
from tests.conftest import FAST
from tests.consent import connect, free_port, new_shop, store_of

PAGE, PAGE2 = "104512345678901", "104512345678902"
IG, IG2 = "17841405309211844", "17841405309211845"
RIVAL_PAGE = "209876543210987"
SCOPES = (
    "pages_show_list,pages_read_engagement,read_insights,instagram_basic,instagram_manage_insights,business_management"
)


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, the Meta app's credentials and the sandbox's address."""
    return new_shop(
        tmp_path,
        monkeypatch,
        {
            "SOCIALKPI_FACEBOOK_BASE_URL": sandbox.url,
            "SOCIALKPI_INSTAGRAM_BASE_URL": sandbox.url,
            "SOCIALKPI_META_CLIENT_ID": CLIENT_ID,
            "SOCIALKPI_META_CLIENT_SECRET": CLIENT_SECRET,
        },
    )


def connect_all(platform: str = "facebook", *extra: str, **kwargs: Any) -> Any:
    return connect([platform, "--select", "all", "--port", str(free_port()), *extra], policy=FAST, **kwargs)


def drop_app_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SOCIALKPI_META_CLIENT_ID", "SOCIALKPI_META_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def accounts_in(folder: Path) -> set[tuple[str, str, bool]]:
    """(platform, id, competitor) of every account socialkpi.toml lists (its commented examples aside)."""
    from socialkpi.settings import load_settings

    return {(a.platform, a.id, a.competitor) for a in load_settings(str(folder / "socialkpi.toml")).accounts}


def exported_rows(folder: Path) -> list[str]:
    assert main(["export", "--out", "obs.csv"]) == 0
    return (folder / "obs.csv").read_text().splitlines()


# -- the consent, the exchanges, the discovery ------------------------------------------------------------


def test_allow_adds_the_pages_and_their_instagram_accounts_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["facebook", "--select", "all", "--port", str(port)], policy=FAST)
    assert run.code == 0, run.stderr
    parts = urlsplit(run.url)
    query = parse_qs(parts.query)
    assert parts.path == "/v26.0/dialog/oauth"  # collectors.facebook.VERSION, under the sandbox's root
    assert query["redirect_uri"] == [f"http://localhost:{port}/callback"]
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["scope"] == [SCOPES]  # comma-separated
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) >= 40
    assert run.pressed[0].location.endswith("#_=_")  # Facebook's fragment: never reaches the loopback
    assert run.pressed[0].callback is not None and "Connected" in run.pressed[0].callback.text
    assert "4 account(s) added" in run.stderr

    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)  # the owner's file kept as it was, the accounts appended
    for platform, ident, name in (
        ("facebook", PAGE, "Corner Bakery"),
        ("facebook", PAGE2, "Corner Bakery Croix-Rousse"),
        ("instagram", IG, "Corner Bakery"),
        ("instagram", IG2, "Corner Bakery Croix-Rousse"),
    ):
        assert f'platform = "{platform}"\nid = "{ident}"\nname = "{name}"' in text
    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    for platform, ident, page in (("facebook", PAGE, PAGE), ("facebook", PAGE2, PAGE2), ("instagram", IG, PAGE),
                                  ("instagram", IG2, PAGE2)):  # fmt: skip
        conn = store.connection(platform, ident)
        assert conn is not None and conn.client_id == CLIENT_ID and conn.client_secret is None
        known = sb_fb_login.issued(conn.token.access_token)
        assert known is not None and known.kind == "page" and known.page_id == page  # its Page's token
        assert known.long_lived and known.expires_at is None and conn.token.expires_at is None  # never ends
        assert conn.token.refresh_token is None
        for secret in (conn.token.access_token, CLIENT_SECRET):
            assert secret not in text and secret not in run.stdout + run.stderr
    ig_conn = store.connection("instagram", IG)
    assert ig_conn is not None and ig_conn.extra == {"ig_user_id": IG, "page_id": PAGE}
    assert store.connection("facebook", PAGE) == store.connection("facebook", "", fallback=True)  # the default

    monkeypatch.delenv("SOCIALKPI_META_CLIENT_ID")
    monkeypatch.delenv("SOCIALKPI_META_CLIENT_SECRET")
    assert not (shop / ".env").exists()
    assert not [n for n in os.environ if n.startswith("SOCIALKPI_") and not n.endswith("_BASE_URL")]
    assert main(["collect"]) == 0
    rows = exported_rows(shop)
    for platform, ident in (("facebook", PAGE), ("facebook", PAGE2), ("instagram", IG), ("instagram", IG2)):
        assert any(f",{platform},{ident}," in r and ",followers," in r for r in rows), (platform, ident)
    assert any(f",facebook,{PAGE}," in r and ",impressions," in r for r in rows)  # Page Insights, Page token
    assert any(f",instagram,{IG}," in r and ",reach," in r for r in rows)  # IG insights with the Page's token


def test_the_code_is_exchanged_then_the_user_token_for_the_long_lived_one(shop: Path, sandbox: Sandbox) -> None:
    """Meta's two GETs of /oauth/access_token, in order, and /me/accounts asked with the long-lived token."""
    run = connect_all()
    assert run.code == 0, run.stderr
    first, second = sandbox.requests_to(r"^/v26\.0/oauth/access_token$")
    assert first.method == "GET" and first.arg("code") and first.arg("client_secret") == CLIENT_SECRET
    assert first.arg("redirect_uri") == parse_qs(urlsplit(run.url).query)["redirect_uri"][0]
    assert first.arg("code_verifier") and len(first.arg("code_verifier") or "") >= 43  # PKCE
    assert first.arg("grant_type") is None
    assert second.arg("grant_type") == "fb_exchange_token" and second.arg("client_id") == CLIENT_ID
    short = sb_fb_login.issued(second.arg("fb_exchange_token"))
    assert short is not None and short.kind == "user" and not short.long_lived  # the code's token, exchanged
    (accounts,) = sandbox.requests_to(r"/me/accounts$")
    bearer = (accounts.header("Authorization") or "").removeprefix("Bearer ")
    long = sb_fb_login.issued(bearer)
    assert long is not None and long.kind == "user" and long.long_lived  # the Pages were listed with it
    assert accounts.arg("fields") == flow.ACCOUNT_FIELDS
    assert "access_token" not in accounts.query  # the token in the header, never in the URL


def test_connect_instagram_lists_the_pages_and_their_instagram_accounts(shop: Path) -> None:
    """Without --select and no terminal to ask on, the list is shown and nothing is written."""
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["instagram", "--port", str(free_port())], policy=FAST)
    assert run.code == 2 and "several accounts found and no --select" in run.stderr
    assert "4 account(s) found" in run.stderr
    listed = [line for line in run.stderr.splitlines() if line.strip()[:2] in {"1.", "2.", "3.", "4."}]
    assert [line.split()[1:3] for line in listed] == [
        ["facebook", PAGE],
        ["instagram", IG],
        ["facebook", PAGE2],
        ["instagram", IG2],
    ]
    assert "Instagram @cornerbakerylyon" in run.stderr and "linked to the Page Corner Bakery" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_select_one_instagram_account_adds_only_it(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = connect(["instagram", "--select", IG2, "--port", str(free_port())], policy=FAST)
    assert run.code == 0, run.stderr
    assert accounts_in(shop) == {("instagram", IG2, False)}
    store = store_of(shop)
    assert store.connection("instagram", IG2) is not None and store.connection("facebook", PAGE2) is None
    drop_app_credentials(monkeypatch)
    assert main(["collect"]) == 0
    assert any(f",instagram,{IG2}," in r for r in exported_rows(shop))


def test_the_platform_s_own_app_variables_win_over_the_meta_ones(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_META_CLIENT_ID", "another-app-id")
    monkeypatch.setenv("SOCIALKPI_INSTAGRAM_CLIENT_ID", CLIENT_ID)
    run = connect_all("instagram")
    assert run.code == 0, run.stderr
    assert parse_qs(urlsplit(run.url).query)["client_id"] == [CLIENT_ID]


def test_a_login_for_business_configuration_replaces_the_scopes(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Facebook Login for Business: "the configuration replaces OAuth scopes" (https://nango.dev/docs/api-integrations/facebook-login-for-business/how-to-register-your-own-facebook-login-for-business-api-oauth-app)."""
    monkeypatch.setenv("SOCIALKPI_META_CONFIG_ID", "1234567890123456")
    run = connect_all()
    assert run.code == 0, run.stderr
    query = parse_qs(urlsplit(run.url).query)
    assert "scope" not in query
    assert query["config_id"] == ["1234567890123456"] and query["override_default_response_type"] == ["true"]


def test_the_permissions_asked_can_be_changed(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Page node reference: with a Page role "granted via the Business Manager, one of the following
    permissions is also required: ads_management, ads_read"."""
    monkeypatch.setenv("SOCIALKPI_META_SCOPES", SCOPES + ",ads_read")
    run = connect_all()
    assert run.code == 0, run.stderr
    assert parse_qs(urlsplit(run.url).query)["scope"] == [SCOPES + ",ads_read"]


def test_the_pages_are_read_page_after_page(shop: Path, sandbox: Sandbox) -> None:
    """``paging.next`` present: the ``after`` cursor is asked next; absent: the list is complete."""
    first = {
        "data": [{"id": PAGE, "name": "Corner Bakery", "access_token": TOKEN, "tasks": ["ANALYZE"]}],
        "paging": {
            "cursors": {"before": "QVFIUmJlZm9yZQ", "after": base64.urlsafe_b64encode(PAGE.encode()).decode()},
            "next": sandbox.url + "/v26.0/me/accounts?limit=1&after=elsewhere",
        },
    }
    sandbox.script(r"/me/accounts$", Reply(200, first))
    run = connect_all()
    assert run.code == 0, run.stderr
    asked = sandbox.requests_to(r"/me/accounts$")
    assert [r.arg("after") for r in asked] == [None, first["paging"]["cursors"]["after"]]
    # the scripted first answer did not give the first Page's instagram_business_account
    assert accounts_in(shop) == {("facebook", PAGE, False), ("facebook", PAGE2, False), ("instagram", IG2, False)}


# -- what ends a connect: exit 2, nothing written -------------------------------------------------------


def test_deny_exits_2_and_writes_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["facebook", "--port", str(free_port())], button="Deny", policy=FAST)
    assert run.code == 2
    location = run.pressed[0].location
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["access_denied"] and query["error_code"] == ["200"]
    assert query["error_reason"] == ["user_denied"] and query["error_description"] == ["Permissions error"]
    assert location.endswith("#_=_")
    assert "consent was refused" in run.stderr and "access_denied: Permissions error" in run.stderr
    assert "lacks a permission" in run.stderr  # Facebook answers the same for an app without the permission
    assert len(run.stderr.strip().splitlines()[-1]) > 0 and run.stderr.count("socialkpi: error:") == 1
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_state_that_does_not_match_is_refused(shop: Path) -> None:
    def forge(location: str) -> str:
        return location.replace("state=", "state=forged")

    run = connect(["facebook", "--port", str(free_port())], tamper=forge, policy=FAST)
    assert run.code == 2 and "state does not match" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_code_already_used_is_refused(shop: Path, sandbox: Sandbox) -> None:
    def spend(location: str) -> str:  # someone redeemed the code first
        code = parse_qs(urlsplit(location).query)["code"][0]
        answer = requests.get(
            sandbox.url + "/v26.0/oauth/access_token",
            params={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code, "redirect_uri": "x"},
            timeout=5,
        )
        assert answer.status_code == 400  # another redirect URI: refused, and the code is spent all the same
        return location

    before = (shop / "socialkpi.toml").read_text()
    run = connect(["facebook", "--select", "all", "--port", str(free_port())], tamper=spend, policy=FAST)
    assert run.code == 2
    assert "authorization code was refused (This authorization code has been used. (code 100, subcode 36009))" in (
        run.stderr
    )
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


@pytest.mark.parametrize("variable", ["SOCIALKPI_META_CLIENT_SECRET", "SOCIALKPI_FACEBOOK_CLIENT_SECRET"])
def test_a_wrong_client_secret_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "not-the-app-secret-at-all")
    run = connect(["facebook", "--select", "all", "--port", str(free_port())], policy=FAST)
    assert run.code == 2
    assert "client id or secret was refused (Error validating client secret. (code 1))" in run.stderr
    assert variable in run.stderr and "not-the-app-secret-at-all" not in run.stderr
    assert not store_of(shop).path.exists()


def test_a_failed_long_lived_exchange_stores_nothing(shop: Path, sandbox: Sandbox) -> None:
    """A Page token listed with a short-lived user token lasts an hour: never stored as if it did not end."""
    sandbox.script(
        r"/oauth/access_token$",
        Reply(200, {"access_token": "EAAnot-a-token-the-sandbox-issued", "token_type": "bearer", "expires_in": 5400}),
    )
    run = connect_all()
    assert run.code == 2
    assert "token exchange failed (Invalid OAuth access token - Cannot parse access token (code 190))" in run.stderr
    assert sandbox.requests_to(r"/me/accounts$") == []
    assert not store_of(shop).path.exists()


def test_a_person_with_no_page_gets_a_clear_error(shop: Path, sandbox: Sandbox) -> None:
    sandbox.script(r"/me/accounts$", Reply(200, {"data": []}))
    run = connect_all()
    assert run.code == 2 and "gives access to no account" in run.stderr
    assert not store_of(shop).path.exists()


def test_missing_app_credentials_name_the_variables_and_the_redirect_uri(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop_app_credentials(monkeypatch)
    run = connect_all(button=None)
    assert run.code == 2
    assert "SOCIALKPI_FACEBOOK_CLIENT_ID and SOCIALKPI_FACEBOOK_CLIENT_SECRET" in run.stderr
    assert "http://localhost:" in run.stderr


# -- again, --no-browser, precedence -----------------------------------------------------------------------


def test_connecting_again_renews_the_tokens_and_adds_no_duplicate(shop: Path) -> None:
    assert connect_all().code == 0
    first = store_of(shop).connection("instagram", IG)
    again = connect_all("instagram")
    assert again.code == 0, again.stderr
    assert "0 account(s) added, 4 renewed" in again.stderr and f"renewed instagram {IG}" in again.stderr
    text = (shop / "socialkpi.toml").read_text()
    for ident in (PAGE, PAGE2, IG, IG2):
        assert text.count(f'\nid = "{ident}"') == 1
    assert len(accounts_in(shop)) == 4
    second = store_of(shop).connection("instagram", IG)
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


def test_no_browser_takes_the_pasted_address_with_facebook_s_fragment(shop: Path) -> None:
    run = connect(["facebook", "--no-browser", "--select", PAGE, "--port", str(free_port())], paste=True, policy=FAST)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [run.url]
    assert run.pressed[0].location.endswith("#_=_") and run.pressed[0].callback is None
    assert store_of(shop).connection("facebook", PAGE) is not None


def test_the_browser_s_answer_is_taken_while_standard_input_stays_open_and_silent(shop: Path) -> None:
    """A person at a terminal types nothing: the redirect alone ends the wait (it once waited for Enter)."""
    import io
    import threading

    from socialkpi.cli import build_parser
    from socialkpi.connect import run
    from socialkpi.connect.flow import Terminal
    from tests.consent import press

    args = build_parser().parse_args(["connect", "facebook", "--select", "all", "--port", str(free_port())])
    read_fd, write_fd = os.pipe()
    stdin, writer = os.fdopen(read_fd, "r"), os.fdopen(write_fd, "w")
    err = io.StringIO()
    browser = lambda url: threading.Thread(target=press, args=(url, "Allow"), daemon=True).start()  # noqa: E731
    terminal = Terminal(stdin=stdin, stdout=io.StringIO(), stderr=err, open_browser=browser)
    result: dict[str, int] = {}
    command = threading.Thread(target=lambda: result.setdefault("code", run(args, terminal=terminal, policy=FAST)))
    command.start()
    try:
        command.join(30)
        assert not command.is_alive(), "the command still waits although the browser answered"
    finally:
        writer.close()  # lets a stuck command end
        command.join(30)
        stdin.close()
    assert result["code"] == 0, err.getvalue()
    assert len(accounts_in(shop)) == 4


def test_the_environment_wins_over_the_token_store(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialkpi.credentials import credentials_for
    from socialkpi.settings import load_settings

    assert connect_all().code == 0
    account = next(a for a in load_settings().accounts if a.platform == "instagram")
    stored = credentials_for(account, load_settings().env, store_of(shop))
    assert stored.source == "store" and stored.extra["ig_user_id"] == account.id
    monkeypatch.setenv("SOCIALKPI_INSTAGRAM_TOKEN", "token-from-the-environment")
    from_env = credentials_for(account, load_settings().env, store_of(shop))
    assert from_env.source == "env" and from_env.token == "token-from-the-environment"


def test_doctor_sees_page_tokens_that_do_not_expire(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert connect_all().code == 0
    drop_app_credentials(monkeypatch)
    capsys.readouterr()
    assert main(["doctor"]) in (0, 1)
    out = capsys.readouterr().out
    assert "token valid for @cornerbakerylyon, does not expire" in out
    assert "Page token ok" in out


# -- competitors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "handle", ["https://www.facebook.com/rivalpatisserie/", "rivalpatisserie", RIVAL_PAGE, "@RivalPatisserie"]
)
def test_a_facebook_competitor_is_looked_up_and_collected(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, handle: str
) -> None:
    assert connect_all().code == 0
    sandbox.clear()
    run = connect(["facebook", "--competitor", handle], button=None, policy=FAST)
    assert run.code == 0, run.stderr
    assert f"Found facebook {RIVAL_PAGE}: Rival Patisserie (Facebook Page, " in run.stderr
    (asked,) = sandbox.requests_to(r"^/v26\.0/[^/]+$")
    assert asked.arg("fields") == "id,name,followers_count,fan_count"
    conn = store_of(shop).connection("facebook", "", fallback=True)
    assert conn is not None and asked.header("Authorization") == f"Bearer {conn.token.access_token}"
    text = (shop / "socialkpi.toml").read_text()
    assert f'id = "{RIVAL_PAGE}"\nname = "Rival Patisserie"\ncompetitor = true' in text
    drop_app_credentials(monkeypatch)
    assert main(["collect"]) == 0
    assert any(f",facebook,{RIVAL_PAGE},Rival Patisserie,true,followers," in r for r in exported_rows(shop))


@pytest.mark.parametrize(
    ("handle", "said"),
    [
        ("nosuchbakery", "(#803) Some of the aliases you requested do not exist: nosuchbakery"),
        ("https://www.facebook.com/profile.php?id=100000000000001", "Object with ID '100000000000001' does not exist"),
    ],
)
def test_a_facebook_competitor_that_does_not_resolve_adds_nothing(shop: Path, handle: str, said: str) -> None:
    assert connect_all().code == 0
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["facebook", "--competitor", handle], button=None, policy=FAST)
    assert run.code == 2 and "no Facebook Page" in run.stderr and said in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_an_instagram_competitor_is_found_by_business_discovery(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connect_all("instagram").code == 0
    sandbox.clear()
    run = connect(["instagram", "--competitor", "https://www.instagram.com/rivalpatisserie/?hl=fr"], button=None,
                  policy=FAST)  # fmt: skip
    assert run.code == 0, run.stderr
    assert "Found instagram rivalpatisserie" in run.stderr and "followers" in run.stderr
    # asked on the connected Instagram account, known from the connection: no /me round trip
    assert [r.path for r in sandbox.requests] == [f"/v26.0/{IG}"]
    assert sandbox.requests[0].arg("fields") == (
        "business_discovery.username(rivalpatisserie){username,followers_count,media_count}"
    )
    assert (
        'id = "rivalpatisserie"\nname = "rivalpatisserie"\ncompetitor = true' in (shop / "socialkpi.toml").read_text()
    )
    drop_app_credentials(monkeypatch)
    assert main(["collect"]) == 0
    assert any(",instagram,rivalpatisserie,rivalpatisserie,true,followers," in r for r in exported_rows(shop))


def test_an_instagram_competitor_that_does_not_resolve_adds_nothing(shop: Path) -> None:
    assert connect_all("instagram").code == 0
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["instagram", "--competitor", "@no_such_bakery"], button=None, policy=FAST)
    assert run.code == 2
    assert "no Instagram professional account @no_such_bakery" in run.stderr
    assert "The user with username: no_such_bakery cannot be found; personal accounts" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_an_instagram_competitor_with_a_token_from_the_environment(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection: SOCIALKPI_INSTAGRAM_TOKEN (a Page token) and its Page's linked account, found through /me."""
    monkeypatch.setenv("SOCIALKPI_INSTAGRAM_TOKEN", TOKEN)
    run = connect(["instagram", "--competitor", "rivalpatisserie"], button=None, policy=FAST)
    assert run.code == 0, run.stderr
    assert 'id = "rivalpatisserie"' in (shop / "socialkpi.toml").read_text()


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_a_competitor_needs_a_token(shop: Path, platform: str) -> None:
    run = connect([platform, "--competitor", "rivalpatisserie"], button=None, policy=FAST)
    assert run.code == 2 and f"run `socialkpi connect {platform}` first" in run.stderr


# -- pure parts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("209876543210987", "209876543210987"),
        ("rivalpatisserie", "rivalpatisserie"),
        ("@rival.patisserie", "rival.patisserie"),
        ("facebook.com/rivalpatisserie", "rivalpatisserie"),
        ("https://www.facebook.com/rivalpatisserie/?ref=bookmarks", "rivalpatisserie"),
        ("https://m.facebook.com/profile.php?id=209876543210987", "209876543210987"),
        ("https://www.facebook.com/pages/Rival-Patisserie/209876543210987", "209876543210987"),
        ("https://www.facebook.com/p/Rival-Patisserie-100063512345678/", "100063512345678"),
    ],
)
def test_page_of(text: str, node: str) -> None:
    assert flow.page_of(text) == node


@pytest.mark.parametrize("text", ["", "rival patisserie", "https://www.facebook.com/", "me", "a/b?c"])
def test_page_of_refuses_what_is_no_page(text: str) -> None:
    with pytest.raises(ConnectError):
        flow.page_of(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [("@rival.patisserie", "rival.patisserie"), ("instagram.com/rival_p", "rival_p"),
     ("https://www.instagram.com/rivalpatisserie/?hl=fr", "rivalpatisserie")],
)  # fmt: skip
def test_ig_username_of(text: str, name: str) -> None:
    assert flow.ig_username_of(text) == name


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"error": {"message": "This authorization code has been used.", "type": "OAuthException", "code": 100,
                    "error_subcode": 36009, "fbtrace_id": "AHtohT4VFYAhX-Ii6g-6xL7"}}, "invalid_grant"),
        ({"error": {"message": "This authorization code has expired.", "type": "OAuthException", "code": 100}},
         "invalid_grant"),
        ({"error": {"message": "Error validating verification code. Please make sure your redirect_uri is identical "
                    "to the one you used in the OAuth dialog request", "type": "OAuthException", "code": 100,
                    "error_subcode": 36008}}, "invalid_grant"),
        ({"error": {"message": "Error validating client secret.", "type": "OAuthException", "code": 1,
                    "fbtrace_id": "F0n/KYH+Z5K"}}, "invalid_client"),
        ({"error": {"message": "Error validating application. Invalid application ID.", "type": "OAuthException",
                    "code": 101}}, "invalid_client"),
        ({"error": {"message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException",
                    "code": 190}}, "invalid_token"),
    ],
)  # fmt: skip
def test_token_errors_are_read_from_meta_s_envelope(body: dict[str, Any], code: str) -> None:
    verdict = flow.token_classify(400, {}, body)
    assert verdict is not None and verdict.code == code


def test_parse_accounts_keeps_pages_with_a_token_and_their_instagram_accounts() -> None:
    entries = [
        {"id": PAGE, "name": "Corner Bakery", "access_token": "EAApage1", "followers_count": 4812,
         "tasks": ["ANALYZE", "MANAGE"], "instagram_business_account": {"id": IG, "username": "cornerbakerylyon"}},
        {"id": PAGE2, "name": "No token here"},  # no task that gives a Page token
        {"id": "104512345678903", "name": "Moderated only", "access_token": "EAApage3", "tasks": ["MODERATE"]},
    ]  # fmt: skip
    found = flow.parse_accounts(entries, client_id="app")
    assert [(f.account.platform, f.account.id) for f in found] == [
        ("facebook", PAGE),
        ("instagram", IG),
        ("facebook", "104512345678903"),
    ]
    assert found[0].detail == "Facebook Page, 4,812 followers"
    assert found[1].token == found[0].token and found[1].extra == {"ig_user_id": IG, "page_id": PAGE}
    assert found[1].account.name == "cornerbakerylyon"
    assert "no ANALYZE task" in found[2].detail
    assert all(f.token is not None and f.token.expires_at is None for f in found)


# -- the sandbox refuses what Facebook refuses -------------------------------------------------------------------


def test_the_sandbox_dialog_refuses_what_facebook_refuses(sandbox: Sandbox) -> None:
    url = sandbox.url + "/v26.0/dialog/oauth"
    good = {"client_id": CLIENT_ID, "redirect_uri": "http://localhost:8765/callback", "state": "s",
            "response_type": "code", "scope": "pages_show_list"}  # fmt: skip
    assert requests.get(url, params=good, timeout=5).status_code == 200
    for change, said in (
        ({"client_id": "123"}, "Invalid App ID"),
        ({"redirect_uri": "https://example.com/callback"}, "URL Blocked"),
        ({"scope": "pages_show_list,publish_everything"}, "Invalid Scopes: publish_everything"),
    ):
        page = requests.get(url, params={**good, **change}, timeout=5)
        assert page.status_code == 400 and said in page.text
    page_token = sandbox.url + "/v26.0/me/accounts"
    answer = requests.get(page_token, headers={"Authorization": "Bearer not-a-token"}, timeout=5)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 190
