"""Bad input on ws://: every malformed upgrade or frame costs the peer its connection
(with a monitor event), never the socket: it goes on serving the next peer."""

from __future__ import annotations

import base64
import contextlib
import os
import select
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from mqsdk_transport_ws import accept_key
from ws_wire import read_until_closed, upgrade_request, ws_frame

import mqsdk
from mqsdk.monitor import Event
from mqsdk.testing.helpers import WAIT, EventLog, recording_events

READY_PUSH = b"\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH"


@pytest.fixture
def events(ctx: mqsdk.Context) -> Iterator[EventLog]:
    with recording_events(ctx) as log:
        yield log


def _server(ctx: mqsdk.Context, **options: object) -> tuple[mqsdk.Socket, tuple[str, int]]:
    pull = ctx.socket(mqsdk.PULL)
    pull.linger = 0
    pull.rcvtimeo = int(WAIT * 1000)
    for name, value in options.items():
        pull.set(name, value)
    pull.bind("ws://127.0.0.1:*/zmq")
    host_port = pull.last_endpoint.decode().removeprefix("ws://").partition("/")[0]
    host, _, port = host_port.rpartition(":")
    return pull, (host, int(port))


def _still_serves(ctx: mqsdk.Context, server: mqsdk.Socket) -> None:
    push = ctx.socket(mqsdk.PUSH)
    push.linger = 0
    push.connect(server.last_endpoint.decode())
    push.send(b"still serving")
    assert server.recv() == b"still serving"
    push.close()


def _upgraded(address: tuple[str, int]) -> tuple[socket.socket, bytes]:
    """A raw client past a good upgrade; returns it and what followed the 101."""
    raw = socket.create_connection(address, timeout=WAIT)
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(upgrade_request(key=key))
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = raw.recv(4096)
        assert chunk, f"closed during the upgrade: {answer!r}"
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    assert f"Sec-WebSocket-Accept: {accept_key(key)}".encode() in head
    assert b"Sec-WebSocket-Protocol: ZWS2.0/NULL" in head
    return raw, rest


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(b"\x16\x03\x01\x02\x00" + os.urandom(300) + b"\r\n\r\n", b"400", id="tls"),
        pytest.param(b"GET / HTTP/1.0\r\n\r\n", b"400", id="http1.0"),
        pytest.param(upgrade_request("ZWS2.0/CURVE"), b"400", id="other-mechanism"),
        pytest.param(upgrade_request("chat, superchat"), b"400", id="not-zws"),
        pytest.param(upgrade_request(key="short"), b"400", id="bad-key"),
        pytest.param(
            upgrade_request().replace(b"Version: 13", b"Version: 8"), b"426", id="old-websocket"
        ),
        pytest.param(
            upgrade_request().replace(b"Upgrade: websocket\r\n", b""), b"400", id="no-upgrade"
        ),
        pytest.param(upgrade_request().replace(b"Host: 127.0.0.1\r\n", b""), b"400", id="no-host"),
        pytest.param(upgrade_request(extra="Host: 127.0.0.2\r\n"), b"400", id="two-hosts"),
        pytest.param(
            upgrade_request().replace(b"\r\n\r\n", b"\r\nX-Padding: " + b"p" * 9000 + b"\r\n\r\n"),
            b"400",
            id="huge-head",
        ),
    ],
)
def test_a_bad_upgrade_is_refused(
    ctx: mqsdk.Context, events: EventLog, request_bytes: bytes, status: bytes
) -> None:
    server, address = _server(ctx)
    with socket.create_connection(address, timeout=WAIT) as raw:
        raw.sendall(request_bytes)
        answer = read_until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    events.wait(server, Event.HANDSHAKE_FAILED_NO_DETAIL)
    events.wait(server, Event.DISCONNECTED)
    _still_serves(ctx, server)


