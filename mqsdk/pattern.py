"""The pattern (socket type) interface.

A pattern decides where an outgoing message goes and which incoming message the user
gets next: PUSH load-balances, PUB fans out, ROUTER addresses, REQ alternates. It is
built from the kernel's routing bricks (:mod:`mqsdk.routing`) and knows nothing of
transports or of the wire.

Peer compatibility is data, not code: ``peer_types`` lists the ZMTP Socket-Type names
this pattern accepts, and the handshake refuses every other peer.

Threads: everything runs in the thread that uses the socket (send, recv, the can_*
checks, attach, detach, pipe_command: the I/O thread reports new pipes and commands
through the socket, which applies them at the user's next call, as libzmq processes its
command mailbox), except :meth:`Pattern.pipe_readable`, which runs in whichever thread
read the connection and may name a pipe not attached yet, and :meth:`Pattern.greet`,
which runs in the I/O thread. Keep what those two share a single atomic operation (a
deque append or popleft, an attribute store), as the routing bricks do.
"""

from __future__ import annotations

import errno
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from mqsdk.component import Component
from mqsdk.errors import MQError
from mqsdk.options import OptionSpec

if TYPE_CHECKING:
    from mqsdk.pipe import Message, Pipe
    from mqsdk.zmtp.frames import Command


class Pattern(Component, ABC):
    """Base of every socket type.

    Subclasses set ``name`` (the ZMTP Socket-Type, uppercase), ``socket_type`` (libzmq's
    number, used by ``ctx.socket(n)``), ``peer_types``, and ``sends_identity`` when the
    handshake must carry the socket's routing id (libzmq: REQ, DEALER, ROUTER).

    One instance exists per socket, created with the socket's kernel object.
    """

    kind: ClassVar[str] = "pattern"
    socket_type: ClassVar[int] = -1
    peer_types: ClassVar[frozenset[str]] = frozenset()
    sends_identity: ClassVar[bool] = False
    raw: ClassVar[bool] = False
    """True for socket types that speak raw bytes instead of ZMTP (STREAM): the kernel
    then gives their connections a :class:`mqsdk.raw_engine.RawEngine`."""
    grouped: ClassVar[bool] = False
    """True for RADIO/DISH-style types whose messages are one frame plus a group. The
    socket then refuses multipart sends (EINVAL), hands :meth:`send` ``[body]`` (no
    group given) or ``[group, body]`` (``send(data, group=...)``), and puts
    :attr:`last_group` on the frames ``recv(copy=False)`` returns."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.last_pipe: Pipe | None = None
        """The pipe the message :meth:`recv` returned last came from (for Frame.get)."""
        self.last_group: bytes | None = None
        """The group of the message :meth:`recv` returned last (grouped types only)."""

    @abstractmethod
    def attach(self, pipe: Pipe) -> bool:
        """A pipe to a new peer exists. Return False to refuse it (PAIR's second peer);
        the kernel then closes that connection."""

    @abstractmethod
    def detach(self, pipe: Pipe) -> None:
        """The pipe is gone (peer disconnected, endpoint removed); forget it.

        Messages already in ``pipe.inq`` may still be received: the kernel keeps them.
        """

    @abstractmethod
    def send(self, message: Message) -> bool:
        """Route one whole message without blocking.

        :returns: True if it was queued (or deliberately dropped, as PUB does), False
            if it cannot be queued now (every pipe full, or no peer yet); the kernel
            then waits or raises :class:`~mqsdk.errors.Again`.
        :raises MQError: the pattern forbids this send (e.g. REQ twice: EFSM).
        """

    @abstractmethod
    def recv(self) -> Message | None:
        """The next whole message for the user, or None if none is queued."""

    options: ClassVar[dict[str, int]] = {}
    """Pattern-specific options handled by code: name -> libzmq number (``{"subscribe":
    6}``). They become attributes of this type's sockets and are set and read through
    :meth:`set_option`/:meth:`get_option`. Options that are plain values can instead be
    declared in :attr:`option_model` and read with ``socket.component_options(Model)``."""
    option_docs: ClassVar[dict[str, str]] = {}
    """One line per name in :attr:`options`, for the generated option table."""

    @classmethod
    def declared_options(cls) -> list[OptionSpec]:
        coded = [
            OptionSpec(name, number, "pattern", cls.name, cls.option_docs.get(name, ""))
            for name, number in cls.options.items()
        ]
        return [*coded, *super().declared_options()]

    socket_methods: ClassVar[frozenset[str]] = frozenset()
    """Names of pattern methods offered on the socket itself (``pub.wait_for_subscribers``)."""
    commands: ClassVar[frozenset[bytes]] = frozenset()
    """ZMTP command names this pattern handles (``b"SUBSCRIBE"``...); others are ignored,
    as libzmq ignores commands it does not know."""

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        """Encoded frames to send first on every new connection of ``pipe``.

        Called in the I/O thread when a handshake completes, including reconnections of
        a pipe that survived (SUB re-sends its subscriptions here; a ZMTP 3.0 peer,
        ``zmtp_minor == 0``, wants them as ``01``-prefixed messages instead of
        SUBSCRIBE commands). Read pattern state only with single atomic operations
        (copy a dict with ``list(d)``). The default sends nothing.
        """
        return []

    def pipe_command(self, pipe: Pipe, command: Command) -> None:
        """A command named in :attr:`commands` arrived on ``pipe`` (user's thread)."""

    def pipe_readable(self, pipe: Pipe) -> None:
        """``pipe.inq`` went from empty to non-empty (called from the reading thread)."""

    def can_send(self) -> bool:
        """Would :meth:`send` succeed now? (``POLLOUT`` in ``events``)."""
        return True

    def would_send(self, message: Message) -> bool:
        """Would :meth:`send` take this very message now? A blocked send waits on this
        (ROUTER: the message's destination may be full while others have room)."""
        return self.can_send()

    def can_recv(self) -> bool:
        """Would :meth:`recv` return a message now? (``POLLIN`` in ``events``)."""
        return False

    def set_option(self, name: str, value: Any) -> bool:
        """Handle a pattern-specific option; return False if ``name`` is not one."""
        return False

    def get_option(self, name: str) -> Any:
        """Value of a pattern-specific option; raise KeyError if ``name`` is not one."""
        raise KeyError(name)

    def join(self, group: bytes) -> None:
        """``socket.join(group)`` (DISH); ``group`` is already checked (<= 255 bytes)."""
        raise MQError(f"a {self.name} socket has no groups to join (DISH has)", errno.ENOTSUP)

    def leave(self, group: bytes) -> None:
        """``socket.leave(group)`` (DISH)."""
        raise MQError(f"a {self.name} socket has no groups to leave (DISH has)", errno.ENOTSUP)
