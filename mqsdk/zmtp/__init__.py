"""ZMTP 3.1 (RFC 37, compatible with 3.0 / RFC 23) as a sans-I/O codec, in the style of h11.

Nothing here opens a socket, starts a thread or reads a clock: bytes go in, items and
bytes come out, so one implementation serves blocking, threaded and asyncio engines.

* :mod:`~mqsdk.zmtp.constants`: flag bits, command names, ``ProtocolErrorCode``,
  socket types and the valid peer pairs.
* :mod:`~mqsdk.zmtp.greeting`: :func:`make_greeting`, :class:`GreetingParser`.
* :mod:`~mqsdk.zmtp.frames`: :func:`encode_message`, :func:`encode_command`,
  :class:`FrameDecoder` (the receive hot path), :class:`Command`.
* :mod:`~mqsdk.zmtp.commands`: READY/ERROR/PING/PONG/SUBSCRIBE/CANCEL builders and
  parsers, :class:`Metadata`, :class:`PeerError`.
* :mod:`mqsdk.zmtp.null`: the NULL mechanism (import it from there; it builds on
  :mod:`mqsdk._kernel.mechanism`, which builds on this package).
* :mod:`mqsdk.zmtp.connection`: one connection as a state machine (greeting, handshake,
  ZAP, PING/PONG) that the stream engine drives; imported from there for the same reason.
"""

from __future__ import annotations

from mqsdk.zmtp.commands import (
    Metadata,
    PeerError,
    cancel,
    encode_metadata,
    error,
    parse_error,
    parse_metadata,
    parse_ping,
    parse_ready,
    ping,
    pong,
    ready,
    subscribe,
    valid_property_name,
)
from mqsdk.zmtp.constants import (
    FLAG_COMMAND,
    FLAG_LONG,
    FLAG_MORE,
    GREETING_SIZE,
    SOCKET_TYPE_NAMES,
    SOCKET_TYPE_NUMBERS,
    VALID_PEERS,
    ProtocolErrorCode,
    SocketType,
)
from mqsdk.zmtp.frames import (
    ZEROCOPY_THRESHOLD,
    Buffer,
    Command,
    FrameDecoder,
    Item,
    encode_command,
    encode_message,
)
from mqsdk.zmtp.greeting import GreetingParser, make_greeting, mechanism_field

__all__ = [
    "FLAG_COMMAND",
    "FLAG_LONG",
    "FLAG_MORE",
    "GREETING_SIZE",
    "SOCKET_TYPE_NAMES",
    "SOCKET_TYPE_NUMBERS",
    "VALID_PEERS",
    "ZEROCOPY_THRESHOLD",
    "Buffer",
    "Command",
    "FrameDecoder",
    "GreetingParser",
    "Item",
    "Metadata",
    "PeerError",
    "ProtocolErrorCode",
    "SocketType",
    "cancel",
    "encode_command",
    "encode_message",
    "encode_metadata",
    "error",
    "make_greeting",
    "mechanism_field",
    "parse_error",
    "parse_metadata",
    "parse_ping",
    "parse_ready",
    "ping",
    "pong",
    "ready",
    "subscribe",
    "valid_property_name",
]
