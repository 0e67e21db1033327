"""The real thing for one flow: ``socialkpi connect facebook`` with headless Chromium pressing Allow.

The command runs in this process with a Terminal whose browser is Playwright driving Debian's
/usr/bin/chromium: it opens the sandbox's Facebook Login Dialog, clicks Allow, follows Facebook's 302 to
``http://localhost:<port>/callback?code=...&state=...#_=_`` (the loopback receiver of the waiting command)
and shows its "Connected" page.  Screenshots of the consent page and of the callback page are left in the
test's tmp_path.  Skipped loudly without chromium or playwright, failed instead when
SOCIALKPI_REQUIRE_BROWSER=1 (tests/test_browser.py).

Meta's words the sandbox follows (https://developers.facebook.com/documentation/facebook-login/guides/advanced/
manual-flow): "Your app must initiate a redirect to an endpoint which will display the login dialog:
https://www.facebook.com/v21.0/dialog/oauth? client_id={app-id} &redirect_uri={redirect-uri}
&state={state-param}", and state "will be passed back to you, unchanged, in your redirect URI".
"""

from __future__ import annotations

import io
import os
import queue
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from socialkpi.sandbox import Sandbox
from socialkpi.sandbox import facebook_login as sb_fb_login
from tests.conftest import FAST
from tests.consent import free_port, store_of
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser
from tests.test_connect_meta import IG, IG2, PAGE, PAGE2, accounts_in, exported_rows, shop

pytestmark = pytest.mark.browser
__all__ = ["shop"]  # the fixture, imported for this module's test


def test_connect_facebook_in_headless_chromium_pressing_allow(
    shop: Path, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    from socialkpi.cli import build_parser, main
    from socialkpi.connect import run
    from socialkpi.connect.flow import Terminal

    port = free_port()
    args = build_parser().parse_args(["connect", "facebook", "--select", "all", "--port", str(port), "--timeout", "90"])
    read_fd, write_fd = os.pipe()  # standard input stays open and silent: only the browser answers
    stdin, writer = os.fdopen(read_fd, "r"), os.fdopen(write_fd, "w")
    out, err = io.StringIO(), io.StringIO()
    urls: queue.Queue[str] = queue.Queue()
    terminal = Terminal(stdin=stdin, stdout=out, stderr=err, open_browser=urls.put)
    result: dict[str, int] = {}
    command = threading.Thread(
        target=lambda: result.setdefault("code", run(args, terminal=terminal, policy=FAST)), daemon=True
    )
    command.start()
    try:
        url = urls.get(timeout=30)
        assert urlsplit(url).path == "/v26.0/dialog/oauth"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 900, "height": 700})
                page.goto(url, wait_until="domcontentloaded")
                allow = page.get_by_role("button", name="Allow")
                allow.wait_for(timeout=30_000)
                assert "socialkpi (sandbox app) is requesting access to your Pages" in page.content()
                page.screenshot(path=str(tmp_path / "consent.png"), full_page=True)
                page.click("#allow")
                page.get_by_role("heading", name="Connected").wait_for(timeout=30_000)
                landed = page.url
                page.screenshot(path=str(tmp_path / "callback.png"), full_page=True)
            finally:
                browser.close()
        command.join(60)
    finally:
        writer.close()
        command.join(10)
        stdin.close()
    assert not command.is_alive()
    assert result.get("code") == 0, err.getvalue()
    assert landed.startswith(f"http://localhost:{port}/callback?code=") and landed.endswith("#_=_")
    state = parse_qs(urlsplit(url).query)["state"]
    assert parse_qs(urlsplit(landed).query)["state"] == state  # "passed back to you, unchanged"
    assert "4 account(s) added" in err.getvalue()

    assert accounts_in(shop) == {("facebook", PAGE, False), ("facebook", PAGE2, False), ("instagram", IG, False),
                                 ("instagram", IG2, False)}  # fmt: skip
    store = store_of(shop)
    for platform, ident in (("facebook", PAGE), ("facebook", PAGE2), ("instagram", IG), ("instagram", IG2)):
        conn = store.connection(platform, ident)
        assert conn is not None and conn.token.expires_at is None
        known = sb_fb_login.issued(conn.token.access_token)
        assert known is not None and known.kind == "page" and known.long_lived
    for name in ("consent.png", "callback.png"):
        assert (tmp_path / name).stat().st_size > 2_000, name

    for name in ("SOCIALKPI_META_CLIENT_ID", "SOCIALKPI_META_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    assert main(["collect"]) == 0
    rows = exported_rows(shop)
    assert all(any(f",{ident}," in r for r in rows) for ident in (PAGE, PAGE2, IG, IG2))
