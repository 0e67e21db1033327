"""``socialkpi log-time PLATFORM HOURS [--date D] [--note TEXT]``: record time actually spent.

Logged time replaces the ``[costs.hours_per_week]`` estimate of that platform for the whole ISO
week (Monday..Sunday) it falls in; see docs/roi.md.  Exit statuses: 0 logged; 2 bad usage or
configuration (one line naming what is wrong, never a traceback).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date, timedelta
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2


def _hours(value: str) -> float:
    """``1.5``, ``1,5`` or ``1:30`` (hours:minutes) -> 1.5; more than 0 and at most 24."""
    text = value.strip()
    match = re.fullmatch(r"(\d{1,2}):([0-5]\d)", text)
    try:
        hours = int(match[1]) + int(match[2]) / 60 if match else float(text.replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of hours: write 1.5 or 1:30") from None
    from socialkpi.validation import BOUNDS, ConfigError, bounded

    try:
        return bounded(hours, "HOURS", BOUNDS["log-time HOURS"])
    except ConfigError:
        raise argparse.ArgumentTypeError(f"{value!r}: one entry is more than 0 and at most 24 hours") from None


def _day(value: str) -> date:
    from socialkpi.validation import ConfigError, parse_date

    try:
        return parse_date(value, "--date")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--date: ")) from None


def add_parser(subparsers: Any) -> None:
    """Add ``log-time`` to the ``socialkpi`` sub-commands (``subparsers`` from ``add_subparsers``)."""
    p = subparsers.add_parser(
        "log-time",
        help="record hours actually spent on a platform (replaces that week's estimate in the ROI)",
        description=(
            "Record time actually spent on a platform. Any time logged in an ISO week (Monday to Sunday) "
            "replaces the [costs.hours_per_week] estimate of that platform for the whole week, so log "
            "every day you worked on it that week. Several entries on one day add up."
        ),
    )
    p.add_argument("platform", metavar="PLATFORM", help="platform id, e.g. facebook")
    p.add_argument("hours", type=_hours, metavar="HOURS", help="hours spent: 1.5 or 1:30")
    p.add_argument("--date", type=_day, metavar="DATE", help="the day (YYYY-MM-DD); default today")
    p.add_argument("--note", default="", metavar="TEXT", help="what the time was spent on")
    p.add_argument("--config", metavar="PATH", help="socialkpi.toml to use")


def run(args: argparse.Namespace) -> int:
    """Log ``args.hours`` for ``args.platform`` on ``args.date`` (default today in the business time zone)."""
    from collectors import PLATFORMS
    from socialkpi.settings import load_settings
    from socialkpi.validation import ConfigError, check_day
    from warehouse import roi_inputs
    from warehouse.db import WarehouseError

    try:
        settings = load_settings(getattr(args, "config", None), require_config=False)
        if args.platform not in PLATFORMS:
            known = ", ".join(sorted(PLATFORMS))
            raise ConfigError("PLATFORM", f"unknown platform {args.platform!r}: use one of {known}")
        today = roi_inputs.today(settings.timezone)
        day = check_day(args.date or today, "--date", latest=today + timedelta(days=1), latest_is="tomorrow")
        roi_inputs.log_time(settings.db_path, args.platform, args.hours, day, args.note or "")
    except (ConfigError, WarehouseError, ValueError) as exc:
        sys.stderr.write(f"socialkpi: error: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(
        f"logged {args.hours:g} h on {args.platform} for {day.isoformat()} "
        f"(week {day:%G-W%V} now uses logged time for {args.platform})\n"
    )
    return EXIT_OK
