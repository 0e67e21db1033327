"""``socialkpi connect mastodon`` end to end against the sandbox: app registration, consent, token, collect.

The sandbox follows Mastodon's docs:

* https://docs.joinmastodon.org/methods/apps/#create: ``POST /api/v1/apps`` with ``client_name`` ("A name for
  your application"), ``redirect_uris`` ("Where the user should be redirected after authorization"),
  ``scopes`` ("Space separated list of scopes. If none is provided, defaults to ``read``") and ``website``;
  the answer has ``client_id``, ``client_secret``, ``redirect_uris`` (an array) and
  ``"client_secret_expires_at": 0``; 422 ``{"error": "Validation failed: Redirect URI must be an absolute
  URI."}``.
* https://docs.joinmastodon.org/methods/oauth/#authorize: "4.3.0 - added support for PKCE parameters",
  ``code_challenge_method`` "Must be ``S256``"; ``redirect_uri`` "Must match one of the ``redirect_uris``
  declared during app registration"; https://docs.joinmastodon.org/methods/oauth/#authorization-server-metadata:
  "On Mastodon versions before 4.3.0, requesting this endpoint will result in a ``404 Not Found`` error."
* https://docs.joinmastodon.org/methods/oauth/#token: ``{"access_token": ..., "token_type": "Bearer",
  "scope": ..., "created_at": ...}``; ``invalid_grant`` "The provided authorization grant is invalid,
  expired, revoked, does not match the redirection URI used in the authorization request, or was issued to
  another client."; https://docs.joinmastodon.org/api/oauth-tokens/: "Tokens will not expire automatically."
* https://docs.joinmastodon.org/methods/accounts/#verify_credentials ("User token + ``profile`` or
  ``read:accounts``") and #lookup (404 ``{"error": "Record not found"}``; the controller's
  ``authorize_if_got_token! :read, :'read:accounts'``: public, a token sent must have one of those).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from collectors import mastodon as collector
from collectors.context import Credentials
from socialkpi.cli import main
from socialkpi.connect import mastodon as flow
from socialkpi.connect.flow import ConnectError
from socialkpi.sandbox import Reply, Sandbox, oauth
from tests.conftest import FAST
from tests.consent import connect, free_port, new_shop, store_of

OWN = "cornerbakery@mastodon.social"
LOOKUP = r"/api/v1/accounts/lookup"


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, only the sandbox's address (no app to create)."""
    return new_shop(tmp_path, monkeypatch, {"SOCIALKPI_MASTODON_BASE_URL": sandbox.url})


def signin(*extra: str) -> list[str]:
    return ["mastodon", "--instance", "mastodon.social", "--port", str(free_port()), *extra]


def exported(folder: Path) -> list[str]:
    assert main(["export", "--out", "obs.csv"]) == 0
    return (folder / "obs.csv").read_text().splitlines()


def test_allow_registers_the_app_adds_the_account_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox
) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(signin(), policy=FAST)
    assert run.code == 0, run.stderr
    port = int(run.url.split("localhost%3A")[1].split("%2F")[0])
    [registered] = sandbox.requests_to(r"/api/v1/apps")
    assert registered.json() == {
        "client_name": "socialkpi",
        "redirect_uris": f"http://localhost:{port}/callback",
        "scopes": "read:accounts",
        "website": "https://github.com/socialkpi/socialkpi",
    }
    query = parse_qs(urlsplit(run.url).query)
    assert urlsplit(run.url).path == "/oauth/authorize"
    assert query["redirect_uri"] == [f"http://localhost:{port}/callback"] and query["response_type"] == ["code"]
    assert query["scope"] == ["read:accounts"] and len(query["state"][0]) >= 40
    assert query["code_challenge_method"] == ["S256"]  # the instance's metadata lists S256 (4.3+)
    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)
    assert f'platform = "mastodon"\nid = "{OWN}"\nname = "Corner Bakery"\ncompetitor = false' in text
    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conn = store.connection("mastodon", OWN)
    assert conn is not None and conn.token.expires_at is None and conn.token.refresh_token is None
    assert conn.client_id == query["client_id"][0] and conn.client_secret
    assert conn.base_url == "https://mastodon.social" and conn.extra == {"instance": "mastodon.social"}
    for secret in (conn.token.access_token, conn.client_secret):
        assert secret not in text and secret not in run.stdout + run.stderr
    exchange = sandbox.requests_to(r"/oauth/token")[0].form()
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]
    assert exchange["client_secret"] == conn.client_secret and exchange["redirect_uri"] == query["redirect_uri"][0]

    sandbox.clear()
    assert not (shop / ".env").exists()
    assert [k for k in os.environ if k.startswith("SOCIALKPI_")] == ["SOCIALKPI_MASTODON_BASE_URL"]
    assert main(["collect"]) == 0
    assert any(f",mastodon,{OWN},Corner Bakery,false,followers," in r for r in exported(shop))
    [looked_up] = sandbox.requests_to(LOOKUP)
    assert looked_up.query == {"acct": ["cornerbakery"]}
    assert looked_up.header("Authorization") == f"Bearer {conn.token.access_token}"


