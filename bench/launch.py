"""Runs one contender command and records its peak RSS and CPU from the kernel (`wait4`).

Usage: python -I -S launch.py RUSAGE_JSON COMMAND [ARGS...]

Why a launcher: Linux carries a process's RSS high-water mark across fork+exec, so a
contender spawned straight from the (large) benchmark process would report at least the
benchmark's own RSS as its peak. This launcher imports nothing but `os`, `sys` and `json`,
so what a contender inherits is this tiny process's ~10 MiB, not the benchmark's.
"""

import json
import os
import sys


def main() -> int:
    out, command = sys.argv[1], sys.argv[2:]
    pid = os.posix_spawn(command[0], command, dict(os.environ))
    _pid, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as handle:
        json.dump({"exit": code, "maxrss": usage.ru_maxrss * 1024,
                   "cpu": usage.ru_utime + usage.ru_stime}, handle)
    return code


if __name__ == "__main__":
    sys.exit(main())
