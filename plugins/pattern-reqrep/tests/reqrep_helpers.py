"""Shared pieces of the REQ/REP/DEALER/ROUTER tests: socket bookkeeping, a lifecycle
observer and bounded waits. Nothing here sleeps to synchronise: every wait is for a
condition, with an upper bound."""

from __future__ import annotations

import contextlib
import errno
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import zmq

import mqsdk

WAIT = 5.0
"""Seconds an expected event may take (an upper bound, never a timing check)."""
TIMEO = 5000
"""rcvtimeo/sndtimeo (ms) of every test socket: a lost message fails, it never hangs."""
QUIET = 300
"""ms to wait for a message that must NOT arrive."""


class Observer:
    """Records mqsdk lifecycle hooks (called from the I/O thread) for tests to wait on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.events: list[tuple[str, Any, dict[str, Any]]] = []

    def _add(self, kind: str, socket: Any, **details: Any) -> None:
        with self._cond:
            self.events.append((kind, socket, details))
            self._cond.notify_all()

    @mqsdk.hookimpl
    def mqsdk_peer_connected(self, socket: Any, endpoint: str, peer: Any) -> None:
        self._add("connected", socket, endpoint=endpoint, peer=peer)

    @mqsdk.hookimpl
    def mqsdk_peer_disconnected(self, socket: Any, endpoint: str, peer: Any, reason: str) -> None:
        self._add("disconnected", socket, endpoint=endpoint, peer=peer, reason=reason)

    @mqsdk.hookimpl
    def mqsdk_handshake_failed(self, socket: Any, endpoint: str, error: Exception) -> None:
        self._add("handshake_failed", socket, endpoint=endpoint, error=error)

    def of(self, kind: str, socket: Any = None) -> list[dict[str, Any]]:
        with self._cond:
            return [d for k, s, d in self.events if k == kind and (socket is None or s is socket)]

    def wait(
        self, kind: str, socket: Any = None, *, count: int = 1, timeout: float = WAIT
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` events of ``kind`` (for ``socket``) were seen; return them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.of(kind, socket)
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(k, d) for k, _, d in self.events]
                    raise AssertionError(
                        f"expected {count} {kind!r} event(s) within {timeout} s; saw {seen}"
                    )
                self._cond.wait(remaining)


@contextlib.contextmanager
def observing(ctx: mqsdk.Context) -> Iterator[Observer]:
    observer = Observer()
    ctx.registry.register_observer(observer)
    try:
        yield observer
    finally:
        ctx.registry.unregister_observer(observer)


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


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` (for state only reachable by looking) until true or timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true within {timeout} s")
        time.sleep(0.005)
