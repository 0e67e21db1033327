"""``socialkpi collect --shard K/N``: the stable hash, the refused values, and N shard collects that add up to
one unsharded collect, against the sandbox into real DuckDB files."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors import PLATFORMS
from collectors.observation import Account
from socialkpi.cli import main
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import DEMO_ACCOUNTS, TOKEN
from socialkpi.shards import Shard, parse_shard, shard_of

# -- the hash -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(platform=st.sampled_from(sorted(PLATFORMS)), account_id=st.text(max_size=80))
def test_every_account_is_in_exactly_one_of_n_shards(platform: str, account_id: str) -> None:
    account = Account(platform=platform, id=account_id, name="x")
    for count in range(1, 9):
        holders = [k for k in range(1, count + 1) if Shard(k, count).holds(account)]
        assert holders == [shard_of(platform, account_id, count)]


# sha256("facebook\0104512345678901") begins 321aee07e4bf41c3: 0x321aee07e4bf41c3 % 4 + 1 == 4, and so on.
# A change to the hash (another digest, other bytes, another separator, Python's hash()) moves these.
KNOWN = [
    ("facebook", "104512345678901", {2: 2, 3: 2, 4: 4, 7: 4, 8: 4}),
    ("x", "cornerbakery", {2: 2, 3: 1, 4: 2, 7: 2, 8: 6}),
    ("mastodon", "cornerbakery@mastodon.social", {2: 1, 3: 3, 4: 3, 7: 6, 8: 7}),
    ("umami", "6f1c2b7e-3d4a-4e5b-9c8d-1a2b3c4d5e6f", {2: 1, 3: 1, 4: 1, 7: 3, 8: 1}),
]


@pytest.mark.parametrize(("platform", "account_id", "expected"), KNOWN)
def test_the_assignment_is_a_fixed_known_value(platform: str, account_id: str, expected: dict[int, int]) -> None:
    assert {n: shard_of(platform, account_id, n) for n in expected} == expected


def test_the_assignment_is_the_same_in_another_process_with_another_hash_seed() -> None:
    code = "from socialkpi.shards import shard_of; print(shard_of('x', 'cornerbakery', 8))"
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert done.stdout.strip() == "6"


def test_parse_shard_takes_k_of_n() -> None:
    assert parse_shard("1/1") == Shard(1, 1)
    assert parse_shard("3/8") == Shard(3, 8)
    assert str(parse_shard("3/8")) == "3/8"


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.mark.parametrize("value", ["0/3", "4/3", "1/0", "0/0", "x", "1/", "/3", "", "-1/3", "1/3/3", " 1/3", "1.0/3"])
def test_a_bad_shard_is_refused_with_one_line_and_exit_2(
    clean_env: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["collect", "--shard", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("socialkpi: error: argument --shard: "), err
    assert "Traceback" not in err
    assert not (clean_env / "data").exists()


def test_shard_with_all_workspaces_is_refused(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workspace", "add", "corner-bakery"]) == 0
    capsys.readouterr()
    assert main(["collect", "--all-workspaces", "--shard", "1/2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--shard" in err and "--workspace NAME collect --shard" in err, err


def project(
    folder: Path, sandbox: Sandbox, accounts: list[tuple[str, str, bool]], warehouse: str = 'path = "wh.duckdb"'
) -> Path:
    """``folder`` with a socialkpi.toml of ``accounts`` (platform, id, competitor) and ``[warehouse]`` lines, and
    a .env for the sandbox."""
    folder.mkdir(parents=True, exist_ok=True)
    toml = ['[business]\nname = "Corner Bakery"\ntimezone = "Europe/Paris"\n', f"[warehouse]\n{warehouse}\n"]
    for platform, account_id, competitor in accounts:
        toml.append(
            f'[[accounts]]\nplatform = "{platform}"\nid = "{account_id}"\nname = "{account_id}"\n'
            f"competitor = {'true' if competitor else 'false'}\n"
        )
    (folder / "socialkpi.toml").write_text("\n".join(toml), encoding="utf-8")
    env = [f"SOCIALKPI_{p.upper()}_{k}={v}" for p in {a[0] for a in accounts} for k, v in
           (("BASE_URL", sandbox.url), ("TOKEN", TOKEN))]  # fmt: skip
    (folder / ".env").write_text("\n".join(env) + "\n", encoding="utf-8")
    return folder


DEMO = [(a.platform, a.id, a.competitor) for a in DEMO_ACCOUNTS]


def test_a_shard_with_no_accounts_is_a_note_and_exit_0(
    clean_env: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(clean_env / "one", sandbox, [("facebook", "104512345678901", False)])  # in shard 4 of 8
    monkeypatch.chdir(folder)
    assert main(["collect", "--shard", "1/8"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "shard 1/8 holds none of the 1 account(s) selected: nothing to collect" in captured.err
    assert not (folder / "wh.duckdb").exists()  # nothing written, not even a run
    assert main(["collect", "--shard", "4/8"]) == 0
    assert "1 account(s) ok, 0 failed" in capsys.readouterr().out


def test_a_shard_of_an_unknown_account_or_platform_is_still_a_usage_error(
    clean_env: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project(clean_env / "one", sandbox, [("facebook", "104512345678901", False)]))
    assert main(["collect", "--shard", "1/8", "--account", "nope"]) == 2
    assert "--account: no account with id 'nope'" in capsys.readouterr().err


def observations(db: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT platform, account_id, metric, observed_on, value, source_metric FROM observations ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def run_accounts(db: Path) -> dict[str, set[tuple[str, str]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        found: dict[str, set[tuple[str, str]]] = {}
        for run_id, platform, account_id, status in con.execute(
            "SELECT run_id, platform, account_id, status FROM run_accounts"
        ).fetchall():
            assert status == "ok", (platform, account_id)
            found.setdefault(str(run_id), set()).add((str(platform), str(account_id)))
        return found
    finally:
        con.close()


def test_three_shard_collects_into_one_file_give_the_rows_of_one_unsharded_collect(
    clean_env: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every demo account (26, of every platform) through the CLI: once whole, and as shards 1/3, 2/3, 3/3 in
    turn (each its own run) into another file; the same observations, each account in exactly one shard run."""
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Paris")).date()
    days = ["--since", str(today - timedelta(days=5)), "--until", str(today - timedelta(days=1))]
    whole = project(clean_env / "whole", sandbox, DEMO)
    sharded = project(clean_env / "sharded", sandbox, DEMO)
    monkeypatch.chdir(whole)
    assert main(["collect", *days]) == 0
    monkeypatch.chdir(sharded)
    for k in (1, 2, 3):
        assert main(["collect", "--shard", f"{k}/3", *days]) == 0
    capsys.readouterr()

    expected = observations(whole / "wh.duckdb")
    assert {(p, a) for p, a, *_ in expected} == {(p, a) for p, a, _ in DEMO}  # every account gave rows
    assert observations(sharded / "wh.duckdb") == expected

    runs = list(run_accounts(sharded / "wh.duckdb").values())
    assert len(runs) == 3
    everyone = {(p, a) for p, a, _ in DEMO}
    assert sum(len(r) for r in runs) == len(everyone) and set().union(*runs) == everyone  # disjoint, complete
    for run in runs:
        (k,) = {shard_of(p, a, 3) for p, a in run}  # one run, one shard
        assert run == {(p, a) for p, a in everyone if shard_of(p, a, 3) == k}
