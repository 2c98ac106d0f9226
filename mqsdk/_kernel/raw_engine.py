"""The raw engine: a stream connection without ZMTP, for STREAM sockets.

Bytes read from the OS become one-frame messages; one-frame messages written to the pipe
go out as they are. An empty message written by the pattern closes the connection once
what precedes it is sent. With ``notify`` on (STREAM_NOTIFY, the default), an empty
message is delivered when the connection opens and again when it closes, as libzmq's
STREAM socket does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mqsdk._kernel.engine import _ACTIVE, _SOFT_ERRNOS, FLUSH_BYTES, CloseReason, StreamEngine

if TYPE_CHECKING:
    from collections import deque

    from mqsdk._kernel.pipe import QueuedMessage

_READ_SIZE = 65536


class RawEngine(StreamEngine):
    """A connection carrying raw bytes: no greeting, no handshake, no heartbeats."""

    def start(self) -> None:
        self._close_when_flushed = False
        self.state = _ACTIVE
        self.greeted = True
        self.reactor.add_reader(self.fd, self._on_readable)
        # Held until the connect notification is queued: a user thread reading this new
        # connection must not deliver the peer's first bytes before it.
        with self.lock:
            if not self.owner._engine_ready(self):
                return
            if self.pipe is not None and self.owner.get("stream_notify"):
                self.pipe.deliver([[b""]])

    def read_available(self) -> int:
        sock = self.sock
        pipe = self.pipe
        delivered = 0
        while not self.read_paused and not self.dead and pipe is not None:
            try:
                data = sock.recv(_READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in _SOFT_ERRNOS:
                    break
                self._hand_over(
                    CloseReason(f"connection error: {exc}", error=exc, fatal=False, handshake=False)
                )
                break
            if not data:
                self._hand_over(
                    CloseReason("closed by peer", error=None, fatal=True, handshake=False)
                )
                break
            self.last_rx = time.monotonic()
            self.owner._received(1, len(data))
            delivered += 1
            if not pipe.deliver([[data]]):
                self._pause_reading()
            if len(data) < _READ_SIZE:
                break
        return delivered

    def _encode_batch(self, outq: deque[QueuedMessage]) -> tuple[int, int]:
        pieces = self._pending
        size = 0
        count = 0
        while outq and size < FLUSH_BYTES:
            data: Any = outq.popleft()[-1]
            count += 1
            if not len(data):
                # An empty message means "close this connection" (after what came before).
                self._close_when_flushed = True
                outq.clear()
                break
            pieces.append(data)
            size += len(data)
        return count, size

    def flush(self) -> bool:
        done = super().flush()
        if done and self._close_when_flushed and not self.dead:
            self._hand_over(
                CloseReason("closed by the application", error=None, fatal=True, handshake=False)
            )
        return done

    def _cleanup(self, reason: CloseReason) -> None:
        pipe = self.pipe
        super()._cleanup(reason)  # the pipe is detached first: its id is unroutable now
        if pipe is not None and self.owner.get("stream_notify"):
            pipe.deliver([[b""]])  # the disconnect notification
