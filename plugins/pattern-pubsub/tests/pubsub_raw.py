"""A ZMTP peer written by hand over a plain socket, for wire-level pub-sub checks.

Independent of :mod:`mqsdk.zmtp` on purpose: it checks what mqsdk (or libzmq) puts on
the wire, so it must not share mqsdk's codec. Everything is NULL mechanism; every read
is bounded by a timeout.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any, NamedTuple

TIMEOUT = 5.0


def greeting(minor: int = 1) -> bytes:
    """A 64-byte ZMTP 3.<minor> NULL greeting (as-server 0)."""
    return b"\xff" + bytes(8) + b"\x7f" + bytes((3, minor)) + b"NULL".ljust(20, b"\0") + bytes(32)


def command(name: bytes, data: bytes = b"") -> bytes:
    body = bytes((len(name),)) + name + data
    if len(body) <= 255:
        return bytes((0x04, len(body))) + body
    return b"\x06" + struct.pack(">Q", len(body)) + body


def ready(socket_type: bytes) -> bytes:
    name = b"Socket-Type"
    return command(
        b"READY", bytes((len(name),)) + name + struct.pack(">I", len(socket_type)) + socket_type
    )


def message(*frames: bytes) -> bytes:
    out = []
    last = len(frames) - 1
    for index, body in enumerate(frames):
        more = 1 if index < last else 0
        if len(body) <= 255:
            out.append(bytes((more, len(body))) + body)
        else:
            out.append(bytes((more | 2,)) + struct.pack(">Q", len(body)) + body)
    return b"".join(out)


class Item(NamedTuple):
    """A decoded wire item: ``kind`` is "cmd" (name, data) or "msg" (frames)."""

    kind: str
    name: bytes
    frames: tuple[bytes, ...]
    raw: bytes


class RawPeer:
    """One ZMTP connection spoken by hand."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.peer_greeting = b""
        self.peer_ready = b""
        self._partial: list[bytes] = []
        self._partial_raw = b""

    # -- connecting -------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        address: str,
        *,
        minor: int = 1,
        socket_type: bytes = b"SUB",
        rcvbuf: int | None = None,
    ) -> RawPeer:
        """Connect to ``tcp://host:port`` or ``ipc://path`` and do the NULL handshake.

        ``rcvbuf`` shrinks SO_RCVBUF first (a slow subscriber that fills up quickly).
        """
        if address.startswith("tcp://"):
            host, port = address[6:].rsplit(":", 1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target: Any = (host, int(port))
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = address[6:]
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(TIMEOUT)
        sock.connect(target)
        peer = cls(sock)
        peer.handshake(minor, socket_type)
        return peer

    def handshake(self, minor: int, socket_type: bytes) -> None:
        self.sock.settimeout(TIMEOUT)
        self.sock.sendall(greeting(minor))
        self.peer_greeting = self._read_exactly(64)
        self.sock.sendall(ready(socket_type))
        item = self.read_item()
        assert item.kind == "cmd" and item.name == b"READY", item
        self.peer_ready = item.raw

    # -- reading ----------------------------------------------------------------------

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("nothing arrived in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError("nothing arrived in time") from None
        if not chunk:
            raise EOFError("the peer closed the connection")
        self.buf += chunk

    def _read_exactly(self, size: int, timeout: float = TIMEOUT) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < size:
            self._fill(deadline)
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def _parse_frame(self) -> tuple[int, bytes, bytes] | None:
        buf = self.buf
        if len(buf) < 2:
            return None
        flags = buf[0]
        if flags & 2:
            if len(buf) < 9:
                return None
            size = struct.unpack(">Q", buf[1:9])[0]
            start = 9
        else:
            size = buf[1]
            start = 2
        if len(buf) < start + size:
            return None
        raw = buf[: start + size]
        self.buf = buf[start + size :]
        return flags, buf[start : start + size], raw

    def read_item(self, timeout: float = TIMEOUT) -> Item:
        """The next command or whole message."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse_frame()
            if parsed is None:
                self._fill(deadline)
                continue
            flags, body, raw = parsed
            if flags & 4:
                length = body[0]
                return Item("cmd", body[1 : 1 + length], (body[1 + length :],), raw)
            self._partial.append(body)
            self._partial_raw += raw
            if not flags & 1:
                frames, self._partial = tuple(self._partial), []
                raw_all, self._partial_raw = self._partial_raw, b""
                return Item("msg", b"", frames, raw_all)

    def read_message(self, timeout: float = TIMEOUT) -> tuple[bytes, ...]:
        """The next whole message, skipping commands (PING and such)."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.read_item(max(deadline - time.monotonic(), 0.001))
            if item.kind == "msg":
                return item.frames

    def nothing_within(self, timeout: float) -> list[Item]:
        """Items that arrive within ``timeout`` (used only to show absence)."""
        items: list[Item] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                items.append(self.read_item(max(deadline - time.monotonic(), 0.001)))
            except TimeoutError:
                return items

    # -- writing ----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


class RawListener:
    """Accepts raw ZMTP connections on a loopback tcp port or an ipc path."""

    def __init__(self, ipc_path: str | None = None) -> None:
        if ipc_path is None:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.endpoint = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(ipc_path)
            self.endpoint = f"ipc://{ipc_path}"
        self.sock.listen(8)
        self.sock.settimeout(TIMEOUT)
        self.accepted: list[RawPeer] = []

    def accept(self, *, minor: int = 1, socket_type: bytes = b"PUB") -> RawPeer:
        conn, _ = self.sock.accept()
        peer = RawPeer(conn)
        self.accepted.append(peer)
        peer.handshake(minor, socket_type)
        return peer

    def close(self) -> None:
        """Close the listening socket and every connection it accepted."""
        for peer in self.accepted:
            peer.close()
        self.sock.close()
