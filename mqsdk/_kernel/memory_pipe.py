"""Pipes between two sockets of one process: the two sides share their deques.

A connection is two :class:`MemoryPipe` objects, one per socket; the ``outq`` of one is
the ``inq`` of the other, so a message is appended once by the sender and popped once by
the receiver, with no copy and no I/O thread. Waking the receiver (empty -> non-empty) and
the blocked sender (below the low-water mark) goes through the sockets' usual hooks.

The inproc transport plugin builds its connections from this brick; it lives in the kernel
because every message crosses it, and compiled with the kernel it costs native calls only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mqsdk._kernel.pipe import Message, Pipe, QueuedMessage

if TYPE_CHECKING:
    from mqsdk._kernel.handle import SocketHandle


class MemoryPipe(Pipe):
    """One side of an in-process connection (see the module docstring)."""

    __slots__ = ("other",)

    def __init__(self, owner: SocketHandle, endpoint: str, *, outgoing: bool) -> None:
        options = owner.options
        super().__init__(owner, endpoint, options.sndhwm, options.rcvhwm, outgoing=outgoing)
        self.other: MemoryPipe | None = None
        """The peer's side, once connected."""

    @property
    def connected(self) -> bool:
        """Joined to the peer's side (:func:`join_memory_pipes`)."""
        return self.other is not None

    def _limit(self) -> int:
        """How many messages the shared queue holds at most: both sides' HWMs, as libzmq
        sums them for inproc (0: no limit)."""
        other = self.other
        if other is None:
            return self.sndhwm
        if not self.sndhwm or not other.rcvhwm:
            return 0
        return self.sndhwm + other.rcvhwm

    def writable(self) -> bool:
        """True when the shared queue holds fewer than both sides' HWMs together (as
        libzmq's inproc); if not, the reader is asked to wake this side when it drains."""
        limit = self._limit()
        if not limit or len(self.outq) < limit:
            return True
        other = self.other
        if other is not None:
            # Ask the reader to wake us once its queue is down to the low-water mark.
            other.low_water = (limit + 1) // 2
            other.read_paused = True
        return False

    def write(self, message: QueuedMessage) -> None:
        """Append to the queue the peer reads, count the message on both sockets, and
        wake the peer if its queue was empty."""
        outq = self.outq
        outq.append(message)
        # Judged after the append: the receiver's thread may empty the queue (and forget
        # the pipe) between a look before it and the append (see mqsdk._kernel.pipe).
        was_empty = len(outq) == 1
        other = self.other
        # Counted here for both sockets: a message in the peer's queue is received by it,
        # as a decoded message is on stream transports.
        if isinstance(message, bytes):
            size = len(message)
        else:
            frames: list[Any] = message  # a frame may be a memoryview: see Message
            size = sum([len(frame) for frame in frames])
        stats = self.owner.stats
        stats["msgs_out"] += 1
        stats["bytes_out"] += size
        if other is not None:
            stats = other.owner.stats
            stats["msgs_in"] += 1
            stats["bytes_in"] += size
            if was_empty:  # the socket ignores a pipe it has not attached
                other.owner.pipe_readable(other)

    def send_command(self, frame: bytes) -> bool:
        """Commands (SUBSCRIBE...) go straight to the peer's pattern, decoded."""
        other = self.other
        if other is None:
            return False
        other.receive_encoded(frame)
        return True

    def send_message(self, message: Message) -> bool:
        """Queue ``message`` for the peer outside the HWM; False before the join."""
        other = self.other
        if other is None:
            return False
        self.outq.append(message)
        other.owner.pipe_readable(other)
        return True

    def drained(self) -> None:
        """This side read its queue down to the low-water mark: wake the peer's blocked
        sender."""
        other = self.other
        limit = other._limit() if other is not None else 0
        if other is None or not limit or len(self.inq) <= (limit + 1) // 2:
            self.read_paused = False
            if other is not None:
                other.owner.pipe_writable(other)


def join_memory_pipes(near: MemoryPipe, queued: MemoryPipe) -> None:
    """Connect two sides: ``queued`` (the connecting socket's, which may already hold
    messages sent before the bind) and ``near`` (the binding socket's, new)."""
    near.inq = queued.outq  # shared: what the connecter sends, the binder receives
    near.outq = queued.inq
    near.other, queued.other = queued, near
