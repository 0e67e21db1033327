"""Alerts after each collect, and ``socialkpi alert --test``.

After every ``socialkpi collect`` (:func:`after_collect`), three conditions are looked for:

- an account that failed ``[alerts] failed_runs`` runs in a row (default 2), with the platform's reason;
- a token that ends within ``[alerts] token_days`` days (default 14) and that socialkpi cannot renew
  (``warehouse.tokens.token_warnings``: no refresh token, or a refresh token at its own end);
- a platform that refused a metric it used to give (``warehouse.alerts.refused_metrics``).

Each is a condition key (``failed_runs:facebook/104...``); the ones not yet sent today (the business's day)
to a destination go to it in one message naming each account, the cause and the command that fixes it.
Destinations: ``[alerts] mail_to`` through ``[mail]``, and ``[alerts] urls`` through apprise (one URL
reaches Slack, Discord, ntfy, Telegram, Matrix, a JSON webhook ...).  What was sent is kept in the
warehouse (``alerts_sent``), so it survives a restart and a second collect the same day sends nothing.

Never blocking, never failing a collect: every send has a bounded timeout (SMTP :data:`MAIL_TIMEOUT`,
apprise its 4 s connect and read timeouts), a destination that cannot be reached is one
``socialkpi: warning:`` line on standard error and is tried again by the next collect, and any error
here leaves the collect's exit status as it was.  Notification URLs hold the services' tokens: they are
shown only as apprise prints them with ``privacy=True`` (secrets masked) and stored as a fingerprint.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from socialkpi.settings import Settings, load_settings, smtp_password
from socialkpi.validation import ConfigError

log = logging.getLogger("socialkpi.alerts")

MAIL_TIMEOUT = 15.0  # seconds: connecting to the SMTP server, and each of its replies
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Condition:
    key: str  # what is deduplicated, once a day per destination
    platform: str
    account_id: str
    account_name: str
    cause: str
    fix: str  # the command that fixes it ("" when the cause says it)

    @property
    def line(self) -> str:
        who = f"{self.platform} · {self.account_name}"
        if self.account_name != self.account_id:
            who += f" ({self.account_id})"
        return f"{who}: {self.cause}" + (f" Fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class Destination:
    key: str  # stored in alerts_sent: an address, or url:<scheme>:<fingerprint>
    label: str  # shown: the address, or the URL with its secrets masked
    send: Callable[[str, str], None]  # (title, body); raises AlertError


class AlertError(Exception):
    """A destination could not be reached: one line, never its secret."""


# ---------------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------------


def _fix_for_failure(platform: str, account_id: str, kind: str | None) -> str:
    if kind in ("auth", "permission"):
        return f"`socialkpi connect {platform}` (or a new token in .env), then `socialkpi doctor --platform {platform}`"
    if kind in ("throttled", "server", "deadline"):
        return (
            f"nothing if {platform} answers again by the next collect; `socialkpi doctor --platform {platform}` "
            f"checks it now, `socialkpi collect --account {account_id}` fills the gap"
        )
    return f"`socialkpi doctor --platform {platform}` says what is wrong; `socialkpi status` shows every failure"


def _sentence(text: str, prefix: str = "") -> str:
    """``text`` without ``prefix``, ending with one full stop."""
    return text.removeprefix(prefix).rstrip().rstrip(".") + "."


def conditions_after(settings: Settings, run_id: str, *, now: datetime | None = None) -> list[Condition]:
    """Everything that needs the owner after the collect ``run_id`` (the module docstring)."""
    from collectors.tokens import TokenStore
    from warehouse import alerts as walerts
    from warehouse.access import open_warehouse
    from warehouse.tokens import token_rows, token_warnings

    config = settings.alerts
    assert config is not None
    out: list[Condition] = []
    with open_warehouse(settings.db_path) as (con, _):
        for s in walerts.failing_streaks(con, run_id, config.failed_runs):
            out.append(
                Condition(
                    f"failed_runs:{s.platform}/{s.account_id}", s.platform, s.account_id, s.account_name,
                    f"failed {s.failed_runs} runs in a row: {_sentence(s.reason, f'{s.platform}/{s.account_id}: ')}",
                    _fix_for_failure(s.platform, s.account_id, s.error_kind),
                )
            )  # fmt: skip
        for r in walerts.refused_metrics(con, run_id):
            out.append(
                Condition(
                    f"refused:{r.platform}/{r.account_id}:{r.source_metric}", r.platform, r.account_id,
                    r.account_name,
                    f"{r.platform} refused {r.source_metric}, which it used to give: {_sentence(r.note)}",
                    f"`socialkpi connect {r.platform}` if a permission was taken back (nothing to do if "
                    f"{r.platform} retired it); `socialkpi status` lists the metrics skipped",
                )
            )  # fmt: skip
    tokens = token_rows(settings.db_path, TokenStore.beside(settings.db_path).path, now=now)
    for w in token_warnings(tokens, config.token_days):
        out.append(Condition(f"token:{w.platform}/{w.account_id}", w.platform, w.account_id, w.account_name,
                             w.message.removeprefix(f"{w.platform} · {w.account_name}: "), ""))  # fmt: skip
    return out


def compose(conditions: Sequence[Condition], business: str) -> tuple[str, str]:
    """(title, body) of one alert message listing ``conditions``."""
    name = business or "socialkpi"
    if len(conditions) == 1:
        c = conditions[0]
        title = f"{name}: {c.platform} · {c.account_name} needs you"
    else:
        title = f"{name}: {len(conditions)} things need you"
    lines = [f"- {c.line}" for c in conditions]
    footer = "socialkpi sends each of these once a day while it lasts; `socialkpi status` shows all."
    body = "\n".join(lines) + f"\n\n{footer}\n"
    return title, body


# ---------------------------------------------------------------------------------------------
# Destinations
# ---------------------------------------------------------------------------------------------


def _mail_destination(settings: Settings, address: str, password: str | None) -> Destination:
    from socialkpi.mail import MailError, send

    mail = settings.mail
    assert mail is not None

    def deliver(title: str, body: str) -> None:
        message = EmailMessage()
        message["Subject"] = title
        message["From"] = mail.sender
        message["To"] = address
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(idstring="alert", domain=parseaddr(mail.sender)[1].rsplit("@", 1)[-1])
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(body)
        try:
            send(mail, password, message, [address], timeout=MAIL_TIMEOUT)
        except MailError as exc:
            raise AlertError(str(exc)) from None

    return Destination(address, address, deliver)


def _url_destination(url: str, index: int) -> Destination:
    """``url`` through apprise; a URL apprise does not know is a ConfigError (never echoed)."""
    import apprise

    quiet = logging.getLogger("apprise")  # its lines may carry the URL's parts: our one line says it instead
    quiet.propagate = False
    quiet.setLevel(logging.CRITICAL)
    sender = apprise.Apprise()
    if not sender.add(url):
        raise ConfigError(
            f"alerts.urls[{index}]", "is not a notification URL apprise knows: see docs/delivery.md for the syntax"
        )
    from collectors.redaction import redact_userinfo

    label = redact_userinfo(str(sender[0].url(privacy=True)).split("?", 1)[0])  # no user:password@, even masked
    fingerprint = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    scheme = url.split("://", 1)[0].lower()

    def deliver(title: str, body: str) -> None:
        if not sender.notify(title=title, body=body):
            raise AlertError(f"{label} did not take the message (unreachable, or it refused it)")

    return Destination(f"url:{scheme}:{fingerprint}", label, deliver)


def destinations(settings: Settings) -> list[Destination]:
    """Every configured destination; ConfigError for one that cannot be used as configured."""
    config = settings.alerts
    if config is None:
        return []
    out: list[Destination] = []
    if config.mail_to:
        password = smtp_password(settings)
        out += [_mail_destination(settings, address, password) for address in config.mail_to]
    out += [_url_destination(url, index) for index, url in enumerate(config.urls, start=1)]
    return out


# ---------------------------------------------------------------------------------------------
# After a collect
# ---------------------------------------------------------------------------------------------


def _warn(text: str) -> None:
    from collectors.redaction import redact

    sys.stderr.write(f"socialkpi: warning: {redact(text)}\n")


def after_collect(settings: Settings, run_id: str, *, now: datetime | None = None) -> int:
    """Send what is due after the collect ``run_id``; the number of messages sent.  Never raises."""
    if settings.alerts is None or not settings.alerts.destinations:
        return 0
    try:
        return _after_collect(settings, run_id, now or datetime.now(UTC))
    except Exception as exc:  # an alert about a run must never turn its result into another
        _warn(f"alerts not sent: {exc}")
        log.debug("alerts failed", exc_info=True)
        return 0


def _after_collect(settings: Settings, run_id: str, now: datetime) -> int:
    from warehouse import alerts as walerts
    from warehouse.db import writing

    conditions = conditions_after(settings, run_id, now=now)
    if not conditions:
        return 0
    day = now.astimezone(settings.timezone).date()
    try:
        targets = destinations(settings)
    except ConfigError as exc:
        _warn(f"alerts not sent: {exc}")
        return 0
    with writing(settings.db_path) as con:
        done = walerts.already_sent(con, [c.key for c in conditions], day)
    sent: list[walerts.Sent] = []
    messages = 0
    for target in targets:
        due = [c for c in conditions if (c.key, target.key) not in done]
        if not due:
            continue
        title, body = compose(due, settings.business_name)
        try:
            target.send(title, body)
        except AlertError as exc:
            _warn(f"alert not sent to {target.label}: {exc} (the next collect tries again)")
            continue
        except Exception as exc:  # a notification library's surprise: logged, the collect goes on
            _warn(f"alert not sent to {target.label}: {type(exc).__name__} (the next collect tries again)")
            log.debug("alert failed", exc_info=True)
            continue
        messages += 1
        log.info("alert sent to %s: %s", target.label, title)
        sent += [walerts.Sent(c.key, day, target.key, c.platform, c.account_id, c.line, now) for c in due]
    if sent:
        with writing(settings.db_path) as con:
            walerts.record_sent(con, sent)
    return messages


# ---------------------------------------------------------------------------------------------
# socialkpi alert --test
# ---------------------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("alert", help="alerts: --test sends a test message to every [alerts] destination")
    p.add_argument("--test", action="store_true", help="send a test message to every configured destination")
    p.add_argument("--config", metavar="PATH", help="socialkpi.toml to use")


def run(args: argparse.Namespace) -> int:
    """``socialkpi alert --test``: 0 every destination took it, 1 one did not, 2 bad usage or config."""
    if not args.test:
        raise ConfigError("alert", "say what to do: `socialkpi alert --test` sends a test message")
    settings = load_settings(getattr(args, "config", None))
    if settings.alerts is None or not settings.alerts.destinations:
        where = settings.config_path or "socialkpi.toml"
        raise ConfigError("alerts", f"no destination in {where}: add [alerts] mail_to or urls (see README)")
    targets = destinations(settings)
    name = settings.business_name or "socialkpi"
    title = f"{name}: socialkpi test alert"
    body = (
        "This is a test of socialkpi's alerts. After each collect, socialkpi writes here when an account has "
        f"failed {settings.alerts.failed_runs} runs in a row, when a token it cannot renew ends within "
        f"{settings.alerts.token_days} days, or when a platform refuses a metric it used to give.\n"
    )
    failed = 0
    for target in targets:
        try:
            target.send(title, body)
        except AlertError as exc:
            failed += 1
            sys.stderr.write(f"socialkpi: error: {target.label}: {exc}\n")
            continue
        except Exception as exc:
            failed += 1
            sys.stderr.write(f"socialkpi: error: {target.label}: {type(exc).__name__}\n")
            continue
        sys.stdout.write(f"sent a test message to {target.label}\n")
    return EXIT_FAILED if failed else EXIT_OK
