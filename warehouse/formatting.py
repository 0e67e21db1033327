"""How a value is shown, the same on the dashboard's pages, in the report and in its e-mail: ``—`` for a
missing value (None, NaN, NaT), whole numbers with thousands separators, percentages with one decimal;
a KPI card's value (:func:`format_value`) with two, and its change between two fractions in percentage
points (:func:`format_pp`).

No SQL and no pandas at import time (``socialkpi --help`` stays fast): :mod:`socialkpi.report`,
:mod:`socialkpi.report_mail` and :mod:`socialkpi.pages` import these from here."""

from __future__ import annotations

from typing import Any


def missing(value: object) -> bool:
    import pandas as pd

    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def fmt_number(value: object) -> str:
    if missing(value):
        return "—"
    number = float(value)  # type: ignore[arg-type]
    return f"{number:,.0f}" if number == int(number) or abs(number) >= 100 else f"{number:,.2f}"


def fmt_fraction(value: object) -> str:
    return "—" if missing(value) else f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]


def fmt_pct(value: object) -> str:
    return "—" if missing(value) else f"{float(value):+.1f}%"  # type: ignore[arg-type]


def fmt_day(value: object) -> str:
    if missing(value):
        return "—"
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


def fmt_moment(value: object) -> str:
    if missing(value):
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC") if hasattr(value, "strftime") else str(value)


def fmt_plain(value: object) -> str:
    if missing(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def fmt_money(value: Any, currency: str) -> str:
    return "—" if missing(value) else f"{value:,.2f} {currency}"


def fmt_count(value: Any) -> str:
    return "—" if missing(value) else f"{value:,.0f}"


def format_value(value: float | None, *, ratio: bool = False) -> str:
    """``1,673`` for a number, ``6.63%`` for a fraction when ``ratio``, ``—`` for no value."""
    if value is None:
        return "—"
    return f"{value * 100:.2f}%" if ratio else f"{value:,.0f}"


def format_pp(difference: float) -> str:
    """A change between two fractions in percentage points: ``+5.00 pp`` (never ``-0.00 pp``)."""
    return f"{round(difference * 100, 2) + 0.0:+.2f} pp"
