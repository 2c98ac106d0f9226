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

from mqsdk.testing.rawzmtp import WAIT, RawPeer, command, frame, greeting, ready

__all__ = ["WAIT", "Listener", "Peer", "command", "frame", "greeting", "radio_message", "ready"]


def radio_message(group: bytes, body: bytes) -> bytes:
    """What a libzmq RADIO writes: group frame (MORE) then body frame."""
    return frame(group, more=True) + frame(body)


class Peer(RawPeer):
    """One hand-driven ZMTP connection (tcp), read frame by frame with its header, and
    written with bytes built by hand."""

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
        return bool(self.buffer) or bool(select.select([self.sock], [], [], timeout)[0])

    def closed_by_peer(self, timeout: float = 0.02) -> bool:
        """True once the peer closed the connection (looks for 20 ms, discards data)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536) == b""
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
        finally:
            self.sock.settimeout(WAIT)

    def send(self, data: bytes) -> None:  # type: ignore[override]  # bytes, not frames
        self.sock.sendall(data)


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
