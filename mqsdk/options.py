"""Socket options: names, libzmq numbers, defaults and validation.

Values follow ZeroMQ's conventions: times in milliseconds, ``-1`` for "infinite" or "OS
default", HWMs in messages with ``0`` meaning no limit. The pydantic model validates a
value when it is set (``setsockopt`` is not on the per-message path), so a bad value is
refused with the option's name and the allowed range.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mqsdk.errors import ConfigError

Millis = Annotated[int, Field(ge=-1, le=2**31 - 1)]
"""Milliseconds, or -1 for infinite / unset."""
NonNegative = Annotated[int, Field(ge=0, le=2**31 - 1)]
Flag = Annotated[int, Field(ge=0, le=1)]


class SocketOptions(BaseModel):
    """The writable options every socket has, with libzmq's defaults (but ``backlog``)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=False)

    sndhwm: NonNegative = 1000
    rcvhwm: NonNegative = 1000
    linger: Millis = -1
    rcvtimeo: Millis = -1
    sndtimeo: Millis = -1
    reconnect_ivl: Millis = 100
    reconnect_ivl_max: NonNegative = 0
    routing_id: bytes = b""
    immediate: Flag = 0
    maxmsgsize: Annotated[int, Field(ge=-1, le=2**63 - 1)] = -1
    handshake_ivl: NonNegative = 30000
    heartbeat_ivl: NonNegative = 0
    heartbeat_ttl: Annotated[int, Field(ge=0, le=6553599)] = 0
    heartbeat_timeout: Millis = -1
    tcp_keepalive: Annotated[int, Field(ge=-1, le=1)] = -1
    tcp_keepalive_cnt: Millis = -1
    tcp_keepalive_idle: Millis = -1
    tcp_keepalive_intvl: Millis = -1
    ipv6: Flag = 0
    backlog: NonNegative = 1024
    """Connections the OS queues until the I/O thread takes them (``listen()``'s backlog;
    the OS may cap it: Linux at ``net.core.somaxconn``). libzmq's default is 100, enough
    for a C thread that takes each at once; a Python one can be away for milliseconds
    (another thread holds the GIL, a garbage collection, other connections), and each
    SYN that finds the queue full is dropped and retried only 1 s, 3 s, 7 s... later."""
    sndbuf: Millis = -1
    rcvbuf: Millis = -1
    multicast_hops: Annotated[int, Field(ge=1, le=255)] = 1
    multicast_loop: Flag = 1
    rate: Annotated[int, Field(ge=1, le=2**31 - 1)] = 100
    """Multicast data rate in kbit/s (pgm/epgm), as libzmq's ZMQ_RATE."""
    recovery_ivl: NonNegative = 10000
    """How long (ms) multicast data stays repairable (pgm/epgm), as ZMQ_RECOVERY_IVL."""
    multicast_maxtpdu: Annotated[int, Field(ge=64, le=65535)] = 1500
    """Largest multicast packet in bytes, IP header included (pgm/epgm)."""

    @field_validator("routing_id", mode="before")
    @classmethod
    def _routing_id(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("routing_id takes bytes; encode the str first (e.g. b'worker-1')")
        if isinstance(value, bytearray | memoryview):
            value = bytes(value)
        if isinstance(value, bytes):
            if len(value) > 255:
                raise ValueError(f"routing_id is at most 255 bytes, got {len(value)}")
            if value[:1] == b"\x00":
                raise ValueError("routing_id must not start with a zero byte (reserved by ZMTP)")
        return value


# libzmq's option numbers (include/zmq.h), so code written against pyzmq constants works.
OPTION_NUMBERS: dict[str, int] = {
    "routing_id": 5,
    "sndbuf": 11,
    "rcvbuf": 12,
    "rcvmore": 13,
    "events": 15,
    "type": 16,
    "linger": 17,
    "reconnect_ivl": 18,
    "backlog": 19,
    "reconnect_ivl_max": 21,
    "maxmsgsize": 22,
    "sndhwm": 23,
    "rcvhwm": 24,
    "rcvtimeo": 27,
    "sndtimeo": 28,
    "last_endpoint": 32,
    "tcp_keepalive": 34,
    "tcp_keepalive_cnt": 35,
    "tcp_keepalive_idle": 36,
    "tcp_keepalive_intvl": 37,
    "immediate": 39,
    "ipv6": 42,
    "handshake_ivl": 66,
    "heartbeat_ivl": 75,
    "heartbeat_ttl": 76,
    "heartbeat_timeout": 77,
    "multicast_hops": 25,
    "multicast_loop": 96,
    "rate": 8,
    "recovery_ivl": 9,
    "multicast_maxtpdu": 84,
}
# Options that belong to particular socket types, mechanisms or transports. The kernel
# only knows their libzmq numbers (so ``mqsdk.SUBSCRIBE`` and ``setsockopt(6, ...)`` work);
# the plugin that implements each one validates it.
PLUGIN_OPTION_NUMBERS: dict[str, int] = {
    "subscribe": 6,
    "unsubscribe": 7,
    "router_mandatory": 33,
    "xpub_verbose": 40,
    "mechanism": 43,
    "plain_server": 44,
    "plain_username": 45,
    "plain_password": 46,
    "curve_server": 47,
    "curve_publickey": 48,
    "curve_secretkey": 49,
    "curve_serverkey": 50,
    "probe_router": 51,
    "req_correlate": 52,
    "req_relaxed": 53,
    "conflate": 54,
    "zap_domain": 55,
    "router_handover": 56,
    "tos": 57,
    "connect_routing_id": 61,
    "xpub_nodrop": 69,
    "xpub_manual": 71,
    "xpub_welcome_msg": 72,
    "stream_notify": 73,
    "invert_matching": 74,
    "xpub_verboser": 78,
    "connect_timeout": 79,
    "vmci_buffer_size": 85,
    "vmci_buffer_min_size": 86,
    "vmci_buffer_max_size": 87,
    "vmci_connect_timeout": 88,
}

READ_ONLY_OPTIONS = frozenset({"rcvmore", "events", "type", "last_endpoint"})


def validate_defaults(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Check a mapping of default socket options (from configuration).

    Returns the validated values (coerced, e.g. ``"5"`` to 5 from TOML strings is NOT
    accepted: TOML has integers). Raises ConfigError naming each bad option.
    """
    unknown = sorted(set(values) - set(SocketOptions.model_fields))
    if unknown:
        known = ", ".join(sorted(SocketOptions.model_fields))
        raise ConfigError(
            f"socket_defaults ({source}): unknown option(s) {', '.join(unknown)}; "
            f"known options: {known}"
        )
    try:
        model = SocketOptions.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}={err.get('input')!r}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"socket_defaults ({source}): {problems}") from None
    return {name: getattr(model, name) for name in values}