def test_endless_head_without_end_is_cut(ctx: mqsdk.Context, events: EventLog) -> None:
    """Header bytes that never end: refused once past the limit, not buffered forever."""
    server, address = _server(ctx)
    with socket.create_connection(address, timeout=WAIT) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nX-Endless: ")
        try:
            for _ in range(64):
                raw.sendall(b"a" * 1024)
        except (BrokenPipeError, ConnectionResetError):
            pass
        read_until_closed(raw)
    events.wait(server, Event.HANDSHAKE_FAILED_NO_DETAIL)
    _still_serves(ctx, server)


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param(ws_frame(0x2, b"\x02" + READY_PUSH, masked=False), id="unmasked"),
        pytest.param(ws_frame(0x1, b"\x02" + READY_PUSH), id="text"),
        pytest.param(ws_frame(0x2, b""), id="no-flag-byte"),
        pytest.param(ws_frame(0x2, b"\x07" + READY_PUSH), id="bad-flag"),
        pytest.param(ws_frame(0x0, b"\x02" + READY_PUSH), id="stray-continuation"),
        pytest.param(ws_frame(0x9, b"p" * 126), id="long-ping"),
        pytest.param(ws_frame(0x3, b"\x00"), id="reserved-opcode"),
        pytest.param(bytes((0xC2, 0x81)) + b"\0" * 5, id="rsv-bit"),
        pytest.param(bytes((0x82, 0xFF)) + b"\xff" * 8 + b"\0" * 4, id="length-top-bit"),
        pytest.param(os.urandom(512), id="garbage"),
    ],
)
def test_a_bad_frame_drops_the_connection(
    ctx: mqsdk.Context, events: EventLog, frames: bytes
) -> None:
    server, address = _server(ctx)
    raw, _ = _upgraded(address)
    with raw:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            raw.sendall(frames)
        read_until_closed(raw)
    events.wait(server, Event.DISCONNECTED)
    _still_serves(ctx, server)


def test_an_announced_huge_message_is_refused_before_it_arrives(
    ctx: mqsdk.Context, events: EventLog
) -> None:
    """A frame header announcing more than maxmsgsize: dropped at the header, so the
    peer cannot make the socket buffer what it announces."""
    server, address = _server(ctx, maxmsgsize=1000)
    raw, _ = _upgraded(address)
    with raw:
        raw.sendall(ws_frame(0x2, b"\x02" + READY_PUSH))
        key = os.urandom(4)
        raw.sendall(bytes((0x82, 0xFF)) + (1 << 40).to_bytes(8, "big") + key + b"\0" * 1000)
        read_until_closed(raw)
    events.wait(server, Event.DISCONNECTED)
    _still_serves(ctx, server)


def test_browser_style_traffic_is_understood(ctx: mqsdk.Context, events: EventLog) -> None:
    """What a browser may do and a strict reading of ZWS must take: a fragmented
    message, a ping between fragments (answered with a pong), then a close (answered)."""
    server, address = _server(ctx)
    raw, rest = _upgraded(address)
    with raw:
        raw.sendall(ws_frame(0x2, b"\x02" + READY_PUSH))
        raw.sendall(ws_frame(0x2, b"\x00frag", fin=False))
        raw.sendall(ws_frame(0x9, b"are you there"))
        raw.sendall(ws_frame(0x0, b"mented", fin=False) + ws_frame(0x0, b" message"))
        assert server.recv() == b"fragmented message"
        raw.sendall(ws_frame(0x8, b"\x03\xe8"))
        answer = rest + read_until_closed(raw)
    assert b"\x8a\x0dare you there" in answer  # the pong, unmasked from a server
    assert answer.endswith(b"\x88\x02\x03\xe8")  # the close, echoed
    events.wait(server, Event.DISCONNECTED)


