"""RADIO and DISH: group-based messaging (draft RFC 48; libzmq's radio.cpp, dish.cpp).

Where groups live (protocols.md section 3):

* The DISH keeps the set of groups its user joined. Joining twice, or leaving a group
  not joined, is EINVAL, as in libzmq. Each join and leave goes to every peer as a ZMTP
  ``JOIN``/``LEAVE`` command, and every new or re-established connection gets a
  ``JOIN`` per joined group first (through :meth:`Pattern.greet`). The DISH filters
  what it receives on the group again, because udp peers send everything.
* The RADIO keeps, per group, the pipes that joined it, and sends each message only to
  those, plus to pipes whose peer filters by itself (:attr:`Pipe.subscribe_to_all`:
  udp). A repeated JOIN from one pipe changes nothing and one LEAVE removes it, so a
  reconnecting DISH that re-sends its groups to a RADIO whose pipe survived is counted
  once.
* Between sockets a message is ``[group, body]``; the stream engine puts exactly that
  on the wire (the group frame with MORE, then the body), as libzmq's radio session does.

Threads follow :mod:`mqsdk._kernel.pattern`: commands arrive through :meth:`pipe_command` in the
user's thread; the reading thread only appends to deques.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Collection, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator

from mqsdk.plugin import (
    GROUP_MAX_LENGTH,
    Distributor,
    FairQueue,
    Message,
    MQError,
    OptionModel,
    Pattern,
    Pipe,
    SocketHandle,
    UpstreamPipes,
    as_frames,
    hookimpl,
    option,
)
from mqsdk.zmtp import commands
from mqsdk.zmtp.constants import JOIN, LEAVE
from mqsdk.zmtp.frames import Command

__all__ = ["Dish", "Radio", "mqsdk_patterns"]

log = logging.getLogger(__name__)

_GONE = "radiodish.gone"  # pipe.state key: detached; late commands from it are ignored


def _on_off(value: Any) -> int:
    # An int, any non-zero one meaning on, as libzmq reads it; stored as 0 or 1.
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"it takes 0 or 1, not {value!r}")
    return int(value != 0)


class RadioOptions(OptionModel):
    """RADIO's options."""

    xpub_nodrop: Annotated[int, BeforeValidator(_on_off)] = option(
        0, number=69, doc="At the HWM, wait (or EAGAIN) instead of dropping."
    )


class Radio(Pattern):
    """Sends each message to the DISHes that joined its group; drops at a full peer."""

    name: ClassVar[str] = "RADIO"
    socket_type: ClassVar[int] = 14
    peer_types: ClassVar[frozenset[str]] = frozenset({"DISH"})
    grouped: ClassVar[bool] = True
    thread_safe: ClassVar[bool] = True  # as libzmq's: threads may share the socket
    commands: ClassVar[frozenset[bytes]] = frozenset({JOIN, LEAVE})
    option_model = RadioOptions

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.options: RadioOptions = socket.component_options(RadioOptions)
        self.dist = Distributor()
        self.groups: dict[bytes, dict[Pipe, None]] = {}
        """group -> the pipes that joined it (a dict keeps their order)."""
        self.everything: list[Pipe] = []
        """Pipes whose peer filters by itself (udp): every message goes to them."""

    # -- pipes -----------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> bool:
        self.dist.attach(pipe)
        if pipe.subscribe_to_all:
            self.everything.append(pipe)
        self.socket.stats.setdefault("dropped_hwm", 0)
        return True

    def detach(self, pipe: Pipe) -> None:
        pipe.state[_GONE] = True
        self.dist.detach(pipe)
        if pipe in self.everything:
            self.everything.remove(pipe)
        for group in [g for g, pipes in self.groups.items() if pipe in pipes]:
            members = self.groups[group]
            del members[pipe]
            if not members:
                del self.groups[group]

    def pipe_command(self, pipe: Pipe, command: Command) -> None:
        # A pipe may not be attached yet (inproc greets before the attach is applied).
        if pipe.state.get(_GONE):
            return
        group = command.data
        if len(group) > GROUP_MAX_LENGTH:
            log.warning(
                "%s: ignoring %s of a %d-byte group (at most %d) from %s",
                self.socket,
                command.name.decode(),
                len(group),
                GROUP_MAX_LENGTH,
                pipe.endpoint,
            )
            return
        if command.name == JOIN:
            self.groups.setdefault(group, {})[pipe] = None
        else:
            members = self.groups.get(group)
            if members is not None:
                members.pop(pipe, None)
                if not members:
                    del self.groups[group]

    def pipe_readable(self, pipe: Pipe) -> None:
        # A DISH sends no messages; libzmq's RADIO reads and discards anything else too.
        # One deque operation, safe from the reading thread.
        pipe.inq.clear()

    # -- sending ---------------------------------------------------------------------------

    def _targets(self, group: bytes) -> Collection[Pipe]:
        # Datagram pipes first: one may refuse an oversize message (EMSGSIZE), and they
        # all share that limit, so the refusal comes before anything was queued.
        members = self.groups.get(group)
        everything = self.everything
        if members is None:
            return everything
        return [*everything, *members] if everything else members.keys()

    def send(self, message: Message) -> bool:
        if len(message) == 1:  # sent without a group: libzmq's empty group
            message = [b"", message[0]]
        pipes = self._targets(message[0])
        if not pipes:
            return True
        if self.options.xpub_nodrop and not Distributor.all_writable(pipes):
            return False
        dropped = self.dist.send(message, pipes)
        if dropped:
            stats = self.socket.stats
            stats["dropped_hwm"] = stats.setdefault("dropped_hwm", 0) + dropped
        return True

    def can_send(self) -> bool:
        if self.options.xpub_nodrop:
            return Distributor.all_writable(self.dist.pipes)
        return True

    def would_send(self, message: Message) -> bool:
        if self.options.xpub_nodrop:
            group = message[0] if len(message) == 2 else b""
            return Distributor.all_writable(self._targets(group))
        return True

    def recv(self) -> Message | None:
        raise MQError("a RADIO socket cannot receive (a DISH receives)", errno.ENOTSUP)


