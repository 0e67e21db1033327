"""The demo: ``socialkpi demo --no-dashboard`` into a new warehouse (a year of the bakery, 26 accounts),
as a whole process from the venv, median of :data:`RUNS`.  Goal: at most :data:`BUDGET` seconds.

Every run must build the same warehouse: :func:`warehouse_digest` of each is compared (and shown),
so a faster demo that wrote other data would show here, not only in the tests
(tests/test_demo_build.py compares the demo with the plain sequence of runs it stands for).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

RUNS = 3
BUDGET = 15.0

# The columns whose values are the wall clock of the build (when it ran, not what it stored), and
# ``run_accounts.requests``: which of two accounts of a run sharing one token renewal makes that
# request is a race (their run's ``runs.requests``, compared, is the same): compared as "set", not
# by value.  Everything else is compared as stored, run ids as the rank of their run by start (a
# replayed run starts "as of" its past morning; the last run starts now).
_NOW_COLUMNS = {
    "runs": {"finished_at"},
    "run_accounts": {"finished_at", "requests"},
    "accounts": {"first_seen_at", "last_seen_at"},
    "account_runs": {"last_ok_at"},
    "account_credentials": {"recorded_at"},
    "metric_notes": {"noted_at"},
    "cost_values": {"set_at"},
    "roi_settings": {"set_at"},
    "value_assumptions": {"set_at"},
    "time_log": {"logged_at"},
}


def warehouse_digest(path: str | Path) -> dict[str, str]:
    """``{table: "<rows> rows <md5>"}`` of every table of the warehouse at ``path``, independent of
    the run ids drawn and of when the build ran (see :data:`_NOW_COLUMNS`; the last run's own start
    and the ``collected_at`` it stamped are "now" too)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute(
            "CREATE TEMP TABLE run_rank AS SELECT run_id, row_number() OVER (ORDER BY started_at, command) AS rank, "
            "started_at FROM runs"
        )
        last = con.execute("SELECT max(started_at) FROM runs WHERE command <> 'demo-history'").fetchone()
        now_from = last[0] if last and last[0] is not None else None
        listed = con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1").fetchall()
        tables = [r[0] for r in listed]
        out: dict[str, str] = {}
        for table in tables:
            cols = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND database_name = "
                "current_database() ORDER BY column_index",
                [table],
            ).fetchall()
            exprs, joins = [], ""
            for name, kind in cols:
                ident = '"' + name.replace('"', '""') + '"'
                if name == "run_id":
                    joins = " LEFT JOIN run_rank r ON r.run_id = t.run_id"
                    exprs.append("coalesce(r.rank::VARCHAR, 'run ' || t.run_id)")
                elif name in _NOW_COLUMNS.get(table, ()):
                    exprs.append(f"CASE WHEN t.{ident} IS NULL THEN 'null' ELSE 'set' END")
                elif kind.startswith("TIMESTAMP") and now_from is not None:
                    exprs.append(f"CASE WHEN t.{ident} >= ?::TIMESTAMP THEN 'now' ELSE t.{ident}::VARCHAR END")
                else:
                    exprs.append(f"t.{ident}::VARCHAR")
            row = " || '|' || ".join(f"coalesce({e}, 'null')" for e in exprs)
            params = [now_from] * sum(e.count("?") for e in exprs)
            found = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg({row}, chr(10) ORDER BY {row}), '')) FROM {table} t{joins}",
                params * 2,
            ).fetchone()
            assert found is not None
            out[table] = f"{found[0]} rows {found[1]}"
        return out
    finally:
        con.close()


def digest_of(tables: dict[str, str]) -> str:
    """One short hex for all the tables' digests."""
    return hashlib.sha256(json.dumps(tables, sort_keys=True).encode()).hexdigest()[:12]


def _demo_cmd() -> list[str]:
    script = Path(sys.executable).with_name("socialkpi")
    if script.exists():
        return [str(script)]
    found = shutil.which("socialkpi")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from socialkpi.cli import main; sys.exit(main())"]


def run():  # type: ignore[no-untyped-def]
    from bench import Figure, log, median, run_child, tempdir

    work = tempdir("demo")
    walls, digests, requests = [], [], ""
    for i in range(RUNS):
        db = work / f"demo{i}" / "demo.duckdb"
        db.parent.mkdir()
        log(f"demo: run {i + 1}/{RUNS}: socialkpi demo --no-dashboard")
        wall, out = run_child([*_demo_cmd(), "demo", "--no-dashboard", "--db", str(db)], timeout=900)
        walls.append(wall)
        requests = next((line for line in out.splitlines() if line.startswith("collect ")), "")
        digests.append(digest_of(warehouse_digest(db)))
        log(f"demo: {wall:.1f} s, warehouse digest {digests[-1]}")
    same = "the same warehouse every run" if len(set(digests)) == 1 else "**warehouses differ: " + ", ".join(digests)
    last = requests.split(": ", 1)[-1] if requests else ""
    return [
        Figure(
            "`socialkpi demo --no-dashboard` (a year, 26 accounts): whole process",
            f"{median(walls):.1f} s",
            f"<= {BUDGET:.0f} s",
            median(walls) / BUDGET,
            1.0,
            note=f"last collect: {last}; {same} (digest {digests[0]})",
        )
    ]


if __name__ == "__main__":
    for name, digest in warehouse_digest(sys.argv[1]).items():
        print(f"{name}: {digest}")
    print("all:", digest_of(warehouse_digest(sys.argv[1])))
