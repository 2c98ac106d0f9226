"""Socket options: how components declare them, and the kernel's own.

Every component owns the options it uses: the kernel the generic ones below (HWMs,
timeouts, routing id...) and the generic security ones (:mod:`mqsdk._kernel.security`), a
transport, a mechanism or a pattern its own pydantic model
(:attr:`mqsdk._kernel.component.Component.option_model`). Each field of an option model is
declared with :func:`option` (a value) or :func:`action` (write-only: setting it makes
the pattern do something, as ``subscribe`` does), the one place for its name, libzmq
number, default, validation and documentation. The registry merges the kernel's, the
socket type's, every transport's and every mechanism's into one :class:`OptionTable`
per socket type, which gives ``set``/``get`` by name or number and the socket's option
attributes.

Values follow ZeroMQ's conventions: times in milliseconds, ``-1`` for "infinite" or "OS
default", HWMs in messages with ``0`` meaning no limit. A model validates a value when it
is set (``setsockopt`` is not on the per-message path), so a bad value is refused with the
option's name and the allowed range.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mqsdk.errors import ConfigError

Millis = Annotated[int, Field(ge=-1, le=2**31 - 1)]
"""Milliseconds, or -1 for infinite / unset."""
NonNegative = Annotated[int, Field(ge=0, le=2**31 - 1)]
"""A count or size: 0 up to a C int's largest value."""
Flag = Annotated[int, Field(ge=0, le=1)]
"""0 or 1."""

_NUMBER_KEY = "zmq_option"
_WRITE_ONLY_KEY = "write_only"
_SELECTS_KEY = "selects_mechanism"
_AS_SERVER_KEY = "as_server"


def option(
    default: Any,
    *,
    number: int | None,
    doc: str = "",
    selects_mechanism: str | None = None,
    as_server: bool | None = None,
    **constraints: Any,
) -> Any:
    """Declare one field of an :class:`OptionModel`: its default, libzmq option number
    (``None`` for an mqsdk-only option), documentation, and pydantic constraints
    (``ge=``, ``le=``...).

    A security option names the mechanism it selects, as libzmq's rule goes: setting it
    to a true value (1, a non-empty credential, a key) makes the socket use
    ``selects_mechanism`` with the role ``as_server`` (``None``: the role stays as it
    is); setting it to a false value (0, empty) goes back to NULL. An option with
    ``as_server=True`` reads back whether the socket is that mechanism's server now
    (``plain_server`` reads 0 once ``curve_server`` was set).
    """
    extra: dict[str, Any] = {_NUMBER_KEY: number}
    if selects_mechanism is not None:
        extra[_SELECTS_KEY] = selects_mechanism
        extra[_AS_SERVER_KEY] = as_server
    elif as_server is not None:
        raise TypeError("as_server= is meaningful only with selects_mechanism=")
    return Field(default, description=doc or None, json_schema_extra=extra, **constraints)


def action(*, number: int | None, doc: str = "", **constraints: Any) -> Any:
    """Declare a write-only field of a pattern's :class:`OptionModel`: setting it runs
    the pattern's handler, the method named ``on_<field name>`` (``subscribe`` calls
    ``on_subscribe(value)`` with the validated value); reading it is EINVAL, as in
    libzmq. The field's type validates the value."""
    extra: dict[str, Any] = {_NUMBER_KEY: number, _WRITE_ONLY_KEY: True}
    return Field(b"", description=doc or None, json_schema_extra=extra, **constraints)


