"""Sending e-mail through the ``[mail]`` SMTP server: the report (``report --mail-to``) and alerts.

One function, :func:`send`, with the standard library's :mod:`smtplib` and the system's trusted
certificates (``ssl.create_default_context()``: the host name is checked; ``SSL_CERT_FILE`` names
another bundle, for a company's own CA).  ``security``: ``starttls`` upgrades the connection before
anything else is said (a server that does not offer STARTTLS is refused, never a plain fallback),
``ssl`` speaks TLS from the first byte, ``none`` is plain (a relay on this machine).

Every failure is :class:`MailError`, one line that names the server and the fix: a refused
connection, an unknown host, a timeout (``timeout`` seconds for the connection and for each reply),
a TLS handshake or certificate error, a refused login, refused recipients, a server that hung up.
The password (``SOCIALKPI_SMTP_PASSWORD``) is registered as a secret: it is masked in any message
that would carry it, and never logged.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import parseaddr

from collectors.redaction import escape_controls, redact, register_secret
from socialkpi.settings import MailSettings

DEFAULT_TIMEOUT = 30.0  # seconds: connecting, and each reply of the server


class MailError(Exception):
    """The message could not be sent: one line, what happened and what to check."""


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
    return escape_controls(f"{error.smtp_code} {' '.join(text.split())}")[:200]


def send(
    mail: MailSettings,
    password: str | None,
    message: EmailMessage,
    recipients: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Send ``message`` to ``recipients`` (the envelope; the headers say who sees what) through ``mail``."""
    register_secret(password)
    server = f"{mail.host}:{mail.port}"
    try:
        _deliver(mail, password, message, recipients, timeout)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"{server} refused the login of {mail.user} ({_reply(exc)}): check mail.user and SOCIALKPI_SMTP_PASSWORD"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(sorted(exc.recipients))
        raise MailError(f"{server} refused the recipient(s) {escape_controls(refused)}: check the addresses") from None
    except smtplib.SMTPSenderRefused as exc:
        raise MailError(f"{server} refused the sender {mail.sender} ({_reply(exc)}): check mail.from") from None
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"{server} refused the message ({_reply(exc)})") from None
    except smtplib.SMTPServerDisconnected as exc:
        if isinstance(exc.__context__, TimeoutError):  # smtplib turns a reply that never came into this
            raise MailError(f"{server} did not answer within {timeout:g} s: check mail.host and mail.port") from None
        raise MailError(f"{server} closed the connection ({escape_controls(str(exc)) or 'no reason given'})") from None
    except ssl.SSLCertVerificationError as exc:
        raise MailError(
            f"TLS with {server} failed: its certificate is not trusted ({escape_controls(exc.verify_message or '')}): "
            "check mail.host (the name on the certificate), or SSL_CERT_FILE for a company CA"
        ) from None
    except ssl.SSLError as exc:
        raise MailError(
            f"TLS with {server} failed ({escape_controls(exc.reason or str(exc))}): check mail.security "
            "(starttls for port 587, ssl for port 465)"
        ) from None
    except TimeoutError:
        raise MailError(f"{server} did not answer within {timeout:g} s: check mail.host and mail.port") from None
    except ConnectionRefusedError:
        raise MailError(f"{server} refused the connection: check mail.host and mail.port") from None
    except socket.gaierror:
        raise MailError(f"{mail.host} is not a known host name: check mail.host") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(redact(f"sending through {server} failed: {escape_controls(str(exc))}")) from None


def _deliver(
    mail: MailSettings, password: str | None, message: EmailMessage, recipients: Sequence[str], timeout: float
) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if mail.security == "ssl":
        client = smtplib.SMTP_SSL(mail.host, mail.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(mail.host, mail.port, timeout=timeout)
    try:
        client.ehlo()
        if mail.security == "starttls":
            if not client.has_extn("starttls"):
                raise MailError(
                    f"{mail.host}:{mail.port} does not offer STARTTLS: nothing was sent in clear; "
                    "check mail.port and mail.security (ssl for port 465)"
                )
            client.starttls(context=context)
            client.ehlo()
        if mail.user:
            if not client.has_extn("auth"):
                raise MailError(
                    f"{mail.host}:{mail.port} offers no login (SMTP AUTH): remove mail.user, or check mail.security"
                )
            client.login(mail.user, password or "")
        _, sender = parseaddr(mail.sender)
        client.send_message(message, from_addr=sender, to_addrs=list(recipients))
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
