"""RADIO/DISH against real libzmq, both directions, over tcp and udp.

RADIO and DISH are draft socket types, so the libzmq on the other side must be built with
the draft API. Two such peers are tried:

* ``libzmq-draft``: libzmq 4.3.4 built with ``-DENABLE_DRAFTS=ON`` (``.ci/build-draft-libzmq``),
  driven through ctypes by :mod:`mqsdk.testing.libzmq`. It skips with the reason where the
  library is absent (and fails instead under ``MQSDK_REQUIRE_DRAFT_LIBZMQ=1``, as in CI).
* ``pyzmq-draft``: pyzmq, when it and its libzmq were built with drafts. The wheels are not
  (pyzmq 27 bundles libzmq 4.3.5 without drafts), so this one usually skips.

test_radiodish_wire.py proves the same bytes against hand-written ZMTP peers, and the udp
plugin's tests check the datagram layout with raw UDP sockets.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest
import zmq

import mqsdk
from mqsdk.testing import libzmq

WAIT = 10.0

pytestmark = pytest.mark.interop


class Side(Protocol):
    """One RADIO or DISH socket, whichever library made it."""

    def bind(self, address: str) -> str: ...
    def connect(self, address: str) -> None: ...
    def send(self, data: bytes, group: str) -> None: ...
    def join(self, group: str) -> None: ...
    def leave(self, group: str) -> None: ...
    def recv(self, timeout: float) -> tuple[str, bytes] | None: ...


class PyzmqSide:
    """mqsdk, or pyzmq: the two share pyzmq's API (``group=``, ``Frame.group``)."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        sock.linger = 0

    def bind(self, address: str) -> str:
        self.sock.bind(address)
        if address.startswith("udp://"):
            return address
        endpoint: bytes | str = self.sock.last_endpoint
        return endpoint.decode() if isinstance(endpoint, bytes) else endpoint

    def connect(self, address: str) -> None:
        self.sock.connect(address)

    def send(self, data: bytes, group: str) -> None:
        self.sock.send(data, group=group)

    def join(self, group: str) -> None:
        self.sock.join(group)

    def leave(self, group: str) -> None:
        # bytes: pyzmq 27's Socket.leave, unlike its join, does not encode a str group.
        self.sock.leave(group.encode())

    def recv(self, timeout: float) -> tuple[str, bytes] | None:
        if not self.sock.poll(int(timeout * 1000)):
            return None
        frame = self.sock.recv(copy=False)
        group: str | bytes = frame.group
        return (group.decode() if isinstance(group, bytes) else group), frame.bytes


class LibzmqSide:
    def __init__(self, sock: libzmq.LibzmqSocket) -> None:
        self.sock = sock

    def bind(self, address: str) -> str:
        bound = self.sock.bind(address)
        return address if address.startswith("udp://") else bound

    def connect(self, address: str) -> None:
        self.sock.connect(address)

    def send(self, data: bytes, group: str) -> None:
        self.sock.send(data, group=group)

    def join(self, group: str) -> None:
        self.sock.join(group)

    def leave(self, group: str) -> None:
        self.sock.leave(group)

    def recv(self, timeout: float) -> tuple[str, bytes] | None:
        message = self.sock.try_recv(timeout)
        return None if message is None else (message.group, message.data)


Maker = Callable[[str], Side]
"""Makes a "radio" or "dish" of one implementation."""


@pytest.fixture
def mqsdk_side() -> Iterator[Maker]:
    ctx = mqsdk.Context()
    made: list[Any] = []

    def make(role: str) -> Side:
        sock = ctx.socket(mqsdk.RADIO if role == "radio" else mqsdk.DISH)
        made.append(sock)
        return PyzmqSide(sock)

    yield make
    for sock in made:
        sock.close(linger=0)
    ctx.term()


@pytest.fixture(params=["libzmq-draft", "pyzmq-draft"])
def libzmq_side(request: pytest.FixtureRequest) -> Iterator[Maker]:
    """The real libzmq peer. Each socket is closed explicitly: pyzmq warns
    (ResourceWarning, an error under filterwarnings=error) about a socket collected
    unclosed, which happens to the test's locals as soon as it returns."""
    if request.param == "libzmq-draft":
        with libzmq.draft_libzmq().context() as ctx:

            def make_ctypes(role: str) -> Side:
                return LibzmqSide(ctx.socket(libzmq.RADIO if role == "radio" else libzmq.DISH))

            yield make_ctypes
        return
    if not (zmq.DRAFT_API and zmq.has("draft")):
        pytest.skip(
            f"pyzmq {zmq.pyzmq_version()} with libzmq {zmq.zmq_version()} is built without "
            "the draft API (zmq.DRAFT_API is False): it has no RADIO/DISH"
        )
    zctx: zmq.Context[Any] = zmq.Context()
    made: list[Any] = []

    def make_pyzmq(role: str) -> Side:
        sock = zctx.socket(zmq.RADIO if role == "radio" else zmq.DISH)
        made.append(sock)
        return PyzmqSide(sock)

    yield make_pyzmq
    for sock in made:
        sock.close(linger=0)
    zctx.term()


def _radio_dish(
    mqsdk_side: Maker, libzmq_side: Maker, radio_impl: str, transport: str
) -> tuple[Side, Side]:
    radio = (mqsdk_side if radio_impl == "mqsdk" else libzmq_side)("radio")
    dish = (libzmq_side if radio_impl == "mqsdk" else mqsdk_side)("dish")
    if transport == "udp":
        # libzmq cannot bind udp to port 0 and tell the port: take a free one from the OS.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        address = dish.bind(f"udp://127.0.0.1:{port}")
    else:
        address = dish.bind("tcp://127.0.0.1:*")
    radio.connect(address)
    return radio, dish


def _until_received(radio: Side, dish: Side, group: str) -> tuple[str, bytes]:
    """Send markers until one arrives: the connection (and, over tcp, the JOIN) has no
    event of its own to wait for on the RADIO side."""
    deadline = time.monotonic() + WAIT
    while True:
        radio.send(b"marker", group)
        received = dish.recv(0.02)
        if received is not None:
            return received
        assert time.monotonic() < deadline, f"nothing for group {group!r} arrived in {WAIT} s"


def _recv(dish: Side) -> tuple[str, bytes]:
    received = dish.recv(WAIT)
    assert received is not None, f"nothing arrived within {WAIT} s"
    return received


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("radio_impl", ["mqsdk", "libzmq"])
def test_radio_to_dish(
    mqsdk_side: Maker, libzmq_side: Maker, radio_impl: str, transport: str
) -> None:
    radio, dish = _radio_dish(mqsdk_side, libzmq_side, radio_impl, transport)
    dish.join("weather")
    dish.join("news")
    assert _until_received(radio, dish, "weather") == ("weather", b"marker")
    _until_received(radio, dish, "news")
    radio.send(b"end-of-markers", "news")
    while _recv(dish) != ("news", b"end-of-markers"):
        pass
    radio.send(b"x" * 300, "sport")  # nobody joined
    radio.send(b"rain", "weather")
    assert _recv(dish) == ("weather", b"rain")
    dish.leave("weather")
    radio.send(b"more rain", "weather")
    radio.send(b"headline", "news")
    assert _recv(dish) == ("news", b"headline")
