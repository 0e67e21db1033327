"""socialkpi doctor: each account's cheapest authenticated call, through the real sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from socialkpi.cli import main
from socialkpi.credentials import credentials_for
from socialkpi.demo import demo_settings
from socialkpi.runner import run_checks
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import DEMO_ACCOUNTS, EXPIRED_TOKEN


def test_every_demo_account_checks_ok(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        settings = demo_settings(tmp_path / "wh.duckdb", sandbox.url)
        creds = {(a.platform, a.id): credentials_for(a, settings.env) for a in settings.accounts}
        results = run_checks(settings, settings.accounts, creds)
    assert {(r.account.platform, r.account.id) for r in results} == {(a.platform, a.id) for a in DEMO_ACCOUNTS}
    failed = [(r.account.platform, r.detail) for r in results if not r.ok]
    assert failed == []
    for r in results:  # every platform really has a check: no placeholder answers
        assert "no credential check" not in r.detail, r.account.platform


@pytest.mark.parametrize("platform", ["facebook", "ga4", "x", "linkedin", "youtube"])
def test_an_expired_token_fails_with_advice_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], platform: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    account = next(a for a in DEMO_ACCOUNTS if a.platform == platform and not a.competitor)
    (tmp_path / "socialkpi.toml").write_text(
        f'[business]\nname = "B"\n[[accounts]]\nplatform = "{platform}"\nid = "{account.id}"\n', encoding="utf-8"
    )
    with Sandbox() as sandbox:
        monkeypatch.setenv(f"SOCIALKPI_{platform.upper()}_BASE_URL", sandbox.url)
        monkeypatch.setenv(f"SOCIALKPI_{platform.upper()}_TOKEN", EXPIRED_TOKEN)
        assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if account.id in line)
    assert "FAILED" in line
    assert EXPIRED_TOKEN not in out
    assert "0 ok, 1 with problems" in out
