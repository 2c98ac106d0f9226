"""Shared pieces of the REQ/REP/DEALER/ROUTER tests: socket bookkeeping, a lifecycle
observer and bounded waits. Nothing here sleeps to synchronise: every wait is for a
condition, with an upper bound."""

from __future__ import annotations

import errno
import time
from pathlib import Path
from typing import Any

import zmq

import mqsdk
from mqsdk.testing.helpers import Observer, observing, wait_until

__all__ = ["QUIET", "TIMEO", "WAIT", "Observer", "Sockets", "observing", "wait_until"]

WAIT = 5.0
"""Seconds an expected event may take (an upper bound, never a timing check)."""
TIMEO = 5000
"""rcvtimeo/sndtimeo (ms) of every test socket: a lost message fails, it never hangs."""
QUIET = 300
"""ms to wait for a message that must NOT arrive."""


class Sockets:
    """Makes mqsdk and pyzmq sockets with test defaults; closes them all with linger 0."""

    def __init__(self, mctx: mqsdk.Context, zctx: zmq.Context[Any], tmp_path: Path) -> None:
        self.mctx = mctx
        self.zctx = zctx
        self.tmp_path = tmp_path
        self._mq: list[mqsdk.Socket] = []
        self._zmq: list[zmq.Socket[bytes]] = []
        self._ipc = 0

    @staticmethod
    def _configure(sock: Any, options: dict[str, Any]) -> None:
        settings = {"linger": 0, "rcvtimeo": TIMEO, "sndtimeo": TIMEO, **options}
        for name, value in settings.items():
            setattr(sock, name, value)

    def mq(self, socket_type: int, **options: Any) -> mqsdk.Socket:
        sock = self.mctx.socket(socket_type)
        self._mq.append(sock)
        self._configure(sock, options)
        return sock

    def zmq(self, socket_type: int, **options: Any) -> zmq.Socket[bytes]:
        sock = self.zctx.socket(socket_type)
        self._zmq.append(sock)
        self._configure(sock, options)
        return sock

    def address(self, transport: str) -> str:
        if transport == "tcp":
            return "tcp://127.0.0.1:*"
        self._ipc += 1
        return f"ipc://{self.tmp_path}/s{self._ipc}.sock"

    def bind(self, sock: Any, transport: str = "tcp") -> str:
        """Bind to a fresh endpoint of ``transport``; return the endpoint to connect to."""
        sock.bind(self.address(transport))
        endpoint = sock.last_endpoint
        return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)

    def close_all(self) -> None:
        for zsock in self._zmq:
            zsock.close(linger=0)
        for msock in self._mq:
            msock.close(linger=0)


def send_when_routable(router: Any, message: list[bytes], timeout: float = WAIT) -> None:
    """Send from a ROUTER with router_mandatory set, retrying while the peer is unknown
    (its handshake has not completed yet). Works for mqsdk and pyzmq sockets."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            router.send_multipart(message)
            return
        except (mqsdk.MQError, zmq.ZMQError) as exc:
            if exc.errno != errno.EHOSTUNREACH or time.monotonic() > deadline:
                raise
        # The peer is not routable yet: wait (bounded) for anything to happen on the socket.
        router.poll(10)


def recv_nothing(sock: Any, timeout_ms: int = QUIET) -> None:
    """Assert that no message arrives on ``sock`` within ``timeout_ms``."""
    got = sock.poll(timeout_ms)
    assert not got, f"unexpected message: {sock.recv_multipart()!r}"
