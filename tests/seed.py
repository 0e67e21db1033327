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

``build_warehouse(path, full=True)`` adds (the base stays as it is for the export tests):

- ig1 "Corner Bakery" (instagram): followers 2000+3i; posts 100 + i//2; impressions 200; reach 80;
  engagements 12; profile_views 6; link_clicks 3
- ig_rival "Rival Bakery" (instagram, competitor): followers 6000+12i; posts 300+i
- corner_x "Corner Bakery" (x): followers 800+i; posts 50+i
- rival_x "Rival Bakery" (x, competitor): followers 1200; posts 400+2i; nothing stored on
  2026-02-20 and 2026-02-21 (a gap for the data-health calendar)
- li1 "Corner Bakery" (linkedin): followers 300+i; impressions 60; engagements 3;
  profile_views 2; link_clicks 1
- li_rival "Rival Bakery" (linkedin, competitor): followers 900+3i
- 333 also gets visits_from_facebook 10 / 12 from SPLIT, visits_from_instagram 8 / 10,
  visits_from_x 2 / 3 (they add up to social_visits)
- a metric note (ig1 ``website_clicks`` retired) and a token file beside the warehouse with
  :data:`TOKEN_SECRET` (which must never be shown) expiring at :data:`TOKEN_EXPIRES`.
