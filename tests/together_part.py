"""A sandbox part for tests of requests sent at once: GA4's runReport and Facebook's Page insights, answered
only when :data:`PARTIES` of them are in flight at the same moment.

Put it before the real parts (``Sandbox(parts=("tests.together_part", "socialkpi.sandbox.ga4"))``): each such
request waits at a barrier until ``PARTIES`` of them have arrived, then the real handler answers.  A client that
sends them one after the other never gets there: the first one waits out :data:`GIVE_UP` seconds and is refused
with a permission error ("not in flight together"), which fails the account.  The wait is a bound on a test
that fails, not a measure: nothing is timed.  :func:`reset` starts a fresh barrier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from socialkpi.sandbox import facebook, ga4
from socialkpi.sandbox.server import Reply, Request

PARTIES = 3
GIVE_UP = 10.0  # seconds a request waits for the others before the test is failed
_barrier = threading.Barrier(PARTIES)
arrived: list[int] = []  # how many were already waiting at the barrier when each request got there, in order


def reset(parties: int = PARTIES) -> None:
    global _barrier
    _barrier = threading.Barrier(parties)
    arrived.clear()


def together(handler: Callable[[Request], Reply], refusal: Reply) -> Callable[[Request], Reply]:
    def wait_then_answer(request: Request) -> Reply:
        barrier = _barrier
        arrived.append(barrier.n_waiting)
        try:
            barrier.wait(GIVE_UP)
        except threading.BrokenBarrierError:
            return refusal
        return handler(request)

    return wait_then_answer


NOT_TOGETHER = "not in flight together"
GOOGLE_REFUSAL = Reply(403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": NOT_TOGETHER}})
META_REFUSAL = Reply(400, {"error": {"code": 10, "type": "OAuthException", "message": NOT_TOGETHER}})
ROUTES = [
    ("POST", r"/v1beta/properties/(\d+):runReport", together(ga4.run_report, GOOGLE_REFUSAL)),
    ("GET", r"/v\d+\.\d+/(\d+)/insights", together(facebook.insights_handler, META_REFUSAL)),
]
