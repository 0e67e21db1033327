"""The sandbox: a local server that answers like the platforms do, with a fictional bakery's year.

Used by ``socialkpi demo`` (offline, no credentials) and by the tests, which also script faults
through it (429 with a reset signal, 5xx, dropped connections, malformed JSON ...).
"""

from socialkpi.sandbox.server import Reply, Request, Sandbox

__all__ = ["Reply", "Request", "Sandbox"]