"""

from __future__ import annotations

import json
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

I = Account("instagram", "ig1", "Corner Bakery")  # noqa: E741
IC = Account("instagram", "ig_rival", "Rival Bakery", competitor=True)
X = Account("x", "corner_x", "Corner Bakery")
XC = Account("x", "rival_x", "Rival Bakery", competitor=True)
L = Account("linkedin", "li1", "Corner Bakery")
LC = Account("linkedin", "li_rival", "Rival Bakery", competitor=True)
EXTRA_ACCOUNTS = (I, IC, X, XC, L, LC)
FULL_ACCOUNTS = ACCOUNTS + EXTRA_ACCOUNTS
XC_GAP = (date(2026, 2, 20), date(2026, 2, 21))
TOKEN_SECRET = "seed-access-token-DO-NOT-SHOW-4242"
REFRESH_SECRET = "seed-refresh-token-DO-NOT-SHOW-4343"
TOKEN_EXPIRES = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
NOTE = ("website_clicks", "retired by Instagram on 2025-01-08: profile_links_taps is used instead")

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
    "posts": "media_count",
    "visits_from_facebook": "sessions:facebook",
    "visits_from_instagram": "sessions:instagram",
    "visits_from_x": "sessions:x",
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


# The same cards on the full warehouse (build_warehouse(path, full=True)), worked out by hand.
# Window i = 32..59 (28 days), previous i = 4..31; 222 has 26 days in the window (ends 03-08).
FULL_CARDS_28D = {
    # followers: 111 1059, 222 614, ig1 2000+3*59, corner_x 800+59, li1 300+59 (competitors excluded)
    "audience": (1059 + 614 + 2177 + 859 + 359, 1031 + 562 + 2093 + 831 + 331, "+4.5%", "5,068"),
    "impressions": (
        28 * 150 + 26 * 40 + 28 * 200 + 28 * 60,
        28 * 100 + 28 * 40 + 28 * 200 + 28 * 60,
        "+11.8%",
        "12,520",
    ),
    "reach": (40 + 26 + 80, 40 + 20 + 80, "+4.3%", "146"),
    "engagements": (28 * 10 + 26 * 5 + 28 * 12 + 28 * 3, 28 * 10 + 28 * 5 + 28 * 12 + 28 * 3, "-1.2%", "830"),
    # 830 / 12520 = 6.63 %; 840 / 11200 = 7.50 %
    "engagement_rate": (830 / 12520, 840 / 11200, "-0.87 pp", "6.63%"),
    "profile_views": (28 * 4 + 28 * 6 + 28 * 2, 336, "+0.0%", "336"),
    "link_clicks": (28 * 2 + 28 * 3 + 28 * 1, 168, "+0.0%", "168"),
    "page_views": (28 * 330, 28 * 300, "+10.0%", "9,240"),
    "visits": (28 * 100, 28 * 100, "+0.0%", "2,800"),
    "social_visits": (28 * 25, 28 * 20, "+25.0%", "700"),
    "social_share": (0.25, 0.20, "+5.00 pp", "25.00%"),
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
        elif account is I:
            values = {
                "followers": 2000 + 3 * i, "posts": 100 + i // 2, "impressions": 200, "reach": 80,
                "engagements": 12, "profile_views": 6, "link_clicks": 3,
            }  # fmt: skip
        elif account is IC:
            values = {"followers": 6000 + 12 * i, "posts": 300 + i}
        elif account is X:
            values = {"followers": 800 + i, "posts": 50 + i}
        elif account is XC:
            if day in XC_GAP:
                continue
            values = {"followers": 1200, "posts": 400 + 2 * i}
        elif account is L:
            values = {
                "followers": 300 + i, "impressions": 60, "engagements": 3, "profile_views": 2, "link_clicks": 1,
            }  # fmt: skip
        elif account is LC:
            values = {"followers": 900 + 3 * i}
        else:
            values = {
                "page_views": 330 if late else 300, "visits": 100, "visitors": 80,
                "social_visits": 25 if late else 20, "social_page_views": 50,
            }  # fmt: skip
        rows.extend(_rows(account, values, day))
    return rows


def network_rows() -> list[Observation]:
    """visits_from_<network> of the ga4 property (full warehouse only)."""
    rows: list[Observation] = []
    for day in days(START, END):
        late = day >= SPLIT
        values = {
            "visits_from_facebook": 12 if late else 10,
            "visits_from_instagram": 10 if late else 8,
            "visits_from_x": 3 if late else 2,
        }
        rows.extend(_rows(G, values, day))
    return rows


def write_token_file(db_path: Path) -> Path:
    """A TokenStore file beside the warehouse, as ``socialkpi collect`` leaves it."""
    path = db_path.with_name(db_path.name + ".tokens.json")
    data = {
        "linkedin/li1": {"access_token": TOKEN_SECRET, "refresh_token": None, "expires_at": TOKEN_EXPIRES.timestamp()},
        "x/corner_x": {"access_token": TOKEN_SECRET + "-x", "refresh_token": REFRESH_SECRET, "expires_at": None},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    path.chmod(0o600)
    return path


def build_warehouse(path: Path | str, *, with_runs: bool = True, full: bool = False) -> Path:
    """Create the seeded warehouse at ``path`` (a new file) and return its path.

    ``full``: also the instagram, x and linkedin accounts, visits per network, a metric note and
    a token file (see the module docstring).
    """
    path = Path(path)
    accounts = FULL_ACCOUNTS if full else ACCOUNTS
    with writing(path) as con:
        start_run(con, "run-1", RUN1_START, "collect")
        for account in accounts:
            outcome = AccountOutcome(
                "run-1", account, "ok", RUN1_START, COLLECTED_AT, since=START, until=END, requests=3
            )
            rows = account_rows(account) + (network_rows() if full and account is G else [])
            skipped = [NOTE] if full and account is I else []
            write_account_batch(con, outcome, rows, skipped)
        finish_run(
            con, "run-1", COLLECTED_AT, status="ok", accounts_ok=len(accounts), accounts_failed=0,
            rows_written=0, requests=3 * len(accounts),
        )  # fmt: skip
        if with_runs:
            start_run(con, "run-2", RUN2_START, "collect")
            for account in accounts:
                failed = account is B
                outcome = AccountOutcome(
                    "run-2", account, "failed" if failed else "ok", RUN2_START, RUN2_END,
                    error_kind="auth" if failed else None, reason=FAILED_REASON if failed else None,
                )  # fmt: skip
                write_account_batch(con, outcome)
            finish_run(
                con, "run-2", RUN2_END, status="partial", accounts_ok=len(accounts) - 1, accounts_failed=1,
                rows_written=0, requests=len(accounts),
            )  # fmt: skip
    if full:
        write_token_file(path)
        from warehouse.credentials import CredentialSource, record_credentials

        with writing(path) as con:  # where run-2 took the credentials from: a connection, a variable, nothing
            record_credentials(
                con,
                [
                    CredentialSource("x", "corner_x", "connect", store_key="corner_x"),
                    CredentialSource("linkedin", "li1", "env", variable="SOCIALKPI_LINKEDIN_TOKEN"),
                ],
                RUN2_START,
            )
    return path


def build_empty_warehouse(path: Path | str) -> Path:
    """A warehouse with the schema and no rows."""
    path = Path(path)
    with writing(path):
        pass
    return path


# --- Data health: days a source cannot have yet (issue 11, item 18) ---------------------------------------
# A warehouse shaped like the demo's last four weeks, 2026-02-11 .. HEALTH_END (the dashboard's default
# window); HEALTH_END is its newest stored day (the day of the latest collect):
#
# - HW "bakery.example" (ga4): page_views every day up to HEALTH_END - 1 (web analytics report up to
#   yesterday: HEALTH_END is "not yet available", not missing);
# - HY "Corner Bakery" (youtube): video_views up to HEALTH_END - 3 (YouTube Analytics lag three days) and
#   followers on HEALTH_END: HEALTH_END - 2 and - 1 are "not yet available";
# - HI "Rival Bakery" (instagram, competitor): followers every day but HEALTH_END: missing (a competitor's
#   numbers are "now" levels, which a collect on HEALTH_END would have stored);
# - HX "Corner Bakery" (x): followers every day but 2026-02-20: missing;
# - HF "Bakery Two" (facebook): followers and impressions up to 2026-03-05: 03-06 .. 03-09 missing,
#   HEALTH_END "not yet available" (Page Insights end yesterday).
HEALTH_START = SPLIT
HEALTH_END = END
HW = Account("ga4", "333", "bakery.example")
HY = Account("youtube", "UCcornerBakeryLyon00001A", "Corner Bakery")
HI = Account("instagram", "rival_ig", "Rival Bakery", competitor=True)
HX = Account("x", "corner_x", "Corner Bakery")
HF = Account("facebook", "222", "Bakery Two")
HEALTH_ACCOUNTS = (HW, HY, HI, HX, HF)
HF_LAST = date(2026, 3, 5)
HX_GAP = date(2026, 2, 20)
# account id -> (days missing, first missing, last missing, days not yet available) in the window
HEALTH_EXPECTED: dict[str, tuple[int, date | None, date | None, int]] = {
    HW.id: (0, None, None, 1),
    HY.id: (0, None, None, 2),
    HI.id: (1, END, END, 0),
    HX.id: (1, HX_GAP, HX_GAP, 0),
    HF.id: (4, date(2026, 3, 6), date(2026, 3, 9), 1),
}


def _health_rows(account: Account) -> list[Observation]:
    def obs(metric: str, source: str, day: date, value: float) -> Observation:
        return Observation(account.platform, account.id, metric, day, value, source, COLLECTED_AT)

    rows: list[Observation] = []
    for day in days(HEALTH_START, HEALTH_END):
        i = (day - HEALTH_START).days
        if account is HW and day < HEALTH_END:
            rows.append(obs("page_views", "screenPageViews", day, 300 + i))
        elif account is HY:
            if day <= HEALTH_END - timedelta(days=3):
                rows.append(obs("video_views", "views", day, 40 + i))
            if day == HEALTH_END:
                rows.append(obs("followers", "subscriberCount", day, 120))
        elif account is HI and day < HEALTH_END:
            rows.append(obs("followers", "followers_count", day, 6000 + i))
        elif account is HX and day != HX_GAP:
            rows.append(obs("followers", "public_metrics.followers_count", day, 800 + i))
        elif account is HF and day <= HF_LAST:
            rows += [obs("followers", "followers_count", day, 500 + i), obs("impressions", "page_media_view", day, 40)]
    return rows


def build_health_warehouse(path: Path | str) -> Path:
    """The warehouse above, in one successful run."""
    path = Path(path)
    with writing(path) as con:
        start_run(con, "run-1", RUN1_START, "collect")
        for account in HEALTH_ACCOUNTS:
            outcome = AccountOutcome(
                "run-1", account, "ok", RUN1_START, COLLECTED_AT, since=HEALTH_START, until=HEALTH_END, requests=1
            )
            write_account_batch(con, outcome, _health_rows(account))
        finish_run(
            con, "run-1", COLLECTED_AT, status="ok", accounts_ok=len(HEALTH_ACCOUNTS), accounts_failed=0,
            rows_written=0, requests=len(HEALTH_ACCOUNTS),
        )  # fmt: skip
    return path


# ---------------------------------------------------------------------------------------------
# Many accounts (more than the Data health calendar shows at once): 40 Facebook Pages with followers
# on MANY_START .. MANY_END (page n has 10 x n more than page 0; 35 to 39 are competitors), of which
# three miss days (MANY_GAPS)
# ---------------------------------------------------------------------------------------------

MANY_START, MANY_END = date(2026, 4, 1), date(2026, 4, 10)
MANY_ACCOUNTS = [Account("facebook", f"p{n:02d}", f"Page {n:02d}", competitor=n >= 35) for n in range(40)]
MANY_GAPS = {"p07": [date(2026, 4, d) for d in (2, 3, 4, 5, 6)], "p03": [date(2026, 4, 4), date(2026, 4, 5)],
             "p11": [date(2026, 4, 8)]}  # fmt: skip


def build_many_warehouse(path: Path | str) -> Path:
    path = Path(path)
    at = datetime(2026, 4, 10, 6, tzinfo=UTC)
    with writing(path) as con:
        start_run(con, "run-1", at, "collect")
        for n, account in enumerate(MANY_ACCOUNTS):
            gaps = MANY_GAPS.get(account.id, [])
            rows = [
                Observation("facebook", account.id, "followers", day, 100.0 + 10 * n + i, "page_fans", at)
                for i, day in enumerate(days(MANY_START, MANY_END))
                if day not in gaps
            ]
            write_account_batch(con, AccountOutcome("run-1", account, "ok", at, at), rows)
        finish_run(con, "run-1", at, status="ok", accounts_ok=40, accounts_failed=0, rows_written=0, requests=40)
    return path
