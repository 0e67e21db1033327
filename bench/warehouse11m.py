"""The agency-scale warehouses shared by bench.dashboard and bench.export, built once and cached on disk.

``build()``: 1,000 accounts x 3 years (1,096 days) x 10 metrics = 10.96M observations;
``build(5000)``: 5,000 accounts, 54.8M observations (issue 12 item 6).  Each is built with one
``INSERT ... SELECT`` from ``range()`` per table (measured: ~14 s for 10M), never through the
Python load.

- 5 platforms x (accounts / 5) accounts; social accounts carry the KPI metrics (followers, impressions,
  reach, engagements, profile_views, link_clicks, ...), the ga4 ones the website metrics;
  every tenth social account is a competitor;
- rows are inserted day by day (the day is the outer loop), as three years of daily ``collect``
  runs append them: the table's physical order is roughly ``observed_on`` (its zone maps prune
  a 90-day window);
- ``runs``: one per day; ``run_accounts``: one row per account per day (1.1M / 5.5M rows), as cron leaves;
- the aggregates of :mod:`warehouse.aggregates` rebuilt from those tables (:func:`warehouse.aggregates.rebuild`,
  the same statements the migrations fill them with), so they hold what the load would have kept;
  the build time includes them.

The file is cached in ``bench/.cache/`` (git-ignored) between bench runs, under a name that changes
with the builder's SQL, the schema (its migrations and the aggregates' rebuild statements) and the
DuckDB version: any of them changing builds a new file, and the older ones are removed.
``BENCH_REBUILD=1`` forces a build.
A build writes a temporary file and renames it into place, so an interrupted build leaves no cache.
The bench only ever reads a cached file.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from datetime import date, timedelta
from pathlib import Path

from bench import ROOT, log, timed

ACCOUNTS, DAYS = 1000, 1096
LAST_DAY = date(2026, 10, 31)
FIRST_DAY = LAST_DAY - timedelta(days=DAYS - 1)
PLATFORMS = ("facebook", "instagram", "linkedin", "youtube", "ga4")
SOCIAL = ("followers", "impressions", "reach", "engagements", "profile_views", "link_clicks",
          "followers_gained", "followers_lost", "video_views", "posts")  # fmt: skip
WEB = ("page_views", "visits", "visitors", "social_visits", "social_page_views", "engaged_sessions",
       "new_users", "conversions", "events", "visits_from_facebook")  # fmt: skip

CACHE = ROOT / "bench" / ".cache"

_built: dict[int, tuple[Path, float, bool]] = {}


def _fill(con, accounts: int) -> None:  # type: ignore[no-untyped-def]
    """Every table of an ``accounts`` x :data:`DAYS` warehouse, then its aggregates (one transaction)."""
    from warehouse import aggregates

    per = accounts // len(PLATFORMS)
    plat = "list_value(" + ", ".join(f"'{p}'" for p in PLATFORMS) + f")[a // {per} + 1]"
    metric = (
        f"CASE WHEN a // {per} = {len(PLATFORMS) - 1} "
        f"THEN list_value({', '.join(repr(m) for m in WEB)})[m + 1] "
        f"ELSE list_value({', '.join(repr(m) for m in SOCIAL)})[m + 1] END"
    )
    con.execute("SET enable_progress_bar = false")
    con.execute("BEGIN TRANSACTION")
    con.execute(
        f"""INSERT INTO accounts
        SELECT {plat}, (100000 + a)::VARCHAR, 'Account ' || a, a % 10 = 9 AND a // {per} < {len(PLATFORMS) - 1},
               TIMESTAMP '{FIRST_DAY}', TIMESTAMP '{LAST_DAY}'
        FROM range({accounts}) t(a)"""
    )
    con.execute(
        f"""INSERT INTO observations
        SELECT {plat}, (100000 + a)::VARCHAR, {metric}, DATE '{FIRST_DAY}' + d::INTEGER,
               CASE WHEN m = 0 THEN 1000 + a * 3 + d ELSE ((a * 7 + m * 13 + d * 29) % 500) + 10 END::DOUBLE,
               'src', TIMESTAMP '{FIRST_DAY}' + INTERVAL (d + 1) DAY, 'run' || d
        FROM range({DAYS}) t1(d), range({accounts}) t2(a), range(10) t3(m)
        ORDER BY d"""
    )
    con.execute(
        f"""INSERT INTO runs
        SELECT 'run' || d, TIMESTAMP '{FIRST_DAY}' + INTERVAL (d + 1) DAY + INTERVAL 6 HOUR,
               TIMESTAMP '{FIRST_DAY}' + INTERVAL (d + 1) DAY + INTERVAL 6 HOUR + INTERVAL 90 SECOND,
               'ok', {accounts}, 0, {accounts * 10}, {accounts * 4}, 'collect'
        FROM range({DAYS}) t(d)"""
    )
    con.execute(
        f"""INSERT INTO run_accounts
        SELECT 'run' || d, {plat}, (100000 + a)::VARCHAR,
               CASE WHEN d = {DAYS - 1} AND a % 97 = 0 THEN 'failed' ELSE 'ok' END,
               CASE WHEN d = {DAYS - 1} AND a % 97 = 0 THEN 'throttled' END,
               CASE WHEN d = {DAYS - 1} AND a % 97 = 0 THEN 'rate limited' END,
               10, 4, DATE '{FIRST_DAY}' + d::INTEGER - 3, DATE '{FIRST_DAY}' + d::INTEGER,
               TIMESTAMP '{FIRST_DAY}' + INTERVAL (d + 1) DAY + INTERVAL 6 HOUR,
               TIMESTAMP '{FIRST_DAY}' + INTERVAL (d + 1) DAY + INTERVAL 6 HOUR + INTERVAL 1 SECOND
        FROM range({DAYS}) t1(d), range({accounts}) t2(a)"""
    )
    aggregates.rebuild(con)  # a bulk INSERT that bypasses warehouse.load rebuilds them
    con.execute("COMMIT")
    con.execute("CHECKPOINT")


def cache_key() -> str:
    """Changes with the builder and with anything that changes what a warehouse file holds."""
    import duckdb

    from warehouse import aggregates
    from warehouse.schema import MIGRATIONS, SCHEMA_VERSION

    text = repr((inspect.getsource(_fill), DAYS, LAST_DAY, SCHEMA_VERSION, MIGRATIONS,
                 aggregates.REBUILD_SQL, aggregates.RUNS_REBUILD_SQL, duckdb.__version__))  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build(accounts: int = ACCOUNTS) -> tuple[Path, float]:
    """(path, build seconds; 0 when it came from the cache) of the ``accounts`` x 3-year warehouse."""
    if accounts in _built:
        path, seconds, _ = _built[accounts]
        return path, seconds
    from warehouse.db import connect
    from warehouse.schema import ensure_schema

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"agency-{accounts}-{cache_key()}.duckdb"
    if path.exists() and not os.environ.get("BENCH_REBUILD"):
        size = path.stat().st_size / 1e6
        log(f"warehouse: {accounts} accounts x {DAYS} days from the cache ({path.name}, {size:.0f} MB)")
        _built[accounts] = (path, 0.0, True)
        return path, 0.0
    for old in CACHE.glob(f"agency-{accounts}-*.duckdb*"):  # another schema's file, or a build cut short
        old.unlink()
    tmp = path.with_name(path.name + ".building")
    log(f"warehouse: building {accounts} accounts x {DAYS} days x 10 metrics into {CACHE}")
    con = connect(tmp, read_only=False)
    try:
        ensure_schema(con)
        seconds = timed(lambda: _fill(con, accounts))
        rows = con.execute("SELECT count(*) FROM observations").fetchone()
    finally:
        con.close()
    os.replace(tmp, path)
    log(f"warehouse: {rows[0] if rows else 0:,} observations in {seconds:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
    _built[accounts] = (path, seconds, False)
    return path, seconds
