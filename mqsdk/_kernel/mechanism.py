"""The security-mechanism interface: NULL is built in, PLAIN and CURVE come as plugins.

A mechanism is sans-I/O, like the rest of :mod:`mqsdk.zmtp`: it never touches a socket.
The connection (:class:`mqsdk.zmtp.connection.Connection`, which the engine drives)
creates one once the peer's greeting arrived with our mechanism name, and drives it with
what the frame decoder yields::

    mech = MechanismClass(as_server, own_metadata, options)
    send(mech.start())                                # e.g. NULL's READY
    for item in decoded_items:
        if mech.done:          -> item is traffic (see "Traffic" below)
        elif mech.pending_zap: -> hold the item, feed it after on_zap_reply()
        elif item is a Command: send(mech.on_command(item))
        else:                  -> a message before the handshake ended: protocol error
        if mech.pending_zap is not None (newly): send a ZAP request built from it
        if mech.zap_refusal is not None: flush what was returned, then close

Items of one decoder batch can straddle the end of the handshake (a peer may send its
READY and its first message in one TCP segment), so the connection checks ``done``
between items, not per batch.

**Errors.** ``start``, ``on_command`` and ``on_zap_reply`` raise
:class:`~mqsdk.errors.ProtocolError` (``code`` = libzmq's ZMQ_PROTOCOL_ERROR_* value)
for every violation; the engine then closes the connection **without sending ERROR**,
as libzmq does. Two subclasses matter to the engine:

* :class:`~mqsdk.zmtp.commands.PeerError`: the peer sent ERROR. RFC 37 makes it
  fatal (``fatal = True``): do not reconnect.
* :class:`SocketTypeMismatch`: the peer's Socket-Type is not a valid partner. libzmq
  sends its own READY, then drops the connection without ERROR and without a
  HANDSHAKE_FAILED_PROTOCOL monitor event (protocols.md 1.6, 1.9).

**ZAP** (RFC 27) is asynchronous: a mechanism that needs the authenticator's verdict
sets :attr:`pending_zap` to a :class:`ZapRequest` and returns nothing more for now.
The engine sends ``request.frames(...)`` to ``inproc://zeromq.zap.01``, parses the reply
with :meth:`ZapReply.parse`, and calls :meth:`on_zap_reply` with it, or with ``None``
when no ZAP handler is bound (each mechanism decides what that means: NULL and CURVE
accept as libzmq does, PLAIN refuses). After a refusal :attr:`zap_refusal` holds the
reply: the engine writes the frames ``on_zap_reply`` returned (an ERROR for 400/500,
nothing for 300), closes, and reports HANDSHAKE_FAILED_AUTH with its status code.

**Traffic.** Once the handshake is done the engine asks :meth:`Mechanism.traffic_codec`
once, and picks its data path then. ``None`` (NULL, PLAIN): the engine uses
:func:`mqsdk.zmtp.encode_message`, :func:`~mqsdk.zmtp.encode_command` and the
decoder's items directly, so the mechanism costs nothing per message. A
:class:`TrafficCodec` (CURVE): all post-handshake traffic goes through its
``encode_message``, ``encode_command`` and ``decode_items`` (CURVE boxes each frame
into a MESSAGE carried in a ZMTP *message* frame, flags ``00``/``02`` with MORE never
set, with an inner flags byte: ``01`` MORE, ``02`` COMMAND; protocols.md 2.2).
"""

from __future__ import annotations

