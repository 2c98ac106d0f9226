"""``zmq.constants``: libzmq's numbers as pyzmq's enums, and every member as a module name.

The enums carry pyzmq's names and libzmq's values (``include/zmq.h``): ``zmq.LINGER is
zmq.SocketOption.LINGER``, ``zmq.EVENT_CONNECTED is zmq.Event.CONNECTED``. Socket types
are mqsdk's own :class:`mqsdk.SocketType`, so ``zmq.PUSH is mqsdk.PUSH``. The members
compare equal to plain ints, so mqsdk's API takes them wherever it takes a number.
"""

from __future__ import annotations

import errno as _errno
from enum import Enum, IntEnum, IntFlag
from typing import Any

from mqsdk.errors import EFSM, EMTHREAD, ENOCOMPATPROTO, ETERM, ZMQ_HAUSNUMERO
from mqsdk.monitor import Event as _MqsdkEvent
from mqsdk.zmtp.constants import SocketType


def _system_errno(name: str, offset: int) -> int:
    # libzmq numbers an errno the platform lacks above ZMQ_HAUSNUMERO (zmq.h).
    number: int = getattr(_errno, name, ZMQ_HAUSNUMERO + offset)
    return number


class Errno(IntEnum):
    """The errnos libzmq reports: the system's, plus libzmq's own above ZMQ_HAUSNUMERO."""

    EAGAIN = _errno.EAGAIN
    EFAULT = _errno.EFAULT
    EINVAL = _errno.EINVAL
    ENOTSUP = _system_errno("ENOTSUP", 1)
    EPROTONOSUPPORT = _system_errno("EPROTONOSUPPORT", 2)
    ENOBUFS = _system_errno("ENOBUFS", 3)
    ENETDOWN = _system_errno("ENETDOWN", 4)
    EADDRINUSE = _system_errno("EADDRINUSE", 5)
    EADDRNOTAVAIL = _system_errno("EADDRNOTAVAIL", 6)
    ECONNREFUSED = _system_errno("ECONNREFUSED", 7)
    EINPROGRESS = _system_errno("EINPROGRESS", 8)
    ENOTSOCK = _system_errno("ENOTSOCK", 9)
    EMSGSIZE = _system_errno("EMSGSIZE", 10)
    EAFNOSUPPORT = _system_errno("EAFNOSUPPORT", 11)
    ENETUNREACH = _system_errno("ENETUNREACH", 12)
    ECONNABORTED = _system_errno("ECONNABORTED", 13)
    ECONNRESET = _system_errno("ECONNRESET", 14)
    ENOTCONN = _system_errno("ENOTCONN", 15)
    ETIMEDOUT = _system_errno("ETIMEDOUT", 16)
    EHOSTUNREACH = _system_errno("EHOSTUNREACH", 17)
    ENETRESET = _system_errno("ENETRESET", 18)
    EFSM = EFSM
    ENOCOMPATPROTO = ENOCOMPATPROTO
    ETERM = ETERM
    EMTHREAD = EMTHREAD


class ContextOption(IntEnum):
    """Options of ``Context.get``/``Context.set``."""

    IO_THREADS = 1
    MAX_SOCKETS = 2
    SOCKET_LIMIT = 3
    THREAD_PRIORITY = 3
    THREAD_SCHED_POLICY = 4
    MAX_MSGSZ = 5
    MSG_T_SIZE = 6
    THREAD_AFFINITY_CPU_ADD = 7
    THREAD_AFFINITY_CPU_REMOVE = 8
    THREAD_NAME_PREFIX = 9


class _OptType(Enum):
    """How an option's value travels through ``getsockopt``/``setsockopt``."""

    int = "int"
    int64 = "int64"
    bytes = "bytes"
    fd = "fd"


# Options whose value is not a C int (the rest are).
_BYTES_OPTIONS = frozenset(
    {
        5, 6, 7, 32, 38, 45, 46, 48, 49, 50, 55, 61, 63, 64, 68, 72, 92,
        95, 99, 100, 103, 104, 105, 106, 110, 111, 114,
    }
)  # fmt: skip
_INT64_OPTIONS = frozenset({4, 22, 85, 86, 87})
_FD_OPTIONS = frozenset({14})


