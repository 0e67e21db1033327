"""The sandbox in a process of its own, for ``socialkpi demo``.

In the collecting process, the sandbox's threads (parsing each request, building and encoding each
answer) take the GIL from the collectors and the writer: every request then waits for it twice.  In
its own process the sandbox answers on the other core.  The demo replays past runs "as of" past
days, so this sandbox has one more route, ``POST /__sandbox__/clock`` (``{"now": ISO time or null}``),
which sets :func:`socialkpi.sandbox.world.set_clock` in the sandbox's process.

``python -m socialkpi.sandbox.process``: serve on a free loopback port, print its URL on one line, and
stop when standard input ends (the parent closed it, or died: a ``kill -9`` of the demo leaves no
sandbox behind).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path
from types import TracebackType

CLOCK_PATH = "/__sandbox__/clock"


class SandboxProcess:
    """``with SandboxProcess() as sandbox:`` ``sandbox.url``; ``sandbox.set_clock(moment)``."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> SandboxProcess:
        # the child imports the same socialkpi as this process: from its source tree when it runs from one
        # (a checkout on PYTHONPATH, the tests' rootdir); an installed package needs nothing (and its
        # site-packages must not go before the standard library)
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ)
        if root.name not in ("site-packages", "dist-packages"):
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "socialkpi.sandbox.process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the demo's sandbox did not start (it said {line[:200]!r})")
        self.url = line
        return self

    def set_clock(self, moment: datetime | None) -> None:
        """The sandbox's "now" (:func:`socialkpi.sandbox.world.now`): ``moment``, or the real clock (None)."""
        body = json.dumps({"now": moment.isoformat() if moment is not None else None}).encode()
        request = urllib.request.Request(  # noqa: S310 (our own loopback URL)
            self.url + CLOCK_PATH, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            reply.read()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _serve() -> None:
    from socialkpi.sandbox import world
    from socialkpi.sandbox.server import Reply, Request, Sandbox

    def clock(request: Request) -> Reply:
        now = request.json().get("now")
        moment = datetime.fromisoformat(now) if now else None
        world.set_clock(None if moment is None else (lambda: moment))
        return Reply(200, {"now": now})

    sandbox = Sandbox()
    sandbox.routes.insert(0, ("POST", re.compile(re.escape(CLOCK_PATH)), clock))
    with sandbox:
        sys.stdout.write(sandbox.url + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes our standard input (or dies)


if __name__ == "__main__":
    _serve()
