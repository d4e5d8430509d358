"""Loopback ports for the tests."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback port that was free a moment ago (for a test server to listen on)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused."""
    return free_port()
