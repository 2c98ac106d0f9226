"""ROUTER: addresses peers by routing id (libzmq's router.cpp)."""

from __future__ import annotations

import errno
import random
from typing import ClassVar

from mqsdk.plugin import Message, MQError, Pattern, Pipe, SocketHandle
from mqsdk_pattern_reqrep._common import PROBE, Inbox, Verdict
from mqsdk_pattern_reqrep.options import RouterOptions

_RID = "reqrep.routing_id"  # pipe.state key: the routing id this ROUTER gave the pipe
_REFUSED = "reqrep.refused"  # pipe.state key: the pipe's id was taken; it is ignored


class Router(Pattern):
    """Every message names its peer in its first frame.

    * **Routing ids.** A peer is known by the Identity it sent in its handshake (its
      ``routing_id`` option) when that is not empty, else by an id this socket makes up:
      5 bytes, ``00`` then a big-endian 32-bit counter with a random start.
      ``connect_routing_id`` names the peer of the next ``connect()`` instead. A peer
      whose Identity is already in use is refused, unless ``router_handover = 1``: then
      the new peer takes the id and the old connection is closed. A pipe keeps its id
      for life, across reconnections (libzmq assumes peers keep their Identity too).
    * **recv** returns ``[routing_id, *message]``, fair-queued over the peers.
    * **send** takes ``[routing_id, *message]`` and queues the message for that peer.
      An unknown id drops the message silently (counted in
      ``socket.stats["unroutable"]``); so does a peer at SNDHWM (counted in
      ``socket.stats["hwm_dropped"]``). With ``router_mandatory = 1`` an unknown id raises
      :class:`~mqsdk.MQError` with errno ``EHOSTUNREACH`` and a full peer makes ``send``
      block (or raise :class:`~mqsdk.Again`) instead. A message of one frame (the id
      alone) is dropped, as libzmq does.
    * ``probe_router = 1`` sends one empty message first on every new connection.
    """

    name: ClassVar[str] = "ROUTER"
    socket_type: ClassVar[int] = 6
    peer_types: ClassVar[frozenset[str]] = frozenset({"REQ", "DEALER", "ROUTER"})
    sends_identity: ClassVar[bool] = True
    option_model = RouterOptions

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.options: RouterOptions = socket.component_options(RouterOptions)
        self.inbox: Inbox[bytes] = Inbox()
        self.by_id: dict[bytes, Pipe] = {}
        self.unnamed: list[Pipe] = []  # attached by connect(), peer not known yet
        self._next_auto = random.getrandbits(32)

    # -- routing ids (user's thread) ----------------------------------------------------

    def _auto_id(self) -> bytes:
        while True:
            number = self._next_auto
            self._next_auto = (number + 1) & 0xFFFFFFFF
            rid = b"\x00" + number.to_bytes(4, "big")
            if rid not in self.by_id:
                return rid

    def _name(self, pipe: Pipe, rid: bytes) -> None:
        pipe.state[_RID] = rid
        self.by_id[rid] = pipe

    def _close(self, pipe: Pipe, why: str) -> None:
        pipe.close_connection(why)

    def _identify(self, pipe: Pipe) -> bool:
        """Name a pipe whose peer is known; False if its Identity is taken."""
        peer = pipe.peer
        rid = peer.routing_id if peer is not None else b""
        if not rid:
            self._name(pipe, self._auto_id())
            return True
        old = self.by_id.get(rid)
        if old is not None and old is not pipe:
            if not self.options.router_handover:
                return False
            # The new peer takes the id; the old pipe gets a made-up one (so that what
            # it already sent can still be received) and its connection is closed.
            self._name(old, self._auto_id())
            self._close(old, f"router_handover: routing id {rid!r} was taken by a new peer")
        self._name(pipe, rid)
        return True

    def _name_unnamed(self) -> None:
        """Name the connect() pipes whose handshake completed since the last look."""
        for pipe in [p for p in self.unnamed if p.peer is not None]:
            self.unnamed.remove(pipe)
            if not self._identify(pipe):
                pipe.state[_REFUSED] = True
                peer_id = pipe.peer.routing_id if pipe.peer is not None else b""
                self._close(pipe, f"duplicate routing id {peer_id!r} (router_handover is off)")

    # -- pipes --------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> bool:
        rid = self.options.connect_routing_id
        if rid and pipe.outgoing:
            if rid in self.by_id:
                if pipe.peer is None:  # inside connect(): tell the caller
                    raise MQError(
                        f"connect_routing_id {rid!r} already names another peer of this "
                        "ROUTER; routing ids must be unique, choose another",
                        errno.EINVAL,
                    )
                return False
            self.options.reset_option("connect_routing_id")  # used up, as in libzmq
            self._name(pipe, rid)
            return True
        if pipe.peer is None:
            self.unnamed.append(pipe)
            return True
        return self._identify(pipe)

    def detach(self, pipe: Pipe) -> None:
        rid = pipe.state.get(_RID)
        if rid is not None and self.by_id.get(rid) is pipe:
            del self.by_id[rid]
        if pipe in self.unnamed:
            self.unnamed.remove(pipe)
        # Its id stays in pipe.state: messages it already delivered are still received.

    def pipe_readable(self, pipe: Pipe) -> None:
        self.inbox.activate(pipe)

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        return [PROBE] if self.options.probe_router else []

    # -- receiving ----------------------------------------------------------------------

    def _check(self, pipe: Pipe, message: Message) -> bytes | Verdict:
        state = pipe.state
        if _RID not in state and pipe.attached and pipe in self.unnamed:
            self._name_unnamed()
        rid: bytes | None = state.get(_RID)
        if rid is None:
            # Not attached yet (the kernel announces it again when it is), or refused.
            return Verdict.SKIP
        return rid

    def recv(self) -> Message | None:
        found = self.inbox.next(self._check, True)
        if found is None:
            return None
        pipe, message, rid = found
        self.last_pipe = pipe
        return [rid, *message]

    def can_recv(self) -> bool:
        return self.inbox.next(self._check, False) is not None

    # -- sending ------------------------------------------------------------------------

    def _count(self, key: str) -> None:
        stats = self.socket.stats
        stats.setdefault(key, 0)
        stats[key] += 1

    def send(self, message: Message) -> bool:
        if len(message) < 2:
            return True  # only a routing id: nothing to deliver (libzmq drops it too)
        rid = message[0]
        if type(rid) is not bytes:
            rid = bytes(rid)
        pipe = self.by_id.get(rid)
        if pipe is None and self.unnamed:
            self._name_unnamed()
            pipe = self.by_id.get(rid)
        if pipe is None:
            if self.options.router_mandatory:
                raise MQError(
                    f"no peer with routing id {rid!r} is connected to this ROUTER "
                    "(router_mandatory is set)",
                    errno.EHOSTUNREACH,
                )
            self._count("unroutable")
            return True
        if not pipe.writable():
            if self.options.router_mandatory:
                return False
            self._count("hwm_dropped")
            return True
        pipe.write(message[1:])
        return True

    def can_send(self) -> bool:
        if not self.options.router_mandatory:
            return True  # a send never waits: it queues or drops
        if self.unnamed:
            self._name_unnamed()
        return any(pipe.writable() for pipe in self.by_id.values())
