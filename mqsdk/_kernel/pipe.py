"""A pipe: the two message queues between a socket and one peer.

``outq`` holds whole messages (lists of frames) the pattern routed to this peer and the
engine has not encoded yet; ``inq`` holds whole messages the engine decoded and the user
has not received yet. HWMs count messages, as libzmq's do. Encoded bytes waiting for the
OS socket live in the engine and no longer count.

A pipe outlives its connection on the connecting side: messages queued while the peer is
away wait in ``outq`` and leave when the engine reconnects (not with ``immediate``).

Threads: the owning user thread and the I/O thread both touch a pipe. Every step is a
single deque operation or attribute store (atomic under the GIL); the only multi-step
sequences are "append, then announce if the queue now holds nothing older", judged
*after* the append (judged before it, a reader emptying the queue in between would leave
the new messages unannounced). The readers tolerate the duplicate announcements this
can give (see :class:`mqsdk._kernel.routing.FairQueue`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from mypy_extensions import mypyc_attr

from mqsdk.zmtp.frames import Command, FrameDecoder, encode_message

if TYPE_CHECKING:
    from mqsdk._kernel.engine import StreamEngine
    from mqsdk._kernel.handle import SocketHandle

Message: TypeAlias = list[bytes]
"""A message as patterns handle it: its frames, in order. A frame sent with
``copy=False`` may be a memoryview (inproc hands it over as it is): code compiled with the
kernel reads frames through a ``list[Any]`` view of the list (``frames: list[Any] =
message``), since compiled code checks the element type of a ``list[bytes]`` it indexes."""
QueuedMessage: TypeAlias = bytes | list[bytes]
"""A message as pipes queue it: a list of frames, or, on the single-frame lane, one frame
as bare ``bytes``. The lane saves a list per message (and the cyclic garbage collector the
work of tracking it); only patterns that declare it see bare frames
(:attr:`Pattern.receives_bytes <mqsdk._kernel.pattern.Pattern.receives_bytes>`,
:attr:`~mqsdk._kernel.pattern.Pattern.sends_bytes`). ``type(m) is bytes`` tells the forms
apart: a single frame of another type (a memoryview sent with ``copy=False``) stays a list."""


def as_frames(message: QueuedMessage) -> Message:
    """``message`` as a list of frames, whichever form it was queued in."""
    return [message] if isinstance(message, bytes) else message


def first_frame(frames: list[Any]) -> Any:
    """The first of a message's frames, whatever its type (see :data:`Message`: compiled
    code indexing a ``list[bytes]`` would refuse a memoryview)."""
    return frames[0]


class PeerInfo:
    """What the handshake told us about the peer."""

    __slots__ = ("address", "metadata", "routing_id", "socket_type")

    def __init__(
        self, socket_type: str, routing_id: bytes, address: str, metadata: dict[str, bytes]
    ) -> None:
        self.socket_type = socket_type
        """The peer's socket type name (``"PULL"``)."""
        self.routing_id = routing_id
        """The routing id the peer announced (empty: none)."""
        self.address = address
        """The peer's address as text (the transport's ``peer_address``; may be empty)."""
        self.metadata = metadata
        """Every property of the peer's READY (or the transport's equivalent), by name."""

    def __repr__(self) -> str:
        return f"<peer {self.socket_type} at {self.address or '?'} id={self.routing_id!r}>"


