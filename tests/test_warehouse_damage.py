"""Files that are not warehouses, and no DuckDB extension ever fetched (issue 11, item 13).

Real files in tmp_path (an SQLite database made by :mod:`sqlite3`, a Parquet file, a text file),
the real ``socialkpi`` command in its own process, the real sandbox for collect, and a local HTTP
server standing in for every proxy and extension repository (it records any request: none may come).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import TOKEN
from tests import seed
from warehouse.access import shared_memory
from warehouse.db import connect, writing

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
    each = [["status"], ["export"], ["log-time", "facebook", "1"], ["collect"]]
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
