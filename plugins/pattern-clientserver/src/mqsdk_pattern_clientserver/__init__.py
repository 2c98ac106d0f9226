"""CLIENT and SERVER: thread-safe, single-frame request-reply (draft RFC 41; libzmq's
client.cpp, server.cpp).

* Both are ``thread_safe``: several threads may send and receive on one socket at once
  (the kernel serialises the calls and lets blocked ones wait without the socket).
  A message is one frame: the kernel refuses SNDMORE and multipart sends (EINVAL), and a
  multipart message a peer sends anyway is dropped as it is read (counted as
  ``dropped_malformed``), as libzmq's ``xrecv`` of both types drops it.
* A CLIENT load-balances its messages over its SERVERs and fair-queues what they send;
  with no SERVER connected (or every one at SNDHWM) a send waits, or raises ``Again``.
* A SERVER numbers each peer connection with a routing id, a 32-bit number that is never
  0: the first is random and each new connection takes the next (libzmq's scheme). A
  received frame carries it (``frame.routing_id``, with ``recv(copy=False)``) and a
  reply names it (``frame.routing_id = n`` or ``send(data, routing_id=n)``). An id with no
  connection behind it (never made, or gone) is EHOSTUNREACH; a connection at its SNDHWM
  makes the send wait (or ``Again``), as libzmq's SERVER does.

Threads: :meth:`Pattern.pipe_readable` runs in the reading thread and only appends to the
fair queue's deque; the rest runs under the socket's lock.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Sequence
from typing import ClassVar

from mqsdk.plugin import (
    LoadBalancer,
    Message,
    MQError,
    Pattern,
    Pipe,
    QueuedMessage,
    SingleFrameQueue,
    SocketHandle,
    hookimpl,
)

__all__ = ["Client", "Server", "mqsdk_patterns"]

_ROUTING_ID = "server.routing_id"  # pipe.state key: the id a SERVER gave the pipe
_ID_SPACE = 2**32


class Client(Pattern):
    """Load-balances out, fair-queues in; single frames; thread-safe (libzmq's client_t)."""

    name: ClassVar[str] = "CLIENT"
    socket_type: ClassVar[int] = 13
    peer_types: ClassVar[frozenset[str]] = frozenset({"SERVER"})
    thread_safe: ClassVar[bool] = True
    receives_bytes: ClassVar[bool] = True  # the single-frame lane, both ways: a SERVER
    sends_bytes: ClassVar[bool] = True  # receives bytes too

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.lb = LoadBalancer()
        self.fq = SingleFrameQueue(self._dropped)
        self.sender = self.lb
        self.receiver = self.fq

    def _dropped(self, pipe: Pipe | None) -> None:
        self.socket.count_dropped("malformed")

    def attach(self, pipe: Pipe) -> bool:
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.lb.detach(pipe)  # what it sent before it went stays receivable


class Server(Pattern):
    """Replies by routing id; fair-queues in; single frames; thread-safe (libzmq's
    server_t)."""

    name: ClassVar[str] = "SERVER"
    socket_type: ClassVar[int] = 12
    peer_types: ClassVar[frozenset[str]] = frozenset({"CLIENT"})
    thread_safe: ClassVar[bool] = True
    routed_by_id: ClassVar[bool] = True
    receives_bytes: ClassVar[bool] = True

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.fq = SingleFrameQueue(self._dropped)
        self.pipes: dict[int, Pipe] = {}
        """Routing id -> the connection it names (attached pipes only)."""
        # libzmq starts from a random number, so ids from one run are unlikely to name a
        # connection of the next; 0 is never used.
        self._next_id = random.randrange(_ID_SPACE)

    def _dropped(self, pipe: Pipe | None) -> None:
        self.socket.count_dropped("malformed")

    def attach(self, pipe: Pipe) -> bool:
        routing_id = self._next_id or 1
        # Wrapped all the way round, an id may still be in use: skip it.
        while routing_id in self.pipes:
            routing_id = routing_id % (_ID_SPACE - 1) + 1
        self._next_id = (routing_id + 1) % _ID_SPACE
        pipe.state[_ROUTING_ID] = routing_id
        self.pipes[routing_id] = pipe
        return True

    def detach(self, pipe: Pipe) -> None:
        routing_id = pipe.state.get(_ROUTING_ID)
        if routing_id is not None and self.pipes.get(routing_id) is pipe:
            del self.pipes[routing_id]

    def pipe_readable(self, pipe: Pipe) -> None:
        self.fq.activate(pipe)

    def recv(self) -> QueuedMessage | None:
        message = self.fq.recv()
        if message is not None:
            pipe = self.fq.last_pipe
            self.last_pipe = pipe
            self.last_routing_id = pipe.state.get(_ROUTING_ID, 0) if pipe is not None else 0
        return message

    def can_recv(self) -> bool:
        return self.fq.can_recv()

    def _destination(self, message: Message) -> Pipe:
        if len(message) != 2:
            # Not [routing id, body]: a socket class that does not route by id (an
            # mqsdk.asyncio socket) handed the body alone.
            raise MQError(
                "a SERVER sends to a routing id, which this socket cannot carry "
                "(use the blocking mqsdk.Socket)",
                errno.ENOTSUP,
            )
        routing_id = int.from_bytes(message[0], "big")
        pipe = self.pipes.get(routing_id)
        if pipe is None:
            raise MQError(
                f"no peer has routing id {routing_id} on this SERVER (set frame.routing_id "
                "or send(..., routing_id=n) to the id of a received frame; its peer may "
                "be gone)",
                errno.EHOSTUNREACH,
            )
        return pipe

    def send(self, message: Message) -> bool:
        pipe = self._destination(message)
        if not pipe.writable():
            return False  # at SNDHWM: the send waits or raises Again, as libzmq's
        pipe.write([message[1]])
        return True

    def would_send(self, message: Message) -> bool:
        pipe = self.pipes.get(int.from_bytes(message[0], "big")) if len(message) == 2 else None
        return pipe is None or pipe.writable()  # an unknown id fails at once

    def can_send(self) -> bool:
        return True  # libzmq's xhas_out: whether a send goes depends on its routing id


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Client, Server]
