"""Benchmarks for issue 7: ``python -m bench`` (``make bench``) runs them all and prints one table.

These are benchmarks, not tests: nothing here is collected by pytest (``testpaths = ["tests"]`` and
no file is named ``test_*.py``), and nothing in ``make test`` asserts on time.  Every figure is the
median of several runs, and every goal is a ratio to a reference measured in the *same* run (a
floor such as DuckDB's own bulk insert, a lower bound, a peer tool, or a fixed budget), so a noisy
machine mostly cancels out.  The figures measured so far: bench/RESULTS.md.

One module per benchmark, each with ``run() -> list[Figure]``:

- :mod:`bench.load`        1M observations through warehouse.load, fresh and re-run, vs DuckDB's upsert
- :mod:`bench.collection`  300 accounts against the sandbox with 50 ms per response; dlt as the peer
- :mod:`bench.dashboard`   the dashboard's data for a 90-day window on an 11M-row warehouse
- :mod:`bench.export`      the observations CSV vs DuckDB's COPY; the KPI CSV of the 11M-row warehouse
- :mod:`bench.startup`     ``socialkpi --help`` and which heavy modules each command imports
- :mod:`bench.demo`        ``socialkpi demo --no-dashboard`` (a year, 26 accounts) as a whole process
- :mod:`bench.importcsv`   ``socialkpi import-csv`` of 1M rows, fresh and again, vs read_csv + upsert; 10M rows
"""

from __future__ import annotations

import atexit
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figure:
    """One row of the table.

    ``ratio`` is the figure divided by its reference (a floor, a bound, a peer, or the budget
    itself); the goal is met when ``ratio <= limit``.  ``limit`` None: shown for information.
    """

    name: str
    value: str
    goal: str
    ratio: float | None = None
    limit: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.ratio is None or self.limit is None:
            return None
        return self.ratio <= self.limit


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 20 runs is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def log(message: str) -> None:
    """Progress goes to stderr; stdout holds only the table."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


_TMP: list[str] = []


def tempdir(prefix: str) -> Path:
    """A temp dir removed when the bench process exits (nothing is cached in the repo)."""
    path = tempfile.mkdtemp(prefix=f"socialkpi-bench-{prefix}-")
    _TMP.append(path)
    return Path(path)


@atexit.register
def _cleanup() -> None:
    for path in _TMP:
        shutil.rmtree(path, ignore_errors=True)


def child_env() -> dict[str, str]:
    """Environment for child processes: the repo on the path, dlt telemetry off."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    return env


def run_child(args: list[str], *, timeout: float = 600) -> tuple[float, str]:
    """Run ``args`` with the repo on the path; (whole-process wall seconds, stdout).

    Children report their own peak RSS (``ru_maxrss`` of ``RUSAGE_SELF``) in what they print.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise RuntimeError(f"{args[:4]} timed out after {timeout}s") from None
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} exited {proc.returncode}: {err.strip()[-2000:]}")
    return wall, out


def peak_rss_mb() -> float:
    """This process's peak resident set size: ``VmHWM`` of /proc/self/status.

    Not ``ru_maxrss``: Linux keeps that high-water mark across ``execve``, so a child forked from
    a bench process holding 1 GB would report 1 GB.
    """
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, str]:
    """The machine line of RESULTS.md."""
    import importlib.metadata as md

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "-"

    mem = "?"
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            kb = int(fh.readline().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": version("duckdb"),
        "pandas": version("pandas"),
        "pyarrow": version("pyarrow"),
        "dlt": version("dlt"),
    }
