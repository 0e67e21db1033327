"""``socialkpi connect linkedin`` end to end against the sandbox: consent, code exchange, discovery, then collect.

The sandbox follows LinkedIn's docs and what LinkedIn is seen to answer:

* https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow: "If multiple
  scopes are requested, the user must consent to all of them"; a refusal is
  ``error=user_cancelled_authorize`` ("The member refused to authorize the permissions request from your
  application") or ``error=user_cancelled_login`` ("The member declined to log in to their LinkedIn
  account"), "plus error_description and state"; LinkedIn's Python client
  (github.com/linkedin-developers/linkedin-api-python-client, ``exchange_auth_code_for_access_token``) posts
  ``grant_type=authorization_code&code=...&client_id=...&client_secret=...&redirect_uri=...`` to
  https://www.linkedin.com/oauth/v2/accessToken, and its README says of ``refresh_token``: "This is only
  present if refresh tokens are enabled for the application".
* https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens: "By default,
  access tokens are valid for 60 days and programmatic refresh tokens are valid for a year", and "the
  lifespan or Time To Live (TTL) of the refresh token remains the same as specified in the initial OAuth
  flow (365 days)".
* Token errors (https://github.com/d3xt3r2909/linkedin_login/issues/77 and /issues/75):
  ``{"error":"invalid_request","error_description":"Unable to retrieve access token: appid/redirect
  uri/code verifier does not match authorization code. Or authorization code expired. Or external member
  binding exists"}``, the same with ``"error":"invalid_redirect_uri"``; a wrong secret
  ``invalid_client`` "Client authentication failed" (https://github.com/authlib/authlib/issues/719).
* https://learn.microsoft.com/en-us/linkedin/marketing/community-management/organizations/organization-access-control-by-role:
  "endpoint: /organizationAcls methods: PUT, roleAssignee FINDER, organization FINDER", "FINDER requests
  must include a header for Restli Protocol 2.0.0: X-Restli-Protocol-Version: 2.0.0";
  .../organization-lookup-api: "You can use the organization ID to lookup organization information on
  behalf of authenticated members with role type ADMINISTRATOR for that organization" and "APIs that do
  not require administrative access will only return the following fields: id name localizedName
  localizedWebsite vanityName logoV2 locations primaryOrganizationType"; the DMA organizations page:
  "Finder vanityName to potentially return an organization that has the vanity name provided".
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from socialkpi.cli import main
from socialkpi.connect import linkedin as flow
from socialkpi.connect.flow import ConnectError
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox import linkedin_auth as sb_linkedin_auth
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from tests.conftest import FAST
from tests.consent import Run, connect, free_port, new_shop, store_of

ORG = "2414183"
SECOND = "2414190"
RIVAL = "90412345"


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, the LinkedIn app's credentials and the sandbox's address."""
    return new_shop(
        tmp_path,
        monkeypatch,
        {
            "SOCIALKPI_LINKEDIN_BASE_URL": sandbox.url,
            "SOCIALKPI_LINKEDIN_CLIENT_ID": CLIENT_ID,
            "SOCIALKPI_LINKEDIN_CLIENT_SECRET": CLIENT_SECRET,
        },
    )


def run(*argv: str, **kwargs: Any) -> Run:
    return connect(["linkedin", "--port", str(free_port()), *argv], policy=FAST, **kwargs)


def no_app_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIALKPI_LINKEDIN_CLIENT_ID")
    monkeypatch.delenv("SOCIALKPI_LINKEDIN_CLIENT_SECRET")
    assert not (Path.cwd() / ".env").exists()
    assert [n for n in os.environ if n.startswith("SOCIALKPI_")] == ["SOCIALKPI_LINKEDIN_BASE_URL"]


def exported(folder: Path) -> list[str]:
    assert main(["export", "--out", "obs.csv"]) == 0
    return (folder / "obs.csv").read_text().splitlines()


