"""collect's writer thread: the accounts' batches, written as they finish, whole accounts per transaction.

Collector threads put each account's :class:`_Batch` (its result, run record, rows and skipped metrics) in a
queue; :func:`_write_batches`, in one thread of its own, opens the file when batches wait, writes every
batch waiting then in as few transactions as :data:`MAX_ROWS_PER_COMMIT` allows (an account is in a commit
or not), and closes the file again after at most :data:`MAX_HOLD_SECONDS`, so readers (the dashboard) get
their turn.  An account that cannot be written fails alone.  The results land in the run's
:class:`RunSummary` (:mod:`socialkpi.runner`).
"""

from __future__ import annotations

import collections
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import duckdb

from collectors.observation import Account, Observation
from collectors.redaction import redact
from warehouse import db as wdb
from warehouse.lake_config import Lake
from warehouse.load import AccountOutcome, write_account_batch
from warehouse.load_group import AccountBatch, write_account_batches

log = logging.getLogger("socialkpi.collect")


@dataclass
class AccountResult:
    account: Account
    status: str
    rows: int = 0
    reason: str = ""
    since: date | None = None
    until: date | None = None
    requests: int = 0


@dataclass
class RunSummary:
    run_id: str
    results: list[AccountResult] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(r.status == "ok" for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.status != "ok" for r in self.results)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


@dataclass
class _Batch:
    result: AccountResult
    outcome: AccountOutcome
    rows: list[Observation]
    skipped: list[tuple[str, str]]


MAX_ROWS_PER_COMMIT = 200_000  # rows per transaction (whole accounts): bounds its memory and its length
MAX_HOLD_SECONDS = 1.0  # the writer lets go of the file after this long, so readers get their turn


def _write_batches(
    db_path: wdb.Target,
    pending: queue.Queue[_Batch | None],
    summary: RunSummary,
    total: int,
    on_progress: Callable[[AccountResult, int, int], None] | None,
) -> None:
    """The writer thread: open the file when batches wait, write them, close it, repeat.

    Every batch waiting is written in as few transactions as :data:`MAX_ROWS_PER_COMMIT` allows,
    each of whole accounts only (:func:`write_account_batches`): an account is in a commit or not.
    Batches that arrive meanwhile are written on the same connection, for at most
    :data:`MAX_HOLD_SECONDS`: then the file is closed and opened again, so a dashboard waiting for
    it gets in (a reader retries for up to :data:`warehouse.db.LOCK_TIMEOUT`).
    """
    waiting: collections.deque[_Batch] = collections.deque()
    finished = False

    def take() -> None:  # everything waiting in the queue, without blocking
        nonlocal finished
        while not finished:
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            if item is None:
                finished = True
            else:
                waiting.append(item)

    def report(batch: _Batch) -> None:
        summary.results.append(batch.result)
        _log_result(batch)
        if on_progress:
            on_progress(batch.result, len(summary.results), total)

    while True:
        if not waiting:
            if finished:
                return
            item = pending.get()
            if item is None:
                return
            waiting.append(item)
        take()
        part: list[_Batch] = []
        if isinstance(db_path, Lake):
            _write_to_lake(db_path, waiting, report)
            continue
        try:
            with wdb.writing(db_path) as con:
                opened = time.monotonic()
                while True:  # at least one commit per opening
                    part = _next_commit(waiting)
                    _write_together(con, part)
                    for batch in part:
                        report(batch)
                    part = []
                    take()
                    if not waiting or time.monotonic() - opened >= MAX_HOLD_SECONDS:
                        break
        except wdb.WarehouseError as exc:
            for batch in [*part, *waiting]:  # nothing of these was committed
                r = batch.result
                if r.status == "ok":
                    r.status, r.rows = "failed", 0
                    r.reason = redact(f"{r.account.platform}/{r.account.id}: {exc}")
                report(batch)
            waiting.clear()


def _write_to_lake(where: Lake, waiting: collections.deque[_Batch], report: Callable[[_Batch], None]) -> None:
    """The lake: each commit's accounts in a scratch copy of their rows, published in one lake transaction
    (:func:`warehouse.lake_store.writing`, retried on DuckLake's conflicts), and reported once it is."""
    part = _next_commit(waiting)
    keys = [(b.outcome.account.platform, b.outcome.account.id) for b in part]
    try:
        with wdb.writing(where, accounts=keys) as con:
            _write_together(con, part)
    except (wdb.WarehouseError, duckdb.Error) as exc:  # nothing of these was published
        for batch in part:
            r = batch.result
            if r.status == "ok":
                r.status, r.rows = "failed", 0
                r.reason = redact(f"{r.account.platform}/{r.account.id}: {exc}")
    for batch in part:
        report(batch)


def _next_commit(waiting: collections.deque[_Batch]) -> list[_Batch]:
    """The next whole accounts from ``waiting``, in order, of at most :data:`MAX_ROWS_PER_COMMIT` rows
    together (one account with more is a commit of its own)."""
    part = [waiting.popleft()]
    rows = len(part[0].rows)
    while waiting and rows + len(waiting[0].rows) <= MAX_ROWS_PER_COMMIT:
        rows += len(waiting[0].rows)
        part.append(waiting.popleft())
    return part


def _write_together(con: duckdb.DuckDBPyConnection, part: list[_Batch]) -> None:
    """``part`` in one transaction; if that fails, each account in its own, so one bad account fails alone."""
    if len(part) > 1:
        try:
            written = write_account_batches(con, [AccountBatch(b.outcome, b.rows, b.skipped) for b in part])
        except Exception:  # nothing of the group was kept: find the account at fault below
            log.debug("a group of %d accounts could not be written together", len(part), exc_info=True)
        else:
            for batch, rows in zip(part, written, strict=True):
                batch.result.rows = rows
            return
    for batch in part:
        _write_one(con, batch)


def _write_one(con: duckdb.DuckDBPyConnection, batch: _Batch) -> None:
    result = batch.result
    try:
        result.rows = write_account_batch(con, batch.outcome, batch.rows, batch.skipped)
    except duckdb.Error as exc:
        result.status, result.rows = "failed", 0
        result.reason = redact(f"{result.account.platform}/{result.account.id}: could not be written: {exc}")


def _log_result(batch: _Batch) -> None:
    r = batch.result
    for metric, note in batch.skipped:
        log.warning("%s/%s: skipped %s: %s", r.account.platform, r.account.id, metric, note)
    if r.status == "ok":
        log.info("%s/%s: ok, %d rows changed (%s..%s)", r.account.platform, r.account.id, r.rows, r.since, r.until)
    else:
        log.error("%s", r.reason)
