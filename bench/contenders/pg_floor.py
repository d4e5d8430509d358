"""The floor, table window: `COPY (SELECT ... window) TO STDOUT (FORMAT binary)` to nowhere.

Usage: pg_floor.py ROWS RESULT_JSON

psql (C, libpq) streams the binary COPY to /dev/null: what the server and the wire cost,
with no client-side decoding at all. Its own peak RSS is measured by the runner through
`wait4` on this script, which waits for psql.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import PG_DB, PG_HOST, PG_PORT, PG_USER, table_name, window_sql, write_result


def main() -> None:
    rows, result = int(sys.argv[1]), Path(sys.argv[2])
    psql = shutil.which("psql")
    if psql is None:
        raise SystemExit("psql is needed for the floor (apt-get install postgresql-client)")
    sql = (f"COPY (SELECT * FROM {table_name(rows)} WHERE {window_sql(rows)}) "
           "TO STDOUT (FORMAT binary)")
    started = time.perf_counter()
    with open(os.devnull, "wb") as nowhere:
        subprocess.run(
            [psql, "-X", "-q", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", PG_DB,
             "-v", "ON_ERROR_STOP=1", "-c", sql],
            stdout=nowhere, check=True,
        )
    write_result(result, rows=rows, seconds=time.perf_counter() - started)


if __name__ == "__main__":
    main()
