"""What hostile and short-lived peers may cost the server in memory (issue 14, items 3-4).

A declared frame size is only a claim: memory must follow the bytes a peer actually
sends, every handshake frame is bounded, and a closed connection is freed at once.
``python -m tests.badinput.measure_memory`` prints the same figures for a report.
"""

from __future__ import annotations

import gc
import socket
import struct
import tracemalloc
from collections.abc import Iterator

import pytest

import mqsdk
from mqsdk._kernel.engine import StreamEngine
from mqsdk._kernel.mechanism import HANDSHAKE_FRAME_LIMIT
from mqsdk.errors import ProtocolError
from mqsdk.monitor import Event
from mqsdk.testing.helpers import EventLog, recording_events
from mqsdk.zmtp.constants import ProtocolErrorCode
from mqsdk.zmtp.null import NullMechanism
from tests.badinput import rawzmtp as raw
from tests.badinput.conftest import Harness
from tests.interop.helpers import RCVTIMEO, WAIT, wait_until

PEERS = 10
PER_CONNECTION = 256 * 1024
"""Generous bound on a decoder holding a few bytes of a huge frame (it was 64 MiB)."""


def _engines_of(owner: object) -> list[StreamEngine]:
    return [o for o in gc.get_objects() if isinstance(o, StreamEngine) and o.owner is owner]


def _long_header(declared: int) -> bytes:
    return b"\x02" + struct.pack(">Q", declared)


@pytest.fixture
def events(harness: Harness) -> Iterator[EventLog]:
    with recording_events(harness.ctx) as log:
        yield log


@pytest.mark.parametrize(
    "declared",
    [2**40, 100 * 2**20, HANDSHAKE_FRAME_LIMIT + 1],
    ids=["1TiB", "100MiB", "limit+1"],
)
def test_huge_frame_before_ready_is_refused(
    harness: Harness, events: EventLog, declared: int
) -> None:
    # NULL had no handshake limit: this cost 64 MiB per connection before READY.
    peers = [harness.raw() for _ in range(PEERS)]
    for peer in peers:
        raw.send_quietly(peer, raw.greeting() + _long_header(declared) + b"abc")
    for peer in peers:
        data, _how = raw.read_until_closed(peer)
        assert data[:1] == b"\xff"  # our greeting, maybe our READY, then the close
    failures = events.wait(harness.pull, Event.HANDSHAKE_FAILED_PROTOCOL, count=PEERS)
    assert {e.value for e in failures} == {ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_READY}
    errors = [e["error"] for e in harness.observer.wait("handshake_failed", count=PEERS)]
    assert all(isinstance(e, ProtocolError) for e in errors), errors
    assert "READY command too big" in str(errors[0])
    harness.assert_healthy()


