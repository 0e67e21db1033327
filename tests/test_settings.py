"""Settings: every user mistake is a ConfigError naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from socialkpi.credentials import credentials_for
from socialkpi.settings import load_settings
from socialkpi.validation import ConfigError, parse_date

GOOD = """
[business]
name = "Corner Bakery"
timezone = "Europe/Paris"

[[accounts]]
platform = "facebook"
id = "104512345678901"
name = "Corner Bakery"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "socialkpi.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_reads(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.business_name == "Corner Bakery"
    assert str(settings.timezone) == "Europe/Paris"
    assert settings.db_path == tmp_path / "data/socialkpi.duckdb"
    assert [(a.platform, a.id, a.competitor) for a in settings.accounts] == [("facebook", "104512345678901", False)]


def test_env_file_read_and_real_environment_wins(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    (tmp_path / ".env").write_text("SOCIALKPI_FACEBOOK_TOKEN=from-dotenv-file\nSOCIALKPI_DB=a.duckdb\n")
    settings = load_settings(cwd=tmp_path, environ={"SOCIALKPI_DB": "/tmp/b.duckdb"})
    assert settings.env["SOCIALKPI_FACEBOOK_TOKEN"] == "from-dotenv-file"
    assert settings.db_path == Path("/tmp/b.duckdb")


@pytest.mark.parametrize(
    ("text", "key", "fix"),
    [
        (GOOD.replace('"facebook"', '"myspace"'), "accounts[1].platform", "use one of"),
        (GOOD.replace('"Europe/Paris"', '"Paris"'), "business.timezone", "IANA"),
        (GOOD.replace('id = "104512345678901"', 'id = "abc"'), "accounts[1].id", "Page id"),
        (GOOD.replace('id = "104512345678901"\n', ""), "accounts[1].id", "missing"),
        (
            GOOD + '\n[[accounts]]\nplatform = "facebook"\nid = "104512345678901"\n',
            "accounts[2].id",
            "listed twice",
        ),
        (GOOD + "\n[broken\n", "socialkpi.toml", "TOML"),
        (GOOD + '\ncompetitor = "yes"\n', "accounts[1].competitor", "true or false"),
        (GOOD + "\nsecret = 1\n", "accounts[1].secret", "unknown key"),
        (
            GOOD.replace("[business]", "[collect]\nhistory_days = 0\n[business]"),
            "collect.history_days",
            "1 or more",
        ),
        (
            GOOD + '\n[[accounts]]\nplatform = "ga4"\nid = "312345678"\ncompetitor = true\n',
            "accounts[2].competitor",
            "cannot collect competitors",
        ),
    ],
)
def test_mistakes_name_the_key_and_the_fix(tmp_path: Path, text: str, key: str, fix: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=tmp_path, environ={})
    assert info.value.key == key
    assert fix in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="examples/socialkpi.toml"):
        load_settings(cwd=tmp_path, environ={})


def test_missing_token_names_the_variable(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    settings = load_settings(cwd=tmp_path, environ={})
    with pytest.raises(ConfigError) as info:
        credentials_for(settings.accounts[0], settings.env)
    assert info.value.key == "SOCIALKPI_FACEBOOK_TOKEN"
    assert ".env" in str(info.value)


def test_token_env_overrides_per_account(tmp_path: Path) -> None:
    write(tmp_path, GOOD + 'token_env = "FB_SHOP2"\n')  # in the [[accounts]] entry only ([business] has none)
    settings = load_settings(cwd=tmp_path, environ={"FB_SHOP2": "tok-shop-2", "SOCIALKPI_FACEBOOK_TOKEN": "other"})
    creds = credentials_for(settings.accounts[0], settings.env)
    assert creds.token == "tok-shop-2"
    assert creds.token_env == "FB_SHOP2"


def test_base_url_must_be_http(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    settings = load_settings(
        cwd=tmp_path, environ={"SOCIALKPI_FACEBOOK_TOKEN": "t" * 10, "SOCIALKPI_FACEBOOK_BASE_URL": "ftp://x"}
    )
    with pytest.raises(ConfigError, match="SOCIALKPI_FACEBOOK_BASE_URL"):
        credentials_for(settings.accounts[0], settings.env)


@pytest.mark.parametrize("value", ["2026-02-30", "26-01-01", "yesterday", "2026/01/01", ""])
def test_bad_dates(value: str) -> None:
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        parse_date(value, "--since")


def test_good_date() -> None:
    assert parse_date("2026-02-28", "--since").isoformat() == "2026-02-28"
