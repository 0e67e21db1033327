"""Import: ``socialkpi import-csv`` of 1,000,000 observations (1,000 manual sources x 10 metrics x 100
days, the nine columns of the observations export: quoted names with commas and quotes, half the rows
with a ``collected_at``), into an empty warehouse (fresh) and again over the same keys, each as a
whole process through the public command; then 10,000,000 rows once, for its peak memory.

The floor, in the same run and also a whole process: DuckDB reading the same file with ``read_csv``
(typed columns) into ``INSERT ... ON CONFLICT (key) DO UPDATE`` on the same empty warehouse, with no
check, no account and no aggregate.  Both start from a copy of the same empty warehouse (schema made
beforehand) and alternate, so the machine's load hits both alike.  Goals: at most 1.5x the floor,
fresh and again; peak RSS (``VmHWM`` of the whole process, read at its exit) at most 300 MB for 1M
rows; 10M rows complete in under 2 GB.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import ROOT, Figure, log, median, tempdir

ACCOUNTS, METRICS, DAYS = 1000, 10, 100
BIG_ACCOUNTS = 10_000  # x 10 x 100: 10M rows
RUNS = 3
LIMIT = 1.5
RSS_LIMIT_MB = 300.0
BIG_RSS_LIMIT_MB = 2048.0
NAMES = (
    "followers", "visits", "page_views", "impressions", "reach",
    "newsletter_subscribers", "reviews", "rating", "calls", "walk_ins",
)  # fmt: skip

_PEAK = (
    "def _peak():\n"
    "    import sys\n"
    "    with open('/proc/self/status') as fh:\n"
    "        kb = next(int(l.split()[1]) for l in fh if l.startswith('VmHWM:'))\n"
    "    sys.stderr.write('PEAK_RSS_KB %d\\n' % kb)\n"
    "import atexit; atexit.register(_peak)\n"
)
# ``socialkpi import-csv FILE`` as the console script runs it (``main()`` reads sys.argv), plus the peak.
OURS = _PEAK + "import sys; from socialkpi.cli import main; sys.exit(main())\n"
FLOOR = (
    _PEAK
    + """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN TRANSACTION")
con.execute('''
INSERT INTO observations (platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id)
SELECT 'manual', account_id, metric, date, value, coalesce(source_metric, 'manual'),
       timezone('UTC', coalesce(collected_at, now())), 'floor'
FROM read_csv(?, header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
              columns = {'date': 'DATE', 'platform': 'VARCHAR', 'account_id': 'VARCHAR', 'account_name': 'VARCHAR',
                         'competitor': 'BOOLEAN', 'metric': 'VARCHAR', 'value': 'DOUBLE', 'source_metric': 'VARCHAR',
                         'collected_at': 'TIMESTAMPTZ'})
ON CONFLICT (platform, account_id, metric, observed_on) DO UPDATE SET
    value = excluded.value, source_metric = excluded.source_metric,
    collected_at = excluded.collected_at, run_id = excluded.run_id
WHERE observations.value IS DISTINCT FROM excluded.value
   OR observations.source_metric IS DISTINCT FROM excluded.source_metric
''', [sys.argv[2]])
con.execute("COMMIT")
con.close()
"""
)


def make_csv(path: Path, accounts: int) -> None:
    """The file, written by DuckDB (a benchmark input, not a socialkpi output)."""
    import duckdb

    metrics = "[" + ", ".join(f"'{m}'" for m in NAMES[:METRICS]) + "]"
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
          SELECT DATE '2025-06-01' + d::INTEGER AS date,
                 CASE WHEN a % 7 = 3 THEN NULL ELSE 'manual' END AS platform,
                 'source-' || lpad(a::VARCHAR, 6, '0') AS account_id,
                 CASE WHEN a % 5 = 0 THEN 'Café, "Bar" ' || a ELSE 'Source ' || a END AS account_name,
                 CASE WHEN a % 10 = 9 THEN 'true' ELSE 'false' END AS competitor,
                 {metrics}[m + 1] AS metric,
                 CASE WHEN m = 7 THEN ((a * 31 + d) % 50 / 10.0)::VARCHAR
                      ELSE ((a * 31 + m * 7 + d) % 997)::VARCHAR END AS value,
                 CASE WHEN m % 3 = 0 THEN 'sheet_' || m END AS source_metric,
                 CASE WHEN a % 2 = 1 THEN '2026-03-01T08:00:00Z' END AS collected_at
          FROM range({accounts}) t1(a), range({METRICS}) t2(m), range({DAYS}) t3(d)
          ORDER BY a, m, d
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )
    con.close()


def _empty_warehouse(path: Path) -> None:
    from warehouse.db import writing

    with writing(path):
        pass


def _run(args: list[str], db: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one whole process."""
    env = dict(os.environ)
    env["SOCIALKPI_DB"] = str(db)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    start = time.perf_counter()
    done = subprocess.run(args, cwd=db.parent, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])}... exited {done.returncode}: {done.stderr.strip()[-1500:]}")
    peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB"))
    return wall, peak / 1024