def test_allow_adds_the_organization_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    before = (shop / "socialkpi.toml").read_text()
    done = connect(["linkedin", "--port", str(port)], policy=FAST)
    assert done.code == 0, done.stderr
    parts = urlsplit(done.url)
    query = parse_qs(parts.query)
    assert parts.path == "/oauth/v2/authorization"
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"http://localhost:{port}/callback"]
    assert query["scope"] == ["rw_organization_admin"] and len(query["state"][0]) >= 40
    assert "code_challenge" not in query  # PKCE is LinkedIn's to enable, for native partners only
    assert done.pressed[0].callback is not None and "Connected" in done.pressed[0].callback.text
    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)
    assert f'platform = "linkedin"\nid = "{ORG}"\nname = "Corner Bakery"' in text
    assert "administrator" in done.stderr and "no refresh token" in done.stderr

    # the exchange: client id and secret in the form (no HTTP Basic), the code and the redirect URI
    (exchange,) = sandbox.requests_to(r"/oauth/v2/accessToken")
    form = exchange.form()
    assert form["grant_type"] == "authorization_code" and form["client_secret"] == CLIENT_SECRET
    assert form["redirect_uri"] == f"http://localhost:{port}/callback" and form["client_id"] == CLIENT_ID
    assert exchange.header("Authorization") is None
    # discovery: the finder with Rest.li 2.0 and the collector's LinkedIn-Version, then the organization
    (acls,) = sandbox.requests_to(r"/rest/organizationAcls")
    assert acls.arg("q") == "roleAssignee" and acls.arg("role") == "ADMINISTRATOR" and acls.arg("state") == "APPROVED"
    assert acls.header("X-Restli-Protocol-Version") == "2.0.0"
    from collectors.linkedin import VERSION

    assert acls.header("LinkedIn-Version") == VERSION
    assert sandbox.requests_to(rf"/rest/organizations/{ORG}")

    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conn = store.connection("linkedin", ORG)
    assert conn is not None and conn.client_id == CLIENT_ID and conn.client_secret == CLIENT_SECRET
    assert conn.token.refresh_token is None and conn.token.refresh_expires_at is None
    assert conn.token.expires_at == pytest.approx(time.time() + 60 * 86400, abs=120)
    for secret in (conn.token.access_token, CLIENT_SECRET):
        assert secret not in text and secret not in done.stdout + done.stderr

    no_app_in_env(monkeypatch)
    assert main(["collect"]) == 0
    rows = exported(shop)
    assert any(f",linkedin,{ORG},Corner Bakery,false,followers," in r for r in rows)
    assert any(f",linkedin,{ORG},Corner Bakery,false,impressions," in r for r in rows)
    data = json.loads(store.path.read_text())
    assert not [name for name in data if name.endswith("@env")]  # the connected token is not noted as a .env one
    assert conn.token.access_token not in (shop / "obs.csv").read_text()


def test_a_person_who_administers_two_organizations_picks_one(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sb_linkedin_auth, "ADMINISTERED", [ORG, SECOND])
    asked = run()
    assert asked.code == 2 and "several accounts found and no --select" in asked.stderr
    assert ORG in asked.stderr and SECOND in asked.stderr and "Corner Bakery Traiteur" in asked.stderr
    assert not store_of(shop).path.exists()

    done = run("--select", SECOND)
    assert done.code == 0, done.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert f'id = "{SECOND}"\nname = "Corner Bakery Traiteur"' in text and f'id = "{ORG}"' not in text
    store = store_of(shop)
    assert store.connection("linkedin", SECOND) is not None and store.connection("linkedin", ORG) is None
    no_app_in_env(monkeypatch)
    assert main(["collect"]) == 0
    assert any(f",linkedin,{SECOND},Corner Bakery Traiteur,false,followers," in r for r in exported(shop))


def test_select_all_adds_both(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb_linkedin_auth, "ADMINISTERED", [ORG, SECOND])
    done = run("--select", "all")
    assert done.code == 0 and "2 account(s) added" in done.stderr
    store = store_of(shop)
    assert store.connection("linkedin", ORG) is not None and store.connection("linkedin", SECOND) is not None


