"""RADIO/DISH bytes on the wire, checked against hand-written ZMTP peers.

The installed pyzmq's libzmq has no draft API (no RADIO/DISH), so the wire format is
proven here against libzmq's layout instead (RFC 48; libzmq radio.cpp, dish.cpp):

* a DISH sends ``04 len 04 "JOIN" group`` and ``04 len 05 "LEAVE" group`` commands, and
  its joined groups again on each new connection;
* a RADIO sends the group frame with MORE (``01 len group``), then the body frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from radiodish_raw import WAIT, Listener, Peer, command, frame, radio_message

import mqsdk

MakeSocket = Callable[[int], mqsdk.Socket]  # the conftest fixture "make"


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture
def radio_and_raw(make: MakeSocket) -> Iterator[tuple[mqsdk.Socket, Peer]]:
    """A bound mqsdk RADIO and a hand-driven DISH connected to it."""
    radio = make(mqsdk.RADIO)
    radio.bind("tcp://127.0.0.1:*")
    raw = Peer.connect(radio.last_endpoint.decode(), b"DISH")
    yield radio, raw
    raw.close()


def dish_joined_to(dish: mqsdk.Socket, listener: Listener) -> Peer:
    """Connect ``dish`` (which joined "g") to a hand-driven RADIO; read its JOIN."""
    dish.connect(listener.endpoint)
    raw = listener.accept(b"RADIO")
    assert raw.read_raw_frame() == command(b"JOIN", b"g")
    return raw


def read_until_message(raw: Peer, radio: mqsdk.Socket, group: str, body: bytes) -> bytes:
    """Send ``body`` to ``group`` until the raw DISH gets a message; return its bytes."""
    deadline = time.monotonic() + WAIT
    while True:
        radio.send(body, group=group)
        if raw.readable(0.02):
            return raw.read_raw_frame() + raw.read_raw_frame()
        assert time.monotonic() < deadline, f"the RADIO never sent group {group!r}"


def test_dish_sends_join_and_leave_commands(make: MakeSocket, listener: Listener) -> None:
    dish = make(mqsdk.DISH)
    dish.join("before")
    dish.connect(listener.endpoint)
    raw = listener.accept(b"RADIO")
    assert b"\x0bSocket-Type\x00\x00\x00\x04DISH" in raw.peer_ready
    assert raw.read_raw_frame() == b"\x04\x0b\x04JOINbefore"
    dish.join("g")
    assert raw.read_raw_frame() == b"\x04\x06\x04JOINg"
    dish.leave("before")
    assert raw.read_raw_frame() == b"\x04\x0c\x05LEAVEbefore"


def test_dish_receives_libzmq_radio_messages(make: MakeSocket, listener: Listener) -> None:
    dish = make(mqsdk.DISH)
    dish.join("g")
    raw = dish_joined_to(dish, listener)
    raw.send(radio_message(b"other", b"filtered out") + radio_message(b"g", b"x" * 300))
    received = dish.recv(copy=False)
    assert (received.group, received.bytes) == ("g", b"x" * 300)


def test_dish_rejoins_on_reconnect(make: MakeSocket, listener: Listener) -> None:
    dish = make(mqsdk.DISH)
    dish.reconnect_ivl = 20
    dish.connect(listener.endpoint)
    raw = listener.accept(b"RADIO")
    # One step at a time: each frame comes either in the DISH's greeting (if its side of
    # the handshake ends later) or as a command, with the same bytes.
    dish.join("a")
    assert raw.read_raw_frame() == command(b"JOIN", b"a")
    dish.join("b")
    assert raw.read_raw_frame() == command(b"JOIN", b"b")
    dish.leave("a")
    assert raw.read_raw_frame() == command(b"LEAVE", b"a")
    raw.close()
    again = listener.accept(b"RADIO")
    assert again.read_raw_frame() == command(b"JOIN", b"b")


def test_dish_drops_a_connection_that_sends_no_group(make: MakeSocket, listener: Listener) -> None:
    dish = make(mqsdk.DISH)
    dish.join("g")
    raw = dish_joined_to(dish, listener)
    raw.send(frame(b"a body without its group frame"))
    # The DISH finds the bad message when its user reads (patterns run in the user's
    # thread), then closes that connection.
    deadline = time.monotonic() + WAIT
    while not raw.closed_by_peer():
        assert dish.poll(20) == 0, "the malformed message was delivered"
        assert time.monotonic() < deadline, "the DISH kept the bad connection open"
    # Like libzmq (a protocol error ends the session), that endpoint is not retried;
    # the DISH goes on with its other peers.
    other = Listener()
    try:
        good = dish_joined_to(dish, other)
        good.send(radio_message(b"g", b"fine"))
        assert dish.recv() == b"fine"
    finally:
        other.close()


def test_radio_sends_group_frame_then_body(radio_and_raw: tuple[mqsdk.Socket, Peer]) -> None:
    radio, raw = radio_and_raw
    assert b"\x0bSocket-Type\x00\x00\x00\x05RADIO" in raw.peer_ready
    raw.send(command(b"JOIN", b"g"))
    assert read_until_message(raw, radio, "g", b"hello") == b"\x01\x01g\x00\x05hello"
    # LEAVE g, then JOIN h: once h arrives, the LEAVE was applied before it.
    raw.send(command(b"LEAVE", b"g") + command(b"JOIN", b"h"))
    while True:
        first = read_until_message(raw, radio, "h", b"h-marker")
        if first == b"\x01\x01h\x00\x08h-marker":
            break
        assert first == b"\x01\x01g\x00\x05hello", first  # sent before the LEAVE
    radio.send(b"after leave", group="g")
    radio.send(b"end", group="h")
    frames = []
    while not frames or frames[-1] != b"\x00\x03end":
        frames.append(raw.read_raw_frame())
    assert b"\x00\x0bafter leave" not in frames
    assert frames[-2:] == [b"\x01\x01h", b"\x00\x03end"]
    # A body over 255 bytes uses the long form, the group frame stays short.
    radio.send(b"y" * 300, group="h")
    assert raw.read_raw_frame() == b"\x01\x01h"
    assert raw.read_raw_frame() == b"\x02" + (300).to_bytes(8, "big") + b"y" * 300


def test_radio_ignores_an_overlong_join_and_stays_up(
    radio_and_raw: tuple[mqsdk.Socket, Peer],
) -> None:
    radio, raw = radio_and_raw
    data = b"\x04JOIN" + b"z" * 256  # a long command frame: 06, 8-byte size, body
    raw.send(b"\x06" + len(data).to_bytes(8, "big") + data)
    raw.send(command(b"JOIN", b"ok"))
    assert read_until_message(raw, radio, "ok", b"still up") == b"\x01\x02ok\x00\x08still up"