import errno as _errno
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from mqsdk._kernel.component import Component
from mqsdk.errors import MQError, ProtocolError
from mqsdk.zmtp.commands import Metadata, encode_metadata, parse_metadata
from mqsdk.zmtp.constants import (
    MAX_IDENTITY_SIZE,
    PROP_IDENTITY,
    PROP_SOCKET_TYPE,
    VALID_PEERS,
    ProtocolErrorCode,
)
from mqsdk.zmtp.frames import Buffer, Command, Item

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
"""Where a ZAP handler binds (RFC 27)."""
ZAP_VERSION = b"1.0"
HANDSHAKE_FRAME_LIMIT = 64 * 1024
"""The default :attr:`Mechanism.handshake_frame_limit`, applied to any mechanism that
sets none: an unauthenticated peer must never make us hold a frame of its choosing.
Generous for metadata (libzmq itself sets no bound: a READY or INITIATE carries
Socket-Type, an Identity of at most 255 bytes and the application's ``X-`` properties),
and small next to what a connection costs anyway."""


class SocketTypeMismatch(ProtocolError):
    """The peer's Socket-Type cannot talk to ours (RFC 37 table, protocols.md 1.9).

    The engine closes without sending ERROR (libzmq's behaviour) and, like libzmq,
    need not report HANDSHAKE_FAILED_PROTOCOL. ``errno`` is EINVAL, as in libzmq.
    """

    default_errno = _errno.EINVAL

    def __init__(self, own: str, peer: str) -> None:
        super().__init__(
            f"a {own} socket cannot talk to a {peer!r} peer; valid peers of {own} are "
            "listed in RFC 37 (check which socket types both ends use)",
            ProtocolErrorCode.ZMTP_INVALID_METADATA,
        )
        self.own = own
        self.peer = peer


class AuthenticationFailed(MQError):
    """The ZAP handler refused the peer (status 300, 400 or 500).

    The engine reports HANDSHAKE_FAILED_AUTH with :attr:`status` as the event value,
    as libzmq does. ``errno`` is EACCES.
    """

    default_errno = _errno.EACCES

    def __init__(self, reply: ZapReply) -> None:
        text = reply.status_text.decode("utf-8", "replace")
        super().__init__(
            f"the ZAP handler refused the peer: {reply.status_code.decode()} {text}".rstrip()
        )
        self.status = int(reply.status_code)
        self.reply = reply


@dataclass(frozen=True)
class ZapRequest:
    """What a mechanism asks the ZAP handler; the engine adds what it knows.

    :param mechanism: ``b"NULL"``, ``b"PLAIN"``, ``b"CURVE"``.
    :param credentials: NULL: none; PLAIN: username, password; CURVE: the client's
        long-term public key (32 bytes).
    """

    mechanism: bytes
    """``b"NULL"``, ``b"PLAIN"`` or ``b"CURVE"``."""
    credentials: tuple[bytes, ...] = ()
    """NULL: none; PLAIN: username, password; CURVE: the client's public key."""

    def frames(
        self, *, domain: bytes, address: bytes, identity: bytes, request_id: bytes = b"1"
    ) -> list[bytes]:
        """The request as sent by a DEALER-style client (empty delimiter first).

        :param domain: the socket's ZAP_DOMAIN.
        :param address: the peer's IP address as text.
        :param identity: **our own** socket's routing id (libzmq's quirk, protocols.md 2.3).
        :param request_id: libzmq always uses ``b"1"``.
        """
        return [
            b"",
            ZAP_VERSION,
            request_id,
            domain,
            address,
            identity,
            self.mechanism,
            *self.credentials,
        ]


