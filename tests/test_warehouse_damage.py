"""A damaged warehouse, files that are not warehouses, backup and restore (issue 11, items 2 and 13).

Real DuckDB files in tmp_path, damaged as a full disk, a careless copy or a bad sector would (cut
short, bytes overwritten), the real ``socialkpi`` command in its own process, the real sandbox for
collect and doctor, a real SQLite file made by :mod:`sqlite3`, and a local HTTP server standing in
for every proxy and extension repository (it records any request: none may come).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shlex
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from socialkpi.cli import main
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import TOKEN
from tests import seed
from tests.consent import free_port
from warehouse.access import open_warehouse, shared_memory
from warehouse.db import HEADER_BYTES, WarehouseDamaged, connect, reading, remember, writing

CONFIG = """
[business]
name = "Corner Bakery"
timezone = "Europe/Paris"

[warehouse]
path = "wh/socialkpi.duckdb"

[collect]
history_days = 10

[costs]
hourly_rate = 30

[[accounts]]
platform = "facebook"
id = "104512345678901"
name = "Corner Bakery"

[[accounts]]
platform = "ga4"
id = "312345678"
name = "cornerbakery.fr"
"""

MANUAL_CSV = "date,platform,account_id,metric,value\n2026-03-01,manual,newsletter,followers,412\n"
DAMAGED = "the warehouse file is damaged: "
RESTORE = "restore it from a backup (socialkpi restore BACKUP_DIR, a folder made by socialkpi backup)"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


class Recorder:
    """A local HTTP server that answers 404 to anything and records what was asked (a proxy, a repository)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                recorder.requests.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = do_POST = do_CONNECT = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def start(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m socialkpi.cli ARGS`` in ``cwd``, in its own process group, without the caller's
    SOCIALKPI_ variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALKPI_")}
    environ.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "socialkpi.cli", *args],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Its output and status; killed with whatever it started if it does not end (a dashboard serving)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n(did not end within {timeout:.0f}s: killed)"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def socialkpi(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return finish(start(cwd, *args, env=env))


def each_in_a_copy(
    project: Path, factory: pytest.TempPathFactory, commands: list[list[str]], env: dict[str, str] | None = None
) -> list[tuple[list[str], Path, dict[str, str], subprocess.CompletedProcess[str]]]:
    """Every command at once, each in its own copy of ``project``: (args, its folder, the folder's
    files before, what it did)."""
    runs = []
    for args in commands:
        folder = factory.mktemp("run") / "project"
        shutil.copytree(project, folder)
        runs.append((args, folder, snapshot(folder), start(folder, *args, env=env)))
    return [(args, folder, before, finish(proc)) for args, folder, before, proc in runs]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> its SHA-256 (the lock file, which a collect may create, aside)."""
    return {
        str(p.relative_to(folder)): digest(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def block_size(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return int(con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def data_block(db: Path, table: str = "observations") -> int:
    """The byte offset of the first block holding ``table``'s rows."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        size = int(con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0])  # type: ignore[index]
        block = con.execute(f"SELECT min(block_id) FROM pragma_storage_info('{table}') WHERE block_id >= 0").fetchone()[
            0
        ]  # type: ignore[index]
    finally:
        con.close()
    return HEADER_BYTES + int(block) * size


def overwrite(db: Path, offset: int, length: int = 48) -> None:
    """Bytes overwritten in place (the size kept), just past the 8-byte checksum of the block (or
    header) at ``offset``: where its content starts, whatever its length."""
    with open(db, "r+b") as f:
        f.seek(offset + 8)
        f.write(b"\x55" * length)