def test_a_refresh_token_is_kept_and_collect_refreshes_with_the_stored_client(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sb_linkedin_auth, "REFRESH_TOKENS", True)  # an app with programmatic refresh tokens
    done = run()
    assert done.code == 0, done.stderr
    assert "no refresh token" not in done.stderr
    store = store_of(shop)
    conn = store.connection("linkedin", ORG)
    assert conn is not None and conn.token.refresh_token
    assert conn.token.refresh_expires_at == pytest.approx(time.time() + 365 * 86400, abs=120)
    data = json.loads(store.path.read_text())
    data[f"linkedin/{ORG}"]["expires_at"] = time.time() - 10  # 60 days later
    store.path.write_text(json.dumps(data))
    no_app_in_env(monkeypatch)
    sandbox.clear()
    assert main(["collect"]) == 0
    (refresh,) = sandbox.requests_to(r"/oauth/v2/accessToken")
    assert refresh.form() == {
        "grant_type": "refresh_token",
        "refresh_token": conn.token.refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    after = store.connection("linkedin", ORG)
    assert after is not None and after.token.access_token != conn.token.access_token
    assert after.token.refresh_token == conn.token.refresh_token  # LinkedIn does not rotate it
    assert after.token.refresh_expires_at == pytest.approx(conn.token.refresh_expires_at, abs=120)  # nor slide it
    assert after.token.expires_at and after.token.expires_at > time.time() + 59 * 86400
    assert after.client_id == CLIENT_ID and after.client_secret == CLIENT_SECRET  # the connection kept
    assert {r.bearer() for r in sandbox.requests_to(r"/rest/")} == {after.token.access_token}


def test_a_refused_refresh_of_a_connection_says_to_connect_again(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sb_linkedin_auth, "REFRESH_TOKENS", True)
    assert run().code == 0
    store = store_of(shop)
    data = json.loads(store.path.read_text())
    data[f"linkedin/{ORG}"]["expires_at"] = time.time() - 10
    data[f"linkedin/{ORG}"]["refresh_token"] = "AQrevoked-by-the-member"  # LinkedIn no longer knows it
    store.path.write_text(json.dumps(data))
    no_app_in_env(monkeypatch)
    capsys.readouterr()
    assert main(["collect"]) == 1
    err = capsys.readouterr().err
    assert "invalid, expired or revoked" in err and "run `socialkpi connect linkedin` again" in err
    assert "SOCIALKPI_LINKEDIN_REFRESH_TOKEN" not in err and "AQrevoked-by-the-member" not in err


def test_without_a_refresh_token_an_expired_connection_says_to_connect_again(
    shop: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run().code == 0
    store = store_of(shop)
    conn = store.connection("linkedin", ORG)
    assert conn is not None and conn.token.refresh_token is None
    with sb_linkedin_auth._lock:
        sb_linkedin_auth._access[conn.token.access_token] = time.time() - 10  # day 61: LinkedIn says it expired
    data = json.loads(store.path.read_text())
    data[f"linkedin/{ORG}"]["expires_at"] = time.time() - 10
    store.path.write_text(json.dumps(data))
    no_app_in_env(monkeypatch)
    capsys.readouterr()
    assert main(["collect"]) == 1
    err = capsys.readouterr().err
    assert "EXPIRED_ACCESS_TOKEN" in err and "socialkpi connect linkedin" in err
    assert "Developer Portal > OAuth 2.0 tools" not in err  # no .env advice for a connected account
    assert conn.token.access_token not in err


def test_deny_exits_2_and_writes_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    done = run(button="Deny")
    assert done.code == 2
    assert "consent was refused" in done.stderr and "user_cancelled_authorize" in done.stderr
    assert (shop / "socialkpi.toml").read_text() == before
    assert not store_of(shop).path.exists()


def test_a_cancelled_login_is_a_refused_consent(shop: Path) -> None:
    def cancel(location: str) -> str:  # the member closed LinkedIn's sign-in instead
        parts = urlsplit(location)
        state = parse_qs(parts.query)["state"][0]
        query = {"error": "user_cancelled_login", "error_description": "The user cancelled LinkedIn login"}
        return parts._replace(query=urlencode({**query, "state": state})).geturl()

    done = run(tamper=cancel)
    assert done.code == 2 and "consent was refused" in done.stderr and "user_cancelled_login" in done.stderr
    assert not store_of(shop).path.exists()


def test_a_scope_the_app_has_no_product_for_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb_linkedin_auth, "APP_SCOPES", frozenset({"openid", "profile"}))  # no Community Management API
    done = connect(["linkedin", "--port", str(free_port())], button=None, policy=FAST, on_url=_follow_redirect)
    assert done.code == 2
    assert "unauthorized_scope_error" in done.stderr and "rw_organization_admin" in done.stderr
    assert not store_of(shop).path.exists()


def _follow_redirect(url: str) -> None:
    """The consent page redirects at once (no button to press): follow it to the loopback callback."""
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    requests.get(answer.headers["Location"], timeout=5)


def test_a_state_that_does_not_match_is_refused(shop: Path) -> None:
    done = run(tamper=lambda location: location.replace("state=", "state=forged"))
    assert done.code == 2 and "state does not match" in done.stderr
    assert not store_of(shop).path.exists()


def test_a_code_already_used_is_refused(shop: Path, sandbox: Sandbox) -> None:
    def spend(location: str) -> str:  # someone redeemed the code first
        query = parse_qs(urlsplit(location).query)
        redirect = location.split("?", 1)[0]
        first = requests.post(
            sandbox.url + "/oauth/v2/accessToken",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": redirect,
            },
            timeout=5,
        )
        assert first.status_code == 200
        return location

    done = run(tamper=spend)
    assert done.code == 2
    assert "authorization code was refused" in done.stderr and "already used" in done.stderr
    assert "Unable to retrieve access token" in done.stderr
    assert not store_of(shop).path.exists()


