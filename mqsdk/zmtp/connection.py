"""One ZMTP 3.x connection as a sans-I/O state machine, in the style of h11.

A :class:`Connection` never touches a socket, a clock or a thread. Its driver (the
stream engine, :mod:`mqsdk._kernel.engine`, or a test) moves bytes and decisions in and out::

    conn = Connection(mechanism_name="NULL", as_server=False, make_mechanism=factory)
    send(conn.data_to_send())               # our greeting is queued from the start
    while True:
        conn.receive_data(recv())           # or: recv_into(conn.read_buffer()); conn.commit(n)
        send(conn.data_to_send())
        while (event := conn.next_event()) is not NEED_DATA:
            ...                             # GreetingReceived, ZapRequested, Ready...

**States** (:class:`State`) and the inputs that move between them (:class:`Input`) are
listed in one table, :data:`TRANSITIONS`; every transition is looked up there, and one
that is missing raises :class:`~mqsdk.errors.ProtocolError` naming the state and the
input (a message before the handshake ended, a ZAP reply nobody asked for, bytes after
the connection closed...). After any ``ProtocolError`` the connection is ``CLOSED``;
events queued before the error stay readable, so a driver delivers them first.

**The handshake.** After the peer's greeting the connection creates the mechanism
(``make_mechanism``) and feeds it the handshake commands. Two bounds hold while the
handshake runs, checked after every :meth:`Connection.commit` (that is, after every
read): the frame being received may not declare more than the mechanism's
``handshake_frame_limit`` (64 KiB when it sets none), and no message may be under way.
It is a check per read, not a lowered ``maxmsgsize``, because the peer's last handshake
command and its first (big) message may arrive in one read.

**ZAP.** When the mechanism asks the ZAP handler, the connection emits
:class:`ZapRequested` and holds whatever the peer sends meanwhile; the driver sends the
request (it knows the peer's address and the socket's routing id) and hands the answer
to :meth:`Connection.zap_reply`. A refusal emits :class:`ZapRefused`, after queuing the
ERROR the mechanism answers with.

**Traffic.** :class:`Ready` carries the peer's properties and the mechanism's traffic
codec (:meth:`~mqsdk._kernel.mechanism.Mechanism.traffic_codec`: ``None`` for NULL and PLAIN,
an object that boxes and unboxes each frame for CURVE). The driver chooses its data path
once, there. In ``READY`` the connection still turns bytes into :class:`MessageReceived`
and command events, which tests and simple drivers use; the stream engine does not: it
reads into :attr:`Connection.decoder` and delivers the decoder's items itself (through
the codec if there is one), so that receiving costs no event object per message. It
hands the connection only the commands (:meth:`Connection.receive_command`): PING is
answered here (the PONG is queued in :meth:`data_to_send`) and reported with the TTL
the peer asked for, for the driver's timer; PONG is reported; any other command is
passed on for the socket's pattern (SUBSCRIBE, CANCEL, JOIN...).
"""

from __future__ import annotations

import enum
import errno
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from mqsdk._kernel.mechanism import (
    HANDSHAKE_FRAME_LIMIT,
    AuthenticationFailed,
    Mechanism,
    TrafficCodec,
    ZapReply,
    ZapRequest,
)
from mqsdk.errors import MQError, ProtocolError
from mqsdk.zmtp.commands import Metadata, parse_ping, ping, pong
from mqsdk.zmtp.constants import GREETING_SIZE, PING, PONG, ProtocolErrorCode
from mqsdk.zmtp.frames import Buffer, Command, FrameDecoder, Item
from mqsdk.zmtp.greeting import GreetingParser, make_greeting

if TYPE_CHECKING:
    from mqsdk._kernel.pipe import Message


class State(enum.Enum):
    """Where a connection is in its life."""

    GREETING = "greeting"
    """Our greeting is queued; the peer's is not complete yet."""
    HANDSHAKE = "handshake"
    """The mechanism exchanges its commands."""
    ZAP_PENDING = "zap pending"
    """The mechanism waits for the ZAP handler's verdict; input is held meanwhile."""
    READY = "ready"
    """The handshake completed: messages and commands flow both ways."""
    CLOSED = "closed"
    """Ended: EOF, a protocol error, a refusal, or closed by the driver."""


