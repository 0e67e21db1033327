"""``socialkpi connect plausible|matomo|umami`` end to end against the sandbox: the key checked, the sites
listed and chosen, each chosen site read once, then ``socialkpi collect`` with no key in the environment.

What the sandbox follows (socialkpi/sandbox/plausible.py, matomo.py, umami.py), and what these tests rely on:

* Plausible, https://plausible.io/docs/stats-api: "Click the "New API Key" button, choose "Stats API" and
  save the key as it will only be shown once", sent as "Authorization: Bearer YOUR-KEY"; a wrong key or a
  site it cannot see: 401 "Invalid API key or site ID. Please make sure you're using a valid API key with
  access to the site you've requested." https://plausible.io/docs/sites-api: "Gets a list of existing sites
  your Plausible account can access", ``{"sites":[{"domain":"test-domain1.com","timezone":"Europe/London"}],
  "meta":{"after":null,"before":null,"limit":100}}``; "The ``null`` value in ``before`` or ``after`` means
  there are no more previous or next pages".  The Community Edition has none: "Site provisioning API is
  indeed not included in CE" (https://github.com/plausible/analytics/issues/4288), a 404 page ("Oops!
  There's nothing here", plausible/analytics#3909).  402 (plausible/analytics source): "The account that
  owns this API key does not have access to Stats API".
* Matomo, https://matomo.org/faq/general/faq_114: "Go to Administration ... > Personal > Security." "Click on
  Create new token."; "If the token is restricted to secure requests only, Matomo ignores it when received as
  a URL parameter"; plugins/SitesManager/API.php ``getSitesWithAtLeastViewAccess``: "Returns the list of
  websites with the 'view' or 'admin' access for the current user" ("@return array ... (idsite, name,
  main_url, etc.)"; JSON answers carry ``"idsite":"1"`` as a string); a refused token: "Unable to
  authenticate with the provided token. It is either invalid or expired."
* Umami, https://umami.is/docs/cloud/api-key: "Navigate to API keys and click on the Create key button.",
  "https://api.umami.is/v1", "Just pass in your API key via a custom header x-umami-api-key";
  https://umami.is/docs/api/authentication: "POST /api/auth/login" ``{"username", "password"}`` -> ``{"token",
  "user"}``, "Bearer <token>", "POST /api/auth/verify You can verify if the token is still valid";
  https://umami.is/docs/api/websites: "Returns all user websites" ``{"data":[{"id","name","domain",...}],
  "count":1,"page":1,"pageSize":10}`` (Umami v1, pages/api/websites/index.js: ``return ok(res, websites)``, a
  bare list).
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from socialkpi.cli import main
from socialkpi.connect import web_analytics, web_analytics_sites
from socialkpi.connect.flow import ConnectError, Terminal
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.server import Reply
from socialkpi.sandbox.umami import FOREIGN_WEBSITES, USERS
from socialkpi.sandbox.world import TOKEN
from tests.conftest import FAST
from tests.consent import Run, connect, new_shop, store_of

PLAUSIBLE_SITE = "shop.cornerbakery.fr"
MATOMO_SITE = "1"
UMAMI_SITE = "6f1c2b7e-3d4a-4e5b-9c8d-1a2b3c4d5e6f"
UMAMI_OTHER = "0b3d5f7a-1c2e-4a6b-8d0f-2e4c6a8b0d1f"
USERNAME, PASSWORD = next(iter(USERS.items()))
WRONG = "not-the-key-at-all-4f1e"


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, no SOCIALKPI_ variable at all."""
    return new_shop(tmp_path, monkeypatch, {})


def run(*argv: str) -> Run:
    return connect(list(argv), button=None, policy=FAST)


def exported(folder: Path) -> list[str]:
    assert main(["export", "--out", "obs.csv"]) == 0
    return (folder / "obs.csv").read_text().splitlines()


def nothing_written(folder: Path, before: str) -> None:
    assert (folder / "socialkpi.toml").read_text() == before
    assert not store_of(folder).path.exists()


def one_line(result: Run) -> str:
    """The error: one line, the last one (a site checked before another failed may be said above it)."""
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("socialkpi: error: ")]
    assert errors == lines[-1:], result.stderr
    assert errors[0].endswith("nothing was written")
    return errors[0]


# -- Plausible -------------------------------------------------------------------------------------


