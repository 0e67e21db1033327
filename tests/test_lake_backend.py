"""The warehouse in a DuckLake (``[warehouse] url``): settings, a sandbox collect into the lake against
the same collect into a DuckDB file (the dashboard's query functions, the export CSVs), status and
export on the lake, and the commands that refuse it.

The settings tests run everywhere; the others need the ``lake`` extra and a real PostgreSQL (tests/pg.py)
and skip loudly without them (tests/test_lake.py's ``lake_url``), as ``make test-lake`` runs them.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from socialkpi.cli import main
from socialkpi.sandbox import Sandbox
from socialkpi.sandbox.world import DEMO_ACCOUNTS
from socialkpi.settings import load_settings
from socialkpi.validation import ConfigError
from tests.pg import PostgresServer, postgres  # noqa: F401  (the fixture)
from tests.test_lake import lake_url  # noqa: F401  (the fixture)
from tests.test_shards import project
from warehouse import competitors, health, kpi_cards, queries, website
from warehouse.lake_config import Lake

TZ = "Europe/Paris"
DEMO = [(a.platform, a.id, a.competitor) for a in DEMO_ACCOUNTS]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SOCIALKPI_"):
            monkeypatch.delenv(name)
    yield tmp_path
    from warehouse import lake_store

    lake_store.close_all()


def lake_lines(url: str, data: Path) -> str:
    return f'path = "wh.duckdb"\nurl = "{url}"\ndata_path = "{data}/"'


# -- settings ---------------------------------------------------------------------------------------


def write_toml(folder: Path, warehouse: str) -> Path:
    path = folder / "socialkpi.toml"
    path.write_text(f'[business]\nname = "x"\n\n[warehouse]\n{warehouse}\n', encoding="utf-8")
    return path


def test_a_lake_url_with_data_path_gives_a_lake_and_keeps_the_file_path(tmp_path: Path) -> None:
    url = "ducklake:postgres:host=db dbname=kpi user=kpi password=s3cret"
    settings = load_settings(str(write_toml(tmp_path, f'url = "{url}"\ndata_path = "/srv/lake/"')), environ={})
    assert settings.lake == Lake(url, "/srv/lake/")
    assert settings.warehouse == settings.lake
    assert settings.db_path == tmp_path / "data/socialkpi.duckdb"  # the lock and the token store stay beside it
    assert "s3cret" not in str(settings.lake) and "s3cret" not in repr(settings.lake) and "s3cret" not in repr(settings)
    plain = load_settings(str(write_toml(tmp_path, 'path = "wh.duckdb"')), environ={})
    assert plain.lake is None and plain.warehouse == tmp_path / "wh.duckdb"


@pytest.mark.parametrize(
    ("lines", "key", "words"),
    [
        ('url = "ducklake:postgres:dbname=kpi"', "warehouse.data_path", "a lake needs data_path"),
        ('url = "ducklake:postgres:dbname=kpi"\ndata_path = ""', "warehouse.data_path", "a lake needs data_path"),
        ('url = "postgres://db/kpi"\ndata_path = "/srv/lake/"', "warehouse.url", "must be \"ducklake:postgres:"),
        ('url = "ducklake:postgres:  "\ndata_path = "/srv/lake/"', "warehouse.url", "libpq connection string"),
        ('url = 3\ndata_path = "/srv/lake/"', "warehouse.url", "must be"),
        ('data_path = "/srv/lake/"', "warehouse.data_path", "set [warehouse] url too"),
    ],
)
def test_a_wrong_lake_configuration_names_the_key(tmp_path: Path, lines: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(str(write_toml(tmp_path, lines)), environ={})
    assert caught.value.key == key and words in str(caught.value)


def test_a_wrong_lake_configuration_is_one_line_and_exit_2(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_toml(clean_env, 'url = "ducklake:postgres:dbname=kpi password=s3cret"')
    assert main(["collect"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warehouse.data_path" in err and "Traceback" not in err, err
    assert "s3cret" not in err


# -- the lake against the file ------------------------------------------------------------------------


def page_data(target: Any, start: date, end: date) -> dict[str, Any]:
    """What the dashboard's pages load (socialkpi/pages/common.py's loaders), from ``target``."""
    platforms = tuple(queries.platforms(target))
    keys = tuple(sorted((p, a) for p, a, _ in DEMO))[:5]
    out: dict[str, Any] = {
        "bounds": queries.date_bounds(target),
        "platforms": platforms,
        "cards": kpi_cards.kpi_cards(target, start, end, platforms),
        "series": queries.daily_series(target, start, end, ("followers", "impressions", "engagements"), platforms),
        "by_platform": queries.daily_by_platform(target, start, end, "impressions", platforms),
        "by_account": queries.daily_by_account(target, start, end, "followers", platforms, keys),
        "platform_kpis": queries.platform_kpis(target, start, end, platforms),
        "competitors": competitors.competitor_comparison(target, start, end, platforms),
        "share_of_voice": competitors.share_of_voice(target, start, end, platforms),
        "networks": website.visits_by_network(target, start, end, platforms),
        "network_reach": website.network_reach_and_visits(target, start, end, platforms),
        "snapshot": queries.kpi_snapshot(target, start, end, "month"),
        "coverage": health.coverage_report(target, start, end, most=50).accounts,
        "coverage_days": health.coverage_report(target, start, end, most=50).days,
        # (when each collect noted a skipped metric differs between the two collects: not compared)
        "skipped": health.skipped_metrics(target).drop(columns=["noted_at", "run_id"], errors="ignore"),
    }
    return out


def assert_same(lake: dict[str, Any], file: dict[str, Any]) -> None:
    assert lake.keys() == file.keys()
    for name, expected in file.items():
        got = lake[name]
        if isinstance(expected, pd.DataFrame):
            assert list(got.columns) == list(expected.columns), name
            pd.testing.assert_frame_equal(
                got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False, obj=name
            )
        elif isinstance(expected, list):
            assert len(got) == len(expected), name
            for one, other in zip(got, expected, strict=True):  # Kpi cards: floats summed in another order
                assert dataclasses.asdict(one) == {
                    k: pytest.approx(v, rel=1e-9) if isinstance(v, float) else v
                    for k, v in dataclasses.asdict(other).items()
                }, name
        else:
            assert got == expected, name


def collect_days() -> list[str]:
    today = datetime.now(UTC).astimezone(ZoneInfo(TZ)).date()
    return ["--since", str(today - timedelta(days=20)), "--until", str(today - timedelta(days=1))]


def test_a_collect_into_the_lake_gives_the_numbers_of_the_same_collect_into_a_file(
    clean_env: Path, sandbox: Sandbox, lake_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    days = collect_days()
    file_project = project(clean_env / "file", sandbox, DEMO)
    data = clean_env / "lake-data"
    lake_project = project(clean_env / "lake", sandbox, DEMO, lake_lines(lake_url, data))
    monkeypatch.chdir(file_project)
    assert main(["collect", *days]) == 0
    monkeypatch.chdir(lake_project)
    assert main(["collect", *days]) == 0
    out = capsys.readouterr().out
    assert f"{len(DEMO)} account(s) ok, 0 failed" in out
    assert not (lake_project / "wh.duckdb").exists(), "nothing is written to the file when the lake is configured"
    assert list(data.rglob("*.parquet")), "the rows are Parquet files under data_path"
    target = load_settings(str(lake_project / "socialkpi.toml")).warehouse
    assert isinstance(target, Lake)
    bounds = queries.date_bounds(file_project / "wh.duckdb")
    assert bounds is not None
    expected = page_data(file_project / "wh.duckdb", bounds.first, bounds.last)
    assert not expected["platform_kpis"].empty
    assert_same(page_data(target, bounds.first, bounds.last), expected)

    # a second, incremental collect into each: the same again (the lake's upsert is a MERGE on the natural key)
    assert main(["collect", *days]) == 0
    monkeypatch.chdir(file_project)
    assert main(["collect", *days]) == 0
    expected = page_data(file_project / "wh.duckdb", bounds.first, bounds.last)
    assert_same(page_data(target, bounds.first, bounds.last), expected)

    # the exports: the same CSV bytes from the lake as from the file
    for what in ("observations", "kpis"):
        monkeypatch.chdir(file_project)
        assert main(["export", "--table", what, "--out", str(clean_env / f"file-{what}.csv")]) == 0
        monkeypatch.chdir(lake_project)
        assert main(["export", "--table", what, "--out", str(clean_env / f"lake-{what}.csv")]) == 0
        file_csv = csv_rows(clean_env / f"file-{what}.csv")
        assert len(file_csv) > 10
        assert csv_rows(clean_env / f"lake-{what}.csv") == file_csv, what

    # the dashboard itself (dashboard.py under Streamlit's AppTest, as `socialkpi dashboard` starts it on a lake)
    file_pages = dashboard_pages(monkeypatch, file_project / "wh.duckdb", None)
    assert file_pages["overview"], "the overview shows KPI cards"
    assert dashboard_pages(monkeypatch, lake_project / "wh.duckdb", target) == file_pages


def dashboard_pages(monkeypatch: pytest.MonkeyPatch, db: Path, where: Lake | None) -> dict[str, Any]:
    """The metrics (label, value, delta) and table sizes every page of dashboard.py shows."""
    from streamlit.testing.v1 import AppTest
    from streamlit.util import calc_hash

    monkeypatch.setenv("SOCIALKPI_DB", str(db))
    monkeypatch.delenv("SOCIALKPI_DASHBOARD_PASSWORD", raising=False)
    if where is None:
        monkeypatch.delenv("SOCIALKPI_LAKE_URL", raising=False)
    else:
        monkeypatch.setenv("SOCIALKPI_LAKE_URL", where.url)
        monkeypatch.setenv("SOCIALKPI_LAKE_DATA_PATH", where.data_path)
    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard.py"), default_timeout=60)
    app.run()
    shown: dict[str, Any] = {}
    for page in ("overview", "platforms", "competitors", "website", "health"):
        app._page_hash = calc_hash(page)  # a callable page's hash is its url_path's (tests/test_dashboard.py)
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        assert not app.error, [e.value for e in app.error]
        shown[page] = [(m.label, m.value, m.delta) for m in app.metric]
        shown[page + " tables"] = [len(t.value) for t in app.dataframe]
    return shown


def csv_rows(path: Path) -> list[list[str]]:
    """A CSV's rows, without ``collected_at`` (when each collect ran differs between the two collects)."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    drop = rows[0].index("collected_at") if "collected_at" in rows[0] else None
    return [[cell for i, cell in enumerate(row) if i != drop] for row in rows]


