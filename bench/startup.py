"""Start-up: ``socialkpi --help`` (goal <= 0.2 s, median of 7 cold processes after one warm-up),
and which heavy modules (pandas, pyarrow, streamlit) each command's module imports, with the cost
of the ones the command does not use (goal: none).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from bench import Figure, median, run_child

RUNS = 7
HELP_BUDGET = 0.2
HEAVY = ("pandas", "pyarrow", "streamlit")
# command -> (the module it imports, the heavy modules it really uses)
COMMANDS = {
    "collect": ("socialkpi.runner", {"pyarrow"}),  # the writer imports it for its first Arrow table, not at start-up
    "export": ("warehouse.export", set()),  # DuckDB COPY writes the CSV
    "status": ("warehouse.runs", set()),
    "import-csv": ("warehouse.imports", set()),  # DuckDB reads, checks and loads the file
}
PROBE = (
    "import sys, time, json; t = time.perf_counter(); import {m}; "
    "print(json.dumps([time.perf_counter() - t, [h for h in {heavy!r} if h in sys.modules]]))"
)


def _help_cmd() -> list[str]:
    script = Path(sys.executable).with_name("socialkpi")
    if script.exists():
        return [str(script), "--help"]
    found = shutil.which("socialkpi")
    if found:
        return [found, "--help"]
    return [sys.executable, "-c", "import sys; from socialkpi.cli import main; sys.exit(main())", "--help"]


def run() -> list[Figure]:
    cmd = _help_cmd()
    run_child(cmd)
    walls = [run_child(cmd)[0] for _ in range(RUNS)]
    figures = [
        Figure(
            "start-up: socialkpi --help",
            f"{median(walls) * 1000:.0f} ms",
            f"<= {HELP_BUDGET * 1000:.0f} ms",
            median(walls) / HELP_BUDGET,
            1.0,
        )
    ]
    for command, (module, used) in COMMANDS.items():
        probe = [sys.executable, "-c", PROBE.format(m=module, heavy=HEAVY)]
        results = [json.loads(run_child(probe)[1]) for _ in range(3)]
        heavy = results[0][1]
        unused = sorted(set(heavy) - used - ({"pyarrow"} if "pandas" in heavy and "pandas" not in used else set()))
        value = f"imports {', '.join(heavy) or 'none'} ({median([r[0] for r in results]) * 1000:.0f} ms)"
        if unused:
            value += f"; unused: {', '.join(unused)}"
        figures.append(
            Figure(
                f"start-up: `socialkpi {command}` ({module}) heavy imports",
                value,
                "only what it uses",
                float(len(unused)),
                0.0,
            )
        )
    return figures