def cut_to_half(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def overwrite_the_rows(db: Path) -> None:
    overwrite(db, data_block(db))


def overwrite_the_headers(db: Path) -> None:
    overwrite(db, 4096)
    overwrite(db, 8192)


DAMAGES: dict[str, Callable[[Path], None]] = {
    "cut to half": cut_to_half,
    "the observations block overwritten": overwrite_the_rows,
}


def all_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY ALL").fetchall()]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY ALL').fetchall() for n in names}
    finally:
        con.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded warehouse (tests.seed, full) with its token file, built once for the module."""
    return seed.build_warehouse(tmp_path_factory.mktemp("seeded") / "socialkpi.duckdb", full=True)


def copy_of(seeded: Path, db: Path) -> Path:
    """``seeded`` and its token file copied to ``db`` (a file of its own: damaging it harms no other test)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(seeded, db)
    shutil.copyfile(f"{seeded}.tokens.json", f"{db}.tokens.json")
    os.chmod(f"{db}.tokens.json", 0o600)
    return db


@pytest.fixture
def project(tmp_path: Path, sandbox: Sandbox, seeded: Path) -> Path:
    """socialkpi.toml (with a [costs] table: collect and dashboard write it), .env on the sandbox, the
    seeded warehouse with its token file, and a valid manual CSV."""
    (tmp_path / "socialkpi.toml").write_text(CONFIG, encoding="utf-8")
    env = {
        f"SOCIALKPI_{p}_{k}": v for p in ("FACEBOOK", "GA4") for k, v in (("TOKEN", TOKEN), ("BASE_URL", sandbox.url))
    }
    (tmp_path / ".env").write_text("\n".join(f"{k}={v}" for k, v in env.items()), encoding="utf-8")
    (tmp_path / "manual.csv").write_text(MANUAL_CSV, encoding="utf-8")
    copy_of(seeded, tmp_path / "wh/socialkpi.duckdb")
    return tmp_path


def commands() -> list[list[str]]:
    return [
        ["collect"],
        ["export"],
        ["export", "--table", "kpis", "--out", "kpis.csv"],
        ["status"],
        ["report", "--out", "report.html"],
        ["log-time", "facebook", "1.5"],
        ["import-csv", "manual.csv"],
        ["doctor"],
        ["dashboard", "--port", str(free_port())],
        ["backup"],
    ]


# ---------------------------------------------------------------------------------------------
# item 2: a damaged warehouse
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_every_command_refuses_a_damaged_warehouse_with_one_line_and_writes_nothing(
    project: Path, tmp_path_factory: pytest.TempPathFactory, damage: str
) -> None:
    DAMAGES[damage](project / "wh/socialkpi.duckdb")
    problems = []
    for args, folder, before, done in each_in_a_copy(project, tmp_path_factory, commands()):
        db = folder / "wh/socialkpi.duckdb"
        lines = done.stderr.strip().splitlines()
        one_line = len(lines) == 1 and lines[0].startswith(f"socialkpi: error: {DAMAGED}{db}: ")
        if done.returncode != 2 or not one_line or not lines[0].endswith(RESTORE):
            problems.append(f"{' '.join(args)}: exit {done.returncode}, stderr {done.stderr.strip()[-400:]!r}")
        after = snapshot(folder)
        if after != before:
            problems.append(f"{' '.join(args)} changed files: {sorted(set(after.items()) ^ set(before.items()))}")
    assert not problems, "\n".join(problems)


def test_any_damaged_block_is_refused_before_a_write(tmp_path: Path, seeded: Path) -> None:
    """Whichever block of the file is damaged (headers, catalog, rows, key indexes), opening it to
    write fails with WarehouseDamaged and leaves every byte as it was."""
    size, data = block_size(seeded), seeded.read_bytes()
    offsets = [4096, 8192] + list(range(HEADER_BYTES, len(data), size))
    missed = []
    for n, offset in enumerate(offsets):
        db = tmp_path / f"damaged-{n}.duckdb"
        db.write_bytes(data)
        overwrite(db, offset)
        damaged_bytes = db.read_bytes()
        try:
            with writing(db) as con:
                con.execute("INSERT INTO meta VALUES ('written', 'yes')")
            missed.append(offset)
        except WarehouseDamaged as exc:
            assert str(exc).startswith(f"{DAMAGED}{db}: ") and str(exc).endswith(RESTORE)
        assert db.read_bytes() == damaged_bytes, f"the file damaged at byte {offset} was written"
        assert not Path(f"{db}.wal").exists()
    assert not missed, f"damage at bytes {missed} was not found before writing"


@pytest.mark.parametrize("keep", ["half", "all but the last block", "the headers only"])
def test_a_file_cut_short_is_refused_by_every_kind_of_open(tmp_path: Path, seeded: Path, keep: str) -> None:
    db = copy_of(seeded, tmp_path / "wh.duckdb")
    size = db.stat().st_size
    sizes = {"half": size // 2, "all but the last block": size - block_size(db), "the headers only": HEADER_BYTES}
    os.truncate(db, sizes[keep])
    cut = db.read_bytes()
    opens: dict[str, Callable[[], object]] = {
        "reading": lambda: reading(db).__enter__(),
        "writing": lambda: writing(db).__enter__(),
        "open_warehouse (attached to the shared instance)": lambda: open_warehouse(db).__enter__(),
    }
    for name, opener in opens.items():
        with pytest.raises(WarehouseDamaged, match="damaged") as info:
            opener()
        assert str(info.value).endswith(RESTORE), name
        assert db.read_bytes() == cut, name


def test_damage_met_by_a_query_is_the_same_one_line(tmp_path: Path, seeded: Path) -> None:
    """A block DuckDB reads only when a query reaches it (the whole-file read skipped, as for a file
    state this process has read before) fails the query with WarehouseDamaged, not a DuckDB error."""
    db = copy_of(seeded, tmp_path / "wh.duckdb")
    overwrite_the_rows(db)
    @contextlib.contextmanager
    def attached(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:  # open_warehouse, on the shared instance
        with open_warehouse(path) as (con, _):
            yield con

    for open_ in (reading, attached):
        remember(db)  # as if this state had been read through before: only the query meets the block
        with pytest.raises(WarehouseDamaged, match="fails DuckDB's checksum"), open_(db) as con:
            con.execute("SELECT sum(value) FROM observations").fetchall()


def test_collect_on_a_damaged_warehouse_contacts_no_platform(project: Path, sandbox: Sandbox) -> None:
    db = project / "wh/socialkpi.duckdb"
    overwrite_the_headers(db)
    before = digest(db)
    sandbox.clear()
    done = socialkpi(project, "collect")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"socialkpi: error: {DAMAGED}{db}: the block at byte 4096 fails DuckDB's checksum")
    assert digest(db) == before
    assert not sandbox.requests_to(".*"), "a collect on a damaged warehouse asked a platform for data it cannot store"


# ---------------------------------------------------------------------------------------------
# item 2: backup and restore
# ---------------------------------------------------------------------------------------------


def backup_folder(out: str) -> Path:
    line = next(line for line in out.splitlines() if line.startswith("restore with: "))
    return Path(shlex.split(line.removeprefix("restore with: "))[2])


def test_backup_then_restore_gives_back_every_row(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    db = project / "wh/socialkpi.duckdb"
    tokens = project / "wh/socialkpi.duckdb.tokens.json"
    rows = all_rows(db)
    assert main(["backup"]) == 0
    out = capsys.readouterr().out
    folder = backup_folder(out)
    assert folder.parent == project / "wh/backups" and folder.name.endswith("Z")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    saved_tokens = folder / tokens.name
    assert saved_tokens.read_bytes() == tokens.read_bytes()
    assert stat.S_IMODE(saved_tokens.stat().st_mode) == 0o600
    assert (folder / "socialkpi.toml").read_text(encoding="utf-8") == CONFIG
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tables"] == {name: len(r) for name, r in rows.items()}
    assert sorted(p.name for p in (folder / "warehouse").glob("*.parquet")) == sorted(f"{n}.parquet" for n in rows)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no partial folder left

    cut_to_half(db)
    damaged_bytes = db.read_bytes()
    assert main(["status"]) == 2
    assert DAMAGED in capsys.readouterr().err

    restore = shlex.split(next(line for line in out.splitlines() if line.startswith("restore with: "))[14:])
    assert restore[:2] == ["socialkpi", "restore"]
    assert main(restore[1:]) == 0
    said = capsys.readouterr().out
    assert all_rows(db) == rows
    kept = [p for p in db.parent.iterdir() if p.name.startswith("socialkpi.duckdb.replaced-")]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged_bytes  # the damaged file is kept, not deleted
    assert str(kept[0]) in said
    assert main(["status"]) == 0
    assert not [p for p in db.parent.iterdir() if ".restoring-" in p.name]


def test_restore_puts_back_a_lost_token_store_and_keeps_a_present_one(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    tokens = project / "wh/socialkpi.duckdb.tokens.json"
    assert main(["backup", "--out", "saved"]) == 0
    capsys.readouterr()
    original = tokens.read_bytes()
    tokens.write_text('{"renewed": "since the backup"}', encoding="utf-8")
    assert main(["restore", "saved"]) == 0
    assert tokens.read_text(encoding="utf-8") == '{"renewed": "since the backup"}'  # newer tokens are kept
    assert "kept the current token store" in capsys.readouterr().out
    tokens.unlink()
    assert main(["restore", "saved"]) == 0
    assert tokens.read_bytes() == original
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600


def test_backup_and_restore_wait_for_no_collect(project: Path) -> None:
    """Exit 75 while another process holds the run lock; nothing made, nothing replaced."""
    db = project / "wh/socialkpi.duckdb"
    saved = socialkpi(project, "backup", "--out", "saved")
    assert saved.returncode == 0, saved.stderr
    holder = subprocess.Popen(
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
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = snapshot(project)
        for args in (["backup"], ["restore", "saved"]):
            done = socialkpi(project, *args)
            assert done.returncode == 75, (args, done.stderr)
            assert "another socialkpi collect" in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert snapshot(project) == before
    finally:
        holder.kill()
        holder.wait()


def test_backup_and_restore_refuse_a_wrong_folder_with_one_line(project: Path) -> None:
    (project / "taken").mkdir()
    (project / "taken/notes.txt").write_text("mine", encoding="utf-8")
    before = snapshot(project)
    for args, expected in (
        (["backup", "--out", "taken"], "already exists: name a new folder"),
        (["restore", "taken"], "is not a folder made by socialkpi backup"),
        (["restore", "nowhere"], "is not a folder made by socialkpi backup"),
    ):
        done = socialkpi(project, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
    assert snapshot(project) == before


def test_backup_never_copies_a_token_store_through_a_link(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(project)
    tokens = project / "wh/socialkpi.duckdb.tokens.json"
    (project / "elsewhere.json").write_bytes(tokens.read_bytes())
    tokens.unlink()
    tokens.symlink_to(project / "elsewhere.json")
    before = snapshot(project)
    assert main(["backup", "--out", "saved"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"socialkpi: error: {tokens} is a symbolic link") and len(err.splitlines()) == 1
    assert not (project / "saved").exists() and snapshot(project) == before


# ---------------------------------------------------------------------------------------------
# item 13: files that are not warehouses, and no extension ever fetched
# ---------------------------------------------------------------------------------------------


def sqlite_file(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers (name) VALUES ('Ada')")
    con.commit()
    con.close()


def text_file(path: Path) -> None:
    path.write_text("date,followers\n2026-03-01,412\n", encoding="utf-8")


def parquet_file(path: Path) -> None:
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 1 AS answer) TO '{path}' (FORMAT parquet)")
    con.close()


NOT_WAREHOUSES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "sqlite": ("shop.sqlite", sqlite_file, "an SQLite database, not a DuckDB file"),
    "text": ("notes.txt", text_file, "not a DuckDB file"),
    "parquet": ("export.parquet", parquet_file, "a Parquet file, not a DuckDB file"),
}


@pytest.mark.parametrize("kind", sorted(NOT_WAREHOUSES))
def test_a_file_that_is_not_a_warehouse_is_refused_without_fetching_anything(
    project: Path, tmp_path_factory: pytest.TempPathFactory, recorder: Recorder, kind: str
) -> None:
    name, make, what = NOT_WAREHOUSES[kind]
    make(project / name)
    (project / "home").mkdir()
    env = {"SOCIALKPI_DB": name, "HOME": "home"}  # relative: each copy of the project has its own
    env |= {v: recorder.url for v in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")}
    each = [["status"], ["export"], ["log-time", "facebook", "1"], ["collect"], ["backup"], ["doctor"]]
    problems = []
    for args, folder, before, done in each_in_a_copy(project, tmp_path_factory, each, env):
        path = folder / name
        expected = f"socialkpi: error: {path} is not a socialkpi warehouse ({what}): move it away or set SOCIALKPI_DB"
        if (done.returncode, done.stderr.strip()) != (2, expected):
            problems.append(f"{' '.join(args)}: exit {done.returncode}, stderr {done.stderr.strip()[-400:]!r}")
        if snapshot(folder) != before:
            problems.append(f"{' '.join(args)} changed files")
        if (folder / "home/.duckdb").exists():
            problems.append(f"{' '.join(args)}: DuckDB began an extension download into HOME/.duckdb")
    assert not problems, "\n".join(problems)
    assert recorder.requests == []


def test_no_connection_of_the_project_installs_or_loads_an_extension(tmp_path: Path, recorder: Recorder) -> None:
    """Every connection (read-write, read-only, the dashboard's shared instance) says false to both
    settings, and asked for a file only an extension reads, fetches nothing from a repository."""
    db = tmp_path / "wh.duckdb"
    with writing(db):
        pass
    shop = tmp_path / "shop.sqlite"
    sqlite_file(shop)
    opens: dict[str, Callable[[], duckdb.DuckDBPyConnection]] = {
        "read-write": lambda: connect(db, read_only=False),
        "read-only": lambda: connect(db, read_only=True),
        "shared in-memory": shared_memory,
    }
    for label, open_ in opens.items():  # one at a time: DuckDB opens a file with one configuration
        con = open_()
        try:
            settings = con.execute(
                "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
            ).fetchone()
            assert settings == (False, False), label
            con.execute(f"SET custom_extension_repository = '{recorder.url}'")
            with pytest.raises(duckdb.Error, match="sqlite"):
                con.execute(f"ATTACH '{shop}' AS shop (TYPE sqlite, READ_ONLY)")
            con.execute("RESET custom_extension_repository")
        finally:
            con.close()
    assert recorder.requests == []


def test_a_foreign_file_at_the_dashboard_start_is_exit_2(project: Path) -> None:
    path = project / "shop.sqlite"
    sqlite_file(path)
    done = socialkpi(project, "dashboard", "--port", str(free_port()), env={"SOCIALKPI_DB": str(path)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"socialkpi: error: {path} is not a socialkpi warehouse (an SQLite database, not a DuckDB file): "
        "move it away or set SOCIALKPI_DB"
    )