def test_an_instance_older_than_4_3_gets_no_pkce(shop: Path, sandbox: Sandbox) -> None:
    """Before 4.3 the metadata answers 404 and PKCE is not supported: the flow goes on without it."""
    sandbox.script(r"/\.well-known/oauth-authorization-server", Reply(404, {"error": "Not Found"}))
    run = connect(signin(), policy=FAST)
    assert run.code == 0, run.stderr
    query = parse_qs(urlsplit(run.url).query)
    assert "code_challenge" not in query and "code_challenge_method" not in query
    assert "code_verifier" not in sandbox.requests_to(r"/oauth/token")[0].form()
    assert store_of(shop).connection("mastodon", OWN) is not None


def test_deny_exits_2_and_writes_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(signin(), button="Deny", policy=FAST)
    assert run.code == 2
    assert "consent was refused" in run.stderr and "access_denied" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_state_that_does_not_match_is_refused(shop: Path) -> None:
    run = connect(signin(), tamper=lambda loc: loc.replace("state=", "state=forged"), policy=FAST)
    assert run.code == 2 and "state does not match" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_code_already_used_is_refused(shop: Path) -> None:
    """The app's secret is minted by the instance, so the refusals to test are the code's: one used already."""

    def spend(location: str) -> str:  # someone redeemed the code first
        oauth.redeem("mastodon", parse_qs(urlsplit(location).query)["code"][0], client_id=None, redirect_uri=None)
        return location

    before = (shop / "socialkpi.toml").read_text()
    run = connect(signin(), tamper=spend, policy=FAST)
    assert run.code == 2
    assert "authorization code was refused" in run.stderr and "invalid_grant" in run.stderr
    assert "--instance mastodon.social" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before and not store_of(shop).path.exists()


def test_a_code_the_instance_never_issued_is_refused(shop: Path) -> None:
    run = connect(signin(), tamper=lambda loc: loc.replace("code=", "code=forged"), policy=FAST)
    assert run.code == 2 and "authorization code was refused" in run.stderr
    assert not store_of(shop).path.exists()


def test_an_app_registration_the_instance_refuses_is_named(shop: Path, sandbox: Sandbox) -> None:
    sandbox.script(r"/api/v1/apps", Reply(422, {"error": "Validation failed: Redirect URI must be an absolute URI."}))
    run = connect(signin(), button=None, policy=FAST)
    assert run.code == 2
    assert "mastodon.social did not register socialkpi's app" in run.stderr
    assert "Redirect URI must be an absolute URI" in run.stderr
    assert run.stdout == ""  # no consent page shown
    assert not store_of(shop).path.exists()


def test_connecting_again_renews_the_token_and_adds_no_duplicate(shop: Path) -> None:
    assert connect(signin(), policy=FAST).code == 0
    first = store_of(shop).connection("mastodon", OWN)
    again = connect(signin("--select", "all"), policy=FAST)
    assert again.code == 0 and f"renewed mastodon {OWN}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{OWN}"') == 1
    second = store_of(shop).connection("mastodon", OWN)
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


def test_no_browser_prints_the_url_alone_and_takes_the_pasted_address(shop: Path) -> None:
    run = connect(signin("--no-browser"), paste=True, policy=FAST)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [run.url]
    assert run.pressed[0].callback is None
    assert store_of(shop).connection("mastodon", OWN) is not None


def test_without_an_instance_the_command_says_how_to_give_it(shop: Path) -> None:
    run = connect(["mastodon", "--port", str(free_port())], button=None, policy=FAST)
    assert run.code == 2 and "pass --instance HOST" in run.stderr and "--select USER@HOST" in run.stderr


# -- no token at all: the public numbers need none --------------------------------------------------------


def test_select_user_at_host_adds_the_account_without_a_token(shop: Path, sandbox: Sandbox) -> None:
    run = connect(["mastodon", "--select", "@CornerBakery@mastodon.social"], button=None, policy=FAST)
    assert run.code == 0, run.stderr
    assert run.stdout == "" and not sandbox.requests_to(r"/api/v1/apps")  # nothing to authorize
    assert "followers" in run.stderr
    assert f'id = "{OWN}"\nname = "Corner Bakery"' in (shop / "socialkpi.toml").read_text()  # the server's spelling
    assert not store_of(shop).path.exists()
    sandbox.clear()
    assert main(["collect"]) == 0
    assert any(f",mastodon,{OWN},Corner Bakery,false,followers," in r for r in exported(shop))
    assert all(r.header("Authorization") is None for r in sandbox.requests_to(LOOKUP))


