"""``socialkpi connect bluesky``: the handle checked with the public profile call, added, then collected.

The sandbox follows https://docs.bsky.app/docs/api/app-bsky-actor-get-profile ("Get detailed profile view of an
actor. Does not require auth, but contains relevant metadata with auth."; the answer a
``profileViewDetailed``: ``did``, ``handle``, optional ``displayName``, ``followersCount``, ``postsCount``)
and the XRPC error body ``{"error": "InvalidRequest", "message": "Profile not found"}`` (400).  Handles follow
https://atproto.com/specs/handle: "Handles are not case-sensitive, and should be normalized to lowercase";
"there must be at least two segments"; ``.local``, ``.localhost``, ``.invalid`` ... are disallowed TLDs.
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import pytest

from socialkpi.cli import build_parser, main
from socialkpi.connect import bluesky as flow
from socialkpi.connect import run
from socialkpi.connect.flow import ConnectError, Terminal
from socialkpi.sandbox import Sandbox
from tests.conftest import FAST
from tests.consent import connect, new_shop, store_of

OWN = "cornerbakery.bsky.social"
PROFILE = r"/xrpc/app\.bsky\.actor\.getProfile"


@pytest.fixture
def shop(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new owner's folder: `socialkpi init`, no .env, only the sandbox's address (no app, no token)."""
    return new_shop(tmp_path, monkeypatch, {"SOCIALKPI_BLUESKY_BASE_URL": sandbox.url})


def exported(folder: Path) -> list[str]:
    assert main(["export", "--out", "obs.csv"]) == 0
    return (folder / "obs.csv").read_text().splitlines()


def no_store(folder: Path) -> bool:
    return not store_of(folder).path.exists()


def run_with_input(argv: list[str], text: str, *, tty: bool = False) -> tuple[int, str]:
    """The command with ``text`` on its standard input: a script's pipe, or (``tty``) a person at a terminal."""
    args: argparse.Namespace = build_parser().parse_args(["connect", *argv])
    stdin = io.StringIO(text)
    stdin.isatty = lambda: tty  # type: ignore[method-assign]
    err = io.StringIO()
    code = run(args, terminal=Terminal(stdin=stdin, stdout=io.StringIO(), stderr=err), policy=FAST)
    return code, err.getvalue()


def test_select_handle_adds_the_account_and_collect_then_works_without_any_env(shop: Path, sandbox: Sandbox) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run_ = connect(["bluesky", "--select", "@CornerBakery.bsky.social"], button=None, policy=FAST)
    assert run_.code == 0, run_.stderr
    assert run_.stdout == ""  # nothing to authorize
    assert f"Found bluesky {OWN}: Corner Bakery (@{OWN}, " in run_.stderr and " followers" in run_.stderr
    [asked] = sandbox.requests_to(PROFILE)
    assert asked.query == {"actor": [OWN]} and asked.header("Authorization") is None
    text = (shop / "socialkpi.toml").read_text()
    assert text.startswith(before)
    assert f'platform = "bluesky"\nid = "{OWN}"\nname = "Corner Bakery"\ncompetitor = false' in text
    assert no_store(shop)  # no token: nothing in the token store

    sandbox.clear()
    assert [k for k in os.environ if k.startswith("SOCIALKPI_")] == ["SOCIALKPI_BLUESKY_BASE_URL"]
    assert main(["collect"]) == 0
    rows = exported(shop)
    assert any(f",bluesky,{OWN},Corner Bakery,false,followers," in r for r in rows)
    assert any(f",bluesky,{OWN},Corner Bakery,false,posts," in r for r in rows)


def test_the_handle_is_read_from_standard_input_when_not_given(shop: Path) -> None:
    code, err = run_with_input(["bluesky"], f"{OWN}\n")
    assert code == 0, err
    assert "Your Bluesky handle" in err and "1 account(s) found" in err and "followers" in err
    assert f'id = "{OWN}"' in (shop / "socialkpi.toml").read_text()


def test_select_all_asks_for_the_handle_on_a_terminal(shop: Path) -> None:
    code, err = run_with_input(["bluesky", "--select", "all"], f"{OWN}\n", tty=True)
    assert code == 0, err
    assert "Your Bluesky handle" in err and f"Found bluesky {OWN}" in err


def test_select_all_without_a_terminal_reads_the_handle_a_script_gives(shop: Path) -> None:
    code, err = run_with_input(["bluesky", "--select", "all"], f"{OWN}\n")
    assert code == 0, err
    assert f"Found bluesky {OWN}" in err