class _FakeServer:
    """A listening TCP socket answering one upgrade request with ``answer(key)``."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/"

    def answer_once(self, make_answer: object) -> bytes:
        self.listener.settimeout(WAIT)
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(WAIT)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                assert chunk, "the client closed before its request was complete"
                request += chunk
            key = next(
                line.split(b":", 1)[1].strip().decode()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            assert callable(make_answer)
            conn.sendall(make_answer(key))
            read_until_closed(conn)
        return request


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda key: b"HTTP/1.1 404 Not Found\r\n\r\n", id="404"),
        pytest.param(
            lambda key: (
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
                b"\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
                b"Sec-WebSocket-Protocol: ZWS2.0/NULL\r\n\r\n"
            ),
            id="wrong-accept",
        ),
        pytest.param(
            lambda key: (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
                f"\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
            ).encode(),
            id="no-subprotocol",
        ),
        pytest.param(lambda key: os.urandom(100) + b"\r\n\r\n", id="garbage"),
    ],
)
def test_a_client_refuses_a_bad_answer(
    ctx: mqsdk.Context, events: EventLog, answer: object
) -> None:
    fake = _FakeServer()
    push = ctx.socket(mqsdk.PUSH)
    push.linger = 0
    try:
        push.connect(fake.endpoint)
        request = fake.answer_once(answer)
        assert b"\r\nSec-WebSocket-Protocol: ZWS2.0/NULL\r\n" in request
        assert request.startswith(b"GET / HTTP/1.1\r\n")
        events.wait(push, Event.HANDSHAKE_FAILED_NO_DETAIL)
        events.wait(push, Event.CONNECT_RETRIED)  # not fatal: it tries again, as libzmq
    finally:
        push.close()
        fake.listener.close()


def test_an_announced_huge_message_is_not_allocated_up_front(
    ctx: mqsdk.Context, events: EventLog
) -> None:
    """Without maxmsgsize, a frame announcing 2**50 bytes is read as its bytes arrive;
    the peer's close ends it. (That memory follows what was sent, not what was
    announced, is measured in test_zws_stream.py.)"""
    server, address = _server(ctx)
    raw, _ = _upgraded(address)
    with raw:
        raw.sendall(ws_frame(0x2, b"\x02" + READY_PUSH))
        key = os.urandom(4)
        raw.sendall(bytes((0x82, 0xFF)) + (1 << 50).to_bytes(8, "big") + key + b"\0" * 1_000_000)
    events.wait(server, Event.DISCONNECTED)
    _still_serves(ctx, server)


def _upgrade_answer(address: tuple[str, int], extra: str) -> bytes:
    with socket.create_connection(address, timeout=WAIT) as raw:
        raw.sendall(upgrade_request(extra=extra))
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = raw.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


def test_ws_allowed_origins_keeps_other_sites_pages_out(
    ctx: mqsdk.Context, events: EventLog
) -> None:
    """With ws_allowed_origins set, a browser page from another origin gets 403 (its
    browser sends the Origin header, and the page cannot change it); a listed origin
    and a client that is not a browser (no Origin at all) get in."""
    server, address = _server(
        ctx, ws_allowed_origins=b"http://127.0.0.1:8000, https://Good.example"
    )
    refused = _upgrade_answer(address, "Origin: http://evil.example\r\n")
    assert refused.startswith(b"HTTP/1.1 403 "), refused[:200]
    events.wait(server, Event.HANDSHAKE_FAILED_NO_DETAIL)
    two = _upgrade_answer(
        address, "Origin: https://good.example\r\nOrigin: http://evil.example\r\n"
    )
    assert two.startswith(b"HTTP/1.1 403 "), two[:200]
    for extra in ("Origin: https://good.example\r\n", "Origin: http://127.0.0.1:8000\r\n", ""):
        answer = _upgrade_answer(address, extra)
        assert answer.startswith(b"HTTP/1.1 101 "), (extra, answer[:200])
    _still_serves(ctx, server)


def test_any_origin_is_accepted_by_default_as_in_libzmq(ctx: mqsdk.Context) -> None:
    _server_socket, address = _server(ctx)
    answer = _upgrade_answer(address, "Origin: http://elsewhere.example\r\n")
    assert answer.startswith(b"HTTP/1.1 101 "), answer[:200]


_PING_FLOODER = """
import base64, os, socket, sys, threading, time
sys.path[:0] = sys.argv[3:]
from mqsdk_transport_ws.zws import mask_bytes

def frame(opcode, payload):
    key = os.urandom(4)
    return bytes((0x80 | opcode, 0x80 | len(payload))) + key + mask_bytes(payload, key)

raw = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
key = base64.b64encode(os.urandom(16)).decode()
raw.sendall((
    "GET /zmq HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
    f"Sec-WebSocket-Key: {key}\\r\\nSec-WebSocket-Protocol: ZWS2.0/NULL\\r\\n"
    "Sec-WebSocket-Version: 13\\r\\n\\r\\n"
).encode())
raw.sendall(frame(0x2, b"\\x02\\x05READY\\x0bSocket-Type\\x00\\x00\\x00\\x04PUSH"))

def read_pongs():  # so that the server's writes never block: only reads can stall it
    while raw.recv(1 << 20):
        pass

threading.Thread(target=read_pongs, daemon=True).start()
pings = frame(0x9, b"p" * 100) * 8192
raw.sendall(pings)
print("flooding", flush=True)
end = time.monotonic() + 30
while time.monotonic() < end:
    raw.sendall(pings)
"""


def test_a_ping_flood_does_not_starve_the_sockets_other_peers(ctx: mqsdk.Context) -> None:
    """A peer that keeps the connection full of pings (reading its pongs) must not keep
    the socket's reader for itself: another peer's message gets through meanwhile."""
    server, (host, port) = _server(ctx)
    source_paths = [path for path in sys.path if path]
    flooder = subprocess.Popen(
        [sys.executable, "-c", _PING_FLOODER, host, str(port), *source_paths],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert flooder.stdout is not None
        ready, _, _ = select.select([flooder.stdout], [], [], WAIT)
        assert ready, "the flooder did not start"
        assert flooder.stdout.readline().strip() == "flooding"
        push = ctx.socket(mqsdk.PUSH)
        push.linger = 0
        push.connect(server.last_endpoint.decode())
        push.send(b"while the other peer floods")
        assert server.recv() == b"while the other peer floods"
        assert flooder.poll() is None, "the flood ended before the message came through"
    finally:
        flooder.kill()
        flooder.wait(WAIT)
        if flooder.stdout is not None:
            flooder.stdout.close()
