"""The HTTP client every collector uses: session, timeouts, retries, deadlines, threads.

Nothing outside the HTTP layer (this module and the four it names below) talks to ``requests``
directly.  A collector gets a :class:`Client` (one per account run, so one ``requests.Session`` per
platform call chain), calls :meth:`Client.get_json` / :meth:`Client.post_json`, and never sleeps or
retries itself.

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

Errors, redaction, paging
    What a response means, and the error tree a call raises (``AuthError``, ``RateLimited``,
    ``ServerError`` ...): :mod:`collectors.errors`, its docstring has the tree.  Every message and URL
    this module puts in an error or a log line is redacted: :mod:`collectors.redaction`.  Paging walks
    built on :meth:`Client.get_json`: :mod:`collectors.paging`.  The socket watchdog behind the request
    deadline: :mod:`collectors.watchdog`.

Threads
    One client may send from several threads at once (GA4 sends a property's reports together).
    ``requests.Session`` has no documented thread-safety contract, and its maintainers advise one
    session per thread (psf/requests#2766, "Document threading contract for Session class"), so
    :attr:`Client.thread_session` gives each thread its own (the creating thread keeps
    :attr:`Client.session`; the others' are made on their first request and closed with the client).
    The token is shared: ``auth_headers`` is read and ``refresh`` called under one lock, so while
    one thread refreshes, the others wait for it, and a request refused with the token that was just
    replaced is retried with the new one instead of refreshing again (one refresh, not one per
    thread).  The hooks' own swaps of ``auth_headers`` / ``refresh`` (collectors.tokens.without_auth)
    happen under that lock, so no other thread ever sends without the bearer.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from collectors.errors import (
    ERRORS,
    BadRequest,
    Classifier,
    CollectorError,
    PayloadError,
    RateLimited,
    ServerError,
    Verdict,
    default_classify,
)
from collectors.redaction import redact, register_secret, sanitize_url
from collectors.watchdog import IN_FLIGHT, WATCHDOG, WatchedAdapter

log = logging.getLogger("socialkpi.http")

USER_AGENT = "socialkpi/0.1 (+https://github.com/socialkpi/socialkpi)"
DEFAULT_TIMEOUT = (5.0, 30.0)
DEFAULT_REQUEST_DEADLINE = 120.0  # seconds for one request, connect to last byte
DEFAULT_MAX_BODY = 64 * 1024 * 1024  # bytes of one response body, decompressed
_PIECE = 64 * 1024  # bodies are read this much at a time


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
    Both are called under the client's auth lock, one thread at a time (see "Threads" above).
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
    # Threads: the token's lock (re-entrant: a refresh hook sends its token request through this client),
    # the count of refreshes made through it, and each thread's own session (see "Threads" above).
    _auth_lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False, compare=False)
    _auth_generation: int = field(default=0, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False, compare=False)
    _owner: int = field(default_factory=threading.get_ident, init=False, repr=False, compare=False)
    _thread_sessions: list[requests.Session] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, WatchedAdapter())

    def use_token(self, token: str, *, header: str = "Authorization", prefix: str = "Bearer ") -> None:
        """Send ``token`` with every request, in ``header`` after ``prefix`` (a bearer unless told otherwise;
        never in a URL), and register it as a secret so that no message or log line shows it."""
        register_secret(token)
        value = prefix + token
        self.auth_headers = lambda: {header: value}

    @property
    def thread_session(self) -> requests.Session:
        """The calling thread's session: :attr:`session` in the thread that made the client; in any other
        thread a session of its own, with the same headers and settings, made on first use."""
        if threading.get_ident() == self._owner:
            return self.session
        own: requests.Session | None = getattr(self._local, "session", None)
        if own is None:
            own = requests.Session()
            own.headers.clear()
            own.headers.update(self.session.headers)
            for name in ("auth", "proxies", "verify", "cert", "trust_env", "max_redirects"):
                setattr(own, name, getattr(self.session, name))
            for prefix in ("https://", "http://"):
                own.mount(prefix, WatchedAdapter())
            with self._lock:
                self._thread_sessions.append(own)
            self._local.session = own
        return own

    def close(self) -> None:
        self.session.close()
        with self._lock:
            others, self._thread_sessions[:] = list(self._thread_sessions), []
        for other in others:
            other.close()

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
                status, resp_headers, body, generation = self._send(method, url, params, json_body, data, headers)
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
            if verdict.kind == "auth" and not refreshed:
                refreshed = True
                if self._renew(generation):
                    continue
            if verdict.kind in RETRYABLE and attempt < attempts:
                wait = verdict.retry_after
                if wait is not None and wait > self.policy.max_retry_after:
                    raise self._error(verdict, status, url, reset_in=wait)
                self._wait(attempt, wait, f"HTTP {status} {verdict.kind}; retrying")
                continue
            raise self._error(verdict, status, url, reset_in=verdict.retry_after)

    # -- internals ------------------------------------------------------------------------
    def _renew(self, generation: int) -> bool:
        """After an auth error of a request sent with the token of ``generation``: whether to send it again.

        One refresh at a time: a thread that finds the token renewed since its request took it retries with
        the new one; otherwise it calls ``refresh`` itself while the others wait.  A request the refresh
        hook sends (the token endpoint's) never refreshes: no refresh inside a refresh.
        """
        if getattr(self._local, "renewing", False):
            return False
        with self._auth_lock:
            if self._auth_generation != generation:
                return True  # another thread renewed the token after this request was sent
            hook = self.refresh
            if hook is None:
                return False
            self._local.renewing = True
            try:
                renewed = hook()
            finally:
                self._local.renewing = False
            if renewed:
                self._auth_generation += 1
            return renewed

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[int, Mapping[str, str], Any, int]:
        """One request: status, headers, decoded body, and the generation of the token it was sent with."""
        merged: dict[str, str] = {}
        with self._auth_lock:  # never while another thread refreshes (or has the bearer swapped out)
            generation = self._auth_generation
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
        with self._lock:  # += is a read and a write: two threads could count one request
            self.requests_made += 1
        watch = WATCHDOG.watch(end)
        outer = getattr(IN_FLIGHT, "watch", None)  # a request sent while another is being sent (a token hook)
        IN_FLIGHT.watch = watch
        try:
            with self.thread_session.request(
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
                return resp.status_code, resp.headers, _decode(raw), generation
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
            IN_FLIGHT.watch = outer

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
