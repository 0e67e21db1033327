"""A sandbox part for tests/test_ga4.py: GA4's runReport, answered only when :data:`PARTIES` requests are in
flight at the same moment.

Put it before the real part (``Sandbox(parts=("tests.together_part", "socialkpi.sandbox.ga4"))``): each
runReport waits at a barrier until ``PARTIES`` of them have arrived, then the real handler answers.  A client
that sends them one after the other never gets there: the first one waits out :data:`GIVE_UP` seconds and is
refused with PERMISSION_DENIED ("not in flight together"), which fails a GA4 account.  The wait is a bound on
a test that fails, not a measure: nothing is timed.  :func:`reset` starts a fresh barrier.
"""

from __future__ import annotations

import threading

from socialkpi.sandbox import ga4
from socialkpi.sandbox.server import Reply, Request

PARTIES = 3
GIVE_UP = 10.0  # seconds a request waits for the others before the test is failed
_barrier = threading.Barrier(PARTIES)
arrived: list[int] = []  # how many were waiting at the barrier when each request got there, in order


def reset(parties: int = PARTIES) -> None:
    global _barrier
    _barrier = threading.Barrier(parties)
    arrived.clear()


def run_report(request: Request) -> Reply:
    barrier = _barrier
    arrived.append(barrier.n_waiting)
    try:
        barrier.wait(GIVE_UP)
    except threading.BrokenBarrierError:
        return Reply(403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "not in flight together"}})
    return ga4.run_report(request)


ROUTES = [("POST", r"/v1beta/properties/(\d+):runReport", run_report)]
