"""``socialkpi connect wordpress`` end to end against the sandbox: consent, code exchange, the sites, collect.

The sandbox follows https://developer.wordpress.com/docs/api/oauth2/: the authorize URL takes ``client_id``,
``redirect_uri`` ("Must match registered redirect URI"), ``response_type`` ("code") and ``scope``
("Space-separated permissions"), ``state`` ("Recommended for CSRF protection"); redirects "Authorization Code
Flow: ``?code=AUTHORIZATION_CODE&state=YOUR_STATE``" and "User denial: ``?error=access_denied``"; the token
request ``curl -X POST https://public-api.wordpress.com/oauth2/token -d client_id=... -d client_secret=...
-d redirect_uri=... -d code=... -d grant_type=authorization_code`` answers ``{"access_token": "YOUR_API_TOKEN",
"blog_id": "blog_id_number", "blog_url": "https://yourblog.wordpress.com", "token_type": "bearer"}``; errors
"invalid_client: Invalid client credentials", "invalid_grant: Invalid or expired authorization code" (an
unknown client came back as HTTP 400 ``"error_description":"Unknown client_id."`` in
https://github.com/woocommerce/woocommerce/issues/24640).  https://developer.wordpress.com/docs/oauth2/:
"These tokens do not expire."  ``GET /rest/v1.1/me/sites`` (https://developer.wordpress.com/docs/api/1.1/get/me/sites/):
"Get a list of the current user's sites", each with "ID (int) Site ID", "name (string) Title of site", "URL
(string) Full URL to the site", "jetpack (bool)", "capabilities".
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from socialkpi.cli import main
from socialkpi.connect import wordpress as flow
from socialkpi.connect.flow import ConnectError
from socialkpi.sandbox import Reply, Sandbox
from socialkpi.sandbox.oauth import CLIENT_ID, CLIENT_SECRET
from tests.conftest import FAST
from tests.consent import connect, free_port, new_shop, store_of

SITE = "cornerbakery.blog"
VISITS = r"/rest/v1\.1/sites/[^/]+/stats/visits"


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, the WordPress.com app's credentials and the sandbox."""
    return new_shop(
        tmp_path,
        monkeypatch,
        {
            "SOCIALKPI_WORDPRESS_BASE_URL": sandbox.url,
            "SOCIALKPI_WORDPRESS_CLIENT_ID": CLIENT_ID,
            "SOCIALKPI_WORDPRESS_CLIENT_SECRET": CLIENT_SECRET,
        },
    )


def signin(*extra: str) -> list[str]:
    return ["wordpress", "--port", str(free_port()), *extra]


def test_allow_adds_the_sites_and_collect_then_works_without_any_env(
    shop: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run = connect(signin(), policy=FAST)
    assert run.code == 0, run.stderr
    parts = urlsplit(run.url)
    query = parse_qs(parts.query)
    assert parts.path == "/oauth2/authorize"
    port = int(query["redirect_uri"][0].split(":")[-1].split("/")[0])
    assert query["redirect_uri"] == [f"http://localhost:{port}/callback"]
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["scope"] == ["global"] and len(query["state"][0]) >= 40
    assert "code_challenge" not in query  # no PKCE documented for /oauth2/
    assert "left out: Lyon Gourmand (your WordPress.com user cannot view its stats)" in run.stderr
    exchange = sandbox.requests_to(r"/oauth2/token")[0].form()
    assert exchange == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": f"http://localhost:{port}/callback",
        "code": exchange["code"],
        "grant_type": "authorization_code",
    }
    listed = sandbox.requests_to(r"/rest/v1\.1/me/sites")[0]
    assert listed.query == {"fields": ["ID,name,URL,jetpack,capabilities"], "site_visibility": ["all"]}
    assert sandbox.requests_to(VISITS)[0].query["quantity"] == ["1"]  # checked before anything was written
    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)
    assert f'platform = "wordpress"\nid = "{SITE}"\nname = "Corner Bakery blog"\ncompetitor = false' in text
    assert "lyon-gourmand" not in text
    store = store_of(shop)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    conn = store.connection("wordpress", SITE)
    assert conn is not None and conn.token.expires_at is None and conn.token.refresh_token is None
    assert conn.client_id == CLIENT_ID and conn.client_secret is None  # no refresh: the secret is not kept
    assert conn.extra == {"blog_id": "198765432"}
    for secret in (conn.token.access_token, CLIENT_SECRET):
        assert secret not in text and secret not in run.stdout + run.stderr

    monkeypatch.delenv("SOCIALKPI_WORDPRESS_CLIENT_ID")
    monkeypatch.delenv("SOCIALKPI_WORDPRESS_CLIENT_SECRET")
    assert not (shop / ".env").exists()
    sandbox.clear()
    assert main(["collect"]) == 0
    assert main(["export", "--out", "obs.csv"]) == 0
    rows = (shop / "obs.csv").read_text()
    assert f",wordpress,{SITE},Corner Bakery blog,false,page_views," in rows
    assert f",wordpress,{SITE},Corner Bakery blog,false,visitors," in rows
    assert all(r.header("Authorization") == f"Bearer {conn.token.access_token}" for r in sandbox.requests_to(VISITS))
    assert conn.token.access_token not in rows


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


