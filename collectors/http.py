"""The one HTTP layer every collector uses: session, timeouts, retries, paging, errors, redaction.

Nothing else in the project talks to ``requests`` directly.  A collector gets a :class:`Client`
(one per account run, so one ``requests.Session`` per platform call chain), calls
:meth:`Client.get_json` / :meth:`Client.post_json`, and never sleeps or retries itself.

Retry policy
    Every call has a ``(connect, read)`` timeout.  429, 5xx, timeouts and dropped connections
    (including a body cut short) are retried with exponential backoff and full jitter, up to
    ``RetryPolicy.attempts`` tries.  A server's ``Retry-After`` (seconds or an HTTP date), or the
    platform's own reset signal that the classifier reads, is honoured but capped at
    ``RetryPolicy.max_retry_after``; a wait longer than the cap is not slept through: the call
    fails at once with :class:`RateLimited` carrying the reset time, so a cron run never hangs.

Deadlines and the size cap
    A read timeout only bounds the silence between two packets: a server that sends one byte
    every few seconds never trips it.  So every request also has a total deadline,
    ``RetryPolicy.request_deadline`` (120 s, connect to last byte, headers included): a watchdog
    shuts the request's socket down when it passes, and the call fails with :class:`ServerError`
    (``code="deadline"``) naming the platform and the URL.  Bodies are read in 64 KiB pieces and
    capped at ``RetryPolicy.max_body_bytes`` (64 MiB, decompressed; real payloads are a few MB at
    most): a larger declared ``Content-Length`` fails before the body is read, a larger stream as
    soon as the cap is passed (``ServerError``, ``code="too_large"``), so memory stays bounded.
    Neither is retried: a server that took the whole deadline, or sent too much, would most likely
    do it again, and each try would cost another deadline or another cap of memory and traffic;
    the account fails with that reason and the next run fills the gap.  ``Client.deadline`` (a
    ``time.monotonic()`` value; the collect's own deadline) is a hard end for everything the
    client does: past it no request starts and no retry wait is slept, and a request in flight
    is cut when it comes.

Error classification
    Only this module decides what a response means.  Each platform may pass a *classifier*: a
    function ``(status, headers, body) -> Verdict | None`` that reads that platform's error JSON
    (Meta's ``error.code``, Google's ``error.status`` ...).  ``None`` falls back to the HTTP status.
    The registry names each platform's classifier and the runner sets it on the account's client
    (``Client.classify``) before the collector runs: a collector never sets it.

    CollectorError            base; ``kind``, ``platform``, ``status``, a sanitized ``url``
    ├── AuthError             token missing, expired or revoked: fix the credential
    ├── PermissionDenied      the token lacks a scope / role / App Review feature
    ├── RateLimited           throttled and retries exhausted (or the reset is too far away)
    ├── BadRequest            the request was refused as invalid (``code`` says why, e.g. a retired metric)
    ├── ServerError           5xx or network failures that outlived the retries
    └── PayloadError          the response is not the JSON shape the collector expects

Secrets
    Tokens travel in headers wherever the platform allows.  Every message this module builds goes
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

import contextlib
import email.utils
import heapq
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

log = logging.getLogger("socialkpi.http")

USER_AGENT = "socialkpi/0.1 (+https://github.com/socialkpi/socialkpi)"
DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_REQUEST_DEADLINE = 120.0  # seconds for one request, connect to last byte
DEFAULT_MAX_BODY = 64 * 1024 * 1024  # bytes of one response body, decompressed
_PIECE = 64 * 1024  # bodies are read this much at a time

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

# ---------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class CollectorError(Exception):
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        platform: str = "",
        status: int | None = None,
        url: str = "",
        code: str = "",
        reset_at: datetime | None = None,
    ) -> None:
        self.message = redact(message)
        self.platform = platform
        self.status = status
        self.url = sanitize_url(url) if url else ""
        self.code = code
        self.reset_at = reset_at
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"

    def with_message(self, message: str) -> Self:
        """The same error (class, platform, status, url, code, reset_at) with another message.

        For a collector that adds advice to an error: ``raise exc.with_message(f"{exc.message}; ...")``.
        The new message is redacted like any other.
        """
        return type(self)(
            message,
            platform=self.platform,
            status=self.status,
            url=self.url,
            code=self.code,
            reset_at=self.reset_at,
        )


class AuthError(CollectorError):
    kind = "auth"


class PermissionDenied(CollectorError):
    kind = "permission"


class RateLimited(CollectorError):
    kind = "throttled"


class BadRequest(CollectorError):
    kind = "bad_request"


class ServerError(CollectorError):
    kind = "server"


class PayloadError(CollectorError):
    kind = "payload"


ERRORS: dict[str, type[CollectorError]] = {
    cls.kind: cls for cls in (AuthError, PermissionDenied, RateLimited, BadRequest, ServerError, PayloadError)
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a platform's classifier makes of a response.

    ``kind`` is ``ok`` or one of the error kinds above; ``retry_after`` is seconds to wait
    (throttling); ``code`` a short machine reason (``invalid_metric``, ``quota_exceeded`` ...).
    """

    kind: str
    message: str = ""
    retry_after: float | None = None
    code: str = ""


