"""Issue 15 section 2's experiment: can a DuckLake on Postgres take concurrent MERGEs from several writers?

Run with the lake's DuckDB (the extension wheels exist for DuckDB 1.5.5 only, see warehouse/lake.py)::

    make test-lake      # builds .venv-lake with the lake extra (or: pip install -e '.[lake]' in any venv)
    PYTHONPATH=. .venv-lake/bin/python bench/lake_merge.py --serial --engines lake,lake-sharded,file,postgres
    PYTHONPATH=. .venv-lake/bin/python bench/lake_merge.py --read-only --read-rows 1000000

Not part of ``make test`` nor of ``python -m bench``'s default list.  It starts a real PostgreSQL server
(tests/pg.py: Debian's binaries, data in a temp dir) and, for each engine:

- ``lake``: a DuckLake with its catalog in that Postgres and its data in a local folder; an
  ``observations`` table shaped like warehouse/schema.py's (no primary key: DuckLake has none) and the
  upsert as ``MERGE INTO observations USING batch ON <natural key> WHEN MATCHED AND <changed> THEN UPDATE
  WHEN NOT MATCHED THEN INSERT``;
- ``lake-sharded``: the same lake with one observations table per writer (``observations_s<k>``, the
  accounts of shard k) under a view ``observations`` (UNION ALL): DuckLake detects conflicts per table
  (an insert conflicts with any concurrent delete in the same table, whatever the rows, and MERGE's
  update is a delete plus an insert), so writers of different tables never conflict;
- ``file``: the DuckDB file with the primary key and the project's ``INSERT ... ON CONFLICT DO UPDATE``
  (warehouse/load.py's UPSERT_SQL), one writer process at a time as the file's lock allows;
- ``postgres``: Postgres itself as the observations store (the nearest existing engine), a real
  primary key and ``INSERT ... ON CONFLICT`` run inside Postgres through DuckDB's postgres extension
  (``postgres_execute``), the batch sent as a VALUES-free ``COPY`` from DuckDB (``INSERT INTO pg.stage``).

Every writer is a process of its own, MERGEing rounds of batches of its own accounts (a batch = a group of
accounts x metrics x a 60-day window; each round moves the window 30 days on, so half its rows are new,
some change and the rest are unchanged, as a re-collect's lookback does), each batch one transaction,
retried whole on a conflict.  A reader process loops over KPI-style queries meanwhile and checks every
answer has no duplicate key.  Afterwards every key is checked once, with its last round's value.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from tests.pg import PostgresServer  # noqa: E402
from warehouse import lake  # noqa: E402

STEP, WINDOW, RECENT = 30, 60, 7  # each round's window moves STEP days; its last RECENT days change each round
DAY0 = "2026-01-01"
PLATFORMS = ("instagram", "facebook", "x", "youtube")
KEY = ("platform", "account_id", "metric", "observed_on")

CREATE_LAKE = """
CREATE TABLE IF NOT EXISTS observations (
    platform VARCHAR NOT NULL, account_id VARCHAR NOT NULL, metric VARCHAR NOT NULL, observed_on DATE NOT NULL,
    value DOUBLE NOT NULL, source_metric VARCHAR NOT NULL, collected_at TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL
)"""
CREATE_FILE = CREATE_LAKE.rstrip(")") + ", PRIMARY KEY (platform, account_id, metric, observed_on))"

MERGE_SQL = """
MERGE INTO observations AS o USING batch AS b
ON o.platform = b.platform AND o.account_id = b.account_id AND o.metric = b.metric AND o.observed_on = b.observed_on
WHEN MATCHED AND (o.value IS DISTINCT FROM b.value OR o.source_metric IS DISTINCT FROM b.source_metric) THEN UPDATE SET
    value = b.value, source_metric = b.source_metric, collected_at = b.collected_at, run_id = b.run_id
WHEN NOT MATCHED THEN INSERT
    (platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id)
    VALUES (b.platform, b.account_id, b.metric, b.observed_on, b.value, b.source_metric, b.collected_at, b.run_id)
