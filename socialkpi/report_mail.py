"""The report as an e-mail (``socialkpi report --mail-to``): what Gmail, Outlook and Apple Mail show right.

The message (RFC 2046 structure, the one mail clients expect)::

    multipart/mixed
      multipart/alternative
        text/plain               the key numbers, for a client that shows text only (and for previews)
        multipart/related
          text/html              the body: tables with inline styles, no script, no external URL
          image/png  (cid:...)   one per chart, referenced by <img src="cid:...">
      text/html  (attachment)    the self-contained report file, as ``socialkpi report`` writes it
      text/csv   (attachment)    the KPI export of the period (docs/kpis.md columns)

Why so: Gmail and Outlook show neither inline SVG (the report file's charts) nor ``<style>`` rules
reliably, and neither loads remote images without asking; a PNG attached with a Content-ID is shown
at once.  The charts are the dashboard's Altair charts (:mod:`socialkpi.charts`), drawn by vl-convert
without a browser.  Layout is tables, 600 px wide, every style inline.
"""

from __future__ import annotations

import html
import io
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import TYPE_CHECKING, Any

from socialkpi.report_format import COMPETITOR_COLUMNS, PLATFORM_COLUMNS
from warehouse.formatting import fmt_fraction, fmt_number, fmt_pct, fmt_plain

if TYPE_CHECKING:
    import pandas as pd

    from socialkpi.settings import MailSettings

log = logging.getLogger("socialkpi.report")

WIDTH = 600  # px: the width mail clients lay out comfortably
FONT = "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
MUTED = "#6b7280"
BORDER = "#e5e7eb"
UP, DOWN = "#15803d", "#b91c1c"


@dataclass(frozen=True)
class Chart:
    cid: str  # Content-ID without the angle brackets
    title: str
    png: bytes
    filename: str


def _t(value: object) -> str:
    return html.escape(str(value))


def _domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rsplit("@", 1)[-1] if "@" in address else "socialkpi.invalid"


def render_charts(db_path: str | os.PathLike[str], start: date, end: date, domain: str) -> list[Chart]:
    """The report's trend charts as PNG: followers, impressions and engagements per platform, and the
    website's page views, visits and visits from social.  A chart that cannot be drawn is left out (logged):
    the numbers still go."""
    from socialkpi import charts
    from warehouse import kpis, queries

    platform_ids = queries.platforms(db_path)
    wanted = (
        ("followers", "Followers per platform", "followers", "platform"),
        ("impressions", "Impressions per platform", "times shown per day", "platform"),
        ("engagements", "Engagements per platform", "interactions per day", "platform"),
        ("website", "Website: page views, visits and visits from social", "per day", "metric"),
    )
    out: list[Chart] = []
    for key, title, unit, by in wanted:
        if key == "website":
            frame = queries.daily_series(db_path, start, end, ("page_views", "visits", "social_visits"))
            breaks = kpis.metric_breaks(start, end, platform_ids, ["page_views"])
        else:
            frame = queries.daily_by_platform(db_path, start, end, key)
            breaks = kpis.metric_breaks(start, end, platform_ids, [key])
        if frame.empty:
            continue
        try:
            chart = charts.line_chart(frame, color=by, y_title=unit, breaks=breaks, height=220, width=WIDTH - 80)
            image = charts.png(chart)
        except Exception as exc:  # a chart is worth less than the mail: send the numbers without it
            log.warning("the %s chart could not be drawn (%s): sent without it", key, exc)
            continue
        # short, so that the header is never folded (clients unfold it, but some match the raw text)
        cid = f"{key}.{secrets.token_hex(8)}@{domain}"
        out.append(Chart(cid, title, image, f"{key}.png"))
    return out


# ---------------------------------------------------------------------------------------------
# The HTML body: tables and inline styles only
# ---------------------------------------------------------------------------------------------


def _cards_html(kpis: Sequence[Any]) -> str:
    cells = []
    for kpi in kpis:
        delta = kpi.delta
        color = MUTED if not delta else UP if delta.startswith("+") else DOWN
        days = (kpi.end - kpi.start).days + 1
        change = f"{_t(delta)} vs previous {days} days" if delta else "no previous value"
        cells.append(
            f'<td width="33%" valign="top" style="padding:6px;">'
            f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            f'style="border:1px solid {BORDER};border-radius:6px;"><tr><td style="padding:10px 12px;">'
            f'<div style="font-size:12px;color:{MUTED};">{_t(kpi.title)}</div>'
            f'<div style="font-size:22px;font-weight:bold;color:#111827;">{_t(kpi.shown)}</div>'
            f'<div style="font-size:12px;color:{color};">{change}</div>'
            "</td></tr></table></td>"
        )
    rows = []
    for i in range(0, len(cells), 3):
        row = cells[i : i + 3]
        row += ['<td width="33%" style="padding:6px;"></td>'] * (3 - len(row))
        rows.append(f"<tr>{''.join(row)}</tr>")
    return f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0">{"".join(rows)}</table>'


