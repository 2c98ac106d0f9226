"""Thread races found by the volume tests, made deterministic.

Both showed up in ``test_20000_messages_complete_and_in_order`` (a few percent of runs);
here a hook or a wrapped method holds one thread inside the racy window, so the outcome
no longer depends on scheduling.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import zmq

import mqsdk
from tests.badinput import rawzmtp as raw
from tests.conftest import requires_pure_kernel
from tests.interop.helpers import WAIT, Sockets

pytestmark = pytest.mark.interop


class _HoldConnected:
    """Keeps the I/O thread inside mqsdk_peer_connected until released (bounded)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    @mqsdk.hookimpl
    def mqsdk_peer_connected(self, socket: object, endpoint: str, peer: object) -> None:
        self.entered.set()
        self.release.wait(WAIT)


def test_messages_that_came_with_ready_are_not_overtaken(mctx: mqsdk.Context) -> None:
    pull = mctx.socket(mqsdk.PULL)
    pull.linger = 0
    pull.rcvtimeo = 5000
    hold = _HoldConnected()
    mctx.registry.register_observer(hold)
    try:
        pull.bind("tcp://127.0.0.1:*")
        host, port = pull.last_endpoint.decode().removeprefix("tcp://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=WAIT) as peer:
            # READY and the first message in one segment: decoded in the same read.
            peer.sendall(raw.greeting() + raw.ready(b"PUSH") + raw.frame(b"first"))
            assert hold.entered.wait(WAIT)
            # The engine is registered with the socket by now; "first" is not delivered yet.
            peer.sendall(raw.frame(b"second"))
            got: list[bytes] = []
            deadline = time.monotonic() + 0.5
            while not got and time.monotonic() < deadline:  # what a busy receiver sees
                try:
                    got.append(pull.recv(mqsdk.NOBLOCK))
                except mqsdk.Again:
                    time.sleep(0.005)
            hold.release.set()
            while len(got) < 2:
                got.append(pull.recv())
        assert got == [b"first", b"second"]
    finally:
        hold.release.set()
        mctx.registry.unregister_observer(hold)
        pull.close(linger=0)


@requires_pure_kernel("holds the I/O thread inside Waker.drain by replacing it on the instance")
def test_io_thread_stays_wakeable_after_a_post_during_its_mailbox_drain(
    socks: Sockets, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: Reactor._run_mailbox once cleared ``_signalled`` before draining the
    waker, so a call_soon landing in between lost its wake-up and left the flag set:
    every later call_soon was stranded (a burst's tail never left; close() hung 30 s)."""
    pull = socks.zmq(zmq.PULL)
    push = socks.mq(mqsdk.PUSH)
    push.connect(socks.bind(pull, "tcp"))
    push.send(b"warm-up")
    assert pull.recv() == b"warm-up"

    reactor = push.reactor
    waker = reactor._waker
    assert waker is not None
    real_drain = waker.drain
    in_drain, posted = threading.Event(), threading.Event()
    armed = [True]

    def drain() -> None:
        if armed[0]:
            armed[0] = False
            in_drain.set()
            posted.wait(WAIT)  # hold the I/O thread where a GIL switch could land
        real_drain()

    monkeypatch.setattr(waker, "drain", drain)
    ran = threading.Event()
    reactor.call_soon(lambda: None)  # wakes the I/O thread into its mailbox
    assert in_drain.wait(WAIT)
    reactor.call_soon(ran.set)  # posted by another thread inside the window
    posted.set()
    assert ran.wait(WAIT)

    # The I/O thread must still answer posts: it flushes a burst's tail.
    for i in range(3):
        push.send(b"tail-%d" % i)
    assert [pull.recv() for _ in range(3)] == [b"tail-0", b"tail-1", b"tail-2"]
