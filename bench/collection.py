"""Collection: 300 accounts across every registered platform, against the sandbox with 50 ms added
to each response; dlt's rest_api source on the same endpoints as the peer.

Processes (so that peak RSS is the collector's own, and the sandbox does not share its GIL):

- ``python -m bench.collection sandbox N DELAY``: the sandbox, serving the bench accounts;
- ``python -m bench.collection collect URL N DB [PLATFORM ...]``: ``socialkpi.runner.run_collect``
  over the bench accounts into a fresh warehouse (``demo_settings`` pointing every platform at the
  sandbox, ``history_days`` = :data:`HISTORY_DAYS`); prints JSON with the in-process wall time, the
  requests each platform really made (``run_accounts.requests``) and ``ru_maxrss``;
- ``python -m bench.collection dlt URL N DB PIPELINES_DIR``: the same endpoints with dlt.

Accounts: :data:`ACCOUNTS` split evenly over ``collectors.PLATFORMS`` at run time.  The sandbox
serves an account when it is in ``world.DEMO_ACCOUNTS`` (Facebook) or for any id (GA4), so both
the sandbox and the collector processes replace ``DEMO_ACCOUNTS`` with the generated list (ids
derived from each platform's demo account, checked against the platform's ``id_pattern``).

Lower bound: per platform, its requests / its concurrency x 50 ms; the slowest platform bounds
the run.  Goals: ``run_collect`` wall <= 1.25x that bound; peak RSS of the collect process
<= 250 MB; whole-process wall <= 0.5x dlt's whole-process wall on the same accounts (issue 12).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

ACCOUNTS = 300
DELAY = 0.050
# A week: a daily cron run re-fetches its look-back days (3) plus the new ones.  (With 30 days,
# Umami's per-day requests at concurrency 1 make the bound 63 s and the benchmark 5 minutes.)
HISTORY_DAYS = 7
RUNS = 3
BOUND_LIMIT, RSS_LIMIT_MB, PEER_LIMIT = 1.25, 250.0, 0.5
DLT_PLATFORMS = ("facebook", "ga4")  # the endpoints written out for dlt's rest_api below
# The three runReport requests collectors/ga4.py sends (by date; by date and channel group; by date,
# source and medium), as collectors.ga4.REPORTS lists them.
GA4_REPORTS = (
    (("date",), ("screenPageViews", "sessions", "activeUsers")),
    (("date", "sessionDefaultChannelGroup"), ("sessions", "screenPageViews")),
    (("date", "sessionSource", "sessionMedium"), ("sessions",)),
)
GA4_PAGE_LIMIT = 10_000


# -- accounts ------------------------------------------------------------------------------------
# How a platform's bench accounts are made: "own" (ids derived from its demo account), "competitor"
# (derived ids, collected as competitors: for sandboxes whose token belongs to one own account), or
# "demo" (only its demo accounts: the sandbox serves no other id).  Chosen by a probe run.
Modes = dict[str, str]


def _candidates(pid: str, mode: str, count: int) -> list:  # type: ignore[type-arg]
    from collectors import PLATFORMS
    from socialkpi.sandbox import world

    demo = [a for a in _DEMO if a.platform == pid]
    if mode == "demo":
        return demo[:count]
    competitor = mode == "competitor"
    template = next((a for a in demo if a.competitor == competitor), demo[0])
    pattern = re.compile(PLATFORMS[pid].id_pattern)
    out = []
    for k in range(count):
        new_id = _derive(template.id, k)
        if not pattern.fullmatch(new_id):
            raise ValueError(f"{pid}: cannot derive a bench id from {template.id!r} ({new_id!r})")
        out.append(world.DemoAccount(pid, new_id, f"Bench {pid} {k}", competitor, scale=0.3 + (k % 7) / 10))
    return out


def bench_accounts(n: int = ACCOUNTS, modes: Modes | None = None) -> list:  # type: ignore[type-arg]
    """``n`` accounts over every registered platform that has a demo account, ids the sandbox serves."""
    from collectors import PLATFORMS

    modes = modes or {}
    platforms = sorted(p for p in PLATFORMS if any(a.platform == p for a in _DEMO))
    fixed = {p: _candidates(p, "demo", 99) for p in platforms if modes.get(p) == "demo"}
    rest = [p for p in platforms if p not in fixed]
    left = n - sum(len(v) for v in fixed.values())
    out = [a for v in fixed.values() for a in v]
    for i, pid in enumerate(rest):
        count = left // len(rest) + (1 if i < left % len(rest) else 0)
        out += _candidates(pid, modes.get(pid, "own"), count)
    return out


def probe_accounts() -> list:  # type: ignore[type-arg]
    """Two own-derived and two competitor-derived accounts per platform."""
    from collectors import PLATFORMS

    platforms = sorted(p for p in PLATFORMS if any(a.platform == p for a in _DEMO))
    return [
        a
        for p in platforms
        for mode in ("own", "competitor")
        if mode == "own" or not PLATFORMS[p].competitor_support
        for a in _candidates(p, mode, 2)
    ]


def _derive(template: str, k: int) -> str:
    """A new id shaped like ``template``: the last 4 characters of its first part become ``k``.

    ``104512345678901`` -> ``104512345670007``; ``cornerbakery@mastodon.social`` ->
    ``cornerba0007@mastodon.social``; ``cornerbakery.bsky.social`` -> ``cornerba0007.bsky.social``
    (same length, same alphabet).
    """
    template = template.lstrip("@")
    for sep in ("@", "."):
        if sep in template and not template.isdigit():
            head, tail = template.split(sep, 1)
            return f"{head[:-4]}{k:04d}{sep}{tail}"
    return f"{template[:-4]}{k:04d}"


def _load_demo() -> list:  # type: ignore[type-arg]
    from socialkpi.sandbox import world

    return list(world.DEMO_ACCOUNTS)


_DEMO: list = []  # type: ignore[type-arg]  # the original demo accounts, filled on first use


def _install(accounts: list) -> list:  # type: ignore[type-arg]
    """Make ``accounts`` the sandbox world's accounts (and so demo_settings' accounts)."""
    from socialkpi.sandbox import world

    world.DEMO_ACCOUNTS[:] = accounts
    return accounts


def _everything(n: int) -> list:  # type: ignore[type-arg]
    """What the sandbox process serves: every candidate of every mode, and the demo accounts."""
    from collectors import PLATFORMS

    seen, out = set(), []
    for a in [*_DEMO, *(a for p in PLATFORMS for m in ("own", "competitor") if any(d.platform == p for d in _DEMO)
                        for a in _candidates(p, m, n))]:  # fmt: skip
        if (a.platform, a.id) not in seen:
            seen.add((a.platform, a.id))
            out.append(a)
    return out


# -- child: sandbox ------------------------------------------------------------------------------
def child_sandbox(n: int, delay: float) -> None:
    from socialkpi.sandbox import Sandbox

    _install(_everything(n))
    with Sandbox(delay=delay) as sandbox:
        sys.stdout.write(sandbox.url + "\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes our stdin


# -- child: socialkpi collect ----------------------------------------------------------------------
def child_collect(url: str, db: str, spec: dict) -> None:  # type: ignore[type-arg]
    import logging

    from bench import peak_rss_mb
    from socialkpi.cli import quick_exit
    from socialkpi.credentials import credentials_for
    from socialkpi.demo import demo_settings
    from socialkpi.runner import run_collect
    from warehouse.db import reading

    quick_exit()  # as `socialkpi collect` (socialkpi.cli.main) exits
    logging.disable(logging.CRITICAL)
    only = spec.get("only") or []
    _install(probe_accounts() if spec.get("probe") else bench_accounts(spec["n"], spec["modes"]))
    settings = demo_settings(db, url, history_days=HISTORY_DAYS)
    accounts = [a for a in settings.accounts if not only or a.platform in only]
    credentials = {(a.platform, a.id): credentials_for(a, settings.env) for a in accounts}
    start = time.perf_counter()
    summary = run_collect(settings, accounts, credentials)
    wall = time.perf_counter() - start
    with reading(db) as con:
        per_platform = con.execute(
            "SELECT platform, count(*), sum(requests), count(*) FILTER (WHERE status <> 'ok') "
            "FROM run_accounts WHERE run_id = ? GROUP BY platform",
            [summary.run_id],
        ).fetchall()
        rows = con.execute("SELECT count(*) FROM observations").fetchone()
    failed = [r.reason for r in summary.results if r.status != "ok"][:3]
    result = {
        "wall": wall,
        "rss_mb": peak_rss_mb(),
        "rows": rows[0] if rows else 0,
        "platforms": {
            p: {"accounts": a, "requests": int(r), "failed": f, "concurrency": settings.concurrency_for(p)}
            for p, a, r, f in per_platform
        },
        "failed": failed,
        "status": [[r.account.platform, r.account.competitor, r.status] for r in summary.results],
    }
    sys.stdout.write(json.dumps(result) + "\n")


# -- child: dlt ------------------------------------------------------------------------------------
def dlt_config(url: str, accounts: list, since: str, until_exclusive: str, until: str) -> dict:  # type: ignore[type-arg]
    """rest_api_source config for the endpoints socialkpi's collectors call (Facebook, GA4)."""
    import dlt

    from collectors import facebook
    from socialkpi.sandbox.world import TOKEN

    fb_ids = [a.id for a in accounts if a.platform == "facebook"]
    ga4_ids = [a.id for a in accounts if a.platform == "ga4"]

    @dlt.resource(name="facebook_pages", selected=False)
    def facebook_pages():  # type: ignore[no-untyped-def]
        yield [{"id": i} for i in fb_ids]

    @dlt.resource(name="ga4_properties", selected=False)
    def ga4_properties():  # type: ignore[no-untyped-def]
        yield [{"id": i} for i in ga4_ids]

    page = {"type": "resolve", "resource": "facebook_pages", "field": "id"}
    prop = {"type": "resolve", "resource": "ga4_properties", "field": "id"}
    resources: list = [facebook_pages, ga4_properties]  # type: ignore[type-arg]
    if fb_ids:
        resources.append(
            {
                "name": "facebook_page",
                "endpoint": {
                    "path": f"{facebook.VERSION}/{{page_id}}",
                    "params": {"page_id": page, "fields": facebook.PAGE_FIELDS},
                    "paginator": "single_page",
                },
            }
        )
        for i, group in enumerate(facebook.GROUPS):
            resources.append(
                {
                    "name": f"facebook_insights_{i}",
                    "endpoint": {
                        "path": f"{facebook.VERSION}/{{page_id}}/insights",
                        "params": {
                            "page_id": page,
                            "metric": ",".join(group),
                            "period": "day",
                            "since": since,
                            "until": until_exclusive,
                        },
                        "data_selector": "data",
                        "paginator": "single_page",  # as the collector: it chunks, never follows paging.next
                    },
                }
            )
    for i, (dims, mapping) in enumerate(GA4_REPORTS if ga4_ids else ()):
        resources.append(
            {
                "name": f"ga4_report_{i}",
                "endpoint": {
                    "path": "v1beta/properties/{property_id}:runReport",
                    "method": "POST",
                    "params": {"property_id": prop},
                    "json": {
                        "dateRanges": [{"startDate": since, "endDate": until}],
                        "dimensions": [{"name": d} for d in dims],
                        "metrics": [{"name": m} for m in mapping],
                        "orderBys": [{"dimension": {"dimensionName": "date"}}],
                        "keepEmptyRows": False,
                        "offset": 0,
                        "limit": GA4_PAGE_LIMIT,
                    },
                    "data_selector": "rows",
                    "paginator": "single_page",
                },
            }
        )
    return {
        "client": {"base_url": url + "/", "auth": {"type": "bearer", "token": TOKEN}},
        "resource_defaults": {"write_disposition": "replace", "parallelized": True},
        "resources": resources,
    }


