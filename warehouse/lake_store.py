"""The warehouse kept in a DuckLake (``[warehouse] url``): its tables, and writes through a scratch copy.

One warehouse interface, two backends: every query and every write of the project is the same SQL
for the DuckDB file and for the lake.  What differs is below the connection:

**Tables.**  The lake's tables are made at :data:`~warehouse.schema.SCHEMA_VERSION` from the file's own
definitions (:func:`template`: the migrations run once on an in-memory DuckDB and its catalog read
back), without what DuckLake lacks (PRIMARY KEY, UNIQUE, CHECK).  DuckLake detects a write conflict
per *table* (an update is a delete plus an insert, and it conflicts with any concurrent insert or
delete in the same table, whichever rows: bench/lake_merge.py, /work/notes/s18-lake.md), so every table
keyed by an account (its primary key holds ``platform`` and ``account_id``) is :data:`BUCKETS` tables
``<table>_b<k>``, ``k`` = :func:`bucket_of` the account (the same stable hash as ``collect --shard``,
:func:`socialkpi.shards.shard_of`), under a view ``<table>`` = their ``UNION ALL``: reads stay as they
are, and shard K of N (N dividing :data:`BUCKETS`) never writes a table another shard writes.  The other
tables (runs, alerts_sent, costs, meta, ...) are single tables.

**Writes** (:class:`LakeWriter`, what :func:`warehouse.db.writing` yields for a lake): the unchanged
write code (``INSERT ... ON CONFLICT``, the aggregates' upkeep, its own transactions) runs on an
in-memory *scratch* database with the file's schema, constraints included, filled first with the rows
it may read: every table of the accounts named (the collect's account group) and the whole of the
other, small tables.  When the block ends, what changed in scratch (rows new or different, keys gone:
a diff against the copy taken after filling it) goes to the lake in ONE transaction: a ``MERGE`` on
the natural key per table (per bucket), and a ``DELETE`` of the keys gone.  A ``TransactionException``
(DuckLake's "Transaction conflict") retries that transaction from the rows in hand with a jittered
backoff (no re-collect); each account is still whole or absent.  Reads (:func:`warehouse.access.open_warehouse`)
take a cursor on the lake itself, at one snapshot, and never wait on a writer.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from warehouse.errors import WarehouseError
from warehouse.lake_config import Lake, account_hash

log = logging.getLogger(__name__)

BUCKETS = 12  # fixed when a lake is made: divisible by 1, 2, 3, 4, 6 and 12 shards
ACCOUNT_KEY = ("platform", "account_id")
RETRIES = 60  # whole-transaction tries on a DuckLake conflict (s18: at most 32 needed with 4 writers on one table)
LAKE_ALIAS = "lake"

BUCKET_SQL = f"((('0x' || left(sha256(platform || chr(0) || account_id), 16))::UBIGINT) % {BUCKETS})::INTEGER"


def bucket_of(platform: str, account_id: str) -> int:
    """The bucket (0 to :data:`BUCKETS` - 1) of an account: its :func:`~warehouse.lake_config.account_hash`
    modulo :data:`BUCKETS`, as ``collect --shard K/N`` is that hash modulo N, plus one
    (:func:`socialkpi.shards.shard_of`): shard K of N (N dividing :data:`BUCKETS`) holds exactly the
    buckets b with b % N == K - 1."""
    return account_hash(platform, account_id) % BUCKETS


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # the file's primary key (every column when it has none)
    create_sql: str  # the file's CREATE TABLE, constraints included (for scratch)

    @property
    def bucketed(self) -> bool:
        return set(ACCOUNT_KEY) <= set(self.key)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def lake_ddl(self, name: str) -> str:
        parts = []
        for c in self.columns:
            part = f"{_ident(c.name)} {c.type}"
            if c.default is not None:
                part += f" DEFAULT {c.default}"
            if c.not_null:
                part += " NOT NULL"
            parts.append(part)
        return f"CREATE TABLE IF NOT EXISTS {_ident(name)} ({', '.join(parts)})"


@dataclass(frozen=True)
class Template:
    version: int
    tables: tuple[Table, ...]
    meta: tuple[tuple[str, str], ...]


_template: Template | None = None
_template_lock = threading.Lock()


def template() -> Template:
    """The file warehouse's tables at SCHEMA_VERSION, read from an in-memory DuckDB the migrations ran on."""
    global _template
    with _template_lock:
        if _template is None:
            from warehouse.duckdb_config import DUCKDB_CONFIG
            from warehouse.schema import ensure_schema

            con = duckdb.connect(":memory:", config=dict(DUCKDB_CONFIG))
            try:
                version = ensure_schema(con)
                keys = {
                    t: tuple(cols)
                    for t, cols in con.execute(
                        "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                        "WHERE constraint_type = 'PRIMARY KEY' AND database_name = current_database()"
                    ).fetchall()
                }
                tables = []
                for name, sql in con.execute(
                    "SELECT table_name, sql FROM duckdb_tables() WHERE database_name = current_database() ORDER BY 1"
                ).fetchall():
                    columns = tuple(
                        Column(n, t, not nullable, d)
                        for n, t, nullable, d in con.execute(
                            "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
                            "WHERE database_name = current_database() AND table_name = ? ORDER BY column_index",
                            [name],
                        ).fetchall()
                    )
                    tables.append(Table(name, columns, keys.get(name) or tuple(c.name for c in columns), sql))
                meta = tuple(
                    (str(k), str(v)) for k, v in con.execute("SELECT key, value FROM meta ORDER BY 1").fetchall()
                )
            finally:
                con.close()
            _template = Template(version, tuple(tables), meta)
        return _template


