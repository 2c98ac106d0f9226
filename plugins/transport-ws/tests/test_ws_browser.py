"""A real browser as the peer: headless chromium loads the docs example
(docs/examples/ws-browser/), whose script talks ZWS 2.0 to an mqsdk REP socket with the
browser's own WebSocket API. The test answers its request and checks that the reply
came back: the browser sends what it received as its second request.

Skipped, saying why, where chromium is not installed, unless ``MQSDK_REQUIRE_BROWSER=1``
(CI), which makes that a failure. Every address involved is loopback.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import mqsdk
from mqsdk.testing.browser import HEADLESS_FLAGS, find_browser, serve_directory, stop_process_group
from mqsdk.testing.helpers import WAIT

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "ws-browser"
BROWSER_WAIT = 6 * WAIT  # a cold browser start on a loaded 2-core machine is slow


@pytest.fixture
def page_server() -> Iterator[str]:
    """The example served over http on loopback (browsers refuse ES modules from file://)."""
    assert (EXAMPLE / "index.html").is_file(), f"the docs example is missing: {EXAMPLE}"
    with serve_directory(EXAMPLE, "example http") as base:
        yield base + "index.html"


def test_browser_round_trip(page_server: str) -> None:
    browser = find_browser()
    ctx = mqsdk.Context()
    rep = ctx.socket(mqsdk.REP)
    rep.linger = 0
    rep.rcvtimeo = int(BROWSER_WAIT * 1000)
    rep.sndtimeo = int(WAIT * 1000)
    # Only the example page's origin may connect, as a socket a browser reaches should.
    rep.set("ws_allowed_origins", page_server.rpartition("/")[0].encode())
    rep.bind("ws://127.0.0.1:*/")
    endpoint = rep.last_endpoint.decode()
    # ignore_cleanup_errors: a helper process chromium started outside its process group
    # (none seen, but not ruled out) could still be writing the profile; that must not
    # turn a passing round trip into a failure. The group itself is stopped first.
    with tempfile.TemporaryDirectory(
        prefix="mqsdk-ws-browser-", ignore_cleanup_errors=True
    ) as profile:
        log_path = Path(profile) / "browser.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    browser,
                    *HEADLESS_FLAGS,
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    f"--user-data-dir={profile}/data",
                    f"{page_server}?url={endpoint}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: chromium's renderer and utility processes go
                # on writing the profile after the main process ends, so all of them
                # are stopped (below) before the profile is removed.
                start_new_session=True,
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
            stop_process_group(process)
            rep.close()
            ctx.term()
