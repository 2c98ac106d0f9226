"""The pattern (socket type) interface.

A pattern decides where an outgoing message goes and which incoming message the user
gets next: PUSH load-balances, PUB fans out, ROUTER addresses, REQ alternates. It is
built from the kernel's routing bricks (:mod:`mqsdk._kernel.routing`) and knows nothing of
transports or of the wire.

Peer compatibility is data, not code: ``peer_types`` lists the ZMTP Socket-Type names
this pattern accepts, and the handshake refuses every other peer.

Threads: everything runs in the thread that uses the socket (send, recv, the can_*
checks, attach, detach, pipe_command: the I/O thread reports new pipes and commands
through the socket, which applies them at the user's next call, as libzmq processes its
command mailbox; for a :attr:`Pattern.thread_safe` type, in whichever thread holds the
socket's lock: still one at a time), except :meth:`Pattern.pipe_readable`, which runs
in whichever thread read the connection and may name a pipe not attached yet, and
:meth:`Pattern.greet`, which runs in the I/O thread. Keep what those two share a single
atomic operation (a deque append or popleft, an attribute store), as the routing bricks do.
"""

from __future__ import annotations

import errno
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from mqsdk._kernel.component import Component
from mqsdk._kernel.options import OptionSpec, specs_from_model
from mqsdk.errors import MQError

