"""A connection that the user's thread found broken is the I/O thread's to close; until
it is, the user's thread must not keep looking at it."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

import mqsdk
from mqsdk._kernel.poller import READ
from mqsdk.testing.helpers import wait_until
from tests.badinput import rawzmtp as raw


class CountingPoller:
    """The socket's wait poller, counting its polls."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.polls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def poll(self, timeout: float | None) -> Any:
        self.polls += 1
        return self.real.poll(timeout)


def test_a_connection_handed_over_for_closing_does_not_spin_a_waiting_recv() -> None:
    """Issue 14: with the I/O thread busy, a recv that met a peer's garbage woke again and
    again for that connection's still-readable fd (thousands of polls a second) until the
    I/O thread closed it; a garbage flood cost five times libzmq's CPU."""
    ctx = mqsdk.Context()
    release = threading.Event()
    try:
        pull = ctx.socket(mqsdk.PULL)
        pull.linger = 0
        pull.rcvtimeo = 300
        pull.bind("tcp://127.0.0.1:*")
        port = int(pull.last_endpoint.decode().rpartition(":")[2])
        peer = socket.create_connection(("127.0.0.1", port), timeout=5)
        raw.handshake_as(peer, b"PUSH")
        wait_until(lambda: len(pull._engines) == 1, "the raw peer's handshake completes")

        held = threading.Event()

        def hold() -> None:
            held.set()
            release.wait(10)

        pull.reactor.call_soon(hold)
        assert held.wait(5), "the I/O thread did not take the holding callback"
        # A malformed command (size 0), then more bytes than one read takes: the user's
        # thread finds the error, hands the connection over, and its fd stays readable.
        peer.sendall(b"\x04\x00" + bytes(300_000))
        counting = CountingPoller(ctx.poller_class())
        counting.register(pull._waker.fileno(), READ)
        pull._wait_poller = counting
        with pytest.raises(mqsdk.Again):
            pull.recv()
        assert any(engine.dead for engine in pull._engines.values()), (
            "the garbage was not found by the user's thread (the test proves nothing)"
        )
        assert counting.polls < 20, (
            f"recv polled {counting.polls} times in 300 ms for a connection it had handed "
            "over to the I/O thread"
        )
        peer.close()
    finally:
        release.set()
        ctx.term()