Classifier = Callable[[int, Mapping[str, str], Any], "Verdict | None"]


def default_classify(status: int, headers: Mapping[str, str], body: Any) -> Verdict:
    """Classify by HTTP status alone."""
    if status < 400:
        return Verdict("ok")
    message = _body_message(body) or f"HTTP {status}"
    if status == 401:
        return Verdict("auth", message)
    if status == 403:
        return Verdict("permission", message)
    if status == 429:
        return Verdict("throttled", message, parse_retry_after(headers.get("Retry-After")))
    if status >= 500:
        return Verdict("server", message, parse_retry_after(headers.get("Retry-After")))
    return Verdict("bad_request", message)


def _body_message(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return str(body.get("error_description") or body.get("message") or err)
        for key in ("message", "detail", "error_description", "title"):
            if isinstance(body.get(key), str):
                return str(body[key])
    if isinstance(body, str):
        return body
    return ""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def seconds_until_epoch(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds until a reset given as a Unix epoch.

    X's ``x-rate-limit-reset``, Bluesky's ``RateLimit-Reset``.
    """
    if not value:
        return None
    try:
        epoch = float(value)
    except ValueError:
        return None
    current = time.time() if now is None else now
    return max(0.0, epoch - current)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header, whatever its case (a classifier gets ``requests``' case-insensitive headers, a
    test a plain dict)."""
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


# ---------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # tries in total, the first included
    backoff: float = 0.5  # first backoff in seconds; doubles each try, full jitter
    max_backoff: float = 30.0
    max_retry_after: float = 120.0  # a longer server-requested wait fails at once instead
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    request_deadline: float = DEFAULT_REQUEST_DEADLINE  # one request in total, however the server trickles
    max_body_bytes: int = DEFAULT_MAX_BODY  # a larger response body fails the call


RETRYABLE = frozenset({"throttled", "server"})


@dataclass
class Client:
    """A ``requests.Session`` for one platform, with the policy above.

    ``auth_headers`` is called before every request (so a refreshed token is picked up);
    ``refresh`` is called once after an auth error, and the request retried if it returns True.
    ``deadline`` (``time.monotonic()``) ends everything this client does, ``deadline_label``
    names it in the error ("the collect deadline ..."); ``deadline_hit`` says it cut something.
    """

    platform: str
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    classify: Classifier | None = None
    auth_headers: Callable[[], dict[str, str]] | None = None
    refresh: Callable[[], bool] | None = None
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    requests_made: int = 0
    waits: list[float] = field(default_factory=list)
    deadline: float | None = None
    deadline_label: str = "the deadline"
    deadline_hit: bool = False

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, _WatchedAdapter())

    def use_token(self, token: str, *, header: str = "Authorization", prefix: str = "Bearer ") -> None:
        """Send ``token`` with every request, in ``header`` after ``prefix`` (a bearer unless told otherwise;
        never in a URL), and register it as a secret so that no message or log line shows it."""
        register_secret(token)
        value = prefix + token
        self.auth_headers = lambda: {header: value}

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ---------------------------------------------------------------------------
    def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        return self.request_json("GET", url, params=params, headers=headers)

    def post_json(
        self,
        url: str,
        *,
        json_body: Any = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> Any:
        return self.request_json(
            "POST", url, params=params, json_body=json_body, data=data, headers=headers, retry=retry
        )

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> Any:
        """Send one request, retrying as the policy says; return the decoded JSON body."""
        attempts = self.policy.attempts if retry else 1
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                status, resp_headers, body = self._send(method, url, params, json_body, data, headers)
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                reason = _network_reason(exc)
                if attempt < attempts:
                    self._wait(attempt, None, f"{reason}; retrying")
                    continue
                raise ServerError(
                    f"{self.platform}: {reason} after {attempt} tries ({sanitize_url(url)})",
                    platform=self.platform,
                    url=url,
                ) from None
            verdict = (
                self.classify(status, resp_headers, body) if self.classify else None
            ) or default_classify(status, resp_headers, body)
            if verdict.kind == "ok":
                if isinstance(body, _Undecodable):
                    raise PayloadError(
                        f"{self.platform}: the response is not valid JSON ({body.snippet})",
                        platform=self.platform,
                        status=status,
                        url=url,
                    )
                return body
            if verdict.kind == "auth" and self.refresh is not None and not refreshed:
                refreshed = True
                if self.refresh():
                    continue
            if verdict.kind in RETRYABLE and attempt < attempts:
                wait = verdict.retry_after
                if wait is not None and wait > self.policy.max_retry_after:
                    raise self._error(verdict, status, url, reset_in=wait)
                self._wait(attempt, wait, f"HTTP {status} {verdict.kind}; retrying")
                continue
            raise self._error(verdict, status, url, reset_in=verdict.retry_after)

    # -- internals ------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[int, Mapping[str, str], Any]:
        merged: dict[str, str] = {}
        if self.auth_headers is not None:
            merged.update(self.auth_headers())
        if headers:
            merged.update(headers)
        now = time.monotonic()
        end = now + self.policy.request_deadline
        hard = self.deadline is not None and self.deadline < end
        if hard and self.deadline is not None:
            end = self.deadline
        if end <= now:
            raise self._deadline_error(url, hard, sent=False)
        self.requests_made += 1
        watch = _WATCHDOG.watch(end)
        outer = getattr(_IN_FLIGHT, "watch", None)  # a request sent while another is being sent (a token hook)
        _IN_FLIGHT.watch = watch
        try:
            with self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=data,
                headers=merged,
                timeout=self.policy.timeout,
                stream=True,
            ) as resp:
                raw = self._read_body(resp, url, end)  # a body cut short raises ChunkedEncodingError here
                return resp.status_code, resp.headers, _decode(raw)
        except CollectorError as exc:
            if exc.code == "deadline" or not watch.fired:
                raise
            raise self._deadline_error(url, hard) from None
        except Exception:
            if watch.fired:  # the watchdog shut the socket: whatever broke, the deadline did it
                raise self._deadline_error(url, hard) from None
            raise
        finally:
            watch.finish()
            _IN_FLIGHT.watch = outer

    def _read_body(self, resp: requests.Response, url: str, end: float) -> bytearray:
        """The body in pieces, failing once it passes the size cap or the deadline."""
        cap = self.policy.max_body_bytes
        declared = (resp.headers.get("Content-Length") or "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise self._too_large(url, resp.status_code, f"it says it is {_size(int(declared))}")
        body = bytearray()
        for piece in resp.iter_content(_PIECE):
            body += piece
            if len(body) > cap:
                raise self._too_large(url, resp.status_code, "more was still coming")
            if time.monotonic() > end:
                raise self._deadline_error(url, self.deadline is not None and end >= self.deadline)
        return body

    def _too_large(self, url: str, status: int, detail: str) -> ServerError:
        cap = self.policy.max_body_bytes
        return ServerError(
            f"{self.platform}: the response is larger than {_size(cap)}, the size cap of one response "
            f"({detail}); not read further ({sanitize_url(url)})",
            platform=self.platform,
            status=status,
            url=url,
            code="too_large",
        )

    def _deadline_error(self, url: str, hard: bool, *, sent: bool = True) -> ServerError:
        self.deadline_hit = self.deadline_hit or hard
        if hard:
            when = "during a request to" if sent else "before a request to"
            text = f"deadline reached: {self.deadline_label} passed {when} {sanitize_url(url)}"
        else:
            text = (
                f"request deadline reached: no complete response within {self.policy.request_deadline:g} s "
                f"({sanitize_url(url)})"
            )
        return ServerError(f"{self.platform}: {text}", platform=self.platform, url=url, code="deadline")

    def _wait(self, attempt: int, retry_after: float | None, why: str) -> None:
        if retry_after is not None:
            delay = min(retry_after, self.policy.max_retry_after)
        else:
            cap = min(self.policy.max_backoff, self.policy.backoff * (2 ** (attempt - 1)))
            delay = random.uniform(cap / 2, cap)  # jitter, never zero so a burst spreads out
        if self.deadline is not None and time.monotonic() + delay >= self.deadline:
            self.deadline_hit = True
            raise ServerError(
                f"{self.platform}: deadline reached: {self.deadline_label} comes before the next try ({why})",
                platform=self.platform,
                code="deadline",
            )
        self.waits.append(delay)
        log.info(
            "%s: %s in %.2fs (try %d of %d)", self.platform, why, delay, attempt + 1, self.policy.attempts
        )
        self.sleep(delay)

    def _error(self, verdict: Verdict, status: int, url: str, *, reset_in: float | None) -> CollectorError:
        cls = ERRORS.get(verdict.kind, BadRequest)
        reset_at = datetime.fromtimestamp(time.time() + reset_in, UTC) if reset_in else None
        text = verdict.message or f"HTTP {status}"
        if len(text) > 300:
            text = text[:300] + "…"
        if cls is RateLimited and reset_at is not None:
            text = f"{text} (resets at {reset_at:%Y-%m-%d %H:%M} UTC)"
        return cls(
            f"{self.platform}: {text}",
            platform=self.platform,
            status=status,
            url=url,
            code=verdict.code,
            reset_at=reset_at,
        )


# -- the watchdog of one request ----------------------------------------------------------------

_IN_FLIGHT = threading.local()  # .watch: the _Watch of the request this thread is sending, if any


class _Watch:
    """Shuts down the socket of one request in flight once its deadline passes.

    Sockets are attached as urllib3 hands out a kept-alive connection or opens a new one (the
    socket itself: http.client lets go of a closing connection's socket while its body is still
    being read).  :data:`_WATCHDOG` calls :meth:`cut` at the deadline, and again every 0.2 s (a
    connection being opened has no socket yet) until the request's thread calls :meth:`finish`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.finished = False
        self.fired = False

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)

    def cut(self) -> bool:
        """Shut the sockets down; False once the request is over (nothing more to do)."""
        with self._lock:
            if self.finished:
                return False
            self.fired = True
            for sock in self._socks:
                # the plain socket's shutdown, also for an SSLSocket (its own would unwrap TLS under the reader)
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            return True

    def finish(self) -> None:
        with self._lock:
            self.finished = True


class _Watchdog:
    """One daemon thread for the whole process that cuts each :class:`_Watch` at its time."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = 0
        self._thread: threading.Thread | None = None

    def watch(self, at: float) -> _Watch:
        watch = _Watch()
        with self._cond:
            if len(self._heap) > 4096:  # requests that ended in time, waiting for their far deadlines
                self._heap = [entry for entry in self._heap if not entry[2].finished]
                heapq.heapify(self._heap)
            self._push(at, watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-watchdog", daemon=True)
                self._thread.start()
        return watch

    def _push(self, at: float, watch: _Watch) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, watch))
        if self._heap[0][2] is watch:
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)  # the request ended in time (the usual case)
                if not self._heap:
                    self._cond.wait()
                    continue
                at, _, watch = self._heap[0]
                delay = at - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
                if watch.cut():
                    self._push(time.monotonic() + 0.2, watch)