def bucket_name(table: str, bucket: int) -> str:
    return f"{table}_b{bucket}"


# ---------------------------------------------------------------------------------------------
# Connections: one DuckDB instance per lake and process, a cursor per use
# ---------------------------------------------------------------------------------------------

_bases: dict[Lake, duckdb.DuckDBPyConnection] = {}
_bases_lock = threading.Lock()
_ready: set[Lake] = set()  # lakes whose schema this process has seen at SCHEMA_VERSION
_scratch_ids = itertools.count(1)


def _base(where: Lake) -> duckdb.DuckDBPyConnection:
    from warehouse import lake

    with _bases_lock:
        base = _bases.get(where)
        if base is None:
            base = _bases[where] = lake.connect(where.url, where.data_path, alias=LAKE_ALIAS)
        return base


def close_all() -> None:
    """Close this process's lake connections (tests; a process's exit does it too)."""
    with _bases_lock:
        for base in _bases.values():
            with contextlib.suppress(duckdb.Error):
                base.close()
        _bases.clear()
        _ready.clear()


def cursor(where: Lake) -> duckdb.DuckDBPyConnection:
    """A new cursor on the lake (its own transactions, ``USE lake``): close it after use."""
    from warehouse import lake

    dsn = lake.libpq_string(where.url)
    try:
        cur = _base(where).cursor()
        cur.execute(f"USE {LAKE_ALIAS}")
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the lake: {lake._redacted(str(exc), dsn)}") from None
    return cur


def lake_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version the lake's ``meta`` records: 0 for a lake without socialkpi's tables."""
    has_meta = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name = 'meta'"
    ).fetchall()[0][0]
    if not has_meta:
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0]) if row is not None else 0
    except (TypeError, ValueError):
        return 0


def ensure_lake_schema(where: Lake, con: duckdb.DuckDBPyConnection) -> int:
    """Make socialkpi's tables in an empty lake (at SCHEMA_VERSION, bucketed); refuse another version."""
    if where in _ready:
        return template().version
    tpl = template()
    for attempt in range(RETRIES):
        version = lake_version(con)
        if version == tpl.version:
            _ready.add(where)
            return version
        if version > tpl.version:
            raise WarehouseError(
                f"the lake is at schema version {version}, newer than this socialkpi understands "
                f"({tpl.version}): upgrade socialkpi"
            )
        if version != 0:
            raise WarehouseError(
                f"the lake is at schema version {version}; this socialkpi makes lakes at version {tpl.version} "
                "and cannot migrate one yet: collect into a new lake (a new Postgres database)"
            )
        try:
            con.execute("BEGIN TRANSACTION")
            for table in tpl.tables:
                if table.bucketed:
                    for b in range(BUCKETS):
                        con.execute(table.lake_ddl(bucket_name(table.name, b)))
                    union = " UNION ALL ".join(
                        f"SELECT * FROM {_ident(bucket_name(table.name, b))}" for b in range(BUCKETS)
                    )
                    con.execute(f"CREATE VIEW IF NOT EXISTS {_ident(table.name)} AS {union}")
                else:
                    con.execute(table.lake_ddl(table.name))
            con.executemany("INSERT INTO meta VALUES (?, ?)", [list(kv) for kv in tpl.meta])
            con.execute("COMMIT")
        except duckdb.TransactionException:  # another process made them at the same time: look again
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            _backoff(attempt)
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
    raise WarehouseError("the lake's tables could not be made: other writers kept conflicting")


