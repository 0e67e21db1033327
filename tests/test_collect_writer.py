"""collect's writer thread: the finished accounts are committed together, whole accounts per
transaction; one account that cannot be written fails alone."""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from collectors.observation import Account, Observation
from socialkpi import collect_writer
from socialkpi.collect_writer import AccountResult, RunSummary, _Batch, _write_batches
from warehouse import db as wdb
from warehouse.load import AccountOutcome
from warehouse.load_group import AccountBatch

T1 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def batch(n: int, rows: int = 3, *, status: Any = "ok", run_id: str = "run-1") -> _Batch:
    account = Account("facebook", str(n), f"page {n}")
    observations = [
        Observation("facebook", str(n), "reach", date(2026, 1, 1) + timedelta(days=d), float(d), "src", T1)
        for d in range(rows)
    ]
    outcome = AccountOutcome(run_id, account, status, T1, T1 + timedelta(seconds=1), requests=2)
    return _Batch(AccountResult(account, "ok", requests=2), outcome, observations, [("page_fans", "retired")])


def write(db: Path, batches: Sequence[_Batch]) -> RunSummary:
    pending: queue.Queue[_Batch | None] = queue.Queue()
    for b in batches:
        pending.put(b)
    pending.put(None)
    summary = RunSummary("run-1")
    _write_batches(db, pending, summary, len(batches), None)
    return summary


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "socialkpi.duckdb"


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The account ids of each group given to write_account_batches."""
    seen: list[list[str]] = []
    real = collect_writer.write_account_batches

    def spy(con: duckdb.DuckDBPyConnection, batches: Sequence[AccountBatch]) -> list[int]:
        seen.append([b.outcome.account.id for b in batches])
        return real(con, batches)

    monkeypatch.setattr(collect_writer, "write_account_batches", spy)
    return seen


def stored(db: Path) -> list[tuple[Any, ...]]:
    with wdb.reading(db) as con:
        return con.execute(
            "SELECT account_id, status, rows_written, (SELECT count(*) FROM observations o "
            "WHERE o.account_id = r.account_id) FROM run_accounts r ORDER BY account_id::INT"
        ).fetchall()


def test_the_batches_waiting_are_committed_together(db: Path, groups: list[list[str]]) -> None:
    summary = write(db, [batch(n) for n in range(5)])
    assert groups == [["0", "1", "2", "3", "4"]]
    assert [(r.account.id, r.status, r.rows) for r in summary.results] == [(str(n), "ok", 3) for n in range(5)]
    assert stored(db) == [(str(n), "ok", 3, 3) for n in range(5)]


def test_one_account_that_cannot_be_written_fails_alone(db: Path, groups: list[list[str]]) -> None:
    batches = [batch(0), batch(1), batch(2, status=None), batch(3)]  # NOT NULL status: refused by DuckDB
    summary = write(db, batches)
    assert groups == [["0", "1", "2", "3"]]  # tried together, then one by one
    results = {r.account.id: r for r in summary.results}
    assert [(n, results[n].status, results[n].rows) for n in "0123"] == [
        ("0", "ok", 3), ("1", "ok", 3), ("2", "failed", 0), ("3", "ok", 3),
    ]  # fmt: skip
    assert results["2"].reason.startswith("facebook/2: could not be written: ")
    assert stored(db) == [("0", "ok", 3, 3), ("1", "ok", 3, 3), ("3", "ok", 3, 3)]


def test_a_commit_holds_whole_accounts_up_to_the_row_limit(
    db: Path, groups: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect_writer, "MAX_ROWS_PER_COMMIT", 10)
    summary = write(db, [batch(0, 4), batch(1, 4), batch(2, 4), batch(3, 25), batch(4, 1), batch(5, 9)])
    # 4 + 4 fit, 4 + 25 do not, an account of 25 is a commit of its own, 1 + 9 fit; a group of one
    # is written by write_account_batch (what the spy sees is the groups of several)
    assert groups == [["0", "1"], ["4", "5"]]
    assert [r.rows for r in summary.results] == [4, 4, 4, 25, 1, 9]
    assert [row[2] for row in stored(db)] == [4, 4, 4, 25, 1, 9]


def test_the_file_is_let_go_after_the_hold_time(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = 0
    real = wdb.writing

    @contextmanager
    def counting(path: Path, **kwargs: Any) -> Iterator[duckdb.DuckDBPyConnection]:
        nonlocal opened
        opened += 1
        with real(path, **kwargs) as con:
            yield con

    monkeypatch.setattr(collect_writer.wdb, "writing", counting)
    monkeypatch.setattr(collect_writer, "MAX_ROWS_PER_COMMIT", 6)
    write(db, [batch(n) for n in range(6)])  # three commits of two accounts
    assert opened == 1
    monkeypatch.setattr(collect_writer, "MAX_HOLD_SECONDS", 0.0)
    opened = 0
    write(db, [batch(n) for n in range(6)])
    assert opened == 3  # the file closed after each commit


def test_a_warehouse_that_cannot_be_opened_fails_the_accounts_waiting(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"SQLite format 3\x00" + bytes(100))  # a foreign file: refused, left as it is
    summary = write(db, [batch(0), batch(1)])
    assert [(r.status, r.rows) for r in summary.results] == [("failed", 0), ("failed", 0)]
    assert all(r.reason.startswith(f"facebook/{r.account.id}: ") for r in summary.results)