@mypyc_attr(allow_interpreted_subclasses=True)
class Pipe:
    """Queues between one socket and one peer: the contract every connection implements.

    The kernel's :class:`StreamPipe` carries a ZMTP (or raw) connection; a message
    transport (inproc, udp, pgm) subclasses this class for its own. The pattern sees only
    what is declared here:

    * ``outq``/``inq``, ``sndhwm``/``rcvhwm``, ``peer``, ``endpoint``, ``routing_id``,
      ``state`` (the pattern's scratch space), ``attached``, ``outgoing``;
    * :attr:`connected`, :meth:`writable`, :meth:`write`, :meth:`send_command`,
      :meth:`send_message`, :meth:`drained`, :meth:`close_connection`, :attr:`zmtp_minor`.

    A transport's pipe overrides the connection side (``connected``, ``write`` and its
    flushing, ``send_command``, ``drained``...) and fills ``inq`` with :meth:`deliver`,
    which is the kernel's (it announces the pipe to the socket at the right moment).
    ``owner`` is the :class:`~mqsdk._kernel.handle.SocketHandle` of the socket the pipe belongs to.
    """

    subscribe_to_all: ClassVar[bool] = False
    """True when no subscriptions travel on this pipe and the peer filters by itself
    (udp, pgm; libzmq's ``subscribe_to_all``): a RADIO or PUB sends it every message."""

    __slots__ = (
        "attached",
        "endpoint",
        "inq",
        "low_water",
        "outgoing",
        "outq",
        "owner",
        "peer",
        "rcvhwm",
        "read_paused",
        "routing_id",
        "sndhwm",
        "state",
    )

    def __init__(
        self,
        owner: SocketHandle,
        endpoint: str,
        sndhwm: int,
        rcvhwm: int,
        *,
        outgoing: bool = False,
    ) -> None:
        self.owner = owner
        """The :class:`~mqsdk._kernel.handle.SocketHandle` of the socket it belongs to."""
        self.endpoint = endpoint
        """The endpoint it belongs to, as bound or connected."""
        self.sndhwm = sndhwm
        """Messages ``outq`` holds before :meth:`writable` says no (0: no limit)."""
        self.rcvhwm = rcvhwm
        """Messages ``inq`` holds before the connection stops reading (0: no limit)."""
        self.inq: deque[QueuedMessage] = deque()
        """Messages received from the peer, oldest first (filled by :meth:`deliver`)."""
        self.outq: deque[QueuedMessage] = deque()
        """Messages waiting for the connection to send them (filled by :meth:`write`)."""
        self.peer: PeerInfo | None = None
        """What the handshake told about the peer; None before it completes."""
        self.routing_id = b""
        """The id the socket's pattern routes this peer by (ROUTER, SERVER...)."""
        self.outgoing = outgoing
        """Made by ``connect()`` on this side (ROUTER's handover rules tell them apart)."""
        self.attached = False
        """Known to the pattern (attached and not detached yet)."""
        self.read_paused = False
        """The connection stopped reading: ``inq`` reached ``rcvhwm``."""
        # Readers call drained() only once inq is this short, not on every message taken
        # from a paused pipe (a read often overshoots the HWM, so the pipe pauses often).
        self.low_water = (rcvhwm + 1) // 2
        """libzmq's low-water mark: a paused pipe resumes once ``inq`` is this short."""
        self.state: dict[str, Any] = {}
        """Per-pipe scratch space for the pattern."""

    # -- outgoing (user thread) ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """A live connection carries this pipe now."""
        return False

    def writable(self) -> bool:
        """True when one more message fits under SNDHWM (0 means no limit)."""
        return not self.sndhwm or len(self.outq) < self.sndhwm

    def write(self, message: QueuedMessage) -> None:
        """Queue a message for the peer (the connection takes it from ``outq``). A bare
        ``bytes`` is a single-frame message (a pattern that :attr:`sends_bytes
        <mqsdk._kernel.pattern.Pattern.sends_bytes>`): a transport that handles frames
        itself must accept both forms."""
        self.outq.append(message)

    @property
    def zmtp_minor(self) -> int:
        """The peer's ZMTP minor version (0: 3.0, wants subscriptions as messages), 1
        when not connected or not ZMTP."""
        return 1

    def send_command(self, frame: bytes) -> bool:
        """Send an encoded command frame on the current connection.

        False if there is none, or if it has not sent the pattern's greeting yet: record
        the state first (e.g. the new subscription), then call this; a connection that
        greets later includes it through :meth:`Pattern.greet`. Exactly once either way.
        """
        return False

    def send_message(self, message: Message) -> bool:
        """Send a message on the current connection, outside the queue and its HWM
        (3.0-style ``01topic`` subscriptions); same rules as :meth:`send_command`."""
        return False

    def close_connection(self, reason: str) -> None:
        """Drop the current connection (a peer that broke the pattern's rules); any
        thread. The socket reports it and, for ``connect()``, reconnects. A message
        transport without connections to drop keeps the default, which does nothing."""

    # -- incoming (whichever thread reads the connection) ----------------------------------

    def deliver(self, messages: Sequence[QueuedMessage]) -> bool:
        """Queue decoded messages for the user; False when the reader should stop
        reading (``inq`` reached RCVHWM)."""
        inq = self.inq
        inq.extend(messages)
        # Announce when nothing else is queued, looking after the append: the user's
        # thread may take the last message and forget this pipe between a look before
        # it and the append, which would leave these messages unannounced.
        if len(inq) <= len(messages):
            self.owner.pipe_readable(self)
        return not self.rcvhwm or len(inq) < self.rcvhwm

    def receive_encoded(self, data: bytes) -> None:
        """Take ZMTP-encoded frames (a peer pattern's greeting or command, from
        :meth:`SocketHandle.greeting` or :meth:`send_command`) as if they had arrived
        on a wire: commands go to this socket's pattern, messages into ``inq``. For
        message transports that connect two sockets of one process (inproc)."""
        messages: list[QueuedMessage] = []
        owner = self.owner
        for item in FrameDecoder().feed(data):
            if isinstance(item, Command):
                owner.deliver_command(self, item)
            else:
                messages.append(item)
        if messages:
            self.deliver(messages)

    def drained(self) -> None:
        """The user took a message from a pipe marked ``read_paused`` and left at most
        ``low_water`` in ``inq`` (user's thread): resume reading."""

    def __repr__(self) -> str:
        queues = f"in={len(self.inq)} out={len(self.outq)}"
        return f"<{type(self).__name__} {self.endpoint} peer={self.peer!r} {queues}>"