def _table_html(frame: pd.DataFrame, columns: Sequence[tuple[str, str, Any]]) -> str:
    present = [c for c in columns if c[0] in frame.columns]
    th = (
        f'style="text-align:right;padding:4px 8px;border-bottom:1px solid {BORDER};background:#f9fafb;'
        'font-size:12px;color:#374151;"'
    )
    td = f'style="text-align:right;padding:4px 8px;border-bottom:1px solid {BORDER};font-size:13px;"'
    first_th = th.replace("text-align:right", "text-align:left")
    first_td = td.replace("text-align:right", "text-align:left")
    head = "".join(f"<th {first_th if i == 0 else th}>{_t(title)}</th>" for i, (_, title, _) in enumerate(present))
    body = []
    for record in frame.to_dict("records"):
        cells = "".join(
            f"<td {first_td if i == 0 else td}>{_t(fmt(record[name]))}</td>" for i, (name, _, fmt) in enumerate(present)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        f'style="border-collapse:collapse;margin:4px 0 12px;">'
        f"<tr>{head}</tr>{''.join(body)}</table>"
    )


def _h2(text: str) -> str:
    return (
        f'<h2 style="font-size:17px;margin:24px 0 6px;padding-bottom:4px;border-bottom:1px solid {BORDER};'
        f'color:#111827;">{_t(text)}</h2>'
    )


def _p(text: str, color: str = "#111827") -> str:
    return f'<p style="margin:6px 0;font-size:13px;color:{color};">{text}</p>'


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str


