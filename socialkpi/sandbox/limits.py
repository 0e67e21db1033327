"""Rate-limit windows for the sandbox's platform parts.

A :class:`Window` counts calls per key in a fixed window that opens at the key's first call and lasts
``seconds``, then opens again at the next call. (X documents its 15-minute windows this way; Umami Cloud's
15 seconds and Plausible's hour are counted the same here.) Anchoring the window at the first call, instead
of at wall-clock multiples, means a burst shorter than the window is always counted in one window: a test
that makes four calls never sees its count reset half-way because the clock crossed ``:15``.

:meth:`Window.reset` forgets every count; :meth:`socialkpi.sandbox.Sandbox.clear` calls it for every part
(through the part's ``WINDOWS``), so calls made by one test are not charged to the next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Window:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.seconds = seconds
        self._clock = clock
        self._open: dict[str, tuple[float, int]] = {}  # key -> (window start, calls in it)
        self._lock = threading.Lock()

    def hit(self, key: str) -> tuple[int, float]:
        """Count one call; return the calls made in the current window, this one included, and its end."""
        now = self._clock()
        with self._lock:
            start, used = self._open.get(key, (now, 0))
            if now >= start + self.seconds:
                start, used = now, 0
            used += 1
            self._open[key] = (start, used)
        return used, start + self.seconds

    def reset(self) -> None:
        with self._lock:
            self._open.clear()
