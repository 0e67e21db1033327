"""CSV exports: the contract's observations CSV and the kpis CSV, on real DuckDB files."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.observation import Account, Observation
from tests import seed
from warehouse import export, queries
from warehouse.access import WarehouseMissing
from warehouse.db import writing
from warehouse.load import AccountOutcome, write_account_batch
from warehouse.snapshot import SNAPSHOT_COLUMNS

HEADER = "date,platform,account_id,account_name,competitor,metric,value,source_metric,collected_at"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
END_DAY = seed.END


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed.build_warehouse(tmp_path_factory.mktemp("wh") / "seed.duckdb")


def read_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def observations_text(db: Path, **kw: date | None) -> str:
    buffer = io.StringIO()
    export.write_observations_csv(db, buffer, **kw)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_observations_header_sorting_and_formats(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "obs.csv"
    count = export.write_observations_csv(db, out)
    raw = out.read_bytes()
    assert raw.startswith(HEADER.encode() + b"\n")
    rows = read_rows(raw.decode("utf-8"))
    assert count == len(rows) == sum(len(seed.account_rows(a)) for a in seed.ACCOUNTS)
    keys = [(r["date"], r["platform"], r["account_id"], r["metric"]) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert rows[0] == {
        "date": "2026-01-10", "platform": "facebook", "account_id": "111", "account_name": "Corner Bakery",
        "competitor": "false", "metric": "engagements", "value": "10", "source_metric": "page_post_engagements",
        "collected_at": "2026-03-10T06:30:00Z",
    }  # fmt: skip
    assert all(r["value"].isdigit() for r in rows)  # counts without a decimal point
    assert {r["collected_at"] for r in rows} == {"2026-03-10T06:30:00Z"}
    assert {r["competitor"] for r in rows if r["account_id"] == "999"} == {"true"}
    assert {r["competitor"] for r in rows if r["account_id"] != "999"} == {"false"}


def test_observations_since_until(db: Path) -> None:
    rows = read_rows(observations_text(db, since=date(2026, 3, 9), until=date(2026, 3, 9)))
    assert {r["date"] for r in rows} == {"2026-03-09"}
    assert len(rows) == 6 + 1 + 5  # 111, the competitor, the ga4 property (222 ends 03-08)
    assert {r["date"] for r in read_rows(observations_text(db, since=date(2026, 3, 10)))} == {"2026-03-10"}
    assert max(r["date"] for r in read_rows(observations_text(db, until=date(2026, 1, 11)))) == "2026-01-11"
    empty = observations_text(db, since=date(2027, 1, 1))
    assert empty == HEADER + "\n"


def test_every_kind_of_out_gets_the_same_bytes(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    export.write_observations_csv(db, str(path), since=date(2026, 3, 1))
    binary = io.BytesIO()
    export.write_observations_csv(db, binary, since=date(2026, 3, 1))
    text = io.StringIO()
    export.write_observations_csv(db, text, since=date(2026, 3, 1))
    assert path.read_bytes() == binary.getvalue() == text.getvalue().encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]  # no temp file left behind


def test_missing_warehouse_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    with pytest.raises(WarehouseMissing):
        export.write_observations_csv(tmp_path / "none.duckdb", out)
    assert list(tmp_path.iterdir()) == []


def _one_account_db(folder: Path, account: Account, values: list[float], moment: datetime) -> Path:
    path = folder / "h.duckdb"
    rows = [
        Observation(account.platform, account.id, "impressions", date(2026, 1, 1 + i), v, "=src", moment)
        for i, v in enumerate(values)
    ]
    with writing(path) as con:
        write_account_batch(con, AccountOutcome("r", account, "ok", moment, moment), rows)
    return path


def neutral(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30
)
formulaish = st.sampled_from(["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", '=HYPERLINK("http://x")'])
numbers = st.one_of(
    st.integers(min_value=-(10**15), max_value=10**15).map(float),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.one_of(cell_text, formulaish),
    account_id=st.one_of(cell_text, formulaish),
    values=st.lists(numbers, min_size=1, max_size=5),
    micros=st.sampled_from([0, 250_000]),
)
def test_cells_round_trip_and_formulas_are_neutralised(
    name: str, account_id: str, values: list[float], micros: int
) -> None:
    moment = datetime(2026, 3, 10, 6, 30, 0, micros, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        path = _one_account_db(Path(folder), Account("x", account_id, name, competitor=True), values, moment)
        text = observations_text(path)
        kpis = io.StringIO()
        export.write_kpis_csv(path, kpis)
    rows = read_rows(text)
    assert len(rows) == len(values)
    for row, value in zip(rows, values, strict=True):
        assert row["account_name"] == neutral(name)
        assert row["account_id"] == neutral(account_id)
        assert row["source_metric"] == "'=src"
        assert row["competitor"] == "true"
        assert float(row["value"]) == value
        if value == int(value):
            assert row["value"] == str(int(value))  # no decimal point, no exponent
        expected = "2026-03-10T06:30:00Z" if not micros else "2026-03-10T06:30:00.250000Z"
        assert row["collected_at"] == expected
    account_rows = [r for r in read_rows(kpis.getvalue()) if r["platform"] != "all"]
    assert {r["account_name"] for r in account_rows} == {neutral(name)}


def test_kpis_csv_columns_and_values(db: Path) -> None:
    buffer = io.StringIO()
    count = export.write_kpis_csv(db, buffer, since=date(2026, 3, 1), until=END_DAY)
    text = buffer.getvalue()
    assert text.splitlines()[0] == ",".join(SNAPSHOT_COLUMNS)
    rows = read_rows(text)
    assert count == len(rows) == 5
    total = rows[-1]
    assert total == {
        "period": "2026-03", "period_start": "2026-03-01", "period_end": "2026-03-10",
        "platform": "all", "account_id": "all", "account_name": "All own accounts", "competitor": "false",
        "followers": "1673", "followers_change": "26", "impressions": "1820", "reach_avg_daily": "66",
        "engagements": "140", "engagement_rate": "0.0769", "profile_views": "40", "link_clicks": "20",
        "page_views": "3300", "visits": "1000", "visitors_avg_daily": "80", "social_visits": "250",
        "social_page_views": "500", "social_share_of_visits": "0.25",
    }  # fmt: skip
    rival = next(r for r in rows if r["account_id"] == "999")
    assert rival["competitor"] == "true" and rival["impressions"] == "" and rival["followers"] == "5590"


def test_kpis_csv_matches_snapshot_and_periods(db: Path) -> None:
    for period in ("month", "week"):
        buffer = io.StringIO()
        export.write_kpis_csv(db, buffer, period=period)  # type: ignore[arg-type]
        rows = read_rows(buffer.getvalue())
        snap = queries.kpi_snapshot(db, period=period)  # type: ignore[arg-type]
        assert [r["period"] for r in rows] == list(snap["period"])
        assert [r["account_id"] for r in rows] == list(snap["account_id"])
        got = [float(r["impressions"]) if r["impressions"] else None for r in rows]
        want = [None if v != v else v for v in snap["impressions"]]
        assert got == want
    with pytest.raises(ValueError):
        export.write_kpis_csv(db, io.StringIO(), period="day")  # type: ignore[arg-type]


def test_kpis_csv_empty_warehouse(tmp_path: Path) -> None:
    empty = seed.build_empty_warehouse(tmp_path / "e.duckdb")
    buffer = io.StringIO()
    assert export.write_kpis_csv(empty, buffer) == 0
    assert buffer.getvalue() == ",".join(SNAPSHOT_COLUMNS) + "\n"


# ---------------------------------------------------------------------------------------------
# The aggregates (schema 3) and the dashboard's download give the same bytes as the raw table
# ---------------------------------------------------------------------------------------------


def _all_exports(db: Path) -> list[bytes]:
    out = []
    for kw in ({}, {"since": date(2026, 3, 3), "until": date(2026, 3, 8)}):
        obs, kpis_m, kpis_w = io.BytesIO(), io.BytesIO(), io.BytesIO()
        export.write_observations_csv(db, obs, **kw)  # type: ignore[arg-type]
        export.write_kpis_csv(db, kpis_m, **kw)  # type: ignore[arg-type]
        export.write_kpis_csv(db, kpis_w, period="week", **kw)  # type: ignore[arg-type]
        out += [obs.getvalue(), kpis_m.getvalue(), kpis_w.getvalue()]
    return out


def test_exports_from_the_aggregates_equal_the_raw_exports(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _all_exports(db)
    import warehouse.access

    monkeypatch.setattr(warehouse.access, "AGGREGATES_VERSION", 10**6)
    assert _all_exports(db) == fast


@pytest.mark.parametrize("period", ["month", "week"])
@pytest.mark.parametrize("window", [(None, None), (date(2026, 3, 2), date(2026, 3, 9))])
def test_the_download_built_from_the_fetched_snapshot_is_the_export(
    db: Path, period: str, window: tuple[date | None, date | None]
) -> None:
    since, until = window
    exported = io.BytesIO()
    export.write_kpis_csv(db, exported, since=since, until=until, period=period)  # type: ignore[arg-type]
    snapshot = queries.kpi_snapshot(db, since, until, period)  # type: ignore[arg-type]
    assert export.kpis_frame_csv(snapshot) == exported.getvalue()


def test_the_download_of_an_empty_snapshot_is_the_header(tmp_path: Path) -> None:
    empty = seed.build_empty_warehouse(tmp_path / "e.duckdb")
    assert export.kpis_frame_csv(queries.kpi_snapshot(empty)) == (",".join(SNAPSHOT_COLUMNS) + "\n").encode()


def test_the_export_module_does_not_import_pandas() -> None:
    import subprocess
    import sys

    code = "import sys, warehouse.export; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.one_of(cell_text, formulaish),
    # quarters up to 1e12: every sum is exact, so the order DuckDB adds them in cannot show (with
    # arbitrary doubles the two paths may differ in the last digit of a sum, as two runs may)
    values=st.lists(st.integers(-(10**12), 10**12).map(lambda n: n / 4), min_size=1, max_size=6),
    metric=st.sampled_from(["impressions", "followers", "reach", "posts"]),
)
def test_cells_are_the_same_whether_or_not_the_aggregates_are_read(name: str, values: list[float], metric: str) -> None:
    import warehouse.access

    moment = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "h.duckdb"
        rows = [Observation("x", "1", metric, date(2026, 1, 1 + i), v, "=src", moment) for i, v in enumerate(values)]
        with writing(path) as con:
            write_account_batch(con, AccountOutcome("r", Account("x", "1", name), "ok", moment, moment), rows)
        fast = _all_exports(path)
        saved = warehouse.access.AGGREGATES_VERSION
        warehouse.access.AGGREGATES_VERSION = 10**6
        try:
            assert _all_exports(path) == fast
        finally:
            warehouse.access.AGGREGATES_VERSION = saved
