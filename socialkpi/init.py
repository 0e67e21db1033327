"""``socialkpi init``: the owner's socialkpi.toml, from a few questions (or flags), never over an existing one.

Asked: the business name, its time zone (default: this machine's IANA zone), the currency of the ROI page
and the hours a week spent on social media.  ``--yes`` takes the defaults for what the flags leave out
(the machine's zone, EUR); ``--force`` replaces an existing file.  The file is written atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CURRENCY = "EUR"
DEFAULT_NAME = "My business"


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("init", help="write socialkpi.toml for your business (name, time zone, currency, hours)")
    p.add_argument("--name", metavar="N", help="the business name")
    p.add_argument("--timezone", metavar="TZ", help="IANA time zone (default: this machine's)")
    p.add_argument("--currency", metavar="CUR", help=f"currency code of the ROI page (default {DEFAULT_CURRENCY})")
    p.add_argument("--hours", type=float, metavar="H", help="hours a week spent on social media, in all")
    p.add_argument("--yes", action="store_true", help="ask nothing: defaults for what the flags leave out")
    p.add_argument("--force", action="store_true", help="replace an existing socialkpi.toml")
    p.add_argument("--config", metavar="PATH", help="where to write it (default ./socialkpi.toml)")


def machine_timezone(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """This machine's IANA zone: ``TZ``, else /etc/localtime's link into the zoneinfo tree, else
    /etc/timezone (Debian), else UTC."""
    candidates: list[str] = []
    tz = environ.get("TZ", "").lstrip(":")
    if tz:
        candidates.append(tz)
    with contextlib.suppress(OSError):
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            candidates.append(link.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        if _zone_ok(name):
            return name
    return "UTC"


def _zone_ok(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class InitError(Exception):
    """A wrong answer or flag: one line, exit 2."""


def _check(name: str, timezone: str, currency: str, hours: float | None) -> tuple[str, str, str, float | None]:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InitError("--name: give the business name as plain text (at most 200 characters)")
    if not _zone_ok(timezone):
        raise InitError(f"--timezone: {timezone!r} is not a time zone: use an IANA name such as Europe/Paris")
    currency = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise InitError(f"--currency: {currency!r} is not a currency code: give three letters such as EUR or USD")
    from socialkpi.validation import BOUNDS, ConfigError, bounded

    try:
        hours = None if hours is None else float(bounded(hours, "--hours", BOUNDS["init --hours"]))
    except ConfigError:
        raise InitError(f"--hours: {hours:g} is not a number of hours a week (0 to 168)") from None
    return name, timezone, currency, hours


def run(args: argparse.Namespace, *, stdin: object = None) -> int:
    from socialkpi.connect.config import init_text
    from warehouse.files import OutputError, check_output, write_atomically

    raw = args.config or os.environ.get("SOCIALKPI_CONFIG") or "socialkpi.toml"
    path = Path(raw).expanduser()
    if os.path.lexists(path) and not args.force:
        sys.stderr.write(f"socialkpi: error: {path} exists: nothing was written (pass --force to replace it)\n")
        return 2
    if os.path.lexists(path) or path.parent.is_dir():  # (a missing folder is created when the file is written)
        try:
            check_output(path, flag=None)  # only a regular file is replaced: not a link, a folder, a device
        except OutputError as exc:
            sys.stderr.write(f"socialkpi: error: {exc}\n")
            return 2
    stream = stdin if stdin is not None else sys.stdin
    ask = not args.yes

    def question(prompt: str, default: str) -> str:
        if not ask:
            return default
        sys.stderr.write(f"{prompt} [{default}]: ")
        sys.stderr.flush()
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            raise InitError(f"no answer to {prompt!r} (standard input ended): pass --yes to take the defaults")
        return line.strip() or default

    try:
        name = args.name if args.name is not None else question("Business name", DEFAULT_NAME)
        timezone = args.timezone or question("Time zone", machine_timezone())
        currency = args.currency or question("Currency", DEFAULT_CURRENCY)
        if args.hours is not None:
            hours: float | None = args.hours
        else:
            answer = question("Hours a week on social media, in all", "")
            try:
                hours = float(answer.replace(",", ".")) if answer else None
            except ValueError:
                raise InitError(f"{answer!r} is not a number of hours") from None
        name, timezone, currency, hours = _check(name, timezone, currency, hours)
    except InitError as exc:
        sys.stderr.write(f"socialkpi: error: {exc}\n")
        return 2
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, init_text(name=name, timezone=timezone, currency=currency, hours_per_week=hours),
                         flag=None)  # fmt: skip
    except OutputError as exc:
        sys.stderr.write(f"socialkpi: error: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"socialkpi: error: cannot write {path} ({exc.strerror or exc}): nothing was written\n")
        return 2
    sys.stdout.write(
        f"wrote {path} ({name}, {timezone}, {currency}). Next: socialkpi connect PLATFORM "
        "(facebook, instagram, google, ...; docs/connect.md)\n"
    )
    return 0
