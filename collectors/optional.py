"""Optional endpoints: a refusal for a permission or an unsupported method skips their metrics, not the account.

Issue 11, item 16.  Some calls only add detail to what the account's first call already gave (the
referrer breakdown beside a blog's views, the social breakdown reports beside a site's totals, the
account analytics beside a follower count).  When the platform refuses such a call because the site,
plan, server version or project lacks it, the account is still written; the endpoint's metrics are
recorded in ``Collected.skipped`` with the platform's reason, as Facebook's refused metrics are
(collectors.meta.ask_metrics).

What is tolerated is narrow, and each collector says which of its calls are optional and why:

* :class:`~collectors.errors.PermissionDenied` (``permission=True``, or only the codes given), and
* :class:`~collectors.errors.BadRequest` whose classifier code says the method or dimension is not
  supported (``unsupported``: ``unknown_method``, ``not_found``, ``invalid_argument`` ...).

Everything else still fails the account, so the next run fills it whole: throttling and quota
(RateLimited), 5xx, timeouts and dropped connections (ServerError), a refused token (AuthError) and a
response of the wrong shape (PayloadError).

Nothing partial: once an endpoint is refused it is not asked again in this run, and the rows it gave
for earlier chunks or days are dropped as well (:meth:`OptionalEndpoint.rows`), so an endpoint's
metrics are either written for the whole range or skipped with the reason.

Usage::

    referrers = optional(out, "stats/referrers", unsupported={"unknown_method"},
                         metrics="social_visits and visits_from_<network>")
    for start, end in chunks(...):
        payload = referrers.fetch(lambda: client.get_json(...))
        if payload is not None:
            referrers.keep(parse_referrers(payload, ...))
    out.observations += referrers.rows()
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TypeVar

from collectors.context import Collected
from collectors.errors import BadRequest, CollectorError, PermissionDenied
from collectors.observation import Observation

T = TypeVar("T")


class OptionalEndpoint:
    """One optional endpoint of one account's run (see the module docstring)."""

    def __init__(
        self,
        out: Collected,
        endpoint: str,
        *,
        metrics: str = "",
        skip: Sequence[str] = (),
        permission: bool | Collection[str] = True,
        unsupported: Collection[str] = (),
    ) -> None:
        self.out = out
        self.endpoint = endpoint
        self.metrics = metrics  # what is not collected when refused, for the note ("social_visits ...")
        self.skip = tuple(skip) or (endpoint,)  # the Collected.skipped keys (source metrics) to note
        self.permission = permission
        self.unsupported = frozenset(unsupported)
        self.reason: str | None = None  # set once refused
        self._rows: list[Observation] = []

    @property
    def refused(self) -> bool:
        return self.reason is not None

    def tolerates(self, exc: CollectorError) -> bool:
        """Whether ``exc`` is a refusal this endpoint may be skipped for."""
        if isinstance(exc, PermissionDenied):
            if isinstance(self.permission, bool):
                return self.permission
            return exc.code in self.permission
        return isinstance(exc, BadRequest) and exc.code in self.unsupported

    def fetch(self, call: Callable[[], T]) -> T | None:
        """``call()``; ``None`` (and a note in ``out.skipped``) when it is refused as above, or was before."""
        if self.refused:
            return None
        try:
            return call()
        except (PermissionDenied, BadRequest) as exc:
            if not self.tolerates(exc):
                raise
            self.refuse(exc)
            return None

    def refuse(self, exc: CollectorError) -> None:
        """Record the refusal (once) and forget the rows kept so far."""
        if self.refused:
            return
        kind = "permission" if isinstance(exc, PermissionDenied) else "not supported"
        missing = f"; {self.metrics} not collected" if self.metrics else ""
        said = exc.message.removeprefix(f"{exc.platform}: ") if exc.platform else exc.message
        self.reason = f"{self.endpoint} refused ({kind}): {said}{missing}"
        self.out.skipped += [(key, self.reason) for key in self.skip]
        self._rows.clear()

    def keep(self, rows: Iterable[Observation]) -> None:
        """Rows parsed from an answer of this endpoint, written by :meth:`rows` unless it is refused later."""
        if not self.refused:
            self._rows += rows

    def rows(self) -> list[Observation]:
        """The rows kept, or none once the endpoint was refused."""
        return [] if self.refused else list(self._rows)


def optional(
    out: Collected,
    endpoint: str,
    *,
    metrics: str = "",
    skip: Sequence[str] = (),
    permission: bool | Collection[str] = True,
    unsupported: Collection[str] = (),
) -> OptionalEndpoint:
    """An :class:`OptionalEndpoint` recording its refusal in ``out``."""
    return OptionalEndpoint(out, endpoint, metrics=metrics, skip=skip, permission=permission, unsupported=unsupported)


__all__ = ["OptionalEndpoint", "optional"]
