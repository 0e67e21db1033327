"""The warehouse on real DuckDB files: schema versions, refusing foreign files, idempotent upserts,
atomic account batches, and lock waits against another process."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.observation import Account, Observation
from warehouse import aggregates
from warehouse.db import DUCKDB_CONFIG, WarehouseBusy, WarehouseError, connect, reading, writing
from warehouse.load import AccountOutcome, newest_days, upsert_observations, write_account_batch
from warehouse.load_group import AccountBatch, write_account_batches
from warehouse.schema import SCHEMA_VERSION, check_readable, current_version, ensure_schema

T1 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
TABLES = {"accounts", "observations", "runs", "run_accounts", "metric_notes", "meta"}
TABLES |= {"cost_values", "value_assumptions", "time_log", "roi_settings"}  # schema version 2 (ROI)
TABLES |= {"account_days", "kpi_daily"}  # schema version 3 (aggregates kept by the load)
TABLES |= {"account_runs"}  # schema version 4 (each account's latest run, kept by the load)
TABLES |= {"account_credentials"}  # schema version 5 (where each account's credential came from)
TABLES |= {"alerts_sent"}  # schema version 6 (each alert sent, once per condition, day and destination)
TABLES |= {"network_daily"}  # schema version 7 (visits per network, kept by the load)
TABLES |= {"kpi_running"}  # schema version 8 (running totals per account and day, kept by the load)
ACCOUNT = Account("facebook", "1045", "Corner Bakery")


def obs(
    day: int = 1,
    value: float = 1.0,
    *,
    metric: str = "reach",
    platform: str = "facebook",
    account: str = "1045",
    at: datetime = T1,
    source: str = "page_impressions_unique",
) -> Observation:
    return Observation(platform, account, metric, date(2026, 3, day), value, source, at)


def all_rows(con: duckdb.DuckDBPyConnection, table: str = "observations") -> list[tuple[Any, ...]]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "socialkpi.duckdb"


@pytest.fixture
def con(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with writing(db) as c:
        yield c


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------


def test_ensure_schema_is_idempotent_and_records_the_version(db: Path) -> None:
    with writing(db) as c:  # creates the folder, the file and the schema
        assert ensure_schema(c) == SCHEMA_VERSION  # and again: a no-op
        assert ensure_schema(c) == SCHEMA_VERSION
        assert tables(c) == TABLES
        assert all_rows(c, "meta") == [("schema_version", str(SCHEMA_VERSION))]
        upsert_observations(c, [obs()], "run-1")
    with writing(db) as c:  # reopening keeps data and version
        assert current_version(c) == SCHEMA_VERSION
        assert len(all_rows(c)) == 1
    with reading(db) as c:
        assert check_readable(c) == SCHEMA_VERSION


def test_a_new_empty_file_is_version_0(tmp_path: Path) -> None:
    c = duckdb.connect(str(tmp_path / "empty.duckdb"))
    try:
        assert current_version(c) == 0
    finally:
        c.close()


def test_a_newer_schema_is_refused_and_left_untouched(db: Path) -> None:
    with writing(db) as c:
        upsert_observations(c, [obs()], "run-1")
        c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
        c.execute("CHECKPOINT")
    before = digest(db)
    with pytest.raises(WarehouseError, match="newer than this socialkpi"), writing(db):
        pass
    with pytest.raises(WarehouseError, match="upgrade socialkpi"), reading(db) as c:
        check_readable(c)
    assert digest(db) == before
    with reading(db) as c:
        assert all_rows(c, "meta") == [("schema_version", str(SCHEMA_VERSION + 1))]
        assert len(all_rows(c)) == 1 and tables(c) == TABLES


@pytest.mark.parametrize(
    "ddl",
    [
        pytest.param(
            "CREATE TABLE customers (id INTEGER, name VARCHAR); INSERT INTO customers VALUES (1, 'x')", id="table"
        ),
        pytest.param("CREATE VIEW v AS SELECT 42 AS answer", id="view"),
        pytest.param(
            "CREATE TABLE meta (key VARCHAR, value VARCHAR); INSERT INTO meta VALUES ('owner', 'me')",
            id="meta-no-version",
        ),
        pytest.param("CREATE TABLE meta (name VARCHAR)", id="meta-other-shape"),
        pytest.param(
            "CREATE TABLE meta (key VARCHAR, value VARCHAR); INSERT INTO meta VALUES ('schema_version', 'v2')",
            id="meta-bad-version",
        ),
    ],
)
def test_a_foreign_duckdb_file_is_refused_and_left_untouched(db: Path, ddl: str) -> None:
    db.parent.mkdir(parents=True)
    foreign = duckdb.connect(str(db))
    foreign.execute(ddl)
    before = tables(foreign)
    foreign.close()
    with pytest.raises(WarehouseError, match="not a socialkpi warehouse"), writing(db):
        pass
    with pytest.raises(WarehouseError, match="not a socialkpi warehouse"), reading(db) as c:
        check_readable(c)
    check = duckdb.connect(str(db), read_only=True)
    try:
        assert tables(check) == before
    finally:
        check.close()


@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("folder", ["data", "locks"])  # a path naming "lock" is not a lock error
def test_a_non_duckdb_file_is_refused_with_a_clear_message(tmp_path: Path, read_only: bool, folder: str) -> None:
    path = tmp_path / folder / "socialkpi.duckdb"
    path.parent.mkdir()
    junk = os.urandom(8192)
    path.write_bytes(junk)
    with pytest.raises(WarehouseError) as info:
        connect(path, read_only=read_only, timeout=5.0)
    assert type(info.value) is WarehouseError  # treated as a lock, it would end in WarehouseBusy after 5 s
    assert str(info.value) == (
        f"{path} is not a socialkpi warehouse (not a DuckDB file): move it away or set SOCIALKPI_DB"
    )
    assert path.read_bytes() == junk


def test_a_stale_wal_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "socialkpi.duckdb"
    # both files made with the project's settings, as socialkpi makes its warehouses (DuckDB 1.5.5's
    # default storage version has no database identifier to tell a stale log by)
    crash = (
        "import duckdb, os, sys; from warehouse.db import DUCKDB_CONFIG; "
        "c = duckdb.connect(sys.argv[1], config=dict(DUCKDB_CONFIG)); c.execute('CREATE TABLE t (x INT)'); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", crash, str(path)], check=True, timeout=60)
    assert Path(f"{path}.wal").exists()
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other), config=dict(DUCKDB_CONFIG)).close()
    os.replace(other, path)  # the pitfall: a renamed-in file beside a stale .wal
    with pytest.raises(WarehouseError, match=r"write-ahead log .*\.wal does not belong to it"):
        connect(path, read_only=False, timeout=1.0)


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("under-a-file", id="parent-is-a-file"),
        pytest.param("is-a-folder", id="path-is-a-folder"),
        pytest.param(
            "sysfs",
            id="permission-denied",
            marks=pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs"),
        ),
    ],
)
def test_an_unusable_path_is_a_warehouse_error(tmp_path: Path, where: str) -> None:
    if where == "under-a-file":
        (tmp_path / "plain").write_text("x")
        path = tmp_path / "plain" / "socialkpi.duckdb"
        expected = "cannot create the warehouse folder"
    elif where == "is-a-folder":
        path = tmp_path / "socialkpi.duckdb"
        path.mkdir()
        expected = "cannot open the warehouse"
    else:
        path = Path("/sys/kernel/socialkpi.duckdb")  # unwritable even for root
        expected = "cannot write the warehouse"
    with pytest.raises(WarehouseError, match=expected) as info:
        connect(path, read_only=False, timeout=1.0)
    assert type(info.value) is WarehouseError


def test_reading_a_missing_file_does_not_create_it(db: Path) -> None:
    with pytest.raises(FileNotFoundError):
        connect(db, read_only=True)
    assert not db.exists() and not db.parent.exists()


# ---------------------------------------------------------------------------------------------
# Upserts
# ---------------------------------------------------------------------------------------------

ROWS = [obs(day, float(day * 10)) for day in range(1, 6)] + [obs(day, 7.0, metric="followers") for day in (1, 2)]


def recollected(row: Observation, at: datetime = T2) -> Observation:
    return dataclasses.replace(row, collected_at=at)


@pytest.mark.parametrize("later", [False, True], ids=["same-rows", "recollected-later"])
def test_loading_twice_changes_nothing(con: duckdb.DuckDBPyConnection, later: bool) -> None:
    assert upsert_observations(con, ROWS, "run-1") == len(ROWS)
    first = all_rows(con)
    second = [recollected(r) for r in ROWS] if later else ROWS
    assert upsert_observations(con, second, "run-2") == 0
    assert all_rows(con) == first
    assert len(first) == len(ROWS)
    assert {r[6] for r in first} == {T1.replace(tzinfo=None)}  # collected_at of the first load
    assert {r[7] for r in first} == {"run-1"}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"value": 999.0}, id="value"),
        pytest.param({"source_metric": "page_impressions"}, id="source-metric"),
    ],
)
def test_a_changed_row_is_updated_and_only_that_one(con: duckdb.DuckDBPyConnection, change: dict[str, Any]) -> None:
    upsert_observations(con, ROWS, "run-1")
    before = all_rows(con)
    changed = dataclasses.replace(ROWS[2], collected_at=T2, **change)
    again = [recollected(r) for r in ROWS]
    again[2] = changed
    assert upsert_observations(con, again, "run-2") == 1
    after = all_rows(con)
    assert len(after) == len(before)
    row = con.execute(
        "SELECT value, source_metric, collected_at, run_id FROM observations WHERE metric = ? AND observed_on = ?",
        [changed.metric, changed.observed_on],
    ).fetchone()
    assert row == (changed.value, changed.source_metric, T2.replace(tzinfo=None), "run-2")
    assert sorted(set(before) - set(after)) == [r for r in before if r[3] == changed.observed_on and r[2] == "reach"]


def test_a_new_key_is_inserted_next_to_old_ones(con: duckdb.DuckDBPyConnection) -> None:
    upsert_observations(con, ROWS, "run-1")
    assert upsert_observations(con, [*ROWS, obs(9, 90.0)], "run-2") == 1
    assert len(all_rows(con)) == len(ROWS) + 1


def test_duplicate_keys_in_one_batch_last_wins(con: duckdb.DuckDBPyConnection) -> None:
    batch = [obs(1, 1.0), obs(2, 5.0), obs(1, 2.0, at=T2), obs(1, 3.0, source="other")]
    assert upsert_observations(con, batch, "run-1") == 2
    rows = con.execute("SELECT observed_on, value, source_metric FROM observations ORDER BY ALL").fetchall()
    assert rows == [(date(2026, 3, 1), 3.0, "other"), (date(2026, 3, 2), 5.0, "page_impressions_unique")]


def test_an_empty_batch_writes_nothing(con: duckdb.DuckDBPyConnection) -> None:
    assert upsert_observations(con, [], "run-1") == 0
    assert all_rows(con) == []


def test_collected_at_is_stored_as_utc(con: duckdb.DuckDBPyConnection) -> None:
    paris = datetime(2026, 3, 1, 7, 0, tzinfo=ZoneInfo("Europe/Paris"))
    upsert_observations(con, [obs(at=paris)], "run-1")
    assert all_rows(con)[0][6] == datetime(2026, 3, 1, 6, 0)


def test_newest_days(con: duckdb.DuckDBPyConnection) -> None:
    assert newest_days(con) == {}
    upsert_observations(
        con,
        [*ROWS, obs(3, 1.0, account="2090"), obs(8, 1.0, platform="ga4", account="3123", metric="sessions")],
        "run-1",
    )
    assert newest_days(con) == {
        ("facebook", "1045"): date(2026, 3, 5),
        ("facebook", "2090"): date(2026, 3, 3),
        ("ga4", "3123"): date(2026, 3, 8),
    }


# ---------------------------------------------------------------------------------------------
# Account batches
# ---------------------------------------------------------------------------------------------


def outcome(run_id: str = "run-1", **overrides: Any) -> AccountOutcome:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "account": ACCOUNT,
        "status": "ok",
        "started_at": T1,
        "finished_at": T1 + timedelta(seconds=3),
        "since": date(2026, 3, 1),
        "until": date(2026, 3, 5),
        "requests": 4,
    }
    fields.update(overrides)
    return AccountOutcome(**fields)


def test_write_account_batch_writes_rows_notes_account_and_run_record(con: duckdb.DuckDBPyConnection) -> None:
    skipped = [("page_fans", "retired by the platform")]
    assert write_account_batch(con, outcome(), ROWS, skipped) == len(ROWS)
    assert len(all_rows(con)) == len(ROWS)
    assert con.execute("SELECT source_metric, note, run_id FROM metric_notes").fetchall() == [
        ("page_fans", "retired by the platform", "run-1")
    ]
    assert con.execute("SELECT name, competitor FROM accounts").fetchall() == [("Corner Bakery", False)]
    assert con.execute("SELECT status, rows_written, requests, since, until FROM run_accounts").fetchall() == [
        ("ok", len(ROWS), 4, date(2026, 3, 1), date(2026, 3, 5))
    ]
    # the next run refetches the same window: nothing changes but the run record says 0 written
    later = outcome("run-2", started_at=T2, finished_at=T2)
    assert write_account_batch(con, later, [recollected(r) for r in ROWS], skipped) == 0
    assert con.execute("SELECT run_id, rows_written FROM run_accounts ORDER BY run_id").fetchall() == [
        ("run-1", len(ROWS)),
        ("run-2", 0),
    ]
    assert con.execute("SELECT first_seen_at, last_seen_at FROM accounts").fetchone() == (
        (T1 + timedelta(seconds=3)).replace(tzinfo=None),
        T2.replace(tzinfo=None),
    )


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        pytest.param({"outcome": {"status": None}}, duckdb.ConstraintException, id="run-record-not-null"),
        pytest.param({"skipped": [("page_fans", None)]}, duckdb.ConstraintException, id="note-not-null"),
        pytest.param({"rows": [obs(4, "n/a")]}, ValueError, id="unconvertible-value"),  # type: ignore[arg-type]
    ],
)
def test_write_account_batch_is_all_or_nothing(
    con: duckdb.DuckDBPyConnection, bad: dict[str, Any], expected: type[Exception]
) -> None:
    write_account_batch(con, outcome(), ROWS[:2])  # an earlier, good run
    before = {t: all_rows(con, t) for t in ("observations", "accounts", "metric_notes", "run_accounts")}
    rows = [dataclasses.replace(r, value=r.value + 1, collected_at=T2) for r in ROWS] + bad.get("rows", [])
    skipped = bad.get("skipped", [("page_fans", "retired")])
    failing = outcome("run-2", finished_at=T2, **bad.get("outcome", {}))
    with pytest.raises(expected):
        write_account_batch(con, failing, rows, skipped)
    after = {t: all_rows(con, t) for t in before}
    assert after == before
    # the connection is usable afterwards: the transaction was rolled back, not left open
    assert write_account_batch(con, outcome("run-3", finished_at=T2), rows[:3]) == 3


class ClosesTheConnection:
    """A value whose conversion closes the connection mid-transaction, then fails."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __float__(self) -> float:
        self.con.close()
        raise RuntimeError("the process lost its connection")


