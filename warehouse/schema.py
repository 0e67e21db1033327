"""The warehouse schema, its version, and forward migrations.

``meta.schema_version`` records the version a file is at.  :func:`ensure_schema` applies the
missing migrations in order, each in its own transaction; a file written by a newer socialkpi
(a higher version) is refused rather than guessed at.  A migration is only ever appended.

Tables (version 1)
    accounts       (platform, account_id) -> name, competitor, first/last seen
    observations   (platform, account_id, metric, observed_on) -> value, source_metric,
                   collected_at (UTC), run_id: the long table every collector feeds
    runs           one row per ``socialkpi collect``: start, end, status, counts, reads used
    run_accounts   (run_id, platform, account_id): status, reason (redacted), rows, range asked
    metric_notes   (platform, account_id, source_metric): a metric the platform refused (retired,
                   not available) and why, last seen in which run

Tables (version 2: costs and ROI, written by :mod:`warehouse.roi_inputs`, see docs/roi.md)
    cost_values        (item, platform, valid_from) -> value: hourly_rate, tool_cost_per_month
                       (platform ''), hours_per_week and ad_spend_per_month per platform; a value
                       holds from valid_from until the item's next valid_from
    value_assumptions  (item, valid_from) -> value: per_social_visit, per_new_follower,
                       per_1000_impressions
    time_log           one row per ``socialkpi log-time``: platform, day, hours, note
    roi_settings       key -> text: currency, and the [costs]/[value] of socialkpi.toml last applied

Tables (version 3: aggregates kept up to date by every load, see :mod:`warehouse.aggregates`)
    account_days       (platform, account_id) -> first_day, newest_day of its observations
    kpi_daily          (platform, account_id, observed_on) -> one DOUBLE column per KPI metric
                       (the KPI observations pivoted; NULL where no row); filled from the
                       existing observations when a file is migrated

Table (version 4: kept by every account batch, see :mod:`warehouse.aggregates`)
    account_runs       (platform, account_id) -> the latest run's start, status, error kind and
                       reason, and the end of the latest successful run; filled from
                       ``run_accounts`` when a file is migrated

Table (version 5: written by every collect, see :mod:`warehouse.credentials`)
    account_credentials  (platform, account_id) -> where the last collect took the account's
                       credential from (``connect``: the token store; ``env``: a variable of the
                       environment or ``.env``, named; ``none``: a public account), the token-store
                       entry it used, when: never a token

Table (version 6: written after each collect, see :mod:`warehouse.alerts`)
    alerts_sent    (condition, day, destination) -> platform, account, the message, when: each alert
                   sent, so that a condition is told once a day per destination (never the
                   destination's secret: an e-mail address, or a notification URL's fingerprint)

Version 7 (see :mod:`warehouse.aggregates`)
    kpi_daily          two more columns, ``posts`` and ``followers_gained``, filled from the
                       existing observations when a file is migrated: the Competitors and ROI
                       pages read them instead of ``observations``
    network_daily      (platform, account_id, observed_on, network) -> visits: the
                       ``visits_from_<network>`` observations, filled when a file is migrated

Table (version 8, see :mod:`warehouse.aggregates`)
    kpi_running        (platform, account_id, observed_on) -> for every day from the account's
                       first to its newest day: stored or not, and running totals of the KPI
                       metrics (sums, days with a value, the last followers value), so a window's
                       numbers per account are two lookups; filled when a file is migrated
"""

from __future__ import annotations

import contextlib

import duckdb

from warehouse import aggregates
from warehouse.errors import WarehouseError, is_damage