"""

# warehouse/load.py's UPSERT_SQL (the DuckDB file's upsert today)
UPSERT_SQL = """
INSERT INTO observations
    (platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id)
SELECT platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id FROM batch
ON CONFLICT (platform, account_id, metric, observed_on) DO UPDATE SET
    value = excluded.value, source_metric = excluded.source_metric,
    collected_at = excluded.collected_at, run_id = excluded.run_id
WHERE observations.value IS DISTINCT FROM excluded.value
   OR observations.source_metric IS DISTINCT FROM excluded.source_metric
"""

# the same upsert inside Postgres, from a per-writer staging table
PG_CREATE = """
CREATE TABLE IF NOT EXISTS observations (
    platform text NOT NULL, account_id text NOT NULL, metric text NOT NULL, observed_on date NOT NULL,
    value double precision NOT NULL, source_metric text NOT NULL, collected_at timestamp NOT NULL,
    run_id text NOT NULL, PRIMARY KEY (platform, account_id, metric, observed_on)
)"""
PG_UPSERT = """
INSERT INTO observations SELECT * FROM {stage}
ON CONFLICT (platform, account_id, metric, observed_on) DO UPDATE SET
    value = excluded.value, source_metric = excluded.source_metric,
    collected_at = excluded.collected_at, run_id = excluded.run_id
WHERE observations.value IS DISTINCT FROM excluded.value
   OR observations.source_metric IS DISTINCT FROM excluded.source_metric
"""

KPI_QUERIES = {
    "latest per account x metric": """
        SELECT platform, account_id, metric, arg_max(value, observed_on) AS latest
        FROM observations GROUP BY ALL""",
    "28-day sums by platform x metric": """
        SELECT platform, metric, sum(value) FROM observations
        WHERE observed_on > (SELECT max(observed_on) FROM observations) - INTERVAL 28 DAY GROUP BY ALL""",
    "week-over-week by platform x metric": """
        WITH m AS (SELECT max(observed_on) AS d FROM observations)
        SELECT platform, metric,
               sum(value) FILTER (WHERE observed_on > m.d - INTERVAL 7 DAY) AS this_week,
               sum(value) FILTER (WHERE observed_on <= m.d - INTERVAL 7 DAY AND observed_on > m.d - INTERVAL 14 DAY)
        FROM observations, m GROUP BY ALL""",
}
DUPLICATES = "SELECT count(*) - count(DISTINCT (platform, account_id, metric, observed_on)), count(*) FROM observations"


def batch_sql(accounts: list[int], rnd: int, metrics: int, run_id: str) -> str:
    """A batch as a SELECT: ``accounts`` x ``metrics`` x the round's 60-day window, deterministic values."""
    first, last = rnd * STEP, rnd * STEP + WINDOW
    ids = ", ".join(str(a) for a in accounts)
    return f"""
        SELECT ['{"','".join(PLATFORMS)}'][a % {len(PLATFORMS)} + 1] AS platform,
               'acct-' || a AS account_id, 'm' || m AS metric, DATE '{DAY0}' + d::INTEGER AS observed_on,
               (hash(a, m, d) % 100000)::DOUBLE + CASE WHEN d >= {last - RECENT} THEN {rnd} ELSE 0 END AS value,
               'src_m' || m AS source_metric, TIMESTAMP '2026-06-01' + INTERVAL ({rnd}) HOUR AS collected_at,
               '{run_id}' AS run_id
        FROM unnest([{ids}]) AS t(a), range({metrics}) AS mm(m), range({first}, {last}) AS dd(d)"""


def expected_sql(accounts: int, rounds: int, metrics: int) -> str:
    """Every key the writers wrote, with the value of the last round whose window held it."""
    span = (rounds - 1) * STEP + WINDOW
    return f"""
        WITH k AS (SELECT a, m, d, least(d // {STEP}, {rounds - 1}) AS r
                   FROM range({accounts}) t(a), range({metrics}) mm(m), range({span}) dd(d))
        SELECT ['{"','".join(PLATFORMS)}'][a % {len(PLATFORMS)} + 1] AS platform, 'acct-' || a AS account_id,
               'm' || m AS metric, DATE '{DAY0}' + d::INTEGER AS observed_on,
               (hash(a, m, d) % 100000)::DOUBLE + CASE WHEN d >= r * {STEP} + {WINDOW - RECENT} THEN r ELSE 0 END
                 AS value
        FROM k"""


