"""A small warehouse with hand-chosen values, built through warehouse.load (usable by any test).

Sixty days, 2026-01-10 .. 2026-03-10 (``i`` = days since START):

- 111 "Corner Bakery" (facebook): followers 1000+i; impressions 100 before SPLIT, 150 from
  SPLIT; reach 30 (even i) / 50 (odd i); engagements 10; profile_views 4; link_clicks 2
- 222 "Bakery Two" (facebook, ends 2026-03-08): followers 500+2i; impressions 40; reach 20
  before SPLIT, 26 from SPLIT; engagements 5
- 999 "Rival Bakery" (facebook, competitor): followers 5000+10i
- 333 "bakery.example" (ga4): page_views 300 / 330 from SPLIT; visits 100; visitors 80;
  social_visits 20 / 25 from SPLIT; social_page_views 50

SPLIT (2026-02-11) is the first day of the dashboard's default window (the 28 days ending on
END); the previous window is 2026-01-14 .. 2026-02-10.  Two runs: ``run-1`` (ok, every account)
and ``run-2`` (partial: 222 failed with :data:`FAILED_REASON`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from collectors.observation import Account, Observation
from warehouse.db import writing
from warehouse.load import AccountOutcome, finish_run, start_run, write_account_batch

START = date(2026, 1, 10)
END = date(2026, 3, 10)
SPLIT = date(2026, 2, 11)
B_END = date(2026, 3, 8)
COLLECTED_AT = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
RUN1_START = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
RUN2_START = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
RUN2_END = datetime(2026, 3, 11, 6, 5, tzinfo=UTC)
FAILED_REASON = "facebook: the token was refused (401): check SOCIALKPI_FACEBOOK_TOKEN"

A = Account("facebook", "111", "Corner Bakery")
B = Account("facebook", "222", "Bakery Two")
C = Account("facebook", "999", "Rival Bakery", competitor=True)
G = Account("ga4", "333", "bakery.example")
ACCOUNTS = (A, B, C, G)

SOURCE = {
    "followers": "followers_count",
    "impressions": "page_media_view",
    "reach": "page_total_media_view_unique",
    "engagements": "page_post_engagements",
    "profile_views": "page_views_total",
    "link_clicks": "cta_clicks",
    "page_views": "screenPageViews",
    "visits": "sessions",
    "visitors": "activeUsers",
    "social_visits": "sessions:Organic Social",
    "social_page_views": "screenPageViews:Organic Social",
}

# Hand-computed KPI cards for the default window (2026-02-11..03-10) vs 2026-01-14..02-10:
# (value, previous, change % rounded to 0.1, as the dashboard shows the value)
CARDS_28D = {
    "audience": (1059 + 614, 1031 + 562, "+5.0%", "1,673"),  # last per account; competitor excluded
    "impressions": (28 * 150 + 26 * 40, 28 * 100 + 28 * 40, "+33.7%", "5,240"),
    "reach": (40 + 26, 40 + 20, "+10.0%", "66"),  # average daily, never summed over days
    "page_views": (28 * 330, 28 * 300, "+10.0%", "9,240"),
    "social_visits": (28 * 25, 28 * 20, "+25.0%", "700"),
}


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _rows(account: Account, values: dict[str, float], day: date) -> list[Observation]:
    return [
        Observation(account.platform, account.id, metric, day, float(v), SOURCE[metric], COLLECTED_AT)
        for metric, v in values.items()
    ]


def account_rows(account: Account) -> list[Observation]:
    rows: list[Observation] = []
    for day in days(START, END):
        i = (day - START).days
        late = day >= SPLIT
        if account is A:
            values = {
                "followers": 1000 + i, "impressions": 150 if late else 100, "reach": 30 if i % 2 == 0 else 50,
                "engagements": 10, "profile_views": 4, "link_clicks": 2,
            }  # fmt: skip
        elif account is B:
            if day > B_END:
                continue
            values = {
                "followers": 500 + 2 * i,
                "impressions": 40,
                "reach": 26 if late else 20,
                "engagements": 5,
            }
        elif account is C:
            values = {"followers": 5000 + 10 * i}
        else:
            values = {
                "page_views": 330 if late else 300, "visits": 100, "visitors": 80,
                "social_visits": 25 if late else 20, "social_page_views": 50,
            }  # fmt: skip
        rows.extend(_rows(account, values, day))
    return rows


def build_warehouse(path: Path | str, *, with_runs: bool = True) -> Path:
    """Create the seeded warehouse at ``path`` (a new file) and return its path."""
    path = Path(path)
    with writing(path) as con:
        start_run(con, "run-1", RUN1_START, "collect")
        for account in ACCOUNTS:
            outcome = AccountOutcome(
                "run-1", account, "ok", RUN1_START, COLLECTED_AT, since=START, until=END, requests=3
            )
            write_account_batch(con, outcome, account_rows(account))
        finish_run(
            con, "run-1", COLLECTED_AT, status="ok", accounts_ok=4, accounts_failed=0,
            rows_written=0, requests=12,
        )  # fmt: skip
        if with_runs:
            start_run(con, "run-2", RUN2_START, "collect")
            for account in ACCOUNTS:
                failed = account is B
                outcome = AccountOutcome(
                    "run-2", account, "failed" if failed else "ok", RUN2_START, RUN2_END,
                    error_kind="auth" if failed else None, reason=FAILED_REASON if failed else None,
                )  # fmt: skip
                write_account_batch(con, outcome)
            finish_run(
                con, "run-2", RUN2_END, status="partial", accounts_ok=3, accounts_failed=1,
                rows_written=0, requests=4,
            )  # fmt: skip
    return path


def build_empty_warehouse(path: Path | str) -> Path:
    """A warehouse with the schema and no rows."""
    path = Path(path)
    with writing(path):
        pass
    return path
