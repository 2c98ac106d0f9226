"""ZMTP commands: build the frames we send, parse the bodies we receive.

Builders (``ready``, ``error``, ``ping``, ``pong``, ``subscribe``, ``cancel``) return a
complete command *frame* (header included), ready to write. Parsers take the
:attr:`Command.data <mqsdk.zmtp.frames.Command>` the decoder produced (the bytes after
the command name) and raise :class:`~mqsdk.errors.ProtocolError` with libzmq's code.

Metadata (READY, PLAIN/CURVE INITIATE, ZAP replies; RFC 37 "Connection Metadata")::

    property = name-len(1) name(1..255 of ALPHA DIGIT - _ . +) value-len(4, BE) value

Names are kept as sent but looked up case-insensitively (:class:`Metadata`); libzmq
compares them case-sensitively, so we always *send* the canonical spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from struct import Struct

from mqsdk.errors import ProtocolError
from mqsdk.zmtp.constants import (
    CANCEL,
    ERROR,
    JOIN,
    LEAVE,
    MAX_ERROR_REASON_SIZE,
    MAX_PING_CONTEXT_SIZE,
    MAX_PROPERTY_VALUE_SIZE,
    PING,
    PONG,
    READY,
    SUBSCRIBE,
    ProtocolErrorCode,
)
from mqsdk.zmtp.frames import encode_command

_U32 = Struct(">I")
_U16 = Struct(">H")
_NAME_RE = re.compile(rb"[A-Za-z0-9\-_.+]{1,255}")


class Metadata(Mapping[str, bytes]):
    """Connection properties: names keep their case, lookups ignore it.

    ``md["socket-type"]`` finds ``"Socket-Type"``; iteration yields the names as sent.
    A later property with the same name (in any case) replaces an earlier one.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, bytes] | Iterable[tuple[str, bytes]] = ()) -> None:
        self._items: dict[str, tuple[str, bytes]] = {}
        pairs = items.items() if isinstance(items, Mapping) else items
        for name, value in pairs:
            self._items[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> bytes:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {value!r}" for name, value in self._items.values())
        return f"Metadata({{{inner}}})"


class PeerError(ProtocolError):
    """The peer sent an ERROR command: the handshake failed for good.

    RFC 37 makes ERROR fatal: do not reconnect with the same configuration
    (:attr:`fatal`). :attr:`reason` is the peer's text (libzmq sends a ZAP status code
    such as ``b"400"``); :attr:`status_code` is that code as an int when the reason is
    ``300``, ``400`` or ``500`` (libzmq then reports HANDSHAKE_FAILED_AUTH), else None.
    """

    fatal = True

    def __init__(self, reason: bytes) -> None:
        text = reason.decode("ascii", "backslashreplace")
        super().__init__(
            f"the peer refused the connection with an ERROR command: {text!r}; "
            "it will not accept this connection, check its security configuration",
            ProtocolErrorCode.ZMTP_UNSPECIFIED,
        )
        self.reason = reason
        self.status_code: int | None = (
            int(reason) if len(reason) == 3 and reason in (b"300", b"400", b"500") else None
        )


# --------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------


def valid_property_name(name: str | bytes) -> bool:
    """True if ``name`` is 1..255 characters of ``ALPHA DIGIT - _ . +`` (RFC 37)."""
    raw = name.encode("ascii", "replace") if isinstance(name, str) else name
    return _NAME_RE.fullmatch(raw) is not None


def encode_metadata(properties: Mapping[str, bytes]) -> bytes:
    """Encode properties in the order given.

    :raises ValueError: a name is not a valid property name, or a value is longer than
        2**31-1 bytes.
    """
    parts: list[bytes] = []
    for name, value in properties.items():
        if not valid_property_name(name):
            raise ValueError(
                f"metadata property name {name!r} must be 1..255 characters of "
                "letters, digits, '-', '_', '.', '+'"
            )
        if len(value) > MAX_PROPERTY_VALUE_SIZE:
            raise ValueError(f"metadata property {name!r} is longer than 2**31-1 bytes")
        raw = name.encode("ascii")
        parts.append(bytes((len(raw),)) + raw + _U32.pack(len(value)) + bytes(value))
    return b"".join(parts)


def parse_metadata(data: bytes, code: int = ProtocolErrorCode.ZMTP_INVALID_METADATA) -> Metadata:
    """Parse a property list.

    :param code: the ``ProtocolError.code`` for a malformed list: the default
        ``ZMTP_INVALID_METADATA`` suits READY/INITIATE, ``ZAP_INVALID_METADATA`` a ZAP reply.
    :raises ProtocolError: a name length or value length runs past the data, a name is
        empty or has characters outside ``ALPHA DIGIT - _ . +``, or a value is declared
        longer than 2**31-1 bytes.
    """
    items: list[tuple[str, bytes]] = []
    size = len(data)
    pos = 0
    while pos < size:
        name_len = data[pos]
        name_end = pos + 1 + name_len
        if name_end + 4 > size:
            raise ProtocolError(
                f"malformed metadata: property at offset {pos} runs past the end ({size} bytes)",
                code,
            )
        raw_name = data[pos + 1 : name_end]
        if _NAME_RE.fullmatch(raw_name) is None:
            raise ProtocolError(f"malformed metadata: invalid property name {raw_name!r}", code)
        value_len = _U32.unpack_from(data, name_end)[0]
        if value_len > MAX_PROPERTY_VALUE_SIZE:
            raise ProtocolError(
                f"malformed metadata: property {raw_name!r} declares {value_len} bytes, "
                "more than 2**31-1",
                code,
            )
        value_end = name_end + 4 + value_len
        if value_end > size:
            raise ProtocolError(
                f"malformed metadata: the value of {raw_name!r} runs past the end "
                f"({value_len} bytes declared, {size - name_end - 4} present)",
                code,
            )
        items.append((raw_name.decode("ascii"), bytes(data[name_end + 4 : value_end])))
        pos = value_end
    return Metadata(items)


# --------------------------------------------------------------------------------------
# Builders: complete command frames
# --------------------------------------------------------------------------------------


def ready(metadata: Mapping[str, bytes]) -> bytes:
    """``READY`` with these properties (order kept; send canonical names)."""
    return encode_command(READY, encode_metadata(metadata))


def error(reason: bytes | str) -> bytes:
    """``ERROR`` with ``reason`` (str is UTF-8 encoded), truncated to 255 bytes."""
    raw = reason.encode() if isinstance(reason, str) else bytes(reason)
    raw = raw[:MAX_ERROR_REASON_SIZE]
    return encode_command(ERROR, bytes((len(raw),)) + raw)


def ping(ttl_ds: int = 0, context: bytes = b"") -> bytes:
    """``PING`` with a TTL in deciseconds (0..65535) and up to 16 context bytes.

    :raises ValueError: ``ttl_ds`` out of range or ``context`` over 16 bytes.
    """
    if not 0 <= ttl_ds <= 0xFFFF:
        raise ValueError(f"PING ttl {ttl_ds} (deciseconds) is outside 0..65535")
    if len(context) > MAX_PING_CONTEXT_SIZE:
        raise ValueError(f"PING context has {len(context)} bytes; at most 16 are allowed")
    return encode_command(PING, _U16.pack(ttl_ds) + context)


def pong(context: bytes = b"") -> bytes:
    """``PONG`` echoing a PING's context, truncated to 16 bytes as libzmq does."""
    return encode_command(PONG, bytes(context[:MAX_PING_CONTEXT_SIZE]))


def subscribe(topic: bytes) -> bytes:
    """``SUBSCRIBE`` (ZMTP 3.1 peers; a 3.0 peer wants a ``01``-prefixed message instead)."""
    return encode_command(SUBSCRIBE, topic)


def cancel(topic: bytes) -> bytes:
    """``CANCEL`` (ZMTP 3.1 peers; a 3.0 peer wants a ``00``-prefixed message instead)."""
    return encode_command(CANCEL, topic)


def join(group: bytes) -> bytes:
    """``04 len 04 JOIN group``: a DISH joins a group (RFC 48; libzmq ``dish.cpp``)."""
    return encode_command(JOIN, group)


def leave(group: bytes) -> bytes:
    """``04 len 05 LEAVE group``: a DISH leaves a group."""
    return encode_command(LEAVE, group)


# --------------------------------------------------------------------------------------
# Parsers: Command.data -> values
# --------------------------------------------------------------------------------------


def parse_ready(data: bytes) -> Metadata:
    """The properties of a READY body.

    :raises ProtocolError: ``ZMTP_INVALID_METADATA`` for a malformed property list.
    """
    return parse_metadata(data, ProtocolErrorCode.ZMTP_INVALID_METADATA)


def parse_error(data: bytes) -> bytes:
    """The reason of an ERROR body (bytes after the reason are ignored, as libzmq does).

    :raises ProtocolError: ``ZMTP_MALFORMED_COMMAND_ERROR`` if the reason length byte
        is missing or runs past the body.
    """
    if not data or data[0] > len(data) - 1:
        raise ProtocolError(
            f"malformed ERROR command: {len(data)} bytes cannot hold the reason it declares",
            ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_ERROR,
        )
    return bytes(data[1 : 1 + data[0]])


def parse_ping(data: bytes) -> tuple[int, bytes]:
    """``(ttl_ds, context)`` of a PING body. The context is returned whole; ``pong``
    truncates it to 16 bytes.

    :raises ProtocolError: ``ZMTP_MALFORMED_COMMAND_UNSPECIFIED`` if the 2-byte TTL is
        missing.
    """
    if len(data) < 2:
        raise ProtocolError(
            f"malformed PING command: {len(data)} bytes, the 2-byte TTL is missing",
            ProtocolErrorCode.ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
        )
    return _U16.unpack_from(data)[0], bytes(data[2:])


__all__ = [
    "Metadata",
    "PeerError",
    "cancel",
    "encode_metadata",
    "error",
    "join",
    "leave",
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
