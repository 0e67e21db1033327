"""``python -m bench [name ...]``: run the benchmarks (all by default) and print one table.

Names: load, collection, dashboard, export, startup, demo, importcsv.  Progress goes to stderr, the table to stdout
(Markdown, ready for bench/RESULTS.md), preceded by the machine and the date.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from datetime import UTC, datetime

from bench import Figure, log, machine

NAMES = ("load", "collection", "dashboard", "export", "startup", "demo", "importcsv")


def table(figures: list[Figure]) -> str:
    lines = ["| figure | value | goal | ratio | met? |", "|---|---|---|---|---|"]
    for f in figures:
        if f.ratio is None:
            ratio = ""
        elif f.limit == 0.0:  # a count with a goal of none
            ratio = f"{f.ratio:.0f}"
        else:
            ratio = f"{f.ratio:.2f}x"
        met = {True: "yes", False: "**no**", None: "(info)"}[f.met]
        name = f"{f.name} ({f.note})" if f.note else f.name
        lines.append(f"| {name} | {f.value} | {f.goal} | {ratio} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *NAMES], metavar="NAME", help=", ".join(NAMES))
    args = parser.parse_args(argv)
    names = args.names or list(NAMES)
    started = time.perf_counter()
    figures: list[Figure] = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        t0 = time.perf_counter()
        try:
            figures += module.run()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            log(f"{name}: FAILED: {type(exc).__name__}: {exc}")
            figures.append(
                Figure(f"{name}: benchmark failed", f"{type(exc).__name__}: {exc}".splitlines()[-1][:200], "-")
            )
        log(f"{name}: done in {time.perf_counter() - t0:.0f} s")
    info = machine()
    sys.stdout.write(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + f"; bench wall {time.perf_counter() - started:.0f} s\n\n"
    )
    sys.stdout.write(table(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