def child_dlt(url: str, n: int, db: str, pipelines_dir: str, modes: Modes) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    import dlt
    from dlt.sources.rest_api import rest_api_source

    from bench import peak_rss_mb

    accounts = [a for a in _install(bench_accounts(n, modes)) if a.platform in DLT_PLATFORMS]
    from socialkpi.sandbox.world import DEMO_BUSINESS

    until = datetime.now(ZoneInfo(DEMO_BUSINESS["timezone"])).date() - timedelta(days=1)  # as plan_range
    since = until - timedelta(days=HISTORY_DAYS - 1)
    start = time.perf_counter()
    source = rest_api_source(
        dlt_config(url, accounts, since.isoformat(), (until + timedelta(days=1)).isoformat(), until.isoformat())
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_peer",
        destination=dlt.destinations.duckdb(db),
        dataset_name="raw",
        pipelines_dir=pipelines_dir,
    )
    info = pipeline.run(source)
    wall = time.perf_counter() - start
    if info.has_failed_jobs:
        raise SystemExit("dlt: failed jobs")
    counts = {t: c for t, c in pipeline.last_trace.last_normalize_info.row_counts.items() if not t.startswith("_dlt")}
    sys.stdout.write(json.dumps({"wall": wall, "rss_mb": peak_rss_mb(), "rows": counts}) + "\n")