class SocketOption(IntEnum):
    """Options of ``Socket.get``/``Socket.set``, with libzmq's numbers."""

    HWM = 1
    AFFINITY = 4
    ROUTING_ID = 5
    SUBSCRIBE = 6
    UNSUBSCRIBE = 7
    RATE = 8
    RECOVERY_IVL = 9
    SNDBUF = 11
    RCVBUF = 12
    RCVMORE = 13
    FD = 14
    EVENTS = 15
    TYPE = 16
    LINGER = 17
    RECONNECT_IVL = 18
    BACKLOG = 19
    RECONNECT_IVL_MAX = 21
    MAXMSGSIZE = 22
    SNDHWM = 23
    RCVHWM = 24
    MULTICAST_HOPS = 25
    RCVTIMEO = 27
    SNDTIMEO = 28
    LAST_ENDPOINT = 32
    ROUTER_MANDATORY = 33
    TCP_KEEPALIVE = 34
    TCP_KEEPALIVE_CNT = 35
    TCP_KEEPALIVE_IDLE = 36
    TCP_KEEPALIVE_INTVL = 37
    IMMEDIATE = 39
    XPUB_VERBOSE = 40
    ROUTER_RAW = 41
    IPV6 = 42
    MECHANISM = 43
    PLAIN_SERVER = 44
    PLAIN_USERNAME = 45
    PLAIN_PASSWORD = 46
    CURVE_SERVER = 47
    CURVE_PUBLICKEY = 48
    CURVE_SECRETKEY = 49
    CURVE_SERVERKEY = 50
    PROBE_ROUTER = 51
    REQ_CORRELATE = 52
    REQ_RELAXED = 53
    CONFLATE = 54
    ZAP_DOMAIN = 55
    ROUTER_HANDOVER = 56
    TOS = 57
    CONNECT_ROUTING_ID = 61
    GSSAPI_SERVER = 62
    GSSAPI_PRINCIPAL = 63
    GSSAPI_SERVICE_PRINCIPAL = 64
    GSSAPI_PLAINTEXT = 65
    HANDSHAKE_IVL = 66
    SOCKS_PROXY = 68
    XPUB_NODROP = 69
    BLOCKY = 70
    XPUB_MANUAL = 71
    XPUB_WELCOME_MSG = 72
    STREAM_NOTIFY = 73
    INVERT_MATCHING = 74
    HEARTBEAT_IVL = 75
    HEARTBEAT_TTL = 76
    HEARTBEAT_TIMEOUT = 77
    XPUB_VERBOSER = 78
    CONNECT_TIMEOUT = 79
    TCP_MAXRT = 80
    THREAD_SAFE = 81
    MULTICAST_MAXTPDU = 84
    VMCI_BUFFER_SIZE = 85
    VMCI_BUFFER_MIN_SIZE = 86
    VMCI_BUFFER_MAX_SIZE = 87
    VMCI_CONNECT_TIMEOUT = 88
    USE_FD = 89
    GSSAPI_PRINCIPAL_NAMETYPE = 90
    GSSAPI_SERVICE_PRINCIPAL_NAMETYPE = 91
    BINDTODEVICE = 92
    # Deprecated names: aliases of the numbers above, or numbers libzmq retired.
    IDENTITY = ROUTING_ID
    CONNECT_RID = CONNECT_ROUTING_ID
    TCP_ACCEPT_FILTER = 38
    IPC_FILTER_PID = 58
    IPC_FILTER_UID = 59
    IPC_FILTER_GID = 60
    IPV4ONLY = 31
    DELAY_ATTACH_ON_CONNECT = IMMEDIATE
    FAIL_UNROUTABLE = ROUTER_MANDATORY
    ROUTER_BEHAVIOR = ROUTER_MANDATORY
    # Draft options (libzmq 4.3.x).
    ZAP_ENFORCE_DOMAIN = 93
    LOOPBACK_FASTPATH = 94
    METADATA = 95
    MULTICAST_LOOP = 96
    ROUTER_NOTIFY = 97
    XPUB_MANUAL_LAST_VALUE = 98
    SOCKS_USERNAME = 99
    SOCKS_PASSWORD = 100
    IN_BATCH_SIZE = 101
    OUT_BATCH_SIZE = 102
    WSS_KEY_PEM = 103
    WSS_CERT_PEM = 104
    WSS_TRUST_PEM = 105
    WSS_HOSTNAME = 106
    WSS_TRUST_SYSTEM = 107
    ONLY_FIRST_SUBSCRIBE = 108
    RECONNECT_STOP = 109
    HELLO_MSG = 110
    DISCONNECT_MSG = 111
    PRIORITY = 112
    BUSY_POLL = 113
    HICCUP_MSG = 114
    XSUB_VERBOSE_UNSUBSCRIBE = 115
    TOPICS_COUNT = 116
    NORM_MODE = 117
    NORM_UNICAST_NACK = 118
    NORM_BUFFER_SIZE = 119
    NORM_SEGMENT_SIZE = 120
    NORM_BLOCK_SIZE = 121
    NORM_NUM_PARITY = 122
    NORM_NUM_AUTOPARITY = 123
    NORM_PUSH = 124

    @property
    def _opt_type(self) -> _OptType:
        """The option's value type, as pyzmq reports it (``zmq.IDENTITY._opt_type``)."""
        if self.value in _BYTES_OPTIONS:
            return _OptType.bytes
        if self.value in _INT64_OPTIONS:
            return _OptType.int64
        if self.value in _FD_OPTIONS:
            return _OptType.fd
        return _OptType.int


