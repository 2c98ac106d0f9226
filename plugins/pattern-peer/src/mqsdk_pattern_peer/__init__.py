"""PEER and CHANNEL: the thread-safe peer-to-peer socket types of libzmq's draft API
(peer.cpp, server.cpp, channel.cpp).

Both are ``thread_safe``: several threads may use one socket at once (the kernel
serialises the calls), and a message is one frame. The kernel refuses a multipart send
of such a type (EINVAL); a multipart message a peer sends anyway is dropped as it is
read (counted as ``dropped_malformed``), as libzmq's ``xrecv`` of these types drops it.

PEER is libzmq's SERVER that may also connect, and whose peers are PEERs:

* every pipe gets a routing id when it is attached: a 32-bit number, consecutive from
  a random start, never 0 (libzmq's ``server_t::xattach_pipe``). A connecting pipe
  keeps its id across reconnections, as its pipe survives them.
* ``recv`` fair-queues over the peers and puts the sender's id on the message
  (``last_routing_id``: ``Frame.routing_id``).
* ``send`` takes ``[routing_id, body]`` (``routed_by_id``): an id that names no peer is
  EHOSTUNREACH; a peer at SNDHWM makes the send wait (or EAGAIN), as libzmq's does.
* ``connect_peer(endpoint)`` connects and returns the id of the pipe the connect made,
  so the first message can go before the peer says anything. With ``immediate`` set
  there is no pipe until the connection exists, so libzmq refuses it (EFAULT); so do we.

CHANNEL is libzmq's thread-safe PAIR: one peer; a second is refused while the first is
attached.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Sequence
from typing import ClassVar

from mqsdk.plugin import (
    LoadBalancer,
    Message,
    MQError,
    Pattern,
    Pipe,
    RoutingIdTable,
    SingleFrameQueue,
    SocketHandle,
    hookimpl,
)

__all__ = ["Channel", "Peer", "mqsdk_patterns"]


class Peer(Pattern):
    """Addresses each message to one peer by the routing id it carries."""

    name: ClassVar[str] = "PEER"
    socket_type: ClassVar[int] = 19
    peer_types: ClassVar[frozenset[str]] = frozenset({"PEER"})
    thread_safe: ClassVar[bool] = True
    routed_by_id: ClassVar[bool] = True
    receives_bytes: ClassVar[bool] = True  # the single-frame queue takes either form
    socket_methods: ClassVar[frozenset[str]] = frozenset({"connect_peer"})

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.fq = SingleFrameQueue(socket)
        self.peers = RoutingIdTable("peer.routing_id")
        # The id of the pipe the latest connect attached, per thread: a connect attaches
        # its pipe in the calling thread, under the socket's lock, so each thread's
        # connect_peer reads the id of its own connect even while others connect too.
        self._connected = threading.local()

    # -- pipes ----------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> bool:
        routing_id = self.peers.attach(pipe)
        if pipe.outgoing:
            self._connected.routing_id = routing_id
        return True

    def detach(self, pipe: Pipe) -> None:
        self.peers.detach(pipe)
        # Its id stays in pipe.state: messages it already delivered are still received.

    def pipe_readable(self, pipe: Pipe) -> None:
        self.fq.activate(pipe)

    def connect_peer(self, endpoint: str | bytes) -> int:
        """Connect to ``endpoint`` and return the routing id of the new connection."""
        if self.socket.options.immediate:
            raise MQError(
                "connect_peer needs immediate = 0: with immediate set no pipe, and so no "
                "routing id, exists until the connection does (libzmq refuses it: EFAULT)",
                errno.EFAULT,
            )
        text = endpoint.decode() if isinstance(endpoint, bytes) else endpoint
        connected = self._connected
        connected.routing_id = 0
        self.socket.connect(text)
        routing_id: int = connected.routing_id
        connected.routing_id = 0
        if not routing_id:
            raise MQError(f"connect_peer({text!r}) made no connection to name", errno.EINVAL)
        return routing_id

    # -- messages ---------------------------------------------------------------------------

    def recv(self) -> Message | bytes | None:
        message = self.fq.recv()
        if message is None:
            return None
        pipe = self.fq.last_pipe
        self.last_pipe = pipe
        self.last_routing_id = self.peers.routing_id(pipe)
        return message

    def can_recv(self) -> bool:
        return self.fq.can_recv()

    def send(self, message: Message) -> bool:
        if len(message) != 2:
            # Only the thread-safe socket class addresses messages ([routing_id, body]).
            raise MQError(
                f"a PEER message needs a routing id: send(data, routing_id=n) on a "
                f"thread-safe socket (got {len(message)} frame(s) without one)",
                errno.EINVAL,
            )
        return self.peers.send(message)

    def would_send(self, message: Message) -> bool:
        return self.peers.would_send(message)

    def can_send(self) -> bool:
        # As libzmq's SERVER: whether a send goes depends on the peer it names.
        return True


class Channel(Pattern):
    """One peer at a time, single frames both ways (libzmq's thread-safe PAIR)."""

    name: ClassVar[str] = "CHANNEL"
    socket_type: ClassVar[int] = 20
    peer_types: ClassVar[frozenset[str]] = frozenset({"CHANNEL"})
    thread_safe: ClassVar[bool] = True
    receives_bytes: ClassVar[bool] = True  # the single-frame lane, both ways
    sends_bytes: ClassVar[bool] = True

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.pipe: Pipe | None = None
        self.lb = LoadBalancer()
        self.fq = SingleFrameQueue(socket)
        self.sender = self.lb
        self.receiver = self.fq

    def attach(self, pipe: Pipe) -> bool:
        if self.pipe is not None:
            return False  # libzmq's channel_t terminates a second pipe too
        self.pipe = pipe
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        if self.pipe is pipe:
            self.pipe = None
            self.lb.detach(pipe)


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Peer, Channel]
