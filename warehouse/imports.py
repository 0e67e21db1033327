"""``socialkpi import-csv``: numbers no API gives, loaded as platform ``manual``.

A newsletter's subscribers, a Nextdoor or Yelp follower count, the customers who said "saw you on
Instagram": written in a spreadsheet with the columns of the observations export
(``date,platform,account_id,account_name,competitor,metric,value,source_metric,collected_at``) and
loaded here.  Every row is validated first; one bad row rejects the whole file, nothing is
written, and every bad row is reported with its line number and the reason.  Loading is the
same keyed upsert as the collectors', so importing a file twice changes nothing, and a file
exported with ``socialkpi export --table observations`` (manual rows) imports back unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from collectors import EARLIEST_DAY
from collectors.observation import Account, Observation
from warehouse.db import writing
from warehouse.load import naive_utc, observations_table, upsert_table

COLUMNS = (
    "date",
    "platform",
    "account_id",
    "account_name",
    "competitor",
    "metric",
    "value",
    "source_metric",
    "collected_at",
)
REQUIRED = ("date", "account_id", "metric", "value")
MANUAL = "manual"
METRIC_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_ERRORS = 50
MAX_CELL = csv.field_size_limit()  # 131,072 characters: Python's csv module reads no longer cell


class ImportRejected(Exception):
    """The file was not loaded; ``errors`` lists ``(line, reason)`` for each bad row."""

    def __init__(self, path: str, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        shown = "; ".join(f"line {line}: {reason}" for line, reason in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{path}: nothing imported, {len(errors)} bad row(s): {shown}{more}")


@dataclass(frozen=True)
class ImportResult:
    rows: int  # valid rows in the file
    written: int  # rows inserted or changed


def _unneutralise(text: str) -> str:
    """Undo the export's formula guard (``'=x`` -> ``=x``) so an export imports back unchanged."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        return text[1:]
    return text


def parse_rows(
    text: str, *, now: datetime, today: date | None = None
) -> tuple[list[Observation], list[Account], list[tuple[int, str]]]:
    """Every row of ``text`` checked; ``today`` (default: ``now``'s UTC day) bounds the dates: a row
    dated after the day after it, or before :data:`collectors.EARLIEST_DAY`, is refused."""
    reader = csv.DictReader(io.StringIO(text))
    latest = (today or now.astimezone(UTC).date()) + timedelta(days=1)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        return [], [], [(reader.line_num + 1, _unreadable(exc))]
    errors: list[tuple[int, str]] = []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [], [(1, f"the header lacks {', '.join(missing)}: use the columns {','.join(COLUMNS)}")]
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        return [], [], [(1, f"unknown column(s) {', '.join(unknown)}: use only {','.join(COLUMNS)}")]
    rows: list[Observation] = []
    accounts: dict[str, Account] = {}
    seen: dict[tuple[str, str, date], int] = {}
    records = iter(reader)
    while True:
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:  # the reader cannot go on past it: report it with the rows before
            errors.append((reader.line_num + 1, _unreadable(exc)))  # line_num: the last line read whole
            break
        line = reader.line_num
        if len(errors) >= MAX_ERRORS:
            break
        if None in record:
            errors.append((line, "more cells than columns"))
            continue
        cell = {k.strip(): _unneutralise((v or "").strip()) for k, v in record.items() if k is not None}
        if not any(cell.values()):
            continue  # a blank line
        problem, obs, account = _row(cell, now, latest)
        if problem:
            errors.append((line, problem))
            continue
        assert obs is not None and account is not None
        key = (obs.account_id, obs.metric, obs.observed_on)
        if key in seen:
            errors.append((line, f"same account, metric and date as line {seen[key]}"))
            continue
        seen[key] = line
        known = accounts.get(account.id)
        if known is not None and known != account:
            errors.append(
                (line, f"account {account.id!r} has another name or competitor flag earlier in the file")
            )
            continue
        accounts[account.id] = account
        rows.append(obs)
    return rows, list(accounts.values()), errors


