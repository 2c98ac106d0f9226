"""A headless browser for tests: find it, serve it pages on loopback, stop it cleanly.

Used by the ws:// browser round trip (plugins/transport-ws) and the offline-site test of
the docs (tests/docs). Without a browser a test skips, saying why; with
``MQSDK_REQUIRE_BROWSER=1`` (CI) that is a failure instead. The variable is read when
this module is imported, since the suite's autouse fixture clears ``MQSDK_*`` variables
before each test.

- :func:`find_browser` -> the browser's path, or skip/fail.
- :data:`HEADLESS_FLAGS`: the flags that start chromium headless as root on a closed
  network without it reaching out on its own (updates, sync, crash reports).
- :func:`serve_directory` -> a context manager serving a folder over http on 127.0.0.1
  (browsers refuse ES modules from ``file://``), yielding its base URL.
- :func:`stop_process_group`: stop a browser started with ``start_new_session=True`` and
  every process it spawned, before its profile folder is removed.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mqsdk.testing.helpers import WAIT

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
REQUIRE_BROWSER = os.environ.get("MQSDK_REQUIRE_BROWSER") == "1"

HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root in CI's containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these chromium calls home at start (updates, sync, field trials): on a
    # closed network those connections fail, and they are not the test's traffic.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
)


def find_browser() -> str:
    """The path of a chromium-family browser; skips the test (fails it when
    ``MQSDK_REQUIRE_BROWSER=1``) where none is installed."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    reason = f"no headless browser here (looked for {', '.join(BROWSERS)})"
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason}, and MQSDK_REQUIRE_BROWSER=1")
    pytest.skip(reason)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request on stderr would bury a failure's own output


@contextmanager
def serve_directory(directory: Path, name: str = "test http") -> Iterator[str]:
    """Serve ``directory`` over http on 127.0.0.1 (any free port) while the block runs;
    yields ``http://127.0.0.1:PORT/``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the browser's whole process group, SIGKILL to what is left after WAIT
    seconds, and return once the group is gone (or after a second WAIT).

    The browser must have been started with ``start_new_session=True``: its renderer and
    utility processes go on writing the profile after the main process ends, so all of
    them are stopped before the profile is removed."""
    group = process.pid  # start_new_session: the group's id is the leader's pid
    for sig, grace in ((signal.SIGTERM, WAIT), (signal.SIGKILL, WAIT)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, or the group never empties
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)  # polling the group's end: no event tells it
    process.wait(WAIT)