def test_select_all_with_nothing_on_standard_input_says_how_to_give_the_handle(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    code, err = run_with_input(["bluesky", "--select", "all"], "")
    assert code == 2
    assert "standard input ended" in err and "--select HANDLE" in err and "--competitor" in err
    assert (shop / "socialkpi.toml").read_text() == before


def test_no_answer_on_standard_input_says_how_to_give_the_handle(shop: Path) -> None:
    code, err = run_with_input(["bluesky"], "")
    assert code == 2 and "standard input ended" in err and "--select HANDLE" in err


def test_a_handle_that_does_not_resolve_adds_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run_ = connect(["bluesky", "--select", "unknownbakery.bsky.social"], button=None, policy=FAST)
    assert run_.code == 2
    assert "no profile unknownbakery.bsky.social (InvalidRequest: Profile not found)" in run_.stderr
    assert (shop / "socialkpi.toml").read_text() == before and no_store(shop)


def test_a_taken_down_account_adds_nothing(shop: Path) -> None:
    run_ = connect(["bluesky", "--select", "takendownbakery.bsky.social"], button=None, policy=FAST)
    assert run_.code == 2 and "taken down or deactivated" in run_.stderr and "AccountTakedown" in run_.stderr


def test_a_name_that_is_not_a_handle_is_refused_before_any_call(shop: Path, sandbox: Sandbox) -> None:
    run_ = connect(["bluesky", "--select", "cornerbakery"], button=None, policy=FAST)
    assert run_.code == 2 and "such as cornerbakery.bsky.social" in run_.stderr
    assert not sandbox.requests_to(PROFILE)


def test_select_a_profile_address_names_the_handle_to_give(shop: Path) -> None:
    run_ = connect(["bluesky", "--select", f"https://bsky.app/profile/{OWN}"], button=None, policy=FAST)
    assert run_.code == 2 and f"--select {OWN}" in run_.stderr


def test_connecting_again_adds_no_duplicate(shop: Path) -> None:
    assert connect(["bluesky", "--select", OWN], button=None, policy=FAST).code == 0
    again = connect(["bluesky", "--select", OWN.upper()], button=None, policy=FAST)
    assert again.code == 0 and f"renewed bluesky {OWN}" in again.stderr
    assert (shop / "socialkpi.toml").read_text().count(f'id = "{OWN}"') == 1


def test_a_did_is_written_as_given(shop: Path, sandbox: Sandbox) -> None:
    did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    run_ = connect(["bluesky", "--select", did], button=None, policy=FAST)
    assert run_.code == 0, run_.stderr
    assert f'id = "{did}"' in (shop / "socialkpi.toml").read_text()


def test_a_competitor_is_looked_up_and_added(shop: Path, sandbox: Sandbox) -> None:
    run_ = connect(
        ["bluesky", "--competitor", "https://bsky.app/profile/rivalpatisserie.bsky.social"], button=None, policy=FAST
    )
    assert run_.code == 0, run_.stderr
    assert "Found bluesky rivalpatisserie.bsky.social: Rival Patisserie" in run_.stderr and "followers" in run_.stderr
    text = (shop / "socialkpi.toml").read_text()
    assert 'id = "rivalpatisserie.bsky.social"\nname = "Rival Patisserie"\ncompetitor = true' in text
    assert main(["collect"]) == 0
    assert any(",bluesky,rivalpatisserie.bsky.social,Rival Patisserie,true,followers," in r for r in exported(shop))


def test_a_competitor_that_does_not_exist_adds_nothing(shop: Path) -> None:
    before = (shop / "socialkpi.toml").read_text()
    run_ = connect(["bluesky", "--competitor", "@unknownrival.bsky.social"], button=None, policy=FAST)
    assert run_.code == 2 and "no profile unknownrival.bsky.social" in run_.stderr
    assert "Profile not found" in run_.stderr
    assert (shop / "socialkpi.toml").read_text() == before


# -- pure parts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "actor"),
    [
        ("cornerbakery.bsky.social", OWN),
        ("@CornerBakery.bsky.social", OWN),
        ("https://bsky.app/profile/cornerbakery.bsky.social", OWN),
        ("bsky.app/profile/cornerbakery.bsky.social/post/3kabc", OWN),
        ("shop.cornerbakery.fr", "shop.cornerbakery.fr"),
        ("did:plc:ewvi7nxzyoun6zhxrhs64oiz", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"),
        ("https://bsky.app/profile/did:plc:ewvi7nxzyoun6zhxrhs64oiz", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"),
    ],
)
def test_actor_of(text: str, actor: str) -> None:
    assert flow.actor_of(text) == actor


@pytest.mark.parametrize(
    "text",
    [
        "cornerbakery",  # one segment
        "jo@hn.test",  # the spec's invalid example
        "bakery.local",  # a disallowed TLD
        "bakery.localhost",
        "-bakery.bsky.social",  # a segment starting with a hyphen
        "bakery.123",  # the last segment starts with a digit
        "a" * 64 + ".bsky.social",  # a segment over 63 characters
        "https://bsky.app/search?q=bakery",
    ],
)
def test_actor_of_refuses_what_is_no_handle(text: str) -> None:
    with pytest.raises(ConnectError):
        flow.actor_of(text)


def test_parse_profile_takes_the_optional_counts_as_they_come() -> None:
    bare = flow.parse_profile({"did": "did:plc:x", "handle": OWN}, OWN)
    assert bare["name"] == OWN and bare["detail"] == f"@{OWN}"
    full = flow.parse_profile(
        {"did": "did:plc:x", "handle": OWN, "displayName": "Corner Bakery", "followersCount": 1234, "postsCount": 5},
        OWN,
    )
    assert full["name"] == "Corner Bakery" and full["detail"] == f"@{OWN}, 1,234 followers, 5 posts"
    with pytest.raises(ConnectError):
        flow.parse_profile({"handle": OWN}, OWN)
