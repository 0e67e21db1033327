"""The sandbox: a local server that answers like the platforms do, with a fictional bakery's year.

Used by ``socialkpi demo`` (offline, no credentials) and by the tests, which also script faults
through it (429 with a reset signal, 5xx, dropped connections, malformed JSON ...).

:class:`Sandbox`, :class:`Reply` and :class:`Request` come from :mod:`socialkpi.sandbox.server`,
imported on first use: a process that only needs the bakery's accounts (:mod:`socialkpi.sandbox.world`,
``socialkpi.demo.demo_settings``) does not load the HTTP server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialkpi.sandbox.server import Reply, Request, Sandbox

__all__ = ["Reply", "Request", "Sandbox"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from socialkpi.sandbox import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
