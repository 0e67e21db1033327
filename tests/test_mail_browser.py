"""The received report mail opened the way a webmail opens it: headless Chromium, every image loads.

The message comes from a real ``socialkpi report --mail-to`` through the real SMTP server on 127.0.0.1
(tests/test_mail.py).  As a webmail does, each ``cid:`` reference of the HTML body is served from the
message's own part with that Content-ID (here: rewritten to ``https://mail.invalid/cid/<id>`` and
answered by Playwright's router from the parsed part); any other request the page makes fails the test.
Every ``<img>`` must be complete with a natural size; a screenshot is left in the test's tmp_path.
Skipped loudly without chromium or playwright, failed instead when SOCIALKPI_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest

from tests.smtp import SmtpServer
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser
from tests.test_mail import TO, certs, collected, configure, mail_env, run, shop

pytestmark = pytest.mark.browser
__all__ = ["certs", "collected", "shop"]  # fixtures, imported for this module's test

CID_ROOT = "https://mail.invalid/cid/"


def test_the_received_html_shows_every_chart_in_chromium(
    shop: Path, certs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with SmtpServer(certs, security="starttls") as server:
        configure(shop, server)
        done = run(shop, "report", "--period", "last-week", "--out", "r.html", "--mail-to", TO[0], env=mail_env(certs))
    assert done.returncode == 0, done.stderr
    message = server.messages[0].message
    images = {
        str(part["Content-ID"]).strip().strip("<>"): part.get_content()
        for part in message.walk()
        if part.get("Content-ID")
    }
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    html = re.sub(r'src="cid:([^"]+)"', lambda m: f'src="{CID_ROOT}{quote(m.group(1))}"', body.get_content())
    assert html.count(CID_ROOT) == len(images) == 3
    served: list[str] = []
    strays: list[str] = []

    def answer(route: Any) -> None:
        url = route.request.url
        if url.startswith(CID_ROOT) and unquote(url[len(CID_ROOT) :]) in images:
            served.append(url)
            route.fulfill(status=200, content_type="image/png", body=images[unquote(url[len(CID_ROOT) :])])
        else:
            strays.append(url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 760, "height": 900})
            page.route("**/*", answer)
            page.set_content(html, wait_until="load")
            state = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth, e.naturalHeight, e.clientWidth])"
            )
            page.screenshot(path=str(tmp_path / "mail.png"), full_page=True)
            text = page.inner_text("body")
        finally:
            browser.close()
    assert strays == []  # nothing but the message's own parts
    assert sorted(set(served)) == sorted(f"{CID_ROOT}{quote(cid)}" for cid in images)
    assert [s[0] for s in state] == ["Followers per platform", "Impressions per platform", "Engagements per platform"]
    for alt, complete, natural_w, natural_h, shown_w in state:
        assert complete and natural_w >= 900 and natural_h > 300, alt  # decoded, full resolution
        assert 400 <= shown_w <= 560, alt  # laid out at the body's width, not the image's pixels
    assert "Key numbers" in text and "Per platform" in text and "Data health" in text