@dataclass(frozen=True)
class ZapReply:
    """A ZAP handler's verdict; ``status_code`` is one of ``b"200"``, ``b"300"``, ``b"400"``,
    ``b"500"``."""

    status_code: bytes
    """``b"200"`` (accepted), ``b"300"`` (try later), ``b"400"`` (refused), ``b"500"``
    (the handler failed)."""
    status_text: bytes = b""
    """The handler's reason, for people."""
    user_id: bytes = b""
    """The identity the handler gives the accepted peer (its messages' ``User-Id``)."""
    metadata: Metadata = field(default_factory=Metadata)
    """Properties the handler adds to the peer's messages."""

    @property
    def ok(self) -> bool:
        """The peer is accepted (status 200)."""
        return self.status_code == b"200"

    @classmethod
    def parse(cls, frames: Sequence[bytes], request_id: bytes = b"1") -> ZapReply:
        """Validate a reply as libzmq does (``zap_client.cpp``) and return it.

        ``frames`` is the whole reply including the empty delimiter: 7 frames.

        :raises ProtocolError: with the ``ZAP_*`` code libzmq reports.
        """
        codes = ProtocolErrorCode
        if len(frames) != 7:
            raise ProtocolError(
                f"malformed ZAP reply: {len(frames)} frames instead of 7", codes.ZAP_MALFORMED_REPLY
            )
        delimiter, version, reply_id, status, text, user_id, metadata = frames
        if delimiter:
            raise ProtocolError(
                "malformed ZAP reply: the first frame must be empty", codes.ZAP_UNSPECIFIED
            )
        if version != ZAP_VERSION:
            raise ProtocolError(
                f"ZAP reply version {version!r} is not b'1.0'", codes.ZAP_BAD_VERSION
            )
        if reply_id != request_id:
            raise ProtocolError(
                f"ZAP reply id {reply_id!r} does not match the request's {request_id!r}",
                codes.ZAP_BAD_REQUEST_ID,
            )
        if status not in (b"200", b"300", b"400", b"500"):
            raise ProtocolError(
                f"ZAP status code {status!r} is not 200, 300, 400 or 500",
                codes.ZAP_INVALID_STATUS_CODE,
            )
        return cls(
            bytes(status),
            bytes(text),
            bytes(user_id),
            parse_metadata(bytes(metadata), codes.ZAP_INVALID_METADATA),
        )


class TrafficCodec(Protocol):
    """How a mechanism that protects the traffic (CURVE) encodes and decodes it after the
    handshake; see :meth:`Mechanism.traffic_codec`. Used by one connection, by one
    thread at a time (the engine's lock)."""

    decoded_before_error: list[Item]
    """After :meth:`decode_items` raised: what the batch held before the bad item, for
    the engine to deliver first (as libzmq does)."""

    def encode_message(self, frames: Sequence[Buffer], out: list[Buffer]) -> int:
        """Append the wire pieces of a message to ``out``; return their byte count."""
        ...

    def encode_command(self, name: bytes, data: bytes = b"") -> bytes:
        """Return the wire bytes of a post-handshake command (PING, SUBSCRIBE...)."""
        ...

    def decode_items(self, items: list[Item]) -> list[Item]:
        """Turn a batch of decoded wire items into plaintext messages and commands.

        Called once per decoder batch (never per frame). A multipart message split
        across batches is the codec's to reassemble.

        :raises ProtocolError: e.g. a bad box (``ZMTP_CRYPTOGRAPHIC``) or a replayed
            nonce (``ZMTP_INVALID_SEQUENCE``); see :attr:`decoded_before_error`.
        """
        ...


