"""The real thing for an agency's install: ``socialkpi dashboard`` started at an install with two
workspaces, in headless Chromium: the overview across them first, then one business picked in the sidebar
shows its own Overview cards.  Skipped (or failed under SOCIALKPI_REQUIRE_BROWSER=1) as tests/test_browser.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import seed
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser, serve_dashboard
from tests.test_dashboard_workspaces import workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    _require_browser()
    seed.build_warehouse(workspace(tmp_path, "bakery", "Corner Bakery") / "data" / "socialkpi.duckdb")
    seed.build_warehouse(workspace(tmp_path, "studio", "Yoga Studio") / "data" / "socialkpi.duckdb", full=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    with serve_dashboard(tmp_path, env) as url:  # at the install
        yield url


def test_the_overview_then_one_business_in_headless_chromium(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(server, wait_until="domcontentloaded")
            try:
                page.get_by_role("heading", name="All businesses", exact=True).wait_for(timeout=30_000)
                page.get_by_text("bakery: 1 account(s) failing: facebook/222").wait_for(timeout=30_000)
                page.get_by_text("studio: 1 account(s) failing: facebook/222").wait_for(timeout=30_000)
                page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
                page.wait_for_timeout(800)
            finally:
                page.screenshot(path=str(tmp_path / "overview-all.png"), full_page=True)
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stMetricValue"]').count() == 0

            page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').click()
            page.get_by_role("option", name="bakery", exact=True).click()
            try:
                page.get_by_role("heading", name="Overview", exact=True).wait_for(timeout=30_000)
                page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=30_000)
                page.wait_for_timeout(800)
            finally:
                page.screenshot(path=str(tmp_path / "overview-bakery.png"), full_page=True)
            values = [v.strip() for v in page.locator('[data-testid="stMetricValue"]').all_inner_texts()]
            assert values[0] == seed.CARDS_28D["audience"][3]  # 1,673: the bakery's own Audience card
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            browser.close()
    assert (tmp_path / "overview-all.png").stat().st_size > 10_000
