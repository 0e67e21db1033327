"""What a payload's numbers may look like, and what a response says it is: one reader, one check.

Every parser reads its counts with a :class:`Counts` of its platform and checks what a response
declares about itself with :func:`expect`; neither is copied per collector.

Counts (issue 11, item 14)
    A count is a whole number, never negative.  Accepted:

    * a JSON number: an integer, or a float whose value is whole (``18552.0`` -> ``18552``; JSON's
      ``1e5`` is a number too, 100000);
    * text, only where the platform is known to send counts as text (``Counts(text=True)``): plain
      decimal digits with at most a zero fraction, ``"12"`` or ``"12.0"``.  WordPress.com answers a
      day's views as ``5`` on one row and ``"1"`` on the next (the response kept in the WordPress iOS
      app's tests); Matomo's PHP sends numeric strings; Google's proto-JSON sends int64 and uint64 as
      strings (GA4 values, YouTube statistics, Business Profile values: there ``numbers=False``).

    Refused, with a PayloadError naming the field: booleans (``true`` is an int to Python),
    ``NaN`` and ``Infinity`` (Python's json reads them) and any float that is not whole
    (``12.5`` visits is no count), negatives, and text that is not plain digits: ``"1e5"`` (no
    platform writes a count so; an exponent means a float printed it and digits may be lost),
    ``"12.5"``, ``"+12"``, ``" 12"``, ``"1,234"``, ``"1_000"``, ``"0x1F"``, ``"NaN"``, ``""``,
    ``"-3"``.  A string where the platform sends numbers (``text=False``) is refused too: the
    response's shape changed, and it is better to say so than to guess.

Declarations (issue 11, item 15)
    Where a response says what it is (WordPress.com's ``unit``/``period``/``date``, Meta's insights
    ``period``, Plausible's echoed ``date_range``, YouTube's ``columnHeaders``, LinkedIn's
    ``timeRange`` length, Google's ``dailyMetric`` ...), :func:`expect` compares it with what was
    asked and refuses a mismatch naming the field: a month's totals must never be stored as its first
    day.  A field the response leaves out declares nothing and is not checked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal, overload

from collectors.errors import PayloadError

_DIGITS = re.compile(r"([0-9]+)(?:\.0+)?")  # ASCII digits: re's \d would also take Arabic-Indic ones
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class Counts:
    """The count reader of one platform: ``COUNT = Counts("wordpress", text=True)``, then ``COUNT(v, "views")``."""

    platform: str
    text: bool = False  # the platform may send a count as a JSON string
    numbers: bool = True  # ... or as a JSON number (False: Google's int64 strings only)

    @overload
    def __call__(self, value: Any, what: str) -> int: ...
    @overload
    def __call__(self, value: Any, what: str, *, whole: Literal[True]) -> int: ...
    @overload
    def __call__(self, value: Any, what: str, *, whole: bool) -> int | float: ...

    def __call__(self, value: Any, what: str, *, whole: bool = True) -> int | float:
        """``value`` as a count, or a PayloadError that names ``what``.

        ``whole=False`` for the rare value a platform declares fractional (GA4's ``TYPE_FLOAT``): a finite,
        non-negative decimal (``"412.5"``), an integer when it is whole; an exponent is still refused.
        """
        if isinstance(value, bool):
            raise self._refuse(value, what, "a boolean")
        if isinstance(value, int):
            if not self.numbers:
                raise self._refuse(value, what, "a JSON number where the platform sends text")
            return self._non_negative(value, what)
        if isinstance(value, float):
            if not self.numbers:
                raise self._refuse(value, what, "a JSON number where the platform sends text")
            if not math.isfinite(value):
                raise self._refuse(value, what, "not finite")
            if value < 0:
                raise self._refuse(value, what, "negative")
            if value.is_integer():
                return int(value)
            if whole:
                raise self._refuse(value, what, "not a whole number")
            return value
        if isinstance(value, str):
            if not self.text:
                raise self._refuse(value, what, "text where the platform sends numbers")
            match = _DIGITS.fullmatch(value)
            if match is not None:
                return int(match.group(1))
            if not whole and _DECIMAL.fullmatch(value):
                return float(value)
            if value.startswith("-") and _DECIMAL.fullmatch(value[1:]):
                raise self._refuse(value, what, "negative")
            raise self._refuse(value, what, "not plain decimal digits" if whole else "not a plain decimal")
        raise self._refuse(value, what, f"a {type(value).__name__}")

    def _non_negative(self, value: int, what: str) -> int:
        if value < 0:
            raise self._refuse(value, what, "negative")
        return value

    def _refuse(self, value: Any, what: str, why: str) -> PayloadError:
        return PayloadError(f"{self.platform}: {what} is {value!r:.40}, not a count ({why})", platform=self.platform)


def expect(declared: Any, asked: Any, *, field: str, what: str, platform: str) -> None:
    """Refuse a response whose ``field`` says ``declared`` when ``asked`` was asked (``None``: not declared).

    ``what`` names the answer (``"stats/referrers"``); the message names the field and both values, so a
    log line says at once that, say, a month was answered where a day was asked.
    """
    if declared is None or declared == asked:
        return
    raise PayloadError(
        f"{platform}: {what} answered {field} {declared!r:.60}, but {field} {asked!r:.60} was asked; "
        "its numbers would be dated wrongly, so none is stored",
        platform=platform,
    )


__all__ = ["Counts", "expect"]
