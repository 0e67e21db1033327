"""Docs stay honest (sqlite-utils' test_docs idea): every platform is documented and configurable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors import PLATFORMS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")
METRICS = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")


def table_rows() -> dict[str, str]:
    block = README.split("<!-- platforms-table -->")[1].split("<!-- /platforms-table -->")[0]
    rows = {}
    for line in block.splitlines():
        match = re.match(r"\| `([a-z_0-9]+)` \|", line)
        if match:
            rows[match.group(1)] = line
    return rows


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_every_platform_has_a_readme_row(platform: str) -> None:
    assert platform in table_rows(), f"README platforms table lacks {platform}"


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_every_platform_variable_is_in_env_example(platform: str) -> None:
    assert f"SOCIALKPI_{platform.upper()}_BASE_URL=" in ENV_EXAMPLE
    if PLATFORMS[platform].needs_token:
        assert f"SOCIALKPI_{platform.upper()}_TOKEN=" in ENV_EXAMPLE


def test_every_variable_the_code_reads_is_in_env_example() -> None:
    names: set[str] = set()
    for folder in ("collectors", "socialkpi", "warehouse"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"SOCIALKPI_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")))
    generic = {n for n in names if n.endswith("_") or n in {"SOCIALKPI_PLATFORM_TOKEN"}}
    for name in sorted(names - generic):
        if name.startswith(tuple(f"SOCIALKPI_{p.upper()}_" for p in PLATFORMS)) or name in {
            "SOCIALKPI_CONFIG",
            "SOCIALKPI_DB",
            "SOCIALKPI_GOOGLE_CREDENTIALS",
        }:
            assert f"{name}=" in ENV_EXAMPLE, f"{name} is read by the code but missing from .env.example"


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block and "make test" in first_block


def test_readme_metric_names_are_canonical() -> None:
    vocabulary = set(re.findall(r"^\| ([a-z_<>]+) \|", METRICS, flags=re.M))
    assert {"followers", "impressions", "reach", "page_views", "social_visits"} <= vocabulary
    for platform, row in table_rows().items():
        cell = re.sub(r"\([^)]*\)", "", row.split("|")[3])  # drop the platform's own names in brackets
        cell = re.sub(r"competitors?:", ",", cell)
        named = {item.strip() for item in re.split(r"[,;]", cell) if item.strip()}
        assert named, platform
        assert named <= vocabulary, f"{platform}: not in docs/metrics.md: {sorted(named - vocabulary)}"


CONNECT = (ROOT / "docs" / "connect.md").read_text(encoding="utf-8")
CONNECT_SECTIONS = {  # platform -> the docs/connect.md section that says how to connect it (else: its label)
    "facebook": "Facebook and Instagram", "instagram": "Facebook and Instagram", "threads": "Threads", "x": "X",
    "linkedin": "LinkedIn", "pinterest": "Pinterest", "tiktok": "TikTok", "youtube": "Google", "ga4": "Google",
    "google_business": "Google", "mastodon": "Mastodon", "bluesky": "Bluesky", "wordpress": "WordPress.com",
    "plausible": "Plausible", "matomo": "Matomo", "umami": "Umami",
}  # fmt: skip
NEEDS_APP = {"facebook", "instagram", "threads", "x", "linkedin", "pinterest", "tiktok", "youtube", "ga4",
             "google_business", "wordpress"}  # fmt: skip
NO_APP = {"mastodon", "bluesky", "plausible", "matomo", "umami"}  # nothing to create at the platform


def connect_section(platform: str) -> str:
    title = CONNECT_SECTIONS.get(platform, PLATFORMS[platform].label)
    parts = re.split(r"^## ", CONNECT, flags=re.M)
    found = [p for p in parts if p.startswith(title)]
    assert found, f"docs/connect.md has no '## {title}' section for {platform}"
    return found[0]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_docs_connect_says_how_to_connect_every_platform(platform: str) -> None:
    from socialkpi.connect import FLOWS, redirect_uri

    assert platform in FLOWS
    assert (platform in NEEDS_APP) != (platform in NO_APP), (
        f"{platform}: add it to NEEDS_APP (a developer app to create) or NO_APP in tests/test_docs.py"
    )
    section = connect_section(platform)
    assert "socialkpi connect" in section
    if platform in NEEDS_APP:
        assert re.search(r"^1\. ", section, flags=re.M), f"{platform}: no numbered list of the app's setup"
        assert redirect_uri(platform) in section, f"{platform}: the redirect URI {redirect_uri(platform)} is missing"


def test_readme_starts_the_way_to_your_own_data_with_init_and_connect() -> None:
    steps = README.split("## From the demo to your own data", 1)[1].split("\n## ", 1)[0]
    first, second = steps.split("\n2. ", 1)
    assert "socialkpi init" in first and "socialkpi connect" in second.split("\n3. ", 1)[0]
    assert "docs/connect.md" in steps


def stale_references(guide: str) -> list[str]:
    """The files and the ``module.name`` of ours a guide names (in backquotes) that do not exist."""
    import importlib

    stale = []
    for quoted in dict.fromkeys(re.findall(r"`([^`\s]+)`", guide)):
        name = quoted.split("(", 1)[0]
        if "<" in name:  # a placeholder: collectors/<id>.py
            continue
        if re.fullmatch(r"[\w.-]*(/[\w.-]*)*\.(py|md|example)|\w+/", name):
            if not (ROOT / name).exists():
                stale.append(name)
            continue
        dotted = name.replace("/", ".")
        if not re.fullmatch(r"(collectors|warehouse|socialkpi)(\.\w+)+", dotted):
            continue
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest module prefix, then attributes
            try:
                found: object = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            module = found
            for attribute in parts[cut:]:
                found = getattr(found, attribute, None)
            # a class or function is named where it is defined, not where it is imported (no re-exports)
            home = getattr(getattr(module, parts[cut], None), "__module__", None) if cut < len(parts) else None
            if found is None or (callable(found) and home not in (None, getattr(module, "__name__", None))):
                stale.append(name)
            break
    return stale


def test_the_guide_to_adding_a_platform_names_files_and_names_that_exist() -> None:
    guide = (ROOT / "docs" / "adding-a-platform.md").read_text(encoding="utf-8")
    assert "`collectors.errors.default_classify`" in guide  # the walk sees the names
    assert stale_references(guide) == []


def test_a_name_or_file_gone_from_the_code_is_a_stale_reference() -> None:
    guide = "`socialkpi.settings.credentials_for`, `collectors.http.Verdict`, `collectors/nothing.py`, `docs/`"
    assert stale_references(guide) == [
        "socialkpi.settings.credentials_for",  # moved to socialkpi.credentials
        "collectors.http.Verdict",  # lives in collectors.errors
        "collectors/nothing.py",
    ]
