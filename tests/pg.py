"""A real PostgreSQL server for the lake tests and bench/lake_merge.py: Debian's binaries, data in a temp dir.

:class:`PostgresServer` runs ``initdb`` into a fresh temporary folder and ``pg_ctl start`` on a free port of
127.0.0.1 (and a unix socket in the same folder), trust authentication for the loopback only, and stops
the server and removes the folder on exit.  Postgres refuses to run as root (CI runs as root): as root,
the binaries run as the ``postgres`` user Debian's package creates (``nobody`` when there is none),
which owns the folder.

:func:`postgres` is the pytest fixture (one server for the session); without the binaries it skips
loudly, or fails where ``SOCIALKPI_REQUIRE_POSTGRES=1`` says they were installed (``.ci/run`` sets it),
so CI never passes by skipping.  ``apt-get install -y postgresql`` brings them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")


def bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None.

    Debian puts them in /usr/lib/postgresql/<major>/bin, off the PATH (only psql & co. are linked into
    /usr/bin): the PATH first, then the newest major version there."""
    found = shutil.which("pg_ctl")
    if found:
        folder = Path(os.path.realpath(found)).parent
        if all((folder / name).exists() for name in SERVER_BINARIES):
            return folder
    majors = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0))
    for candidate in reversed(majors):
        folder = Path(candidate)
        if all((folder / name).exists() for name in SERVER_BINARIES):
            return folder
    return None


def missing() -> str | None:
    """Why a server cannot be started here, or None."""
    if bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl, postgres) are missing (apt-get install -y postgresql)"
    if os.geteuid() == 0 and _run_as() is None:
        return "running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as"
    return None


def _run_as() -> pwd.struct_passwd | None:
    """The user to run the server as when we are root (Postgres refuses root), else None."""
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """``with PostgresServer() as pg: pg.dsn`` -- a throwaway server; see the module docstring."""

    def __init__(self) -> None:
        folder = bin_dir()
        if folder is None:
            raise RuntimeError(missing() or "no PostgreSQL binaries")
        self.bin = folder
        self.port = free_port()
        self.user = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="socialkpi-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as: pwd.struct_passwd | None = _run_as() if os.geteuid() == 0 else None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def dsn(self) -> str:
        """A libpq key=value connection string (TCP on loopback, trust authentication)."""
        return f"host={self.host} port={self.port} user={self.user} dbname=postgres"

    def dsn_for(self, dbname: str) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._as is not None:
            kwargs = {"user": self._as.pw_uid, "group": self._as.pw_gid, "extra_groups": []}
        env = {"PATH": f"{self.bin}:/usr/bin:/bin", "LC_ALL": "C", "HOME": str(self.root)}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            list(args), cwd="/", env=env, capture_output=True, text=True, check=False, timeout=120, **kwargs
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{what} failed ({result.returncode}): {result.stdout}{result.stderr}{log}")

    def start(self) -> PostgresServer:
        if self._as is not None:
            os.chown(self.root, self._as.pw_uid, self._as.pw_gid)
        self._check(
            self._run(
                str(self.bin / "initdb"),
                "-D", str(self.data), "-U", self.user, "--auth=trust", "--encoding=UTF8", "--no-sync",
            ),
            "initdb",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._check(
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start"
            ),
            "pg_ctl start",
        )
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL with Debian's psql (unaligned, tuples only) and return its output; raises on error."""
        flags = ("-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1")
        result = self._run(str(self.bin / "psql"), *flags, "-d", self.dsn_for(dbname), "-c", sql)
        self._check(result, "psql")
        return result.stdout

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def require_postgres() -> None:
    """Skip loudly without PostgreSQL; fail instead where .ci/run promised it (SOCIALKPI_REQUIRE_POSTGRES=1)."""
    why = missing()
    if why is None:
        return
    if os.environ.get("SOCIALKPI_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"POSTGRES TEST REQUIRED (SOCIALKPI_REQUIRE_POSTGRES=1) but {why}")
    pytest.skip(f"POSTGRES TEST SKIPPED: {why}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the test session (see the module docstring)."""
    require_postgres()
    with PostgresServer() as server:
        yield server
