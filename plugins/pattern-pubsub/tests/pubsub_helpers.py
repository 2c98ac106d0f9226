"""Bounded waits shared by the pub-sub tests (mqsdk, pyzmq and raw peers alike).

Nothing here sleeps: every wait is a poll with a deadline, and "X never arrives" is
shown with a marker sent after X on the same path (messages on one pipe keep their
order, so once the marker is in, X would have been too).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pubsub_raw import RawPeer, command

from mqsdk.errors import PollerError

WAIT = 10.0
"""Upper bound in seconds for anything a test waits for; never a timing assertion."""

SLICE = 0.2
NOBLOCK = 1  # same value in mqsdk and pyzmq

Receive = Callable[[float], "list[bytes] | None"]


def receiver(sock: Any) -> Receive:
    """A ``receive(timeout_s)`` for an mqsdk or pyzmq socket, or a :class:`RawPeer`."""
    if isinstance(sock, RawPeer):

        def raw(timeout: float) -> list[bytes] | None:
            try:
                return list(sock.read_message(timeout))
            except TimeoutError:
                return None

        return raw

    def zmq_like(timeout: float) -> list[bytes] | None:
        # Waits in slices, retrying a PollerError: a workaround for a kernel bug in
        # Socket._sync_wait_interest (reported; fd numbers reused after a reconnection
        # leave the user thread's wait poller blind to that connection, or make
        # epoll.modify fail). Each poll() call reads the connections first, so a blind
        # slice costs at most SLICE seconds.
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if sock.poll(max(1, int(min(left, SLICE) * 1000))):
                    return [bytes(f) for f in sock.recv_multipart(NOBLOCK)]
            except PollerError:
                pass
            if time.monotonic() >= deadline:
                return None

    return zmq_like


def recv(sock: Any, timeout: float = WAIT) -> list[bytes]:
    """The next message, or fail after ``timeout`` seconds."""
    message = receiver(sock)(timeout)
    assert message is not None, f"nothing arrived on {sock!r} within {timeout} s"
    return message


def recv_until(sock: Any, wanted: Sequence[bytes], timeout: float = WAIT) -> list[list[bytes]]:
    """Receive until the message ``wanted`` arrives; return everything received before it."""
    before: list[list[bytes]] = []
    deadline = time.monotonic() + timeout
    get = receiver(sock)
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{list(wanted)!r} did not arrive; got {before!r}"
        message = get(remaining)
        if message is None:
            continue
        if message == list(wanted):
            return before
        before.append(message)


def publish_until(
    send: Callable[[list[bytes]], None],
    sock: Any,
    marker: Sequence[bytes],
    *,
    before: Sequence[Sequence[bytes]] = (),
    timeout: float = WAIT,
) -> list[list[bytes]]:
    """Beat the slow joiner: send ``before`` then ``marker`` repeatedly until ``sock``
    receives ``marker``; return what it received before the marker (in order)."""
    received: list[list[bytes]] = []
    get = receiver(sock)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in before:
            send(list(message))
        send(list(marker))
        inner = time.monotonic() + 0.05
        while (left := inner - time.monotonic()) > 0:
            message = get(left)
            if message is None:
                break
            if message == list(marker):
                return received
            received.append(message)
    raise AssertionError(f"{list(marker)!r} never arrived; received {received!r}")


def sender(sock: Any) -> Callable[[list[bytes]], None]:
    def send(message: list[bytes]) -> None:
        sock.send_multipart(message)

    return send


@contextlib.contextmanager
def short_tmpdir() -> Iterator[str]:
    """A short directory for ipc sockets (AF_UNIX paths are limited to ~107 bytes)."""
    path = tempfile.mkdtemp(prefix="ps", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def endpoint(transport: str, tmpdir: str, name: str) -> str:
    """A bindable endpoint: tcp on a wildcard loopback port, ipc in ``tmpdir``, or an
    inproc name unique to ``tmpdir``."""
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    if transport == "inproc":
        return f"inproc://{os.path.basename(tmpdir)}-{name}"
    return f"ipc://{os.path.join(tmpdir, name)}"


XPUB_REPORTS: dict[str, list[bytes]] = {
    "default": [b"\x01A", b"\x01C"],
    "xpub_verbose": [b"\x01A", b"\x01A", b"\x01A", b"\x01C"],
    "xpub_verboser": [b"\x01A", b"\x01A", b"\x01A", b"\x00A", b"\x01C"],
}
"""What an XPUB reports for :func:`xpub_sequence`, per mode (observed from libzmq 4.3.5)."""


def xpub_sequence(xpub: Any, p1: RawPeer, p2: RawPeer) -> list[bytes]:
    """p1 SUBSCRIBE A, p2 SUBSCRIBE A twice, p1 CANCEL A, p2 SUBSCRIBE C, each step
    followed by a unique sentinel subscription as a barrier; return what the XPUB
    reported, sentinels left out."""
    seen: list[bytes] = []
    steps = [
        (p1, command(b"SUBSCRIBE", b"A")),
        (p2, command(b"SUBSCRIBE", b"A")),
        (p2, command(b"SUBSCRIBE", b"A")),
        (p1, command(b"CANCEL", b"A")),
        (p2, command(b"SUBSCRIBE", b"C")),
    ]
    for number, (peer, data) in enumerate(steps):
        sentinel = b"s%d" % number
        peer.send(data + command(b"SUBSCRIBE", sentinel))
        seen += [m[0] for m in recv_until(xpub, [b"\x01" + sentinel])]
    return seen
