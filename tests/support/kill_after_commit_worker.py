"""`python -m support.kill_after_commit_worker worker|serve ...`: the `sluice` command with the
Delta writer patched to SIGKILL its process right after a commit (tests/e2e crash tests)."""

from __future__ import annotations

from support.faults import install_kill_after_commit

if __name__ == "__main__":
    from sluice.cli.main import app

    install_kill_after_commit()
    app(prog_name="sluice")