def build_content(
    db_path: str | os.PathLike[str],
    start: date,
    end: date,
    *,
    business: str,
    charts: Sequence[Chart],
    attachments: Sequence[str],
) -> Content:
    """Subject, plain text and HTML body of the report of ``[start, end]``."""
    from collectors.tokens import TokenStore
    from warehouse import competitors, health, kpi_cards, kpis, queries, website
    from warehouse.tokens import token_warnings

    cards = kpi_cards.kpi_cards(db_path, start, end)
    days = (end - start).days + 1
    prev_start, prev_end = kpis.previous_period(start, end)
    name = business or "socialkpi"
    subject = f"{name}: social and website report, {start:%d %b} – {end:%d %b %Y}"
    period = f"{start:%d %b %Y} – {end:%d %b %Y} ({days} days), compared with {prev_start:%d %b} – {prev_end:%d %b %Y}"
    fresh = health.freshness(db_path)
    failing = fresh.failing
    tokens = token_warnings(health.token_expiry(db_path, TokenStore.beside(db_path).path).itertuples())

    text = [f"{name} · Social and website report", period, ""]
    groups = [  # a group with no value at all (no website account) is left out
        (group, label) for group, label in (("social", "Social"), ("website", "Website"))
        if any(k.group == group and k.value is not None for k in cards)
    ]  # fmt: skip
    for group, label in groups:
        text.append(label)
        for kpi in (k for k in cards if k.group == group):
            change = f" ({kpi.delta} vs previous {days} days)" if kpi.delta else ""
            text.append(f"  {kpi.title}: {kpi.shown}{change}")
        text.append("")
    text.append("Data health")
    if len(failing):
        text.append(f"  {len(failing)} account(s) failed in their latest run:")
        text += [f"  - {r['platform']} · {r['account_name']}: {r['reason']}" for r in failing.to_dict("records")]
    else:
        text.append("  Every account's latest collection succeeded.")
    text += [f"  WARNING: {w.message}" for w in tokens]
    text += ["", f"Attached: {', '.join(attachments)} (the full report, and the KPIs for a spreadsheet)."]

    body = [
        f'<h1 style="font-size:22px;margin:0 0 4px;color:#111827;">{_t(name)} · Social and website report</h1>',
        _p(_t(period) + ". Own accounts only.", MUTED),
        _h2("Key numbers"),
    ]
    for group, label in groups:
        group_cards = [k for k in cards if k.group == group]
        if group_cards:
            body.append(f'<h3 style="font-size:14px;margin:12px 0 2px;color:#374151;">{label}</h3>')
            body.append(_cards_html(group_cards))
    if charts:
        body.append(_h2("Trends"))
        for chart in charts:
            body.append(f'<h3 style="font-size:14px;margin:12px 0 4px;color:#374151;">{_t(chart.title)}</h3>')
            body.append(
                f'<img src="cid:{_t(chart.cid)}" width="{WIDTH - 40}" alt="{_t(chart.title)}" '
                f'style="display:block;width:100%;max-width:{WIDTH - 40}px;height:auto;border:0;">'
            )
    per_platform = queries.platform_kpis(db_path, start, end)
    if not per_platform.empty:
        body += [_h2("Per platform"), _table_html(per_platform, PLATFORM_COLUMNS[:5] + PLATFORM_COLUMNS[6:8])]
    networks = website.visits_by_network(db_path, start, end)
    if not networks.empty:
        body.append(_h2("Website visits from social networks"))
        body.append(
            _table_html(
                networks,
                [
                    ("network", "network", fmt_plain),
                    ("visits", "visits", fmt_number),
                    ("change_pct", "change", fmt_pct),
                    ("share_of_social", "share", fmt_fraction),
                ],
            )
        )
    comparison = competitors.competitor_comparison(db_path, start, end)
    if not comparison.empty:
        body += [_h2("Competitors"), _table_html(comparison, [c for c in COMPETITOR_COLUMNS if c[0] != "competitor"])]
    body.append(_h2("Data health"))
    if len(failing):
        body.append(_p(f"{len(failing)} account(s) failed in their latest run:", DOWN))
        body.append(
            _table_html(
                failing,
                [("platform", "platform", fmt_plain), ("account_name", "account", fmt_plain),
                 ("reason", "reason", fmt_plain)],
            )
        )  # fmt: skip
    else:
        body.append(_p("Every account's latest collection succeeded."))
    body += [_p(_t(w.message), DOWN) for w in tokens]
    body.append(
        _p(
            f"Attached: {_t(', '.join(attachments))}: the full report (open it in a browser) and the KPIs for a "
            f"spreadsheet. Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by socialkpi.",
            MUTED,
        )
    )
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_t(subject)}</title></head>"
        f'<body style="margin:0;padding:0;background:#f3f4f6;">'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;">'
        f'<tr><td align="center" style="padding:16px 8px;">'
        f'<table role="presentation" width="{WIDTH}" cellpadding="0" cellspacing="0" '
        f'style="width:100%;max-width:{WIDTH}px;background:#ffffff;border:1px solid {BORDER};">'
        f'<tr><td style="padding:20px;font-family:{FONT};color:#111827;line-height:1.4;">'
        + "\n".join(body)
        + "</td></tr></table></td></tr></table></body></html>\n"
    )
    return Content(subject, "\n".join(text) + "\n", document)


def kpis_csv(db_path: str | os.PathLike[str], start: date, end: date, period: str) -> bytes:
    """The ``socialkpi export --table kpis`` bytes of the report's period (weeks for a week, else months)."""
    from warehouse import export

    buffer = io.BytesIO()
    export.write_kpis_csv(db_path, buffer, since=start, until=end, period="week" if period == "last-week" else "month")
    return buffer.getvalue()


def build_message(
    mail: MailSettings,
    to: Sequence[str],
    db_path: str | os.PathLike[str],
    start: date,
    end: date,
    *,
    period: str,
    business: str,
    report_html: str,
    now: datetime | None = None,
) -> EmailMessage:
    """The whole message (module docstring), ready for :func:`socialkpi.mail.send`."""
    domain = _domain(mail.sender)
    stem = f"socialkpi-{start:%Y-%m-%d}_{end:%Y-%m-%d}"
    names = [f"{stem}-report.html", f"{stem}-kpis.csv"]
    charts = render_charts(db_path, start, end, domain)
    content = build_content(db_path, start, end, business=business, charts=charts, attachments=names)
    message = EmailMessage()
    message["Subject"] = content.subject
    message["From"] = mail.sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring="report", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office reply to a report
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for chart in charts:
        html_part.add_related(  # inline: shown in the body, not listed as an attachment
            chart.png, "image", "png", cid=f"<{chart.cid}>", filename=chart.filename, disposition="inline"
        )
    utf8 = {"charset": "utf-8"}  # the bytes as written (base64), their charset said
    message.add_attachment(report_html.encode("utf-8"), "text", "html", filename=names[0], params=utf8)
    message.add_attachment(kpis_csv(db_path, start, end, period), "text", "csv", filename=names[1], params=utf8)
    return message