def test_a_wrong_client_secret_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_LINKEDIN_CLIENT_SECRET", "not-the-secret-at-all")
    done = run()
    assert done.code == 2
    assert "client id or secret was refused" in done.stderr and "Client authentication failed" in done.stderr
    assert "SOCIALKPI_LINKEDIN_CLIENT_SECRET" in done.stderr and "not-the-secret-at-all" not in done.stderr
    assert not store_of(shop).path.exists()


def test_no_browser_prints_the_url_alone_and_takes_the_pasted_address(shop: Path) -> None:
    done = connect(["linkedin", "--no-browser", "--port", str(free_port())], paste=True, policy=FAST)
    assert done.code == 0, done.stderr
    assert done.stdout.splitlines() == [done.url]
    assert store_of(shop).connection("linkedin", ORG) is not None


def test_connecting_again_renews_the_token_and_adds_no_duplicate(shop: Path) -> None:
    assert run().code == 0
    first = store_of(shop).connection("linkedin", ORG)
    again = run()
    assert again.code == 0 and f"renewed linkedin {ORG}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{ORG}"') == 1
    second = store_of(shop).connection("linkedin", ORG)
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


def test_no_organization_administered_writes_nothing(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb_linkedin_auth, "ADMINISTERED", [])
    done = run()
    assert done.code == 2 and "gives access to no account" in done.stderr
    assert not store_of(shop).path.exists()


# -- competitors ---------------------------------------------------------------------------------------


