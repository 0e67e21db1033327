"""The watchdog that holds every request to its total deadline (see "Deadlines" in collectors.http).

A read timeout only bounds the silence between two packets.  :data:`WATCHDOG` (one daemon thread for the
process) shuts a request's socket down once the request's deadline passes: :class:`WatchedAdapter`'s pools
show each request's connection to the :class:`_Watch` the sending thread put in :data:`IN_FLIGHT`.
"""

from __future__ import annotations

import contextlib
import heapq
import socket
import threading
import time
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

IN_FLIGHT = threading.local()  # .watch: the _Watch of the request this thread is sending, if any


class _Watch:
    """Shuts down the socket of one request in flight once its deadline passes.

    Sockets are attached as urllib3 hands out a kept-alive connection or opens a new one (the
    socket itself: http.client lets go of a closing connection's socket while its body is still
    being read).  :data:`WATCHDOG` calls :meth:`cut` at the deadline, and again every 0.2 s (a
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


WATCHDOG = _Watchdog()


def _attach(sock: Any) -> None:
    watch = getattr(IN_FLIGHT, "watch", None)
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


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, with pools that show each request's connection to its :class:`_Watch`."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
