"""A real Sluice API process with one extra route that fails unexpectedly, for the tests of
the 500 path. The route exists only in this test launcher, never in `sluice serve`.

Usage: python faulty_server.py <port>   (settings from the SLUICE_* environment)
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from sluice.api.app import create_app

FAULT_PATH = "/test-only/unexpected-error"


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    app = create_app()

    @app.get(FAULT_PATH)
    def unexpected_error() -> None:
        raise RuntimeError("a fault injected by the test launcher")

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info")


if __name__ == "__main__":
    main()