class OptionModel(BaseModel):
    """Base of the option models components declare (see :func:`option`).

    One instance per socket holds the values; validation runs on every assignment.
    A component reads its values as attributes of that instance (a plain attribute
    read, cheap enough for a per-message check).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=False)
    """Unknown fields are refused, and every assignment is validated."""

    def read_option(self, name: str) -> Any:
        """The value ``getsockopt`` gives for field ``name``; override to give a stored
        value in another form (CURVE keys are stored raw and read back as Z85)."""
        return getattr(self, name)

    def reset_option(self, name: str) -> None:
        """Give field ``name`` its declared default again, which need not pass the
        field's validation (ROUTER's ``connect_routing_id`` is used up by the connect it
        names, and libzmq refuses an empty one from the user)."""
        self.__dict__[name] = type(self).model_fields[name].default


OptionKind = Literal[
    "kernel", "pattern", "transport", "mechanism", "security", "read-only", "unsupported"
]


@dataclass(frozen=True)
class OptionSpec:
    """One option as a socket sees it: who owns it and where its value lives.

    ``model`` is the :class:`OptionModel` holding the value (kernel, transport,
    mechanism, pattern); ``None`` for the read-only socket state (``rcvmore``...) and
    the ``mechanism`` read-back. ``handler`` names the pattern method called after the
    value is set (``on_subscribe``; required for a ``write_only`` action).
    ``value_type`` says what the value is for a spec without a model, for the docs'
    option table (a model's field says it otherwise).
    """

    name: str
    number: int | None
    kind: OptionKind
    owner: str
    doc: str = ""
    default: Any = None
    model: type[OptionModel] | None = None
    write_only: bool = False
    selects_mechanism: str | None = None
    as_server: bool | None = None
    handler: str | None = None
    value_type: str = ""


def specs_from_model(
    model: type[OptionModel], kind: OptionKind, owner: str, handlers: Iterable[str] = ()
) -> list[OptionSpec]:
    """The specs an option model declares, in field order. ``handlers`` are the
    ``on_<name>`` methods the owner (a pattern) provides."""
    available = set(handlers)
    specs = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        number = extra.get(_NUMBER_KEY)
        selects = extra.get(_SELECTS_KEY)
        as_server = extra.get(_AS_SERVER_KEY)
        write_only = extra.get(_WRITE_ONLY_KEY) is True
        handler = f"on_{name}" if f"on_{name}" in available else None
        if write_only and handler is None:
            raise TypeError(
                f"{owner} declares the action option {name!r} but has no on_{name} method"
            )
        specs.append(
            OptionSpec(
                name,
                number if isinstance(number, int) else None,
                kind,
                owner,
                info.description or "",
                None if write_only else info.default,
                model,
                write_only,
                selects if isinstance(selects, str) else None,
                as_server if isinstance(as_server, bool) else None,
                handler,
            )
        )
    return specs


ALIASES: Mapping[str, tuple[str, ...]] = {
    # pyzmq's other names: IDENTITY is ROUTING_ID's libzmq 3 name; HWM sets both.
    "identity": ("routing_id",),
    "hwm": ("sndhwm", "rcvhwm"),
}


@dataclass
class OptionTable:
    """Every option one socket type has, merged from the components that declare them.

    Built once per socket type by the registry; read by ``set``/``get`` and by the
    socket's option attributes. A name two components declare keeps the first
    declaration (kernel, then pattern, transports, mechanisms) and the conflict is
    listed in :attr:`conflicts`; so is a libzmq number two names claim (the first
    name keeps it).
    """

    specs: dict[str, OptionSpec] = field(default_factory=dict)
    by_number: dict[int, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    @classmethod
    def merge(cls, groups: Iterable[Iterable[OptionSpec]]) -> OptionTable:
        table = cls()
        for group in groups:
            for spec in group:
                first = table.specs.get(spec.name)
                if first is not None:
                    if first.model is not spec.model or first.number != spec.number:
                        table.conflicts.append(
                            f"{spec.name} declared by {first.kind} {first.owner} and "
                            f"{spec.kind} {spec.owner}"
                        )
                    continue
                if spec.number is not None:
                    holder = table.by_number.get(spec.number)
                    if holder is not None:
                        other = table.specs[holder]
                        table.conflicts.append(
                            f"number {spec.number} declared for {holder} by {other.kind} "
                            f"{other.owner} and for {spec.name} by {spec.kind} {spec.owner}"
                        )
                        continue
                    table.by_number[spec.number] = spec.name
                table.specs[spec.name] = spec
        return table

    @property
    def models(self) -> list[type[OptionModel]]:
        """The option models whose values a socket of this type holds."""
        seen: dict[type[OptionModel], None] = {}
        for spec in self.specs.values():
            if spec.model is not None:
                seen.setdefault(spec.model)
        return list(seen)

    def models_of(self, kinds: Iterable[OptionKind]) -> list[type[OptionModel]]:
        """The option models that declare options of these ``kinds``."""
        wanted = set(kinds)
        seen: dict[type[OptionModel], None] = {}
        for spec in self.specs.values():
            if spec.model is not None and spec.kind in wanted:
                seen.setdefault(spec.model)
        return list(seen)

    def names(self) -> list[str]:
        return [*self.specs, *ALIASES]

    def suggest(self, name: str) -> str:
        """`` (did you mean 'rcvtimeo'?)`` for a near miss, else ``""``."""
        close = difflib.get_close_matches(name.lower(), self.names(), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""


class KernelOptions(OptionModel):
    """The options every socket has, whatever its type and transports, with libzmq's
    defaults (but ``backlog``)."""

    sndhwm: NonNegative = option(1000, number=23, doc="Messages queued per peer to send.")
    rcvhwm: NonNegative = option(1000, number=24, doc="Messages queued per peer received.")
    linger: Millis = option(-1, number=17, doc="How long close() lets unsent messages go.")
    rcvtimeo: Millis = option(-1, number=27, doc="How long recv() waits (-1: forever).")
    sndtimeo: Millis = option(-1, number=28, doc="How long send() waits (-1: forever).")
    reconnect_ivl: Millis = option(100, number=18, doc="Wait before reconnecting.")
    reconnect_ivl_max: NonNegative = option(
        0, number=21, doc="Upper bound of the reconnect back-off (0: no back-off)."
    )
    routing_id: bytes = option(b"", number=5, doc="The name peers' ROUTERs know us by.")
    immediate: Flag = option(0, number=39, doc="Queue messages only to finished connections.")
    maxmsgsize: int = option(
        -1, number=22, doc="Largest message accepted (-1: no limit).", ge=-1, le=2**63 - 1
    )
    handshake_ivl: NonNegative = option(30000, number=66, doc="Time allowed for a handshake.")
    heartbeat_ivl: NonNegative = option(0, number=75, doc="PING interval (0: none).")
    heartbeat_ttl: int = option(0, number=76, doc="Time-to-live sent with PINGs.", ge=0, le=6553599)
    heartbeat_timeout: Millis = option(-1, number=77, doc="Wait for PONG (-1: heartbeat_ivl).")
    tcp_keepalive: int = option(-1, number=34, doc="SO_KEEPALIVE (-1: OS default).", ge=-1, le=1)
    tcp_keepalive_cnt: Millis = option(-1, number=35, doc="TCP_KEEPCNT (-1: OS default).")
    tcp_keepalive_idle: Millis = option(-1, number=36, doc="TCP_KEEPIDLE (-1: OS default).")
    tcp_keepalive_intvl: Millis = option(-1, number=37, doc="TCP_KEEPINTVL (-1: OS default).")
    ipv6: Flag = option(0, number=42, doc="Use IPv6 as well as IPv4.")
    backlog: NonNegative = option(
        1024,
        number=19,
        # libzmq's default is 100, enough for a C thread that takes each connection at
        # once; a Python one can be away for milliseconds (GIL, garbage collection), and
        # each SYN that finds the queue full is retried only 1 s, 3 s, 7 s... later.
        doc="Connections the OS queues until the I/O thread takes them (listen()'s "
        "backlog; Linux caps it at net.core.somaxconn).",
    )
    sndbuf: Millis = option(-1, number=11, doc="SO_SNDBUF in bytes (-1: OS default).")
    rcvbuf: Millis = option(-1, number=12, doc="SO_RCVBUF in bytes (-1: OS default).")
    # The multicast transports (udp and pgm/epgm) both read these, as in libzmq.
    multicast_hops: int = option(1, number=25, doc="Multicast TTL (udp, pgm).", ge=1, le=255)
    multicast_loop: Flag = option(1, number=96, doc="Loop multicast back to this host (udp).")

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


SocketOptions = KernelOptions
"""The earlier name of :class:`KernelOptions`."""

READ_ONLY_SPECS = (
    OptionSpec(
        "rcvmore",
        13,
        "read-only",
        "kernel",
        "More frames of this message follow.",
        value_type="int",
    ),
    OptionSpec("events", 15, "read-only", "kernel", "POLLIN / POLLOUT now.", value_type="int"),
    OptionSpec("type", 16, "read-only", "kernel", "The socket type number.", value_type="int"),
    OptionSpec(
        "last_endpoint",
        32,
        "read-only",
        "kernel",
        "The endpoint of the last bind or connect, as resolved.",
        value_type="bytes",
    ),
    OptionSpec(
        "fd",
        14,
        "read-only",
        "kernel",
        "The socket's pollable fd (see fileno()).",
        value_type="int",
    ),
    OptionSpec(
        "thread_safe",
        81,
        "read-only",
        "kernel",
        "1: threads may share it (CLIENT, SERVER...).",
        0,
        value_type="int",
    ),
)
# libzmq's older name for "not ipv6", kept by pyzmq: reads and sets ipv6, inverted.
IPV4ONLY_SPEC = OptionSpec(
    "ipv4only",
    31,
    "kernel",
    "kernel",
    "1: IPv4 only (the inverse of ipv6, so 1 by default).",
    value_type="int 0 to 1",
)
# libzmq options nothing here implements. Each reads back libzmq's default, and setting
# that default is accepted, so pyzmq code that reads them or sets them to their default
# keeps working; any other value is refused (EINVAL), never silently ignored.
UNSUPPORTED_SPECS = tuple(
    OptionSpec(name, number, "unsupported", "kernel", doc, default, value_type="int")
    for name, number, default, doc in (
        ("affinity", 4, 0, "I/O thread affinity (connections use any I/O thread)."),
        ("conflate", 54, 0, "Keep only the last message (not implemented)."),
        ("tos", 57, 0, "IP type-of-service of TCP connections (not implemented)."),
        ("invert_matching", 74, 0, "Inverted subscription matching (not implemented)."),
        ("connect_timeout", 79, 0, "TCP connect timeout (not implemented)."),
        ("use_fd", 89, -1, "Listen on an inherited fd (not implemented)."),
        ("loopback_fastpath", 94, 0, "Windows' TCP loopback fast path (no effect here)."),
    )
)
KERNEL_SPECS = (
    *specs_from_model(KernelOptions, "kernel", "kernel"),
    *READ_ONLY_SPECS,
    IPV4ONLY_SPEC,
    *UNSUPPORTED_SPECS,
)

# libzmq's numbers of the options bundled plugins declare, by distribution, only for the
# module constants (``mqsdk.SUBSCRIBE`` exists before any plugin is loaded, as pyzmq's
# constants do) and to name the distribution when a transport's or mechanism's option is
# unknown because its plugin is missing. The declarations are the source; a test checks
# that each agrees with these.
BUNDLED_PLUGIN_OPTIONS: dict[str, dict[str, int]] = {
    "mqsdk-mechanism-plain": {"plain_server": 44, "plain_username": 45, "plain_password": 46},
    "mqsdk-mechanism-curve": {
        "curve_server": 47,
        "curve_publickey": 48,
        "curve_secretkey": 49,
        "curve_serverkey": 50,
    },
    "mqsdk-transport-pgm": {"rate": 8, "recovery_ivl": 9, "multicast_maxtpdu": 84},
    "mqsdk-transport-vmci": {
        "vmci_buffer_size": 85,
        "vmci_buffer_min_size": 86,
        "vmci_buffer_max_size": 87,
        "vmci_connect_timeout": 88,
    },
    "mqsdk-pattern-pubsub": {
        "subscribe": 6,
        "unsubscribe": 7,
        "xpub_verbose": 40,
        "xpub_nodrop": 69,
        "xpub_manual": 71,
        "xpub_welcome_msg": 72,
        "xpub_verboser": 78,
    },
    "mqsdk-pattern-reqrep": {
        "router_mandatory": 33,
        "probe_router": 51,
        "req_correlate": 52,
        "req_relaxed": 53,
        "router_handover": 56,
        "connect_routing_id": 61,
    },
    "mqsdk-pattern-stream": {"stream_notify": 73},
}
PLUGIN_OPTION_NUMBERS: dict[str, int] = {
    name: number for numbers in BUNDLED_PLUGIN_OPTIONS.values() for name, number in numbers.items()
}


OPTION_NUMBERS: dict[str, int] = {
    spec.name: spec.number for spec in KERNEL_SPECS if spec.number is not None
}
"""The kernel's own option numbers (declared above)."""

READ_ONLY_OPTIONS = frozenset(spec.name for spec in READ_ONLY_SPECS)


def all_option_numbers() -> dict[str, int]:
    """Every socket option's libzmq number by name: the kernel's, the bundled plugins'
    and the security mechanisms' (``mqsdk.LINGER``, context-wide defaults)."""
    from mqsdk._kernel.security import SECURITY_SPECS  # it imports this module

    return {
        **PLUGIN_OPTION_NUMBERS,
        **{spec.name: spec.number for spec in SECURITY_SPECS if spec.number is not None},
        **OPTION_NUMBERS,
    }


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