class Mechanism(Component, ABC):
    """One connection's security handshake (and, for CURVE, its traffic encryption).

    Subclasses set ``name`` (the greeting mechanism name, e.g. ``"PLAIN"``),
    ``number`` (libzmq's ZMQ_MECHANISM value: NULL 0, PLAIN 1, CURVE 2, GSSAPI 3) and
    implement :meth:`start` and :meth:`on_command`. The module docstring describes how
    the engine drives them.

    :param as_server: our role, from configuration (PLAIN_SERVER, CURVE_SERVER); never
        from the peer's greeting, which libzmq does not fill in.
    :param own_metadata: the properties we announce (READY, INITIATE): at least
        ``Socket-Type``; ``Identity`` when the engine wants it sent (libzmq: REQ,
        DEALER, ROUTER, even when empty); any ``X-`` application properties. Sent in
        the order given, names as given (use the canonical case).
    :param options: the socket's options by pyzmq attribute name (``zap_domain``,
        ``plain_username``, ``curve_secretkey``...). Each mechanism documents the keys
        it reads. ``peer_types`` (a collection of Socket-Type names) overrides the
        RFC 37 table for socket types it does not know.
    :raises ValueError: ``own_metadata`` lacks Socket-Type, or has an invalid name or
        Identity (over 255 bytes, or starting with a zero byte, which RFC 37 reserves).
    """

    kind: ClassVar[str] = "mechanism"
    number: ClassVar[int] = -1
    """libzmq's ZMQ_MECHANISM value (the ``mechanism`` option reads it)."""
    handshake_frame_limit: ClassVar[int] = HANDSHAKE_FRAME_LIMIT
    """Largest frame accepted during the handshake (MAXMSGSIZE applies too, if smaller).
    The engine checks each frame's declared size as soon as its header is read, before
    reading more of it; a negative value gets :data:`HANDSHAKE_FRAME_LIMIT`, never
    "unlimited". Frames after the handshake's last command are traffic: not bound by it."""

    def __init__(
        self,
        as_server: bool,
        own_metadata: Mapping[str, bytes],
        options: Mapping[str, object],
    ) -> None:
        self.as_server = as_server
        """Our role (see the ``as_server`` parameter)."""
        self.own_metadata: dict[str, bytes] = dict(own_metadata)
        """The properties we announce (see the ``own_metadata`` parameter)."""
        self.options = options
        """The socket's options by name (see the ``options`` parameter)."""
        lookup = Metadata(self.own_metadata)
        socket_type = lookup.get(PROP_SOCKET_TYPE)
        if socket_type is None:
            raise ValueError("own_metadata must contain the Socket-Type property")
        self.socket_type = socket_type.decode("ascii")
        """Our socket type's name, from ``own_metadata``."""
        identity = lookup.get(PROP_IDENTITY)
        if identity is not None and not _valid_identity(identity):
            raise ValueError(
                f"Identity {identity!r} must be at most 255 bytes and must not start "
                "with a zero byte (reserved by RFC 37)"
            )
        encode_metadata(self.own_metadata)  # validates the names early
        peer_types = options.get("peer_types")
        if isinstance(peer_types, Collection) and not isinstance(peer_types, str | bytes):
            self.peer_types: frozenset[str] | None = frozenset(str(t) for t in peer_types)
            """The peer Socket-Types accepted. None for a socket type RFC 37 does not
            list when no ``peer_types`` option says: a peer announcing any is refused."""
        else:
            self.peer_types = VALID_PEERS.get(self.socket_type)
        self._done = False
        self._peer_metadata = Metadata()
        self._pending_zap: ZapRequest | None = None
        self.zap_refusal: ZapReply | None = None
        """Set when ZAP refused the peer: flush what on_zap_reply returned, then close."""
        self.user_id: bytes = b""
        """The User-Id the ZAP handler returned (empty without ZAP)."""
        self.zap_metadata: Metadata = Metadata()
        """Metadata the ZAP handler returned, for the messages' properties."""
        self.expecting = ""
        """The handshake command expected next (``"HELLO"``, ``"INITIATE"``...), if the
        mechanism tracks it; names the error for an oversized frame."""

    # -- handshake -----------------------------------------------------------------------

    @abstractmethod
    def start(self) -> list[bytes]:
        """Return the encoded command frames to send first (may be empty).

        Called once, right after the greetings. May set :attr:`pending_zap`.
        """

    @abstractmethod
    def on_command(self, command: Command) -> list[bytes]:
        """Advance the handshake with a command from the peer; return frames to send.

        Called only while ``not done`` and ``pending_zap is None``.

        :raises ProtocolError: the command is unexpected here or malformed, or the
            peer is refused (:class:`SocketTypeMismatch`, :class:`PeerError`...).
        """

    @property
    def done(self) -> bool:
        """The handshake completed: messages may flow both ways."""
        return self._done

    @property
    def peer_metadata(self) -> Metadata:
        """The peer's properties (case-insensitive names); empty until received."""
        return self._peer_metadata

    @property
    def peer_socket_type(self) -> str | None:
        """The peer's Socket-Type, once known (libzmq accepts a READY without one)."""
        value = self._peer_metadata.get(PROP_SOCKET_TYPE)
        return None if value is None else value.decode("ascii", "replace")

    # -- ZAP -----------------------------------------------------------------------------

    @property
    def pending_zap(self) -> ZapRequest | None:
        """A request for the ZAP handler; the handshake waits until :meth:`on_zap_reply`."""
        return self._pending_zap

    def on_zap_reply(self, reply: ZapReply | None) -> list[bytes]:
        """Resume the handshake with the ZAP handler's reply; return frames to send.

        :param reply: the parsed reply, or ``None`` if no ZAP handler is bound.
        """
        raise RuntimeError(f"the {self.name} mechanism did not ask for ZAP")

    def oversized_command(self, error: ProtocolError) -> ProtocolError:
        """The error to report for a handshake frame over :attr:`handshake_frame_limit`
        (``error`` is the decoder's): libzmq's MALFORMED_COMMAND code of the command
        :attr:`expecting` names, if it has one."""
        code = _MALFORMED.get(self.expecting)
        if code is None:
            return error
        return ProtocolError(f"{self.name} {self.expecting} command too big: {error}", code)

    # -- traffic -------------------------------------------------------------------------

    def traffic_codec(self) -> TrafficCodec | None:
        """How post-handshake traffic is encoded: ``None`` (the default) leaves it as
        plain ZMTP; a mechanism that protects it returns its codec. Asked once, when
        :attr:`done` became true."""
        return None

    # -- helpers for subclasses ----------------------------------------------------------

    def accept_peer_properties(
        self, data: bytes, code: int = ProtocolErrorCode.ZMTP_INVALID_METADATA
    ) -> Metadata:
        """Parse and check the peer's property list; store it as :attr:`peer_metadata`.

        Checks the Socket-Type against :attr:`peer_types` (exact, case-sensitive
        match, as libzmq) and the Identity (at most 255 bytes, no leading zero byte).
        A missing Socket-Type is accepted, as libzmq does.

        :raises ProtocolError: malformed list (``code``) or invalid Identity
            (``ZMTP_INVALID_METADATA``); :class:`SocketTypeMismatch`.
        """
        metadata = parse_metadata(data, code)
        peer_type = metadata.get(PROP_SOCKET_TYPE)
        if peer_type is not None and (
            self.peer_types is None or peer_type.decode("ascii", "replace") not in self.peer_types
        ):
            raise SocketTypeMismatch(self.socket_type, peer_type.decode("ascii", "replace"))
        identity = metadata.get(PROP_IDENTITY)
        if identity is not None and not _valid_identity(identity):
            raise ProtocolError(
                f"the peer's Identity ({len(identity)} bytes, starting {identity[:8]!r}) is "
                "invalid: at most 255 bytes, and a leading zero byte is reserved (RFC 37)",
                ProtocolErrorCode.ZMTP_INVALID_METADATA,
            )
        self._peer_metadata = metadata
        return metadata

    def own_properties(self) -> bytes:
        """Our properties, encoded for READY or INITIATE."""
        return encode_metadata(self.own_metadata)


_MALFORMED = {
    "HELLO": ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_HELLO,
    "WELCOME": ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_WELCOME,
    "INITIATE": ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_INITIATE,
    "READY": ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_READY,
}


def _valid_identity(identity: bytes) -> bool:
    return len(identity) <= MAX_IDENTITY_SIZE and not identity.startswith(b"\x00")


__all__ = [
    "HANDSHAKE_FRAME_LIMIT",
    "ZAP_ENDPOINT",
    "ZAP_VERSION",
    "AuthenticationFailed",
    "Command",
    "Mechanism",
    "SocketTypeMismatch",
    "TrafficCodec",
    "ZapReply",
    "ZapRequest",
]
