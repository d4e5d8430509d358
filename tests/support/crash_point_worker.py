"""`python -m support.crash_point_worker worker|serve ...`: the `sluice` command whose runs stop
at the crash point named by `CRASH_MATRIX_POINT` (`support.crash_points`; none when unset)."""

from __future__ import annotations

from support.crash_points import install_from_environment

if __name__ == "__main__":
    from sluice.cli.main import app

    install_from_environment()
    app(prog_name="sluice")
