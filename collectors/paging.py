"""Pagination helpers: one per paging style a platform uses (a "next" link, offset/limit, a cursor).

Each page is fetched through the account's :class:`collectors.http.Client` (so with its retries,
deadlines and redaction), and every walk stops after ``max_pages`` pages or when the server hands back a
page already fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import requests

from collectors.errors import PayloadError

if TYPE_CHECKING:
    from collectors.http import Client

MAX_PAGES = 1000


def paginate_next_url(
    client: Client,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    next_url: Callable[[Any], str | None],
    max_pages: int = MAX_PAGES,
) -> Iterator[Any]:
    """Follow a "next" link (Meta's ``paging.next``, Mastodon's ``Link``): yield each page's JSON.

    The first request carries ``params``; later ones use the server's full URL as given, which
    may embed a token (Meta) and so is never logged unredacted.  A link already followed (the
    first request's URL with its ``params`` included, query order ignored) ends the walk: a stuck
    API that keeps answering the same "next" would otherwise be fetched ``max_pages`` times.
    """
    page = client.get_json(url, params=params)
    seen = {_page_key(url), _page_key(requests.Request("GET", url, params=params).prepare().url or url)}
    for _ in range(max_pages):
        yield page
        nxt = next_url(page)
        if not nxt or _page_key(nxt) in seen:
            return
        seen.add(_page_key(nxt))
        page = client.get_json(nxt)
    raise PayloadError(f"{client.platform}: more than {max_pages} pages; stopping", platform=client.platform)


def _page_key(url: str) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc, parts.path, tuple(sorted(parse_qsl(parts.query, True))))


def paginate_offset(
    fetch: Callable[[int, int], Any],
    *,
    total: Callable[[Any], int],
    limit: int,
    max_pages: int = MAX_PAGES,
) -> Iterator[Any]:
    """Offset/limit paging (GA4's ``rowCount``): call ``fetch(offset, limit)`` while rows remain."""
    offset = 0
    for _ in range(max_pages):
        page = fetch(offset, limit)
        yield page
        offset += limit
        if offset >= total(page):
            return
    raise PayloadError(f"more than {max_pages} pages; stopping")


def paginate_cursor(
    fetch: Callable[[str | None], Any],
    *,
    cursor: Callable[[Any], str | None],
    max_pages: int = MAX_PAGES,
) -> Iterator[Any]:
    """Cursor paging (``pagination_token``, ``bookmark``, ``cursor``): ``fetch(None)`` first.

    Stops when there is no cursor or when a cursor comes back a second time (it would fetch a
    page already yielded).
    """
    token: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        page = fetch(token)
        yield page
        token = cursor(page)
        if not token or token in seen:
            return
        seen.add(token)
    raise PayloadError(f"more than {max_pages} pages; stopping")