def test_every_mechanism_gets_a_handshake_limit(
    harness: Harness, events: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mechanism that asks for no limit (-1) still gets the default one."""
    monkeypatch.setattr(NullMechanism, "handshake_frame_limit", -1)
    with harness.raw() as peer:
        raw.send_quietly(peer, raw.greeting() + _long_header(2**40) + b"abc")
        raw.read_until_closed(peer)
    events.wait(harness.pull, Event.HANDSHAKE_FAILED_PROTOCOL)
    harness.assert_healthy()


def test_handshake_frame_at_the_limit_is_accepted(harness: Harness) -> None:
    """A READY with 60 KiB of application properties (libzmq sets no bound) gets in."""
    prop = raw.prop(b"X-Big", b"v" * (60 * 1024))
    ready = raw.command(b"READY", raw.prop(b"Socket-Type", b"PUSH") + prop)
    assert len(ready) - 9 <= HANDSHAKE_FRAME_LIMIT
    with harness.raw() as peer:
        peer.sendall(raw.greeting() + ready)
        raw.recv_exactly(peer, 64)
        peer.sendall(raw.message(b"big", b"metadata"))
        assert harness.pull.recv_multipart() == [b"big", b"metadata"]
    harness.assert_healthy()


def test_message_frames_before_ready_are_refused_before_they_pile_up(
    harness: Harness, events: EventLog
) -> None:
    # Frames of an unfinished message were held until it ended (or handshake_ivl,
    # 30 s, passed): an unauthenticated peer could stream into memory that long.
    with harness.raw() as peer:
        flood = raw.frame(b"m" * 255, more=True) * 400  # 100 KiB, never a last frame
        raw.send_quietly(peer, raw.greeting() + flood)
        raw.read_until_closed(peer)
    (failure,) = events.wait(harness.pull, Event.HANDSHAKE_FAILED_PROTOCOL)
    assert failure.value == ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND
    harness.assert_healthy()


# -- the handshake's bound does not hold back the traffic that follows it -------------------


def test_ready_and_a_big_message_in_one_segment(harness: Harness) -> None:
    """The peer's last handshake command and its first message may arrive in one read:
    the message is traffic, bounded by maxmsgsize only (a bound lowered for the whole
    read refused it)."""
    body = b"b" * (4 * HANDSHAKE_FRAME_LIMIT)
    with harness.raw() as peer:
        # All at once, before reading our greeting: the server reads READY and the
        # message header together.
        peer.sendall(raw.greeting() + raw.ready(b"PUSH") + raw.message(body))
        assert harness.pull.recv_multipart() == [body]
        assert raw.connection_open_after(peer, 0.01)
    harness.assert_healthy()


def test_plain_server_ready_and_a_big_message_in_one_segment(harness: Harness) -> None:
    """Same, the other way round: an mqsdk PLAIN client (8 KiB handshake bound) whose
    server sends READY and a 200 KiB message together, as a libzmq PUSH server may."""
    body = b"p" * 200_000
    server = socket.create_server(("127.0.0.1", 0))
    pull = harness.ctx.socket(mqsdk.PULL)
    pull.linger = 0
    pull.rcvtimeo = RCVTIMEO
    pull.plain_username = b"user"
    pull.plain_password = b"secret"
    try:
        pull.connect(f"tcp://127.0.0.1:{server.getsockname()[1]}")
        server.settimeout(WAIT)
        conn, _ = server.accept()
        with conn:
            conn.sendall(raw.greeting(b"PLAIN"))
            raw.recv_exactly(conn, 64)
            assert raw.read_command(conn)[0] == b"HELLO"
            conn.sendall(raw.command(b"WELCOME"))
            assert raw.read_command(conn)[0] == b"INITIATE"
            ready = raw.command(b"READY", raw.prop(b"Socket-Type", b"PUSH"))
            conn.sendall(ready + raw.message(body))
            assert pull.recv_multipart() == [body]
            assert pull.stats["handshake_failures"] == 0
    finally:
        pull.close()
        server.close()


# -- after the handshake -----------------------------------------------------------------


@pytest.mark.parametrize("declared", [2**40, 100 * 2**20], ids=["1TiB", "100MiB"])
def test_huge_frame_after_ready_costs_only_what_was_sent(harness: Harness, declared: int) -> None:
    # After the handshake maxmsgsize (unlimited by default) is the only bound, as in
    # libzmq; the peers stay connected, but what they declared is not allocated.
    peers = [harness.raw() for _ in range(PEERS)]
    for peer in peers:
        raw.handshake_as(peer, b"PUSH")
    harness.observer.wait("connected", harness.pull, count=PEERS + 1)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for peer in peers:
            peer.sendall(_long_header(declared) + b"abc")
        wait_until(
            lambda: sum(e.decoder.has_partial for e in _engines_of(harness.pull)) == PEERS,
            f"the server read the {PEERS} headers",
        )
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    allocated = [e.decoder.allocated for e in _engines_of(harness.pull)]
    assert max(allocated) <= PER_CONNECTION, allocated
    assert grown <= PEERS * PER_CONNECTION, f"{grown} bytes allocated for {PEERS} headers"
    harness.assert_healthy()
    for peer in peers:
        assert raw.connection_open_after(peer, 0.01)  # waiting for the rest, as libzmq
        peer.close()
    harness.observer.wait("disconnected", harness.pull, count=PEERS)
    harness.assert_healthy()


def test_big_message_in_pieces_arrives_intact(harness: Harness) -> None:
    body = bytes(range(251)) * (3 * 2**20 // 251) + b"tail"  # grown in chunks, copied once
    with harness.raw() as peer:
        raw.handshake_as(peer, b"PUSH")
        wire = raw.message(b"head", body)
        for pos in range(0, len(wire), 100_000):  # in pieces, as a slow peer sends
            peer.sendall(wire[pos : pos + 100_000])
        assert harness.pull.recv_multipart() == [b"head", body]
    harness.assert_healthy()


def test_closed_connections_are_freed_at_once(harness: Harness) -> None:
    # Each engine's cancelled 30 s handshake timer used to keep it (and its buffers)
    # alive until the deadline: 2,000 short connections, 2,000 engines a second later.
    for index in range(100):
        with harness.raw() as peer:
            if index % 2:
                raw.handshake_as(peer, b"PUSH")  # handshake done, then closed
            else:
                peer.sendall(raw.greeting())  # closed during the handshake
                raw.recv_exactly(peer, 64)
    harness.observer.wait("connected", harness.pull, count=1 + 50)
    harness.observer.wait("handshake_failed", harness.pull, count=50)
    # The observer keeps each error, and an OSError's traceback holds the frames (and
    # so the engine) it went through: that is the test's doing, not mqsdk's.
    harness.observer.events.clear()

    def all_freed() -> bool:
        gc.collect()
        return not [e for e in _engines_of(harness.pull) if e.dead]

    wait_until(all_freed, "every closed connection's engine was freed")
    assert len(_engines_of(harness.pull)) == 1  # the good peer's
    harness.assert_healthy()