def _backoff(attempt: int) -> None:
    delay = min(0.05 * 1.5**attempt, 2.0)
    time.sleep(delay / 2 + random.random() * delay)


# ---------------------------------------------------------------------------------------------
# Writes through scratch
# ---------------------------------------------------------------------------------------------


class LakeWriter:
    """A scratch database filled from the lake for ``accounts``; :meth:`publish` sends its changes back."""

    def __init__(self, where: Lake, accounts: Iterable[tuple[str, str]] | None) -> None:
        self.where = where
        self.accounts = sorted(set(accounts or ()))
        self.tpl = template()
        self.con = cursor(where)
        self.scratch = f"scratch_{next(_scratch_ids)}"
        try:
            ensure_lake_schema(where, self.con)
            self._fill()
        except BaseException:
            self.close()
            raise

    def _fill(self) -> None:
        con, s = self.con, self.scratch
        con.execute(f"ATTACH ':memory:' AS {s}")
        con.execute(f"USE {s}")
        for table in self.tpl.tables:
            con.execute(table.create_sql)
        con.execute("CREATE SCHEMA _before")
        if self.accounts:
            con.execute("CREATE TABLE scope (platform VARCHAR, account_id VARCHAR, b INTEGER)")
            con.executemany("INSERT INTO scope VALUES (?, ?, ?)", [[p, a, bucket_of(p, a)] for p, a in self.accounts])
        buckets = sorted({bucket_of(p, a) for p, a in self.accounts})
        con.execute("BEGIN TRANSACTION")  # one snapshot of the lake for the whole copy
        try:
            for table in self.tpl.tables:
                cols = ", ".join(f"t.{_ident(c)}" for c in table.names)
                target = f"{s}.main.{_ident(table.name)}"
                if table.bucketed:
                    for b in buckets:
                        source = f"{LAKE_ALIAS}.{_ident(bucket_name(table.name, b))}"
                        con.execute(
                            f"INSERT INTO {target} SELECT {cols} FROM {source} t "
                            f"SEMI JOIN (SELECT platform, account_id FROM {s}.main.scope WHERE b = {b}) s "
                            "USING (platform, account_id)"
                        )
                else:
                    if table.name == "meta":
                        con.execute(f"DELETE FROM {target}")
                    con.execute(f"INSERT INTO {target} SELECT {cols} FROM {LAKE_ALIAS}.{_ident(table.name)} t")
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        for table in self.tpl.tables:
            con.execute(f"CREATE TABLE _before.{_ident(table.name)} AS SELECT * FROM main.{_ident(table.name)}")

    def _changes(self) -> list[tuple[Table, int, int]]:
        """(table, rows new or changed, keys gone) for every table scratch changed; leaves them in
        ``_chg.<table>`` and ``_gone.<table>`` (with the bucket as ``_b`` for bucketed tables)."""
        con = self.con
        con.execute("USE " + self.scratch)
        con.execute("CREATE SCHEMA IF NOT EXISTS _chg")
        con.execute("CREATE SCHEMA IF NOT EXISTS _gone")
        out = []
        for table in self.tpl.tables:
            name = _ident(table.name)
            keys = ", ".join(_ident(k) for k in table.key)
            bucket = f", {BUCKET_SQL} AS _b" if table.bucketed else ""
            con.execute(
                f"CREATE OR REPLACE TABLE _chg.{name} AS SELECT *{bucket} FROM "
                f"(SELECT * FROM main.{name} EXCEPT SELECT * FROM _before.{name})"
            )
            con.execute(
                f"CREATE OR REPLACE TABLE _gone.{name} AS SELECT *{bucket} FROM "
                f"(SELECT {keys} FROM _before.{name} EXCEPT SELECT {keys} FROM main.{name})"
            )
            changed = con.execute(f"SELECT count(*) FROM _chg.{name}").fetchall()[0][0]
            gone = con.execute(f"SELECT count(*) FROM _gone.{name}").fetchall()[0][0]
            if changed or gone:
                out.append((table, int(changed), int(gone)))
        return out

    def _statements(self, changes: Sequence[tuple[Table, int, int]]) -> list[str]:
        s = self.scratch
        statements = []
        for table, changed, gone in changes:
            name = _ident(table.name)
            parts: list[tuple[str, str]] = []  # (target in the lake, filter on scratch's rows)
            if table.bucketed:
                buckets = sorted(
                    {
                        int(b)
                        for (b,) in self.con.execute(
                            f"SELECT DISTINCT _b FROM {s}._chg.{name} UNION SELECT DISTINCT _b FROM {s}._gone.{name}"
                        ).fetchall()
                    }
                )
                parts = [(bucket_name(table.name, b), f" WHERE _b = {b}") for b in buckets]
            else:
                parts = [(table.name, "")]
            on = " AND ".join(f"t.{_ident(k)} = n.{_ident(k)}" for k in table.key)
            others = [c for c in table.names if c not in table.key]
            cols = ", ".join(_ident(c) for c in table.names)
            values = ", ".join(f"n.{_ident(c)}" for c in table.names)
            update = ", ".join(f"{_ident(c)} = n.{_ident(c)}" for c in others)
            for target, where in parts:
                lake_table = f"{LAKE_ALIAS}.{_ident(target)}"
                if gone:
                    keys = ", ".join(_ident(k) for k in table.key)
                    statements.append(
                        f"DELETE FROM {lake_table} t WHERE EXISTS (SELECT 1 FROM "
                        f"(SELECT {keys} FROM {s}._gone.{name}{where}) n WHERE {on})"
                    )
                if changed:
                    matched = f"WHEN MATCHED THEN UPDATE SET {update} " if others else ""
                    statements.append(
                        f"MERGE INTO {lake_table} t USING (SELECT {cols} FROM {s}._chg.{name}{where}) n ON {on} "
                        f"{matched}WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})"
                    )
        return statements

    def publish(self) -> int:
        """Write scratch's changes to the lake in one transaction, retried on a conflict; the tries it took."""
        changes = self._changes()
        if not changes:
            return 0
        statements = self._statements(changes)
        con = self.con
        con.execute(f"USE {LAKE_ALIAS}")
        for attempt in range(RETRIES):
            try:
                con.execute("BEGIN TRANSACTION")
                for sql in statements:
                    con.execute(sql)
                con.execute("COMMIT")
                if attempt:
                    log.info("lake: committed after %d conflict(s)", attempt)
                return attempt + 1
            except duckdb.TransactionException as exc:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                log.debug("lake: conflict, retrying (%d): %s", attempt + 1, exc)
                _backoff(attempt)
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                raise
        raise WarehouseError(f"the lake stayed in conflict with other writers for {RETRIES} tries: nothing was written")

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.con.execute(f"USE {LAKE_ALIAS}")
            self.con.execute(f"DETACH {self.scratch}")
        with contextlib.suppress(duckdb.Error):
            self.con.close()


@contextmanager
def writing(where: Lake, accounts: Iterable[tuple[str, str]] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose default database is scratch (see the module docstring); published on a clean exit."""
    writer = LakeWriter(where, accounts)
    try:
        writer.con.execute(f"USE {writer.scratch}")
        yield writer.con
        writer.publish()
    finally:
        writer.close()


@contextmanager
def reading(where: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the lake (``USE lake``), closed on exit."""
    cur = cursor(where)
    try:
        yield cur
    finally:
        with contextlib.suppress(duckdb.Error):
            cur.close()
