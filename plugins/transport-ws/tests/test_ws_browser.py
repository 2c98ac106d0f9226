"""A real browser as the peer: headless chromium loads the docs example
(docs/examples/ws-browser/), whose script talks ZWS 2.0 to an mqsdk REP socket with the
browser's own WebSocket API. The test answers its request and checks that the reply
came back: the browser sends what it received as its second request.

Skipped, saying why, where chromium is not installed, unless ``MQSDK_REQUIRE_BROWSER=1``
(CI), which makes that a failure. Every address involved is loopback.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import mqsdk
from mqsdk.testing.helpers import WAIT

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "ws-browser"
BROWSER_WAIT = 6 * WAIT  # a cold browser start on a loaded 2-core machine is slow
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    reason = f"no headless browser here (looked for {', '.join(BROWSERS)})"
    if os.environ.get("MQSDK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and MQSDK_REQUIRE_BROWSER=1")
    pytest.skip(reason)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[str]:
    """The example served over http on loopback (browsers refuse ES modules from file://)."""
    assert (EXAMPLE / "index.html").is_file(), f"the docs example is missing: {EXAMPLE}"
    handler = functools.partial(_QuietHandler, directory=str(EXAMPLE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="example http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


def test_browser_round_trip(page_server: str) -> None:
    browser = _browser()
    ctx = mqsdk.Context()
    rep = ctx.socket(mqsdk.REP)
    rep.linger = 0
    rep.rcvtimeo = int(BROWSER_WAIT * 1000)
    rep.sndtimeo = int(WAIT * 1000)
    # Only the example page's origin may connect, as a socket a browser reaches should.
    rep.set("ws_allowed_origins", page_server.rpartition("/")[0].encode())
    rep.bind("ws://127.0.0.1:*/")
    endpoint = rep.last_endpoint.decode()
    with tempfile.TemporaryDirectory(prefix="mqsdk-ws-browser-") as profile:
        log_path = Path(profile) / "browser.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    browser,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    f"--user-data-dir={profile}/data",
                    f"{page_server}?url={endpoint}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            try:
                first = rep.recv()
            except mqsdk.Again:
                pytest.fail(
                    f"the browser sent nothing within {BROWSER_WAIT} s; its log:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
            assert first == b"hello from the browser"
            rep.send(b"hello from mqsdk")
            assert rep.recv() == b"browser got: hello from mqsdk"
            rep.send(b"bye")
        finally:
            process.terminate()
            try:
                process.wait(WAIT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(WAIT)
            rep.close()
            ctx.term()