def test_a_competitor_is_looked_up_by_its_page_address_and_collected(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run().code == 0
    done = run("--competitor", "https://www.linkedin.com/company/rival-patisserie/about/", button=None)
    assert done.code == 0, done.stderr
    assert f"Found linkedin {RIVAL}: Rival Patisserie" in done.stderr and "followers" in done.stderr
    (finder,) = sandbox.requests_to(r"/rest/organizations$")
    assert finder.arg("q") == "vanityName" and finder.arg("vanityName") == "rival-patisserie"
    text = (shop / "socialkpi.toml").read_text()
    assert f'id = "{RIVAL}"\nname = "Rival Patisserie"\ncompetitor = true' in text
    no_app_in_env(monkeypatch)
    assert main(["collect"]) == 0  # read with the default connection: networkSizes only
    assert any(f",linkedin,{RIVAL},Rival Patisserie,true,followers," in r for r in exported(shop))


def test_a_competitor_is_looked_up_by_id(shop: Path) -> None:
    assert run().code == 0
    done = run("--competitor", f"urn:li:organization:{RIVAL}", button=None)
    assert done.code == 0, done.stderr
    assert f'id = "{RIVAL}"\nname = "Rival Patisserie"\ncompetitor = true' in (shop / "socialkpi.toml").read_text()


def test_a_competitor_that_does_not_exist_adds_nothing(shop: Path) -> None:
    assert run().code == 0
    before = (shop / "socialkpi.toml").read_text()
    done = run("--competitor", "linkedin.com/company/no-such-bakery", button=None)
    assert done.code == 2 and "no organization has the vanity name 'no-such-bakery'" in done.stderr
    by_id = run("--competitor", "77777777", button=None)
    assert by_id.code == 2 and "no organization 77777777" in by_id.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_a_competitor_whose_follower_count_is_refused_adds_nothing(shop: Path, sandbox: Sandbox) -> None:
    assert run().code == 0
    before = (shop / "socialkpi.toml").read_text()
    sandbox.script(
        r"/rest/networkSizes/.*",
        Reply(
            403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": "Not enough permissions"}
        ),
    )
    done = run("--competitor", "rival-patisserie", button=None)
    assert done.code == 2 and "refuses its follower count" in done.stderr
    assert (shop / "socialkpi.toml").read_text() == before


def test_a_competitor_needs_a_connection_first(shop: Path) -> None:
    done = run("--competitor", "rival-patisserie", button=None)
    assert done.code == 2 and "run `socialkpi connect linkedin` first" in done.stderr


# -- pure parts ------------------------------------------------------------------------------------


def test_page_addresses_ids_and_vanity_names() -> None:
    assert flow.handle_of("https://www.linkedin.com/company/rival-patisserie/") == ("vanity", "rival-patisserie")
    assert flow.handle_of("linkedin.com/showcase/corner-bakery-lyon") == ("vanity", "corner-bakery-lyon")
    assert flow.handle_of("rival-patisserie") == ("vanity", "rival-patisserie")
    assert flow.handle_of("linkedin.com/company/2414183") == ("id", "2414183")
    assert flow.handle_of("urn:li:organization:2414183") == ("id", "2414183")
    with pytest.raises(ConnectError, match="not a LinkedIn page address"):
        flow.handle_of("https://www.linkedin.com/in/some-person")


def test_only_approved_administrator_roles_are_kept() -> None:
    body = {
        "elements": [
            {"organization": "urn:li:organization:1", "role": "ADMINISTRATOR", "state": "APPROVED"},
            {"organization": "urn:li:organization:2", "role": "ANALYST", "state": "APPROVED"},
            {"organization": "urn:li:organization:3", "role": "ADMINISTRATOR", "state": "REQUESTED"},
            {"organization": "urn:li:organization:1", "role": "ADMINISTRATOR", "state": "APPROVED"},
        ]
    }
    assert flow.parse_acls(body) == ["1"]


def test_a_token_answer_with_numbers_as_strings_and_no_refresh_token() -> None:
    token = flow.parse_token({"access_token": "AQx", "expires_in": "5184000", "scope": "rw_organization_admin"}, now=0)
    assert token.expires_at == 5184000 and token.refresh_token is None and token.refresh_expires_at is None
    token = flow.parse_token(
        {"access_token": "AQx", "expires_in": 5184000, "refresh_token": "AQr", "refresh_token_expires_in": "31536000"},
        now=0,
    )
    assert token.refresh_token == "AQr" and token.refresh_expires_at == 31536000


def test_invalid_redirect_uri_about_the_code_is_a_refused_code() -> None:
    body = {"error": "invalid_redirect_uri", "error_description": sb_linkedin_auth.CODE_REFUSED}
    verdict = flow.token_classify(400, {}, body)
    assert verdict is not None and verdict.code == "invalid_grant"
    assert flow.token_classify(401, {}, {"error": "invalid_client", "error_description": "x"}).code == "invalid_client"
