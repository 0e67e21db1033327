"""Load: 1,000,000 observations (2,000 accounts x 10 metrics x 50 days) into a fresh warehouse, then
again over the same keys (a re-run), through the project's own load path.

- ``warehouse.load.upsert_observations`` (Python rows -> ``observations_table`` -> Arrow ->
  ``UPSERT_SQL`` in one transaction): the figure with the goal of 1.2x.
- collect's write path: the 2,000 account batches (500 rows, a run record and an account each)
  handed to the runner's writer thread (``socialkpi.collect_writer._write_batches``) all at once, as a
  collect whose accounts finish faster than they are written leaves them: it opens the file, writes
  whole accounts together (``warehouse.load_group.write_account_batches``, one transaction per
  ``MAX_ROWS_PER_COMMIT`` rows), and closes it (after ``MAX_HOLD_SECONDS`` at most, for readers).
  Goal: at most 3x the floor (issue 12).
  For comparison, ``write_account_batch`` one account per transaction (how collect wrote until
  issue 12), measured on 200 accounts and scaled x10 (information).

The floor, in the same run: DuckDB inserting the same rows as one prebuilt Arrow table with
``INSERT ... ON CONFLICT (key) DO UPDATE`` into the same keyed table (measured: ~1.5 s fresh,
~1.05 s over the same keys).  The re-run carries a new ``run_id`` and ``collected_at`` with the same
values, as a repeated collect does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench import Figure, log, median, tempdir, timed

ACCOUNTS, METRICS, DAYS = 2000, 10, 50
SAMPLE_ACCOUNTS = 200  # one transaction per account: 100k rows (2000 batches would take ~50 s per pass)
RUNS = 3
LIMIT = 1.2
WRITER_LIMIT = 3.0

FLOOR_SQL = """
INSERT INTO observations
SELECT platform, account_id, metric, observed_on, value, source_metric, collected_at, run_id FROM batch
ON CONFLICT (platform, account_id, metric, observed_on) DO UPDATE SET
    value = excluded.value, source_metric = excluded.source_metric,
    collected_at = excluded.collected_at, run_id = excluded.run_id
