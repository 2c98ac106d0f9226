"""ZMTP 3.1 bytes written by hand (protocols.md 1.1, 1.4, 1.5, 1.8), for raw TCP peers.

Deliberately independent of :mod:`mqsdk.zmtp`: these tests check mqsdk's codec, so they
must not borrow it. The byte builders are :mod:`mqsdk.testing.rawzmtp`'s (re-exported
here); this module adds the socket-level reads and writes the bad-input tests use.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import time

from mqsdk.testing.rawzmtp import GREETING_SIZE, command, frame, greeting, message, prop, ready

# The byte builders are re-exported for the tests that import them from here.
__all__ = [
    "GREETING_SIZE",
    "command",
    "connection_open_after",
    "frame",
    "greeting",
    "handshake_as",
    "message",
    "ping",
    "prop",
    "read_command",
    "read_until_closed",
    "ready",
    "recv_exactly",
    "send_quietly",
]


def ping(ttl_ds: int = 0, context: bytes = b"") -> bytes:
    return command(b"PING", struct.pack(">H", ttl_ds) + context)


def recv_exactly(sock: socket.socket, size: int, timeout: float = 5.0) -> bytes:
    """Read ``size`` bytes or fail (EOF or timeout) with a clear message."""
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"EOF after {len(data)} of {size} expected bytes: {data!r}")
        data += chunk
    return data


def read_until_closed(sock: socket.socket, timeout: float = 5.0) -> tuple[bytes, str]:
    """Read everything until the peer closes; return (bytes read, "eof" | "reset").

    Fails if the connection is still open after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(
                f"the connection was not closed within {timeout} s (read so far: {data[:80]!r})"
            )
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return data, "reset"
        except OSError as exc:
            if exc.errno == errno.ECONNRESET:
                return data, "reset"
            raise
        if not chunk:
            return data, "eof"
        data += chunk


def connection_open_after(sock: socket.socket, seconds: float) -> bool:
    """True if nothing closed the connection during ``seconds`` (data read is discarded)."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return True
        except OSError:
            return False
        if not chunk:
            return False


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send, ignoring a peer that already closed (the test checks the close elsewhere)."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def read_command(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read one command frame; return (name, data)."""
    flags = recv_exactly(sock, 1)[0]
    assert flags & 0x04, f"expected a command frame, got flags {flags:#04x}"
    if flags & 0x02:
        size = struct.unpack(">Q", recv_exactly(sock, 8))[0]
    else:
        size = recv_exactly(sock, 1)[0]
    body = recv_exactly(sock, size)
    return body[1 : 1 + body[0]], body[1 + body[0] :]


def handshake_as(sock: socket.socket, socket_type: bytes) -> bytes:
    """Complete a NULL handshake as ``socket_type``; return the peer's READY frame bytes."""
    sock.sendall(greeting() + ready(socket_type))
    peer_greeting = recv_exactly(sock, GREETING_SIZE)
    assert peer_greeting[0] == 0xFF and peer_greeting[9] & 1, peer_greeting
    assert peer_greeting[10] == 3, f"peer major version {peer_greeting[10]}"
    assert peer_greeting[12:32].rstrip(b"\x00") == b"NULL", peer_greeting[12:32]
    header = recv_exactly(sock, 2)
    assert header[0] == 0x04, f"expected a short command (READY), got flags {header[0]:#04x}"
    body = recv_exactly(sock, header[1])
    assert body[:6] == b"\x05READY", body
    return header + body
