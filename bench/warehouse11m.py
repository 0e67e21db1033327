"""The agency-scale warehouse shared by bench.dashboard and bench.export, built once per bench run.

1,000 accounts x 3 years (1,096 days) x 10 metrics = 10.96M observations, in a temp dir (never in
the repo), with one ``INSERT ... SELECT`` from ``range()`` per table (tech-notes §2: ~14 s for 10M).

- 5 platforms x 200 accounts; social accounts carry the KPI metrics (followers, impressions,
  reach, engagements, profile_views, link_clicks, ...), the ga4 ones the website metrics;
  every tenth social account is a competitor;
- rows are inserted day by day (the day is the outer loop), as three years of daily ``collect``
  runs append them: the table's physical order is roughly ``observed_on`` (its zone maps prune
  a 90-day window);
- ``runs``: one per day; ``run_accounts``: one row per account per day (1.1M rows), as cron leaves;
- the aggregates of :mod:`warehouse.aggregates` (schema 3) rebuilt in the same transaction, as the
  load keeps them (the bulk ``INSERT`` here bypasses ``warehouse.load``; the build time includes them).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from bench import log, tempdir, timed

ACCOUNTS, DAYS = 1000, 1096
LAST_DAY = date(2026, 10, 31)
FIRST_DAY = LAST_DAY - timedelta(days=DAYS - 1)
PLATFORMS = ("facebook", "instagram", "linkedin", "youtube", "ga4")
SOCIAL = ("followers", "impressions", "reach", "engagements", "profile_views", "link_clicks",
          "followers_gained", "followers_lost", "video_views", "posts")  # fmt: skip
WEB = ("page_views", "visits", "visitors", "social_visits", "social_page_views", "engaged_sessions",
       "new_users", "conversions", "events", "visits_from_facebook")  # fmt: skip

_built: dict[str, object] = {}


def build() -> tuple[Path, float]:
    """(path, build seconds) of the 11M-row warehouse; built on the first call of the process."""
    if "path" in _built:
        return _built["path"], _built["seconds"]  # type: ignore[return-value]
    from warehouse import aggregates
    from warehouse.db import connect
    from warehouse.schema import ensure_schema

    path = tempdir("agency") / "agency.duckdb"
    log(f"warehouse: building {ACCOUNTS} accounts x {DAYS} days x 10 metrics")
    con = connect(path, read_only=False)
    ensure_schema(con)
    per = ACCOUNTS // len(PLATFORMS)
    plat = "list_value(" + ", ".join(f"'{p}'" for p in PLATFORMS) + f")[a // {per} + 1]"
    metric = (
        f"CASE WHEN a // {per} = {len(PLATFORMS) - 1} "
        f"THEN list_value({', '.join(repr(m) for m in WEB)})[m + 1] "
        f"ELSE list_value({', '.join(repr(m) for m in SOCIAL)})[m + 1] END"
    )

    def fill() -> None:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            f"""INSERT INTO accounts
            SELECT {plat}, (100000 + a)::VARCHAR, 'Account ' || a, a % 10 = 9 AND a // {per} < {len(PLATFORMS) - 1},
                   TIMESTAMP '{FIRST_DAY}', TIMESTAMP '{LAST_DAY}'
            FROM range({ACCOUNTS}) t(a)"""
        )
        con.execute(
            f"""INSERT INTO observations
            SELECT {plat}, (100000 + a)::VARCHAR, {metric}, DATE '{FIRST_DAY}' + d::INTEGER,
                   CASE WHEN m = 0 THEN 1000 + a * 3 + d ELSE ((a * 7 + m * 13 + d * 29) % 500) + 10 END::DOUBLE,
                   'src', TIMESTAMP '{FIRST_DAY}' + INTERVAL (d + 1) DAY, 'run' || d
            FROM range({DAYS}) t1(d), range({ACCOUNTS}) t2(a), range(10) t3(m)
            ORDER BY d"""
        )
        con.execute(
            f"""INSERT INTO runs
            SELECT 'run' || d, TIMESTAMP '{FIRST_DAY}' + INTERVAL (d + 1) DAY + INTERVAL 6 HOUR,
                   TIMESTAMP '{FIRST_DAY}' + INTERVAL (d + 1) DAY + INTERVAL 6 HOUR + INTERVAL 90 SECOND,
                   'ok', {ACCOUNTS}, 0, {ACCOUNTS * 10}, {ACCOUNTS * 4}, 'collect'
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
            FROM range({DAYS}) t1(d), range({ACCOUNTS}) t2(a)"""
        )
        aggregates.rebuild(con)  # a bulk INSERT that bypasses warehouse.load rebuilds them
        con.execute("COMMIT")
        con.execute("CHECKPOINT")

    seconds = timed(fill)
    rows = con.execute("SELECT count(*) FROM observations").fetchone()
    con.close()
    log(f"warehouse: {rows[0] if rows else 0:,} observations in {seconds:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
    _built.update(path=path, seconds=seconds)
    return path, seconds
