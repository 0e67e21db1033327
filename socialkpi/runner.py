"""``socialkpi collect``: every selected account, concurrently, each in its own batch.

* Ranges: ``--since/--until`` when given; otherwise from the newest stored day minus the
  platform's look-back window (platforms revise recent days), or ``history_days`` back on an
  empty warehouse.  ``until`` defaults to yesterday in the business's time zone; levels a
  platform only gives as "now" are dated today.  Nothing dated after today is ever written
  (the command line clamps ``--until``; :func:`_not_after` drops what a collector returns later).
* Concurrency: per platform, as many worker threads as that platform allows at once.
* Isolation: an account that fails is recorded with its reason and writes no rows; the others
  go on.  An account's rows, notes and run record are committed together, whole, never in part:
  the accounts finished by then are written in one transaction (several whole accounts: one
  commit instead of one each) on a connection opened for those batches only, so readers (the
  dashboard) are locked out for the length of a write, not for the run (the writer thread:
  :mod:`socialkpi.collect_writer`).
* Deadline: ``[collect] deadline_minutes`` ends the whole run.  Past it no account starts, requests
  in flight are cut (``Client.deadline``), and every account not finished is recorded as failed
  ("deadline reached"): the run ends, the lock is released, ``collect`` exits 1.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from collectors import PLATFORMS, clamp_since, load_check, load_classifier, load_collector
from collectors.context import CollectContext, Collected, Credentials
from collectors.errors import CollectorError, ServerError
from collectors.http import Client, RetryPolicy
from collectors.observation import Account, Observation
from collectors.redaction import escape_controls, redact, register_secret
from collectors.tokens import TokenStore
from socialkpi.collect_writer import AccountResult, RunSummary, _Batch, _log_result, _write_batches
from socialkpi.credentials import credential_source
from socialkpi.lock import RunLock
from socialkpi.settings import Settings
from warehouse import db as wdb
from warehouse.credentials import record_credentials
from warehouse.load import AccountOutcome, finish_run, newest_days, start_run
from warehouse.load_group import AccountBatch, write_account_batches

log = logging.getLogger("socialkpi.collect")


def plan_range(
    settings: Settings,
    account: Account,
    newest: date | None,
    *,
    today: date,
    since: date | None,
    until: date | None,
) -> tuple[date, date]:
    end = until or (today - timedelta(days=1))
    if since is not None:
        start = since
    elif newest is not None:
        start = min(newest, end) - timedelta(days=settings.lookback_for(account.platform))
    else:
        start = end - timedelta(days=settings.history_days - 1)
    return clamp_since(account.platform, start, end), end


EXIT_LOCKED = 75  # README, "Exit statuses of `socialkpi collect`": another collect holds the lock


def collect(
    settings: Settings,
    *,
    platforms: Sequence[str] = (),
    account_ids: Sequence[str] = (),
    only: Callable[[Account], bool] | None = None,
    only_name: str = "the filter",
    since: date | None = None,
    until: date | None = None,
    command: str = "collect",
    policy: RetryPolicy | None = None,
) -> int:
    """One collect of ``settings``' accounts, as ``socialkpi collect`` runs it; its exit status (README,
    "Exit statuses of `socialkpi collect`").

    The accounts are those of ``platforms`` and ``account_ids`` (all when empty; an unknown one is a
    :class:`~socialkpi.validation.UsageError`), and of those the ones ``only`` keeps (default all: a caller
    collecting part of the accounts, one shard of them, passes its own test).  When ``only`` keeps none of
    them, that is not a mistake (N workers may outnumber the accounts): a note naming ``only_name`` on
    standard error and exit 0, nothing locked or written.  Under the :class:`RunLock`
    (a second collect exits 75 at once): the [costs] and [value] of socialkpi.toml are applied, the
    accounts collected (:func:`run_collect`) and, when ``[alerts]`` is configured, the alerts of this run
    sent.  Then every failed account is printed, a warning for each stored token about to end, and the
    summary line.  Everything is of this one ``settings`` (one warehouse, one lock): several warehouses
    are several calls.
    """
    from socialkpi.console import err, out
    from socialkpi.credentials import credentials_for
    from socialkpi.lock import LockHeld
    from socialkpi.validation import UsageError, collect_range

    for pid in platforms:
        if pid not in PLATFORMS:
            raise UsageError(f"--platform: unknown platform {pid!r}: use one of {', '.join(sorted(PLATFORMS))}")
    selected = [
        a
        for a in settings.accounts
        if (not platforms or a.platform in platforms) and (not account_ids or a.id in account_ids)
    ]
    for wanted in account_ids:
        if not any(a.id == wanted for a in settings.accounts):
            raise UsageError(
                f"--account: no account with id {wanted!r} in {settings.config_path or 'the configuration'}"
            )
    if not selected:
        raise UsageError("no accounts to collect: add [[accounts]] entries to socialkpi.toml (see README)")
    accounts = [a for a in selected if only is None or only(a)]
    if not accounts:
        sys.stderr.write(
            f"socialkpi: note: {only_name} holds none of the {len(selected)} account(s) selected: "
            "nothing to collect, nothing written\n"
        )
        return 0
    days = collect_range(since, until, datetime.now(UTC).astimezone(settings.timezone).date(), settings.timezone)
    since, until = days.since, days.until
    store = TokenStore.beside(settings.db_path)
    store.check()  # a link or a non-regular file there: exit 2 before anything is done
    credentials = {(a.platform, a.id): credentials_for(a, settings.env, store) for a in accounts}

    if days.note:
        sys.stderr.write(f"socialkpi: note: {days.note}\n")
    progress = _Progress(len(accounts)) if sys.stderr.isatty() else None
    try:
        with RunLock(_lock_path(settings, only, only_name)):
            from socialkpi.settings import roi_config
            from warehouse.roi_inputs import sync_config

            sync_config(settings.warehouse, roi_config(settings), settings.timezone)
            summary = run_collect(
                settings,
                accounts,
                credentials,
                since=since,
                until=until,
                command=command,
                on_progress=progress.update if progress else None,
                policy=policy,
            )
            if settings.alerts is not None and settings.lake is not None:
                err("warning: [alerts] are not sent by a collect into the lake yet ([warehouse] url): none was sent")
            elif settings.alerts is not None:  # still under the lock: two collects never send the same alert
                if progress:
                    progress.done()
                    progress = None
                from socialkpi.alerts import after_collect

                after_collect(settings, summary.run_id)  # never raises: its failures are warnings
    except LockHeld as exc:
        err(f"{exc}; nothing was done")
        return EXIT_LOCKED
    if progress:
        progress.done()
    for result in summary.results:
        if result.status != "ok":
            err(f"failed: {result.reason}")
    _warn_tokens(settings.warehouse, store.path)
    out(
        f"collect {summary.run_id}: {summary.ok} account(s) ok, {summary.failed} failed, "
        f"{summary.rows} row(s) written, {summary.requests} request(s)"
    )
    return summary.exit_code


def _lock_path(settings: Settings, only: Callable[[Account], bool] | None, only_name: str) -> Path:
    """The collect lock's file: beside the warehouse file; on the lake, one per shard (``collect --shard``),
    since the shards of one lake write at the same time (each only its own accounts)."""
    if settings.lake is None or only is None:
        return settings.db_path
    slug = "".join(c if c.isalnum() else "-" for c in only_name)
    return settings.db_path.with_name(f"{settings.db_path.name}.{slug}")


def _warn_tokens(db_path: wdb.Target, tokens_file: Path) -> None:
    """One ``socialkpi: warning:`` line per stored token that stops working within 14 days and cannot be renewed
    (cron mails or logs it while there is still time); never fails the run."""
    from warehouse.tokens import token_rows, token_warnings

    try:
        warnings = token_warnings(token_rows(db_path, tokens_file))
    except Exception as exc:  # a warning about warnings must not turn a good run into a failed one
        log.debug("token expiry not read: %s", exc)
        return
    for warning in warnings:
        sys.stderr.write(f"socialkpi: warning: {warning.message}\n")


class _Progress:
    """A one-line progress bar on a terminal (cron gets plain log lines instead)."""

    def __init__(self, total: int) -> None:
        self.total = total

    def update(self, result: AccountResult, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        mark = "ok" if result.status == "ok" else "FAILED"
        bar = f"[{'#' * filled}{'.' * (width - filled)}]"
        line = f"\r{bar} {done}/{total} {result.account.platform}/{result.account.id} {mark}"
        sys.stderr.write(line[:120].ljust(120))
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\n")


def run_collect(
    settings: Settings,
    accounts: Sequence[Account],
    credentials: dict[tuple[str, str], Credentials],
    *,
    since: date | None = None,
    until: date | None = None,
    policy: RetryPolicy | None = None,
    command: str = "collect",
    now: datetime | None = None,
    on_progress: Callable[[AccountResult, int, int], None] | None = None,
    deadline: timedelta | None = None,
) -> RunSummary:
    """Collect ``accounts`` into the warehouse; the caller holds the :class:`RunLock`.

    ``deadline`` (default ``[collect] deadline_minutes``) bounds the whole run, see the module doc.

    Collector threads hand their results to one writer thread.  The writer opens the file, writes
    every batch waiting at that moment (whole accounts together in one transaction, see
    :func:`socialkpi.collect_writer._write_batches`), and closes it again, so readers are locked out
    only while batches are written, and a run of hundreds of accounts pays neither a connection
    (~20-70 ms with its checkpoint) nor a transaction (~15 ms of statements and commit) per account.
    """
    for creds in credentials.values():
        for secret in (creds.token, creds.refresh_token, creds.client_secret):
            register_secret(secret)
    policy = policy or RetryPolicy()
    if deadline is None:
        deadline = timedelta(minutes=settings.deadline_minutes)
        label = f"the collect deadline ([collect] deadline_minutes = {settings.deadline_minutes})"
    else:
        label = f"the collect deadline ({deadline.total_seconds():g} s)"
    stop_at = time.monotonic() + deadline.total_seconds()
    run_id = uuid.uuid4().hex[:12]
    started = now or datetime.now(UTC)
    db_path = settings.warehouse
    on_lake = settings.lake is not None
    with wdb.writing(db_path) as con:
        # On the lake, other shards' runs are `running` at the same time: none is taken for abandoned.
        for abandoned in start_run(con, run_id, started, command, close_abandoned=not on_lake):
            log.warning("run %s never finished (its process was killed or crashed): recorded as failed", abandoned)
        record_credentials(con, [credential_source(a, credentials[(a.platform, a.id)]) for a in accounts], started)
        if not on_lake:
            newest = newest_days(con)
    if on_lake:  # the lake's writer holds only the rows of the accounts it writes: read them from the lake
        with wdb.reading(db_path) as con:
            newest = newest_days(con)
    summary = RunSummary(run_id)
    today = started.astimezone(settings.timezone).date()
    total = len(accounts)
    pending: queue.Queue[_Batch | None] = queue.Queue()
    writer = threading.Thread(
        target=_write_batches, args=(db_path, pending, summary, total, on_progress), name="collect-writer"
    )
    writer.start()

    begun: set[tuple[str, str]] = set()

    def one(account: Account) -> None:
        begun.add((account.platform, account.id))
        pending.put(
            _collect_one(
                settings,
                account,
                credentials[(account.platform, account.id)],
                run_id=run_id,
                collected_at=started if now is not None else None,
                policy=policy,
                newest=newest.get((account.platform, account.id)),
                today=today,
                since=since,
                until=until,
                deadline=(stop_at, label),
            )
        )

    # Each platform gets its own workers, as many as it allows at once, pulling from its own queue:
    # a slow or strictly limited platform (Umami: one at a time) never holds a worker another
    # platform could use, so the run takes about as long as the slowest platform alone.
    by_platform: dict[str, queue.SimpleQueue[Account]] = {}
    for account in accounts:
        by_platform.setdefault(account.platform, queue.SimpleQueue()).put(account)
    errors: list[BaseException] = []
    # The workers begin together once all are started: a worker already collecting holds the GIL in
    # stretches of up to the switch interval (5 ms), and each further Thread.start() waits for its thread
    # to run, so starting ~20 workers among busy ones took ~100 ms per run (the demo makes 53 runs).
    go = threading.Event()

    def drain(work: queue.SimpleQueue[Account]) -> None:
        go.wait()
        while time.monotonic() < stop_at:
            try:
                account = work.get_nowait()
            except queue.Empty:
                return
            try:
                one(account)
            except BaseException as exc:  # _collect_one catches collector errors; this is a bug
                errors.append(exc)
                return

    threads = [
        threading.Thread(target=drain, args=(work,), name=f"collect-{pid}-{n}", daemon=True)
        for pid, work in by_platform.items()
        for n in range(min(settings.concurrency_for(pid), work.qsize()))
    ]
    try:
        for thread in threads:
            thread.start()
        go.set()
        for thread in threads:  # requests end at the deadline; the grace is for work that is not HTTP
            thread.join(max(0.0, stop_at + DEADLINE_GRACE - time.monotonic()))
    finally:
        go.set()  # (a thread that could not start: the others still run, and end)
        pending.put(None)  # a batch that comes later is not written: its account is recorded below
        writer.join()
    if errors:
        raise errors[0]
    _record_unfinished(db_path, accounts, summary, begun, run_id, label, total, on_progress)

    with wdb.writing(db_path) as con:
        finish_run(
            con,
            run_id,
            datetime.now(UTC),
            status="ok" if not summary.failed else ("failed" if not summary.ok else "partial"),
            accounts_ok=summary.ok,
            accounts_failed=summary.failed,
            rows_written=summary.rows,
            requests=summary.requests,
        )
    return summary


DEADLINE_GRACE = 5.0  # seconds past the deadline for accounts to report the requests it cut


def _record_unfinished(
    db_path: wdb.Target,
    accounts: Sequence[Account],
    summary: RunSummary,
    begun: set[tuple[str, str]],
    run_id: str,
    label: str,
    total: int,
    on_progress: Callable[[AccountResult, int, int], None] | None,
) -> None:
    """Every account the deadline left without a result: failed, "deadline reached", nothing written."""
    done = {(r.account.platform, r.account.id) for r in summary.results}
    left = [a for a in accounts if (a.platform, a.id) not in done]
    if not left:
        return
    now = datetime.now(UTC)
    batches = []
    for account in left:
        when = "while it was being collected" if (account.platform, account.id) in begun else "before it started"
        reason = f"{account.platform}/{account.id}: deadline reached: {label} passed {when}; the next run fills it"
        reason = redact(reason)
        outcome = AccountOutcome(run_id, account, "failed", now, now, error_kind="deadline", reason=reason)
        batches.append(_Batch(AccountResult(account, "failed", reason=reason), outcome, [], []))
    keys = [(a.platform, a.id) for a in left]
    with wdb.writing(db_path, accounts=keys) as con:  # their run records, together in one transaction
        write_account_batches(con, [AccountBatch(batch.outcome) for batch in batches])
    for batch in batches:
        summary.results.append(batch.result)
        _log_result(batch)
        if on_progress:
            on_progress(batch.result, len(summary.results), total)


def _collect_one(
    settings: Settings,
    account: Account,
    creds: Credentials,
    *,
    run_id: str,
    collected_at: datetime | None,
    policy: RetryPolicy,
    newest: date | None,
    today: date,
    since: date | None,
    until: date | None,
    deadline: tuple[float, str] | None = None,
) -> _Batch:
    started = collected_at or datetime.now(UTC)
    start, end = plan_range(settings, account, newest, today=today, since=since, until=until)
    collected = Collected()
    status, kind, reason = "ok", None, None
    client = Client(account.platform, policy=policy)
    if deadline is not None:
        client.deadline, client.deadline_label = deadline
    try:
        collect = load_collector(account.platform)
        client.classify = load_classifier(account.platform)
        ctx = CollectContext(
            account=account,
            credentials=creds,
            collected_at=started,
            business_tz=settings.timezone,
            token_store=TokenStore.beside(settings.db_path),
        )
        collected = collect(client, ctx, since=start, until=end)
        if client.deadline_hit:  # a collector that caught the deadline's error got only part of the account
            raise ServerError(
                f"deadline reached: {client.deadline_label} passed while it was being collected; nothing written",
                code="deadline",
            )
    except CollectorError as exc:
        status, kind, reason = "failed", "deadline" if exc.code == "deadline" else exc.kind, str(exc)
    except Exception as exc:  # a collector bug must not sink the other accounts
        status, kind, reason = (
            "failed",
            "internal",
            f"{account.platform}: internal error: {type(exc).__name__}: {exc}",
        )
        log.debug("internal error", exc_info=True)
    finally:
        client.close()
    if reason and kind == "auth" and creds.source == "store" and "socialkpi connect" not in reason:
        # the advice of a collector names its .env variable; this token came from the token store
        again = f"socialkpi connect {account.platform}"
        reason += f" (this account's token came from `socialkpi connect`: run `{again}` again)"
    if reason:
        reason = redact(f"{account.platform}/{account.id}: {reason.removeprefix(account.platform + ': ')}")
    outcome = AccountOutcome(
        run_id=run_id,
        account=account,
        status=status,
        started_at=started,
        finished_at=datetime.now(UTC),
        since=start,
        until=end,
        error_kind=kind,
        reason=reason,
        requests=client.requests_made,
    )
    rows = _not_after(today, account, collected.observations) if status == "ok" else []
    result = AccountResult(account, status, 0, reason or "", start, end, client.requests_made)
    # a skipped metric's name and reason are the platform's words: stored, logged and shown escaped
    skipped = [(escape_controls(metric), redact(note)) for metric, note in collected.skipped]
    return _Batch(result, outcome, rows, skipped)


def _not_after(today: date, account: Account, rows: Sequence[Observation]) -> list[Observation]:
    """The last guard of "a collect never writes a day after the business's today": whatever a collector
    returns dated later (a platform answering for days asked beyond today, a clock ahead) is dropped, with
    a note in the log."""
    kept = [o for o in rows if o.observed_on <= today]
    if len(kept) < len(rows):
        later = sorted({o.observed_on for o in rows if o.observed_on > today})
        log.warning(
            "%s/%s: dropped %d observation(s) dated after today (%s): %s%s",
            account.platform,
            account.id,
            len(rows) - len(kept),
            today,
            ", ".join(str(d) for d in later[:3]),
            f" and {len(later) - 3} more day(s)" if len(later) > 3 else "",
        )
    return kept


__all__ = ["RunLock", "run_collect", "plan_range", "Path"]


@dataclass
class CheckResult:
    account: Account
    ok: bool
    detail: str


def run_checks(
    settings: Settings,
    accounts: Sequence[Account],
    credentials: dict[tuple[str, str], Credentials],
    *,
    policy: RetryPolicy | None = None,
) -> list[CheckResult]:
    """``socialkpi doctor``: each account's cheapest authenticated call (the collector's ``check``)."""
    for creds in credentials.values():
        for secret in (creds.token, creds.refresh_token, creds.client_secret):
            register_secret(secret)
    policy = policy or RetryPolicy(attempts=2, backoff=0.5, max_retry_after=5.0)
    now = datetime.now(UTC)
    results: list[CheckResult] = []
    for account in accounts:
        client = Client(account.platform, policy=policy)
        try:
            client.classify = load_classifier(account.platform)
            check = load_check(account.platform)
            if check is None:
                results.append(CheckResult(account, True, "configured (this platform has no credential check)"))
                continue
            ctx = CollectContext(
                account=account,
                credentials=credentials[(account.platform, account.id)],
                collected_at=now,
                business_tz=settings.timezone,
                token_store=TokenStore.beside(settings.db_path),
            )
            results.append(CheckResult(account, True, redact(str(check(client, ctx)))))
        except CollectorError as exc:
            results.append(CheckResult(account, False, str(exc)))
        except Exception as exc:
            results.append(CheckResult(account, False, redact(f"internal error: {type(exc).__name__}: {exc}")))
        finally:
            client.close()
    return results
