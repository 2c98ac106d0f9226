"""The ``ZWS2.0`` subprotocol (no mechanism), which is all a browser's WebSocket API can
ask for: the routing-id message stands in for READY, each way, and a socket answers it
only when its mechanism is NULL."""

from __future__ import annotations

import socket

import pytest
from ws_wire import read_until_closed, upgrade_request, ws_frame

import mqsdk
from mqsdk.monitor import Event
from mqsdk.testing.helpers import WAIT, recording_events


def _connect(sock: mqsdk.Socket, protocols: str) -> tuple[socket.socket, bytes]:
    host_port = sock.last_endpoint.decode().removeprefix("ws://").partition("/")[0]
    host, _, port = host_port.rpartition(":")
    raw = socket.create_connection((host, int(port)), timeout=WAIT)
    raw.sendall(upgrade_request(protocols))
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = raw.recv(4096)
        assert chunk, f"closed during the upgrade: {answer!r}"
        answer += chunk
    return raw, answer


def _messages(raw: socket.socket, count: int, data: bytes) -> list[bytes]:
    """``count`` unmasked binary frames' payloads (flag byte included), starting with
    ``data`` (what came with the 101 answer)."""
    payloads: list[bytes] = []
    while len(payloads) < count:
        while len(data) < 2 or len(data) < 2 + (data[1] & 0x7F):
            chunk = raw.recv(4096)
            assert chunk, f"closed after {payloads!r}"
            data += chunk
        assert data[0] == 0x82 and data[1] < 126, data[:2]
        size = data[1]
        payloads.append(data[2 : 2 + size])
        data = data[2 + size :]
    return payloads


def test_a_router_sees_the_routing_id_message(ctx: mqsdk.Context) -> None:
    router = ctx.socket(mqsdk.ROUTER)
    router.linger = 0
    router.rcvtimeo = int(WAIT * 1000)
    router.routing_id = b"the-router"
    router.bind("ws://127.0.0.1:*")
    raw, answer = _connect(router, "ZWS2.0")
    with raw:
        assert b"\r\nSec-WebSocket-Protocol: ZWS2.0\r\n" in answer
        raw.sendall(ws_frame(0x2, b"\x00browser-1"))  # our routing id
        raw.sendall(ws_frame(0x2, b"\x01part one") + ws_frame(0x2, b"\x00part two"))
        assert router.recv_multipart() == [b"browser-1", b"part one", b"part two"]
        router.send_multipart([b"browser-1", b"reply"])
        # The router's routing id (its READY's Identity) comes first, then the reply.
        rest = answer.partition(b"\r\n\r\n")[2]
        assert _messages(raw, 2, rest) == [b"\x00the-router", b"\x00reply"]


def test_no_mechanism_only_for_null(ctx: mqsdk.Context) -> None:
    """A PLAIN server refuses ZWS2.0, which would skip its authentication."""
    server = ctx.socket(mqsdk.PULL)
    server.linger = 0
    server.plain_server = 1
    server.bind("ws://127.0.0.1:*")
    with recording_events(ctx) as events:
        raw, answer = _connect(server, "ZWS2.0")
        with raw:
            assert answer.startswith(b"HTTP/1.1 400 "), answer
            read_until_closed(raw)
        events.wait(server, Event.HANDSHAKE_FAILED_NO_DETAIL)


def test_the_client_order_decides(ctx: mqsdk.Context) -> None:
    """libzmq's client offers "ZWS2.0/NULL,ZWS2.0": the first one it can have wins."""
    server = ctx.socket(mqsdk.PULL)
    server.linger = 0
    server.bind("ws://127.0.0.1:*")
    for offered, chosen in (
        ("ZWS2.0/NULL,ZWS2.0", "ZWS2.0/NULL"),
        ("ZWS2.0, ZWS2.0/NULL", "ZWS2.0"),
    ):
        raw, answer = _connect(server, offered)
        raw.close()
        assert f"\r\nSec-WebSocket-Protocol: {chosen}\r\n".encode() in answer, answer


def test_a_command_without_mechanism_drops_the_connection(ctx: mqsdk.Context) -> None:
    server = ctx.socket(mqsdk.PULL)
    server.linger = 0
    server.bind("ws://127.0.0.1:*")
    with recording_events(ctx) as events:
        raw, _ = _connect(server, "ZWS2.0")
        with raw:
            raw.sendall(ws_frame(0x2, b"\x00") + ws_frame(0x2, b"\x02\x05HELLO"))
            read_until_closed(raw)
        events.wait(server, Event.DISCONNECTED)


@pytest.mark.parametrize("verb", ["bind", "connect"])
def test_stream_sockets_are_refused_at_bind_and_connect(verb: str) -> None:
    """ZWS carries only ZMTP: a STREAM socket's raw bytes would arrive garbled, so it
    is refused up front (ENOCOMPATPROTO), not left to make such connections."""
    ctx = mqsdk.Context()
    try:
        stream = ctx.socket(mqsdk.STREAM)
        stream.linger = 0
        with pytest.raises(mqsdk.MQError, match="only ZMTP") as caught:
            getattr(stream, verb)(
                "ws://127.0.0.1:5555/" if verb == "connect" else "ws://127.0.0.1:*/"
            )
        assert caught.value.errno == mqsdk.ENOCOMPATPROTO
    finally:
        ctx.destroy(linger=0)
