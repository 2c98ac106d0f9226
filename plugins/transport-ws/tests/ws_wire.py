"""Raw WebSocket bytes for the ws tests, written out by hand (not with the plugin's own
encoder) so a test checks the plugin against RFC 6455, not against itself."""

from __future__ import annotations

import base64
import os
import select
import socket
import time

from mqsdk_transport_ws.zws import mask_bytes

from mqsdk.testing.helpers import WAIT


def ws_frame(opcode: int, payload: bytes, *, masked: bool = True, fin: bool = True) -> bytes:
    """A WebSocket frame as a client (``masked``, the default) or a server sends it."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    bit = 0x80 if masked else 0
    if size < 126:
        head = bytes((first, bit | size))
    elif size < 65536:
        head = bytes((first, bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, bit | 127)) + size.to_bytes(8, "big")
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + mask_bytes(payload, key)


def upgrade_request(
    protocol: str = "ZWS2.0/NULL", key: str | None = None, extra: str = ""
) -> bytes:
    """A client's HTTP upgrade to ``/zmq`` asking for ``protocol``."""
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /zmq HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Protocol: {protocol}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded: fails after WAIT)."""
    received = b""
    deadline = time.monotonic() + WAIT
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the server kept the connection; it sent {received[:200]!r}"
        select.select([sock], [], [], remaining)
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data