class MessageOption(IntEnum):
    """Properties of a message (``Frame.get``)."""

    MORE = 1
    SRCFD = 2
    SHARED = 3


class Flag(IntFlag):
    """``send``/``recv`` flags."""

    DONTWAIT = 1
    SNDMORE = 2
    NOBLOCK = DONTWAIT


class RouterNotify(IntEnum):
    """Values of the ROUTER_NOTIFY option (module names ``NOTIFY_*``)."""

    CONNECT = 1
    DISCONNECT = 2


class NormMode(IntEnum):
    """Values of the NORM_MODE option (module names ``NORM_*``)."""

    FIXED = 0
    CC = 1
    CCL = 2
    CCE = 3
    CCE_ECNONLY = 4


class SecurityMechanism(IntEnum):
    """What ``sock.get(zmq.MECHANISM)`` returns."""

    NULL = 0
    PLAIN = 1
    CURVE = 2
    GSSAPI = 3


class ReconnectStop(IntEnum):
    """Bits of the RECONNECT_STOP option (module names ``RECONNECT_STOP_*``)."""

    CONN_REFUSED = 0x1
    HANDSHAKE_FAILED = 0x2
    AFTER_DISCONNECT = 0x4


class Event(IntFlag):
    """Monitor events (module names ``EVENT_*``) and the protocol error codes libzmq
    reports with HANDSHAKE_FAILED_PROTOCOL (module names ``PROTOCOL_ERROR_*``)."""

    # The multi-bit protocol error codes come first, as in pyzmq, so that the event
    # bits below stay the canonical names of their values.
    PROTOCOL_ERROR_WS_UNSPECIFIED = 0x30000000
    PROTOCOL_ERROR_ZMTP_UNSPECIFIED = 0x10000000
    PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND = 0x10000001
    PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE = 0x10000002
    PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE = 0x10000003
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED = 0x10000011
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE = 0x10000012
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO = 0x10000013
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE = 0x10000014
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR = 0x10000015
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY = 0x10000016
    PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME = 0x10000017
    PROTOCOL_ERROR_ZMTP_INVALID_METADATA = 0x10000018
    PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC = 0x11000001
    PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH = 0x11000002
    PROTOCOL_ERROR_ZAP_UNSPECIFIED = 0x20000000
    PROTOCOL_ERROR_ZAP_MALFORMED_REPLY = 0x20000001
    PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID = 0x20000002
    PROTOCOL_ERROR_ZAP_BAD_VERSION = 0x20000003
    PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE = 0x20000004
    PROTOCOL_ERROR_ZAP_INVALID_METADATA = 0x20000005
    # The event bits are mqsdk's (mqsdk.monitor.Event, one table); the names are spelled
    # out so that type checkers know the members.
    CONNECTED = _MqsdkEvent.CONNECTED.value
    CONNECT_DELAYED = _MqsdkEvent.CONNECT_DELAYED.value
    CONNECT_RETRIED = _MqsdkEvent.CONNECT_RETRIED.value
    LISTENING = _MqsdkEvent.LISTENING.value
    BIND_FAILED = _MqsdkEvent.BIND_FAILED.value
    ACCEPTED = _MqsdkEvent.ACCEPTED.value
    ACCEPT_FAILED = _MqsdkEvent.ACCEPT_FAILED.value
    CLOSED = _MqsdkEvent.CLOSED.value
    CLOSE_FAILED = _MqsdkEvent.CLOSE_FAILED.value
    DISCONNECTED = _MqsdkEvent.DISCONNECTED.value
    MONITOR_STOPPED = _MqsdkEvent.MONITOR_STOPPED.value
    HANDSHAKE_FAILED_NO_DETAIL = _MqsdkEvent.HANDSHAKE_FAILED_NO_DETAIL.value
    HANDSHAKE_SUCCEEDED = _MqsdkEvent.HANDSHAKE_SUCCEEDED.value
    HANDSHAKE_FAILED_PROTOCOL = _MqsdkEvent.HANDSHAKE_FAILED_PROTOCOL.value
    HANDSHAKE_FAILED_AUTH = _MqsdkEvent.HANDSHAKE_FAILED_AUTH.value
    ALL_V1 = _MqsdkEvent.ALL.value
    ALL = ALL_V1
    PIPES_STATS = 0x10000  # draft
    ALL_V2 = ALL_V1 | PIPES_STATS


