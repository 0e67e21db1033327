"""``socialkpi report``: one self-contained HTML file to mail (or open) after a week or a month.

Everything is inline (the pieces: :mod:`socialkpi.report_html`): CSS in a ``<style>`` element, charts
as hand-drawn ``<svg>`` polylines, no script, no image files, no external URL (a URL inside a failure
reason is defanged to ``http[:]//``).  Numbers come from :mod:`warehouse.queries` (the same functions as the
dashboard), the ROI section from ``warehouse.roi.roi_table`` when that module is installed.
Fit for cron: no terminal, no browser; the file is written atomically.

``socialkpi report --period last-week|last-month --out report.html [--config PATH]``:
``last-week`` is the previous Monday–Sunday, ``last-month`` the previous calendar month, both
in the business's time zone (``[business] timezone``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from socialkpi.report_format import COMPETITOR_COLUMNS, PLATFORM_COLUMNS
from socialkpi.report_html import card, escaped, generic_table, html_table, lines_from, svg_chart
from warehouse.formatting import fmt_day, fmt_fraction, fmt_moment, fmt_number, fmt_pct, fmt_plain

if TYPE_CHECKING:  # pandas and duckdb load only when a report is built: `socialkpi --help` stays fast

    pass

log = logging.getLogger("socialkpi.report")

PERIODS = ("last-week", "last-month")
EXIT_OK, EXIT_USAGE = 0, 2


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
    from warehouse import competitors, kpi_cards, kpis, queries, website

    moment = generated_at or datetime.now(UTC)
    platform_ids = queries.platforms(db_path)
    cards = kpi_cards.kpi_cards(db_path, start, end)
    days = (end - start).days + 1
    prev_start, prev_end = kpis.previous_period(start, end)
    name = f"{business} · " if business else ""
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escaped(name)}socialkpi report {start:%Y-%m-%d} – {end:%Y-%m-%d}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escaped(name)}Social and website report</h1>",
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
        breaks = kpis.metric_breaks(start, end, platform_ids, [metric])
        out.append(f"<h3>{escaped(title)}</h3>")
        level = metric == "followers"  # a level: sampled on collection days, drawn through the samples
        out.append(
            svg_chart(title, lines_from(frame, by), start, end, unit=unit, breaks=breaks, connect_gaps=level)
        )
        out.extend(
            f'<p class="muted">{escaped(b.label)} on {b.day:%d %b %Y}: values before and after are not comparable.</p>'
            for b in breaks
        )

    per_platform = queries.platform_kpis(db_path, start, end)
    if not per_platform.empty:
        out.append("<h2>Per platform</h2>")
        out.append(html_table(per_platform, PLATFORM_COLUMNS))

    networks = website.visits_by_network(db_path, start, end)
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

    comparison = competitors.competitor_comparison(db_path, start, end)
    out.append("<h2>Competitors</h2>")
    if comparison.empty:
        out.append('<p class="muted">No competitor accounts configured.</p>')
    else:
        share = competitors.share_of_voice(db_path, start, end)
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
        return f'<p class="muted">ROI could not be computed: {escaped(exc)}</p>'
    if frame is None or len(frame) == 0:
        return '<p class="muted">No ROI figures for this period: set [costs] in socialkpi.toml.</p>'
    return generic_table(frame)


def health_section(db_path: str | os.PathLike[str], start: date, end: date) -> str:
    from warehouse import health
    from warehouse.tokens import token_warnings

    fresh = health.freshness(db_path)
    last = f"{fresh.last_success_at:%Y-%m-%d %H:%M} UTC" if fresh.last_success_at else "never"
    out = [f"<p>Last fully successful collection: {escaped(last)}.</p>"]
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
    missing = health.missing_days(db_path, start, end)
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

    tokens = health.token_expiry(db_path, TokenStore.beside(db_path).path)
    if not tokens.empty:
        out.append("<h3>Access tokens (expiry only)</h3>")
        out.extend(f'<p class="warn">{escaped(w.message)}</p>' for w in token_warnings(tokens.itertuples()))
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
    skipped = health.skipped_metrics(db_path)
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
        from collectors.redaction import redact_userinfo

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