class Input(enum.Enum):
    """What happens to a connection: the second key of :data:`TRANSITIONS`."""

    DATA = "bytes received"
    GREETING = "the peer's greeting"
    HANDSHAKE_COMMAND = "a handshake command"
    ZAP_REQUEST = "a ZAP request"
    ZAP_REPLY = "a ZAP reply"
    ZAP_REFUSAL = "a ZAP refusal"
    HANDSHAKE_DONE = "the handshake's end"
    MESSAGE = "a message"
    COMMAND = "a command"
    SEND = "a frame to send"
    EOF = "the peer's EOF"
    CLOSE = "a local close"
    ERROR = "a protocol error"


_S = State
_I = Input
_ENDINGS = {(state, kind): _S.CLOSED for state in _S for kind in (_I.EOF, _I.CLOSE, _I.ERROR)}
TRANSITIONS: Final[dict[tuple[State, Input], State]] = {
    (_S.GREETING, _I.DATA): _S.GREETING,
    (_S.GREETING, _I.GREETING): _S.HANDSHAKE,
    (_S.HANDSHAKE, _I.DATA): _S.HANDSHAKE,
    (_S.HANDSHAKE, _I.HANDSHAKE_COMMAND): _S.HANDSHAKE,
    (_S.HANDSHAKE, _I.ZAP_REQUEST): _S.ZAP_PENDING,
    (_S.HANDSHAKE, _I.HANDSHAKE_DONE): _S.READY,
    (_S.ZAP_PENDING, _I.DATA): _S.ZAP_PENDING,  # held until the verdict
    (_S.ZAP_PENDING, _I.ZAP_REPLY): _S.HANDSHAKE,
    (_S.ZAP_PENDING, _I.ZAP_REFUSAL): _S.CLOSED,
    (_S.READY, _I.DATA): _S.READY,
    (_S.READY, _I.MESSAGE): _S.READY,
    (_S.READY, _I.COMMAND): _S.READY,
    (_S.READY, _I.SEND): _S.READY,
    **{(state, kind): target for (state, kind), target in _ENDINGS.items() if state != _S.CLOSED},
    (_S.CLOSED, _I.CLOSE): _S.CLOSED,  # closing twice is harmless
}
"""Every legal (state, input) -> next state. Anything else raises ProtocolError."""

_REFUSALS: Final[dict[tuple[State, Input], str]] = {
    # The peer's violations get libzmq's wording; the rest the generic message.
    (_S.HANDSHAKE, _I.MESSAGE): "the peer sent a message before the handshake completed",
    (_S.ZAP_PENDING, _I.MESSAGE): "the peer sent a message before the handshake completed",
}


# -- events --------------------------------------------------------------------------------


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()
"""What :meth:`Connection.next_event` returns when nothing more can happen without input."""


@dataclass(frozen=True)
class GreetingReceived:
    """The peer's greeting arrived and was accepted (same mechanism, ZMTP 3.x)."""

    version: tuple[int, int]
    mechanism: bytes
    as_server: bool


@dataclass(frozen=True)
class ZapRequested:
    """Ask the ZAP handler; give its answer to :meth:`Connection.zap_reply`."""

    request: ZapRequest
    domain: bytes


@dataclass(frozen=True)
class ZapRefused:
    """The ZAP handler refused the peer: send what is queued (ERROR), then close."""

    error: AuthenticationFailed


@dataclass(frozen=True)
class Ready:
    """The handshake completed. ``codec`` is ``None`` for a mechanism that leaves the
    traffic as it is (NULL, PLAIN); otherwise every frame goes through it."""

    peer_metadata: Metadata
    peer_socket_type: str | None
    peer_minor: int
    user_id: bytes
    zap_metadata: Metadata
    codec: TrafficCodec | None = field(compare=False)


@dataclass(frozen=True)
class MessageReceived:
    """A message (its frames), in ``READY`` through :meth:`Connection.receive_data`."""

    frames: Message


@dataclass(frozen=True)
class PingAnswered:
    """The peer sent PING; the PONG is queued. ``ttl`` (seconds, 0 for none) is how long
    the peer lets us stay silent before it gives up: the driver times it."""

    ttl: float
    context: bytes


@dataclass(frozen=True)
class PongReceived:
    """The peer answered our PING."""

    context: bytes


