"""``socialkpi report``: one self-contained HTML file to mail (or open) after a week or a month.

Everything is inline: CSS in a ``<style>`` element, charts as hand-drawn ``<svg>`` polylines, no
script, no image files, no external URL (a URL inside a failure reason is defanged to
``http[:]//``).  Numbers come from :mod:`warehouse.queries` (the same functions as the
dashboard), the ROI section from ``warehouse.roi.roi_table`` when that module is installed.
Fit for cron: no terminal, no browser; the file is written atomically.

``socialkpi report --period last-week|last-month --out report.html [--config PATH]``:
``last-week`` is the previous Monday–Sunday, ``last-month`` the previous calendar month, both
in the business's time zone (``[business] timezone``).
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from socialkpi.report_format import (
    COMPETITOR_COLUMNS,
    PLATFORM_COLUMNS,
    Column,
    fmt_day,
    fmt_fraction,
    fmt_moment,
    fmt_number,
    fmt_pct,
    fmt_plain,
)

if TYPE_CHECKING:  # pandas and duckdb load only when a report is built: `socialkpi --help` stays fast
    import pandas as pd

    from warehouse import queries

log = logging.getLogger("socialkpi.report")

PERIODS = ("last-week", "last-month")
EXIT_OK, EXIT_USAGE = 0, 2
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#be185d", "#4b5563")

_URL = re.compile(r"(?i)\b(https?)://")


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """``last-week``: the Monday–Sunday before ``today``'s week; ``last-month``: the calendar month
    before ``today``'s month.  Both ends included."""
    if period == "last-week":
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if period == "last-month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")


# ---------------------------------------------------------------------------------------------
# HTML pieces
# ---------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """Escaped text with any URL scheme defanged, so the file holds no external reference."""
    return html.escape(_URL.sub(lambda m: m.group(1) + "[:]//", str(value)))


def html_table(frame: pd.DataFrame, columns: Sequence[Column], *, css: str = "") -> str:
    present = [c for c in columns if c[0] in frame.columns]
    head = "".join(f"<th>{_text(title)}</th>" for _, title, _ in present)
    body = []
    for record in frame.to_dict("records"):
        cells = "".join(f"<td>{_text(fmt(record[name]))}</td>" for name, _, fmt in present)
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def generic_table(frame: pd.DataFrame) -> str:
    """Any frame (the ROI table): ``*_pct`` as %, numbers with separators, the rest as text."""
    import pandas as pd

    columns: list[Column] = []
    for name in frame.columns:
        if str(name).endswith("_pct"):
            columns.append((name, name.replace("_", " "), fmt_pct))
        elif pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name]):
            columns.append((name, name.replace("_", " "), fmt_number))
        else:
            columns.append((name, str(name).replace("_", " "), fmt_plain))
    return html_table(frame, columns)


def card(kpi: queries.Kpi) -> str:
    delta = kpi.delta
    trend = "" if delta is None else ("up" if delta.startswith("+") else "down")
    days = (kpi.end - kpi.start).days + 1
    delta_html = (
        f'<div class="delta {trend}">{_text(delta)} vs previous {days} days</div>'
        if delta
        else '<div class="delta">no previous value</div>'
    )
    return (
        f'<div class="card" data-kpi="{_text(kpi.key)}"><div class="label">{_text(kpi.title)}</div>'
        f'<div class="value">{_text(kpi.shown)}</div>{delta_html}</div>'
    )


@dataclass(frozen=True)
class Line:
    name: str
    points: list[tuple[date, float]]