SCHEMA_VERSION = 8

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS accounts (
            platform      VARCHAR NOT NULL,
            account_id    VARCHAR NOT NULL,
            name          VARCHAR NOT NULL,
            competitor    BOOLEAN NOT NULL DEFAULT false,
            first_seen_at TIMESTAMP NOT NULL,
            last_seen_at  TIMESTAMP NOT NULL,
            PRIMARY KEY (platform, account_id)
        );
        CREATE TABLE IF NOT EXISTS observations (
            platform      VARCHAR NOT NULL,
            account_id    VARCHAR NOT NULL,
            metric        VARCHAR NOT NULL,
            observed_on   DATE NOT NULL,
            value         DOUBLE NOT NULL,
            source_metric VARCHAR NOT NULL,
            collected_at  TIMESTAMP NOT NULL,
            run_id        VARCHAR NOT NULL,
            PRIMARY KEY (platform, account_id, metric, observed_on)
        );
        CREATE TABLE IF NOT EXISTS runs (
            run_id          VARCHAR PRIMARY KEY,
            started_at      TIMESTAMP NOT NULL,
            finished_at     TIMESTAMP,
            status          VARCHAR NOT NULL,
            accounts_ok     INTEGER NOT NULL DEFAULT 0,
            accounts_failed INTEGER NOT NULL DEFAULT 0,
            rows_written    BIGINT NOT NULL DEFAULT 0,
            requests        BIGINT NOT NULL DEFAULT 0,
            command         VARCHAR NOT NULL DEFAULT ''
        );
        CREATE TABLE IF NOT EXISTS run_accounts (
            run_id      VARCHAR NOT NULL,
            platform    VARCHAR NOT NULL,
            account_id  VARCHAR NOT NULL,
            status      VARCHAR NOT NULL,
            error_kind  VARCHAR,
            reason      VARCHAR,
            rows_written BIGINT NOT NULL DEFAULT 0,
            requests    BIGINT NOT NULL DEFAULT 0,
            since       DATE,
            until       DATE,
            started_at  TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, platform, account_id)
        );
        CREATE TABLE IF NOT EXISTS metric_notes (
            platform      VARCHAR NOT NULL,
            account_id    VARCHAR NOT NULL,
            source_metric VARCHAR NOT NULL,
            note          VARCHAR NOT NULL,
            run_id        VARCHAR NOT NULL,
            noted_at      TIMESTAMP NOT NULL,
            PRIMARY KEY (platform, account_id, source_metric)
        );
        """,
    ),
    (
        2,
        """
        CREATE TABLE IF NOT EXISTS cost_values (
            item       VARCHAR NOT NULL,
            platform   VARCHAR NOT NULL DEFAULT '',
            valid_from DATE NOT NULL,
            value      DOUBLE NOT NULL CHECK (value >= 0),
            source     VARCHAR NOT NULL,
            set_at     TIMESTAMP NOT NULL,
            PRIMARY KEY (item, platform, valid_from)
        );
        CREATE TABLE IF NOT EXISTS value_assumptions (
            item       VARCHAR NOT NULL,
            valid_from DATE NOT NULL,
            value      DOUBLE NOT NULL CHECK (value >= 0),
            source     VARCHAR NOT NULL,
            set_at     TIMESTAMP NOT NULL,
            PRIMARY KEY (item, valid_from)
        );
        CREATE TABLE IF NOT EXISTS time_log (
            entry_id  VARCHAR PRIMARY KEY,
            platform  VARCHAR NOT NULL,
            spent_on  DATE NOT NULL,
            hours     DOUBLE NOT NULL CHECK (hours > 0 AND hours <= 24),
            note      VARCHAR NOT NULL DEFAULT '',
            logged_at TIMESTAMP NOT NULL
        );
        CREATE TABLE IF NOT EXISTS roi_settings (
            key    VARCHAR PRIMARY KEY,
            value  VARCHAR NOT NULL,
            set_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (3, aggregates.DDL + ";\n".join(aggregates.REBUILD_SQL[2:]) + ";"),
    (4, aggregates.RUNS_DDL + aggregates.RUNS_REBUILD_SQL[1] + ";"),
    (
        5,
        """
        CREATE TABLE IF NOT EXISTS account_credentials (
            platform    VARCHAR NOT NULL,
            account_id  VARCHAR NOT NULL,
            source      VARCHAR NOT NULL,
            variable    VARCHAR,
            store_key   VARCHAR,
            recorded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (platform, account_id)
        );
        """,
    ),
    (
        6,
        """
        CREATE TABLE IF NOT EXISTS alerts_sent (
            condition   VARCHAR NOT NULL,
            day         DATE NOT NULL,
            destination VARCHAR NOT NULL,
            platform    VARCHAR NOT NULL,
            account_id  VARCHAR NOT NULL,
            message     VARCHAR NOT NULL,
            sent_at     TIMESTAMP NOT NULL,
            PRIMARY KEY (condition, day, destination)
        );
        """,
    ),
    (7, ";\n".join(aggregates.LEVELS_SQL) + ";"),
    (8, ";\n".join(aggregates.RUNNING_SQL) + ";"),
]


FOREIGN = "this DuckDB file holds tables but is not a socialkpi warehouse: point SOCIALKPI_DB elsewhere"


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open file: 0 for a new, empty file.

    A file with tables but no socialkpi ``meta`` version (another tool's DuckDB file, or one
    whose ``meta`` table is not ours) raises :class:`WarehouseError` rather than being migrated.
    """
    try:  # the common case first: our own file, its version in one lookup (listing the tables costs ~6 ms)
        found = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except duckdb.CatalogException:
        pass  # no meta table (or view): a new file, or another tool's
    except duckdb.Error as exc:
        if is_damage(exc):
            raise
        raise WarehouseError(FOREIGN) from None  # a meta of another shape: not ours
    else:
        try:
            version = int(found[0]) if found is not None else None
        except (TypeError, ValueError):
            version = None
        if version is None:
            raise WarehouseError(FOREIGN)
        return version
    tables = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = current_database()"
        ).fetchall()
    }
    if "meta" not in tables:
        if tables:
            raise WarehouseError(FOREIGN)
        return 0
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row is not None else None
    except duckdb.Error as exc:
        if is_damage(exc):
            raise  # a damaged block, not a foreign file: the connection's owner says so (warehouse.db)
        version = None
    except (TypeError, ValueError):
        version = None
    if version is None:
        raise WarehouseError(FOREIGN)
    return version


def ensure_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the file to :data:`SCHEMA_VERSION`; idempotent.  Returns the version."""
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise WarehouseError(
            f"the warehouse is at schema version {version}, newer than this socialkpi "
            f"understands ({SCHEMA_VERSION}): upgrade socialkpi"
        )
    if version == SCHEMA_VERSION:
        return version
    for target, ddl in MIGRATIONS:
        if target <= version:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(ddl)
            con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
            con.execute(
                "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [str(target)],
            )
            con.execute("COMMIT")
        except Exception:
            with contextlib.suppress(duckdb.Error):  # keep the real error if the connection is gone
                con.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION


def check_readable(con: duckdb.DuckDBPyConnection) -> int:
    """For read-only users: the version, or a clear error for a foreign or newer file."""
    version = current_version(con)
    if version > SCHEMA_VERSION:
        raise WarehouseError(
            f"the warehouse is at schema version {version}, newer than this socialkpi "
            f"understands ({SCHEMA_VERSION}): upgrade socialkpi"
        )
    return version
