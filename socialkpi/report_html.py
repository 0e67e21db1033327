"""The report's HTML pieces: escaped text, tables, KPI cards and line charts drawn as inline ``<svg>``.

No script, no image file, no external URL: :func:`escaped` escapes every value and defangs a URL scheme to
``http[:]//``.  :mod:`socialkpi.report` puts the pieces together into the document.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from socialkpi.report_format import Column
from warehouse.formatting import fmt_number, fmt_pct, fmt_plain

if TYPE_CHECKING:  # pandas loads only when a report is built: `socialkpi --help` stays fast
    import pandas as pd

    from warehouse import kpis

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#ea580c", "#7c3aed", "#0891b2", "#be185d", "#4b5563")

_URL = re.compile(r"(?i)\b(https?)://")


def escaped(value: object) -> str:
    """Escaped text with any URL scheme defanged, so the file holds no external reference."""
    return html.escape(_URL.sub(lambda m: m.group(1) + "[:]//", str(value)))


def html_table(frame: pd.DataFrame, columns: Sequence[Column], *, css: str = "") -> str:
    present = [c for c in columns if c[0] in frame.columns]
    head = "".join(f"<th>{escaped(title)}</th>" for _, title, _ in present)
    body = []
    for record in frame.to_dict("records"):
        cells = "".join(f"<td>{escaped(fmt(record[name]))}</td>" for name, _, fmt in present)
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


def card(kpi: kpis.Kpi) -> str:
    delta = kpi.delta
    trend = "" if delta is None else ("up" if delta.startswith("+") else "down")
    days = (kpi.end - kpi.start).days + 1
    delta_html = (
        f'<div class="delta {trend}">{escaped(delta)} vs previous {days} days</div>'
        if delta
        else '<div class="delta">no previous value</div>'
    )
    return (
        f'<div class="card" data-kpi="{escaped(kpi.key)}"><div class="label">{escaped(kpi.title)}</div>'
        f'<div class="value">{escaped(kpi.shown)}</div>{delta_html}</div>'
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
    breaks: Sequence[kpis.MetricBreak] = (),
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
        f'aria-label="{escaped(title)}"><title>{escaped(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="axis">{escaped(fmt_number(top_value))}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>',
        f'<text x="{left}" y="{top + plot_h + 14}" class="axis">{start:%d %b}</text>',
        f'<text x="{left + plot_w}" y="{top + plot_h + 14}" text-anchor="end" class="axis">{end:%d %b %Y}</text>',
        f'<text x="{left + 4}" y="{top + 10}" class="axis">{escaped(unit)}</text>',
    ]
    for b in breaks:
        bx = x(b.day)
        parts.append(
            f'<line x1="{bx:.1f}" y1="{top}" x2="{bx:.1f}" y2="{top + plot_h}" stroke="#6b7280" '
            'stroke-dasharray="4 3"/>'
            f'<text x="{bx + 3:.1f}" y="{top + 22}" class="note">{escaped(b.label)} ({b.day:%d %b %Y})</text>'
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
            f'<text x="{legend_x + 14}" y="{height - 5}" class="axis">{escaped(line.name)}</text>'
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
