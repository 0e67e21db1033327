"""Files written for the user and standard output, as real processes (``python -m socialkpi.cli``).

- ``export --out`` and ``report --out`` replace only a regular file or nothing: a device node, a FIFO, a
  symbolic link (not followed), a folder, an unwritable or missing folder are exit 2, one line, nothing
  changed (the folder holds exactly what it held: no temporary file either);
- a full or closed standard output (``export > /dev/full``, ``status | head -1``) ends quietly: a closed
  pipe is exit 141 (128 + SIGPIPE) and nothing on standard error, a full device one line and exit 2;
- socialkpi.toml (``init --force``, ``connect``) goes through the same writer (warehouse/files.py).

A device node is made with ``mknod`` in the test's folder when the tests run as root (never the real
/dev/full: before the fix, ``--out /dev/full`` as root replaced it), else /dev/null is used, which a user
cannot replace.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import seed
from warehouse import files

ROOT = Path(__file__).resolve().parent.parent
ROOT_USER = os.geteuid() == 0


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed.build_warehouse(tmp_path_factory.mktemp("wh") / "seed.duckdb", full=True)


def environment(db: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    env["SOCIALKPI_DB"] = str(db)
    env["TMPDIR"] = str(tmp)  # the stream export's temporary file: checked to be gone
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def socialkpi(
    args: list[str], *, db: Path, cwd: Path, stdout: int | None = subprocess.PIPE
) -> subprocess.CompletedProcess[bytes]:
    tmp = cwd / ".tmp"
    tmp.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "socialkpi.cli", *args],
        cwd=cwd, env=environment(db, tmp), stdout=stdout, stderr=subprocess.PIPE, timeout=120,
    )  # fmt: skip


def state(folder: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``folder`` (links not followed): its type, and its bytes or link target."""
    out: dict[str, tuple[object, ...]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            out[str(path.relative_to(folder))] = ("link", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            out[str(path.relative_to(folder))] = ("file", path.read_bytes(), stat.S_IMODE(info.st_mode))
        else:
            out[str(path.relative_to(folder))] = (stat.S_IFMT(info.st_mode), info.st_rdev)
    return out


def one_line(err: bytes) -> str:
    text = err.decode("utf-8")
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert len(text.splitlines()) == 1 and text.startswith("socialkpi: error: "), text
    return text


# -- what --out may not replace ------------------------------------------------------------------------------


def device(folder: Path) -> Path:
    if not ROOT_USER:
        return Path("/dev/null")
    node = folder / "full"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # what /dev/full is, in the test's own folder
    return node


def fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe")
    return folder / "pipe"


def link(folder: Path) -> Path:
    (folder / "victim.txt").write_text("keep me\n")
    (folder / "out.csv").symlink_to(folder / "victim.txt")
    return folder / "out.csv"


def dangling(folder: Path) -> Path:
    (folder / "out.csv").symlink_to(folder / "nowhere.txt")
    return folder / "out.csv"


def directory(folder: Path) -> Path:
    (folder / "reports").mkdir()
    (folder / "reports" / "old.html").write_text("old\n")
    return folder / "reports"


def unwritable(folder: Path) -> Path:
    if ROOT_USER:  # root writes through permission bits: a folder no one may create files in
        return Path("/sys/socialkpi-out")
    (folder / "ro").mkdir()
    (folder / "ro").chmod(0o555)
    return folder / "ro" / "out"


def missing(folder: Path) -> Path:
    return folder / "no-such-folder" / "out"


REFUSED: dict[str, tuple[Callable[[Path], Path], str]] = {
    "device node": (device, "character device"),
    "fifo": (fifo, "FIFO"),
    "symbolic link": (link, "symbolic link"),
    "dangling symbolic link": (dangling, "symbolic link"),
    "existing folder": (directory, "is a folder"),
    "unwritable folder": (unwritable, "not writable"),
    "missing folder": (missing, "does not exist"),
}


@pytest.mark.parametrize("command", ["export", "report"])
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_out_replaces_only_a_regular_file_or_nothing(command: str, case: str, warehouse: Path, tmp_path: Path) -> None:
    make, said = REFUSED[case]
    work = tmp_path / "work"
    work.mkdir()
    target = make(work)
    before = state(work)
    node = os.lstat(target) if os.path.lexists(target) else None
    done = socialkpi([command, "--out", str(target)], db=warehouse, cwd=work)
    assert done.returncode == 2, done.stderr
    assert said in one_line(done.stderr) and "nothing was written" in done.stderr.decode()
    (work / ".tmp").rmdir()  # empty: no temporary file left behind
    assert state(work) == before
    if node is not None:
        after = os.lstat(target)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (node.st_mode, node.st_ino, node.st_rdev)


def test_out_refuses_a_read_only_file(warehouse: Path, tmp_path: Path) -> None:
    (tmp_path / "obs.csv").write_text("mine\n")
    (tmp_path / "obs.csv").chmod(0o444)
    done = socialkpi(["export", "--out", "obs.csv"], db=warehouse, cwd=tmp_path)
    assert done.returncode == 2 and "read-only" in one_line(done.stderr)
    assert (tmp_path / "obs.csv").read_text() == "mine\n"


@pytest.mark.parametrize("command", ["export", "report"])
def test_out_replaces_a_regular_file_whole_keeping_its_mode(command: str, warehouse: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.file"
    target.write_text("old\n")
    target.chmod(0o640)
    done = socialkpi([command, "--out", "out.file"], db=warehouse, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() != b"old\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp", "out.file"] and not any((tmp_path / ".tmp").iterdir())


# -- standard output that is full or closed ------------------------------------------------------------------


@pytest.mark.parametrize("args", [["export"], ["export", "--table", "kpis"], ["status"], ["--help"]])
def test_a_full_standard_output_is_one_line_and_exit_2(args: list[str], warehouse: Path, tmp_path: Path) -> None:
    with open("/dev/full", "wb") as full:  # opened for writing only: never replaced
        done = socialkpi(args, db=warehouse, cwd=tmp_path, stdout=full.fileno())
    assert done.returncode == 2, done.stderr
    assert "No space left on device" in one_line(done.stderr)
    assert not any((tmp_path / ".tmp").iterdir())


@pytest.mark.parametrize("args", [["export"], ["export", "--table", "kpis"], ["status"], ["--help"]])
def test_a_closed_pipe_ends_quietly_with_141(args: list[str], warehouse: Path, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first byte: every write is EPIPE
    try:
        done = socialkpi(args, db=warehouse, cwd=tmp_path, stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, b"")
    assert not any((tmp_path / ".tmp").iterdir())


def test_export_piped_into_head_ends_quietly(warehouse: Path, tmp_path: Path) -> None:
    """``socialkpi export | head -1``: the reader takes one line and goes (the CSV is over 200 kB, far more
    than a pipe holds, so the export is still writing when it goes)."""
    tmp = tmp_path / ".tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialkpi.cli", "export"],
        cwd=tmp_path, env=environment(warehouse, tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"date,platform,account_id")
    proc.stdout.close()
    err = proc.stderr.read()
    assert (proc.wait(timeout=120), err) == (141, b"")
    assert not any(tmp.iterdir())


def test_status_piped_into_head_ends_quietly(warehouse: Path, tmp_path: Path) -> None:
    script = f"{shlex.quote(sys.executable)} -m socialkpi.cli status | head -1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(
        ["/bin/bash", "-c", script], cwd=tmp_path, env=environment(warehouse, tmp_path), capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert done.stdout.startswith(b"Warehouse: ") and done.stdout.count(b"\n") == 1
    assert done.stderr == b"" and done.returncode in (0, 141)  # 0 when status had finished before head left


# -- socialkpi.toml goes through the same writer ----------------------------------------------------------------


def test_init_force_refuses_a_symbolic_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialkpi.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALKPI_CONFIG", raising=False)
    (tmp_path / "dotfiles.toml").write_text("# mine\n")
    (tmp_path / "socialkpi.toml").symlink_to("dotfiles.toml")
    assert main(["init", "--yes", "--force"]) == 2
    assert (tmp_path / "socialkpi.toml").is_symlink() and (tmp_path / "dotfiles.toml").read_text() == "# mine\n"


def test_connect_refuses_a_linked_socialkpi_toml_before_the_consent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from socialkpi.cli import main

    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    real = tmp_path / "real.toml"
    real.write_text('[business]\nname = "Corner Bakery"\ntimezone = "Europe/Paris"\n')
    (tmp_path / "socialkpi.toml").symlink_to(real)
    before = state(tmp_path)
    assert main(["connect", "mastodon", "--instance", "127.0.0.1:9", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and len(err.strip().splitlines()) == 1
    assert state(tmp_path) == before


# -- the writer itself --------------------------------------------------------------------------------------------


def test_an_error_while_writing_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "kept.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), files.replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the export failed half way")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["kept.txt"]


def test_the_path_is_checked_again_before_the_rename(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(files.OutputError, match="FIFO"), files.replacing(target) as tmp:
        tmp.write_text("new")
        os.mkfifo(target)  # put there while the file was being written
    assert stat.S_ISFIFO(os.lstat(target).st_mode) and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        files.write_atomically(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640
