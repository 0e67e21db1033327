"""Workspaces (issue 15 §1, docs/agencies.md): ``--workspace NAME`` / ``SOCIALKPI_WORKSPACE``,
``workspace list|add``, ``collect --all-workspaces`` and ``report --all-workspaces`` end to end against the
sandbox, each workspace's collect a real child process with its own .env and lock."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import duckdb
import pytest

from socialkpi import workspaces
from socialkpi.cli import main
from socialkpi.lock import RunLock
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import EXPIRED_TOKEN, TOKEN

CONFIG = """
[business]
name = "{business}"
timezone = "Europe/Paris"

[collect]
history_days = 5

[[accounts]]
platform = "facebook"
id = "104512345678901"
name = "{business}"
{extra}

[[accounts]]
platform = "ga4"
id = "312345678"
name = "{business} site"
"""


def env_file(sandbox: Sandbox, facebook_token: str | None = TOKEN) -> str:
    lines = [f"SOCIALKPI_FACEBOOK_BASE_URL={sandbox.url}", f"SOCIALKPI_GA4_TOKEN={TOKEN}",
             f"SOCIALKPI_GA4_BASE_URL={sandbox.url}"]  # fmt: skip
    if facebook_token is not None:
        lines.append(f"SOCIALKPI_FACEBOOK_TOKEN={facebook_token}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An install folder (the current directory) with no SOCIALKPI_ variable in the environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    return tmp_path


def add(install: Path, name: str, config: str | None = None, env: str | None = None) -> Path:
    assert main(["workspace", "add", name]) == 0
    folder = install / "workspaces" / name
    if config is not None:
        (folder / "socialkpi.toml").write_text(config, encoding="utf-8")
    if env is not None:
        (folder / ".env").write_text(env, encoding="utf-8")
    return folder


def observations(db: Path) -> set[tuple[str, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            (str(p), str(a))
            for p, a in con.execute("SELECT DISTINCT platform, account_id FROM observations").fetchall()
        }
    finally:
        con.close()


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("socialkpi: error: "), err
    assert "Traceback" not in err
    return err


# -- names, folders, selection ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "..", ".", "a b", "-x", "x" * 65, "tab\tx", "é"])
def test_a_bad_workspace_name_is_refused_with_one_line(
    install: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    (install / "workspaces").mkdir()
    (install / "x").mkdir()  # what ../x would reach from workspaces/
    assert main([f"--workspace={name}", "status"]) == 2  # (= : argparse would read "-x" as an option)
    err = one_error_line(capsys)
    assert f"--workspace {name!r}: not a workspace name" in err
    assert main(["workspace", "add", "--", name]) == 2
    assert "not a workspace name" in one_error_line(capsys)
    assert sorted(p.name for p in (install / "workspaces").iterdir()) == []  # nothing created


def test_the_environment_variable_is_checked_the_same_way(
    install: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALKPI_WORKSPACE", "../etc")
    assert main(["status"]) == 2
    assert "SOCIALKPI_WORKSPACE '../etc': not a workspace name" in one_error_line(capsys)
    monkeypatch.setenv("SOCIALKPI_WORKSPACE", "")  # empty: no workspace, the install's own folder
    assert main(["status"]) == 0
    assert "No warehouse yet at " + str(install / "data") in capsys.readouterr().out


def test_a_missing_workspace_says_how_to_create_it(install: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--workspace", "nope", "status"]) == 2
    err = one_error_line(capsys)
    assert "no workspace workspaces/nope" in err and "socialkpi workspace add nope" in err
    (install / "workspaces").mkdir()
    (install / "workspaces" / "afile").write_text("", encoding="utf-8")
    assert main(["--workspace", "afile", "status"]) == 2
    assert "is not a folder" in one_error_line(capsys)


def test_workspace_add_and_list(install: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workspace", "list"]) == 0
    out, err = capsys.readouterr()
    assert out == ""  # an empty list is no line at all (scripts: for w in $(socialkpi workspace list))
    assert "no workspaces in" in err and "socialkpi workspace add NAME" in err
    assert main(["workspace", "add", "corner-bakery"]) == 0
    assert (
        capsys.readouterr().out == "created workspaces/corner-bakery. Next: socialkpi --workspace corner-bakery init\n"
    )
    assert (install / "workspaces" / "corner-bakery").stat().st_mode & 0o777 == 0o700
    assert main(["workspace", "add", "corner-bakery"]) == 2
    assert "already exists" in one_error_line(capsys)
    assert main(["workspace", "add", "Atelier.2"]) == 0
    (install / "workspaces" / "not valid").mkdir()  # made by hand: skipped with a warning
    (install / "workspaces" / ".git").mkdir()  # hidden: not a workspace, not mentioned
    capsys.readouterr()
    assert main(["workspace", "list"]) == 0
    out, err = capsys.readouterr()
    assert out == "Atelier.2\ncorner-bakery\n"
    assert err.count("\n") == 1 and "'not valid' is skipped" in err


def test_a_command_runs_inside_its_workspace(install: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(install, "shop")
    assert main(["--workspace", "shop", "init", "--yes", "--name", "Shop"]) == 0
    assert (install / "workspaces" / "shop" / "socialkpi.toml").is_file()
    assert not (install / "socialkpi.toml").exists()
    assert Path.cwd() == install  # put back after the command
    capsys.readouterr()
    assert main(["--workspace", "shop", "status"]) == 0
    assert (
        f"No warehouse yet at {install / 'workspaces' / 'shop' / 'data' / 'socialkpi.duckdb'}"
        in capsys.readouterr().out
    )


def test_a_shared_file_variable_is_refused_with_a_workspace(
    install: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add(install, "shop")
    for variable in ("SOCIALKPI_DB", "SOCIALKPI_CONFIG"):
        monkeypatch.setenv(variable, str(install / "one.file"))
        assert main(["--workspace", "shop", "status"]) == 2
        assert f"{variable} is set in the environment" in one_error_line(capsys)
        monkeypatch.delenv(variable)


@pytest.mark.parametrize(
    "argv", [["workspace", "list"], ["collect", "--all-workspaces"], ["report", "--all-workspaces", "--out", "r"]]
)
def test_every_workspace_commands_refuse_a_workspace(
    install: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    add(install, "shop")
    capsys.readouterr()
    assert main(["--workspace", "shop", *argv]) == 2
    assert "leave out --workspace" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["collect", "--all-workspaces"], "no workspaces in"),
        (["collect", "--all-workspaces", "--platform", "x"], "--platform belongs to one workspace"),
        (["collect", "--all-workspaces", "--config", "a.toml"], "--config belongs to one workspace"),
        (["report", "--all-workspaces"], "give --out DIR"),
        (["report", "--all-workspaces", "--out", "r", "--mail-to", "a@example.com"], "--mail-to"),
    ],
)
def test_all_workspaces_usage_mistakes_exit_2(
    install: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert main(argv) == 2
    assert expected in one_error_line(capsys)


# -- collect --all-workspaces end to end ------------------------------------------------------------


def test_collect_all_workspaces_one_failing_never_stops_the_others(
    install: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """Four clients: one fine, one whose facebook token the platform refuses (exit 1, the rest saved), one
    with no facebook token in its own .env (exit 2: the others' tokens do not reach it), one whose
    socialkpi.toml is broken (exit 2).  Every one runs, in name order; the exit status is 1."""
    good = add(install, "a-good", CONFIG.format(business="Good", extra=""), env_file(sandbox))
    expired = add(install, "b-expired", CONFIG.format(business="Expired", extra=""), env_file(sandbox, EXPIRED_TOKEN))
    add(install, "c-notoken", CONFIG.format(business="No token", extra=""), env_file(sandbox, None))
    add(install, "d-broken", "[business\nname = ", env_file(sandbox))
    capsys.readouterr()
    assert main(["collect", "--all-workspaces"]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    summary = [line for line in lines if line.startswith("workspace ")]
    assert [line.split(":")[0] for line in summary] == [
        "workspace a-good", "workspace b-expired", "workspace c-notoken", "workspace d-broken",
    ]  # fmt: skip
    assert summary[0].startswith("workspace a-good: ok: collect ") and "2 account(s) ok, 0 failed" in summary[0]
    assert summary[1].startswith("workspace b-expired: FAILED (exit 1: some accounts failed, the rest was saved)")
    assert summary[2].startswith("workspace c-notoken: FAILED (exit 2: bad usage or configuration, nothing done)")
    assert "SOCIALKPI_FACEBOOK_TOKEN" in summary[2]
    assert summary[3].startswith("workspace d-broken: FAILED (exit 2") and "not valid TOML" in summary[3]
    assert lines[-1] == "all workspaces: 1 ok, 3 failed (of 4)"
    # each child's own output, relayed after its name
    assert any(line.startswith("[a-good] collect ") for line in lines)
    assert any(
        line.startswith("[b-expired] socialkpi: error: failed: facebook/104512345678901") for line in err.splitlines()
    )
    assert EXPIRED_TOKEN not in out + err and TOKEN not in out + err
    # what each warehouse holds
    assert observations(good / "data" / "socialkpi.duckdb") == {("facebook", "104512345678901"), ("ga4", "312345678")}
    assert observations(expired / "data" / "socialkpi.duckdb") == {("ga4", "312345678")}
    assert not (install / "workspaces" / "c-notoken" / "data" / "socialkpi.duckdb").exists()
    assert not (install / "data").exists()  # nothing at the install's own place


def test_collect_all_workspaces_all_ok_is_exit_0_and_each_has_its_own_lock(
    install: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    one = add(install, "one", CONFIG.format(business="One", extra=""), env_file(sandbox))
    two = add(install, "two", CONFIG.format(business="Two", extra=""), env_file(sandbox))
    with RunLock(two / "data" / "socialkpi.duckdb"):  # a collect of "two" alone is running
        assert main(["collect", "--all-workspaces"]) == 1
    out = capsys.readouterr().out
    assert "workspace one: ok" in out
    assert "workspace two: FAILED (exit 75: another collect holds its lock, nothing done)" in out
    assert main(["collect", "--all-workspaces", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "all workspaces: 2 ok, 0 failed (of 2)"
    assert observations(one / "data" / "socialkpi.duckdb") == observations(two / "data" / "socialkpi.duckdb")


def test_a_second_collect_all_workspaces_exits_75(install: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(install, "one")
    with RunLock(install / "workspaces" / workspaces.LOCK_NAME):
        assert main(["collect", "--all-workspaces"]) == 75
    assert "another socialkpi collect --all-workspaces is running" in one_error_line(capsys)
    assert sorted(p.name for p in (install / "workspaces").iterdir()) == [".all-workspaces.lock", "one"]


def test_account_secrets_in_the_environment_are_named_never_shown(
    install: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add(install, "one", CONFIG.format(business="One", extra=""), env_file(sandbox))
    monkeypatch.setenv("SOCIALKPI_X_TOKEN", "shell-secret-value")
    monkeypatch.setenv("SOCIALKPI_META_CLIENT_ID", "an-app-id")  # the agency's own app: shared on purpose
    assert main(["collect", "--all-workspaces", "--quiet"]) == 0
    out, err = capsys.readouterr()
    warnings = [line for line in err.splitlines() if line.startswith("socialkpi: warning:")]
    assert len(warnings) == 1 and "SOCIALKPI_X_TOKEN is set in the environment" in warnings[0]
    assert "shell-secret-value" not in out + err


def test_a_crashing_child_is_its_workspace_s_failure_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What a segfault or an out-of-memory kill looks like from the parent: the next workspace still runs."""
    crash = "import os, signal, sys; print('half done', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    commands = {
        "a": [sys.executable, "-c", crash],
        "b": [sys.executable, "-c", "import sys; print('collect b: fine'); sys.exit(0)"],
        "c": [sys.executable, "-c", "import sys; sys.exit(3)"],
    }
    outcomes = workspaces.run_each(list(commands), commands.__getitem__, env=dict(os.environ), cwd=tmp_path)
    assert [(o.name, o.code) for o in outcomes] == [("a", -signal.SIGKILL), ("b", 0), ("c", 3)]
    assert workspaces.summary(outcomes, workspaces.MEANING) == 1
    out = capsys.readouterr().out
    assert f"workspace a: CRASHED (killed by signal {int(signal.SIGKILL)}): half done" in out
    assert "workspace b: ok: collect b: fine" in out
    assert "workspace c: CRASHED (exit 3)" in out
    assert "[a] half done" in out