class StreamPipe(Pipe):
    """The kernel's pipe over a ZMTP (or raw) byte-stream connection, ``engine``.

    On the connecting side it outlives its connection: messages queued while the peer is
    away wait in ``outq`` and leave when the engine reconnects (not with ``immediate``).
    """

    __slots__ = ("engine",)

    def __init__(
        self,
        owner: SocketHandle,
        endpoint: str,
        sndhwm: int,
        rcvhwm: int,
        *,
        outgoing: bool = False,
    ) -> None:
        super().__init__(owner, endpoint, sndhwm, rcvhwm, outgoing=outgoing)
        self.engine: StreamEngine | None = None

    @property
    def connected(self) -> bool:
        return self.engine is not None

    def write(self, message: QueuedMessage) -> None:
        """Queue a message; the engine is asked to flush on empty → non-empty."""
        outq = self.outq
        outq.append(message)
        if len(outq) == 1:
            engine = self.engine
            if engine is not None:
                engine.want_flush()

    @property
    def zmtp_minor(self) -> int:
        engine = self.engine
        return engine.peer_minor if engine is not None else 1

    def send_command(self, frame: bytes) -> bool:
        engine = self.engine
        if engine is None:
            return False
        return engine.send_command(frame)

    def send_message(self, message: Message) -> bool:
        engine = self.engine
        if engine is None:
            return False
        pieces: list[Any] = []
        encode_message(message, pieces)
        return engine.send_command(b"".join(pieces))

    def close_connection(self, reason: str) -> None:
        engine = self.engine
        if engine is not None:
            engine.reactor.call_soon(engine.close, reason)

    def drained(self) -> None:
        engine = self.engine
        if engine is not None and len(self.inq) <= self.low_water:
            engine.resume_reading()
