"""A ZMTP 3.1 peer spoken by hand over TCP (NULL mechanism), for wire-level tests.

It sends what a well-behaved library never would (a multipart message to a single-frame
socket type, a wrong Socket-Type) and reads exactly what the socket under test wrote.
Independent of :mod:`mqsdk.zmtp` on purpose: it checks mqsdk's encoding, so it must not
borrow it. Every read has a deadline::

    with RawPeer.connect("tcp://127.0.0.1:5555", b"SCATTER") as peer:
        peer.send([b"a", b"b"])          # one message of two frames
        assert peer.recv() == [b"x"]     # the next whole message
"""

from __future__ import annotations

import socket
import struct
import time
from types import TracebackType

WAIT = 10.0
"""Upper bound in seconds of any read; never a timing assertion."""


GREETING_SIZE = 64


def greeting(mechanism: bytes = b"NULL", *, major: int = 3, minor: int = 1) -> bytes:
    """ff, 8 padding bytes, 7f, version, 20-byte mechanism, as-server 00, 31 zeros."""
    return (
        b"\xff"
        + bytes(8)
        + b"\x7f"
        + bytes((major, minor))
        + mechanism.ljust(20, b"\x00")
        + b"\x00"
        + bytes(31)
    )


def frame(body: bytes, *, more: bool = False, command: bool = False) -> bytes:
    """A frame, short form up to 255 bytes, long form above (a command with ``command``)."""
    flags = (0x01 if more else 0) | (0x04 if command else 0)
    if len(body) <= 255:
        return bytes((flags, len(body))) + body
    return bytes((flags | 0x02,)) + struct.pack(">Q", len(body)) + body


def command(name: bytes, data: bytes = b"") -> bytes:
    """A command frame: 04 size name-len name data (06 + 8-byte size when long)."""
    return frame(bytes((len(name),)) + name + data, command=True)


def prop(name: bytes, value: bytes) -> bytes:
    """One metadata property: name-len name value-len(4, BE) value."""
    return bytes((len(name),)) + name + struct.pack(">I", len(value)) + value


def ready(socket_type: bytes) -> bytes:
    """NULL READY: ``04 len 05 READY 0b Socket-Type 00 00 00 04 PUSH``."""
    return command(b"READY", prop(b"Socket-Type", socket_type))


def message(*frames: bytes) -> bytes:
    """The frames of one message, each but the last with MORE."""
    last = len(frames) - 1
    return b"".join(frame(f, more=i < last) for i, f in enumerate(frames))


class RawPeer:
    """One hand-driven ZMTP connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.peer_ready = b""
        """The body of the peer's READY command."""

    @classmethod
    def connect(cls, endpoint: str, socket_type: bytes) -> RawPeer:
        """Connect to a ``tcp://host:port`` endpoint and complete the handshake."""
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        peer = cls(socket.create_connection((host.strip("[]"), int(port)), timeout=WAIT))
        try:
            peer.handshake(socket_type)
        except BaseException:
            peer.close()
            raise
        return peer

    def handshake(self, socket_type: bytes) -> None:
        self.sock.sendall(greeting() + ready(socket_type))
        theirs = self.read_exactly(GREETING_SIZE)
        assert theirs[:1] == b"\xff" and theirs[10] == 3, f"not a ZMTP 3 greeting: {theirs!r}"
        flags, body = self.read_frame()
        # A command (short or long form), never with MORE: READY stands alone.
        assert flags & ~0x02 == 0x04 and body.startswith(b"\x05READY"), f"not READY: {body!r}"
        self.peer_ready = body

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"nothing more arrived within {WAIT} s (have {self.buffer[:60]!r})")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError(f"nothing more arrived (have {self.buffer[:60]!r})") from None
        if not chunk:
            raise EOFError("the peer closed the connection")
        self.buffer += chunk

    def read_exactly(self, size: int) -> bytes:
        deadline = time.monotonic() + WAIT
        while len(self.buffer) < size:
            self._fill(deadline)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_frame(self) -> tuple[int, bytes]:
        """(flags, body) of the next frame."""
        flags = self.read_exactly(1)[0]
        if flags & 0x02:
            (size,) = struct.unpack(">Q", self.read_exactly(8))
        else:
            size = self.read_exactly(1)[0]
        return flags, self.read_exactly(size)

    def recv(self) -> list[bytes]:
        """The next message's frames (commands in between are skipped)."""
        frames: list[bytes] = []
        while True:
            flags, body = self.read_frame()
            if flags & 0x04:
                continue
            frames.append(body)
            if not flags & 0x01:
                return frames

    def send(self, frames: list[bytes]) -> None:
        """One message of ``frames``."""
        self.sock.sendall(message(*frames))

    def closed_by_peer(self, timeout: float = WAIT) -> bool:
        """True once the peer closed the connection (waits up to ``timeout`` for it;
        what arrives meanwhile is kept in :attr:`buffer`)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except EOFError:
            return True
        except ConnectionError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
