"""ZMTP 3.x constants as data: frame flags, command names, error codes, socket types.

Sources: RFC 23 / RFC 37 (framing, commands, the Socket-Type table) and libzmq's
``include/zmq.h`` (socket type numbers, ``ZMQ_PROTOCOL_ERROR_*`` values). Nothing here
is looked up per frame except the flag bits, which the decoder inlines.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

# --------------------------------------------------------------------------------------
# Frame flags (RFC 37 "Framing"). Bits 7..3 are reserved; decoders ignore them (libzmq).
# --------------------------------------------------------------------------------------

FLAG_MORE: Final = 0x01
"""More frames of the same message follow. MUST be 0 on commands (not checked on receive)."""
FLAG_LONG: Final = 0x02
"""The size field is an 8-byte big-endian unsigned integer instead of 1 byte."""
FLAG_COMMAND: Final = 0x04
"""The frame is a command, not part of a message."""

MAX_SHORT_SIZE: Final = 255
"""Largest body the 1-byte size form can carry; encoders use the short form up to here."""
MAX_FRAME_SIZE: Final = 2**63 - 1
"""Largest size a frame may declare (RFC 37)."""

GREETING_SIZE: Final = 64
"""A ZMTP 3.x greeting is always 64 bytes."""
MECHANISM_NAME_SIZE: Final = 20
"""The mechanism field of the greeting: ASCII, NUL-padded to 20 bytes."""

# --------------------------------------------------------------------------------------
# Command names (the bytes after the name-length octet of a command body).
# --------------------------------------------------------------------------------------

READY: Final = b"READY"
ERROR: Final = b"ERROR"
SUBSCRIBE: Final = b"SUBSCRIBE"
CANCEL: Final = b"CANCEL"
PING: Final = b"PING"
PONG: Final = b"PONG"
JOIN: Final = b"JOIN"
"""RADIO/DISH (draft): a DISH joins a group."""
LEAVE: Final = b"LEAVE"
"""RADIO/DISH (draft): a DISH leaves a group."""
HELLO: Final = b"HELLO"
"""PLAIN and CURVE handshake."""
WELCOME: Final = b"WELCOME"
"""PLAIN and CURVE handshake."""
INITIATE: Final = b"INITIATE"
"""PLAIN and CURVE handshake."""
MESSAGE: Final = b"MESSAGE"
"""CURVE: a boxed message part (carried in a *message* frame by libzmq, see protocols.md 2.2)."""

# --------------------------------------------------------------------------------------
# Metadata property names, canonical case (libzmq matches them case-sensitively, the RFC
# says case-insensitively: send this spelling, accept any).
# --------------------------------------------------------------------------------------

PROP_SOCKET_TYPE: Final = "Socket-Type"
PROP_IDENTITY: Final = "Identity"
PROP_RESOURCE: Final = "Resource"
PROP_USER_ID: Final = "User-Id"
PROP_PEER_ADDRESS: Final = "Peer-Address"

MAX_IDENTITY_SIZE: Final = 255
MAX_PROPERTY_VALUE_SIZE: Final = 2**31 - 1
MAX_ERROR_REASON_SIZE: Final = 255
MAX_PING_CONTEXT_SIZE: Final = 16


class ProtocolErrorCode(IntEnum):
    """libzmq's ``ZMQ_PROTOCOL_ERROR_*`` values (the member name drops that prefix).

    They are what libzmq reports with ``HANDSHAKE_FAILED_PROTOCOL`` and what
    :attr:`mqsdk.errors.ProtocolError.code` carries.
    """

    ZMTP_UNSPECIFIED = 0x10000000
    ZMTP_UNEXPECTED_COMMAND = 0x10000001
    ZMTP_INVALID_SEQUENCE = 0x10000002
    ZMTP_KEY_EXCHANGE = 0x10000003
    ZMTP_MALFORMED_COMMAND_UNSPECIFIED = 0x10000011
    ZMTP_MALFORMED_COMMAND_MESSAGE = 0x10000012
    ZMTP_MALFORMED_COMMAND_HELLO = 0x10000013
    ZMTP_MALFORMED_COMMAND_INITIATE = 0x10000014
    ZMTP_MALFORMED_COMMAND_ERROR = 0x10000015
    ZMTP_MALFORMED_COMMAND_READY = 0x10000016
    ZMTP_MALFORMED_COMMAND_WELCOME = 0x10000017
    ZMTP_INVALID_METADATA = 0x10000018
    ZMTP_CRYPTOGRAPHIC = 0x11000001
    ZMTP_MECHANISM_MISMATCH = 0x11000002
    ZAP_UNSPECIFIED = 0x20000000
    ZAP_MALFORMED_REPLY = 0x20000001
    ZAP_BAD_REQUEST_ID = 0x20000002
    ZAP_BAD_VERSION = 0x20000003
    ZAP_INVALID_STATUS_CODE = 0x20000004
    ZAP_INVALID_METADATA = 0x20000005


class SocketType(IntEnum):
    """Socket types with libzmq's numbers (``include/zmq.h``). 12 and up are draft types.

    ``SocketType.PUSH.name`` is the ZMTP ``Socket-Type`` property value.
    """

    PAIR = 0
    """One peer, both ways."""
    PUB = 1
    """Sends every message to each SUB whose subscriptions match."""
    SUB = 2
    """Receives what its PUBs publish on the topics it subscribed to."""
    REQ = 3
    """Sends a request, then receives its reply, in turn."""
    REP = 4
    """Receives a request, then sends its reply, in turn."""
    DEALER = 5
    """REQ without the turns: sends round-robin, receives fair-queued."""
    ROUTER = 6
    """Receives with the sender's routing id first; sends to the peer it names."""
    PULL = 7
    """Receives, fair-queued, what PUSH peers send."""
    PUSH = 8
    """Sends round-robin to its PULL peers."""
    XPUB = 9
    """PUB that also receives its subscribers' subscriptions."""
    XSUB = 10
    """SUB that subscribes by sending subscription messages."""
    STREAM = 11
    """Raw bytes over a stream transport, no ZMTP: each message is a routing id and data."""
    # libzmq's deprecated names (zmq.h): aliases, so iteration and .name never yield them.
    XREQ = DEALER
    """libzmq's deprecated name for DEALER."""
    XREP = ROUTER
    """libzmq's deprecated name for ROUTER."""
    SERVER = 12
    """Draft, thread-safe: replies to the CLIENT a message came from."""
    CLIENT = 13
    """Draft, thread-safe: single-frame DEALER towards SERVERs."""
    RADIO = 14
    """Draft, thread-safe: publishes single-frame messages to a group."""
    DISH = 15
    """Draft, thread-safe: receives the groups it joined from RADIOs."""
    GATHER = 16
    """Draft, thread-safe: receives, fair-queued, what SCATTERs send."""
    SCATTER = 17
    """Draft, thread-safe: sends round-robin to GATHER peers."""
    DGRAM = 18
    """Draft: UDP datagrams (libzmq's number; no mqsdk plugin provides it)."""
    PEER = 19
    """Draft, thread-safe: connects to and addresses PEERs by routing id."""
    CHANNEL = 20
    """Draft, thread-safe: PAIR for thread-safe sockets."""