def test_select_a_bare_username_asks_for_the_whole_id(shop: Path) -> None:
    run = connect(["mastodon", "--instance", "mastodon.social", "--select", "cornerbakery"], button=None)
    assert run.code == 2 and "--select cornerbakery@mastodon.social" in run.stderr


def test_select_an_account_that_does_not_exist_adds_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["mastodon", "--select", "unknownbakery@mastodon.social"], button=None, policy=FAST)
    assert run.code == 2
    assert "no account @unknownbakery@mastodon.social (Record not found)" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_an_instance_refusing_public_calls_says_to_sign_in(shop: Path, sandbox: Sandbox) -> None:
    sandbox.script(LOOKUP, Reply(401, {"error": "This API requires an authenticated user"}))
    run = connect(["mastodon", "--select", OWN], button=None, policy=FAST)
    assert run.code == 2
    assert "refuses unauthenticated API calls" in run.stderr
    assert "socialkpi connect mastodon --instance mastodon.social" in run.stderr


# -- competitors ------------------------------------------------------------------------------------------


def test_a_competitor_is_looked_up_on_its_own_instance_and_collected_without_the_own_token(
    shop: Path, sandbox: Sandbox
) -> None:
    assert connect(signin(), policy=FAST).code == 0
    run = connect(["mastodon", "--competitor", "https://piaille.fr/@rivalpatisserie"], button=None, policy=FAST)
    assert run.code == 0, run.stderr
    assert "Found mastodon rivalpatisserie@piaille.fr: Rival Patisserie" in run.stderr and "followers" in run.stderr
    assert (
        'id = "rivalpatisserie@piaille.fr"\nname = "Rival Patisserie"\ncompetitor = true'
        in (shop / "socialkpi.toml").read_text()
    )
    sandbox.clear()
    assert main(["collect"]) == 0
    rows = exported(shop)
    assert any(",mastodon,rivalpatisserie@piaille.fr,Rival Patisserie,true,followers," in r for r in rows)
    sent = {r.query["acct"][0]: r.header("Authorization") for r in sandbox.requests_to(LOOKUP)}
    assert sent["cornerbakery"] is not None  # the own account: with its instance's token
    assert sent["rivalpatisserie"] is None  # piaille.fr never sees mastodon.social's token


def test_a_competitor_that_does_not_exist_adds_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(["mastodon", "--competitor", "@unknownrival@piaille.fr"], button=None, policy=FAST)
    assert run.code == 2 and "no account @unknownrival@piaille.fr" in run.stderr and "Record not found" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_a_competitor_without_an_instance_is_a_clear_error(shop: Path) -> None:
    run = connect(["mastodon", "--competitor", "rivalpatisserie"], button=None, policy=FAST)
    assert run.code == 2 and "has no instance: give user@instance" in run.stderr


# -- pure parts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "user", "host"),
    [
        ("rivalpatisserie@piaille.fr", "rivalpatisserie", "piaille.fr"),
        ("@rivalpatisserie@Piaille.fr", "rivalpatisserie", "piaille.fr"),
        ("https://piaille.fr/@rivalpatisserie", "rivalpatisserie", "piaille.fr"),
        ("piaille.fr/@rivalpatisserie/112233", "rivalpatisserie", "piaille.fr"),
        ("https://mastodon.social/@rivalpatisserie@piaille.fr", "rivalpatisserie", "piaille.fr"),
        ("https://piaille.fr/users/rivalpatisserie", "rivalpatisserie", "piaille.fr"),
    ],
)
def test_account_of(text: str, user: str, host: str) -> None:
    assert flow.account_of(text) == (user, host)


@pytest.mark.parametrize("text", ["rival patisserie@piaille.fr", "https://piaille.fr/about", "a@b", "a@"])
def test_account_of_refuses_what_is_no_account(text: str) -> None:
    with pytest.raises(ConnectError):
        flow.account_of(text)


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("mastodon.social", "mastodon.social"),
        ("https://Mastodon.Social/", "mastodon.social"),
        ("@me@piaille.fr", "piaille.fr"),
    ],
)
def test_instance_of(text: str, host: str) -> None:
    assert flow.instance_of(text) == host


def test_the_collector_keeps_a_connection_to_its_own_instance() -> None:
    creds = Credentials(
        token="t", base_url="https://mastodon.social", source="store", extra={"instance": "mastodon.social"}
    )
    assert collector.for_instance(creds, "mastodon.social") == ("t", "https://mastodon.social")
    assert collector.for_instance(creds, "piaille.fr") == (None, None)
    proxied = Credentials(
        token="t", base_url="http://127.0.0.1:9", source="store", extra={"instance": "mastodon.social"}
    )
    assert collector.for_instance(proxied, "piaille.fr") == (None, "http://127.0.0.1:9")
    from_env = Credentials(token="t", base_url=None)
    assert collector.for_instance(from_env, "piaille.fr") == ("t", None)  # a token set by hand: as before