def test_a_connection_lost_mid_batch_keeps_nothing_and_reports_the_real_error(db: Path) -> None:
    c = connect(db, read_only=False)
    ensure_schema(c)
    rows = [*ROWS, obs(9, ClosesTheConnection(c))]  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="lost its connection"):  # not "connection already closed"
        write_account_batch(c, outcome(), rows, [("page_fans", "retired")])
    with reading(db) as r:
        for table in ("observations", "accounts", "metric_notes", "run_accounts"):
            assert all_rows(r, table) == []


# ---------------------------------------------------------------------------------------------
# Several accounts in one transaction (what collect's writer does): the same as one by one
# ---------------------------------------------------------------------------------------------

GROUP_TABLES = ("observations", "accounts", "metric_notes", "run_accounts", "account_runs", "account_days", "kpi_daily")
GROUP_ACCOUNTS = [Account("facebook", "1", "One"), Account("facebook", "2", "Two", competitor=True),
                  Account("ga4", "1", "Web")]  # fmt: skip


def state(c: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    return {t: all_rows(c, t) for t in GROUP_TABLES}


@st.composite
def account_batches(draw: st.DrawFn) -> AccountBatch:
    account = draw(st.sampled_from(GROUP_ACCOUNTS))
    status = draw(st.sampled_from(["ok", "ok", "failed"]))
    start = draw(st.sampled_from([T1, T2, T1 + timedelta(hours=1)]))
    outcome = AccountOutcome(
        draw(st.sampled_from(["run-1", "run-2"])),
        account,
        status,
        start,
        start + timedelta(seconds=draw(st.integers(0, 90))),
        since=date(2026, 3, 1),
        until=date(2026, 3, 6),
        error_kind=None if status == "ok" else "server",
        reason=None if status == "ok" else f"{account.platform}/{account.id}: HTTP 503",
        requests=draw(st.integers(0, 5)),
    )
    rows: list[Observation] = []
    if status == "ok":
        mine = st.builds(
            Observation,
            platform=st.just(account.platform),
            account_id=st.just(account.id),
            metric=st.sampled_from(AGG_METRICS),
            observed_on=st.dates(date(2026, 3, 1), date(2026, 3, 6)),
            value=st.integers(0, 3).map(float),
            source_metric=st.sampled_from(["a", "b"]),
            collected_at=st.just(start),
        )
        # now and then a row of another account: a collector's slip the group must survive unchanged
        rows = draw(st.lists(mine | agg_rows if draw(st.integers(0, 9)) == 0 else mine, max_size=12))
    skipped = draw(st.lists(st.tuples(st.sampled_from(["page_fans", "reach_v1"]), st.sampled_from(["x", "y"])),
                            max_size=2))  # fmt: skip
    return AccountBatch(outcome, rows, skipped)


@settings(max_examples=80, deadline=None, database=None)
@given(groups=st.lists(st.lists(account_batches(), min_size=1, max_size=6), min_size=1, max_size=3))
def test_a_group_written_together_equals_its_accounts_written_one_by_one(groups: list[list[AccountBatch]]) -> None:
    one, together = duckdb.connect(":memory:"), duckdb.connect(":memory:")
    try:
        ensure_schema(one)
        ensure_schema(together)
        for group in groups:
            expected = [write_account_batch(one, b.outcome, b.rows, b.skipped) for b in group]
            assert write_account_batches(together, group) == expected
            assert state(together) == state(one)
        assert_aggregates_match(together)
    finally:
        one.close()
        together.close()


def test_a_group_of_accounts_is_written_in_one_transaction(con: duckdb.DuckDBPyConnection) -> None:
    group = [
        AccountBatch(outcome(account=a, finished_at=T2), [obs(d, float(d), platform=a.platform, account=a.id)
                                                          for d in (1, 2, 3)], [("page_fans", "retired")])
        for a in GROUP_ACCOUNTS
    ]  # fmt: skip
    seen: list[str] = []

    class Spy:  # the connection, recording each statement's first word
        def __getattr__(self, name: str) -> Any:
            return getattr(con, name)

        def execute(self, sql: str, *args: Any) -> duckdb.DuckDBPyConnection:
            seen.append(sql.split()[0])
            return con.execute(sql, *args)

    assert write_account_batches(Spy(), group) == [3, 3, 3]  # type: ignore[arg-type]
    assert seen.count("BEGIN") == 1 and seen.count("COMMIT") == 1
    assert con.execute("SELECT platform, account_id, rows_written FROM run_accounts ORDER BY ALL").fetchall() == [
        ("facebook", "1", 3), ("facebook", "2", 3), ("ga4", "1", 3)
    ]  # fmt: skip
    assert con.execute("SELECT count(*) FROM metric_notes").fetchone() == (3,)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"outcome": {"status": None}}, id="run-record-not-null"),
        pytest.param({"skipped": [("page_fans", None)]}, id="note-not-null"),
        pytest.param({"rows": [obs(4, "n/a")]}, id="unconvertible-value"),  # type: ignore[arg-type]
    ],
)
def test_a_group_with_one_bad_account_keeps_nothing_of_any(con: duckdb.DuckDBPyConnection, bad: dict[str, Any]) -> None:
    write_account_batch(con, outcome(), ROWS[:2])  # an earlier, good run
    before = state(con)
    good = AccountBatch(outcome("run-2", account=GROUP_ACCOUNTS[0], finished_at=T2), [obs(1, 9.0, account="1")])
    rows = [dataclasses.replace(r, value=r.value + 1, collected_at=T2) for r in ROWS] + bad.get("rows", [])
    failing = AccountBatch(
        outcome("run-2", finished_at=T2, **bad.get("outcome", {})), rows, bad.get("skipped", [("page_fans", "x")])
    )
    with pytest.raises((duckdb.Error, ValueError)):
        write_account_batches(con, [good, failing])
    assert state(con) == before
    assert write_account_batches(con, [good]) == [1]  # rolled back, not left open