_WATCHDOG = _Watchdog()


def _attach(sock: Any) -> None:
    watch = getattr(_IN_FLIGHT, "watch", None)
    if watch is None or sock is None:
        return
    if not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)  # urllib3's SSLTransport (TLS through a TLS proxy)
    if isinstance(sock, socket.socket):
        watch.attach(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _attach(self.sock)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        _attach(getattr(conn, "sock", None))  # a kept-alive connection: no connect() this time
        return conn


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        _attach(getattr(conn, "sock", None))
        return conn


_WATCHED_POOLS: dict[str, type[urllib3.HTTPConnectionPool]] = {
    "http": _WatchedHTTPPool,
    "https": _WatchedHTTPSPool,
}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, with pools that show each request's connection to its :class:`_Watch`."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n:,} bytes"


@dataclass(frozen=True, slots=True)
class _Undecodable:
    snippet: str


def _decode(raw: bytes | bytearray) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        text = raw[:120].decode("utf-8", "replace").replace("\n", " ")
        return _Undecodable(redact(text))


def _network_reason(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped mid-body"
    return "connection failed or dropped"


# ---------------------------------------------------------------------------------------------
# Pagination
# ---------------------------------------------------------------------------------------------

MAX_PAGES = 1000


def paginate_next_url(
    client: Client,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    next_url: Callable[[Any], str | None],
    max_pages: int = MAX_PAGES,
) -> Iterator[Any]:
    """Follow a "next" link (Meta's ``paging.next``, Mastodon's ``Link``): yield each page's JSON.

    The first request carries ``params``; later ones use the server's full URL as given, which
    may embed a token (Meta) and so is never logged unredacted.  A link already followed (the
    first request's URL with its ``params`` included, query order ignored) ends the walk: a stuck
    API that keeps answering the same "next" would otherwise be fetched ``max_pages`` times.
    """
    page = client.get_json(url, params=params)
    seen = {_page_key(url), _page_key(requests.Request("GET", url, params=params).prepare().url or url)}
    for _ in range(max_pages):
        yield page
        nxt = next_url(page)
        if not nxt or _page_key(nxt) in seen:
            return
        seen.add(_page_key(nxt))
        page = client.get_json(nxt)
    raise PayloadError(f"{client.platform}: more than {max_pages} pages; stopping", platform=client.platform)


def _page_key(url: str) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc, parts.path, tuple(sorted(parse_qsl(parts.query, True))))


def paginate_offset(
    fetch: Callable[[int, int], Any],
    *,
    total: Callable[[Any], int],
    limit: int,
    max_pages: int = MAX_PAGES,
) -> Iterator[Any]:
    """Offset/limit paging (GA4's ``rowCount``): call ``fetch(offset, limit)`` while rows remain."""
    offset = 0
    for _ in range(max_pages):
        page = fetch(offset, limit)
        yield page
        offset += limit
        if offset >= total(page):
            return
    raise PayloadError(f"more than {max_pages} pages; stopping")


def paginate_cursor(
    fetch: Callable[[str | None], Any],
    *,
    cursor: Callable[[Any], str | None],
    max_pages: int = MAX_PAGES,
) -> Iterator[Any]:
    """Cursor paging (``pagination_token``, ``bookmark``, ``cursor``): ``fetch(None)`` first.

    Stops when there is no cursor or when a cursor comes back a second time (it would fetch a
    page already yielded).
    """
    token: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        page = fetch(token)
        yield page
        token = cursor(page)
        if not token or token in seen:
            return
        seen.add(token)
    raise PayloadError(f"more than {max_pages} pages; stopping")
