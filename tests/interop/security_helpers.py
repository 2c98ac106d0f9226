"""Pieces the security tests share: a recording TCP proxy, a ZMTP frame splitter for
what it recorded, and the protocol error codes (written out here, not borrowed from
mqsdk, so the tests check mqsdk's values)."""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from typing import Any

import zmq

from tests.interop.helpers import WAIT, Monitor

ZMTP_CRYPTOGRAPHIC = 0x11000001
ZMTP_MECHANISM_MISMATCH = 0x11000002
ZMTP_UNEXPECTED_COMMAND = 0x10000001
ZMTP_INVALID_SEQUENCE = 0x10000002
ZMTP_MALFORMED_COMMAND_UNSPECIFIED = 0x10000011
ZMTP_MALFORMED_COMMAND_MESSAGE = 0x10000012
ZMTP_MALFORMED_COMMAND_HELLO = 0x10000013
ZMTP_MALFORMED_COMMAND_INITIATE = 0x10000014

AUTH = zmq.EVENT_HANDSHAKE_FAILED_AUTH
PROTOCOL = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL


class RecordingProxy:
    """Forwards one TCP connection at a time to ``target`` and records both directions."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.to_server = bytearray()
        self.to_client = bytearray()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ, None)
        pairs: dict[socket.socket, tuple[socket.socket, bytearray]] = {}
        while not self._stop:
            for key, _ in selector.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self.listener:
                    client, _ = self.listener.accept()
                    server = socket.create_connection(self.target)
                    pairs[client] = (server, self.to_server)
                    pairs[server] = (client, self.to_client)
                    selector.register(client, selectors.EVENT_READ)
                    selector.register(server, selectors.EVENT_READ)
                    continue
                other, record = pairs[sock]
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    for end in (sock, other):
                        with contextlib.suppress(KeyError, ValueError):
                            selector.unregister(end)
                        end.close()
                    continue
                with self._lock:
                    record += data
                with contextlib.suppress(OSError):
                    other.sendall(data)
        for sock in list(pairs):
            sock.close()
        selector.close()

    def recorded(self) -> tuple[bytes, bytes]:
        with self._lock:
            return bytes(self.to_server), bytes(self.to_client)

    def close(self) -> None:
        self._stop = True
        self._thread.join(WAIT)
        self.listener.close()


def split_frames(stream: bytes) -> list[tuple[int, bytes]]:
    """(flags, body) of every complete ZMTP frame after the 64-byte greeting."""
    frames = []
    pos = 64
    while pos + 2 <= len(stream):
        flags = stream[pos]
        if flags & 0x02:
            if pos + 9 > len(stream):
                break
            size = struct.unpack(">Q", stream[pos + 1 : pos + 9])[0]
            start = pos + 9
        else:
            size = stream[pos + 1]
            start = pos + 2
        if start + size > len(stream):
            break
        frames.append((flags, stream[start : start + size]))
        pos = start + size
    return frames


def curve_messages(stream: bytes) -> int:
    """How many CURVE MESSAGE boxes a recorded direction holds (in message frames)."""
    return sum(
        1 for flags, body in split_frames(stream) if not flags & 0x04 and body[:8] == b"\x07MESSAGE"
    )


def wait_event(monitor: Monitor, event: int) -> int:
    """The value of the next ``event`` (bounded wait)."""
    return int(monitor.wait_for(event)["value"])


def monitored(sock: Any, sockets: Any) -> Monitor:
    return sockets.monitor(sock)  # type: ignore[no-any-return]