# --- opening each engine -------------------------------------------------------------------------------


def open_engine(engine: str, where: dict[str, str]) -> duckdb.DuckDBPyConnection:
    if engine.startswith("lake"):
        return lake.connect(where["url"], where["data_path"])
    if engine == "file":
        return open_file(where["path"])
    con = duckdb.connect(":memory:", config=dict(lake_config()))
    lake.load_extensions(con)
    con.execute(f"ATTACH '{where['dsn']}' AS pg (TYPE postgres)")
    return con


def lake_config() -> dict[str, Any]:
    return {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def open_file(path: str, timeout: float = 120.0) -> duckdb.DuckDBPyConnection:
    """The DuckDB file, retrying on its lock (warehouse/db.py's recipe: 20 ms doubling to 0.5 s)."""
    t0, delay = time.perf_counter(), 0.02
    while True:
        try:
            return duckdb.connect(path, config=lake_config())
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.perf_counter() - t0 > timeout:
                raise
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 0.5)


def upsert(engine: str, con: duckdb.DuckDBPyConnection, sql: str, stage: str) -> None:
    """One batch, one transaction, on an open connection."""
    if engine == "postgres":
        con.execute(f"CALL postgres_execute('pg', 'TRUNCATE {stage}')")
        con.execute(f"INSERT INTO pg.{stage} {sql}")
        con.execute(f"CALL postgres_execute('pg', $${PG_UPSERT.format(stage=stage)}$$)")
        return
    con.execute("BEGIN")
    con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {sql}")
    if engine == "lake-sharded":
        con.execute(MERGE_SQL.replace("MERGE INTO observations", f"MERGE INTO observations_s{stage.split('_')[1]}"))
    else:
        con.execute(MERGE_SQL if engine == "lake" else UPSERT_SQL)
    con.execute("COMMIT")


def kind(exc: BaseException) -> str:
    """An error's class and message with the numbers taken out (to count conflicts by kind)."""
    text = re.sub(r"\d+", "N", str(exc).splitlines()[0])[:160]
    return f"{type(exc).__name__}: {text}"


# --- the processes -----------------------------------------------------------------------------------


def writer(
    engine: str, where: dict[str, str], me: int, accounts: list[int], args: dict[str, int], start: Any, out: Any
) -> None:
    conflicts: Counter[str] = Counter()
    durations: list[float] = []
    rows = attempts_max = failed = 0
    stage = f"stage_{me}"
    con = None if engine == "file" else open_engine(engine, where)
    start.wait()
    t0 = time.perf_counter()
    for rnd in range(args["rounds"]):
        for g in range(0, len(accounts), args["group"]):
            group = accounts[g : g + args["group"]]
            sql = batch_sql(group, rnd, args["metrics"], f"run-{rnd}-{me}")
            for attempt in range(1, 101):
                b0 = time.perf_counter()
                c = con if con is not None else open_file(where["path"])  # the file: open per batch, as collect
                try:
                    upsert(engine, c, sql, stage)
                    durations.append(time.perf_counter() - b0)
                    rows += len(group) * args["metrics"] * WINDOW
                    attempts_max = max(attempts_max, attempt)
                    break
                except duckdb.Error as exc:
                    conflicts[kind(exc)] += 1
                    with_rollback(c)
                    time.sleep(random.uniform(0.005, 0.05) * min(attempt, 10))
                finally:
                    if con is None:
                        c.close()
            else:
                failed += 1
    wall = time.perf_counter() - t0
    if con is not None:
        con.close()
    out.put(
        {
            "writer": me,
            "rows": rows,
            "wall": wall,
            "batches": len(durations),
            "batch_median": statistics.median(durations) if durations else None,
            "batch_max": max(durations) if durations else None,
            "conflicts": dict(conflicts),
            "attempts_max": attempts_max,
            "failed_batches": failed,
        }
    )


