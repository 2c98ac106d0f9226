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
from collections.abc import Sequence
from typing import ClassVar

from mqsdk.plugin import (
    LoadBalancer,
    Message,
    MQError,
    Pattern,
    Pipe,
    QueuedMessage,
    RoutingIdTable,
    SingleFrameQueue,
    SocketHandle,
    hookimpl,
)

__all__ = ["Client", "Server", "mqsdk_patterns"]


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
        self.fq = SingleFrameQueue(socket)
        self.sender = self.lb
        self.receiver = self.fq

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
        self.fq = SingleFrameQueue(socket)
        self.peers = RoutingIdTable("server.routing_id")

    def attach(self, pipe: Pipe) -> bool:
        self.peers.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.peers.detach(pipe)

    def pipe_readable(self, pipe: Pipe) -> None:
        self.fq.activate(pipe)

    def recv(self) -> QueuedMessage | None:
        message = self.fq.recv()
        if message is not None:
            pipe = self.fq.last_pipe
            self.last_pipe = pipe
            self.last_routing_id = self.peers.routing_id(pipe)
        return message

    def can_recv(self) -> bool:
        return self.fq.can_recv()

    def send(self, message: Message) -> bool:
        if len(message) != 2:
            # Not [routing id, body]: a socket class that does not route by id (an
            # mqsdk.asyncio socket) handed the body alone.
            raise MQError(
                "a SERVER sends to a routing id, which this socket cannot carry "
                "(use the blocking mqsdk.Socket)",
                errno.ENOTSUP,
            )
        return self.peers.send(message)

    def would_send(self, message: Message) -> bool:
        return self.peers.would_send(message)

    def can_send(self) -> bool:
        return True  # libzmq's xhas_out: whether a send goes depends on its routing id


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Client, Server]