def svg_chart(
    title: str,
    lines: Sequence[Line],
    start: date,
    end: date,
    *,
    unit: str,
    breaks: Sequence[queries.MetricBreak] = (),
    width: int = 900,
    height: int = 200,
    connect_gaps: bool = False,
) -> str:
    """A small line chart as inline SVG: one polyline per line (broken at missing days, unless
    ``connect_gaps``: a level such as followers sampled by cron every few days is drawn through its
    samples), the y range from 0 to the largest value, dashed rules with a label at metric breaks."""
    left, right, top, bottom = 64, 12, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max((end - start).days, 1)
    values = [v for line in lines for _, v in line.points]
    top_value = max(values) if values else 1.0
    top_value = top_value if top_value > 0 else 1.0

    def x(day: date) -> float:
        return left + (day - start).days / span * plot_w

    def y(value: float) -> float:
        return top + plot_h - (value / top_value) * plot_h

    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_text(title)}"><title>{_text(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="axis">{_text(fmt_number(top_value))}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>',
        f'<text x="{left}" y="{top + plot_h + 14}" class="axis">{start:%d %b}</text>',
        f'<text x="{left + plot_w}" y="{top + plot_h + 14}" text-anchor="end" class="axis">{end:%d %b %Y}</text>',
        f'<text x="{left + 4}" y="{top + 10}" class="axis">{_text(unit)}</text>',
    ]
    for b in breaks:
        bx = x(b.day)
        parts.append(
            f'<line x1="{bx:.1f}" y1="{top}" x2="{bx:.1f}" y2="{top + plot_h}" stroke="#6b7280" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{bx + 3:.1f}" y="{top + 22}" class="note">{_text(b.label)} ({b.day:%d %b %Y})</text>'
        )
    legend_x = left
    for i, line in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        segment: list[str] = []
        previous: date | None = None
        for day, value in sorted(line.points):
            if not connect_gaps and previous is not None and (day - previous).days > 1 and segment:
                parts.append(_polyline(segment, color))
                segment = []
            segment.append(f"{x(day):.1f},{y(value):.1f}")
            previous = day
        if segment:
            parts.append(_polyline(segment, color))
        parts.append(
            f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="{height - 5}" class="axis">{_text(line.name)}</text>'
        )
        legend_x += 24 + 7 * len(line.name)
    parts.append("</svg>")
    return "".join(parts)


def _polyline(points: list[str], color: str) -> str:
    if len(points) == 1:
        cx, cy = points[0].split(",")
        return f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>'
    return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(points)}"/>'


def lines_from(frame: pd.DataFrame, by: str) -> list[Line]:
    """``date``/``value`` rows grouped into one :class:`Line` per value of ``by``."""
    import pandas as pd

    out: list[Line] = []
    if frame.empty:
        return out
    for name, group in frame.groupby(by, sort=True):
        points = [(pd.Timestamp(d).date(), float(v)) for d, v in zip(group["date"], group["value"], strict=True)]
        out.append(Line(str(name), points))
    return out


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

CSS = """
body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#111827;max-width:980px;
margin:24px auto;padding:0 16px;line-height:1.4}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #e5e7eb;
padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}.sub{color:#6b7280;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;
min-width:170px;flex:1 1 170px}.label{font-size:12px;color:#6b7280}.value{font-size:24px;font-weight:600}
.delta{font-size:12px;color:#6b7280}.delta.up{color:#15803d}.delta.down{color:#b91c1c}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}th,td{border-bottom:1px solid #e5e7eb;
padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f9fafb}
.chart{display:block;margin:6px 0 14px}.axis{font-size:11px;fill:#4b5563}.note{font-size:11px;fill:#374151}
.warn{color:#b91c1c}.muted{color:#6b7280;font-size:13px}
"""