def with_rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def reader(engine: str, where: dict[str, str], start: Any, stop: Any, out: Any) -> None:
    """Loops over the KPI queries until ``stop``: latency per loop, errors, any duplicate key seen."""
    errors: Counter[str] = Counter()
    loops: list[float] = []
    duplicates_seen = 0
    counts: list[int] = []
    start.wait()
    con = None
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            if con is None:
                con = open_reader(engine, where)
            with_prefix = "pg." if engine == "postgres" else ""
            for sql in KPI_QUERIES.values():
                con.execute(sql.replace("FROM observations", f"FROM {with_prefix}observations")).fetchall()
            dup, n = con.execute(DUPLICATES.replace("FROM observations", f"FROM {with_prefix}observations")).fetchone()
            duplicates_seen += dup > 0
            counts.append(n)
            loops.append(time.perf_counter() - t0)
        except duckdb.Error as exc:
            errors[kind(exc)] += 1
            if con is not None:
                con.close()
            con = None
            time.sleep(0.05)
        if engine == "file" and con is not None:  # the file: never hold it (the writer needs the lock)
            con.close()
            con = None
    out.put(
        {
            "reader_loops": len(loops),
            "reader_loop_median": statistics.median(loops) if loops else None,
            "reader_loop_max": max(loops) if loops else None,
            "reader_errors": dict(errors),
            "reader_duplicate_answers": duplicates_seen,
            "reader_rows_seen_monotonic": all(a <= b for a, b in zip(counts, counts[1:], strict=False)),
        }
    )


def open_reader(engine: str, where: dict[str, str]) -> duckdb.DuckDBPyConnection:
    if engine == "file":
        t0, delay = time.perf_counter(), 0.02
        while True:
            try:
                return duckdb.connect(where["path"], read_only=True, config=lake_config())
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.perf_counter() - t0 > 60:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
    return open_engine(engine, where)


# --- one run -------------------------------------------------------------------------------------------


def prepare(
    engine: str, pg: PostgresServer, work: Path, args: argparse.Namespace, tag: str, writers: int
) -> dict[str, str]:
    if engine.startswith("lake"):
        db = f"lake_{tag}".replace("-", "_")
        pg.psql(f"CREATE DATABASE {db}")
        where = {"url": f"ducklake:postgres:{pg.dsn_for(db)}", "data_path": str(work / f"data_{tag}") + "/"}
        con = lake.connect(where["url"], where["data_path"])
        if engine == "lake":
            con.execute(CREATE_LAKE)
        else:
            tables = [f"observations_s{w}" for w in range(writers)]
            for table in tables:
                con.execute(CREATE_LAKE.replace("observations", table))
            con.execute("CREATE VIEW observations AS " + " UNION ALL ".join(f"FROM {t}" for t in tables))
        con.close()
        return where
    if engine == "file":
        path = work / f"{tag}.duckdb"
        con = duckdb.connect(str(path))
        con.execute(CREATE_FILE)
        con.close()
        return {"path": str(path)}
    db = f"pg_{tag}"
    pg.psql(f"CREATE DATABASE {db}")
    pg.psql(PG_CREATE, db)
    for w in range(args.writers):
        pg.psql(f"CREATE UNLOGGED TABLE stage_{w} (LIKE observations)", db)
    return {"dsn": pg.dsn_for(db)}


