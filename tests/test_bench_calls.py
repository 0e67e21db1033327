"""The benchmarks call the code they measure: ``make bench`` is not part of ``make test``, so a rename
in warehouse/ (``warehouse.roi.current_costs`` moving to ``warehouse.roi_inputs``) once broke its
dashboard figures without any test noticing.  Here each page's calls of bench/dashboard.py run once,
against a small warehouse built by the bench's own builder (bench/warehouse11m.py), and must return
what the page shows.  No timing is asserted: the figures are the bench's job.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench import dashboard as bench_dashboard
from bench import warehouse11m
from warehouse.db import connect
from warehouse.schema import ensure_schema

ACCOUNTS = 20  # a fifth of them on each of the bench's platforms, 3 years of days each


def _small_warehouse(tmp_path: Path) -> str:
    path = tmp_path / "bench-small.duckdb"
    con = connect(path, read_only=False)
    try:
        ensure_schema(con)
        warehouse11m._fill(con, ACCOUNTS)
    finally:
        con.close()
    return str(path)


def test_every_page_call_of_the_dashboard_bench_runs_on_the_bench_warehouse(tmp_path: Path) -> None:
    from warehouse import queries
    from warehouse.access import page_reads

    db = _small_warehouse(tmp_path)
    start, end = bench_dashboard._window()
    plats = list(queries.platforms(db))
    assert len(plats) >= 2, plats

    pages = bench_dashboard.pages(db, start, end, plats)
    assert list(pages) == ["Overview", "Platforms", "Competitors", "Website", "ROI", "Data health"]
    results: dict[str, dict[str, object]] = {}
    with page_reads(db):  # as bench_dashboard.measure runs a page: one attachment per rerun
        for page, calls in pages.items():
            results[page] = {name: fn() for name, fn in calls.items()}

    cards = results["Overview"]["kpi_cards"]
    assert isinstance(cards, list) and cards, "the Overview's KPI cards are empty on a 3-year warehouse"
    assert any(card.value is not None for card in cards)
    series = results["Overview"]["daily_series"]
    assert isinstance(series, pd.DataFrame) and not series.empty
    csvs = results["Platforms"]["table CSV (on click)"]
    assert isinstance(csvs, list) and all(isinstance(c, (bytes, str)) and len(c) > 0 for c in csvs)


def test_the_measure_loop_runs_a_page_and_reports_every_call(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = _small_warehouse(tmp_path)
    start, end = bench_dashboard._window()
    calls = bench_dashboard.pages(db, start, end, ["facebook"])["Overview"]
    monkeypatch.setattr(bench_dashboard, "RUNS", 2)
    monkeypatch.setattr(bench_dashboard, "MIN_RUNS", 2)
    totals, times = bench_dashboard.measure(db, calls)
    assert len(totals) == 2
    assert set(times) == set(calls) and all(len(v) == 2 for v in times.values())
