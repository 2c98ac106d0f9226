"""Routing bricks the pattern plugins build from: load balancer, fair queues and the
routing-id table of the types that address peers by id.

Both are O(1) per message in the common case and never call out except to the pipes.
"""

from __future__ import annotations

import errno
import random
from collections import deque
from collections.abc import Callable
from typing import Final, Protocol

from mypy_extensions import mypyc_attr

from mqsdk._kernel.pipe import Message, Pipe, QueuedMessage, first_frame
from mqsdk.errors import MQError


class Sender(Protocol):
    """A brick a pattern routes every outgoing message through (``Pattern.sender``)."""

    def send(self, message: QueuedMessage) -> object:
        """Queue ``message``; a true value if it was taken (or deliberately dropped),
        a false one if it cannot go now (no peer with room)."""

    def can_send(self) -> bool:
        """Would :meth:`send` take a message now?"""


class Receiver(Protocol):
    """A brick a pattern takes every incoming message from (``Pattern.receiver``)."""

    last_pipe: Pipe | None
    """The pipe the message :meth:`recv` returned last came from."""

    def activate(self, pipe: Pipe) -> None:
        """``pipe.inq`` went from empty to non-empty (any thread)."""

    def recv(self) -> QueuedMessage | None:
        """The next message, or None; sets ``last_pipe``."""

    def can_recv(self) -> bool:
        """Would :meth:`recv` return a message now?"""


class LoadBalancer:
    """Round-robin over pipes with room (libzmq's ``lb``)."""

    __slots__ = ("_next", "pipes")

    def __init__(self) -> None:
        self.pipes: list[Pipe] = []
        """The pipes sent to, in turn."""
        self._next = 0

    def attach(self, pipe: Pipe) -> None:
        """Send to ``pipe`` too (a peer connected)."""
        self.pipes.append(pipe)

    def detach(self, pipe: Pipe) -> None:
        """Stop sending to ``pipe`` (its peer left); unknown pipes are ignored."""
        try:
            index = self.pipes.index(pipe)
        except ValueError:
            return
        del self.pipes[index]
        if index < self._next:
            self._next -= 1

    def can_send(self) -> bool:
        """Whether some pipe has room for a message now."""
        return any(pipe.writable() for pipe in self.pipes)

    def send(self, message: QueuedMessage) -> Pipe | None:
        """Queue ``message`` on the next pipe with room; None if every pipe is full."""
        pipes = self.pipes
        count = len(pipes)
        if count == 1:
            pipe = pipes[0]
            if pipe.writable():
                pipe.write(message)
                return pipe
            return None
        start = self._next
        for offset in range(count):
            index = (start + offset) % count
            pipe = pipes[index]
            if pipe.writable():
                pipe.write(message)
                self._next = index + 1
                return pipe
        return None


class _DropCounter(Protocol):
    """What a brick that drops messages counts them on (the pattern's ``SocketHandle``)."""

    def count_dropped(self, kind: str, messages: int = 1) -> None:
        """Count ``messages`` dropped for reason ``kind``."""


@mypyc_attr(allow_interpreted_subclasses=True)
class FairQueue:
    """Round-robin over pipes that have messages (libzmq's ``fq``).

    ``active`` lists pipes that may hold messages. The reading side adds a pipe when its
    queue goes from empty to non-empty; the user side takes from the left and rotates.
    A pipe may appear twice after a race between the two; an entry whose queue is empty
    is simply dropped, so no message is ever stranded.
    """

    __slots__ = ("active", "last_pipe")

    def __init__(self) -> None:
        self.active: deque[Pipe] = deque()
        """The pipes that may hold messages, the next to read from first."""
        self.last_pipe: Pipe | None = None
        """The pipe the message :meth:`recv` returned last came from."""

    def activate(self, pipe: Pipe) -> None:
        """``pipe.inq`` went from empty to non-empty: read from it in its turn."""
        self.active.append(pipe)

    def can_recv(self) -> bool:
        """Whether :meth:`recv` would return a message now."""
        # tuple() copies in one C call: iterating the deque itself would fail if the
        # reading thread appended to it meanwhile ("deque mutated during iteration").
        return any(pipe.inq for pipe in tuple(self.active))

    def recv(self) -> QueuedMessage | None:
        """The next message from the next pipe in turn, or None. Sets ``last_pipe``."""
        active = self.active
        while active:
            pipe = active[0]
            inq = pipe.inq
            if inq:
                message = inq.popleft()
                if not inq:
                    active.popleft()
                elif len(active) > 1:  # one peer (the common case): nothing to rotate
                    active.rotate(-1)
                if pipe.read_paused and len(inq) <= pipe.low_water:
                    pipe.drained()
                self.last_pipe = pipe
                return message
            active.popleft()
        return None


class _PrefetchingFairQueue(FairQueue):
    """A fair queue that passes only some messages: :meth:`_prefetch` (each subclass's
    test) reads ahead to the next message that passes and holds it, so :meth:`can_recv`
    is true only when :meth:`recv` will return one."""

    __slots__ = ("_next", "_next_pipe")

    def __init__(self) -> None:
        super().__init__()
        self._next: QueuedMessage | None = None
        self._next_pipe: Pipe | None = None

    def _prefetch(self) -> bool:
        """Hold the next message that passes (in ``_next``); False if there is none."""
        raise NotImplementedError

    def recv(self) -> QueuedMessage | None:
        """The next message that passes, or None. Sets ``last_pipe``."""
        message = self._next
        if message is None:
            if not self._prefetch():
                return None
            message = self._next
        self._next = None
        self.last_pipe = self._next_pipe
        return message

    def can_recv(self) -> bool:
        """Whether :meth:`recv` will return a message (it is read ahead now)."""
        return self._prefetch()


