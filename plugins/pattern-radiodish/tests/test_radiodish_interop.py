"""RADIO/DISH against real libzmq, both directions, over tcp and udp.

RADIO and DISH are draft socket types: pyzmq offers them only when it and its libzmq
were built with the draft API. The pyzmq wheels are not (pyzmq 27 bundles libzmq 4.3.5
without drafts), so these tests skip there with that reason; test_radiodish_wire.py
proves the same bytes against hand-written ZMTP peers, and the udp plugin's tests check
the datagram layout with raw UDP sockets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

import mqsdk

WAIT = 10.0

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        not (zmq.DRAFT_API and zmq.has("draft")),
        reason=(
            f"pyzmq {zmq.pyzmq_version()} with libzmq {zmq.zmq_version()} is built without "
            "the draft API (zmq.DRAFT_API is False): it has no RADIO/DISH"
        ),
    ),
]


Both = tuple[mqsdk.Context, zmq.Context[Any], list[Any]]


@pytest.fixture
def both() -> Iterator[Both]:
    """The two contexts, and the sockets made in them, closed at teardown.

    Each socket is closed explicitly: pyzmq warns (ResourceWarning, an error under
    filterwarnings=error) about a socket collected unclosed, which happens to the
    test's locals as soon as it returns, before any context teardown."""
    mctx = mqsdk.Context()
    zctx: zmq.Context[Any] = zmq.Context()
    made: list[Any] = []
    yield mctx, zctx, made
    for sock in made:
        sock.close(linger=0)
    zctx.term()
    mctx.term()


def _radio_dish(both: Both, radio_impl: str, transport: str) -> tuple[Any, Any, str]:
    mctx, zctx, made = both
    radio = mctx.socket(mqsdk.RADIO) if radio_impl == "mqsdk" else zctx.socket(zmq.RADIO)
    dish = zctx.socket(zmq.DISH) if radio_impl == "mqsdk" else mctx.socket(mqsdk.DISH)
    made += [radio, dish]
    for sock in (radio, dish):
        sock.linger = 0
        sock.rcvtimeo = int(WAIT * 1000)
    if transport == "udp":
        # libzmq cannot bind udp to port 0 and tell the port: take a free one from the OS.
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        address = f"udp://127.0.0.1:{port}"
        dish.bind(address)
        radio.connect(address)
    else:
        dish.bind("tcp://127.0.0.1:*")
        address = dish.last_endpoint.decode()
        radio.connect(address)
    return radio, dish, address


def _until_received(radio: Any, dish: Any, group: str) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        radio.send(b"marker", group=group)
        if dish.poll(20):
            return dish.recv(copy=False)
        assert time.monotonic() < deadline, f"nothing for group {group!r} arrived"


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("radio_impl", ["mqsdk", "pyzmq"])
def test_radio_to_dish(both: Both, radio_impl: str, transport: str) -> None:
    radio, dish, _ = _radio_dish(both, radio_impl, transport)
    dish.join("weather")
    dish.join(b"news")
    first = _until_received(radio, dish, "weather")
    assert (first.group, first.bytes) == ("weather", b"marker")
    _until_received(radio, dish, "news")
    radio.send(b"end-of-markers", group="news")
    while dish.recv() != b"end-of-markers":
        pass
    radio.send(b"x" * 300, group="sport")  # nobody joined
    radio.send(b"rain", group="weather")
    frame = dish.recv(copy=False)
    assert (frame.group, frame.bytes) == ("weather", b"rain")
    # bytes: pyzmq 27's Socket.leave, unlike its join, does not encode a str group.
    dish.leave(b"weather")
    radio.send(b"more rain", group="weather")
    radio.send(b"headline", group="news")
    assert dish.recv() == b"headline"