def run(engine: str, writers: int, pg: PostgresServer, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    tag = f"{engine}_{writers}w_{int(time.time() * 1000) % 10**8}"
    where = prepare(engine, pg, work, args, tag, writers)
    total_accounts = args.writers * args.accounts_per_writer  # the same accounts whatever the writer count
    shards = [list(range(total_accounts))[w::writers] for w in range(writers)]
    ctx = mp.get_context("spawn")
    start, stop, out = ctx.Barrier(writers + 2), ctx.Event(), ctx.Queue()
    params = {"rounds": args.rounds, "group": args.group, "metrics": args.metrics}
    procs = [
        ctx.Process(target=writer, args=(engine, where, w, shards[w], params, start, out)) for w in range(writers)
    ]
    rd = ctx.Process(target=reader, args=(engine, where, start, stop, out))
    for p in [*procs, rd]:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    results = [out.get(timeout=3600) for _ in procs]
    wall = time.perf_counter() - t0
    stop.set()
    results.append(out.get(timeout=600))
    for p in [*procs, rd]:
        p.join(timeout=60)
    summary: dict[str, Any] = {"engine": engine, "writers": writers, "wall_s": round(wall, 2)}
    ws = [r for r in results if "writer" in r]
    summary["rows_merged"] = sum(r["rows"] for r in ws)
    summary["rows_per_s"] = round(summary["rows_merged"] / wall)
    summary["batches"] = sum(r["batches"] for r in ws)
    summary["batch_median_s"] = round(statistics.median(r["batch_median"] for r in ws), 4)
    summary["batch_max_s"] = round(max(r["batch_max"] for r in ws), 3)
    conflicts: Counter[str] = Counter()
    for r in ws:
        conflicts.update(r["conflicts"])
    summary["conflict_errors"] = dict(conflicts)
    summary["retried_attempts_max"] = max(r["attempts_max"] for r in ws)
    summary["failed_batches"] = sum(r["failed_batches"] for r in ws)
    summary.update(next(r for r in results if "reader_loops" in r))
    summary.update(check(engine, where, total_accounts, args))
    summary.update(reads(engine, where, args))
    return summary


def check(engine: str, where: dict[str, str], accounts: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every expected key once with its last round's value; no duplicate; nothing else."""
    con = open_reader(engine, where) if engine != "file" else duckdb.connect(where["path"], read_only=True)
    table = "pg.observations" if engine == "postgres" else "observations"
    dup, n = con.execute(DUPLICATES.replace("FROM observations", f"FROM {table}")).fetchone()
    con.execute(f"CREATE TEMP TABLE expected AS {expected_sql(accounts, args.rounds, args.metrics)}")
    cols = "platform, account_id, metric, observed_on, value"
    missing = con.execute(f"SELECT count(*) FROM (FROM expected EXCEPT SELECT {cols} FROM {table})").fetchone()[0]
    extra = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {table} EXCEPT FROM expected)").fetchone()[0]
    want = con.execute("SELECT count(*) FROM expected").fetchone()[0]
    con.close()
    return {"rows_final": n, "rows_expected": want, "duplicates": dup, "missing_or_wrong": missing, "unexpected": extra}


def reads(engine: str, where: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """Median time of each KPI query on the final table (and on the lake, after compaction too)."""
    con = open_reader(engine, where) if engine != "file" else duckdb.connect(where["path"], read_only=True)
    table = "pg.observations" if engine == "postgres" else "observations"
    result: dict[str, Any] = {}

    def timed_all(label: str) -> None:
        for name, sql in KPI_QUERIES.items():
            times = []
            for _ in range(args.read_repeats):
                t0 = time.perf_counter()
                con.execute(sql.replace("FROM observations", f"FROM {table}")).fetchall()
                times.append(time.perf_counter() - t0)
            result[f"read {name}{label} s"] = round(statistics.median(times), 4)

    timed_all("")
    if engine.startswith("lake"):
        files = "SELECT count(*) FROM ducklake_list_files('lake', ?)"
        tables = ["observations"] if engine == "lake" else [f"observations_s{w}" for w in range(args.writers)]
        present = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        tables = [t for t in tables if t in present]
        result["lake_data_files"] = sum(con.execute(files, [t]).fetchone()[0] for t in tables)
        t0 = time.perf_counter()
        con.execute("CALL ducklake_merge_adjacent_files('lake')")
        con.execute("CALL ducklake_rewrite_data_files('lake')")
        con.execute("CALL ducklake_merge_adjacent_files('lake')")
        result["lake_compaction_s"] = round(time.perf_counter() - t0, 2)
        result["lake_data_files_after"] = sum(con.execute(files, [t]).fetchone()[0] for t in tables)
        timed_all(" (compacted)")
    con.close()
    return result


def reads_at_scale(pg: PostgresServer, work: Path, rows: int, repeats: int, engines: list[str]) -> dict[str, Any]:
    """The KPI queries on ``rows`` observations written in one INSERT (one snapshot, few files) per engine."""
    accounts = max(1, rows // (10 * 365))
    platforms = "', '".join(PLATFORMS)
    sql = (
        f"SELECT ['{platforms}'][a % {len(PLATFORMS)} + 1] AS platform, 'acct-' || a AS account_id,"
        " 'm' || m AS metric, DATE '2025-01-01' + d::INTEGER AS observed_on,"
        " (hash(a, m, d) % 100000)::DOUBLE AS value, 'src_m' || m AS source_metric,"
        " TIMESTAMP '2026-01-01' AS collected_at, 'run-0' AS run_id"
        f" FROM range({accounts}) t(a), range(10) mm(m), range(365) dd(d)"
    )
    queries = {"count(*)": "SELECT count(*) FROM observations", **KPI_QUERIES}
    result: dict[str, Any] = {"rows": accounts * 10 * 365}
    for engine in engines:
        tag = f"scale_{engine}".replace("-", "_")
        if engine == "postgres":
            where = prepare(engine, pg, work, argparse.Namespace(writers=0), tag, 0)
        else:
            where = prepare("lake" if engine.startswith("lake") else engine, pg, work, argparse.Namespace(), tag, 1)
        con = open_engine(engine, where) if engine != "file" else duckdb.connect(where["path"])
        table = "pg.observations" if engine == "postgres" else "observations"
        t0 = time.perf_counter()
        con.execute(f"INSERT INTO {table} {sql}")
        result[f"{engine} insert s"] = round(time.perf_counter() - t0, 2)
        con.close()
        con = open_reader(engine, where)
        for name, q in queries.items():
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                con.execute(q.replace("FROM observations", f"FROM {table}")).fetchall()
                times.append(time.perf_counter() - t0)
            result[f"{engine} {name} s"] = round(statistics.median(times), 4)
        con.close()
        print(json.dumps(result), file=sys.stderr)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--accounts-per-writer", type=int, default=25)
    parser.add_argument("--group", type=int, default=5, help="accounts per batch (one transaction)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--read-repeats", type=int, default=5)
    parser.add_argument("--engines", default="lake,file,postgres")
    parser.add_argument("--serial", action="store_true", help="also run each engine with 1 writer")
    parser.add_argument("--json", type=Path, help="write the summaries here")
    parser.add_argument("--read-rows", type=int, default=0, help="also time the reads on this many rows per engine")
    parser.add_argument("--read-only", action="store_true", help="only the reads at --read-rows")
    args = parser.parse_args()
    print(f"duckdb {duckdb.__version__}; extensions {lake.EXTENSIONS}", file=sys.stderr)
    summaries = []
    work = Path(tempfile.mkdtemp(prefix="lake-merge-"))
    try:
        with PostgresServer() as pg:
            print(pg.psql("SELECT version()").strip(), file=sys.stderr)
            for engine in [] if args.read_only else args.engines.split(","):
                counts = [1, args.writers] if args.serial else [args.writers]
                if engine == "file":
                    counts = sorted({1, *counts})
                for n in counts:
                    print(f"--- {engine}, {n} writer(s)", file=sys.stderr)
                    s = run(engine, n, pg, work, args)
                    print(json.dumps(s, indent=1), file=sys.stderr)
                    summaries.append(s)
            if args.read_rows:
                engines = [e for e in args.engines.split(",") if e != "lake-sharded"]
                summaries.append(reads_at_scale(pg, work, args.read_rows, args.read_repeats, engines))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=1))
    print(json.dumps(summaries, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.exit(main())
