"""A reader process for tests/test_lake_backend.py: ``python -m tests.lake_reader URL DATA_PATH START END STOP_FILE``.

Loops over the dashboard's query functions (:func:`tests.test_lake_backend.page_data`) on the lake and a
duplicate-key check of ``observations`` until STOP_FILE exists (then one last loop), while collects write.
Prints one JSON line: loops, errors (their first lines), answers that saw a duplicate key.  A process of
its own, so that it reads through its own DuckDB instance as the dashboard does.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from warehouse import lake_store
from warehouse.access import WarehouseMissing
from warehouse.lake_config import Lake

DUPLICATES = """
SELECT (SELECT count(*) FROM observations)
     - (SELECT count(*) FROM (SELECT DISTINCT platform, account_id, metric, observed_on FROM observations))
"""


def main(url: str, data_path: str, start: str, end: str, stop_file: str) -> int:
    from tests.test_lake_backend import page_data

    where = Lake(url, data_path)
    loops, missing, duplicates, errors = 0, 0, 0, []
    last = False
    while True:
        last = Path(stop_file).exists()
        try:
            page_data(where, date.fromisoformat(start), date.fromisoformat(end))
            with lake_store.reading(where) as con:
                if con.execute(DUPLICATES).fetchall()[0][0]:
                    duplicates += 1
            loops += 1
        except WarehouseMissing:  # before the first collect made the lake's tables
            missing += 1
        except Exception as exc:  # every error is reported, none ends the loop
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        if last:
            break
    lake_store.close_all()
    seen = {"loops": loops, "missing": missing, "duplicates": duplicates, "errors": errors}
    sys.stdout.write(json.dumps(seen) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
