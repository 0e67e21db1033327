"""A ``ThreadingHTTPServer`` on 127.0.0.1, port 0, routing to each platform's part.

A platform part is a module in this package with ``ROUTES``: a list of
``(method, path_regex, handler)``; a handler takes a :class:`Request` (with the regex groups in
``request.groups``) and returns a :class:`Reply`.  The parts are listed literally in
:data:`PARTS`.

Faults are scripted per path: ``sandbox.script(r"/insights", Reply(429, ...), Reply.drop())``
makes the next matching requests get those replies, in order, before the normal handler answers
again; ``when=`` narrows them to the requests it accepts (one of several sent at once to one path,
told apart by their bodies: ``when=lambda r: b"sessionSource" in r.body``).  ``sandbox.requests``
records what arrived (method, path, query, headers, body) so tests can check what a collector really
sent.  A delay per response (``sandbox.delay``) imitates a
distant API for benchmarks.

Two replies misbehave slowly or hugely, for the client's deadlines and size cap:
``Reply.trickle(body, every=2.0)`` sends its body one byte every ``every`` seconds (``whole=True``:
the status line and headers too); ``Reply.huge(size)`` streams ``size`` bytes of a valid JSON
document, chunked (``declared=True``: with a Content-Length).  ``sandbox.streams`` records each of
them: how many bytes were sent of how many, and whether the client stayed to the end.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PARTS: tuple[str, ...] = (
    "socialkpi.sandbox.instagram",  # before facebook: its /vNN.N/<ig id> routes are narrower
    "socialkpi.sandbox.facebook",
    "socialkpi.sandbox.ga4",
    "socialkpi.sandbox.threads",
    "socialkpi.sandbox.x",
    "socialkpi.sandbox.linkedin",
    "socialkpi.sandbox.pinterest",
    "socialkpi.sandbox.tiktok",
    "socialkpi.sandbox.mastodon",
    "socialkpi.sandbox.bluesky",
    "socialkpi.sandbox.youtube",
    "socialkpi.sandbox.google_business",
    "socialkpi.sandbox.plausible",
    "socialkpi.sandbox.matomo",
    "socialkpi.sandbox.umami",
    "socialkpi.sandbox.wordpress",
)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    groups: tuple[str, ...] = ()
    base_url: str = ""
    raw_query: str = ""  # the query string exactly as sent (LinkedIn's Rest.li values must arrive unencoded)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def bearer(self) -> str | None:
        auth = self.header("Authorization") or ""
        return auth[7:] if auth.lower().startswith("bearer ") else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    # "" | "drop" (close without answering) | "truncate" (cut the body short)
    # | "trickle" / "trickle-whole" (a byte every ``every`` s) | "huge" / "huge-declared" (``size`` bytes)
    action: str = ""
    every: float = 2.0
    size: int = 0

    @classmethod
    def drop(cls) -> Reply:
        return cls(action="drop")

    @classmethod
    def truncated(cls, body: Any) -> Reply:
        return cls(200, body, action="truncate")

    @classmethod
    def raw(cls, text: str, status: int = 200) -> Reply:
        return cls(status, text.encode("utf-8"), {"Content-Type": "application/json"})

    @classmethod
    def trickle(cls, body: Any, *, every: float = 2.0, whole: bool = False, status: int = 200) -> Reply:
        """``body`` one byte every ``every`` seconds (``whole``: the status line and headers too)."""
        return cls(status, body, action="trickle-whole" if whole else "trickle", every=every)

    @classmethod
    def huge(cls, size: int, *, declared: bool = False) -> Reply:
        """A JSON document of ``size`` bytes, streamed in 64 KiB pieces as fast as the client reads
        (chunked; ``declared``: with its Content-Length)."""
        return cls(200, None, action="huge-declared" if declared else "huge", size=size)


@dataclass
class Stream:
    """What became of a trickled or huge reply: ``sent`` of ``total`` bytes; ``finished`` when all went."""

    path: str
    action: str
    total: int
    sent: int = 0
    finished: bool = False
    ended: bool = False  # the reply is over: all sent, or the client hung up (or the sandbox stopped)


Handler = Callable[[Request], Reply]


class Sandbox:
    """Start with ``with Sandbox() as sb:``; ``sb.url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, *, delay: float = 0.0, parts: tuple[str, ...] = PARTS) -> None:
        self.delay = delay
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._windows: list[Any] = []  # the parts' rate-limit windows (socialkpi.sandbox.limits.Window)
        for name in parts:
            module = importlib.import_module(name)
            self._windows.extend(getattr(module, "WINDOWS", ()))
            for method, pattern, handler in module.ROUTES:
                self.routes.append((method, re.compile(pattern), handler))
        self.requests: list[Request] = []
        self.streams: list[Stream] = []
        self._stopping = threading.Event()
        self._scripts: list[tuple[re.Pattern[str], Callable[[Request], bool] | None, list[Reply]]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> Sandbox:
        sandbox = self
        self._stopping.clear()

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms per keep-alive request (Nagle and delayed ACK)

            def do_GET(self) -> None:
                sandbox._serve(self)

            def do_POST(self) -> None:
                sandbox._serve(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        class _Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default 5 drops concurrent SYNs: a 1 s retransmit each

            def handle_error(self, request: Any, client_address: Any) -> None:
                import sys

                if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    return  # the client gave up (a timeout test): nothing to report
                super().handle_error(request, client_address)

        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # a trickle still sending ends at its next byte
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "sandbox not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting ---------------------------------------------------------------------------
    def script(self, path_regex: str, *replies: Reply, when: Callable[[Request], bool] | None = None) -> None:
        """The next requests whose path matches (and that ``when`` accepts) get ``replies`` in order."""
        with self._lock:
            self._scripts.append((re.compile(path_regex), when, list(replies)))

    def clear(self) -> None:
        """Forget scripted replies, recorded requests and the calls counted against rate limits."""
        with self._lock:
            self._scripts.clear()
            self.requests.clear()
            self.streams.clear()
        for window in self._windows:
            window.reset()

    def requests_to(self, path_regex: str) -> list[Request]:
        pattern = re.compile(path_regex)
        with self._lock:
            return [r for r in self.requests if pattern.search(r.path)]

    # -- serving -------------------------------------------------------------------------------
    def _next_scripted(self, request: Request) -> Reply | None:
        with self._lock:
            for pattern, when, replies in self._scripts:
                if replies and pattern.search(request.path) and (when is None or when(request)):
                    return replies.pop(0)
        return None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        host = h.headers.get("Host") or "127.0.0.1"
        request = Request(
            method=h.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(h.headers.items()),
            body=body,
            base_url=f"http://{host}",
            raw_query=parts.query,
        )
        with self._lock:
            self.requests.append(request)
        if self.delay:
            time.sleep(self.delay)
        reply = self._next_scripted(request) or self._route(request)
        if reply.action.startswith(("trickle", "huge")):
            self._stream(h, parts.path, reply)
        else:
            self._send(h, reply)

    def _route(self, request: Request) -> Reply:
        for method, pattern, handler in self.routes:
            if method != request.method:
                continue
            match = pattern.fullmatch(request.path)
            if match:
                request.groups = match.groups()
                try:
                    return handler(request)
                except Exception as exc:  # a sandbox bug shows as a 500 with the reason
                    return Reply(500, {"error": {"message": f"sandbox error: {type(exc).__name__}: {exc}"}})
        return Reply(404, {"error": {"message": f"no sandbox route for {request.method} {request.path}"}})

    def _stream(self, h: BaseHTTPRequestHandler, path: str, reply: Reply) -> None:
        """A trickled or huge reply, recorded in :attr:`streams`; the connection is closed after it."""
        h.close_connection = True
        if reply.action.startswith("huge"):
            chunked = reply.action == "huge"
            head = _head(reply.status, {"Content-Type": "application/json; charset=UTF-8", "Connection": "close"})
            if chunked:
                head = head.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n")
            else:
                head = head.replace(b"\r\n\r\n", f"\r\nContent-Length: {reply.size}\r\n\r\n".encode())
            stream = Stream(path, reply.action, reply.size)
            with self._lock:
                self.streams.append(stream)
            try:
                h.wfile.write(head)
                for piece in _huge_pieces(reply.size):
                    if self._stopping.is_set():
                        return
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    stream.sent += len(piece)
                if chunked:
                    h.wfile.write(b"0\r\n\r\n")
                h.wfile.flush()
                stream.finished = True
            except OSError:  # the client hung up: it stopped reading (a size cap, a deadline)
                return
            finally:
                stream.ended = True
            return
        data = _encode(reply.body)
        headers = {"Content-Type": "application/json; charset=UTF-8", "Content-Length": str(len(data))}
        head = _head(reply.status, {**headers, **reply.headers, "Connection": "close"})
        slow = head + data if reply.action == "trickle-whole" else data
        stream = Stream(path, reply.action, len(slow))
        with self._lock:
            self.streams.append(stream)
        try:
            if reply.action == "trickle":
                h.wfile.write(head)
                h.wfile.flush()
            for i in range(len(slow)):
                if self._stopping.wait(reply.every):
                    return
                h.wfile.write(slow[i : i + 1])
                h.wfile.flush()
                stream.sent += 1
            stream.finished = True
        except OSError:
            return
        finally:
            stream.ended = True

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.action == "drop":
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        data = _encode(reply.body)
        h.send_response(reply.status)
        headers = {"Content-Type": "application/json; charset=UTF-8", **reply.headers}
        for key, value in headers.items():
            h.send_header(key, value)
        if reply.action == "truncate":
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(data[: max(1, len(data) // 2)])
            h.wfile.flush()
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def _encode(body: Any) -> bytes:
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode("utf-8")
    if isinstance(body, str):
        return body.encode("utf-8")
    if body is None:
        return b""
    return bytes(body)


def _head(status: int, headers: dict[str, str]) -> bytes:
    """A status line and headers, written by hand (a trickle sends them a byte at a time)."""
    reason = BaseHTTPRequestHandler.responses.get(status, ("",))[0]
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_PIECE = 64 * 1024


def _huge_pieces(size: int) -> Iterator[bytes]:
    """``size`` bytes (at least 16) that make one JSON document: ``{"data": "xxx...x"}``."""
    opening, closing = b'{"data": "', b'"}'
    filler = max(0, size - len(opening) - len(closing))
    yield opening
    full, rest = divmod(filler, _PIECE)
    piece = b"x" * _PIECE
    for _ in range(full):
        yield piece
    if rest:
        yield b"x" * rest
    yield closing
