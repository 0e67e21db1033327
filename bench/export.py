"""Export: 1M observations to CSV vs DuckDB's own COPY of the same rows; the KPI CSV of the
11M-row warehouse.

- ``warehouse.export.write_observations_csv`` over a 1M-row warehouse (2,000 accounts x 10 metrics x
  50 days, with the accounts table), vs the floor in the same run: ``COPY (SELECT * FROM
  observations) TO file (HEADER)`` on the same file (measured: ~0.44 s).  Goal <= 1.2x.
- ``warehouse.export.write_kpis_csv`` (monthly, whole range) of :mod:`bench.warehouse11m`: <= 1 s.
"""

from __future__ import annotations

from bench import Figure, log, median, tempdir, timed

RUNS = 3
LIMIT = 1.2
KPI_BUDGET = 1.0


def _million(path) -> None:  # type: ignore[no-untyped-def]
    from warehouse import aggregates
    from warehouse.db import connect
    from warehouse.schema import ensure_schema

    con = connect(path, read_only=False)
    ensure_schema(con)
    con.execute(
        """INSERT INTO accounts SELECT 'facebook', (104500000000000 + a)::VARCHAR, 'Page ' || a, a % 10 = 9,
                  TIMESTAMP '2026-01-01', TIMESTAMP '2026-03-01' FROM range(2000) t(a)"""
    )
    con.execute(
        """INSERT INTO observations
           SELECT 'facebook', (104500000000000 + a)::VARCHAR, 'metric_' || m, DATE '2026-01-01' + d::INTEGER,
                  ((a * 31 + m * 7 + d) % 997)::DOUBLE, 'src_metric_' || m,
                  TIMESTAMP '2026-03-01 06:00:00', 'run1'
           FROM range(50) t1(d), range(2000) t2(a), range(10) t3(m)"""
    )
    aggregates.rebuild(con)  # the bulk INSERT bypasses warehouse.load, which keeps them
    con.execute("CHECKPOINT")
    con.close()


def run() -> list[Figure]:
    from bench.warehouse11m import build
    from warehouse import export
    from warehouse.db import reading

    work = tempdir("export")
    db = work / "million.duckdb"
    _million(db)

    def floor(out: str) -> None:
        with reading(db) as con:
            con.execute(f"COPY (SELECT * FROM observations) TO '{out}' (HEADER)")

    ours, floors = [], []
    log("export: 1M observations CSV")
    for i in range(RUNS):
        floors.append(timed(lambda i=i: floor(str(work / f"floor{i}.csv"))))
        ours.append(timed(lambda i=i: export.write_observations_csv(db, work / f"obs{i}.csv")))
        for f in work.glob("*.csv"):
            f.unlink()
    big, _ = build()
    log("export: KPI CSV of the 11M-row warehouse")
    kpis = [timed(lambda i=i: export.write_kpis_csv(big, work / f"kpis{i}.csv")) for i in range(RUNS)]
    return [
        Figure(
            "export 1M observations CSV: write_observations_csv",
            f"{median(ours):.2f} s",
            f"<= {LIMIT}x COPY {median(floors):.2f} s",
            median(ours) / median(floors),
            LIMIT,
        ),
        Figure(
            "export KPI CSV (monthly, 3 years) of the 11M-row warehouse",
            f"{median(kpis):.2f} s",
            f"<= {KPI_BUDGET:.0f} s",
            median(kpis) / KPI_BUDGET,
            1.0,
        ),
    ]