# -- parent ----------------------------------------------------------------------------------------
def run():  # type: ignore[no-untyped-def]
    from bench import ROOT, Figure, child_env, log, median, run_child, tempdir

    try:
        import dlt  # noqa: F401

        have_dlt = True
    except ImportError:
        have_dlt = False
    _DEMO[:] = _load_demo()
    work = tempdir("collect")
    me = [sys.executable, "-m", "bench.collection"]
    sandbox = subprocess.Popen(
        [*me, "sandbox", str(ACCOUNTS), str(DELAY)],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sandbox.stdout is not None
        url = sandbox.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the sandbox did not start")
        # Probe: which platforms serve derived own ids, which only as competitors, which neither.
        _, out = run_child([*me, "collect", url, str(work / "probe.duckdb"), json.dumps({"probe": True})])
        ok: dict[tuple[str, bool], bool] = {}
        for pid, competitor, status in json.loads(out.splitlines()[-1])["status"]:
            ok[(pid, competitor)] = ok.get((pid, competitor), True) and status == "ok"
        modes: Modes = {}
        for pid in sorted({p for p, _ in ok}):
            modes[pid] = "own" if ok[(pid, False)] else "competitor" if ok.get((pid, True)) else "demo"
        log("collection: account modes: " + ", ".join(f"{p} {m}" for p, m in modes.items()))
        accounts = bench_accounts(ACCOUNTS, modes)
        platforms = sorted({a.platform for a in accounts})
        peer_platforms = [p for p in platforms if p in DLT_PLATFORMS]
        spec = {"n": ACCOUNTS, "modes": modes}
        ours, peer_ours, peer = [], [], []
        for i in range(RUNS):
            log(f"collection: run {i + 1}/{RUNS}: socialkpi, {len(accounts)} accounts on {len(platforms)} platforms")
            wall, out = run_child([*me, "collect", url, str(work / f"collect{i}.duckdb"), json.dumps(spec)])
            ours.append({**json.loads(out.splitlines()[-1]), "process": wall})
            if ours[-1]["failed"]:
                log(f"collection: failures: {ours[-1]['failed']}")
            if not have_dlt:
                continue
            if peer_platforms != platforms:
                db = work / f"collect{i}-peer.duckdb"
                wall, out = run_child([*me, "collect", url, str(db), json.dumps({**spec, "only": peer_platforms})])
                peer_ours.append({**json.loads(out.splitlines()[-1]), "process": wall})
            else:
                peer_ours.append(ours[-1])
            log(f"collection: run {i + 1}/{RUNS}: dlt rest_api on {', '.join(peer_platforms)}")
            db, pipes = work / f"dlt{i}.duckdb", work / f"pipelines{i}"
            wall, out = run_child([*me, "dlt", url, str(ACCOUNTS), str(db), str(pipes), json.dumps(modes)])
            peer.append({**json.loads(out.splitlines()[-1]), "process": wall})
    finally:
        if sandbox.stdin:
            sandbox.stdin.close()
        sandbox.wait(timeout=30)

    def bound(result: dict) -> tuple[float, str]:  # type: ignore[type-arg]
        per = {p: v["requests"] / v["concurrency"] * DELAY for p, v in result["platforms"].items()}
        slowest = max(per, key=per.__getitem__)
        v = result["platforms"][slowest]
        return per[slowest], f"{slowest}: {v['requests']} req / {v['concurrency']} x {DELAY * 1000:.0f} ms"

    walls = [r["wall"] for r in ours]
    bounds = [bound(r)[0] for r in ours]
    requests = ", ".join(
        f"{p}{'' if modes[p] == 'own' else ' (' + modes[p] + ')'} {v['accounts']}/{v['requests']}"
        for p, v in sorted(ours[0]["platforms"].items())
    )
    requests = f"accounts/requests per platform: {requests}"
    failed = sum(v["failed"] for r in ours for v in r["platforms"].values())
    figures = [
        Figure(
            f"collect {len(accounts)} accounts, 50 ms/response: run_collect wall",
            f"{median(walls):.2f} s",
            f"<= {BOUND_LIMIT}x bound {median(bounds):.2f} s ({bound(ours[0])[1]})",
            median(walls) / median(bounds),
            BOUND_LIMIT,
            note=f"{requests}; {failed} account-runs failed" if failed else requests,
        ),
        Figure(
            "collect: peak RSS of the collect process",
            f"{median([r['rss_mb'] for r in ours]):.0f} MB",
            f"<= {RSS_LIMIT_MB:.0f} MB",
            median([r["rss_mb"] for r in ours]) / RSS_LIMIT_MB,
            1.0,
        ),
    ]
    if peer:
        mine, theirs = median([r["process"] for r in peer_ours]), median([r["process"] for r in peer])
        rows = sum(peer[0]["rows"].values())
        figures.append(
            Figure(
                "collect vs dlt rest_api (same endpoints): whole-process wall",
                f"{mine:.2f} s",
                f"<= {PEER_LIMIT}x dlt {theirs:.2f} s",
                mine / theirs,
                PEER_LIMIT,
                note=f"{', '.join(peer_platforms)}; dlt peak {median([r['rss_mb'] for r in peer]):.0f} MB, "
                f"{rows} rows in {len(peer[0]['rows'])} tables",
            )
        )
    else:
        figures.append(Figure("collect vs dlt rest_api", "dlt not installed", "pip install -e '.[bench]'"))
    return figures


def _child(argv: list[str]) -> None:
    role, rest = argv[0], argv[1:]
    if role == "sandbox":
        child_sandbox(int(rest[0]), float(rest[1]))
    elif role == "collect":
        child_collect(rest[0], rest[1], json.loads(rest[2]))
    elif role == "dlt":
        child_dlt(rest[0], int(rest[1]), rest[2], rest[3], json.loads(rest[4]))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    _DEMO[:] = _load_demo()
    _child(sys.argv[1:])
