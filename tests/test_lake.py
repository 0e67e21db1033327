"""The lake's foundations: a real PostgreSQL (tests/pg.py) and warehouse.lake's DuckLake on it.

The Postgres tests need Debian's server binaries (skipped loudly without them, required in CI).  The
DuckLake tests need the ``lake`` extra (DuckDB 1.5.5 and its ducklake and postgres_scanner extension
wheels): in the default install (DuckDB 2.0) they skip loudly, naming what to install; ``.ci/run`` runs
them in a venv with the extra and SOCIALKPI_REQUIRE_LAKE=1, where skipping is a failure.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.pg import PostgresServer, postgres, require_postgres  # noqa: F401  (postgres: the fixture)
from warehouse import lake
from warehouse.db import WarehouseError

ROOT = Path(__file__).resolve().parents[1]

OBSERVATIONS = """
CREATE TABLE observations (
    platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, metric VARCHAR NOT NULL, observed_on DATE NOT NULL,
    value DOUBLE NOT NULL, source_metric VARCHAR NOT NULL, collected_at TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL
)"""

MERGE = """
MERGE INTO observations AS o USING batch AS b
ON o.platform = b.platform AND o.account_id = b.account_id AND o.metric = b.metric AND o.observed_on = b.observed_on
WHEN MATCHED AND o.value IS DISTINCT FROM b.value THEN UPDATE SET value = b.value, run_id = b.run_id
WHEN NOT MATCHED THEN INSERT VALUES
    (b.platform, b.account_id, b.metric, b.observed_on, b.value, b.source_metric, b.collected_at, b.run_id)
"""


def batch(account: str, first_day: int, days: int, value_plus: float, run_id: str) -> str:
    return f"""
        SELECT 'x' AS platform, '{account}' AS account_id, 'followers' AS metric,
               DATE '2026-01-01' + d::INTEGER AS observed_on, d + {value_plus} AS value,
               'followers_count' AS source_metric, TIMESTAMP '2026-02-01 06:00' AS collected_at,
               '{run_id}' AS run_id
        FROM range({first_day}, {first_day + days}) AS t(d)"""


def require_lake() -> None:
    why = lake.missing()
    if why is None:
        return
    if os.environ.get("SOCIALKPI_REQUIRE_LAKE") == "1":
        pytest.fail(f"LAKE TEST REQUIRED (SOCIALKPI_REQUIRE_LAKE=1) but {why}")
    pytest.skip(f"LAKE TEST SKIPPED: {why}")


@pytest.fixture
def lake_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> str:  # noqa: F811
    """A fresh Postgres database for one test's lake catalog."""
    require_lake()
    db = "lake_" + "".join(c if c.isalnum() else "_" for c in request.node.name).lower()[:50]
    postgres.psql(f"DROP DATABASE IF EXISTS {db}")
    postgres.psql(f"CREATE DATABASE {db}")
    return f"ducklake:postgres:{postgres.dsn_for(db)}"


# --- Postgres ------------------------------------------------------------------------------------------


def test_postgres_server_runs_unprivileged_and_leaves_nothing_behind() -> None:
    require_postgres()
    with PostgresServer() as pg:
        assert pg.psql("SELECT 6 * 7").strip() == "42"
        backend_user = pwd.getpwuid((pg.data / "PG_VERSION").stat().st_uid).pw_name
        assert backend_user != "root"  # Postgres refuses root; as root the fixture runs it as postgres
        assert pg.psql("SHOW listen_addresses").strip() == "127.0.0.1"
        root = pg.root
        assert root.is_dir()
    assert not root.exists()
    with pytest.raises(RuntimeError, match="psql failed"):
        pg.psql("SELECT 1")  # the server is gone


# --- the lake URL --------------------------------------------------------------------------------------


def test_lake_url_gives_the_libpq_string() -> None:
    assert lake.is_lake_url("ducklake:postgres:dbname=kpi host=db")
    assert lake.libpq_string("ducklake:postgres:dbname=kpi host=db") == "dbname=kpi host=db"
    with pytest.raises(WarehouseError, match="must start with"):
        lake.libpq_string("postgres:dbname=kpi")
    with pytest.raises(WarehouseError, match="needs a libpq connection string"):
        lake.libpq_string("ducklake:postgres:  ")


def test_missing_names_the_install_when_the_extensions_do_not_fit() -> None:
    why = lake.missing()
    if duckdb.__version__ != lake.LAKE_DUCKDB:
        assert why is not None and "socialkpi[lake]" in why and duckdb.__version__ in why
    else:
        require_lake()
        assert why is None


# --- DuckLake on Postgres ------------------------------------------------------------------------------


def test_lake_opens_from_the_url_and_merges_on_the_natural_key(lake_url: str, tmp_path: Path) -> None:
    data = tmp_path / "lake-data"
    con = lake.connect(lake_url, str(data) + "/")
    try:
        loaded = {
            name
            for (name,) in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()
        }
        assert {"ducklake", "postgres_scanner"} <= loaded
        con.execute(OBSERVATIONS)
        con.execute(f"CREATE TEMP TABLE batch AS {batch('a1', 0, 20, 0, 'run-1')}")
        con.execute(MERGE)
        con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {batch('a1', 10, 20, 0.5, 'run-2')}")  # 10 updates, 10 new
        con.execute(MERGE)
    finally:
        con.close()
    assert list(data.rglob("*.parquet")), "the rows are Parquet files under data_path"
    again = lake.connect(lake_url)  # the catalog remembers data_path
    try:
        n, keys, updated = again.execute(
            "SELECT count(*), count(DISTINCT observed_on), count(*) FILTER (WHERE run_id = 'run-2') FROM observations"
        ).fetchone()  # type: ignore[misc]
        assert (n, keys, updated) == (30, 30, 20)
        assert again.execute("SELECT value FROM observations WHERE observed_on = DATE '2026-01-16'").fetchone() == (
            15.5,
        )
    finally:
        again.close()


def test_lake_error_never_shows_the_connection_string() -> None:
    require_lake()
    url = "ducklake:postgres:host=127.0.0.1 port=1 user=kpi password=s3cret-pw dbname=kpi connect_timeout=2"
    with pytest.raises(WarehouseError, match="cannot open the lake") as caught:
        lake.connect(url)
    assert "s3cret-pw" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_concurrent_merges_keep_every_row_once(lake_url: str, tmp_path: Path) -> None:
    """Two writer processes MERGE their own accounts into one table at once: DuckLake's conflicts (per
    table: an update conflicts with any concurrent insert) are retried whole, and every key ends once."""
    con = lake.connect(lake_url, str(tmp_path / "data") + "/")
    con.execute(OBSERVATIONS)
    con.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.lake_writer", lake_url, account, "4"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for account in ("a1", "a2")
    ]  # fmt: skip
    conflicts = []
    for w in writers:
        out, err = w.communicate(timeout=600)
        assert w.returncode == 0, err
        conflicts.append(int(out.split()[-1]))
    check = lake.connect(lake_url)
    try:
        rows = check.execute(
            "SELECT account_id, count(*), count(DISTINCT observed_on), max(value)"
            " FROM observations GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        check.close()
    # rounds 0..3 cover days 0..24 (25 keys each); the last round wrote day 24 as 24 + 3
    assert rows == [("a1", 25, 25, 27.0), ("a2", 25, 25, 27.0)], f"conflicts retried: {conflicts}"
