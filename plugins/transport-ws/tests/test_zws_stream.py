"""The ZWS translator on its own, over a fake socket that takes a few bytes at a time or
none: what the kernel writes comes out on the other side byte for byte, whatever the
partial writes, and a send never reports as written what is still queued."""

from __future__ import annotations

import errno
import itertools
import os
import re
import tracemalloc
from collections.abc import Iterator

import pytest
from mqsdk_transport_ws.zws import ZwsStream, accept_key, mask_bytes
from ws_wire import ws_frame


def _greeting(mechanism: bytes = b"NULL", as_server: bool = False) -> bytes:
    return (
        b"\xff" + b"\0" * 8 + b"\x7f\x03\x01" + mechanism.ljust(20, b"\0")
        + (b"\x01" if as_server else b"\x00") + b"\0" * 31
    )  # fmt: skip


def _zmtp(flags: int, body: bytes) -> bytes:
    if len(body) > 255:
        return bytes((flags | 0x02,)) + len(body).to_bytes(8, "big") + body
    return bytes((flags, len(body))) + body


READY = _zmtp(0x04, b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PAIR")
TRAFFIC = [
    READY,
    _zmtp(0x00, b""),
    _zmtp(0x01, b"a"),
    _zmtp(0x01, b"b" * 255),
    _zmtp(0x00, b"c" * 256),
    _zmtp(0x00, bytes(range(256)) * 300),  # 76800: a 64-bit WebSocket length
    _zmtp(0x04, b"\x05HELLO" + b"h" * 2000),  # a big command is streamed, not collected
    _zmtp(0x00, b"d" * 70_000),
]


class FakeSocket(ZwsStream):
    """Raw I/O in memory; each write takes the next budget's bytes (0: would block)."""

    def __init__(self, *, client: bool, budgets: Iterator[int], maxmsgsize: int = -1) -> None:
        self.zws_setup(client=client, host="127.0.0.1:1", path="/p", maxmsgsize=maxmsgsize)
        self.wire = bytearray()  # what it wrote
        self.incoming = bytearray()  # what it will read
        self.budgets = budgets

    def raw_write(self, views: list[memoryview]) -> int:
        budget = next(self.budgets)
        if not budget:
            raise BlockingIOError
        data = b"".join(views)[:budget]
        self.wire += data
        return len(data)

    def raw_recv_into(self, view: memoryview) -> int:
        if not self.incoming:
            raise BlockingIOError
        n = min(len(view), len(self.incoming), 5000)
        view[:n] = self.incoming[:n]
        del self.incoming[:n]
        return n


def _kernel_writes(sock: FakeSocket, pieces: list[bytes]) -> None:
    """Write ``pieces`` as the engine does: drop what send reports, offer the rest
    again (after a would-block too), sometimes joined, sometimes as a list."""
    pending = [memoryview(p) for p in pieces]
    for turn in itertools.count():
        if not pending:
            return
        assert turn < 100_000, "the translator stopped taking bytes"
        try:
            if turn % 3 == 0:
                sent = sock.zws_send_views([b"".join(pending)])
            else:
                sent = sock.zws_send_views(pending[:7])
        except BlockingIOError:
            continue
        while sent:
            take = min(sent, len(pending[0]))
            sent -= take
            pending[0] = pending[0][take:]
            if not pending[0]:
                pending.pop(0)


def _kernel_reads(sock: FakeSocket) -> bytes:
    """Read as the engine does, coming back while the fd would still be readable (a
    read may stop early to let other connections have their turn)."""
    received = bytearray()
    buffer = bytearray(3000)
    while True:
        try:
            n = sock.zws_recv_into(buffer)
        except BlockingIOError:
            if sock.incoming:
                continue
            return bytes(received)
        if n == 0:
            return bytes(received)
        received += buffer[:n]


@pytest.mark.parametrize("budgets", [[1 << 20], [1, 0, 3, 7, 0, 0, 64, 1000, 5], [2, 9, 0, 4096]])
def test_client_to_server_and_back_under_partial_writes(budgets: list[int]) -> None:
    client = FakeSocket(client=True, budgets=itertools.cycle(budgets))
    server = FakeSocket(client=False, budgets=itertools.cycle(budgets))
    _kernel_writes(server, [_greeting()])  # the server's kernel speaks first: no bytes
    assert not server.wire

    _kernel_writes(client, [_greeting(), *TRAFFIC])
    assert client.wire.startswith(b"GET /p HTTP/1.1\r\nHost: 127.0.0.1:1\r\n")
    server.incoming += client.wire
    got = _kernel_reads(server)
    assert got[:64] == _greeting()[:11] + b"\x00" + _greeting()[12:]  # ZMTP 3.0, as ZWS
    assert got[64:] == b"".join(TRAFFIC)

    _kernel_writes(server, TRAFFIC)
    assert server.wire.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    client.incoming += server.wire
    got = _kernel_reads(client)
    assert got[64:] == b"".join(TRAFFIC)


def test_heartbeats_become_websocket_pings_and_pongs() -> None:
    client = FakeSocket(client=True, budgets=itertools.repeat(1 << 20))
    server = FakeSocket(client=False, budgets=itertools.repeat(1 << 20))
    _kernel_writes(server, [_greeting()])
    ping = _zmtp(0x04, b"\x04PING\x00\x64ctx")  # TTL 10 s, context "ctx"
    _kernel_writes(client, [_greeting(), READY, ping])
    server.incoming += client.wire
    assert _kernel_reads(server)[64:] == READY  # the ping is answered, not handed over
    # The server answered with a pong after its 101 (no kernel output needed).
    client.incoming += server.wire
    assert _kernel_reads(client)[64:] == _zmtp(0x04, b"\x04PONGctx")


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 2047, 2048, 2049, 10_001])
def test_mask_bytes_matches_the_rfc_definition(size: int) -> None:
    """RFC 6455 5.3: octet i is XORed with octet i MOD 4 of the key (from ``phase``)."""
    data = bytes((i * 7 + 3) % 256 for i in range(size))
    key = b"\x9a\x01\xff\x5c"
    for phase in range(4):
        expected = bytes(b ^ key[(i + phase) % 4] for i, b in enumerate(data))
        assert mask_bytes(data, key, phase) == expected
        assert mask_bytes(memoryview(data), key, phase) == expected


