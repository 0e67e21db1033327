"""The collect lock file ``<warehouse>.lock``: only ever a regular file socialkpi made, never a link followed,
never another file truncated, never its contents printed (real files, real processes, the sandbox)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import TOKEN

CONFIG = """
[business]
name = "Corner Bakery"
timezone = "Europe/Paris"

[warehouse]
path = "wh/socialkpi.duckdb"

[collect]
history_days = 3

[[accounts]]
platform = "ga4"
id = "312345678"
name = "cornerbakery.fr"
"""

VICTIM = "precious notes\x1b]0;forged title\x07 keep me\n"


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox) -> Path:
    (tmp_path / "socialkpi.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / ".env").write_text(
        f"SOCIALKPI_GA4_TOKEN={TOKEN}\nSOCIALKPI_GA4_BASE_URL={sandbox.url}\n", encoding="utf-8"
    )
    (tmp_path / "wh").mkdir()
    return tmp_path


def collect(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", "collect"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not a timing assertion
    )


def lock_path(project: Path) -> Path:
    return project / "wh/socialkpi.duckdb.lock"


def assert_refused(done: subprocess.CompletedProcess[str], project: Path) -> str:
    """Exit 2, one line naming the lock file, nothing collected."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("socialkpi: error: ") and str(lock_path(project)) in lines[0]
    assert not (project / "wh/socialkpi.duckdb").exists()  # nothing was done
    return lines[0]


def test_a_symlink_as_the_lock_file_is_refused_and_its_target_left_untouched(project: Path) -> None:
    victim = project / "victim.txt"
    victim.write_text(VICTIM, encoding="utf-8")
    lock_path(project).symlink_to(victim)
    done = collect(project)
    line = assert_refused(done, project)
    assert "symbolic link" in line
    assert victim.read_text(encoding="utf-8") == VICTIM  # not truncated, not written
    assert "precious" not in done.stderr + done.stdout and "\x1b" not in done.stderr + done.stdout
    assert lock_path(project).is_symlink()


def test_a_dangling_symlink_as_the_lock_file_creates_nothing(project: Path) -> None:
    target = project / "elsewhere.txt"
    lock_path(project).symlink_to(target)
    assert_refused(collect(project), project)
    assert not target.exists()


def test_a_hard_link_to_another_file_is_not_truncated(project: Path) -> None:
    victim = project / "victim.txt"
    victim.write_text(VICTIM, encoding="utf-8")
    os.link(victim, lock_path(project))
    done = collect(project)
    assert "other name" in assert_refused(done, project)
    assert victim.read_text(encoding="utf-8") == VICTIM
    assert "precious" not in done.stderr + done.stdout


def test_a_fifo_as_the_lock_file_is_refused_without_hanging(project: Path) -> None:
    os.mkfifo(lock_path(project))
    assert "not a regular file" in assert_refused(collect(project), project)


def test_a_directory_as_the_lock_file_is_refused(project: Path) -> None:
    lock_path(project).mkdir()
    (lock_path(project) / "keep.txt").write_text("x", encoding="utf-8")
    assert "not a regular file" in assert_refused(collect(project), project)
    assert (lock_path(project) / "keep.txt").read_text(encoding="utf-8") == "x"


def test_a_device_node_as_the_lock_file_is_refused_unopened(project: Path) -> None:
    try:  # a character device like /dev/null (1, 3); making one needs root
        os.mknod(lock_path(project), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    assert "not a regular file" in assert_refused(collect(project), project)
    assert stat.S_ISCHR(lock_path(project).lstat().st_mode)


@pytest.fixture
def holder(project: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock file's flock after writing text that is not a pid into it."""
    code = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(lock_path(project))!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        f"os.write(fd, {VICTIM.encode()!r})\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_what_a_holder_wrote_is_never_printed_unless_it_is_a_pid(project: Path, holder: subprocess.Popen[str]) -> None:
    done = collect(project)
    assert done.returncode == 75, done.stderr
    assert "another socialkpi collect is running" in done.stderr
    assert "precious" not in done.stderr and "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert VICTIM.encode() in lock_path(project).read_bytes()  # the holder's file is not touched either


def test_a_real_holder_is_named_by_its_pid(project: Path) -> None:
    db = project / "wh/socialkpi.duckdb"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from pathlib import Path\nimport time\nfrom socialkpi.lock import RunLock\n"
            f"with RunLock(Path({str(db)!r})):\n    print('held', flush=True)\n    time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        done = collect(project)
    finally:
        proc.kill()
        proc.wait()
    assert done.returncode == 75, done.stderr
    assert f"another socialkpi collect (pid {proc.pid}) is running" in done.stderr


def test_a_stale_lock_file_with_text_that_is_not_a_pid_is_taken_over_without_echoing_it(project: Path) -> None:
    lock_path(project).write_text(VICTIM, encoding="utf-8")
    lock_path(project).chmod(0o644)
    done = collect(project)
    assert done.returncode == 0, done.stderr
    assert "ended without releasing its lock" in done.stderr
    assert "precious" not in done.stderr + done.stdout and "\x1b" not in done.stderr + done.stdout
    assert lock_path(project).read_bytes() == b""  # released: emptied, and only ever our own file


def test_a_stale_pid_is_named_when_taken_over(project: Path) -> None:
    lock_path(project).write_text("4242", encoding="utf-8")
    done = collect(project)
    assert done.returncode == 0, done.stderr
    assert "a previous collect (pid 4242) ended without releasing its lock" in done.stderr