# ---------------------------------------------------------------------------------------------
# Another process holding the file
# ---------------------------------------------------------------------------------------------

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("CREATE TABLE released_by_holder AS SELECT 1 AS x")  # the last thing done before letting go
con.close()
"""


def hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def seeded(db: Path) -> Path:
    with writing(db) as c:
        upsert_observations(c, ROWS, "run-1")
    return db


@pytest.mark.parametrize("read_only", [True, False], ids=["reader", "writer"])
def test_connect_waits_while_another_process_writes(seeded: Path, read_only: bool) -> None:
    proc = hold(seeded, 0.5)
    try:
        c = connect(seeded, read_only=read_only, timeout=20.0)
        try:
            assert c.execute("SELECT count(*) FROM observations").fetchone() == (len(ROWS),)
            # the holder's last write is there: this connection opened only once the holder let go
            assert c.execute("SELECT x FROM released_by_holder").fetchall() == [(1,)]
        finally:
            c.close()
    finally:
        proc.wait(timeout=20)
    assert proc.returncode == 0


@pytest.mark.parametrize("read_only", [True, False], ids=["reader", "writer"])
def test_connect_gives_up_with_warehouse_busy(seeded: Path, read_only: bool) -> None:
    proc = hold(seeded, 30)
    try:
        with pytest.raises(WarehouseBusy, match="stayed locked by another process"):
            connect(seeded, read_only=read_only, timeout=0.3)
    finally:
        proc.kill()
        proc.wait(timeout=20)


# ---------------------------------------------------------------------------------------------
# Property: loading twice is loading once
# ---------------------------------------------------------------------------------------------

ZONES = [UTC, ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), timezone(timedelta(hours=5, minutes=30))]

observations = st.builds(
    Observation,
    platform=st.sampled_from(["facebook", "ga4", "x"]),
    account_id=st.sampled_from(["1", "2", "ünï", ""]) | st.text(max_size=8),
    metric=st.sampled_from(["reach", "followers", "page_views"]),
    observed_on=st.dates(min_value=date(2020, 1, 1), max_value=date(2020, 1, 10)) | st.dates(),
    value=st.floats(allow_nan=False) | st.integers(-(2**53), 2**53).map(float),
    source_metric=st.text(max_size=12),
    collected_at=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.sampled_from(ZONES)
    ),
)


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(observations, max_size=25))
def test_loading_twice_equals_loading_once(rows: list[Observation]) -> None:
    c = duckdb.connect(":memory:")
    try:
        ensure_schema(c)
        upsert_observations(c, rows, "run-1")
        once = all_rows(c)
        assert upsert_observations(c, rows, "run-2") == 0
        assert all_rows(c) == once
    finally:
        c.close()
    assert len(once) == len({r.key() for r in rows})


# ---------------------------------------------------------------------------------------------
# Aggregates kept by the load (schema version 3): always equal to the raw table's answer
# ---------------------------------------------------------------------------------------------

# KPI metrics (posts since schema 6), one that is not, and visits per network (network_daily)
AGG_METRICS = ("followers", "reach", "impressions", "posts", "video_views", "visits_from_facebook", "visits_from_x")

agg_rows = st.builds(
    Observation,
    platform=st.sampled_from(["facebook", "ga4"]),
    account_id=st.sampled_from(["1", "2"]),
    metric=st.sampled_from(AGG_METRICS),
    observed_on=st.dates(date(2026, 3, 1), date(2026, 3, 6)),
    value=st.integers(0, 3).map(float),
    source_metric=st.sampled_from(["a", "b"]),
    collected_at=st.sampled_from([T1, T2]),
)


def reference_account_days(c: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return c.execute(
        "SELECT platform, account_id, min(observed_on), max(observed_on) FROM observations GROUP BY ALL ORDER BY ALL"
    ).fetchall()


def reference_kpi_daily(c: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The KPI observations pivoted by hand: one row per account and day with a KPI metric."""
    from warehouse.aggregates import KPI_METRICS

    cells = ", ".join(f"max(value) FILTER (WHERE metric = '{m}')" for m in KPI_METRICS)
    return c.execute(
        f"SELECT platform, account_id, observed_on, {cells} FROM observations "
        "WHERE list_contains(?, metric) GROUP BY ALL ORDER BY ALL",
        [list(KPI_METRICS)],
    ).fetchall()


