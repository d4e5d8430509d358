"""Running test servers: one per test process, started on first use; an `http.server` served
on a thread for the length of a `with` block; a server process stopped gracefully."""

from __future__ import annotations

import functools
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import TypeVar

T = TypeVar("T")


def once_per_process(start: Callable[[], T]) -> Callable[[], T]:
    """`start` runs on the first call only (under a lock); every call returns what it gave."""
    lock = threading.Lock()
    started: list[T] = []

    @functools.wraps(start)
    def started_once() -> T:
        with lock:
            if not started:
                started.append(start())
            return started[0]

    return started_once


@contextmanager
def serving(httpd: ThreadingHTTPServer, name: str) -> Iterator[None]:
    """Serve `httpd` on a daemon thread until the block ends, then shut it down and close it."""
    httpd.daemon_threads = True
    # A short poll interval: shutdown() waits for it, once per test.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=30)


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Graceful stop (SIGINT), then SIGKILL if the process is still there after `timeout`."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
