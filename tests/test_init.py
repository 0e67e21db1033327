"""``socialkpi init`` and the socialkpi.toml edits of ``socialkpi connect`` (comments and layout kept)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from collectors.observation import Account
from socialkpi.cli import main
from socialkpi.connect.config import add_accounts
from socialkpi.settings import load_settings


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    return tmp_path


def test_init_yes_takes_the_machines_time_zone_and_eur(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert main(["init", "--yes", "--name", "Corner Bakery"]) == 0
    settings = load_settings()
    assert settings.business_name == "Corner Bakery" and str(settings.timezone) == "Asia/Tokyo"
    assert settings.costs is not None and settings.costs.currency == "EUR"
    assert settings.accounts == ()


def test_init_asks_what_the_flags_leave_out(folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    done = subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", "init"],
        input="Boulangerie Ève\nEurope/Paris\nchf\n6\n",
        capture_output=True, text=True, cwd=folder, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Business name" in done.stderr and "Time zone" in done.stderr and "Currency" in done.stderr
    settings = load_settings()
    assert settings.business_name == "Boulangerie Ève" and str(settings.timezone) == "Europe/Paris"
    assert settings.costs is not None and settings.costs.currency == "CHF"
    assert "weekly_hours = 6" in (folder / "socialkpi.toml").read_text(encoding="utf-8")


def test_init_never_replaces_a_file_without_force(folder: Path) -> None:
    (folder / "socialkpi.toml").write_text("# mine\n", encoding="utf-8")
    assert main(["init", "--yes"]) == 2
    assert (folder / "socialkpi.toml").read_text() == "# mine\n"
    assert main(["init", "--yes", "--force", "--name", "New"]) == 0
    assert load_settings().business_name == "New"


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--timezone", "Mars/Olympus"], "is not a time zone"),
        (["--currency", "euros"], "is not a currency code"),
        (["--hours", "200"], "not a number of hours a week"),
        (["--name", ""], "--name"),
    ],
)
def test_init_refuses_a_wrong_answer_and_writes_nothing(
    folder: Path, flags: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--yes", *flags]) == 2
    assert said in capsys.readouterr().err
    assert not (folder / "socialkpi.toml").exists()


def test_init_without_answers_on_a_closed_input_says_to_pass_yes(folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    done = subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", "init"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
        cwd=folder, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "--yes" in done.stderr and "Traceback" not in done.stderr
    assert not (folder / "socialkpi.toml").exists()


def test_weekly_hours_are_spread_over_the_social_platforms_without_their_own_share(folder: Path) -> None:
    (folder / "socialkpi.toml").write_text(
        """
[costs]
weekly_hours = 6
[costs.hours_per_week]
instagram = 2
[[accounts]]
platform = "facebook"
id = "104512345678901"
[[accounts]]
platform = "instagram"
id = "17841405309211844"
[[accounts]]
platform = "x"
id = "rivalpatisserie"
competitor = true
[[accounts]]
platform = "ga4"
id = "312345678"
[[accounts]]
platform = "tiktok"
id = "cornerbakery.lyon"
""",
        encoding="utf-8",
    )
    costs = load_settings().costs
    assert costs is not None
    # 6 h - instagram's 2 h = 4 h over facebook and tiktok; x is only a competitor, ga4 is a website
    assert costs.hours_per_week == {"instagram": 2.0, "facebook": 2.0, "tiktok": 2.0}


OWNER_FILE = """# my bakery, edited by hand
[business]
name = "Corner Bakery"   # the shop
timezone = "Europe/Paris"

[[accounts]]
platform = "facebook"
id = "104512345678901"
name = "Corner Bakery"
# the rival, checked every week
"""


def test_connect_appends_accounts_and_keeps_the_owners_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "socialkpi.toml"
    path.write_text(OWNER_FILE, encoding="utf-8")
    changes = add_accounts(
        path,
        [
            Account("facebook", "104512345678901", "Corner Bakery"),  # already there
            Account("instagram", "17841405309211844", "Corner Bakery"),
            Account("x", "rivalpatisserie", "Rival Patisserie", competitor=True),
        ],
    )
    assert [a.id for a in changes.added] == ["17841405309211844", "rivalpatisserie"]
    assert [a.id for a in changes.kept] == ["104512345678901"]
    text = path.read_text(encoding="utf-8")
    assert text.startswith(OWNER_FILE)
    assert text.count("[[accounts]]") == 3
    settings = load_settings(str(path))
    assert [(a.platform, a.id, a.competitor) for a in settings.accounts] == [
        ("facebook", "104512345678901", False),
        ("instagram", "17841405309211844", False),
        ("x", "rivalpatisserie", True),
    ]
    again = add_accounts(path, [Account("x", "rivalpatisserie", "Rival Patisserie", competitor=True)])
    assert again.added == [] and path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["socialkpi.toml"]  # no temporary file left