SOCKET_TYPE_NAMES: Final[dict[int, str]] = {t.value: t.name for t in SocketType}
"""libzmq socket type number -> ZMTP Socket-Type name."""
SOCKET_TYPE_NUMBERS: Final[dict[str, int]] = {t.name: t.value for t in SocketType}
"""ZMTP Socket-Type name -> libzmq socket type number."""

VALID_PEERS: Final[dict[str, frozenset[str]]] = {
    "REQ": frozenset({"REP", "ROUTER"}),
    "REP": frozenset({"REQ", "DEALER"}),
    "DEALER": frozenset({"REP", "DEALER", "ROUTER"}),
    "ROUTER": frozenset({"REQ", "DEALER", "ROUTER"}),
    "PUB": frozenset({"SUB", "XSUB"}),
    "XPUB": frozenset({"SUB", "XSUB"}),
    "SUB": frozenset({"PUB", "XPUB"}),
    "XSUB": frozenset({"PUB", "XPUB"}),
    "PUSH": frozenset({"PULL"}),
    "PULL": frozenset({"PUSH"}),
    "PAIR": frozenset({"PAIR"}),
    "CLIENT": frozenset({"SERVER"}),
    "SERVER": frozenset({"CLIENT"}),
    "RADIO": frozenset({"DISH"}),
    "DISH": frozenset({"RADIO"}),
    "SCATTER": frozenset({"GATHER"}),
    "GATHER": frozenset({"SCATTER"}),
    "PEER": frozenset({"PEER"}),
    "CHANNEL": frozenset({"CHANNEL"}),
    "DGRAM": frozenset({"DGRAM"}),
}
"""Socket-Type -> the peer Socket-Types it accepts over ZMTP (RFC 37; libzmq
``mechanism.cpp`` ``check_socket_type``). STREAM is absent: it speaks no ZMTP.
Names compare exactly (case-sensitive), as libzmq does."""

__all__ = [
    "CANCEL",
    "ERROR",
    "FLAG_COMMAND",
    "FLAG_LONG",
    "FLAG_MORE",
    "GREETING_SIZE",
    "HELLO",
    "INITIATE",
    "JOIN",
    "LEAVE",
    "MAX_ERROR_REASON_SIZE",
    "MAX_FRAME_SIZE",
    "MAX_IDENTITY_SIZE",
    "MAX_PING_CONTEXT_SIZE",
    "MAX_PROPERTY_VALUE_SIZE",
    "MAX_SHORT_SIZE",
    "MECHANISM_NAME_SIZE",
    "MESSAGE",
    "PING",
    "PONG",
    "PROP_IDENTITY",
    "PROP_PEER_ADDRESS",
    "PROP_RESOURCE",
    "PROP_SOCKET_TYPE",
    "PROP_USER_ID",
    "READY",
    "SOCKET_TYPE_NAMES",
    "SOCKET_TYPE_NUMBERS",
    "SUBSCRIBE",
    "VALID_PEERS",
    "WELCOME",
    "ProtocolErrorCode",
    "SocketType",
]
