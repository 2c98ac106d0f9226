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
can give (see :class:`mqsdk.routing.FairQueue`).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

from mqsdk.zmtp.frames import encode_message

if TYPE_CHECKING:
    from mqsdk.engine import StreamEngine

Message = list[bytes]


class PeerInfo:
    """What the handshake told us about the peer."""

    __slots__ = ("address", "metadata", "routing_id", "socket_type")

    def __init__(
        self, socket_type: str, routing_id: bytes, address: str, metadata: dict[str, bytes]
    ) -> None:
        self.socket_type = socket_type
        self.routing_id = routing_id
        self.address = address
        self.metadata = metadata

    def __repr__(self) -> str:
        return f"<peer {self.socket_type} at {self.address or '?'} id={self.routing_id!r}>"


class Pipe:
    """Queues between one socket and one peer (see the module docstring)."""

    subscribe_to_all: ClassVar[bool] = False
    """True when no subscriptions travel on this pipe and the peer filters by itself
    (udp, pgm; libzmq's ``subscribe_to_all``): a RADIO or PUB sends it every message."""

    __slots__ = (
        "attached",
        "endpoint",
        "engine",
        "inq",
        "low_water",
        "outq",
        "owner",
        "peer",
        "rcvhwm",
        "read_paused",
        "routing_id",
        "sndhwm",
        "state",
    )

    def __init__(self, owner: Any, endpoint: str, sndhwm: int, rcvhwm: int) -> None:
        self.owner = owner  # the SocketBase; typed loosely to keep this module leaf
        self.endpoint = endpoint
        self.sndhwm = sndhwm
        self.rcvhwm = rcvhwm
        self.inq: deque[Message] = deque()
        self.outq: deque[Message] = deque()
        self.engine: StreamEngine | None = None
        self.peer: PeerInfo | None = None
        self.routing_id = b""
        self.attached = False  # known to the pattern
        self.read_paused = False  # the engine stopped reading: inq reached rcvhwm
        # Readers call drained() only once inq is this short, not on every message taken
        # from a paused pipe (a read often overshoots the HWM, so the pipe pauses often).
        self.low_water = (rcvhwm + 1) // 2  # libzmq's low-water mark
        self.state: dict[str, Any] = {}  # per-pipe scratch space for patterns

    # -- outgoing (user thread) ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """A live connection carries this pipe now (a message transport overrides this)."""
        return self.engine is not None

    def writable(self) -> bool:
        """True when one more message fits under SNDHWM (0 means no limit)."""
        return not self.sndhwm or len(self.outq) < self.sndhwm

    def write(self, message: Message) -> None:
        """Queue a message for the peer; the engine is asked to flush on empty → non-empty."""
        outq = self.outq
        outq.append(message)
        if len(outq) == 1:
            engine = self.engine
            if engine is not None:
                engine.want_flush()

    @property
    def zmtp_minor(self) -> int:
        """The peer's ZMTP minor version (0: 3.0, wants subscriptions as messages), or
        1 while not connected."""
        engine = self.engine
        return engine.peer_minor if engine is not None else 1

    def send_command(self, frame: bytes) -> bool:
        """Send an encoded command frame on the current connection.

        False if there is none, or if it has not sent the pattern's greeting yet: record
        the state first (e.g. the new subscription), then call this; a connection that
        greets later includes it through :meth:`Pattern.greet`. Exactly once either way.
        """
        engine = self.engine
        if engine is None:
            return False
        return engine.send_command(frame)

    def send_message(self, message: Message) -> bool:
        """Send a message on the current connection, outside the queue and its HWM
        (3.0-style ``01topic`` subscriptions); same rules as :meth:`send_command`."""
        engine = self.engine
        if engine is None:
            return False
        pieces: list[Any] = []
        encode_message(message, pieces)
        return engine.send_command(b"".join(pieces))

    # -- incoming (whichever thread reads the connection) ----------------------------------

    def deliver(self, messages: list[Message]) -> bool:
        """Queue decoded messages for the user; False when the engine should stop reading."""
        inq = self.inq
        inq.extend(messages)
        # Announce when nothing else is queued, looking after the append: the user's
        # thread may take the last message and forget this pipe between a look before
        # it and the append, which would leave these messages unannounced.
        if len(inq) <= len(messages):
            self.owner._pipe_readable(self)
        return not self.rcvhwm or len(inq) < self.rcvhwm

    def drained(self) -> None:
        """The user took a message from a pipe marked ``read_paused`` and left at most
        ``low_water`` in ``inq`` (user's thread): resume reading."""
        engine = self.engine
        if engine is not None and len(self.inq) <= self.low_water:
            engine.resume_reading()

    def __repr__(self) -> str:
        return f"<Pipe {self.endpoint} peer={self.peer!r} in={len(self.inq)} out={len(self.outq)}>"
