"""The dashboard's line charts as Altair specs, and the same charts as PNG images for e-mail.

:func:`line_chart` is what every dashboard page draws (``socialkpi.pages.common.line_chart`` hands it to
Streamlit); :func:`png` renders such a chart without a browser, through vl-convert (Vega and Vega-Lite
compiled into a Rust library, no network, no Chromium: a chart takes about 0.15 s once warm).  Mail
clients need this: Gmail and Outlook show neither inline SVG nor script, but they show a PNG attached
with a Content-ID (``<img src="cid:...">``), which is how ``socialkpi report --mail-to`` sends charts.

Streamlit is not imported here: the report and the alerts run under cron without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from warehouse import kpis

PNG_SCALE = 2  # twice the pixels of the drawn size: sharp on high-density screens, a few tens of KB each


def line_chart(
    frame: pd.DataFrame,
    *,
    color: str,
    y_title: str,
    breaks: Sequence[kpis.MetricBreak] = (),
    height: int = 320,
    width: int | None = None,
    title: str | None = None,
) -> Any:
    """Daily lines (``date``, ``value``, one line per ``color``), with a dashed rule and a label on
    every :data:`warehouse.kpis.METRIC_BREAKS` day inside the window.  ``width``: pixels (an image);
    None lets the dashboard stretch it."""
    import altair as alt
    import pandas as pd

    base = (
        alt.Chart(frame)
        .mark_line(point=False)
        .encode(
            x=alt.X("date:T", title=None),
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color(f"{color}:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[alt.Tooltip("date:T"), alt.Tooltip(f"{color}:N"), alt.Tooltip("value:Q", format=",.0f")],
        )
    )
    layers: list[Any] = [base]
    if breaks:
        marks = pd.DataFrame({"date": [pd.Timestamp(b.day) for b in breaks], "label": [b.label for b in breaks]})
        rule = alt.Chart(marks).mark_rule(strokeDash=[4, 4], color="#888").encode(x="date:T")
        text = (
            alt.Chart(marks)
            .mark_text(align="left", dx=4, dy=-4, baseline="top", fontSize=11, color="#555")
            .encode(x="date:T", y=alt.value(4), text="label:N")
        )
        layers += [rule, text]
    chart = alt.layer(*layers).properties(height=height)
    if width is not None:
        chart = chart.properties(width=width)
    if title:
        chart = chart.properties(title=title)
    return chart


def png(chart: Any, *, scale: int = PNG_SCALE) -> bytes:
    """``chart`` (an Altair chart) as PNG bytes on a white background, rendered by vl-convert."""
    import vl_convert as vlc

    spec = chart.configure(background="white").to_dict()
    data: bytes = vlc.vegalite_to_png(spec, scale=scale)
    return data
