"""Misbehaving raw TCP peers against an mqsdk PULL that also serves a good pyzmq PUSH.

Every case checks three things: mqsdk closes the bad connection (the raw socket reads
EOF or ECONNRESET within a bounded time, unless the case says the connection must stay),
the good peer is still served, and the I/O thread is alive with no handler crashed.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
import zmq

from mqsdk._kernel.mechanism import SocketTypeMismatch
from mqsdk.errors import ProtocolError
from mqsdk.zmtp.constants import ProtocolErrorCode
from tests.badinput import rawzmtp as raw
from tests.badinput.conftest import Harness
from tests.interop.helpers import RCVTIMEO, WAIT, wait_until

MQSDK_READY_PULL = b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PULL"


def _handshake_error(h: Harness) -> BaseException:
    error: BaseException = h.observer.wait("handshake_failed", h.pull)[0]["error"]
    return error


# -- control: the hand-made bytes are right ------------------------------------------------


def test_control_well_behaved_raw_peer_is_served(harness: Harness) -> None:
    with harness.raw() as peer:
        peer.sendall(raw.greeting() + raw.ready(b"PUSH"))
        mq_greeting = raw.recv_exactly(peer, 64)
        # protocols.md 1.1/1.2: ff, padding (libzmq puts 1 in the last byte), 7f, 3.1, NULL
        assert mq_greeting[0] == 0xFF and mq_greeting[9] == 0x7F
        assert mq_greeting[10:12] == b"\x03\x01"
        assert mq_greeting[12:32] == b"NULL" + bytes(16)
        assert mq_greeting[32:] == bytes(32)
        assert raw.recv_exactly(peer, len(MQSDK_READY_PULL)) == MQSDK_READY_PULL
        peer.sendall(raw.message(b"raw", b"hello"))
        assert harness.pull.recv_multipart() == [b"raw", b"hello"]
        harness.observer.wait("connected", harness.pull, count=2)
    harness.observer.wait("disconnected", harness.pull)
    harness.assert_healthy()


# -- before and during the greeting ------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        bytes(range(256)) * 4,
        b"\x00" * 100,
    ],
    ids=["http", "bytes", "zeros"],
)
def test_garbage_instead_of_greeting(harness: Harness, garbage: bytes) -> None:
    with harness.raw() as peer:
        raw.send_quietly(peer, garbage)
        raw.read_until_closed(peer)
    assert isinstance(_handshake_error(harness), ProtocolError)
    harness.assert_healthy()


def test_truncated_greeting_then_silence(harness: Harness) -> None:
    harness.pull.handshake_ivl = 200
    with harness.raw() as peer:
        peer.sendall(raw.greeting()[:20])
        data, _how = raw.read_until_closed(peer)
        assert data[:1] == b"\xff"  # mqsdk's own greeting went out first
    assert isinstance(_handshake_error(harness), TimeoutError)
    harness.assert_healthy()


def test_complete_greeting_but_no_ready_then_silence(harness: Harness) -> None:
    harness.pull.handshake_ivl = 200
    with harness.raw() as peer:
        peer.sendall(raw.greeting())
        data, _how = raw.read_until_closed(peer)
        assert data.endswith(MQSDK_READY_PULL)
    assert isinstance(_handshake_error(harness), TimeoutError)
    harness.assert_healthy()


def test_wrong_signature(harness: Harness) -> None:
    bad = b"\xfe" + raw.greeting()[1:]
    with harness.raw() as peer:
        raw.send_quietly(peer, bad + raw.ready(b"PUSH"))
        raw.read_until_closed(peer)
    assert isinstance(_handshake_error(harness), ProtocolError)
    harness.assert_healthy()


@pytest.mark.parametrize(
    "legacy",
    [
        # ZMTP 2.0 (RFC 15): signature, revision 01, socket type PUSH (8), empty identity
        b"\xff" + bytes(8) + b"\x7f" + b"\x01\x08" + b"\x00\x00",
        # ZMTP 1.0 (RFC 13): an empty identity frame (length 1 incl. flags, flags 0)
        b"\x01\x00",
        # ZMTP 1.0 with the long signature but bit 0 of byte 9 clear
        b"\xff" + bytes(8) + b"\x7e",
    ],
    ids=["zmtp2.0", "zmtp1.0", "zmtp1.0-unversioned-signature"],
)
def test_legacy_zmtp_peer_is_refused(harness: Harness, legacy: bytes) -> None:
    # libzmq would downgrade and talk to these peers (protocols.md 1.3); mqsdk documents
    # that it does not implement the downgrade and closes instead.
    with harness.raw() as peer:
        raw.send_quietly(peer, legacy)
        raw.read_until_closed(peer)
    assert isinstance(_handshake_error(harness), ProtocolError)
    harness.assert_healthy()


def test_mechanism_mismatch_plain_to_null(harness: Harness) -> None:
    with harness.raw() as peer:
        raw.send_quietly(peer, raw.greeting(b"PLAIN"))
        data, _how = raw.read_until_closed(peer)
        assert MQSDK_READY_PULL not in data  # no handshake command after a mismatch
    error = _handshake_error(harness)
    assert isinstance(error, ProtocolError)
    assert error.code == ProtocolErrorCode.ZMTP_MECHANISM_MISMATCH  # 0x11000002
    harness.assert_healthy()


# -- during the NULL handshake ------------------------------------------------------------


@pytest.mark.parametrize("peer_type", [b"PUB", b"PULL", b"PAIR", b"push", b"NONSENSE"])
def test_ready_with_wrong_socket_type(harness: Harness, peer_type: bytes) -> None:
    with harness.raw() as peer:
        raw.send_quietly(peer, raw.greeting() + raw.ready(peer_type))
        data, _how = raw.read_until_closed(peer)
    # Like libzmq: our own READY goes out, then a plain close, no ERROR command.
    assert data[64:] == MQSDK_READY_PULL, data[64:]
    assert isinstance(_handshake_error(harness), SocketTypeMismatch)
    harness.assert_healthy()


def test_message_frame_before_ready(harness: Harness) -> None:
    with harness.raw() as peer:
        raw.send_quietly(peer, raw.greeting() + raw.frame(b"sneaky"))
        raw.read_until_closed(peer)
    error = _handshake_error(harness)
    assert isinstance(error, ProtocolError)
    assert error.code == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND
    harness.assert_healthy()  # includes: "sneaky" was not delivered


def test_message_frame_instead_of_ready_after_ready_sent_late(harness: Harness) -> None:
    """A READY that arrives after a message does not repair the connection."""
    with harness.raw() as peer:
        raw.send_quietly(peer, raw.greeting() + raw.frame(b"sneaky") + raw.ready(b"PUSH"))
        raw.read_until_closed(peer)
    assert isinstance(_handshake_error(harness), ProtocolError)
    harness.assert_healthy()


# -- after the handshake ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maxmsgsize", "declared"),
    [(1024, 1025), (1024, 2**40), (1024, 2**63 - 1), (1024, 2**64 - 1), (100, 101)],
    ids=["1025", "1TiB", "2^63-1", "2^64-1", "short-frame-over-100"],
)
def test_frame_over_maxmsgsize(harness: Harness, maxmsgsize: int, declared: int) -> None:
    harness.pull.maxmsgsize = maxmsgsize  # read by each new connection
    with harness.raw() as peer:
        raw.handshake_as(peer, b"PUSH")
        # At the limit is fine, per frame (libzmq's v2_decoder checks each frame's size).
        peer.sendall(raw.message(b"a" * maxmsgsize, b"b" * maxmsgsize))
        assert harness.pull.recv_multipart() == [b"a" * maxmsgsize, b"b" * maxmsgsize]
        # Only the header: a decoder that allocated the declared size would fail here.
        if declared <= 255:
            header = bytes((0x00, declared))
        else:
            header = b"\x02" + struct.pack(">Q", declared)
        raw.send_quietly(peer, header + b"xyz")
        raw.read_until_closed(peer)
    reasons = [e["reason"] for e in harness.observer.wait("disconnected", harness.pull)]
    assert reasons, reasons
    harness.assert_healthy()


def _unknown_command_sequence() -> list[bytes]:
    return [
        raw.command(b"FOOBAR", b"some data"),
        raw.command(b"X-LONG", b"z" * 300),  # a long (06) command frame
        raw.command(b"HELLO"),  # a known name in the wrong place: still just a command
        raw.frame(b"after-unknown"),
        # A command between two frames of one message (libzmq handles it at frame level)
        raw.frame(b"part1", more=True) + raw.command(b"FOOBAR") + raw.frame(b"part2"),
    ]


def _deliveries(peer: socket.socket, receiver: Any) -> list[list[bytes]]:
    for chunk in _unknown_command_sequence():
        peer.sendall(chunk)
    return [receiver.recv_multipart(), receiver.recv_multipart()]


def test_unknown_command_after_handshake_is_ignored_like_libzmq(harness: Harness) -> None:
    expected = [[b"after-unknown"], [b"part1", b"part2"]]
    # The reference: a pyzmq PULL given the same bytes.
    zctx: zmq.Context[Any] = zmq.Context()
    zpull = zctx.socket(zmq.PULL)
    zpull.linger = 0
    zpull.rcvtimeo = RCVTIMEO
    try:
        port = zpull.bind_to_random_port("tcp://127.0.0.1")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as zpeer:
            raw.handshake_as(zpeer, b"PUSH")
            assert _deliveries(zpeer, zpull) == expected
            assert raw.connection_open_after(zpeer, 0.2), "libzmq closed the connection"
    finally:
        zpull.close(linger=0)
        zctx.term()

    with harness.raw() as peer:
        raw.handshake_as(peer, b"PUSH")
        assert _deliveries(peer, harness.pull) == expected
        assert raw.connection_open_after(peer, 0.2), "mqsdk closed the connection"
        peer.sendall(raw.frame(b"still open"))
        assert harness.pull.recv() == b"still open"
    assert harness.observer.of("handshake_failed", harness.pull) == []
    harness.assert_healthy()


@pytest.mark.parametrize(
    "tail",
    [
        b"\x00\x0ahalf",  # a short frame cut in its body
        b"\x02\x00\x00\x00",  # a long frame cut in its size field
        b"\x02" + struct.pack(">Q", 100000) + b"x" * 5000,  # a long frame cut in its body
        raw.frame(b"first part", more=True),  # a whole frame of an unfinished message
        raw.frame(b"first", more=True) + b"\x00\x10sec",  # and a cut second frame
        b"\x04\x10\x07UNKNOWN",  # a command cut in its body
        b"\x00",  # only a flags byte
        # No maxmsgsize: a huge declared size must not be allocated up front.
        b"\x02" + struct.pack(">Q", 2**40) + b"x" * 10,
    ],
    ids=[
        "short-body",
        "long-size",
        "long-body",
        "more-then-eof",
        "more-then-cut",
        "cmd",
        "flags",
        "1TiB-declared",
    ],
)
def test_peer_vanishes_mid_frame(harness: Harness, tail: bytes) -> None:
    with harness.raw() as peer:
        raw.handshake_as(peer, b"PUSH")
        harness.observer.wait("connected", harness.pull, count=2)
        peer.sendall(raw.frame(b"complete") + tail)
        assert harness.pull.recv() == b"complete"
    harness.observer.wait("disconnected", harness.pull)
    harness.assert_healthy()  # includes: no partial message was delivered


# -- heartbeats from a raw peer (protocols.md 1.8, scenario 20) -------------------------------


def _pong_and_state(peer: socket.socket, ping: bytes) -> tuple[bytes, bool]:
    peer.sendall(ping)
    header = raw.recv_exactly(peer, 2)
    pong = header + raw.recv_exactly(peer, header[1])
    return pong, raw.connection_open_after(peer, 0.2)


@pytest.mark.parametrize(
    ("context", "echoed"),
    [(b"", b""), (b"ctx123", b"ctx123"), (b"A" * 16, b"A" * 16), (b"B" * 20, b"B" * 16)],
    ids=["none", "short", "16", "20-truncated"],
)
def test_ping_gets_pong_like_libzmq(harness: Harness, context: bytes, echoed: bytes) -> None:
    expected = raw.command(b"PONG", echoed)
    zctx: zmq.Context[Any] = zmq.Context()
    zpull = zctx.socket(zmq.PULL)
    zpull.linger = 0
    try:
        port = zpull.bind_to_random_port("tcp://127.0.0.1")
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as zpeer:
            raw.handshake_as(zpeer, b"PUSH")
            assert _pong_and_state(zpeer, raw.ping(0, context)) == (expected, True)
    finally:
        zpull.close(linger=0)
        zctx.term()

    with harness.raw() as peer:
        raw.handshake_as(peer, b"PUSH")
        assert _pong_and_state(peer, raw.ping(0, context)) == (expected, True)
        peer.sendall(raw.frame(b"after ping"))
        assert harness.pull.recv() == b"after ping"
    harness.assert_healthy()


def test_ping_ttl_expires_when_the_peer_goes_silent(harness: Harness) -> None:
    with harness.raw() as peer:
        raw.handshake_as(peer, b"PUSH")
        peer.sendall(raw.ping(1, b"c"))  # TTL 100 ms, then silence
        data, _how = raw.read_until_closed(peer)
        assert data == raw.command(b"PONG", b"c")
    reasons = [e["reason"] for e in harness.observer.wait("disconnected", harness.pull)]
    assert any("TTL" in r for r in reasons), reasons
    harness.assert_healthy()


@pytest.mark.parametrize("body", [b"", b"\x00"], ids=["no-ttl", "1-byte-ttl"])
def test_malformed_ping_closes_the_connection(harness: Harness, body: bytes) -> None:
    # libzmq 4.3.5 answers this with a PONG whose "context" is 16 bytes read past the
    # command (observed: it leaks its own READY bytes) and keeps the connection; mqsdk
    # treats it as a malformed command, which RFC 37 allows.
    with harness.raw() as peer:
        raw.handshake_as(peer, b"PUSH")
        raw.send_quietly(peer, raw.command(b"PING", body))
        data, _how = raw.read_until_closed(peer)
        assert b"PONG" not in data
    reasons = [e["reason"] for e in harness.observer.wait("disconnected", harness.pull)]
    assert any("protocol error" in r for r in reasons), reasons
    harness.assert_healthy()


# -- a peer that closes cleanly during the handshake -----------------------------------------

_CLOSE_DURING_HANDSHAKE = pytest.mark.parametrize(
    "sent",
    [b"", raw.greeting()[:20], raw.greeting()],
    ids=["nothing", "half-greeting", "greeting-no-ready"],
)


def _close_cleanly_after(harness: Harness, sent: bytes) -> None:
    with harness.raw() as peer:
        if sent:
            peer.sendall(sent)
        peer.shutdown(socket.SHUT_WR)  # a FIN, not a reset: mqsdk reads EOF
        raw.read_until_closed(peer)


@_CLOSE_DURING_HANDSHAKE
def test_peer_closing_during_handshake(harness: Harness, sent: bytes) -> None:
    before = harness.pull.stats["handshake_failures"]
    _close_cleanly_after(harness, sent)
    # The count is updated by the I/O thread just after it closed the socket, and no
    # hook announces it: poll it.
    wait_until(
        lambda: harness.pull.stats["handshake_failures"] == before + 1,
        "stats['handshake_failures'] counts the dropped connection",
    )
    harness.assert_healthy()
    assert len(harness.observer.of("connected", harness.pull)) == 1  # only the good peer


@_CLOSE_DURING_HANDSHAKE
def test_peer_closing_during_handshake_emits_handshake_failed(
    harness: Harness, sent: bytes
) -> None:
    _close_cleanly_after(harness, sent)
    harness.observer.wait("handshake_failed", harness.pull, timeout=2.0)