class SingleFrameQueue(_PrefetchingFairQueue):
    """A fair queue that passes only single-frame messages (the thread-safe types':
    GATHER, CHANNEL, SERVER, CLIENT, PEER). A message a peer sent in several frames is
    dropped as it is read, as libzmq's ``xrecv`` of those types drops it, and counted
    on the socket (``dropped_malformed``).

    The next message is taken ahead when :meth:`can_recv` asks, so a queue holding only
    multipart messages is not reported readable."""

    __slots__ = ("socket",)

    def __init__(self, socket: _DropCounter) -> None:
        super().__init__()
        self.socket = socket
        """Where each multipart message dropped is counted (as ``"malformed"``)."""

    def _prefetch(self) -> bool:
        if self._next is not None:
            return True
        while True:
            message = FairQueue.recv(self)
            if message is None:
                return False
            if isinstance(message, bytes) or len(message) == 1:
                self._next = message
                self._next_pipe = self.last_pipe
                return True
            self.socket.count_dropped("malformed")


_ROUTING_ID_SPACE: Final = 1 << 32


class RoutingIdTable:
    """The peers of a socket that addresses each message by a routing id (SERVER, PEER):
    libzmq's ``server_t`` numbering and lookup.

    Each attached pipe gets a 32-bit id, never 0 (libzmq's "no routing id"): the first is
    random, so ids from one run are unlikely to name a connection of the next, and each
    new pipe takes the next one, skipping ids still in use after a wrap. The id is kept in
    ``pipe.state[state_key]`` too, so a detached pipe's messages still carry it."""

    __slots__ = ("_next_id", "pipes", "state_key")

    def __init__(self, state_key: str) -> None:
        self.state_key = state_key
        """The key of ``pipe.state`` that holds each pipe's routing id."""
        self.pipes: dict[int, Pipe] = {}
        """Routing id -> the attached pipe it names."""
        self._next_id = random.getrandbits(32)

    def attach(self, pipe: Pipe) -> int:
        """Number ``pipe`` and return its routing id."""
        while True:
            routing_id = self._next_id
            self._next_id = (routing_id + 1) % _ROUTING_ID_SPACE
            if routing_id and routing_id not in self.pipes:
                break
        pipe.state[self.state_key] = routing_id
        self.pipes[routing_id] = pipe
        return routing_id

    def detach(self, pipe: Pipe) -> None:
        """Forget ``pipe``: its id names no peer any more (its ``state`` keeps it)."""
        routing_id = pipe.state.get(self.state_key)
        if routing_id is not None and self.pipes.get(routing_id) is pipe:
            del self.pipes[routing_id]

    def routing_id(self, pipe: Pipe | None) -> int:
        """The id ``pipe`` was given (0 for None or a pipe never attached)."""
        if pipe is None:
            return 0
        routing_id: int = pipe.state.get(self.state_key, 0)
        return routing_id

    def destination(self, message: Message) -> Pipe:
        """The pipe ``[routing id, body]`` names; EHOSTUNREACH if none (never made, or
        gone), as libzmq's."""
        routing_id = int.from_bytes(message[0], "big")
        pipe = self.pipes.get(routing_id)
        if pipe is None:
            raise MQError(
                f"no peer has routing id {routing_id} on this socket (set frame.routing_id "
                "or send(..., routing_id=n) to the id of a received frame; its peer may "
                "be gone)",
                errno.EHOSTUNREACH,
            )
        return pipe

    def send(self, message: Message) -> bool:
        """Queue the body of ``[routing id, body]`` on the pipe the id names; False if
        that pipe is at its SNDHWM (the send waits, or raises Again, as libzmq's)."""
        pipe = self.destination(message)
        if not pipe.writable():
            return False
        pipe.write(message[1:])
        return True

    def would_send(self, message: Message) -> bool:
        """Whether :meth:`send` would not have to wait for ``message`` now (true for
        an unknown id too: send raises then)."""
        # An unknown id is not waited for: send raises EHOSTUNREACH at once.
        pipe = self.pipes.get(int.from_bytes(message[0], "big")) if len(message) == 2 else None
        return pipe is None or pipe.writable()


class FilteringFairQueue(_PrefetchingFairQueue):
    """A fair queue that passes only the messages whose first frame ``accept`` takes
    (SUB's local filter on its subscriptions); the others are dropped as they are read."""

    __slots__ = ("accept",)

    def __init__(self, accept: Callable[[bytes], bool]) -> None:
        super().__init__()
        self.accept = accept
        """The test a message's first frame must pass (SUB: its subscriptions match)."""

    def _prefetch(self) -> bool:
        if self._next is not None:
            return True
        accept = self.accept
        while True:
            message = FairQueue.recv(self)
            if message is None:
                return False
            if accept(message if isinstance(message, bytes) else first_frame(message)):
                self._next = message
                self._next_pipe = self.last_pipe
                return True