def _unreadable(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a cell is longer than {MAX_CELL:,} characters, the most a cell may hold: shorten it"
    return f"not readable as CSV ({exc}): save the file as CSV UTF-8"


def _row(cell: dict[str, str], now: datetime, latest: date) -> tuple[str, Observation | None, Account | None]:
    platform = cell.get("platform") or MANUAL
    if platform != MANUAL:
        return (
            f"platform must be {MANUAL!r} (collected platforms come from their APIs), not {platform!r}",
            None,
            None,
        )
    try:
        day = date.fromisoformat(cell["date"])
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", cell["date"]):
            raise ValueError
    except ValueError:
        return f"date {cell['date']!r} is not YYYY-MM-DD", None, None
    if day < EARLIEST_DAY:
        return f"date {day} is before {EARLIEST_DAY}: no platform has data that old (a typo?)", None, None
    if day > latest:
        return f"date {day} is after tomorrow ({latest}): that day has not happened yet", None, None
    account_id = cell["account_id"]
    if not account_id:
        return "account_id is empty: name the source, e.g. newsletter or yelp", None, None
    if len(account_id) > 200:
        return "account_id is longer than 200 characters", None, None
    metric = cell["metric"]
    if not METRIC_RE.fullmatch(metric):
        return (
            f"metric {metric!r} must be snake_case (a-z, 0-9, _), e.g. followers or newsletter_subscribers",
            None,
            None,
        )
    try:
        value = float(cell["value"].replace("_", "x"))
    except ValueError:
        return f"value {cell['value']!r} is not a number", None, None
    if not math.isfinite(value):
        return f"value {cell['value']!r} is not a finite number", None, None
    competitor_text = (cell.get("competitor") or "false").lower()
    if competitor_text not in ("true", "false"):
        return f"competitor must be true or false, not {cell.get('competitor')!r}", None, None
    collected_text = cell.get("collected_at") or ""
    collected_at = now
    if collected_text:
        try:
            collected_at = datetime.fromisoformat(collected_text.replace("Z", "+00:00"))
        except ValueError:
            return (
                f"collected_at {collected_text!r} is not an ISO 8601 time such as 2026-03-10T06:30:00Z",
                None,
                None,
            )
        if collected_at.tzinfo is None:
            return f"collected_at {collected_text!r} needs a time zone (end it with Z for UTC)", None, None
    name = cell.get("account_name") or account_id
    account = Account(platform=MANUAL, id=account_id, name=name, competitor=competitor_text == "true")
    obs = Observation(
        platform=MANUAL,
        account_id=account_id,
        metric=metric,
        observed_on=day,
        value=value,
        source_metric=cell.get("source_metric") or MANUAL,
        collected_at=collected_at.astimezone(UTC),
    )
    return "", obs, account


def import_csv(
    db_path: str | os.PathLike[str],
    csv_path: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> ImportResult:
    """Validate every row of ``csv_path``; load all of them in one transaction, or none.  ``today`` is the
    business's (default: the UTC day of ``now``): rows dated after the day after it are refused."""
    path = Path(csv_path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportRejected(str(path), [(0, f"cannot read the file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportRejected(str(path), [(line, "not UTF-8 text: save the file as CSV UTF-8")]) from None
    moment = now or datetime.now(UTC)
    rows, accounts, errors = parse_rows(text, now=moment, today=today)
    if errors:
        raise ImportRejected(str(path), errors)
    if not rows:
        raise ImportRejected(str(path), [(1, "no data rows")])
    run_id = "import-" + hashlib.sha256(raw).hexdigest()[:12]
    with writing(db_path) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for account in accounts:
                con.execute(
                    """
                    INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (platform, account_id) DO UPDATE SET
                        name = excluded.name, competitor = excluded.competitor, last_seen_at = excluded.last_seen_at
                    WHERE accounts.name IS DISTINCT FROM excluded.name
                       OR accounts.competitor IS DISTINCT FROM excluded.competitor
                    """,
                    [
                        MANUAL,
                        account.id,
                        account.name,
                        account.competitor,
                        naive_utc(moment),
                        naive_utc(moment),
                    ],
                )
            written = upsert_table(con, observations_table(rows, run_id))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return ImportResult(rows=len(rows), written=written)


__all__ = ["ImportRejected", "ImportResult", "import_csv"]