def test_plausible_key_from_the_env_lists_the_site_and_collect_then_needs_no_key(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    before = (shop / "socialkpi.toml").read_text()
    result = run("plausible")  # one site, no --select: taken as it is
    assert result.code == 0, result.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)
    assert f'platform = "plausible"\nid = "{PLAUSIBLE_SITE}"' in text
    listing = sandbox.requests_to(r"^/api/v1/sites$")
    assert len(listing) == 1 and listing[0].header("Authorization") == f"Bearer {TOKEN}"
    checks = sandbox.requests_to(r"^/api/v2/query$")  # the chosen site read once, as doctor does
    assert len(checks) == 1 and checks[0].json()["site_id"] == PLAUSIBLE_SITE
    assert f"checked plausible {PLAUSIBLE_SITE}: Stats API key valid" in result.stderr
    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conn = store.connection("plausible", PLAUSIBLE_SITE)
    assert conn is not None and conn.token.access_token == TOKEN and conn.token.expires_at is None
    assert conn.base_url == sandbox.url
    assert TOKEN not in text and TOKEN not in result.stdout + result.stderr

    monkeypatch.delenv("SOCIALKPI_PLAUSIBLE_TOKEN")  # only the sandbox's address is left: not a credential
    assert not (shop / ".env").exists()
    assert main(["collect"]) == 0
    rows = exported(shop)
    assert any(f",plausible,{PLAUSIBLE_SITE}," in r and ",visits," in r for r in rows)


