"""ZMTP 3.1 spoken by hand over TCP, to check RADIO/DISH bytes on the wire.

Independent of :mod:`mqsdk.zmtp` on purpose (it checks mqsdk's encoding, so it must not
borrow it). The expected bytes are libzmq's (radio.cpp ``radio_session_t::pull_msg``
writes the group frame with MORE then the body; dish.cpp writes ``\\4JOIN`` /
``\\5LEAVE`` + group as a command body). Every read has a deadline.
"""

from __future__ import annotations

import select
import socket
import struct
import time

WAIT = 10.0
"""Upper bound in seconds for anything a test waits for; never a timing assertion."""


def greeting() -> bytes:
    return b"\xff" + bytes(8) + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + bytes(32)


def command(name: bytes, data: bytes = b"") -> bytes:
    body = bytes((len(name),)) + name + data
    return bytes((0x04, len(body))) + body


def ready(socket_type: bytes) -> bytes:
    return command(b"READY", b"\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + socket_type)


def frame(body: bytes, *, more: bool = False) -> bytes:
    if len(body) <= 255:
        return bytes((int(more), len(body))) + body
    return bytes((0x02 | int(more),)) + struct.pack(">Q", len(body)) + body


def radio_message(group: bytes, body: bytes) -> bytes:
    """What a libzmq RADIO writes: group frame (MORE) then body frame."""
    return frame(group, more=True) + frame(body)


class Peer:
    """One hand-driven ZMTP connection (tcp)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.peer_ready = b""

    @classmethod
    def connect(cls, endpoint: str, socket_type: bytes) -> Peer:
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        peer = cls(socket.create_connection((host, int(port)), timeout=WAIT))
        peer.handshake(socket_type)
        return peer

    def handshake(self, socket_type: bytes) -> None:
        self.sock.sendall(greeting() + ready(socket_type))
        peer_greeting = self.read_exactly(64)
        assert peer_greeting[:1] == b"\xff" and peer_greeting[10] == 3, peer_greeting
        flags, body = self.read_frame()
        assert flags == 0x04 and body.startswith(b"\x05READY"), body
        self.peer_ready = body

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"nothing more arrived within {WAIT} s (have {self.buf[:60]!r})")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError(f"nothing more arrived (have {self.buf[:60]!r})") from None
        if not chunk:
            raise EOFError("the peer closed the connection")
        self.buf += chunk

    def read_exactly(self, size: int) -> bytes:
        deadline = time.monotonic() + WAIT
        while len(self.buf) < size:
            self._fill(deadline)
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def read_raw_frame(self) -> bytes:
        """The next frame's bytes exactly as sent (header included)."""
        head = self.read_exactly(2)
        if head[0] & 0x02:
            rest = self.read_exactly(7)
            size = struct.unpack(">Q", head[1:] + rest)[0]
            return head + rest + self.read_exactly(size)
        return head + self.read_exactly(head[1])

    def read_frame(self) -> tuple[int, bytes]:
        raw = self.read_raw_frame()
        return raw[0], raw[9:] if raw[0] & 0x02 else raw[2:]

    def readable(self, timeout: float) -> bool:
        """True if bytes are waiting (buffered, or on the socket within ``timeout`` s)."""
        return bool(self.buf) or bool(select.select([self.sock], [], [], timeout)[0])

    def closed_by_peer(self) -> bool:
        """True once the peer closed the connection (looks for 20 ms, discards data)."""
        self.sock.settimeout(0.02)
        try:
            return self.sock.recv(65536) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(WAIT)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


class Listener:
    """A loopback TCP listener that accepts hand-driven peers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(WAIT)
        self.endpoint = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.peers: list[Peer] = []

    def accept(self, socket_type: bytes) -> Peer:
        conn, _ = self.sock.accept()
        peer = Peer(conn)
        self.peers.append(peer)
        peer.handshake(socket_type)
        return peer

    def close(self) -> None:
        for peer in self.peers:
            peer.close()
        self.sock.close()
