"""What the kit cannot know about chaos+tcp:// and chaos+ipc://: each fault does what it
says, with a seed it is reproducible, and the kernel recovers from the resets."""

from __future__ import annotations

import contextlib
import errno
import random
import socket
from collections.abc import Iterator

import pytest
from mqsdk_transport_chaos import ChaosSettings, ChaosSocket, parse_settings

import mqsdk
from mqsdk.monitor import Event
from mqsdk.testing.helpers import recording_events, short_tmpdir, wait_until


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    with mqsdk.Context() as context:
        yield context


def _pair(settings: ChaosSettings, seed: int = 0) -> tuple[ChaosSocket, socket.socket]:
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    return ChaosSocket(left, settings, random.Random(seed)), right


def _read_all(sock: socket.socket, size: int) -> bytes:
    data = b""

    def more() -> bool:
        nonlocal data
        with contextlib.suppress(BlockingIOError):
            data += sock.recv(size - len(data))
        return len(data) >= size

    wait_until(more, f"{size} bytes")
    return data


# -- settings ---------------------------------------------------------------------------


def test_settings_parse_and_default_off() -> None:
    assert not ChaosSettings().active
    settings = parse_settings("delay_ms=5&partial=1&reset_after=100&drop=0.5&seed=7", "e")
    assert settings == ChaosSettings(delay_ms=5.0, partial=True, reset_after=100, drop=0.5, seed=7)
    assert settings.active


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        ("chaos+tcp://127.0.0.1:5555?colour=blue", "unknown setting 'colour'"),
        ("chaos+tcp://127.0.0.1:5555?drop=2", "bad value '2' for drop"),
        ("chaos+tcp://127.0.0.1:5555?reset_after=0", "bad value '0' for reset_after"),
        ("chaos+tcp://127.0.0.1:5555?partial=yes", "bad value 'yes' for partial"),
        ("chaos+tcp://127.0.0.1:5555?delay_ms", "malformed settings"),
        ("chaos+tcp://nowhere", "tcp"),  # the inner transport's own error
    ],
)
def test_bad_endpoints_fail_in_connect(ctx: mqsdk.Context, endpoint: str, says: str) -> None:
    sock = ctx.socket(mqsdk.PUSH)
    try:
        with pytest.raises(mqsdk.EndpointError, match=says):
            sock.connect(endpoint)
    finally:
        sock.close(linger=0)


# -- each fault, on a socket pair ----------------------------------------------------------


def test_partial_cuts_writes_and_reads_short_reproducibly() -> None:
    payload = bytes(range(256)) * 64
    sizes: list[list[int]] = []
    for _ in range(2):
        chaos, peer = _pair(ChaosSettings(partial=True), seed=11)
        with chaos, peer:
            cuts = []
            view = memoryview(payload)
            while view:
                sent = chaos.send(view)
                cuts.append(sent)
                view = view[sent:]
            assert _read_all(peer, len(payload)) == payload
            assert min(cuts) <= 7 and len(cuts) > 2, cuts
            sizes.append(cuts)
    assert sizes[0] == sizes[1], "the same seed cuts at the same places"


def test_partial_reads_leave_the_rest_in_the_os_socket() -> None:
    chaos, peer = _pair(ChaosSettings(partial=True), seed=3)
    with chaos, peer:
        peer.sendall(b"0123456789" * 10)
        got = b""
        while len(got) < 100:
            piece = chaos.recv(100)
            assert 0 < len(piece) < 100 or got  # the first read is cut short
            got += piece
        assert got == b"0123456789" * 10


def test_reset_after_lets_exactly_that_many_bytes_through() -> None:
    chaos, peer = _pair(ChaosSettings(reset_after=10))
    with chaos, peer:
        assert chaos.send(b"x" * 25) == 10
        with pytest.raises(ConnectionResetError) as raised:
            chaos.send(b"y")
        assert raised.value.errno == errno.ECONNRESET
        assert _read_all(peer, 10) == b"x" * 10


def test_drop_resets_at_a_seeded_send() -> None:
    chaos, peer = _pair(ChaosSettings(drop=1.0))
    with chaos, peer, pytest.raises(ConnectionResetError):
        chaos.send(b"never")


def test_delay_holds_writes_without_blocking_then_sends_in_order() -> None:
    chaos, peer = _pair(ChaosSettings(delay_ms=50))
    with peer:
        assert chaos.send(b"first ") == 6  # accepted at once, written later
        assert chaos.sendmsg([b"second ", b"third"]) == 12
        assert _read_all(peer, 18) == b"first second third"
        chaos.shutdown(socket.SHUT_WR)
        chaos.close()
        wait_until(lambda: _eof(peer), "the delayed socket's close to reach the peer")


def test_delayed_bytes_still_go_out_when_closed_at_once() -> None:
    chaos, peer = _pair(ChaosSettings(delay_ms=30))
    with peer:
        chaos.send(b"last words")
        chaos.shutdown(socket.SHUT_WR)
        chaos.close()
        assert _read_all(peer, 10) == b"last words"
        wait_until(lambda: _eof(peer), "end of stream after the delayed bytes")


def _eof(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False


def test_stall_stops_reading_for_a_while() -> None:
    chaos, peer = _pair(ChaosSettings(stall_ms=10_000, stall_every=4))
    with chaos, peer:
        peer.sendall(b"abcdefgh")
        assert _read_all(chaos, 4) == b"abcd"
        with pytest.raises(BlockingIOError):
            chaos.recv(4)  # stalled: 10 s is far longer than this test
        chaos.stalled_until = 0.0  # end the stall without waiting for it
        assert chaos.recv(4) == b"efgh"


# -- the kernel over faults -------------------------------------------------------------


def test_push_pull_reconnects_after_reset_and_later_messages_arrive(ctx: mqsdk.Context) -> None:
    with recording_events(ctx) as events:
        pull = ctx.socket(mqsdk.PULL)
        pull.rcvtimeo = 10_000
        pull.bind("chaos+tcp://127.0.0.1:*")
        push = ctx.socket(mqsdk.PUSH)
        push.reconnect_ivl = 10
        # Greetings and READY commands take about 200 bytes each way: a small message
        # fits in the first connection, a big one crosses the limit and resets it.
        push.connect(f"{pull.last_endpoint.decode()}?reset_after=600")
        try:
            push.send(b"before")
            assert pull.recv() == b"before"
            push.send(b"x" * 2000)  # reset half-way; lost with its connection
            events.wait(push, Event.DISCONNECTED)
            events.wait(push, Event.HANDSHAKE_SUCCEEDED, count=2)
            push.send(b"after")
            received = pull.recv()
            assert received == b"after", f"got {received[:20]!r}..."
        finally:
            push.close(linger=0)
            pull.close(linger=0)


def test_messages_arrive_intact_over_delay_and_partial_on_ipc(ctx: mqsdk.Context) -> None:
    with short_tmpdir("chaos") as directory:
        pull = ctx.socket(mqsdk.PULL)
        pull.rcvtimeo = 10_000
        pull.bind(f"chaos+ipc://{directory}/s?partial=1&seed=5")
        push = ctx.socket(mqsdk.PUSH)
        push.connect(f"{pull.last_endpoint.decode()}?delay_ms=5&partial=1&seed=6")
        try:
            messages = [bytes([n]) * (n * 37) for n in range(60)]
            for message in messages:
                push.send(message)
            assert [pull.recv() for _ in messages] == messages
        finally:
            push.close(linger=0)
            pull.close(linger=0)