def reference_network_daily(c: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The visits_from_<network> observations by hand, keyed by network."""
    return c.execute(
        "SELECT platform, account_id, observed_on, substr(metric, 13), value FROM observations "
        "WHERE metric LIKE 'visits\\_from\\_%' ESCAPE '\\' ORDER BY ALL"
    ).fetchall()


def reference_kpi_running(c: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """kpi_running computed in Python from the observations: for every account and every day from its
    first to its newest day, stored or not, days stored so far, followers' count, last value and its
    day, then each summed metric's running sum and count (the table's column order)."""
    from warehouse.aggregates import RUNNING_SUMS

    values: dict[tuple[str, str], dict[date, dict[str, float]]] = {}
    for platform, account_id, metric, day, value in c.execute(
        "SELECT platform, account_id, metric, observed_on, value FROM observations"
    ).fetchall():
        values.setdefault((platform, account_id), {}).setdefault(day, {})[metric] = value
    rows = []
    for (platform, account_id), days in sorted(values.items()):
        stored = followers_n = 0
        last: tuple[float | None, date | None] = (None, None)
        sums = {m: [0.0, 0] for m in RUNNING_SUMS}
        day = min(days)
        while day <= max(days):
            cells = days.get(day)
            stored += cells is not None
            cells = cells or {}
            if "followers" in cells:
                followers_n += 1
                last = (cells["followers"], day)
            for m in RUNNING_SUMS:
                if m in cells:
                    sums[m][0] += cells[m]
                    sums[m][1] += 1
            running = [x for m in RUNNING_SUMS for x in sums[m]]
            rows.append((platform, account_id, day, day in days, stored, followers_n, *last, *running))
            day += timedelta(days=1)
    return rows


def assert_aggregates_match(c: duckdb.DuckDBPyConnection) -> None:
    assert all_rows(c, "account_days") == reference_account_days(c)
    assert all_rows(c, "kpi_daily") == reference_kpi_daily(c)
    assert all_rows(c, "network_daily") == reference_network_daily(c)
    assert all_rows(c, "kpi_running") == reference_kpi_running(c)


@settings(max_examples=60, deadline=None, database=None)
@given(
    batches=st.lists(st.lists(agg_rows, max_size=20), min_size=1, max_size=5),
    per_account=st.booleans(),
    sql_check=st.booleans(),
)
def test_aggregates_equal_the_raw_answer_after_loads_reloads_and_changed_values(
    batches: list[list[Observation]], per_account: bool, sql_check: bool
) -> None:
    import warehouse.load as load

    saved = load._SQL_CHECK_ROWS
    load._SQL_CHECK_ROWS = 0 if sql_check else saved  # the large-batch path (duplicates found by DuckDB)
    c = duckdb.connect(":memory:")
    try:
        ensure_schema(c)
        for n, batch in enumerate([*batches, *batches]):  # every batch again: a re-run
            if per_account:
                for acc in sorted({r.account_id for r in batch}):
                    mine = [r for r in batch if r.account_id == acc]
                    account = Account(mine[0].platform, acc, acc)
                    write_account_batch(c, AccountOutcome(f"run-{n}", account, "ok", T1, T2), mine)
            else:
                upsert_observations(c, batch, f"run-{n}")
            assert_aggregates_match(c)
        # the last row for a key wins, as in the observations table
        last = {r.key(): r.value for batch in batches for r in batch}
        stored = {(p, a, m, d): v for p, a, m, d, v in c.execute(
            "SELECT platform, account_id, metric, observed_on, value FROM observations").fetchall()}  # fmt: skip
        assert stored == last
    finally:
        load._SQL_CHECK_ROWS = saved
        c.close()


def test_a_big_batch_with_duplicates_keeps_the_last_row_like_a_small_one(con: duckdb.DuckDBPyConnection) -> None:
    rows = [obs(d % 28 + 1, float(d), metric=f"m{d // 28}") for d in range(25_000)]
    rows += [obs(3, 7.0, metric="m0"), obs(3, 8.0, metric="m0")]  # duplicates past the Python check
    assert upsert_observations(con, rows, "run-1") == 25_000
    assert con.execute(
        "SELECT value FROM observations WHERE metric = 'm0' AND observed_on = '2026-03-03'"
    ).fetchall() == [(8.0,)]
    assert_aggregates_match(con)


def test_a_failed_batch_leaves_the_aggregates_as_they_were(db: Path) -> None:
    c = connect(db, read_only=False)
    ensure_schema(c)
    write_account_batch(c, outcome(), [obs(1, 5.0, metric="followers")])
    before = all_rows(c, "account_days"), all_rows(c, "kpi_daily")
    rows = [obs(9, 90.0, metric="followers"), obs(10, ClosesTheConnection(c), metric="followers")]  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="lost its connection"):
        write_account_batch(c, outcome("run-2"), rows)
    with reading(db) as r:
        assert (all_rows(r, "account_days"), all_rows(r, "kpi_daily")) == before


def test_migration_3_fills_the_aggregates_from_a_version_2_file(tmp_path: Path) -> None:
    from warehouse.schema import MIGRATIONS

    c = duckdb.connect(str(tmp_path / "v2.duckdb"))
    try:
        for _, ddl in MIGRATIONS[:2]:
            c.execute(ddl)
        c.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        c.execute("INSERT INTO meta VALUES ('schema_version', '2')")
        c.execute(
            "INSERT INTO observations VALUES ('facebook', '1', 'followers', DATE '2026-03-02', 10, 's', "
            "TIMESTAMP '2026-03-03 06:00:00', 'r'), ('facebook', '1', 'posts', DATE '2026-03-05', 3, 's', "
            "TIMESTAMP '2026-03-06 06:00:00', 'r')"
        )
        assert ensure_schema(c) == SCHEMA_VERSION
        assert all_rows(c, "account_days") == [("facebook", "1", date(2026, 3, 2), date(2026, 3, 5))]
        assert_aggregates_match(c)
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# account_runs (schema 4): each account's latest run, kept by write_account_batch
# ---------------------------------------------------------------------------------------------

N = datetime  # naive UTC, as stored


def runs_of(c: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return all_rows(c, "account_runs")


def test_account_runs_follow_each_accounts_latest_run(db: Path) -> None:
    """Hand-worked: A ran ok at 06:00, failed at 07:00, and an older run (05:00, ok) was written last;
    B only failed.  A's latest is the 07:00 failure, its last success the 06:00 run's end."""
    other = Account("instagram", "17841", "Corner Bakery")
    at = [datetime(2026, 3, 1, h, 0, tzinfo=UTC) for h in (5, 6, 7)]
    c = connect(db, read_only=False)
    ensure_schema(c)
    write_account_batch(c, outcome("r6", started_at=at[1], finished_at=at[1] + timedelta(minutes=1)), [obs(1)])
    write_account_batch(
        c,
        outcome(
            "r7",
            started_at=at[2],
            finished_at=at[2] + timedelta(minutes=1),
            status="failed",
            error_kind="auth",
            reason="facebook/1045: the token expired",
        ),
        [],
    )
    write_account_batch(c, outcome("r5", started_at=at[0], finished_at=at[0] + timedelta(minutes=1)), [obs(2)])
    write_account_batch(
        c,
        outcome("r6", account=other, started_at=at[1], finished_at=at[1], status="failed", error_kind="server",
                reason="instagram/17841: HTTP 503"),
        [],
    )  # fmt: skip
    assert runs_of(c) == [
        (
            "facebook",
            "1045",
            N(2026, 3, 1, 7),
            "failed",
            "auth",
            "facebook/1045: the token expired",
            N(2026, 3, 1, 6, 1),
        ),
        ("instagram", "17841", N(2026, 3, 1, 6), "failed", "server", "instagram/17841: HTTP 503", None),
    ]
    kept = runs_of(c)
    c.execute("BEGIN TRANSACTION")
    aggregates.rebuild(c)  # from run_accounts alone: the same answer
    assert runs_of(c) == kept
    c.execute("ROLLBACK")
    c.close()


def test_a_failed_batch_leaves_account_runs_as_they_were(db: Path) -> None:
    c = connect(db, read_only=False)
    ensure_schema(c)
    write_account_batch(c, outcome(), [obs(1)])
    before = runs_of(c)
    rows = [obs(9, 90.0), obs(10, ClosesTheConnection(c))]  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="lost its connection"):
        write_account_batch(c, outcome("run-2", started_at=T2, finished_at=T2, status="failed"), rows)
    with reading(db) as r:
        assert runs_of(r) == before


def test_migration_4_fills_account_runs_from_a_version_3_file(tmp_path: Path) -> None:
    from warehouse.schema import MIGRATIONS

    c = duckdb.connect(str(tmp_path / "v3.duckdb"))
    try:
        for _, ddl in MIGRATIONS[:3]:
            c.execute(ddl)
        c.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        c.execute("INSERT INTO meta VALUES ('schema_version', '3')")
        c.execute(
            """INSERT INTO run_accounts VALUES
               ('r1', 'x', 'shop', 'ok', NULL, NULL, 3, 2, NULL, NULL,
                TIMESTAMP '2026-03-01 06:00:00', TIMESTAMP '2026-03-01 06:00:05'),
               ('r2', 'x', 'shop', 'failed', 'throttled', 'x/shop: HTTP 429', 0, 1, NULL, NULL,
                TIMESTAMP '2026-03-02 06:00:00', TIMESTAMP '2026-03-02 06:00:02')"""
        )
        assert ensure_schema(c) >= 4
        assert runs_of(c) == [
            ("x", "shop", N(2026, 3, 2, 6), "failed", "throttled", "x/shop: HTTP 429", N(2026, 3, 1, 6, 0, 5))
        ]
    finally:
        c.close()


def test_migration_5_adds_account_credentials_to_a_version_4_file_and_keeps_its_rows(tmp_path: Path) -> None:
    from warehouse.schema import MIGRATIONS

    c = duckdb.connect(str(tmp_path / "v4.duckdb"))
    try:
        for _, ddl in MIGRATIONS[:4]:
            c.execute(ddl)
        c.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        c.execute("INSERT INTO meta VALUES ('schema_version', '4')")
        c.execute(
            "INSERT INTO observations VALUES ('x', 'shop', 'followers', DATE '2026-03-01', 5, 'f', "
            "TIMESTAMP '2026-03-01 06:00:00', 'r1')"
        )
        assert ensure_schema(c) == SCHEMA_VERSION >= 5
        assert "account_credentials" in tables(c)
        assert c.execute("SELECT count(*) FROM account_credentials").fetchone() == (0,)
        assert c.execute("SELECT value FROM observations").fetchall() == [(5.0,)]
    finally:
        c.close()


def test_migration_6_adds_alerts_sent_to_a_version_5_file_and_keeps_its_rows(tmp_path: Path) -> None:
    """A file the version before left (schema 5, with rows and credentials) comes to 6 in place, its rows
    untouched; the dedup table starts empty and takes a row per (condition, day, destination) only."""
    from warehouse.schema import MIGRATIONS

    path = tmp_path / "v5.duckdb"
    c = duckdb.connect(str(path))
    try:
        for _, ddl in MIGRATIONS[:5]:
            c.execute(ddl)
        c.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        c.execute("INSERT INTO meta VALUES ('schema_version', '5')")
        c.execute(
            "INSERT INTO observations VALUES ('x', 'shop', 'followers', DATE '2026-03-01', 5, 'f', "
            "TIMESTAMP '2026-03-01 06:00:00', 'r1')"
        )
        c.execute("INSERT INTO account_credentials VALUES ('x', 'shop', 'env', 'SOCIALKPI_X_TOKEN', NULL, now())")
    finally:
        c.close()
    with writing(path) as c:
        assert current_version(c) == SCHEMA_VERSION >= 6
        assert "alerts_sent" in tables(c)
        assert c.execute("SELECT value FROM observations").fetchall() == [(5.0,)]
        assert c.execute("SELECT variable FROM account_credentials").fetchall() == [("SOCIALKPI_X_TOKEN",)]
        row = ["failed_runs:x/shop", date(2026, 3, 2), "owner@example.com", "x", "shop", "m", T1.replace(tzinfo=None)]
        c.execute("INSERT INTO alerts_sent VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        with pytest.raises(duckdb.ConstraintException):
            c.execute("INSERT INTO alerts_sent VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    with reading(path) as c:  # and it survives the connection: a restart
        assert c.execute("SELECT count(*) FROM alerts_sent").fetchone() == (1,)


def test_migration_7_adds_posts_and_followers_gained_to_kpi_daily_from_the_observations(tmp_path: Path) -> None:
    """A version 6 file's kpi_daily has no posts / followers_gained columns: migration 7 adds them and
    fills them from the stored observations (a day with only those metrics gets its row), keeping the rest."""
    from warehouse.aggregates import LEVEL_METRICS
    from warehouse.schema import MIGRATIONS

    c = duckdb.connect(str(tmp_path / "v6.duckdb"))
    try:
        for _, ddl in MIGRATIONS[:6]:
            c.execute(ddl)
        for m in LEVEL_METRICS:  # as a file migrated by socialkpi up to version 6 has it
            c.execute(f"ALTER TABLE kpi_daily DROP COLUMN {m}")
        c.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        c.execute("INSERT INTO meta VALUES ('schema_version', '6')")
        rows = [("followers", "2026-03-01", 5), ("posts", "2026-03-01", 40), ("posts", "2026-03-02", 41),
                ("followers_gained", "2026-03-02", 2), ("impressions", "2026-03-03", 9),
                ("visits_from_facebook", "2026-03-03", 4)]  # fmt: skip
        for metric, day, value in rows:
            c.execute(
                "INSERT INTO observations VALUES ('x', 'shop', ?, ?, ?, 'f', TIMESTAMP '2026-03-04 06:00:00', 'r1')",
                [metric, day, value],
            )
        c.execute(
            "INSERT INTO kpi_daily (platform, account_id, observed_on, followers, impressions) VALUES "
            "('x', 'shop', DATE '2026-03-01', 5, NULL), ('x', 'shop', DATE '2026-03-03', NULL, 9)"
        )
        assert ensure_schema(c) == SCHEMA_VERSION >= 7
        assert all_rows(c, "kpi_daily") == reference_kpi_daily(c)
        assert all_rows(c, "network_daily") == reference_network_daily(c) != []
        assert c.execute(
            "SELECT observed_on, followers, posts, followers_gained FROM kpi_daily ORDER BY observed_on"
        ).fetchall() == [(date(2026, 3, 1), 5.0, 40.0, None), (date(2026, 3, 2), None, 41.0, 2.0),
                         (date(2026, 3, 3), None, None, None)]  # fmt: skip
    finally:
        c.close()


def test_migration_8_fills_kpi_running_from_the_observations(tmp_path: Path) -> None:
    """A version 7 file gets kpi_running, computed from what it stores: a row for every day from each
    account's first to its newest day, a gap and a day with only a non-KPI metric included; a load
    afterwards keeps it equal to the raw answer."""
    from warehouse.schema import MIGRATIONS

    c = duckdb.connect(str(tmp_path / "v7.duckdb"))
    try:
        for _, ddl in MIGRATIONS[:7]:
            c.execute(ddl)
        c.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        c.execute("INSERT INTO meta VALUES ('schema_version', '7')")
        rows = [("x", "shop", "followers", "2026-03-01", 5), ("x", "shop", "impressions", "2026-03-01", 40),
                ("x", "shop", "video_views", "2026-03-02", 3), ("x", "shop", "followers", "2026-03-05", 7),
                ("x", "shop", "reach", "2026-03-05", 11), ("ga4", "site", "visits", "2026-03-03", 9)]  # fmt: skip
        for row in rows:
            c.execute(
                "INSERT INTO observations VALUES (?, ?, ?, ?, ?, 'f', TIMESTAMP '2026-03-06 06:00:00', 'r1')", list(row)
            )
        c.execute("DELETE FROM kpi_daily; DELETE FROM account_days")
        from warehouse import aggregates

        for sql in (*aggregates.REBUILD_SQL, *aggregates.NETWORK_REBUILD_SQL):  # what version 7 kept
            c.execute(sql)
        assert ensure_schema(c) == SCHEMA_VERSION >= 8
        assert all_rows(c, "kpi_running") == reference_kpi_running(c)
        assert c.execute(
            "SELECT observed_on, stored, days_stored, followers_last, followers_on, impressions, reach_n "
            "FROM kpi_running WHERE account_id = 'shop' ORDER BY observed_on"
        ).fetchall() == [
            (date(2026, 3, 1), True, 1, 5.0, date(2026, 3, 1), 40.0, 0),
            (date(2026, 3, 2), True, 2, 5.0, date(2026, 3, 1), 40.0, 0),  # video_views only: stored
            (date(2026, 3, 3), False, 2, 5.0, date(2026, 3, 1), 40.0, 0),  # nothing stored
            (date(2026, 3, 4), False, 2, 5.0, date(2026, 3, 1), 40.0, 0),
            (date(2026, 3, 5), True, 3, 7.0, date(2026, 3, 5), 40.0, 1),
        ]
        later = [Observation("x", "shop", "impressions", date(2026, 3, 8), 2.0, "f", T2),
                 Observation("x", "shop", "impressions", date(2026, 2, 27), 1.0, "f", T2)]  # fmt: skip
        upsert_observations(c, later, "r2")  # a gap after the newest day, and a day before the first
        assert_aggregates_match(c)
    finally:
        c.close()


def test_a_failed_batch_leaves_kpi_running_as_it_was(db: Path) -> None:
    c = connect(db, read_only=False)
    ensure_schema(c)
    write_account_batch(c, outcome(), [obs(1, 5.0, metric="followers"), obs(3, 7.0, metric="impressions")])
    before = all_rows(c, "kpi_running")
    assert before == reference_kpi_running(c) != []
    rows = [obs(9, 90.0, metric="followers"), obs(10, ClosesTheConnection(c), metric="followers")]  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="lost its connection"):
        write_account_batch(c, outcome("run-2"), rows)
    with reading(db) as r:
        assert all_rows(r, "kpi_running") == before == reference_kpi_running(r)


@pytest.mark.parametrize(
    "odd",
    [obs(4, 2.5, metric="impressions"), obs(4, 2.0**40, metric="reach"), obs(4, float("inf"), metric="visits")]
    + [dataclasses.replace(obs(1, 1.0, metric="followers"), observed_on=date(9999, 12, 31))],
)
def test_kpi_running_turns_off_outside_its_exact_domain(tmp_path: Path, odd: Observation) -> None:
    """A KPI value that is not a small integer, or an account's days spread over more than
    RUNNING_MAX_DAYS, would make its running sums inexact or its rows countless: kpi_running is emptied
    and marked off, later loads leave it alone, the readers fall back to kpi_daily, and a rebuild keeps
    it off; a non-KPI metric's value changes nothing."""
    from warehouse import access, aggregates

    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        ensure_schema(c)
        upsert_observations(c, [obs(1, 5.0, metric="followers"), obs(2, 0.5, metric="video_views")], "run-1")
        assert all_rows(c, "kpi_running") == reference_kpi_running(c) != [] and access.has_running(c)
        upsert_observations(c, [odd], "run-2")
        assert all_rows(c, "kpi_running") == [] and not access.has_running(c)
        assert ("kpi_running", "off") in all_rows(c, "meta")
        upsert_observations(c, [obs(3, 6.0, metric="followers")], "run-3")
        assert all_rows(c, "kpi_running") == []
        c.execute("BEGIN TRANSACTION")
        aggregates.rebuild(c)
        assert all_rows(c, "kpi_running") == [] and not access.has_running(c)
        c.execute("ROLLBACK")
    finally:
        c.close()