# -- hostile peers: what one costs the other side ----------------------------------------


def _request(extra: str = "", host: str = "Host: 127.0.0.1:1\r\n") -> bytes:
    return (
        f"GET /p HTTP/1.1\r\n{host}Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Protocol: ZWS2.0/NULL\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


def _opened(*, client: bool, maxmsgsize: int = -1, writes: int = 1 << 20) -> FakeSocket:
    """A connection past its upgrade and READY, as seen by the kernel on one side."""
    sock = FakeSocket(client=client, budgets=itertools.repeat(writes), maxmsgsize=maxmsgsize)
    if client:
        _kernel_writes(sock, [_greeting()])
        key = re.search(rb"Sec-WebSocket-Key: (\S+)", bytes(sock.wire))
        assert key is not None
        sock.incoming += (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key[1])}\r\n"
            "Sec-WebSocket-Protocol: ZWS2.0/NULL\r\n\r\n"
        ).encode()
    else:
        _kernel_writes(sock, [_greeting()])
        sock.incoming += _request()
    sock.incoming += ws_frame(0x2, b"\x02" + READY[2:], masked=not client)
    assert _kernel_reads(sock)[64:] == READY
    sock.wire.clear()
    return sock


@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_an_announced_huge_frame_allocates_only_what_arrived(client: bool) -> None:
    """14 bytes announcing 2**40 must not cost the receiver more than the bytes that
    came (it once allocated 16 MiB ahead), on either side of the connection."""
    sock = _opened(client=client)
    masked = not client  # frames from a client are masked
    head = bytes((0x82, 0xFF if masked else 0x7F)) + (1 << 40).to_bytes(8, "big")
    sock.incoming += head + (os.urandom(4) if masked else b"") + b"\x00" * 300_000
    tracemalloc.start()
    try:
        assert _kernel_reads(sock) == b""
        allocated = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert allocated < 2 * 300_000 + (1 << 20), f"{allocated} bytes for 300 kB received"


def test_maxmsgsize_refuses_a_frame_at_its_header() -> None:
    sock = _opened(client=False, maxmsgsize=1000)
    sock.incoming += bytes((0x82, 0xFF)) + (1 << 40).to_bytes(8, "big") + os.urandom(4)
    with pytest.raises(ConnectionError) as caught:
        _kernel_reads(sock)
    assert caught.value.errno == errno.EMSGSIZE


def test_a_flood_of_empty_fragments_costs_the_peer_its_connection() -> None:
    """Empty continuation frames add nothing to a message's size, so maxmsgsize never
    stops them; the fragment count does."""
    sock = _opened(client=False, maxmsgsize=1000)
    sock.incoming += ws_frame(0x2, b"\x00a", masked=True, fin=False)
    sock.incoming += ws_frame(0x0, b"", masked=True, fin=False) * 10_000
    with pytest.raises(ConnectionError, match="fragments") as caught:
        _kernel_reads(sock)
    assert caught.value.errno == errno.EPROTO