# -- 4 shards at once into one lake, a reader looping meanwhile ----------------------------------------


def run_ids_by_account(target: Any) -> dict[tuple[str, str], list[str]]:
    from warehouse import db as wdb

    with wdb.reading(target) as con:
        found: dict[tuple[str, str], list[str]] = {}
        for run_id, platform, account_id, status in con.execute(
            "SELECT run_id, platform, account_id, status FROM run_accounts ORDER BY ALL"
        ).fetchall():
            assert status == "ok", (platform, account_id)
            found.setdefault((str(platform), str(account_id)), []).append(str(run_id))
        return found


def shard_collects(folder: Path, days: list[str], env: dict[str, str]) -> list[str]:
    """``socialkpi collect --shard K/4`` for K = 1..4 as 4 processes at once in ``folder``; their outputs."""
    import subprocess
    import sys

    shards = [
        subprocess.Popen(
            [sys.executable, "-m", "socialkpi.cli", "collect", "--shard", f"{k}/4", *days],
            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for k in (1, 2, 3, 4)
    ]  # fmt: skip
    outputs = []
    for shard in shards:
        out, err = shard.communicate(timeout=900)
        assert shard.returncode == 0, err[-3000:]
        outputs.append(out)
    assert sum(int(o.split(" account(s) ok")[0].rsplit(" ", 1)[-1]) for o in outputs) == len(DEMO), outputs
    return outputs


def test_four_shard_collects_at_once_into_one_lake_while_a_reader_loops(
    clean_env: Path, sandbox: Sandbox, lake_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`socialkpi collect --shard K/4` for K = 1..4 as 4 processes at once into one new lake (they make its
    tables at the same time), then 4 at once again for the next days while a reader process loops over the
    dashboard's query functions: every row once (no duplicate key, seen by the reader or at the end), no
    reader error, each account in exactly one shard's run of each round, the numbers of the same two
    unsharded collects into a DuckDB file."""
    import json
    import subprocess
    import sys

    today = datetime.now(UTC).astimezone(ZoneInfo(TZ)).date()
    first = ["--since", str(today - timedelta(days=20)), "--until", str(today - timedelta(days=11))]
    second = ["--since", str(today - timedelta(days=10)), "--until", str(today - timedelta(days=1))]
    file_project = project(clean_env / "file", sandbox, DEMO)
    monkeypatch.chdir(file_project)
    assert main(["collect", *first]) == 0
    assert main(["collect", *second]) == 0
    capsys.readouterr()
    bounds = queries.date_bounds(file_project / "wh.duckdb")
    assert bounds is not None
    expected = page_data(file_project / "wh.duckdb", bounds.first, bounds.last)

    data = clean_env / "lake-data"
    lake_project = project(clean_env / "lake", sandbox, DEMO, lake_lines(lake_url, data))
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    shard_collects(lake_project, first, env)  # 4 at once into a lake without tables yet
    stop = clean_env / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.lake_reader", lake_url, f"{data}/", str(bounds.first), str(bounds.last),
         str(stop)],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        shard_collects(lake_project, second, env)
    finally:
        stop.touch()
        read_out, read_err = reader.communicate(timeout=900)
    assert reader.returncode == 0, read_err[-3000:]
    seen = json.loads(read_out.strip().splitlines()[-1])
    assert seen["errors"] == [] and seen["duplicates"] == 0 and seen["missing"] == 0, seen
    assert seen["loops"] >= 1, seen

    target = Lake(lake_url, f"{data}/")
    runs = run_ids_by_account(target)
    assert set(runs) == {(p, a) for p, a, _ in DEMO} and all(len(r) == 2 for r in runs.values())  # once a round
    assert len({run for r in runs.values() for run in r}) == 8  # 4 runs a round, one per shard
    from warehouse import db as wdb

    with wdb.reading(target) as con:
        dup = con.execute(
            "SELECT count(*) FROM (SELECT platform, account_id, metric, observed_on FROM observations"
            " GROUP BY ALL HAVING count(*) > 1)"
        ).fetchall()[0][0]
        assert dup == 0
    assert_same(page_data(target, bounds.first, bounds.last), expected)
    monkeypatch.chdir(file_project)
    assert main(["export", "--table", "observations", "--out", str(clean_env / "file.csv")]) == 0
    monkeypatch.chdir(lake_project)
    assert main(["export", "--table", "observations", "--out", str(clean_env / "lake.csv")]) == 0
    assert csv_rows(clean_env / "lake.csv") == csv_rows(clean_env / "file.csv")


# -- status, doctor and the commands that refuse the lake -------------------------------------------------


def test_status_works_on_the_lake_and_file_only_commands_refuse_it(
    clean_env: Path, sandbox: Sandbox, lake_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    accounts = [("x", "cornerbakery", False), ("mastodon", "cornerbakery@mastodon.social", False)]
    url = lake_url + " password=s3cret-pw"  # trust authentication ignores it; it must never be shown
    lake_project = project(clean_env / "lake", sandbox, accounts, lake_lines(url, clean_env / "lake-data"))
    monkeypatch.chdir(lake_project)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "No warehouse yet in the lake ducklake:postgres:" in out and "s3cret-pw" not in out, out
    assert main(["collect", *collect_days()]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    captured = capsys.readouterr()
    assert "Warehouse: lake ducklake:postgres:" in captured.out and "password=<redacted>" in captured.out
    assert re.search(r" ok +2 ok, 0 failed, ", captured.out), captured.out  # the run, read from the lake
    for platform, account_id, _ in accounts:  # each account read from the lake, not "not collected yet"
        line = next(x for x in captured.out.splitlines() if x.split()[:2] == [platform, account_id])
        assert "newest day 20" in line and line.endswith(", ok"), line
    assert "s3cret-pw" not in captured.out + captured.err
    for command in (["backup", "--out", str(clean_env / "b")], ["import-csv", "x.csv"], ["report"],
                    ["log-time", "x", "1"], ["restore", str(clean_env / "b")]):  # fmt: skip
        code = main(command)
        captured = capsys.readouterr()
        assert code == 2, (command, captured)
        assert captured.err.count("\n") == 1, captured.err
        assert "works on the DuckDB file only, not yet on a lake" in captured.err and "Traceback" not in captured.err
        assert "s3cret-pw" not in captured.err
    assert not (lake_project / "wh.duckdb").exists()


# -- the buckets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "account_id"),
    [("facebook", "104512345678901"), ("x", "cornerbakery"), ("mastodon", "cornerbakery@mastodon.social"),
     ("umami", "6f1c2b7e-3d4a-4e5b-9c8d-1a2b3c4d5e6f"), ("x", "é漢字"), *[(p, a) for p, a, _ in DEMO]],
)  # fmt: skip
def test_an_accounts_bucket_is_its_shard_of_12_in_python_and_in_sql(platform: str, account_id: str) -> None:
    """Shard K of N (N dividing 12) holds exactly the buckets b with b % N == K - 1, and the SQL that files
    the lake's rows into buckets agrees with Python's."""
    import duckdb

    from socialkpi.shards import shard_of
    from warehouse.lake_store import BUCKET_SQL, BUCKETS, bucket_of

    b = bucket_of(platform, account_id)
    assert b == shard_of(platform, account_id, BUCKETS) - 1
    for n in (1, 2, 3, 4, 6, 12):
        assert b % n == shard_of(platform, account_id, n) - 1
    con = duckdb.connect()
    try:
        sql = f"SELECT {BUCKET_SQL} FROM (SELECT ? AS platform, ? AS account_id)"
        assert con.execute(sql, [platform, account_id]).fetchall() == [(b,)]
    finally:
        con.close()