def test_kpi_running_of_long_spans_equals_the_raw_answer(tmp_path: Path) -> None:
    """Spans of RUNNING_SHORT_DAYS days or more take the window, shorter ones the self-join: the same
    rows either way, for a first load over 150 days, a batch 100 days before it, and a few days after."""
    from warehouse.aggregates import RUNNING_SHORT_DAYS

    start = date(2026, 1, 1)

    def rows(days: range, account: str, bump: float = 0.0) -> list[Observation]:
        return [
            Observation("facebook", account, metric, start + timedelta(days=d), float(d % 7 + i) + bump, "s", T1)
            for d in days
            for i, metric in enumerate(("followers", "impressions", "reach", "video_views"))
            if (d + i) % 3
        ]

    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        ensure_schema(c)
        upsert_observations(c, rows(range(0, 150, 2), "long") + rows(range(0, 10), "short"), "run-1")
        assert RUNNING_SHORT_DAYS < 150
        assert_aggregates_match(c)
        upsert_observations(c, rows(range(-100, -90), "long", 1.0) + rows(range(5, 12), "short", 1.0), "run-2")
        assert_aggregates_match(c)
        upsert_observations(c, rows(range(160, 163), "long", 2.0), "run-3")  # a gap, then new days
        assert_aggregates_match(c)
        assert c.execute("SELECT count(*) FROM kpi_running WHERE account_id = 'long'").fetchone() == (263,)
    finally:
        c.close()