def test_a_message_in_many_real_fragments_is_still_reassembled() -> None:
    sock = _opened(client=False)
    body = os.urandom(3000 * 700)
    pieces = [body[at : at + 700] for at in range(0, len(body), 700)]  # 3000 fragments
    sock.incoming += ws_frame(0x2, b"\x00", masked=True, fin=False)
    for piece in pieces[:-1]:
        sock.incoming += ws_frame(0x0, piece, masked=True, fin=False)
    sock.incoming += ws_frame(0x0, pieces[-1], masked=True)
    assert _kernel_reads(sock) == _zmtp(0x00, body)


def test_pings_from_a_peer_that_never_reads_queue_one_pong() -> None:
    """Nothing can be written (the peer reads nothing): 10 000 pings leave one pong
    queued, not 10 000 (libzmq keeps one too; RFC 6455 allows answering the latest)."""
    sock = _opened(client=False, writes=0)
    for number in range(10_000):
        sock.incoming += ws_frame(0x9, number.to_bytes(4, "big") * 31, masked=True)
    sock.incoming += ws_frame(0x2, b"\x00after the pings", masked=True)
    assert _kernel_reads(sock) == _zmtp(0x00, b"after the pings")
    queued = sum(len(data) for data in sock._control)  # the 101 answer and a pong
    assert queued < 1024, f"{queued} bytes queued for a peer that reads nothing"
    sock.budgets = itertools.repeat(1 << 20)
    sock.incoming += ws_frame(0x2, b"\x00", masked=True)
    _kernel_reads(sock)
    assert sock.wire.startswith(b"HTTP/1.1 101 ")
    assert sock.wire.endswith(ws_frame(0x0A, (9999).to_bytes(4, "big") * 31, masked=False))
    assert sock.wire.count(b"\x8a\x7c") == 1  # one pong (124-byte payload)


def test_a_read_stops_after_a_bounded_amount_of_work() -> None:
    """Frames that give the kernel nothing (pings here) must not keep one read going
    for as long as the peer sends: the socket's other connections wait meanwhile."""
    sock = _opened(client=False)
    ping = ws_frame(0x9, b"p" * 100, masked=True)
    sock.incoming += ping * (4_000_000 // len(ping))
    with pytest.raises(BlockingIOError):
        sock.zws_recv_into(bytearray(3000))
    assert len(sock.incoming) > 3_000_000, "one call read most of the flood"


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (b"", b"\x03\xe8"),  # no code: 1000, never 1005
        (b"\x03", b"\x03\xea"),  # one byte: protocol error
        (b"\x03\xed", b"\x03\xea"),  # 1005 must not be sent: protocol error
        (b"\x03\xee", b"\x03\xea"),  # 1006 neither
        (b"\x00\x00", b"\x03\xea"),
        (b"\x0b\xb8bye", b"\x0b\xb8"),  # 3000, a registered one: echoed
        (b"\x03\xe9\xff", b"\x03\xef"),  # a reason that is not UTF-8: 1007
        (b"\x03\xe8bye", b"\x03\xe8"),
    ],
)
def test_a_close_frame_is_answered_as_rfc_6455_says(body: bytes, answer: bytes) -> None:
    sock = _opened(client=False)
    sock.incoming += ws_frame(0x8, body, masked=True)
    assert _kernel_reads(sock) == b""
    assert sock.wire == b"\x88\x02" + answer


def test_a_refused_upgrade_is_answered_once() -> None:
    """A head too long that came before the kernel's greeting: the greeting's arrival
    and the next read both find it; only one 400 may be written."""
    sock = FakeSocket(client=False, budgets=itertools.repeat(1 << 20))
    sock.incoming += b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 9000
    _kernel_reads(sock)
    with pytest.raises(ConnectionError):
        _kernel_writes(sock, [_greeting()])
    sock.incoming += b"b" * 100
    with pytest.raises(ConnectionError):
        _kernel_reads(sock)
    assert sock.wire.count(b"HTTP/1.1 400") == 1


def test_idle_connections_hold_no_read_buffer_each() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sockets = [FakeSocket(client=False, budgets=iter(())) for _ in range(200)]
        allocated = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(sockets) == 200
    assert allocated < 200 * 8192, f"{allocated // 200} bytes per idle connection"
