"""A tiny sandbox part with generic routes for tests/test_http.py (no platform semantics).

Start it with ``Sandbox(parts=("tests.http_part",))``; faults are scripted per path with
``sandbox.script(...)`` on top of these normal answers.

    GET/POST /json            200 {"ok": true, "query": {...}, "authorization": <header or null>}
    GET      /auth            200 with a bearer token equal to FRESH_TOKEN, else 401
    GET      /paged           ?page=N&pages=M: "next" is a full URL (carries access_token, as Meta's
                              does); &loop=1 makes the last page link to itself (a stuck API)
    GET      /offset          ?offset=&limit=&total=: rows offset..offset+limit-1, "rowCount"=total
    GET      /cursor          ?cursor=&pages=M: items of that page, "next_cursor" or null
    GET/POST /slow            ?sleep=S: waits S seconds, then 200
    GET      /slow-once/<key> waits ?sleep=S on the first request for <key> only, then answers fast
    GET      /malformed       200 with a body that is not JSON
    GET      /status/<code>   that status; the error message echoes ?say=
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlencode

from socialkpi.sandbox.server import Reply, Request

FRESH_TOKEN = "fresh-token-123456"

_seen: set[str] = set()
_seen_lock = threading.Lock()


def _int(request: Request, name: str, default: int) -> int:
    return int(request.arg(name) or default)


def json_ok(request: Request) -> Reply:
    return Reply(200, {"ok": True, "query": request.query, "authorization": request.header("Authorization")})


def auth(request: Request) -> Reply:
    if request.bearer() == FRESH_TOKEN:
        return Reply(200, {"ok": True})
    return Reply(401, {"error": {"message": "Session has expired", "code": 190}})


def paged(request: Request) -> Reply:
    page, pages = _int(request, "page", 1), _int(request, "pages", 3)
    loop = request.arg("loop") == "1"
    nxt: int | None = page + 1 if page < pages else (page if loop else None)
    body: dict[str, object] = {"data": [f"p{page}"], "paging": {}}
    if nxt is not None:
        query = {"page": nxt, "pages": pages, "access_token": "paging-secret-token"}
        if loop:
            query["loop"] = 1
        body["paging"] = {"next": f"{request.base_url}/paged?{urlencode(query)}"}
    return Reply(200, body)


def offset(request: Request) -> Reply:
    start, limit, total = _int(request, "offset", 0), _int(request, "limit", 10), _int(request, "total", 0)
    return Reply(200, {"rows": list(range(start, min(start + limit, total))), "rowCount": total})


def cursor(request: Request) -> Reply:
    pages = _int(request, "pages", 3)
    page = int((request.arg("cursor") or "c0")[1:])
    nxt = f"c{page + 1}" if page + 1 < pages else None
    return Reply(200, {"items": [page], "next_cursor": nxt})


def slow(request: Request) -> Reply:
    time.sleep(float(request.arg("sleep") or "1"))
    return Reply(200, {"ok": True})


def slow_once(request: Request) -> Reply:
    key = request.groups[0]
    with _seen_lock:
        first = key not in _seen
        _seen.add(key)
    if first:
        time.sleep(float(request.arg("sleep") or "1"))
    return Reply(200, {"ok": True, "first": first})


def malformed(request: Request) -> Reply:
    return Reply.raw('{"data": [1, 2,')


def status(request: Request) -> Reply:
    return Reply(int(request.groups[0]), {"error": {"message": f"refused: {request.arg('say') or 'no reason'}"}})


ROUTES = [
    ("GET", r"/json", json_ok),
    ("POST", r"/json", json_ok),
    ("GET", r"/auth", auth),
    ("GET", r"/paged", paged),
    ("GET", r"/offset", offset),
    ("GET", r"/cursor", cursor),
    ("GET", r"/slow", slow),
    ("POST", r"/slow", slow),
    ("GET", r"/slow-once/([\w-]+)", slow_once),
    ("GET", r"/malformed", malformed),
    ("GET", r"/status/(\d{3})", status),
]
