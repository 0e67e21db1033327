"""Secret redaction and control-character escaping for every message, log line and stored reason.

Secrets
    Tokens travel in headers wherever the platform allows.  Every message the HTTP layer builds goes
    through :func:`redact`: known secret values (registered with :func:`register_secret`) and the
    values of secret-looking query parameters (``access_token``, ``key``, ``client_secret`` ...)
    are replaced by ``***``; response bodies are cut to 300 characters.  Meta's paging URLs embed
    ``access_token``: they are followed, never logged.

Control characters
    Text a platform sends reaches terminals, log lines, the warehouse and socialkpi.toml.  :func:`redact`
    (so every CollectorError message and, through :class:`RedactingFilter`, every log record) also runs
    :func:`escape_controls`: each C0 control (newline, carriage return and tab included), DEL and each C1
    control becomes a visible escape (``\\x1b``, ``\\r``, ``\\n``), so a reply cannot clear a screen,
    ring a bell or start a forged log line.  Messages are one line each.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

SECRET_PARAMS = frozenset(
    {
        "access_token",
        "token",
        "key",
        "api_key",
        "apikey",
        "client_secret",
        "refresh_token",
        "token_auth",
        "password",
        "appsecret_proof",
        "fb_exchange_token",
        "input_token",
        "code",
        "assertion",
    }
)

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_PARAM_RE = re.compile(
    r"(?i)\b(" + "|".join(sorted(SECRET_PARAMS, key=len, reverse=True)) + r")=([^&\s\"'#]+)"
)
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
# A URL's userinfo (``user:password@``, or a lone token as the user name): after ``//`` up to the last ``@``
# before the host (at most 4 KiB of it: a long text stays cheap); or, without ``//`` (a BASE_URL missing its
# scheme), ``name:secret@host`` as a word of its own.
_URL_END = r"\s/?#'\"<>"
_USERINFO_RE = re.compile(rf"//[^{_URL_END}]{{0,4096}}@(?=[^{_URL_END}@])")
_BARE_USERINFO_RE = re.compile(
    rf"(?<![^\s'\"(<=,])[^{_URL_END}@:=(,]{{1,4096}}:[^{_URL_END}]{{0,4096}}@(?=[^{_URL_END}@])"
)


# C0 (0x00-0x1f), DEL (0x7f) and C1 (0x80-0x9f): shown as \n, \r, \t or \xNN
_CONTROL_ESCAPES: dict[int, str] = {
    code: f"\\x{code:02x}" for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))
} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1) shown as an escape, on one line.

    ``"\\x1b[2J\\x07a\\r\\nb"`` becomes ``"\\\\x1b[2J\\\\x07a\\\\r\\\\nb"``: printable text (any script) is
    left as it is, and applying it twice changes nothing more.
    """
    if _CONTROL_RE.search(text) is None:
        return text
    return text.translate(_CONTROL_ESCAPES)


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`redact` removes it from any text (min. 6 characters).

    Its URL-encoded forms are remembered too: a secret sent as a query value reaches logs (urllib3
    logs every request line at DEBUG) as ``a%2Fb`` or ``a+b``, not as itself.
    """
    if value and len(value) >= 6:
        with _SECRETS_LOCK:
            _SECRETS.update({value, quote(value, safe=""), quote(value, safe="/"), quote_plus(value)})


def redact_userinfo(text: str) -> str:
    """``text`` with the userinfo of every URL in it masked whole: ``ftp://owner:pw@host`` becomes
    ``ftp://***@host``, ``owner:pw@host`` (no scheme) ``***@host``; an e-mail address stays as it is.
    Part of :func:`redact`, so of every message, log line and stored reason; the CLI's own output too."""
    if "@" not in text:
        return text
    text = _USERINFO_RE.sub("//***@", text)
    return _BARE_USERINFO_RE.sub("***@", text)


def redact(text: str) -> str:
    """Remove registered secrets and secret query-parameter values from ``text``; escape its control
    characters (:func:`escape_controls`)."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    text = redact_userinfo(text)
    text = _PARAM_RE.sub(lambda m: f"{m.group(1)}=***", text)
    return escape_controls(_BEARER_RE.sub(lambda m: f"{m.group(1)} ***", text))


def sanitize_url(url: str) -> str:
    """The URL with secret query parameters masked, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    query = [(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, True)]
    netloc = parts.netloc
    if "@" in netloc:  # user:password@host, or a token as the user: all of it masked
        netloc = "***@" + netloc.rpartition("@")[2]
    clean = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*,()"), ""))
    return redact(clean)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's final message and escapes its control characters, so a
    record is one line whatever its arguments hold (installed by the CLI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info:
            exc = record.exc_info[1]
            record.exc_info = None
            record.exc_text = None
            if exc is not None:
                record.msg = f"{record.msg}: {redact(str(exc))}"
        return True