def test_the_child_environment_is_the_parent_s_without_the_selection() -> None:
    env = workspaces.child_environment({"SOCIALKPI_WORKSPACE": "x", "HOME": "/h", "SOCIALKPI_META_CLIENT_ID": "i"})
    assert "SOCIALKPI_WORKSPACE" not in env
    assert env["HOME"] == "/h" and env["SOCIALKPI_META_CLIENT_ID"] == "i"
    assert set(env) <= {"HOME", "SOCIALKPI_META_CLIENT_ID", "PYTHONPATH"}


# -- report --all-workspaces -------------------------------------------------------------------------


def test_report_all_workspaces_writes_one_file_per_workspace(
    install: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    add(install, "bakery", CONFIG.format(business="Corner Bakery", extra=""), env_file(sandbox))
    add(install, "florist", CONFIG.format(business="Rose Florist", extra=""), env_file(sandbox))
    add(install, "empty")  # never collected: its report fails, the others are written
    assert main(["--workspace", "bakery", "collect", "--quiet"]) == 0
    assert main(["--workspace", "florist", "collect", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["report", "--all-workspaces", "--period", "last-month", "--out", "reports"]) == 1
    out = capsys.readouterr().out
    assert sorted(p.name for p in (install / "reports").iterdir()) == ["bakery.html", "florist.html"]
    assert "Corner Bakery" in (install / "reports" / "bakery.html").read_text(encoding="utf-8")
    assert "Rose Florist" in (install / "reports" / "florist.html").read_text(encoding="utf-8")
    assert "workspace bakery: ok" in out and "workspace florist: ok" in out
    assert "workspace empty: FAILED (exit 2: bad usage or configuration, nothing written)" in out
    assert out.splitlines()[-1] == "all workspaces: 2 ok, 1 failed (of 3)"
    (install / "afile").write_text("", encoding="utf-8")
    assert main(["report", "--all-workspaces", "--out", "afile"]) == 2
    assert "not a folder" in one_error_line(capsys)


def test_a_reader_gone_away_never_stops_the_collects(install: Path, sandbox: Sandbox) -> None:
    """``socialkpi collect --all-workspaces | head -1``: the output stops, the collects do not: the second
    workspace is still collected after the reader went away, and the exit status is the one of a command
    whose reader went away."""
    import subprocess

    one = add(install, "one", CONFIG.format(business="One", extra=""), env_file(sandbox))
    two = add(install, "two", CONFIG.format(business="Two", extra=""), env_file(sandbox))
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialkpi.cli", "collect", "--all-workspaces"],
        cwd=install, env=workspaces.child_environment(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("[one] collect ")
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141  # 128 + SIGPIPE, as any command whose reader went away
    assert observations(one / "data" / "socialkpi.duckdb") == observations(two / "data" / "socialkpi.duckdb") != set()


def test_a_client_s_whole_life_happens_inside_its_workspace(
    install: Path, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """workspace add, init, connect, collect, status, doctor, export, report, backup: all with --workspace,
    everything written under workspaces/NAME/ and nothing at the install's own place."""
    folder = add(install, "bakery", env=f"SOCIALKPI_BLUESKY_BASE_URL={sandbox.url}\n")
    ws = ["--workspace", "bakery"]
    assert main([*ws, "init", "--yes", "--name", "Corner Bakery", "--timezone", "Europe/Paris"]) == 0
    assert main([*ws, "connect", "bluesky", "--select", "cornerbakery.bsky.social"]) == 0
    assert 'id = "cornerbakery.bsky.social"' in (folder / "socialkpi.toml").read_text(encoding="utf-8")
    assert main([*ws, "collect"]) == 0
    assert main([*ws, "doctor"]) == 0
    capsys.readouterr()
    assert main([*ws, "status"]) == 0
    assert f"Warehouse: {folder / 'data' / 'socialkpi.duckdb'}" in capsys.readouterr().out
    assert main([*ws, "export", "--out", "obs.csv"]) == 0
    assert ",bluesky,cornerbakery.bsky.social,Corner Bakery,false,followers," in (folder / "obs.csv").read_text()
    assert main([*ws, "report", "--out", "report.html"]) == 0
    assert "Corner Bakery" in (folder / "report.html").read_text(encoding="utf-8")
    assert main([*ws, "backup"]) == 0
    assert len(list((folder / "data" / "backups").iterdir())) == 1
    assert sorted(p.name for p in install.iterdir()) == ["workspaces"]