def test_a_code_already_used_is_refused(shop: Path, sandbox: Sandbox) -> None:
    def spend(location: str) -> str:  # someone redeemed the code first
        code = parse_qs(urlsplit(location).query)["code"][0]
        requests.post(
            sandbox.url + "/oauth2/token",
            data={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": "http://localhost:1/callback",
                "code": code,
                "grant_type": "authorization_code",
            },
            timeout=5,
        )
        return location

    run = connect(signin(), tamper=spend, policy=FAST)
    assert run.code == 2
    assert "authorization code was refused" in run.stderr and "Invalid or expired authorization code" in run.stderr
    assert not store_of(shop).path.exists()


def test_a_wrong_client_secret_is_named(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALKPI_WORDPRESS_CLIENT_SECRET", "not-the-secret-at-all")
    run = connect(signin(), policy=FAST)
    assert run.code == 2
    assert "client id or secret was refused" in run.stderr and "invalid_client" in run.stderr
    assert "SOCIALKPI_WORDPRESS_CLIENT_SECRET" in run.stderr and "not-the-secret-at-all" not in run.stderr
    assert not store_of(shop).path.exists()


def test_missing_app_credentials_say_where_they_are(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIALKPI_WORDPRESS_CLIENT_ID")
    run = connect(signin(), button=None, policy=FAST)
    assert run.code == 2
    assert "SOCIALKPI_WORDPRESS_CLIENT_ID" in run.stderr and "developer.wordpress.com/apps" in run.stderr
    assert "redirect URI http://localhost:" in run.stderr  # the one to register in the app


def test_a_site_whose_stats_cannot_be_read_is_named_and_nothing_is_written(shop: Path, sandbox: Sandbox) -> None:
    sandbox.script(
        VISITS, Reply(404, {"error": "invalid_blog", "message": "This blog does not have the Stats module enabled"})
    )
    before = (shop / "socialkpi.toml").read_text()
    run = connect(signin(), policy=FAST)
    assert run.code == 2
    assert f"the stats of {SITE} cannot be read" in run.stderr and "Stats module enabled" in run.stderr
    assert (shop / "socialkpi.toml").read_text() == before and not store_of(shop).path.exists()


def test_no_browser_prints_the_url_alone_and_takes_the_pasted_address(shop: Path) -> None:
    run = connect(signin("--no-browser", "--select", "all"), paste=True, policy=FAST)
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [run.url]
    assert run.pressed[0].callback is None
    assert store_of(shop).connection("wordpress", SITE) is not None


def test_connecting_again_renews_the_token_and_adds_no_duplicate(shop: Path) -> None:
    assert connect(signin(), policy=FAST).code == 0
    first = store_of(shop).connection("wordpress", SITE)
    again = connect(signin("--select", SITE), policy=FAST)
    assert again.code == 0 and f"renewed wordpress {SITE}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{SITE}"') == 1
    second = store_of(shop).connection("wordpress", SITE)
    assert first is not None and second is not None and second.token.access_token != first.token.access_token


def test_a_competitor_is_refused_at_once(shop: Path) -> None:
    run = connect(["wordpress", "--competitor", "rival.blog"], button=None, policy=FAST)
    assert run.code == 2 and "competitors cannot be looked up" in run.stderr


# -- pure parts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "blog_id", "account_id"),
    [
        ("https://cornerbakery.blog", 198765432, "cornerbakery.blog"),
        ("https://CornerBakery.wordpress.com/", 1, "cornerbakery.wordpress.com"),
        ("http://cornerbakery.fr/blog", 187654321, "187654321"),  # a Jetpack site in a folder: its blog id
    ],
)
def test_site_id(url: str, blog_id: int, account_id: str) -> None:
    assert flow.site_id(url, blog_id) == account_id


def test_parse_sites_leaves_out_the_sites_without_stats_access() -> None:
    body: dict[str, Any] = {
        "sites": [
            {
                "ID": 1,
                "name": "Mine",
                "URL": "https://mine.blog",
                "jetpack": False,
                "capabilities": {"view_stats": True},
            },
            {"ID": "2", "name": "Jetpack", "URL": "https://shop.example", "jetpack": True},
            {"ID": 3, "name": "Theirs", "URL": "https://theirs.blog", "capabilities": {"view_stats": False}},
        ]
    }
    sites, left_out = flow.parse_sites(body)
    assert [(s["id"], s["name"], s["blog_id"]) for s in sites] == [
        ("mine.blog", "Mine", "1"),
        ("shop.example", "Jetpack", "2"),
    ]
    assert sites[1]["detail"] == "Jetpack site https://shop.example, blog ID 2"
    assert left_out == ["Theirs"]
    with pytest.raises(ConnectError):
        flow.parse_sites({"error": "unauthorized"})


def test_parse_token_takes_blog_id_as_a_string() -> None:
    token, site = flow.parse_token(
        {"access_token": "t", "blog_id": "198765432", "blog_url": "https://cornerbakery.blog", "token_type": "bearer"}
    )
    assert token.access_token == "t" and token.expires_at is None and token.refresh_token is None
    assert site is not None and site["id"] == SITE and site["blog_id"] == "198765432"
    assert flow.parse_token({"access_token": "t", "blog_id": "0", "blog_url": "", "scope": ""})[1] is None
    with pytest.raises(ConnectError):
        flow.parse_token({"token_type": "bearer"})
