"""A lake writer process for tests/test_lake.py: ``python -m tests.lake_writer URL ACCOUNT ROUNDS``.

Each round MERGEs one batch of ACCOUNT's rows into the lake's ``observations`` in one transaction, retried
whole on DuckLake's transaction conflict; prints the number of conflicts retried as its last line.  A
process of its own (not multiprocessing), so it never depends on what the test run's ``__main__`` is.
"""

from __future__ import annotations

import contextlib
import sys

import duckdb

from tests.test_lake import MERGE, batch
from warehouse import lake


def main(url: str, account: str, rounds: int) -> int:
    con = lake.connect(url)
    conflicts = 0
    try:
        for r in range(rounds):
            for _attempt in range(100):
                try:
                    con.execute("BEGIN")
                    con.execute(f"CREATE OR REPLACE TEMP TABLE batch AS {batch(account, r * 5, 10, r, f'run-{r}')}")
                    con.execute(MERGE)
                    con.execute("COMMIT")
                    break
                except duckdb.TransactionException:
                    conflicts += 1
                    with contextlib.suppress(duckdb.Error):
                        con.execute("ROLLBACK")
            else:
                sys.stderr.write(f"gave up after 100 conflicts in round {r}\n")
                return 1
    finally:
        con.close()
    sys.stdout.write(f"{conflicts}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
