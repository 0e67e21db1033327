"""The real thing: `streamlit run dashboard.py` served to headless Chromium (Debian's) via Playwright.

Skipped, with the reason in the summary, when /usr/bin/chromium or the playwright package is
missing (`playwright install` is never needed nor run: tech-notes §4).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import seed
from warehouse import export, queries

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _require_browser() -> None:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"BROWSER TEST SKIPPED: {CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"BROWSER TEST SKIPPED: playwright is not importable ({exc}); pip install playwright")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    _require_browser()
    db = seed.build_warehouse(tmp_path / "seed.duckdb")
    port = _free_port()
    log_path = tmp_path / "streamlit.log"
    env = {**os.environ, "SOCIALKPI_DB": str(db)}
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy after 30 s:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_dashboard_in_headless_chromium(server: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, db = server
    cards = queries.kpi_cards(db, seed.SPLIT, seed.END)
    expected_csv = io.BytesIO()
    export.write_kpis_csv(db, expected_csv, since=seed.SPLIT, until=seed.END, period="month")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1200}, accept_downloads=True)
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_text("Audience (followers)").wait_for(timeout=30_000)
            page.locator('[data-testid="stMetricValue"]').nth(len(cards) - 1).wait_for(timeout=30_000)
            chart = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
            page.locator(chart).first.wait_for(timeout=30_000)

            values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
            assert [v.strip() for v in values] == [f"{k.value:,.0f}" for k in cards]
            assert [v.strip() for v in values] == [shown for *_, shown in seed.CARDS_28D.values()]
            deltas = [d.strip() for d in page.locator('[data-testid="stMetricDelta"]').all_inner_texts()]
            assert [d.removeprefix("↑").strip() for d in deltas] == [
                f"{k.change_pct:+.1f}%" for k in cards if k.change_pct is not None
            ]
            assert page.locator('[data-testid="stException"]').count() == 0
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

            with page.expect_download() as download:
                page.get_by_role("button", name="Download KPIs CSV").click()
            saved = tmp_path / "kpis.csv"
            download.value.save_as(saved)
            assert saved.read_bytes() == expected_csv.getvalue()
            page.screenshot(path=str(tmp_path / "dashboard-after-download.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