"""


def make_rows(collected_at: datetime) -> dict[str, list]:  # type: ignore[type-arg]
    """Observations per account id (built once; not timed: collectors hand these over)."""
    from collectors.observation import Observation

    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(DAYS)]
    metrics = [f"metric_{i}" for i in range(METRICS)]
    out = {}
    for a in range(ACCOUNTS):
        acc = str(104500000000000 + a)
        out[acc] = [
            Observation("facebook", acc, m, d, float((a * 31 + i * 7 + n) % 997), "src_" + m, collected_at)
            for i, m in enumerate(metrics)
            for n, d in enumerate(days)
        ]
    return out


def _fresh(path: Path):  # type: ignore[no-untyped-def]
    from warehouse.db import connect
    from warehouse.schema import ensure_schema

    con = connect(path, read_only=False)
    ensure_schema(con)
    return con


def _floor(con, table) -> None:  # type: ignore[no-untyped-def]
    con.execute("BEGIN TRANSACTION")
    con.register("batch", table)
    con.execute(FLOOR_SQL)
    con.unregister("batch")
    con.execute("COMMIT")


def run() -> list[Figure]:
    from collectors.observation import Account
    from warehouse import load

    t1 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    t2 = datetime(2026, 3, 2, 6, 0, 30, tzinfo=UTC)
    log("load: building 1M Observation objects")
    first = make_rows(t1)
    again = make_rows(t2)
    rows1 = [r for rows in first.values() for r in rows]
    rows2 = [r for rows in again.values() for r in rows]
    table1, table2 = load.observations_table(rows1, "run1"), load.observations_table(rows2, "run2")
    assert table1.num_rows == ACCOUNTS * METRICS * DAYS

    keys = ("floor1", "floor2", "proj1", "proj2", "acc1", "acc2", "writer1", "writer2")
    t: dict[str, list[float]] = {k: [] for k in keys}
    work = tempdir("load")
    for i in range(RUNS):
        log(f"load: run {i + 1}/{RUNS}")
        floor_con = _fresh(work / f"floor{i}.duckdb")
        t["floor1"].append(timed(lambda c=floor_con: _floor(c, table1)))
        t["floor2"].append(timed(lambda c=floor_con: _floor(c, table2)))
        floor_con.close()
        proj_con = _fresh(work / f"proj{i}.duckdb")
        t["proj1"].append(timed(lambda c=proj_con: load.upsert_observations(c, rows1, "run1")))
        t["proj2"].append(timed(lambda c=proj_con: load.upsert_observations(c, rows2, "run2")))
        # a re-run with the same values changes nothing (the upsert's WHERE), not even run_id
        check = proj_con.execute("SELECT count(*), max(run_id) FROM observations").fetchone()
        assert check == (len(rows1), "run1"), check
        proj_con.close()
        con = _fresh(work / f"acc{i}.duckdb")
        sample = list(first)[:SAMPLE_ACCOUNTS]
        for key, source, run_id in (("acc1", first, "run1"), ("acc2", again, "run2")):

            def per_account(source=source, run_id=run_id, con=con, sample=sample) -> None:  # type: ignore[no-untyped-def]
                for acc in sample:
                    now = datetime.now(UTC)
                    outcome = load.AccountOutcome(run_id, Account("facebook", acc, acc), "ok", now, now)
                    load.write_account_batch(con, outcome, source[acc])

            t[key].append(timed(per_account))
        con.close()
        path = work / f"writer{i}.duckdb"
        _fresh(path).close()
        for key, source, run_id in (("writer1", first, "run1"), ("writer2", again, "run2")):
            pending = _backlog(source, run_id)
            t[key].append(timed(lambda p=pending, db=path: _write_all(db, p)))
        written = _rows_per_run(path)
        assert written == {"run1": len(rows1), "run2": 0}, written
        for f in work.glob("*.duckdb*"):
            f.unlink()

    m = {k: median(v) for k, v in t.items()}
    scale = ACCOUNTS / SAMPLE_ACCOUNTS
    figures = []
    for label, proj, floor in (("fresh", "proj1", "floor1"), ("re-run", "proj2", "floor2")):
        figures.append(
            Figure(
                f"load 1M, {label}: upsert_observations",
                f"{m[proj]:.2f} s",
                f"<= {LIMIT}x floor {m[floor]:.2f} s",
                m[proj] / m[floor],
                LIMIT,
            )
        )
    from socialkpi.collect_writer import MAX_HOLD_SECONDS, MAX_ROWS_PER_COMMIT

    for label, writer, floor in (("fresh", "writer1", "floor1"), ("re-run", "writer2", "floor2")):
        figures.append(
            Figure(
                f"load 1M, {label}: collect's writer, {ACCOUNTS} account batches",
                f"{m[writer]:.2f} s ({m[writer] / ACCOUNTS * 1000:.2f} ms/batch of {METRICS * DAYS})",
                f"<= {WRITER_LIMIT:g}x floor {m[floor]:.2f} s",
                m[writer] / m[floor],
                WRITER_LIMIT,
                note=f"whole accounts per commit of <= {MAX_ROWS_PER_COMMIT:,} rows, "
                f"the file let go every {MAX_HOLD_SECONDS:g} s",
            )
        )
    for label, acc, floor in (("fresh", "acc1", "floor1"), ("re-run", "acc2", "floor2")):
        per_batch = m[acc] / SAMPLE_ACCOUNTS * 1000
        figures.append(
            Figure(
                f"load 1M, {label}: write_account_batch x{ACCOUNTS}, one transaction each",
                f"{m[acc] * scale:.1f} s ({per_batch:.1f} ms/batch of {METRICS * DAYS})",
                f"floor {m[floor]:.2f} s",
                m[acc] * scale / m[floor],
                None,
                note=f"the path before issue 12; measured on {SAMPLE_ACCOUNTS} accounts, scaled x{scale:.0f}",
            )
        )
    return figures


def _backlog(source: dict[str, list], run_id: str):  # type: ignore[no-untyped-def,type-arg]
    """Every account's batch waiting for the writer, as the runner's collector threads hand them over."""
    import queue

    from collectors.observation import Account
    from socialkpi.collect_writer import AccountResult, _Batch
    from warehouse.load import AccountOutcome

    pending: queue.Queue[_Batch | None] = queue.Queue()
    for acc, rows in source.items():
        account = Account("facebook", acc, acc)
        now = datetime.now(UTC)
        pending.put(_Batch(AccountResult(account, "ok"), AccountOutcome(run_id, account, "ok", now, now), rows, []))
    pending.put(None)
    return pending


def _write_all(path: Path, pending) -> None:  # type: ignore[no-untyped-def]
    from socialkpi.collect_writer import RunSummary, _write_batches

    summary = RunSummary("bench")
    _write_batches(path, pending, summary, ACCOUNTS, None)
    assert summary.failed == 0 and len(summary.results) == ACCOUNTS, summary.results[:1]


def _rows_per_run(path: Path) -> dict[str, int]:
    from warehouse.db import connect

    con = connect(path, read_only=True)
    try:
        sql = "SELECT run_id, sum(rows_written)::BIGINT FROM run_accounts GROUP BY run_id"
        return dict(con.execute(sql).fetchall())
    finally:
        con.close()