@dataclass(frozen=True)
class CommandReceived:
    """A command for the socket's pattern (SUBSCRIBE, CANCEL, JOIN, LEAVE...), or one
    nobody knows (libzmq ignores those after the handshake)."""

    command: Command


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer closed the stream (EOF)."""

    mid_message: bool


Event = (
    GreetingReceived
    | ZapRequested
    | ZapRefused
    | Ready
    | MessageReceived
    | PingAnswered
    | PongReceived
    | CommandReceived
    | ConnectionClosed
)


class Connection:
    """One ZMTP connection, either side.

    :param mechanism_name: the greeting's mechanism (``"NULL"``, ``"PLAIN"``, ``"CURVE"``).
    :param as_server: the greeting's as-server byte (PLAIN/CURVE server).
    :param make_mechanism: called once the peer's greeting is accepted; may raise
        :class:`~mqsdk.errors.MQError` for an incomplete configuration.
    :param maxmsgsize: per frame, as libzmq's MAXMSGSIZE (-1: none).
    """

    def __init__(
        self,
        *,
        mechanism_name: str,
        as_server: bool,
        make_mechanism: Callable[[], Mechanism],
        maxmsgsize: int = -1,
    ) -> None:
        self.state = State.GREETING
        self.mechanism: Mechanism | None = None
        self.codec: TrafficCodec | None = None
        self.peer_minor = 1
        self.decoder = FrameDecoder(maxmsgsize)
        """Frames after the greeting; the driver reads into it directly in ``READY``."""
        self._make_mechanism = make_mechanism
        self._greeting = GreetingParser(mechanism_name)
        self._greeting_buffer = bytearray(GREETING_SIZE)
        self._events: deque[Event] = deque()
        self._outgoing: list[bytes] = [make_greeting(mechanism_name, as_server)]
        self._held: list[Item] = []  # handshake input that came while ZAP decides

    @property
    def ready(self) -> bool:
        """The handshake completed and the connection did not end."""
        return self.state is State.READY

    @property
    def closed(self) -> bool:
        """The connection ended (EOF, error, refusal, or :meth:`close`)."""
        return self.state is State.CLOSED

    # -- the transition table --------------------------------------------------------------

    def _move(self, kind: Input) -> None:
        state = self.state
        target = TRANSITIONS.get((state, kind))
        if target is None:
            self.state = State.CLOSED
            text = _REFUSALS.get((state, kind)) or (
                f"{kind.value} is not allowed while the connection is {state.value}"
            )
            raise ProtocolError(text, ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND)
        self.state = target

    def _fail(self) -> None:
        """An error ended the connection (unless an illegal move already did)."""
        if self.state is not State.CLOSED:
            self._move(Input.ERROR)

    # -- output ----------------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        """The wire bytes to write, in order (possibly empty); each piece once."""
        out = self._outgoing
        if not out:
            return out
        self._outgoing = []
        return out

    def send_ping(self, ttl_ds: int, context: bytes = b"") -> None:
        """Queue a heartbeat PING (``READY`` only); ``ttl_ds`` in deciseconds."""
        self._move(Input.SEND)
        self._queue_command(ping(ttl_ds, context))

    def send_encoded(self, frames: bytes) -> None:
        """Queue frames encoded in plain ZMTP (a pattern's greeting, SUBSCRIBE...):
        unchanged without a codec, re-encoded through it otherwise (``READY`` only)."""
        self._move(Input.SEND)
        self._queue_command(frames)

    def _queue_command(self, frames: bytes) -> None:
        codec = self.codec
        if codec is None:
            self._outgoing.append(frames)
            return
        pieces: list[Buffer] = []
        for item in FrameDecoder().feed(frames):
            if type(item) is list:
                codec.encode_message(item, pieces)
            else:
                assert isinstance(item, Command)
                pieces.append(codec.encode_command(item.name, item.data))
        self._outgoing.append(b"".join(pieces))

    # -- input -----------------------------------------------------------------------------

    def read_buffer(self) -> memoryview:
        """Where the next read should go (no copy): the rest of the peer's greeting, then
        the frame decoder's buffer. Report the count with :meth:`commit`."""
        if self.state is State.GREETING:
            return memoryview(self._greeting_buffer)[self._greeting.received :]
        return self.decoder.read_buffer()

    def receive_data(self, data: Buffer) -> None:
        """Take bytes received from the peer; ``b""`` means EOF."""
        view = memoryview(data).cast("B")
        if not view.nbytes:
            self._eof()
            return
        offset = 0
        while offset < view.nbytes:
            region = self.read_buffer()
            count = min(len(region), view.nbytes - offset)
            region[:count] = view[offset : offset + count]
            offset += count
            self.commit(count)

    def commit(self, nbytes: int) -> None:
        """``nbytes`` were written at the start of :meth:`read_buffer`: process them.

        :raises ProtocolError: the peer broke the protocol (the connection is then
            ``CLOSED``; events queued before are still returned by :meth:`next_event`).
        :raises MQError: the mechanism could not be made (incomplete configuration).
        """
        if nbytes <= 0:
            self._eof()
            return
        try:
            self._move(Input.DATA)
            if self.state is State.GREETING:
                self._receive_greeting(nbytes)
                return
            decoder = self.decoder
            try:
                items = decoder.commit(nbytes)
            except ProtocolError as exc:
                if self.state is not State.READY:
                    if exc.errno == errno.EMSGSIZE and self.mechanism is not None:
                        raise self.mechanism.oversized_command(exc) from None
                    raise
                self._traffic(decoder.decoded_before_error)
                raise
            if self.state is State.READY:
                self._traffic(items)
                return
            self._handshake(items)
            if not self.ready:
                self._bound_handshake_input()
        except MQError:  # ProtocolError, or a mechanism that could not be made
            self._fail()
            raise

    def _eof(self) -> None:
        self._move(Input.EOF)
        self._events.append(ConnectionClosed(self.decoder.has_partial))

    def _receive_greeting(self, nbytes: int) -> None:
        parser = self._greeting
        start = parser.received
        parser.feed(memoryview(self._greeting_buffer)[start : start + nbytes])
        if not parser.done:
            return
        self._move(Input.GREETING)
        version = parser.version
        assert version is not None and parser.mechanism is not None
        self.peer_minor = version[1] if version[0] == 3 else 1
        self._events.append(GreetingReceived(version, parser.mechanism, bool(parser.as_server)))
        mechanism = self.mechanism = self._make_mechanism()
        self._outgoing += mechanism.start()
        self._after_mechanism_step([])

    def _handshake(self, items: list[Item]) -> None:
        """Feed handshake commands to the mechanism, until it waits for ZAP or is done;
        what follows the handshake's end is traffic."""
        if self.state is State.ZAP_PENDING:
            for item in items:
                if type(item) is list:
                    self._move(Input.MESSAGE)  # raises: no peer may send one yet
            self._held += items
            return
        mechanism = self.mechanism
        assert mechanism is not None
        for index, item in enumerate(items):
            if type(item) is list:
                self._move(Input.MESSAGE)  # raises: the handshake is not over
            assert isinstance(item, Command)
            self._move(Input.HANDSHAKE_COMMAND)
            self._outgoing += mechanism.on_command(item)
            if self._after_mechanism_step(items[index + 1 :]):
                return

    def _after_mechanism_step(self, rest: list[Item]) -> bool:
        """Follow the mechanism after it moved: to ZAP, or to ``READY``. True if the
        handshake's command loop must stop (``rest`` is then held or traffic)."""
        mechanism = self.mechanism
        assert mechanism is not None
        request = mechanism.pending_zap
        if request is not None:
            self._move(Input.ZAP_REQUEST)
            domain = mechanism.options.get("zap_domain")
            self._held = rest
            self._events.append(ZapRequested(request, domain if isinstance(domain, bytes) else b""))
            return True
        if mechanism.done:
            self._move(Input.HANDSHAKE_DONE)
            codec = self.codec = mechanism.traffic_codec()
            self._events.append(
                Ready(
                    mechanism.peer_metadata,
                    mechanism.peer_socket_type,
                    self.peer_minor,
                    mechanism.user_id,
                    mechanism.zap_metadata,
                    codec,
                )
            )
            if rest:
                self._traffic(rest)
            return True
        return False

    def _bound_handshake_input(self) -> None:
        """Refuse, before it is buffered, what no handshake needs: a frame over the
        mechanism's limit, or a message (legitimate only after the handshake's last
        command, which would have ended the handshake already)."""
        mechanism = self.mechanism
        if mechanism is None:
            return
        decoder = self.decoder
        pending = decoder.pending_frame
        limit = mechanism.handshake_frame_limit
        if limit < 0:
            limit = HANDSHAKE_FRAME_LIMIT  # no mechanism goes unbounded
        if pending is not None and pending[0] > limit:
            error = ProtocolError(
                f"the peer declared a frame of {pending[0]} bytes during the handshake, "
                f"more than the {limit} bytes a {mechanism.name} handshake frame may have",
                ProtocolErrorCode.ZMTP_UNSPECIFIED,
            )
            error.errno = errno.EMSGSIZE
            raise mechanism.oversized_command(error)
        if decoder.message_in_progress:
            self._move(Input.MESSAGE)  # raises

    # -- ZAP ---------------------------------------------------------------------------------

    def zap_reply(self, answer: ZapReply | ProtocolError | None) -> None:
        """The ZAP handler's answer: its reply, the reply's protocol error, or ``None``
        when no handler is bound (each mechanism decides what that means).

        :raises ProtocolError: a malformed reply, or one that was not asked for.
        :raises MQError: the mechanism refuses to go on without a handler (PLAIN).
        """
        mechanism = self.mechanism
        try:
            if self.state is not State.ZAP_PENDING or mechanism is None:
                self._move(Input.ZAP_REPLY)  # raises
            assert mechanism is not None
            if isinstance(answer, ProtocolError):
                raise answer
            self._outgoing += mechanism.on_zap_reply(answer)
            refusal = mechanism.zap_refusal
            if refusal is not None:
                self._move(Input.ZAP_REFUSAL)
                self._events.append(ZapRefused(AuthenticationFailed(refusal)))
                return
            self._move(Input.ZAP_REPLY)
            held, self._held = self._held, []
            if not self._after_mechanism_step(held):
                self._handshake(held)
            if self.state is State.HANDSHAKE:
                self._bound_handshake_input()
        except MQError:  # ProtocolError too
            self._fail()
            raise

    # -- traffic -----------------------------------------------------------------------------

    def _traffic(self, items: list[Item]) -> None:
        """Items after the handshake, for drivers that use events in ``READY``."""
        codec = self.codec
        if codec is not None:
            try:
                items = codec.decode_items(items)
            except ProtocolError:
                self._traffic_items(codec.decoded_before_error)
                raise
        self._traffic_items(items)

    def _traffic_items(self, items: list[Item]) -> None:
        events = self._events
        for item in items:
            if type(item) is list:
                self._move(Input.MESSAGE)
                events.append(MessageReceived(item))
            else:
                assert isinstance(item, Command)
                events.append(self.receive_command(item))

    def receive_command(self, command: Command) -> PingAnswered | PongReceived | CommandReceived:
        """A command decoded in ``READY`` (the driver's fast path calls this directly):
        PING is answered (the PONG is queued), the rest reported.

        :raises ProtocolError: a PING without its TTL, or not ``READY``.
        """
        self._move(Input.COMMAND)
        name = command.name
        if name == PING:
            try:
                ttl_ds, context = parse_ping(command.data)
            except ProtocolError:
                self._fail()
                raise
            self._queue_command(pong(context))
            return PingAnswered(ttl_ds / 10, bytes(context))
        if name == PONG:
            return PongReceived(bytes(command.data))
        return CommandReceived(command)

    # -- events and closing ------------------------------------------------------------------

    def next_event(self) -> Event | _NeedData:
        """The next event, or :data:`NEED_DATA`."""
        if self._events:
            return self._events.popleft()
        return NEED_DATA

    def close(self) -> None:
        """The driver ended the connection (any state)."""
        self._move(Input.CLOSE)
        self._held = []


__all__ = [
    "NEED_DATA",
    "TRANSITIONS",
    "CommandReceived",
    "Connection",
    "ConnectionClosed",
    "Event",
    "GreetingReceived",
    "Input",
    "MessageReceived",
    "PingAnswered",
    "PongReceived",
    "Ready",
    "State",
    "ZapRefused",
    "ZapRequested",
]