class Dish(Pattern):
    """Receives, fair-queued, the messages of the groups it joined."""

    name: ClassVar[str] = "DISH"
    socket_type: ClassVar[int] = 15
    peer_types: ClassVar[frozenset[str]] = frozenset({"RADIO"})
    grouped: ClassVar[bool] = True
    thread_safe: ClassVar[bool] = True

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.fq = FairQueue()
        self.joined: dict[bytes, None] = {}
        """The groups joined, in the order joined (a dict: copied atomically by greet)."""
        self.upstream = UpstreamPipes()
        """The pipes to tell about joins and leaves (see UpstreamPipes)."""
        self._next: Message | None = None
        self._next_pipe: Pipe | None = None

    # -- pipes -----------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> bool:
        self.upstream.add(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.upstream.remove(pipe)  # messages already queued stay receivable

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        # I/O thread: register the pipe first, then snapshot (see UpstreamPipes).
        self.upstream.add(pipe)
        return [commands.join(group) for group in list(self.joined)]

    def pipe_readable(self, pipe: Pipe) -> None:
        self.fq.activate(pipe)

    # -- groups ----------------------------------------------------------------------------

    def join(self, group: bytes) -> None:
        if group in self.joined:
            raise MQError(f"group {group!r} is already joined", errno.EINVAL)
        self.joined[group] = None
        self._tell(commands.join(group))

    def leave(self, group: bytes) -> None:
        if group not in self.joined:
            raise MQError(f"group {group!r} is not joined", errno.EINVAL)
        del self.joined[group]
        if self._next is not None and self._next[0] == group:
            self._next = None  # prefetched by a poll; no longer wanted
        self._tell(commands.leave(group))

    def _tell(self, frame: bytes) -> None:
        self.upstream.tell(lambda pipe: pipe.send_command(frame))

    # -- receiving -------------------------------------------------------------------------

    def _prefetch(self) -> bool:
        if self._next is not None:
            return True
        fq = self.fq
        joined = self.joined
        while True:
            taken = fq.recv()
            if taken is None:
                return False
            message = as_frames(taken)
            if len(message) != 2 or len(message[0]) > GROUP_MAX_LENGTH:
                self._malformed(fq.last_pipe, message)
                continue
            if message[0] in joined:
                self._next = message
                self._next_pipe = fq.last_pipe
                return True

    def _malformed(self, pipe: Pipe | None, message: Message) -> None:
        """Not ``[group, body]``: libzmq's DISH session fails the connection; so do we."""
        reason = (
            f"malformed RADIO message ({len(message)} frame(s), first of "
            f"{len(message[0]) if message else 0} bytes): expected a group frame of at most "
            f"{GROUP_MAX_LENGTH} bytes, then the body"
        )
        log.warning("%s: %s from %s", self.socket, reason, pipe.endpoint if pipe else "?")
        if pipe is not None:
            pipe.close_connection(reason)

    def recv(self) -> Message | None:
        if self._next is None and not self._prefetch():
            return None
        message = self._next
        assert message is not None
        self._next = None
        self.last_pipe = self._next_pipe
        self.last_group = message[0]
        return [message[1]]

    def can_recv(self) -> bool:
        return self._prefetch()

    def send(self, message: Message) -> bool:
        raise MQError("a DISH socket cannot send (a RADIO sends)", errno.ENOTSUP)

    def can_send(self) -> bool:
        return False


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Radio, Dish]
