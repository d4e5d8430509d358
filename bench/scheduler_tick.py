"""One scheduler tick, timed in its own process: `materialize_due_runs` at NOW, then again
(nothing due any more). Usage: scheduler_tick.py DATABASE_URL NOW_EPOCH_S RESULT_JSON"""

from __future__ import annotations

import cProfile
import json
import os
import sys
import time
from pathlib import Path

from sluice.engine.scheduler import materialize_due_runs
from sluice.store.db import make_engine, make_session_factory


def main() -> None:
    url, now, result = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as session:  # connect (and warm the pool) before timing
        session.connection()
    profile = os.environ.get("BENCH_PROFILE")  # a path: cProfile the first tick into it
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    created = materialize_due_runs(sessions, now_s=now)
    seconds = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    started = time.perf_counter()
    again = materialize_due_runs(sessions, now_s=now)
    idle = time.perf_counter() - started
    engine.dispose()
    result.write_text(json.dumps({"created": created, "seconds": seconds,
                                  "idle_created": again, "idle_seconds": idle}))


if __name__ == "__main__":
    main()