def run() -> list[Figure]:
    work = tempdir("importcsv")
    src = work / "manual.csv"
    log(f"importcsv: writing {ACCOUNTS * METRICS * DAYS:,} rows of CSV")
    make_csv(src, ACCOUNTS)
    template = work / "empty.duckdb"
    _empty_warehouse(template)
    ours = [sys.executable, "-c", OURS, "import-csv", str(src)]
    floor = [sys.executable, "-c", FLOOR]
    t: dict[str, list[float]] = {k: [] for k in ("floor1", "floor2", "ours1", "ours2")}
    rss: list[float] = []
    for i in range(RUNS):
        log(f"importcsv: run {i + 1}/{RUNS}")
        runs = work / f"run{i}"
        runs.mkdir()
        shutil.copy(template, runs / "floor.duckdb")
        shutil.copy(template, runs / "ours.duckdb")
        for label in ("1", "2"):  # fresh, then again over the same keys
            wall, _ = _run([*floor, str(runs / "floor.duckdb"), str(src)], runs / "floor.duckdb")
            t["floor" + label].append(wall)
            wall, peak = _run(ours, runs / "ours.duckdb")
            t["ours" + label].append(wall)
            rss.append(peak)
        shutil.rmtree(runs)
    m = {k: median(v) for k, v in t.items()}
    figures = [
        Figure(
            f"import-csv 1M, {label}: whole process",
            f"{m['ours' + key]:.2f} s",
            f"<= {LIMIT}x floor {m['floor' + key]:.2f} s",
            m["ours" + key] / m["floor" + key],
            LIMIT,
            note="read_csv + INSERT ... ON CONFLICT, whole process",
        )
        for label, key in (("fresh", "1"), ("again", "2"))
    ]
    figures.append(
        Figure(
            "import-csv 1M: peak RSS of the process",
            f"{max(rss):.0f} MB (median {median(rss):.0f})",
            f"<= {RSS_LIMIT_MB:.0f} MB",
            max(rss) / RSS_LIMIT_MB,
            1.0,
        )
    )
    big = work / "big.csv"
    src.unlink()
    log(f"importcsv: writing {BIG_ACCOUNTS * METRICS * DAYS:,} rows of CSV")
    make_csv(big, BIG_ACCOUNTS)
    shutil.copy(template, work / "big.duckdb")
    log("importcsv: importing 10M rows")
    try:
        wall, peak = _run([sys.executable, "-c", OURS, "import-csv", str(big)], work / "big.duckdb")
    except RuntimeError as exc:  # the 1M figures stand on their own
        figures.append(Figure("import-csv 10M, fresh: failed", str(exc).splitlines()[-1][:200], "-"))
    else:
        figures.append(
            Figure(
                "import-csv 10M, fresh: peak RSS of the process",
                f"{peak:.0f} MB ({wall:.0f} s)",
                f"< {BIG_RSS_LIMIT_MB:.0f} MB",
                peak / BIG_RSS_LIMIT_MB,
                1.0,
            )
        )
    big.unlink()
    log("importcsv: " + json.dumps({k: [round(x, 2) for x in v] for k, v in t.items()} | {"rss": rss}))
    return figures
