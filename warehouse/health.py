"""Data health: how current the warehouse is (:func:`freshness`), which days have nothing stored
(:func:`coverage_report`), the metrics a platform refused, and each account's credential and token
expiry (never a token).  The conventions of :mod:`warehouse.queries`; docs/kpis.md, "Data health".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from warehouse import access, aggregates
from warehouse.access import DbPath, FilePath, open_warehouse
from warehouse.query_parts import _frame, _lookup_days, _utc
from warehouse.tokens import TOKEN_COLUMNS, token_rows

# ---------------------------------------------------------------------------------------------
# Freshness
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """How current the warehouse is.

    ``accounts`` columns: platform, account_id, account_name, competitor, newest_day (newest
    ``observed_on``), last_ok_at (UTC, end of the account's newest successful collection),
    last_status / error_kind / reason (from ``run_accounts`` of the account's latest run),
    failing (last_status is not ``ok``).
    """

    last_success_at: datetime | None  # UTC: end of the newest run whose status is "ok"
    last_run_at: datetime | None  # UTC: start of the newest run, whatever its status
    last_run_status: str | None
    accounts: pd.DataFrame

    @property
    def failing(self) -> pd.DataFrame:
        return self.accounts[self.accounts["failing"]].reset_index(drop=True)

    @property
    def n_failing(self) -> int:
        return int(self.accounts["failing"].sum())


def freshness(db_path: DbPath) -> Freshness:
    """Last successful run, and per account: newest day, last ok collection, failing with reason."""
    accounts_sql = """
        WITH latest AS ({latest}),
        newest AS ({newest}),
        keys AS (
            SELECT platform, account_id FROM accounts
            UNION SELECT platform, account_id FROM latest
            UNION SELECT platform, account_id FROM newest
        )
        SELECT k.platform, k.account_id,
               coalesce(a.name, k.account_id) AS account_name,
               coalesce(a.competitor, false) AS competitor,
               n.newest_day, l.last_ok_at, l.last_status, l.error_kind, l.reason,
               coalesce(l.last_status <> 'ok', false) AS failing
        FROM keys k
        LEFT JOIN accounts a USING (platform, account_id)
        LEFT JOIN latest l USING (platform, account_id)
        LEFT JOIN newest n USING (platform, account_id)
        ORDER BY k.platform, k.account_id
    """
    with open_warehouse(db_path) as (con, aggregated):
        newest = (
            "SELECT platform, account_id, newest_day FROM account_days"
            if aggregated
            else "SELECT platform, account_id, max(observed_on) AS newest_day FROM observations GROUP BY ALL"
        )
        kept = access.schema_version(con) >= access.RUNS_VERSION  # account_runs, kept by the load (schema 4)
        latest = aggregates.LATEST_RUNS if kept else aggregates.LATEST_RUNS_RAW
        ok = con.execute("SELECT max(finished_at) FROM runs WHERE status = 'ok'").fetchone()
        last = con.execute("SELECT started_at, status FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        frame = con.execute(accounts_sql.replace("{newest}", newest).replace("{latest}", latest)).df()
    frame["last_ok_at"] = pd.to_datetime(frame["last_ok_at"]).dt.tz_localize("UTC")
    frame["failing"] = frame["failing"].astype(bool)
    return Freshness(
        last_success_at=_utc(ok[0]) if ok else None,
        last_run_at=_utc(last[0]) if last else None,
        last_run_status=last[1] if last else None,
        accounts=frame,
    )


# ---------------------------------------------------------------------------------------------
# Data health
# ---------------------------------------------------------------------------------------------

COVERAGE_STORED = "stored"
COVERAGE_MISSING = "missing"
COVERAGE_NOT_YET = "not yet available"
COVERAGE_BEFORE = "before first collection"
COVERAGE_STATUSES = (COVERAGE_STORED, COVERAGE_MISSING, COVERAGE_NOT_YET, COVERAGE_BEFORE)

_COVERAGE_SQL = """
WITH keys AS (
    SELECT platform, account_id FROM accounts
    UNION SELECT DISTINCT platform, account_id FROM observations
),
firsts AS (
    SELECT platform, account_id, min(observed_on) AS first_day FROM observations GROUP BY platform, account_id
),
delays AS (SELECT unnest(?::VARCHAR[]) AS platform, unnest(?::INTEGER[]) AS delay_days),
days AS (SELECT CAST(unnest(generate_series(?::DATE, ?::DATE, INTERVAL 1 DAY)) AS DATE) AS date),
have AS (
    SELECT DISTINCT platform, account_id, observed_on FROM observations WHERE observed_on BETWEEN ? AND ?
),
grid AS (
    SELECT k.platform, k.account_id, coalesce(a.name, k.account_id) AS account_name,
           coalesce(a.competitor, false) AS competitor,
           coalesce(a.name, k.account_id) || ' (' || k.platform || ')'
               || CASE WHEN coalesce(a.competitor, false) THEN ' · competitor' ELSE '' END AS account,
           d.date,
           CASE WHEN h.observed_on IS NOT NULL THEN 'stored'
                WHEN f.first_day IS NOT NULL AND d.date < f.first_day THEN 'before first collection'
                -- a competitor's numbers are "now" levels: a collect on the newest day stores that day
                WHEN d.date > CAST(?::DATE - CASE WHEN coalesce(a.competitor, false) THEN 0
                                                  ELSE coalesce(l.delay_days, 0) END AS DATE)
                     THEN 'not yet available'
                ELSE 'missing' END AS status
    FROM keys k
    CROSS JOIN days d
    LEFT JOIN firsts f USING (platform, account_id)
    LEFT JOIN accounts a USING (platform, account_id)
    LEFT JOIN delays l USING (platform)
    LEFT JOIN have h ON h.platform = k.platform AND h.account_id = k.account_id AND h.observed_on = d.date
)
SELECT platform, account_id, account_name, competitor, account, date, status FROM grid
ORDER BY platform, account_id, date
"""

# The same from ``account_days`` (schema 3): the accounts with observations, their first day, without
# reading every observation; only the window's days stored are read from ``observations``.
_COVERAGE_DAILY_SQL = _COVERAGE_SQL.replace(
    "UNION SELECT DISTINCT platform, account_id FROM observations",
    "UNION SELECT platform, account_id FROM account_days",
).replace(
    "SELECT platform, account_id, min(observed_on) AS first_day FROM observations GROUP BY platform, account_id",
    "SELECT platform, account_id, first_day FROM account_days",
)
assert _COVERAGE_DAILY_SQL.count("observations") == 1, "only the window's days from observations"  # noqa: S101

# The same from ``kpi_running`` (schema 8), for the accounts of ``shown`` only (parameters first: every
# account?, the shown platforms, their account ids): its ``stored`` flag says which days of the window
# have anything, so no observation is read.
_COVERAGE_RUNNING_SQL = (
    _COVERAGE_DAILY_SQL.replace(
        """WITH keys AS (
    SELECT platform, account_id FROM accounts
    UNION SELECT platform, account_id FROM account_days
),""",
        """WITH shown AS (SELECT unnest(?::VARCHAR[]) AS platform, unnest(?::VARCHAR[]) AS account_id),
keys AS (
    SELECT * FROM (SELECT platform, account_id FROM accounts UNION SELECT platform, account_id FROM account_days) k
    WHERE ?::BOOLEAN OR EXISTS (SELECT 1 FROM shown s WHERE s.platform = k.platform AND s.account_id = k.account_id)
),""",
    )
    .replace(
        "SELECT DISTINCT platform, account_id, observed_on FROM observations WHERE observed_on BETWEEN ? AND ?",
        "SELECT platform, account_id, observed_on FROM kpi_running SEMI JOIN keys USING (platform, account_id)\n"
        "    WHERE observed_on BETWEEN ? AND ? AND stored",
    )
)
assert "observations" not in _COVERAGE_RUNNING_SQL and "shown" in _COVERAGE_RUNNING_SQL  # noqa: S101

# Per account, the counts of :func:`_coverage_summary` from ``kpi_running`` (schema 8), without a row per
# day: the days "missing" are the window's days from the first day stored (or the window's start) up to
# the day the platform can have (as_of minus its delay, ``cutoff``), less those stored, which is a
# difference of ``days_stored`` (looked up on the day before that span and on its last day, clamped to
# the newest day; 0 before the first day); "not yet available" the same after the cutoff.  The first and
# last missing day come from the window's rows of the accounts that miss one (and the days after their
# newest day, which have no row).  Parameters: platforms and their delays, the days looked up, start,
# end, as_of.
_COVERAGE_COUNTS_SQL = """
WITH keys AS (SELECT platform, account_id FROM accounts UNION SELECT platform, account_id FROM account_days),
delays AS (SELECT unnest($1::VARCHAR[]) AS platform, unnest($2::INTEGER[]) AS delay_days),
k AS (SELECT platform, account_id, observed_on, days_stored FROM kpi_running WHERE observed_on = ANY($3::DATE[])),
acc AS (
    SELECT k.platform, k.account_id, coalesce(a.name, k.account_id) AS account_name,
           coalesce(a.competitor, false) AS competitor, d.first_day, d.newest_day,
           CAST($6::DATE - CASE WHEN coalesce(a.competitor, false) THEN 0
                                ELSE coalesce(l.delay_days, 0) END AS DATE) AS cutoff
    FROM keys k
    LEFT JOIN accounts a USING (platform, account_id)
    LEFT JOIN account_days d USING (platform, account_id)
    LEFT JOIN delays l USING (platform)
),
spans AS (
    SELECT *, greatest($4::DATE, coalesce(first_day, $4::DATE)) AS m_lo, least($5::DATE, cutoff) AS m_hi,
           greatest($4::DATE, coalesce(first_day, $4::DATE), cutoff + 1) AS n_lo
    FROM acc
),
counted AS (
    SELECT s.*,
           greatest(0, s.m_hi - s.m_lo + 1)
               - CASE WHEN s.m_hi >= s.m_lo THEN coalesce(r1.days_stored, 0) - coalesce(r2.days_stored, 0) ELSE 0 END
               AS days_missing,
           greatest(0, $5::DATE - s.n_lo + 1)
               - CASE WHEN $5::DATE >= s.n_lo THEN coalesce(r3.days_stored, 0) - coalesce(r4.days_stored, 0) ELSE 0 END
               AS days_not_yet_available
    FROM spans s
    LEFT JOIN k r1 ON r1.platform = s.platform AND r1.account_id = s.account_id
                  AND r1.observed_on = least(s.m_hi, s.newest_day) AND s.m_hi >= s.first_day
    LEFT JOIN k r2 ON r2.platform = s.platform AND r2.account_id = s.account_id
                  AND r2.observed_on = least(s.m_lo - 1, s.newest_day) AND s.m_lo - 1 >= s.first_day
    LEFT JOIN k r3 ON r3.platform = s.platform AND r3.account_id = s.account_id
                  AND r3.observed_on = least($5::DATE, s.newest_day) AND $5::DATE >= s.first_day
    LEFT JOIN k r4 ON r4.platform = s.platform AND r4.account_id = s.account_id
                  AND r4.observed_on = least(s.n_lo - 1, s.newest_day) AND s.n_lo - 1 >= s.first_day
),
gaps AS (
    SELECT r.platform, r.account_id, min(r.observed_on) AS first_gap, max(r.observed_on) AS last_gap
    FROM kpi_running r
    JOIN counted c ON c.platform = r.platform AND c.account_id = r.account_id AND c.days_missing > 0
    WHERE r.observed_on BETWEEN $4::DATE AND $5::DATE AND NOT r.stored
      AND r.observed_on BETWEEN c.m_lo AND c.m_hi
    GROUP BY r.platform, r.account_id
)
SELECT c.platform, c.account_id, c.account_name, c.competitor, c.days_missing,
       CASE WHEN c.days_missing > 0
            THEN coalesce(g.first_gap, greatest(c.m_lo, c.newest_day + 1)) END AS first_missing,
       CASE WHEN c.days_missing > 0
            THEN CASE WHEN c.newest_day IS NULL OR c.newest_day < c.m_hi THEN c.m_hi ELSE g.last_gap END
       END AS last_missing,
       c.days_not_yet_available
FROM counted c
LEFT JOIN gaps g USING (platform, account_id)
ORDER BY c.platform, c.account_id
"""

# The Data health calendar holds every account's days up to this many accounts (one row each, 28 px):
# above, the accounts missing the most days (coverage_report's ``most``), and a picker for the others.
CALENDAR_ACCOUNTS = 30

_COVERAGE_DAY_COLUMNS = ("platform", "account_id", "account_name", "competitor", "account", "date", "status")

COVERAGE_SUMMARY_COLUMNS = (
    "platform", "account_id", "account_name", "competitor",
    "days_missing", "first_missing", "last_missing", "days_not_yet_available",
)  # fmt: skip


@dataclass(frozen=True)
class Coverage:
    """Data health's "days with nothing stored": the calendar and its table, from one query.

    ``days``: one row per account and day of the window (:func:`coverage`); ``accounts``: those rows
    counted per account (:func:`missing_days`), in the same account order; ``as_of``: the day the
    "not yet available" days are counted back from; ``delays``: the ``delay_days`` of each platform
    of ``accounts`` that has one (own accounts; a competitor's is 0).
    """

    as_of: date
    days: pd.DataFrame
    accounts: pd.DataFrame
    delays: dict[str, int]


def coverage_report(
    db_path: DbPath,
    start: date,
    end: date,
    *,
    as_of: date | None = None,
    calendar: Sequence[tuple[str, str]] | None = None,
    most: int | None = None,
) -> Coverage:
    """Per account and day of ``[start, end]``, was anything stored, and per account the days missing.

    A day's ``status``: ``stored`` (at least one metric that day); ``before first collection`` (before
    the account's first stored day); ``not yet available`` (nothing stored, but the day is after
    ``as_of`` minus the platform's ``delay_days`` (collectors.PLATFORMS; 0 for a competitor, whose
    numbers are "now" only): its source cannot have it yet, e.g. today for web analytics, which report
    up to yesterday); otherwise ``missing`` (including every day of an account never collected).

    ``as_of`` defaults to the newest day stored in the warehouse: the day of the latest collect (the
    "now" numbers a collect reads are dated that day); a warehouse without rows counts back from ``end``.

    ``accounts`` always lists every account.  ``days`` (the calendar) holds every account's days too,
    unless ``calendar`` names the (platform, account_id) to hold, or ``most`` is given and there are
    more accounts than that: then the ``most`` accounts with the most days missing (none missing:
    none), as a person looking after thousands of accounts reads the calendar.
    """
    from collectors import PLATFORMS

    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    ids = list(PLATFORMS)
    delay_of = [PLATFORMS[i].delay_days for i in ids]
    with open_warehouse(db_path) as (con, aggregated):
        if as_of is None:
            table, column = ("account_days", "newest_day") if aggregated else ("observations", "observed_on")
            rows = con.execute(f"SELECT max({column}) FROM {table}").fetchall()  # our own names only
            as_of = rows[0][0] if rows and rows[0][0] is not None else end
        if access.has_running(con):
            cutoffs = {as_of - timedelta(days=d) for d in {0, *delay_of}}
            looked = {start - timedelta(days=1), end, *(min(end, c) for c in cutoffs)}
            looked |= {max(start - timedelta(days=1), c) for c in cutoffs}
            params = [ids, delay_of, _lookup_days(con, sorted(looked)), start, end, as_of]
            summary = _frame(con, _COVERAGE_COUNTS_SQL, params)
            for column in ("first_missing", "last_missing"):
                summary[column] = pd.to_datetime(summary[column])
            keys = _calendar_keys(summary, calendar, most)
            shown = [[] if keys is None else [k[i] for k in keys] for i in (0, 1)]
            if keys == []:  # no account in the calendar (the frame df() gives for no row)
                days = pd.DataFrame({c: pd.Series(dtype=object) for c in _COVERAGE_DAY_COLUMNS})
                days["competitor"] = days["competitor"].astype(bool)
            else:
                days = _frame(
                    con, _COVERAGE_RUNNING_SQL, [*shown, keys is None, ids, delay_of, start, end, start, end, as_of]
                )
        else:
            params = [ids, delay_of, start, end, start, end, as_of]
            days = _frame(con, _COVERAGE_DAILY_SQL if aggregated else _COVERAGE_SQL, params)
            days["date"] = pd.to_datetime(days["date"])
            summary = _coverage_summary(days)
            keys = _calendar_keys(summary, calendar, most)
            if keys is not None:
                picked = pd.MultiIndex.from_frame(days[["platform", "account_id"]]).isin(keys)
                days = days[picked].reset_index(drop=True)
    days["date"] = pd.to_datetime(days["date"])
    own = summary.loc[~summary["competitor"].astype(bool), "platform"].unique()
    delays = {p: PLATFORMS[p].delay_days for p in sorted(own) if p in PLATFORMS and PLATFORMS[p].delay_days}
    return Coverage(as_of=as_of, days=days, accounts=summary[list(COVERAGE_SUMMARY_COLUMNS)], delays=delays)


def _calendar_keys(
    summary: pd.DataFrame, calendar: Sequence[tuple[str, str]] | None, most: int | None
) -> list[tuple[str, str]] | None:
    """The (platform, account_id) of the calendar (:func:`coverage_report`); None: every account."""
    if calendar is not None:
        return [(str(p), str(a)) for p, a in calendar]
    if most is None or len(summary) <= most:
        return None
    worst = summary[summary["days_missing"] > 0].sort_values("days_missing", ascending=False, kind="stable")
    return list(zip(worst["platform"].head(most), worst["account_id"].head(most), strict=True))


def _coverage_summary(days: pd.DataFrame) -> pd.DataFrame:
    keys = ["platform", "account_id", "account_name", "competitor"]
    missing = days["date"].where(days["status"] == COVERAGE_MISSING)
    counted = days.assign(
        missing=days["status"] == COVERAGE_MISSING, later=days["status"] == COVERAGE_NOT_YET, missing_day=missing
    )
    grouped = counted.groupby(keys, sort=False)
    frame = pd.DataFrame(
        {
            "days_missing": grouped["missing"].sum().astype("int64"),
            "first_missing": grouped["missing_day"].min(),
            "last_missing": grouped["missing_day"].max(),
            "days_not_yet_available": grouped["later"].sum().astype("int64"),
        }
    ).reset_index()
    return frame[list(COVERAGE_SUMMARY_COLUMNS)]


def coverage(db_path: DbPath, start: date, end: date, *, as_of: date | None = None) -> pd.DataFrame:
    """One row per account and day of ``[start, end]``: ``platform``, ``account_id``, ``account_name``,
    ``competitor``, ``account`` (``<name> (<platform>)``, `` · competitor`` for a competitor), ``date``,
    ``status`` (:data:`COVERAGE_STATUSES`, defined in :func:`coverage_report`)."""
    return coverage_report(db_path, start, end, as_of=as_of).days


def missing_days(db_path: DbPath, start: date, end: date, *, as_of: date | None = None) -> pd.DataFrame:
    """Per account (columns :data:`COVERAGE_SUMMARY_COLUMNS`): ``days_missing`` in ``[start, end]`` (status
    ``missing`` of :func:`coverage`), ``first_missing``, ``last_missing``, ``days_not_yet_available``.
    Every known account is listed, 0 when nothing is missing."""
    return coverage_report(db_path, start, end, as_of=as_of).accounts


def skipped_metrics(db_path: DbPath) -> pd.DataFrame:
    """Metrics a platform refused or retired (``metric_notes``): ``platform``, ``account_id``,
    ``account_name``, ``source_metric``, ``note``, ``noted_at`` (UTC)."""
    sql = """
        SELECT n.platform, n.account_id, coalesce(a.name, n.account_id) AS account_name,
               n.source_metric, n.note, n.noted_at
        FROM metric_notes n
        LEFT JOIN accounts a USING (platform, account_id)
        ORDER BY n.platform, n.account_id, n.source_metric
    """
    with open_warehouse(db_path) as (con, _):
        frame = con.execute(sql).df()
    frame["noted_at"] = pd.to_datetime(frame["noted_at"]).dt.tz_localize("UTC")
    return frame


CREDENTIAL_COLUMNS = ("platform", "account_id", "account_name", "source", "comes_from", "ends", "renew")


def credentials(db_path: DbPath, tokens_file: FilePath) -> pd.DataFrame:
    """Each account's credential as the last collect found it (:func:`warehouse.credentials.credential_rows`):
    where it comes from, when it ends, the command that renews it; never a token."""
    from warehouse.credentials import credential_rows

    rows = credential_rows(db_path, tokens_file)
    return pd.DataFrame([dataclasses.astuple(r) for r in rows], columns=list(CREDENTIAL_COLUMNS))


def token_expiry(db_path: DbPath, tokens_file: FilePath, *, now: datetime | None = None) -> pd.DataFrame:
    """:func:`warehouse.tokens.token_rows` as a frame (columns :data:`warehouse.tokens.TOKEN_COLUMNS`):
    expiry dates only, never the tokens.  Empty frame when there is no token file."""
    rows = token_rows(db_path, tokens_file, now=now)
    frame = pd.DataFrame([dataclasses.astuple(r) for r in rows], columns=list(TOKEN_COLUMNS))
    for column in ("expires_at", "refresh_expires_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