class PollEvent(IntFlag):
    """What ``poll`` waits for."""

    POLLIN = 1
    POLLOUT = 2
    POLLERR = 4
    POLLPRI = 8


class DeviceType(IntEnum):
    """The kinds of ``zmq.device``."""

    STREAMER = 1
    FORWARDER = 2
    QUEUE = 3


# Every member (aliases included) is also a module name, as in pyzmq: mostly the member's
# own name, with a prefix for the enums whose short names would be ambiguous.
_PREFIXES: dict[type[Enum], str] = {
    RouterNotify: "NOTIFY_",
    NormMode: "NORM_",
    ReconnectStop: "RECONNECT_STOP_",
    Event: "EVENT_",
}
_ENUMS: tuple[type[Enum], ...] = (
    ContextOption,
    DeviceType,
    Errno,
    Event,
    Flag,
    MessageOption,
    NormMode,
    PollEvent,
    ReconnectStop,
    RouterNotify,
    SecurityMechanism,
    SocketOption,
    SocketType,
)


def _module_name(enum: type[Enum], member: str) -> str:
    if enum is Event and member.startswith("PROTOCOL_ERROR_"):
        return member
    return _PREFIXES.get(enum, "") + member


_MEMBER_NAMES: dict[str, Enum] = {
    _module_name(enum, name): member for enum in _ENUMS for name, member in enum.__members__.items()
}
globals().update(_MEMBER_NAMES)


def __getattr__(name: str) -> Any:
    # Only reached for a name that is not one of the members above; it exists so that
    # type checkers accept ``from mqsdk.compat.constants import LINGER``.
    raise AttributeError(f"module 'zmq.constants' (mqsdk.compat) has no attribute {name!r}")


__all__ = [  # noqa: PLE0604
    "ContextOption",
    "DeviceType",
    "Enum",
    "Errno",
    "Event",
    "Flag",
    "IntEnum",
    "IntFlag",
    "MessageOption",
    "NormMode",
    "PollEvent",
    "ReconnectStop",
    "RouterNotify",
    "SecurityMechanism",
    "SocketOption",
    "SocketType",
    *_MEMBER_NAMES,
]