if TYPE_CHECKING:
    from mqsdk._kernel.handle import SocketHandle
    from mqsdk._kernel.pipe import Message, Pipe, QueuedMessage
    from mqsdk._kernel.routing import Receiver, Sender
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
    """libzmq's number of the socket type (``ctx.socket(8)`` makes a PUSH)."""
    peer_types: ClassVar[frozenset[str]] = frozenset()
    """The Socket-Type names a peer may have (RFC 37's table for the stable types)."""
    sends_identity: ClassVar[bool] = False
    """The handshake carries the socket's routing id (libzmq: REQ, DEALER, ROUTER)."""
    raw: ClassVar[bool] = False
    """True for socket types that speak raw bytes instead of ZMTP (STREAM): the kernel
    then gives their connections a :class:`mqsdk._kernel.raw_engine.RawEngine`."""
    grouped: ClassVar[bool] = False
    """True for RADIO/DISH-style types whose messages are one frame plus a group. The
    socket then refuses multipart sends (EINVAL), hands :meth:`send` ``[body]`` (no
    group given) or ``[group, body]`` (``send(data, group=...)``), and puts
    :attr:`last_group` on the frames ``recv(copy=False)`` returns."""

    receives_bytes: ClassVar[bool] = False
    """True when this pattern takes single-frame messages as bare ``bytes`` from its
    pipes' ``inq`` (see :data:`~mqsdk._kernel.pipe.QueuedMessage`): the connections then
    queue them so, without a list each. For patterns whose :attr:`receiver` brick hands
    messages to the socket untouched (PULL, PAIR, SUB, XSUB, DEALER)."""
    sends_bytes: ClassVar[bool] = False
    """True when the socket may hand this pattern's :attr:`sender` a single-frame message
    as bare ``bytes``, which then travels so to the peer's pipe. Only for patterns whose
    every peer type :attr:`receives_bytes` (an inproc pipe hands the peer the very
    objects queued): PUSH, PAIR, PUB."""

    thread_safe: ClassVar[bool] = False
    """True for types several threads may use at once (libzmq's CLIENT, SERVER, RADIO,
    DISH, SCATTER, GATHER, PEER, CHANNEL): ``ctx.socket()`` then makes a socket that
    serialises every call on a lock and lets blocked calls wait without it
    (:mod:`mqsdk._kernel.threadsafe`), and ``get(THREAD_SAFE)`` says 1. Such a type's
    messages are single frames, as in libzmq: SNDMORE and multipart sends are EINVAL, and
    :meth:`recv` must return one frame per message (drop what peers send in several)."""

    routed_by_id: ClassVar[bool] = False
    """True for types that address each message by the routing id it carries (SERVER,
    PEER; a thread-safe type's option). The socket then hands :meth:`send`
    ``[routing_id, body]``, the id as 4 bytes big-endian (0 when the caller gave none:
    :attr:`Frame.routing_id <mqsdk.Frame.routing_id>` or ``send(..., routing_id=n)``), and
    puts :attr:`last_routing_id` on the frames ``recv(copy=False)`` returns."""

    reads_before_sending: ClassVar[bool] = False
    """True when what peers send changes where this pattern's messages go (a PUB's
    subscriptions): the socket then reads its connections before the first send of a
    burst, in the sender's thread, so a subscription already made is applied to the very
    next message rather than when the I/O thread gets to it."""

    def __init__(self, socket: SocketHandle) -> None:
        self.socket = socket
        """The socket, as patterns may use it (:class:`~mqsdk._kernel.handle.SocketHandle`)."""
        self.sender: Sender | None = None
        """The kernel brick that routes every outgoing message when this pattern has no
        per-message policy of its own (PUSH, DEALER, PAIR: a
        :class:`~mqsdk._kernel.routing.LoadBalancer`). Set it in ``__init__`` and never replace
        it: the socket then calls the brick directly per message, and :meth:`send` is
        not called. Leave it None and override :meth:`send` for a policy (REQ, ROUTER)."""
        self.receiver: Receiver | None = None
        """The same for incoming messages (PULL, DEALER, PAIR: a
        :class:`~mqsdk._kernel.routing.FairQueue`): the socket takes messages from it directly,
        announces readable pipes to it (:meth:`pipe_readable` is not called) and reads
        its ``last_pipe``."""
        self.last_pipe: Pipe | None = None
        """The pipe the message :meth:`recv` returned last came from (for Frame.get)."""
        self.last_group: bytes | None = None
        """The group of the message :meth:`recv` returned last (grouped types only)."""
        self.last_routing_id = 0
        """The routing id of the message :meth:`recv` returned last (:attr:`routed_by_id`
        types only; libzmq numbers a SERVER's peers from 1 to 2**32-1)."""

    @abstractmethod
    def attach(self, pipe: Pipe) -> bool:
        """A pipe to a new peer exists. Return False to refuse it (PAIR's second peer);
        the kernel then closes that connection."""

    @abstractmethod
    def detach(self, pipe: Pipe) -> None:
        """The pipe is gone (peer disconnected, endpoint removed); forget it.

        Messages already in ``pipe.inq`` may still be received: the kernel keeps them.
        """

    def send(self, message: Message) -> bool:
        """Route one whole message without blocking (by default: through
        :attr:`sender`; a socket type without one cannot send, ENOTSUP).

        :returns: True if it was queued (or deliberately dropped, as PUB does), False
            if it cannot be queued now (every pipe full, or no peer yet); the kernel
            then waits or raises :class:`~mqsdk.errors.Again`.
        :raises MQError: the pattern forbids this send (e.g. REQ twice: EFSM).
        """
        sender = self.sender
        if sender is None:
            raise MQError(f"a {self.name} socket cannot send", errno.ENOTSUP)
        return bool(sender.send(message))

    def recv(self) -> QueuedMessage | None:
        """The next whole message for the user, or None if none is queued (by default:
        from :attr:`receiver`; a socket type without one cannot receive, ENOTSUP)."""
        receiver = self.receiver
        if receiver is None:
            raise MQError(f"a {self.name} socket cannot receive", errno.ENOTSUP)
        message = receiver.recv()
        self.last_pipe = receiver.last_pipe
        return message

    # option_model (from Component): this type's options, as an OptionModel whose
    # fields are declared with option() (values) and action() (write-only). The pattern
    # keeps ``socket.component_options(TheModel)`` as ``self.options`` and reads its
    # fields where it checks them: no lookup by name, no copy to keep in step.

    @classmethod
    def declared_options(cls) -> list[OptionSpec]:
        """The options of :attr:`option_model`, each with its handler: the method
        ``on_<option>(value)`` of this class, if it has one, is called after the
        validated value is stored (an :func:`~mqsdk._kernel.options.action` must have one; a
        value option may, to keep related state in step, e.g. XPUB_VERBOSE turning
        XPUB_VERBOSER off as libzmq does). A handler raising
        :class:`~mqsdk.errors.MQError` makes ``setsockopt`` raise it."""
        if cls.option_model is None:
            return []
        handlers = [name for name in dir(cls) if name.startswith("on_")]
        return specs_from_model(cls.option_model, "pattern", cls.name, handlers)

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
        """``pipe.inq`` went from empty to non-empty (called from the reading thread;
        with a :attr:`receiver`, the socket tells the receiver instead)."""
        receiver = self.receiver
        if receiver is not None:
            receiver.activate(pipe)

    def can_send(self) -> bool:
        """Would :meth:`send` succeed now? (``POLLOUT`` in ``events``)."""
        sender = self.sender
        if sender is not None:
            return sender.can_send()
        return type(self).send is not Pattern.send  # no sender: only an override sends

    def would_send(self, message: Message) -> bool:
        """Would :meth:`send` take this very message now? A blocked send waits on this
        (ROUTER: the message's destination may be full while others have room)."""
        return self.can_send()

    def can_recv(self) -> bool:
        """Would :meth:`recv` return a message now? (``POLLIN`` in ``events``)."""
        receiver = self.receiver
        return receiver is not None and receiver.can_recv()

    def join(self, group: bytes) -> None:
        """``socket.join(group)`` (DISH); ``group`` is already checked (<= 255 bytes)."""
        raise MQError(f"a {self.name} socket has no groups to join (DISH has)", errno.ENOTSUP)

    def leave(self, group: bytes) -> None:
        """``socket.leave(group)`` (DISH)."""
        raise MQError(f"a {self.name} socket has no groups to leave (DISH has)", errno.ENOTSUP)