def test_plausible_self_hosted_without_a_sites_api_takes_the_domain_from_select(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Community Edition: no ``/api/v1/sites`` (404 page): the domain is given, checked, and the server's
    address stored, so collect reads it with no SOCIALKPI_PLAUSIBLE_BASE_URL at all."""
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    sandbox.script(r"^/api/v1/sites$", Reply(404, "<html><h1>Oops! There's nothing here</h1></html>"))
    result = run("plausible", "--url", sandbox.url + "/", "--select", PLAUSIBLE_SITE)
    assert result.code == 0, result.stderr
    conn = store_of(shop).connection("plausible", PLAUSIBLE_SITE)
    assert conn is not None and conn.base_url == sandbox.url  # the trailing / dropped

    monkeypatch.delenv("SOCIALKPI_PLAUSIBLE_TOKEN")
    sandbox.clear()
    assert main(["collect"]) == 0
    assert sandbox.requests_to(r"^/api/v2/query$")  # collect went to the stored server
    assert any(f",plausible,{PLAUSIBLE_SITE}," in r for r in exported(shop))


def test_plausible_without_a_sites_api_and_no_domain_says_to_give_one(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    sandbox.script(r"^/api/v1/sites$", Reply(404, "<html>Oops!</html>"))
    before = (shop / "socialkpi.toml").read_text()
    result = run("plausible", "--url", sandbox.url)
    assert result.code == 2
    assert "Community Edition has no Sites API" in one_line(result) and "--select DOMAIN" in result.stderr
    nothing_written(shop, before)


def test_plausible_a_wrong_key_exits_2_naming_the_variable_and_where_keys_are_made(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", WRONG)
    before = (shop / "socialkpi.toml").read_text()
    result = run("plausible", "--select", "all")
    assert result.code == 2
    line = one_line(result)
    assert "the key was refused (Invalid API key." in line and "SOCIALKPI_PLAUSIBLE_TOKEN" in line
    assert "API Keys > New API Key > Stats API" in line and WRONG not in line
    nothing_written(shop, before)


def test_plausible_a_wrong_key_with_a_domain_given_is_refused_by_the_check(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", WRONG)
    before = (shop / "socialkpi.toml").read_text()
    result = run("plausible", "--select", PLAUSIBLE_SITE)
    assert result.code == 2
    line = one_line(result)
    assert "Invalid API key or site ID" in line and "SOCIALKPI_PLAUSIBLE_TOKEN" in line and "Stats API" in line
    nothing_written(shop, before)


def test_plausible_a_listed_site_the_key_cannot_read_exits_2(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team-scoped key: the listing shows every site, the query refuses another team's (a key's team_id
    must be the site's: lib/plausible_web/plugs/authorize_public_api.ex in https://github.com/plausible/analytics)."""
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    sites = [{"domain": d, "timezone": "Europe/Paris"} for d in (PLAUSIBLE_SITE, "someone-else.example")]
    sandbox.script(r"^/api/v1/sites$", Reply(200, {"sites": sites, "meta": {"after": None, "limit": 100}}))
    before = (shop / "socialkpi.toml").read_text()
    result = run("plausible", "--select", "all")
    assert result.code == 2
    assert "someone-else.example: refused" in result.stderr and "cannot read this site" in result.stderr
    nothing_written(shop, before)


def test_plausible_select_one_of_several_sites_across_pages(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    first = {"sites": [{"domain": PLAUSIBLE_SITE, "timezone": "Europe/Paris"}], "meta": {"after": "c1", "limit": 1}}
    second = {"sites": [{"domain": "cornerbakery.fr", "timezone": "Europe/Paris"}], "meta": {"after": None}}
    sandbox.script(r"^/api/v1/sites$", Reply(200, first), Reply(200, second))
    result = run("plausible", "--select", "cornerbakery.fr")
    assert result.code == 0, result.stderr
    assert [r.arg("after") for r in sandbox.requests_to(r"^/api/v1/sites$")] == [None, "c1"]
    text = (shop / "socialkpi.toml").read_text()
    assert 'id = "cornerbakery.fr"' in text and PLAUSIBLE_SITE not in text
    assert [q.json()["site_id"] for q in sandbox.requests_to(r"^/api/v2/query$")] == ["cornerbakery.fr"]


def test_plausible_several_sites_and_no_select_asks_for_one(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    sites = [{"domain": d, "timezone": "UTC"} for d in (PLAUSIBLE_SITE, "cornerbakery.fr")]
    sandbox.script(r"^/api/v1/sites$", Reply(200, {"sites": sites, "meta": {"after": None}}))
    result = run("plausible")
    assert result.code == 2 and "--select all or --select ID" in result.stderr
    assert not store_of(shop).path.exists()


def test_plausible_a_plan_without_the_stats_api_is_named(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    said = "The account that owns this API key does not have access to Stats API."
    sandbox.script(r"^/api/v2/query$", Reply(402, {"error": said}))
    result = run("plausible", "--select", "all")
    assert result.code == 2
    line = one_line(result)
    assert said.rstrip(".") in line and "plan has no Stats API" in line


def test_plausible_connecting_again_adds_no_duplicate(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    assert run("plausible", "--select", "all").code == 0
    again = run("plausible", "--select", "all")
    assert again.code == 0 and f"renewed plausible {PLAUSIBLE_SITE}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{PLAUSIBLE_SITE}"') == 1


def test_plausible_doctor_reads_the_connected_site(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    assert run("plausible", "--select", "all").code == 0
    monkeypatch.delenv("SOCIALKPI_PLAUSIBLE_TOKEN")
    capsys.readouterr()
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "Stats API key valid for shop.cornerbakery.fr" in out and TOKEN not in out


# -- Matomo ----------------------------------------------------------------------------------------


def test_matomo_token_from_the_env_lists_the_site_and_collect_then_needs_no_token(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    result = run("matomo", "--select", "all")  # BASE_URL stands for --url (the sandbox)
    assert result.code == 0, result.stderr
    assert (
        f'platform = "matomo"\nid = "{MATOMO_SITE}"\nname = "cornerbakery.fr"' in (shop / "socialkpi.toml").read_text()
    )
    calls = [r for r in sandbox.requests_to(r"^/index\.php$") if r.method == "POST"]
    methods = [r.form()["method"] for r in calls]
    assert methods == ["SitesManager.getSitesWithAtLeastViewAccess", "SitesManager.getSiteFromId"]
    assert all(r.form()["token_auth"] == TOKEN and "token_auth" not in r.query for r in calls)  # POST body only
    assert all("force_api_session" not in r.form() for r in calls)
    conn = store_of(shop).connection("matomo", MATOMO_SITE)
    assert conn is not None and conn.token.access_token == TOKEN and conn.base_url == sandbox.url
    assert stat.S_IMODE(store_of(shop).path.stat().st_mode) == 0o600
    assert TOKEN not in result.stdout + result.stderr

    monkeypatch.delenv("SOCIALKPI_MATOMO_TOKEN")
    assert main(["collect"]) == 0
    assert any(f",matomo,{MATOMO_SITE}," in r and ",visits," in r for r in exported(shop))


def test_matomo_url_is_stored_and_collect_reads_it_without_a_base_url(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    result = run("matomo", "--url", sandbox.url + "/index.php", "--select", MATOMO_SITE)  # a pasted endpoint
    assert result.code == 0, result.stderr
    conn = store_of(shop).connection("matomo", MATOMO_SITE)
    assert conn is not None and conn.base_url == sandbox.url

    monkeypatch.delenv("SOCIALKPI_MATOMO_TOKEN")
    sandbox.clear()
    assert main(["collect"]) == 0
    assert sandbox.requests_to(r"^/index\.php$")
    assert any(f",matomo,{MATOMO_SITE}," in r for r in exported(shop))


def test_matomo_without_url_exits_2(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    before = (shop / "socialkpi.toml").read_text()
    result = run("matomo")
    assert result.code == 2
    line = one_line(result)
    assert "no single cloud address" in line and "--url" in line and "matomo.cloud" in line
    nothing_written(shop, before)


@pytest.mark.parametrize("url", ["stats.example.com", "ftp://stats.example.com", "https://"])
def test_matomo_an_url_without_http_is_refused(shop: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    result = run("matomo", "--url", url)
    assert result.code == 2 and "http:// or https://" in one_line(result)


def test_matomo_a_wrong_token_exits_2_naming_the_variable(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", WRONG)
    before = (shop / "socialkpi.toml").read_text()
    result = run("matomo", "--url", sandbox.url, "--select", "all")
    assert result.code == 2
    line = one_line(result)
    assert "Unable to authenticate with the provided token" in line and "SOCIALKPI_MATOMO_TOKEN" in line
    assert "Personal > Security > Create new token" in line and WRONG not in line
    nothing_written(shop, before)


def test_matomo_a_site_the_token_cannot_read_exits_2(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing names site 99 (a number, as some servers send it), getSiteFromId refuses it."""
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    rows = [{"idsite": "1", "name": "cornerbakery.fr", "main_url": "https://cornerbakery.fr"}, {"idsite": 99}]
    sandbox.script(r"^/index\.php$", Reply(200, rows))
    before = (shop / "socialkpi.toml").read_text()
    result = run("matomo", "--url", sandbox.url, "--select", "99")
    assert result.code == 2
    line = one_line(result)
    assert "site 99: the token cannot read it" in line and "'view' access" in line
    nothing_written(shop, before)


def test_matomo_select_one_of_two(shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    rows = [
        {"idsite": "1", "name": "cornerbakery.fr", "main_url": "https://cornerbakery.fr", "timezone": "Europe/Paris"},
        {"idsite": 2, "name": "Catering", "main_url": "https://catering.example", "timezone": "Europe/Paris"},
    ]
    sandbox.script(r"^/index\.php$", Reply(200, rows))
    result = run("matomo", "--url", sandbox.url, "--select", "2")
    assert result.code == 0, result.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert 'id = "2"\nname = "Catering"' in text and 'id = "1"' not in text


def test_matomo_a_token_that_sees_no_site_is_named(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    sandbox.script(r"^/index\.php$", Reply(200, []))
    result = run("matomo", "--url", sandbox.url)
    assert result.code == 2 and "View access to no website" in one_line(result)


def test_matomo_an_url_that_is_not_matomo_is_named(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    sandbox.script(r"^/index\.php$", Reply(200, "<html>Corner Bakery</html>", {"Content-Type": "text/html"}))
    result = run("matomo", "--url", sandbox.url)
    assert result.code == 2 and "did not answer as Matomo's API" in one_line(result)


def test_matomo_connecting_again_adds_no_duplicate(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    assert run("matomo", "--url", sandbox.url, "--select", "all").code == 0
    again = run("matomo", "--url", sandbox.url, "--select", "all")
    assert again.code == 0 and f"renewed matomo {MATOMO_SITE}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count('platform = "matomo"') == 1


def test_matomo_the_command_line_as_a_script_runs_it(shop: Path, sandbox: Sandbox) -> None:
    env = {**os.environ, "SOCIALKPI_MATOMO_TOKEN": TOKEN}
    proc = subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", "connect", "matomo", "--url", sandbox.url, "--select", "all"],
        cwd=shop,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 account(s) added" in proc.stderr and proc.stdout == "" and TOKEN not in proc.stderr


# -- Umami -----------------------------------------------------------------------------------------


def test_umami_cloud_key_from_the_env_lists_the_website_and_collect_then_needs_no_key(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud = sandbox.url + "/v1"  # Umami Cloud's root is https://api.umami.is/v1
    monkeypatch.setenv("SOCIALKPI_UMAMI_BASE_URL", cloud)
    monkeypatch.setenv("SOCIALKPI_UMAMI_TOKEN", TOKEN)
    result = run("umami", "--select", "all")
    assert result.code == 0, result.stderr
    assert f'platform = "umami"\nid = "{UMAMI_SITE}"\nname = "cornerbakery.fr"' in (shop / "socialkpi.toml").read_text()
    listing = sandbox.requests_to(r"^/v1/websites$")
    assert len(listing) == 1 and listing[0].header("x-umami-api-key") == TOKEN
    assert listing[0].arg("includeTeams") == "true"
    assert len(sandbox.requests_to(rf"^/v1/websites/{UMAMI_SITE}$")) == 1  # the chosen website read once
    assert not sandbox.requests_to(r"^/api/auth/")
    conn = store_of(shop).connection("umami", UMAMI_SITE)
    assert conn is not None and conn.token.access_token == TOKEN and conn.base_url == cloud
    assert conn.client_id is None and conn.client_secret is None
    assert TOKEN not in result.stdout + result.stderr

    monkeypatch.delenv("SOCIALKPI_UMAMI_TOKEN")
    since = (
        datetime.now(UTC).date() - timedelta(days=4)
    ).isoformat()  # a few days: Umami Cloud allows 50 calls per 15 s
    assert main(["collect", "--since", since]) == 0
    assert any(f",umami,{UMAMI_SITE}," in r and ",visits," in r for r in exported(shop))


def test_umami_self_hosted_login_is_stored_and_collect_logs_in_again_when_the_token_dies(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--url and the username/password the collector reads (SOCIALKPI_UMAMI_CLIENT_ID/_CLIENT_SECRET); no
    SOCIALKPI_UMAMI_BASE_URL at any point: collect reads the stored server, token and login."""
    monkeypatch.setenv("SOCIALKPI_UMAMI_CLIENT_ID", USERNAME)
    monkeypatch.setenv("SOCIALKPI_UMAMI_CLIENT_SECRET", PASSWORD)
    result = run("umami", "--url", sandbox.url, "--select", UMAMI_SITE)
    assert result.code == 0, result.stderr
    login = sandbox.requests_to(r"^/api/auth/login$")
    assert len(login) == 1 and login[0].json() == {"username": USERNAME, "password": PASSWORD}
    listing = sandbox.requests_to(r"^/api/websites$")
    token = (listing[0].header("Authorization") or "").removeprefix("Bearer ")
    assert token.startswith("eyJ")
    conn = store_of(shop).connection("umami", UMAMI_SITE)
    assert conn is not None and conn.base_url == sandbox.url and conn.token.access_token == token
    assert conn.client_id == USERNAME and conn.client_secret == PASSWORD
    for secret in (PASSWORD, token):
        assert secret not in result.stdout + result.stderr and secret not in (shop / "socialkpi.toml").read_text()

    for name in ("SOCIALKPI_UMAMI_CLIENT_ID", "SOCIALKPI_UMAMI_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    sandbox.clear()
    assert main(["collect"]) == 0
    assert not sandbox.requests_to(r"^/api/auth/login$")  # the stored token was used as it is
    assert any(f",umami,{UMAMI_SITE}," in r for r in exported(shop))

    store = store_of(shop)
    import json

    data = json.loads(store.path.read_text())
    data[f"umami/{UMAMI_SITE}"]["access_token"] = "eyJ.a-token-the-server-forgot"  # noqa: S105
    store.path.write_text(json.dumps(data))
    assert main(["collect"]) == 0
    assert len(sandbox.requests_to(r"^/api/auth/login$")) == 1  # logged in again with the stored login
    renewed = store.connection("umami", UMAMI_SITE)
    assert renewed is not None and renewed.token.access_token != "eyJ.a-token-the-server-forgot"
    assert renewed.base_url == sandbox.url and renewed.client_id == USERNAME  # the connection kept


def test_umami_self_hosted_token_from_the_env_is_verified_and_stored(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = requests.post(sandbox.url + "/api/auth/login", json={"username": USERNAME, "password": PASSWORD}, timeout=5)
    token = login.json()["token"]
    monkeypatch.setenv("SOCIALKPI_UMAMI_TOKEN", token)
    sandbox.clear()
    result = run("umami", "--url", sandbox.url, "--select", "all")
    assert result.code == 0, result.stderr
    assert len(sandbox.requests_to(r"^/api/auth/verify$")) == 1 and not sandbox.requests_to(r"^/api/auth/login$")
    conn = store_of(shop).connection("umami", UMAMI_SITE)
    assert conn is not None and conn.token.access_token == token and conn.client_secret is None
    monkeypatch.delenv("SOCIALKPI_UMAMI_TOKEN")
    assert main(["collect"]) == 0


def test_umami_cloud_a_wrong_key_exits_2_naming_the_variable(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_UMAMI_BASE_URL", sandbox.url + "/v1")
    monkeypatch.setenv("SOCIALKPI_UMAMI_TOKEN", WRONG)
    before = (shop / "socialkpi.toml").read_text()
    result = run("umami", "--select", "all")
    assert result.code == 2
    line = one_line(result)
    assert "the key was refused (Unauthorized" in line and "SOCIALKPI_UMAMI_TOKEN" in line
    assert "Settings > API keys > Create key" in line and WRONG not in line
    nothing_written(shop, before)


def test_umami_self_hosted_a_wrong_password_exits_2(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_UMAMI_CLIENT_ID", USERNAME)
    monkeypatch.setenv("SOCIALKPI_UMAMI_CLIENT_SECRET", WRONG)
    before = (shop / "socialkpi.toml").read_text()
    result = run("umami", "--url", sandbox.url, "--select", "all")
    assert result.code == 2
    line = one_line(result)
    assert f"refused to log in user {USERNAME!r}" in line and "SOCIALKPI_UMAMI_CLIENT_SECRET" in line
    assert WRONG not in line
    nothing_written(shop, before)


def test_umami_self_hosted_a_wrong_token_exits_2(shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_UMAMI_TOKEN", WRONG)
    result = run("umami", "--url", sandbox.url, "--select", "all")
    assert result.code == 2 and "refused SOCIALKPI_UMAMI_TOKEN" in one_line(result)
    assert not store_of(shop).path.exists()


def test_umami_self_hosted_with_nothing_to_log_in_with_says_what_to_set(shop: Path, sandbox: Sandbox) -> None:
    result = run("umami", "--url", sandbox.url)
    assert result.code == 2
    line = one_line(result)
    assert "SOCIALKPI_UMAMI_CLIENT_ID and SOCIALKPI_UMAMI_CLIENT_SECRET" in line and "SOCIALKPI_UMAMI_TOKEN" in line


def test_umami_a_website_the_key_cannot_read_exits_2(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_UMAMI_BASE_URL", sandbox.url + "/v1")
    monkeypatch.setenv("SOCIALKPI_UMAMI_TOKEN", TOKEN)
    foreign = next(iter(FOREIGN_WEBSITES))
    rows = [{"id": UMAMI_SITE, "name": "cornerbakery.fr"}, {"id": foreign, "name": "Team site", "domain": "t.example"}]
    sandbox.script(r"^/v1/websites$", Reply(200, {"data": rows, "count": 2, "page": 1, "pageSize": 100}))
    before = (shop / "socialkpi.toml").read_text()
    result = run("umami", "--select", "all")
    assert result.code == 2
    assert f"website {foreign}: this user cannot read it" in one_line(result)
    nothing_written(shop, before)


def test_umami_select_one_across_pages_and_an_older_servers_bare_list(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_UMAMI_BASE_URL", sandbox.url + "/v1")
    monkeypatch.setenv("SOCIALKPI_UMAMI_TOKEN", TOKEN)
    page1 = {"data": [{"id": UMAMI_SITE, "name": "cornerbakery.fr"}], "count": 2, "page": 1, "pageSize": 1}
    page2 = {"data": [{"id": UMAMI_OTHER, "name": "Classes", "domain": "classes.example"}], "count": 2, "page": 2}
    sandbox.script(r"^/v1/websites$", Reply(200, page1), Reply(200, {**page2, "pageSize": 1}))
    result = run("umami", "--select", UMAMI_OTHER)
    assert result.code == 0, result.stderr
    assert [r.arg("page") for r in sandbox.requests_to(r"^/v1/websites$")] == ["1", "2"]
    text = (shop / "socialkpi.toml").read_text()
    assert f'id = "{UMAMI_OTHER}"\nname = "Classes"' in text and UMAMI_SITE not in text

    sandbox.script(r"^/v1/websites$", Reply(200, [{"id": UMAMI_SITE, "name": "cornerbakery.fr"}]))
    older = run("umami", "--select", "all")
    assert older.code == 0, older.stderr
    assert f'id = "{UMAMI_SITE}"' in (shop / "socialkpi.toml").read_text()


def test_umami_connecting_again_adds_no_duplicate(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_UMAMI_CLIENT_ID", USERNAME)
    monkeypatch.setenv("SOCIALKPI_UMAMI_CLIENT_SECRET", PASSWORD)
    assert run("umami", "--url", sandbox.url, "--select", "all").code == 0
    first = store_of(shop).connection("umami", UMAMI_SITE)
    again = run("umami", "--url", sandbox.url, "--select", "all")
    assert again.code == 0 and f"renewed umami {UMAMI_SITE}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{UMAMI_SITE}"') == 1
    second = store_of(shop).connection("umami", UMAMI_SITE)
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


# -- asked on a terminal ---------------------------------------------------------------------------


class Typing(Terminal):
    """A person at a terminal typing ``answers`` in turn (hidden ones included)."""

    def __init__(self, answers: list[str]) -> None:
        super().__init__(stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())
        self.answers = answers
        self.asked: list[tuple[str, bool]] = []

    @property
    def interactive(self) -> bool:
        return True

    def ask(self, prompt: str, *, secret: bool = False, why: str = "") -> str:
        self.asked.append((prompt, secret))
        return self.answers.pop(0)


def typed(terminal: Typing, *argv: str) -> int:
    from socialkpi.cli import build_parser
    from socialkpi.connect import run as connect_run

    return connect_run(build_parser().parse_args(["connect", *argv]), terminal=terminal, policy=FAST)


def test_umami_self_hosted_asks_the_username_and_the_hidden_password_on_a_terminal(
    shop: Path, sandbox: Sandbox
) -> None:
    terminal = Typing([USERNAME, PASSWORD, "all"])
    assert typed(terminal, "umami", "--url", sandbox.url) == 0, terminal.stderr.getvalue()
    assert [(p.strip(), s) for p, s in terminal.asked][:2] == [("Umami username:", False), ("Umami password:", True)]
    conn = store_of(shop).connection("umami", UMAMI_SITE)
    assert conn is not None and conn.client_id == USERNAME and conn.client_secret == PASSWORD
    assert PASSWORD not in terminal.stderr.getvalue()


def test_plausible_asks_the_hidden_key_and_without_a_sites_api_the_domain(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    sandbox.script(r"^/api/v1/sites$", Reply(404, "<html>Oops!</html>"))
    terminal = Typing([TOKEN, PLAUSIBLE_SITE, "1"])
    assert typed(terminal, "plausible") == 0, terminal.stderr.getvalue()
    assert terminal.asked[0] == ("Plausible Stats API key: ", True)
    assert terminal.asked[1][0].startswith("The site's domain as shown in Plausible") and not terminal.asked[1][1]
    assert "API Keys > New API Key > Stats API" in terminal.stderr.getvalue()  # where the key is made
    assert store_of(shop).connection("plausible", PLAUSIBLE_SITE) is not None


# -- all three -------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["plausible", "matomo", "umami"])
def test_a_competitor_is_refused_with_the_registrys_reason(shop: Path, platform: str) -> None:
    before = (shop / "socialkpi.toml").read_text()
    result = run(platform, "--competitor", "rivalpatisserie.fr")
    assert result.code == 2
    assert "cannot collect competitors: a competitor's website analytics are private" in one_line(result)
    assert (shop / "socialkpi.toml").read_text() == before


@pytest.mark.parametrize("platform", ["plausible", "matomo"])
def test_no_key_and_no_terminal_names_the_variable(shop: Path, sandbox: Sandbox, platform: str) -> None:
    result = run(platform, "--url", sandbox.url)
    assert result.code == 2
    assert f"set SOCIALKPI_{platform.upper()}_TOKEN" in result.stderr


def test_the_base_url_variable_wins_over_url(shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_MATOMO_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_MATOMO_TOKEN", TOKEN)
    result = run("matomo", "--url", "https://stats.example.com", "--select", "all")
    assert result.code == 0, result.stderr
    assert "SOCIALKPI_MATOMO_BASE_URL is set" in result.stderr


def test_the_sandboxs_printed_variables_connect_all_three_then_collect_needs_only_the_addresses(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m socialkpi.sandbox`` prints what a trial folder needs: `connect P --no-browser --select all`
    works for each key platform with it, and collect afterwards with nothing but the BASE_URL variables."""
    from socialkpi.sandbox.__main__ import environment

    printed = {k: v for k, v in environment(sandbox.url).items() if k.split("_")[1] in ("PLAUSIBLE", "MATOMO", "UMAMI")}
    assert printed["SOCIALKPI_UMAMI_TOKEN"] == TOKEN and "SOCIALKPI_UMAMI_CLIENT_ID" not in printed
    for name, value in printed.items():
        monkeypatch.setenv(name, value)
    for platform in ("plausible", "matomo", "umami"):
        result = run(platform, "--no-browser", "--select", "all")
        assert result.code == 0, result.stderr
    for name in printed:
        if name.endswith("_TOKEN"):
            monkeypatch.delenv(name)
    assert main(["collect"]) == 0
    rows = exported(shop)
    for platform, site in (("plausible", PLAUSIBLE_SITE), ("matomo", MATOMO_SITE), ("umami", UMAMI_SITE)):
        assert any(f",{platform},{site}," in r for r in rows), platform


@pytest.mark.parametrize(
    ("text", "platform", "root"),
    [
        ("https://stats.example.com/", "plausible", "https://stats.example.com"),
        ("https://stats.example.com/api/v2/query", "plausible", "https://stats.example.com"),
        ("https://example.com/matomo/index.php", "matomo", "https://example.com/matomo"),
        ("http://127.0.0.1:3000/", "umami", "http://127.0.0.1:3000"),
        (" https://umami.example.com/api ", "umami", "https://umami.example.com/api"),
    ],
)
def test_normalise_url(text: str, platform: str, root: str) -> None:
    assert web_analytics.normalise_url(text, platform) == root


def test_parsers_accept_what_servers_send() -> None:
    sites, after = web_analytics_sites.parse_plausible_sites(
        {"sites": [{"domain": "a.fr", "timezone": "UTC"}, {"nope": 1}], "meta": {"after": "x", "before": None}}
    )
    assert sites == [{"domain": "a.fr", "timezone": "UTC"}] and after == "x"
    assert web_analytics_sites.parse_matomo_sites([{"idsite": 3, "name": "A"}, {"idsite": "x"}, {"idsite": True}]) == [
        {"idsite": "3", "name": "A", "main_url": "", "timezone": ""}
    ]
    rows, more = web_analytics_sites.parse_umami_websites({"data": [{"id": UMAMI_SITE}], "count": 3, "pageSize": 1}, 1)
    assert [r["id"] for r in rows] == [UMAMI_SITE] and more
    with pytest.raises(ConnectError, match="Umami v1"):
        web_analytics_sites.parse_umami_websites([{"id": 4, "name": "old"}])
    rows, more = web_analytics_sites.parse_umami_websites([{"id": 4, "websiteUuid": UMAMI_SITE}])
    assert [r["id"] for r in rows] == [UMAMI_SITE] and not more


def test_a_stored_key_refused_later_says_to_connect_again(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_BASE_URL", sandbox.url)
    monkeypatch.setenv("SOCIALKPI_PLAUSIBLE_TOKEN", TOKEN)
    assert run("plausible").code == 0
    monkeypatch.delenv("SOCIALKPI_PLAUSIBLE_TOKEN")
    store = store_of(shop)
    data = json.loads(store.path.read_text())
    data[f"plausible/{PLAUSIBLE_SITE}"]["access_token"] = "a-key-revoked-since"  # deleted in Plausible's settings
    store.path.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["collect"]) == 1
    err = capsys.readouterr().err
    assert "run `socialkpi connect plausible` again" in err and "a-key-revoked-since" not in err
