"""socialkpi report: one self-contained HTML file, checked by parsing it (no browser needed)."""

from __future__ import annotations

import argparse
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from socialkpi import report, report_html
from tests import seed
from tests.seed import END, SPLIT
from warehouse import kpi_cards
from warehouse.kpis import METRIC_BREAKS


class Cards(HTMLParser):
    """Collects every tag name, and the label/value/delta text of each ``div.card[data-kpi]``."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.cards: dict[str, dict[str, str]] = {}
        self._card: str | None = None
        self._field: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        found = dict(attrs)
        if tag == "div" and found.get("data-kpi"):
            self._card = str(found["data-kpi"])
            self.cards[self._card] = {}
        elif tag == "div" and self._card and found.get("class", "").split()[:1] in (["label"], ["value"], ["delta"]):
            self._field = str(found["class"]).split()[0]

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._field:
            self._field = None
        elif tag == "div" and self._card:
            self._card = None

    def handle_data(self, data: str) -> None:
        if self._card and self._field:
            self.cards[self._card][self._field] = self.cards[self._card].get(self._field, "") + data


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed.build_warehouse(tmp_path_factory.mktemp("wh") / "full.duckdb", full=True)


def parse(document: str) -> Cards:
    parser = Cards()
    parser.feed(document)
    parser.close()
    return parser


def test_cards_match_the_queries_and_the_hand_computed_values(full: Path) -> None:
    document = report.build_report(full, SPLIT, END, business="Corner Bakery")
    parsed = parse(document)
    kpis = kpi_cards.kpi_cards(full, SPLIT, END)
    assert list(parsed.cards) == [k.key for k in kpis]
    for kpi in kpis:
        shown = parsed.cards[kpi.key]
        assert shown["label"] == kpi.title
        assert shown["value"] == kpi.shown
        assert shown["delta"] == f"{kpi.delta} vs previous 28 days"
    # and by hand (tests/seed.py)
    assert {k: c["value"] for k, c in parsed.cards.items()} == {k: v[3] for k, v in seed.FULL_CARDS_28D.items()}
    assert "Corner Bakery · Social and website report" in document
    assert "11 Feb 2026 – 10 Mar 2026 (28 days)" in document


def test_self_contained_no_script_no_url_no_secret(full: Path) -> None:
    document = report.build_report(full, SPLIT, END)
    parsed = parse(document)
    assert "script" not in parsed.tags and "<script" not in document.lower()
    assert not re.search(r"https?://", document, re.IGNORECASE)
    assert not {"img", "link", "iframe", "object", "embed"} & set(parsed.tags)
    assert not [a for a in parsed.attrs if a[0] in ("src", "href")]
    assert parsed.tags.count("svg") >= 3 and "polyline" in parsed.tags
    assert "style" in parsed.tags
    assert seed.TOKEN_SECRET not in document and seed.REFRESH_SECRET not in document
    # the sections
    for heading in ("Per platform", "Website visits from social networks", "Competitors", "Data health"):
        assert f"<h2>{heading}</h2>" in document
    assert seed.FAILED_REASON in document  # the failing account and why
    assert "website_clicks" in document  # the skipped metric
    assert "2026-04-01 12:00 UTC" in document  # the token expiry, never the token
    assert "linkedin · Corner Bakery: the access token expired on 2026-04-01" in document  # and the warning


def test_urls_in_text_are_defanged() -> None:
    assert (
        report_html.escaped("refused at https://graph.example/v21 <b>")
        == "refused at https[:]//graph.example/v21 &lt;b&gt;"
    )


def test_chart_annotates_metric_breaks() -> None:
    ig = next(b for b in METRIC_BREAKS if b.platform == "instagram")
    line = report_html.Line(
        "instagram", [(date(2025, 4, 19), 10.0), (date(2025, 4, 20), 12.0), (date(2025, 4, 23), 30.0)]
    )
    svg = report_html.svg_chart(
        "Impressions", [line], date(2025, 4, 15), date(2025, 4, 25), unit="per day", breaks=[ig]
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "stroke-dasharray" in svg and "Instagram: impressions became views (21 Apr 2025)" in svg
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 1  # broken at the missing days
    assert report_html.svg_chart("Empty", [], date(2025, 4, 15), date(2025, 4, 25), unit="x").startswith("<svg")


@pytest.mark.parametrize(
    ("period", "today", "want"),
    [
        ("last-week", date(2026, 3, 11), (date(2026, 3, 2), date(2026, 3, 8))),  # a Wednesday
        ("last-week", date(2026, 3, 9), (date(2026, 3, 2), date(2026, 3, 8))),  # a Monday
        ("last-month", date(2026, 3, 5), (date(2026, 2, 1), date(2026, 2, 28))),
        ("last-month", date(2026, 1, 1), (date(2025, 12, 1), date(2025, 12, 31))),
    ],
)
def test_period_bounds(period: str, today: date, want: tuple[date, date]) -> None:
    assert report.period_bounds(period, today) == want


def test_run_writes_the_file(full: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no socialkpi.toml nor .env here: the warehouse comes from SOCIALKPI_DB
    monkeypatch.setenv("SOCIALKPI_DB", str(full))
    out = tmp_path / "report.html"
    args = argparse.Namespace(period="last-month", out=str(out), config=None, today=date(2026, 3, 5))
    assert report.run(args) == 0
    document = out.read_text(encoding="utf-8")
    assert "01 Feb 2026 – 28 Feb 2026 (28 days)" in document
    cards = parse(document).cards
    feb = {k.key: k.shown for k in kpi_cards.kpi_cards(full, date(2026, 2, 1), date(2026, 2, 28))}
    assert {k: c["value"] for k, c in cards.items()} == feb
    assert not list(tmp_path.glob(".socialkpi-report-*"))  # the temp file was renamed


def test_run_without_warehouse_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOCIALKPI_DB", str(tmp_path / "none.duckdb"))
    args = argparse.Namespace(period="last-week", out=str(tmp_path / "r.html"), config=None)
    assert report.run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("socialkpi: error:") and "socialkpi collect" in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_add_parser() -> None:
    parser = argparse.ArgumentParser()
    report.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "--period", "last-month", "--out", "x.html", "--config", "s.toml"])
    assert (args.command, args.period, args.out, args.config) == ("report", "last-month", "x.html", "s.toml")
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "--period", "yesterday"])


def test_importing_the_command_stays_light() -> None:
    """cli.py imports add_parser for every `socialkpi` call: no pandas/duckdb before a report is built."""
    import subprocess
    import sys

    code = "import sys, socialkpi.report; print(sorted({'pandas', 'duckdb'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_followers_sampled_every_few_days_are_drawn_as_one_line() -> None:
    from datetime import date

    from socialkpi.report_html import Line, svg_chart

    line = Line("facebook", [(date(2026, 3, 1), 10.0), (date(2026, 3, 15), 12.0)])
    joined = svg_chart("f", [line], date(2026, 3, 1), date(2026, 3, 31), unit="followers", connect_gaps=True)
    broken = svg_chart("f", [line], date(2026, 3, 1), date(2026, 3, 31), unit="followers")
    assert joined.count("<polyline") == 1 and "<circle" not in joined
    assert broken.count("<circle") == 2 and "<polyline" not in broken
