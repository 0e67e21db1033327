"""The shared lake: ``[warehouse] url = "ducklake:postgres:<libpq string>"`` plus ``data_path``.

DuckLake keeps the tables' catalog in Postgres and their data as Parquet files under ``data_path``
(a local folder or an object-store URL); DuckDB reaches both through two extensions, ``ducklake`` and
``postgres`` (postgres_scanner).  Extensions cannot be downloaded at run time here or on most servers,
so they come from PyPI as wheels (``pip install 'socialkpi[lake]'``): ``duckdb-extension-ducklake`` and
``duckdb-extension-postgres-scanner``, each holding ``extensions/v<DuckDB version>/<name>.duckdb_extension`` and
each pinned to one DuckDB release (:data:`LAKE_DUCKDB`), which the ``lake`` extra pins DuckDB to.
:func:`connect` LOADs those files by path (nothing is installed into ``~/.duckdb``, auto-install and
auto-load stay off as for every connection of the project) and ATTACHes the lake.

The connection string may hold a password: it never appears in an error or a log line of this module
(:func:`_redacted`).
"""

from __future__ import annotations

import importlib.util
import random
import time
from pathlib import Path

import duckdb

from warehouse.duckdb_config import DUCKDB_CONFIG
from warehouse.errors import WarehouseError
from warehouse.lake_config import SCHEME as SCHEME
from warehouse.lake_config import Lake as Lake
from warehouse.lake_config import without_password

# The DuckDB release the extension wheels on PyPI are built for (the newest with both ducklake and
# postgres: duckdb-extension-ducklake 1.5.5 and duckdb-extension-postgres-scanner 1.5.5, each Requires-Dist
# duckdb==1.5.5; none exist for DuckDB 2.0, whose loader refuses a 1.5.5 extension).
LAKE_DUCKDB = "1.5.5"

# extension name as LOADed -> the PyPI package (import name) that ships its file
# (duckdb-extension-postgres ships the same binary named postgres.duckdb_extension, which LOAD by path
# refuses: "did not contain the expected entrypoint function 'postgres_duckdb_cpp_init'")
EXTENSIONS = {"postgres_scanner": "duckdb_extension_postgres_scanner", "ducklake": "duckdb_extension_ducklake"}

INSTALL_HINT = f"pip install 'socialkpi[lake]' (DuckDB {LAKE_DUCKDB} with the ducklake and postgres extension wheels)"


class LakeUnavailable(WarehouseError):
    """The lake cannot be opened with what is installed (DuckDB release, extension wheels)."""


def is_lake_url(url: str) -> bool:
    return url.startswith(SCHEME)


def libpq_string(url: str) -> str:
    """The Postgres connection string of a ``ducklake:postgres:...`` URL."""
    if not is_lake_url(url):
        raise WarehouseError(f"[warehouse] url must start with {SCHEME!r} (a DuckLake catalogued in Postgres)")
    dsn = url[len(SCHEME) :].strip()
    if not dsn:
        raise WarehouseError(f"[warehouse] url {SCHEME!r} needs a libpq connection string after it")
    return dsn


def extension_file(extension: str) -> Path:
    """The ``.duckdb_extension`` file of ``extension`` for the running DuckDB, from its PyPI wheel."""
    package = EXTENSIONS[extension]
    running = f"this is DuckDB {duckdb.__version__}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LakeUnavailable(f"the {extension} extension is not installed ({package}; {running}): {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    candidate = folder / f"v{duckdb.__version__}" / f"{extension}.duckdb_extension"
    if candidate.is_file():
        return candidate
    built = sorted(p.name for p in folder.glob("v*")) if folder.is_dir() else []
    raise LakeUnavailable(
        f"the {extension} extension installed is built for DuckDB {', '.join(built) or '(none)'}, {running}: "
        f"{INSTALL_HINT}"
    )


def missing() -> str | None:
    """Why the lake cannot be opened here, or None."""
    try:
        for extension in EXTENSIONS:
            extension_file(extension)
    except LakeUnavailable as exc:
        return str(exc)
    return None


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _redacted(message: str, dsn: str) -> str:
    """``message`` without the connection string (DuckDB's ATTACH errors repeat it) or any password in it."""
    message = message.replace(dsn, "<[warehouse] url>")
    return without_password(message)


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """LOAD the postgres and ducklake extensions into ``con`` from their wheels' files."""
    for extension in EXTENSIONS:
        con.execute(f"LOAD {_sql_string(str(extension_file(extension)))}")


ATTACH_TRIES = 10


def _initialising_race(message: str) -> bool:
    """Whether an ATTACH failed only because another process was creating the same new catalog."""
    lowered = message.lower()
    return "failed to initialize ducklake" in lowered and (
        "duplicate key value" in lowered or "already exists" in lowered
    )


def connect(url: str, data_path: str | None = None, *, alias: str = "lake") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake ATTACHed as ``alias`` and in use (``USE alias``).

    ``data_path`` is where a new lake keeps its Parquet files (the catalog remembers it: later opens may
    omit it).  Readers and writers open the same way: DuckLake gives each transaction a snapshot, so
    readers never wait on a writer, and concurrent writers conflict only when they change the same
    data (see bench/lake_merge.py)."""
    dsn = libpq_string(url)
    con = duckdb.connect(":memory:", config=dict(DUCKDB_CONFIG))
    try:
        load_extensions(con)
        options = [f"DATA_PATH {_sql_string(data_path)}"] if data_path else []
        target = _sql_string(f"ducklake:postgres:{dsn}")
        attach = f"ATTACH {target} AS {alias} ({', '.join(options)})" if options else f"ATTACH {target} AS {alias}"
        for attempt in range(ATTACH_TRIES):
            try:
                con.execute(attach)
                break
            except duckdb.Error as exc:
                # The first ATTACH of a new catalog creates DuckLake's tables in Postgres: several processes
                # doing it at once (N shards' first collect) collide there, and the late ones find them made.
                if attempt + 1 == ATTACH_TRIES or not _initialising_race(str(exc)):
                    raise
                time.sleep(0.1 + random.random() * 0.2 * (attempt + 1))
        con.execute(f"USE {alias}")
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(f"cannot open the lake: {_redacted(str(exc), dsn)}") from None
    except BaseException:
        con.close()
        raise
    return con