def build_report(
    db_path: str | os.PathLike[str],
    start: date,
    end: date,
    *,
    business: str = "",
    generated_at: datetime | None = None,
) -> str:
    """The whole HTML document for ``[start, end]``."""
    from warehouse import queries

    moment = generated_at or datetime.now(UTC)
    platform_ids = queries.platforms(db_path)
    cards = queries.kpi_cards(db_path, start, end)
    days = (end - start).days + 1
    prev_start, prev_end = queries.previous_period(start, end)
    name = f"{business} · " if business else ""
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_text(name)}socialkpi report {start:%Y-%m-%d} – {end:%Y-%m-%d}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_text(name)}Social and website report</h1>",
        f'<p class="sub">{start:%d %b %Y} – {end:%d %b %Y} ({days} days), compared with '
        f"{prev_start:%d %b} – {prev_end:%d %b %Y}. Own accounts only; competitors have their own section.</p>",
        "<h2>Key numbers</h2>",
        "<h3>Social</h3>",
        '<div class="cards">' + "".join(card(k) for k in cards if k.group == "social") + "</div>",
        "<h3>Website</h3>",
        '<div class="cards">' + "".join(card(k) for k in cards if k.group == "website") + "</div>",
    ]

    out.append("<h2>Trends</h2>")
    followers = queries.daily_by_platform(db_path, start, end, "followers")
    impressions = queries.daily_by_platform(db_path, start, end, "impressions")
    engagements = queries.daily_by_platform(db_path, start, end, "engagements")
    web = queries.daily_series(db_path, start, end, ("page_views", "visits", "social_visits"))
    for title, frame, by, unit, metric in (
        ("Followers per platform", followers, "platform", "followers", "followers"),
        ("Impressions per platform", impressions, "platform", "times shown per day", "impressions"),
        ("Engagements per platform", engagements, "platform", "interactions per day", "engagements"),
        ("Website page views, visits and visits from social", web, "metric", "per day", "page_views"),
    ):
        if frame.empty:
            continue
        breaks = queries.metric_breaks(start, end, platform_ids, [metric])
        out.append(f"<h3>{_text(title)}</h3>")
        level = metric == "followers"  # a level: sampled on collection days, drawn through the samples
        out.append(
            svg_chart(title, lines_from(frame, by), start, end, unit=unit, breaks=breaks, connect_gaps=level)
        )
        out.extend(
            f'<p class="muted">{_text(b.label)} on {b.day:%d %b %Y}: values before and after are not comparable.</p>'
            for b in breaks
        )

    per_platform = queries.platform_kpis(db_path, start, end)
    if not per_platform.empty:
        out.append("<h2>Per platform</h2>")
        out.append(html_table(per_platform, PLATFORM_COLUMNS))

    networks = queries.visits_by_network(db_path, start, end)
    if not networks.empty:
        out.append("<h2>Website visits from social networks</h2>")
        out.append(
            html_table(
                networks,
                [
                    ("network", "network", fmt_plain),
                    ("visits", "visits", fmt_number),
                    ("change_pct", "change", fmt_pct),
                    ("share_of_social", "share of social visits", fmt_fraction),
                ],
            )
        )

    comparison = queries.competitor_comparison(db_path, start, end)
    out.append("<h2>Competitors</h2>")
    if comparison.empty:
        out.append('<p class="muted">No competitor accounts configured.</p>')
    else:
        share = queries.share_of_voice(db_path, start, end)
        out.append(
            html_table(
                share,
                [
                    ("platform", "platform", fmt_plain),
                    ("own_followers", "your followers", fmt_number),
                    ("competitor_followers", "competitors' followers", fmt_number),
                    ("share_of_voice", "share of voice", fmt_fraction),
                ],
            )
        )
        out.append(html_table(comparison, COMPETITOR_COLUMNS))

    out.append("<h2>Return on investment (estimated)</h2>")
    out.append(roi_section(db_path, start, end))

    out.append("<h2>Data health</h2>")
    out.append(health_section(db_path, start, end))
    out.append(
        f'<p class="muted">Generated {moment:%Y-%m-%d %H:%M} UTC by socialkpi. '
        "Every KPI is defined in docs/kpis.md.</p>"
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def roi_section(db_path: str | os.PathLike[str], start: date, end: date) -> str:
    try:
        from warehouse.roi import roi_table

        frame = roi_table(db_path, start, end)
    except Exception as exc:  # an ROI that cannot be computed never loses the rest of the report
        log.warning("ROI section skipped: %s", exc)
        return f'<p class="muted">ROI could not be computed: {_text(exc)}</p>'
    if frame is None or len(frame) == 0:
        return '<p class="muted">No ROI figures for this period: set [costs] in socialkpi.toml.</p>'
    return generic_table(frame)


def health_section(db_path: str | os.PathLike[str], start: date, end: date) -> str:
    from warehouse import queries

    fresh = queries.freshness(db_path)
    last = f"{fresh.last_success_at:%Y-%m-%d %H:%M} UTC" if fresh.last_success_at else "never"
    out = [f"<p>Last fully successful collection: {_text(last)}.</p>"]
    failing = fresh.failing
    if len(failing):
        out.append(f'<p class="warn">{len(failing)} account(s) failed in their latest run:</p>')
        out.append(
            html_table(
                failing,
                [
                    ("platform", "platform", fmt_plain),
                    ("account_name", "account", fmt_plain),
                    ("reason", "reason", fmt_plain),
                    ("last_ok_at", "last success", fmt_moment),
                ],
            )
        )
    else:
        out.append("<p>Every account's latest collection succeeded.</p>")
    missing = queries.missing_days(db_path, start, end)
    gaps = missing[missing["days_missing"] > 0]
    if len(gaps):
        out.append("<h3>Days with nothing stored</h3>")
        out.append(
            html_table(
                gaps,
                [
                    ("platform", "platform", fmt_plain),
                    ("account_name", "account", fmt_plain),
                    ("days_missing", "days missing", fmt_number),
                    ("first_missing", "first", fmt_day),
                    ("last_missing", "last", fmt_day),
                ],
            )
        )
    from collectors.tokens import TokenStore

    tokens = queries.token_expiry(db_path, TokenStore.beside(db_path).path)
    if not tokens.empty:
        out.append("<h3>Access tokens (expiry only)</h3>")
        out.extend(f'<p class="warn">{_text(w.message)}</p>' for w in queries.token_warnings(tokens.itertuples()))
        out.append(
            html_table(
                tokens,
                [
                    ("platform", "platform", fmt_plain),
                    ("account_name", "account", fmt_plain),
                    ("expires_at", "expires", fmt_moment),
                    ("days_left", "days left", fmt_number),
                    ("refreshable", "renewed automatically", fmt_plain),
                    ("refresh_expires_at", "refresh token expires", fmt_moment),
                ],
            )
        )
    skipped = queries.skipped_metrics(db_path)
    if not skipped.empty:
        out.append("<h3>Metrics skipped</h3>")
        out.append(
            html_table(
                skipped,
                [
                    ("platform", "platform", fmt_plain),
                    ("account_name", "account", fmt_plain),
                    ("source_metric", "metric", fmt_plain),
                    ("note", "why", fmt_plain),
                ],
            )
        )
    return "\n".join(out)


def write_report(path: str | os.PathLike[str], document: str) -> None:
    """Write atomically, only over a regular file or nothing (:func:`warehouse.files.write_atomically`)."""
    from warehouse.files import write_atomically

    write_atomically(path, document, flag="--out")


# ---------------------------------------------------------------------------------------------
# Command line (wired into socialkpi.cli)
# ---------------------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    """Add ``report`` to the ``socialkpi`` subcommands."""
    p = subparsers.add_parser("report", help="write a self-contained HTML report (KPIs, charts, ROI, data health)")
    p.add_argument("--period", choices=PERIODS, default="last-week", help="the previous week or calendar month")
    p.add_argument(
        "--out", metavar="PATH", help="HTML file to write (default report.html; with --all-workspaces, a folder)"
    )
    p.add_argument("--config", metavar="PATH", help="socialkpi.toml to use")
    p.add_argument(
        "--mail-to",
        metavar="ADDR[,ADDR...]",
        help="also send the report by e-mail through [mail] of socialkpi.toml (charts, the file and the KPI CSV)",
    )


EXIT_MAIL = 1  # the report file is written, the e-mail could not be sent


def run(args: argparse.Namespace) -> int:
    """Build the report of ``args.period`` and write it to ``args.out``, and with ``--mail-to`` send it;
    0; 1 (one line) when the mail could not be sent, the file still written; 2 (one line) on bad usage or
    configuration, nothing written or sent."""
    from socialkpi.settings import load_settings, smtp_password
    from socialkpi.validation import ConfigError, mail_addresses
    from warehouse.db import WarehouseError
    from warehouse.files import OutputError, check_output

    if getattr(args, "out", None) is None:
        args.out = "report.html"
    try:
        settings = load_settings(getattr(args, "config", None), require_config=False)
        recipients: tuple[str, ...] = ()
        password = None
        if getattr(args, "mail_to", None) is not None:
            recipients = mail_addresses(args.mail_to)
            if settings.mail is None:
                where = settings.config_path or "socialkpi.toml"
                raise ConfigError(
                    "--mail-to", f"needs a [mail] table in {where} (host, port, security, user, from; see README)"
                )
            password = smtp_password(settings)
        today = getattr(args, "today", None) or datetime.now(settings.timezone).date()
        start, end = period_bounds(args.period, today)
        check_output(args.out, flag="--out")  # refused before the report is built
        if not settings.db_path.exists():
            raise ConfigError("report", f"no warehouse at {settings.db_path}: run `socialkpi collect` first")
        document = build_report(settings.db_path, start, end, business=settings.business_name)
        write_report(args.out, document)
    except (ConfigError, WarehouseError, OutputError, ValueError) as exc:
        from collectors.http import redact_userinfo

        sys.stderr.write(f"socialkpi: error: {redact_userinfo(str(exc))}\n")
        return EXIT_USAGE
    log.info("wrote the %s report (%s – %s) to %s", args.period, start, end, args.out)
    if not recipients or settings.mail is None:
        return EXIT_OK
    from socialkpi import report_mail
    from socialkpi.mail import MailError, send

    try:
        message = report_mail.build_message(
            settings.mail, recipients, settings.db_path, start, end,
            period=args.period, business=settings.business_name, report_html=document,
        )  # fmt: skip
        send(settings.mail, password, message, recipients)
    except (MailError, WarehouseError) as exc:
        sys.stderr.write(f"socialkpi: error: the report is written to {args.out} but was not mailed: {exc}\n")
        return EXIT_MAIL
    log.info("mailed the report to %s", ", ".join(recipients))
    return EXIT_OK
