"""``tipc://`` endpoint parsing and ``last_endpoint`` formatting, in libzmq's forms.

* ``{type,lower,upper}``: a service range (``TIPC_ADDR_NAMESEQ``, zone scope), bind
  only. ``type`` must be at least ``TIPC_RESERVED_TYPES`` (64) and ``lower <= upper``.
* ``{type,instance}``: a service name (``TIPC_ADDR_NAME``), connect only. ``type`` must
  be greater than 64. An optional ``@Z.C.N`` suffix gives the lookup domain
  ``tipc_addr(z, c, n)``; the default is ``1.0.0``.
* ``<Z.C.N:ref>``: a port id (``TIPC_ADDR_ID``), connect only.
* ``<*>``: a random port id, bind only: the socket keeps the port id the kernel gave it
  and ``last_endpoint`` shows it as ``tipc://<z.c.n:ref>``.

Whitespace around the numbers inside ``{}`` and ``<>`` is accepted, since libzmq prints
service endpoints as ``tipc://{type, lower, upper}``.

The sockaddr tuples are CPython's AF_TIPC forms ``(addr_type, v1, v2, v3[, scope])``.
CPython's tuple has no field for a service name's lookup domain, so the domain is
checked and kept in :attr:`TipcAddress.domain` but not passed to the kernel.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any, Literal

from mqsdk.plugin import EndpointError

__all__ = [
    "ADDR_ID",
    "ADDR_NAME",
    "ADDR_NAMESEQ",
    "DEFAULT_DOMAIN",
    "TIPC_RESERVED_TYPES",
    "ZONE_SCOPE",
    "TipcAddress",
    "format_last_endpoint",
    "format_port_id",
    "parse_tipc",
    "split_node",
    "tipc_addr",
]

# Linux <linux/tipc.h> values, used where the socket module lacks them (non-Linux), so
# parsing still works and reports the same tuples everywhere.
ADDR_NAMESEQ: int = getattr(socket, "TIPC_ADDR_NAMESEQ", 1)
ADDR_NAME: int = getattr(socket, "TIPC_ADDR_NAME", 2)
ADDR_ID: int = getattr(socket, "TIPC_ADDR_ID", 3)
ZONE_SCOPE: int = getattr(socket, "TIPC_ZONE_SCOPE", 1)
TIPC_RESERVED_TYPES = 64

_U32_MAX = 0xFFFFFFFF
_ZONE_MAX, _CLUSTER_MAX, _NODE_MAX = 0xFF, 0xFFF, 0xFFF

BIND_FORMS = (
    "tipc://{type,lower,upper} (a service range, type >= 64, lower <= upper) "
    "or tipc://<*> (a random port id)"
)
CONNECT_FORMS = (
    "tipc://{type,instance} (a service name, type > 64), optionally with a domain "
    "such as tipc://{5560,1}@1.0.0, or tipc://<Z.C.N:ref> (a port id)"
)

_N = r"\s*(\d+)\s*"
_RANGE = re.compile(rf"\{{{_N},{_N},{_N}\}}")
_NAME = re.compile(rf"\{{{_N},{_N}\}}(?:@(\d+)\.(\d+)\.(\d+))?")
_PORT = re.compile(rf"<{_N}\.{_N}\.{_N}:{_N}>")
_RANDOM = re.compile(r"<\s*\*\s*>")

Kind = Literal["range", "name", "port", "random"]


def tipc_addr(zone: int, cluster: int, node: int) -> int:
    """The 32-bit TIPC network address ``<Z.C.N>`` (zone << 24 | cluster << 12 | node)."""
    return (zone << 24) | (cluster << 12) | node


def split_node(address: int) -> tuple[int, int, int]:
    """The (zone, cluster, node) parts of a 32-bit TIPC network address."""
    return (address >> 24) & _ZONE_MAX, (address >> 12) & _CLUSTER_MAX, address & _NODE_MAX


DEFAULT_DOMAIN = tipc_addr(1, 0, 0)


@dataclass(frozen=True)
class TipcAddress:
    """A parsed tipc endpoint.

    ``kind`` is ``"range"`` (type, lower, upper), ``"name"`` (type, instance in both
    lower and upper, domain), ``"port"`` (node, ref) or ``"random"``. ``sockaddr`` is
    the tuple to pass to ``bind``/``connect``; None for ``"random"`` (nothing is bound).
    """

    kind: Kind
    sockaddr: tuple[int, ...] | None
    type: int = 0
    lower: int = 0
    upper: int = 0
    domain: int = 0
    node: int = 0
    ref: int = 0

    @property
    def instance(self) -> int:
        return self.lower

    def __str__(self) -> str:
        if self.kind == "range":
            return f"tipc://{{{self.type},{self.lower},{self.upper}}}"
        if self.kind == "name":
            z, c, n = split_node(self.domain)
            return f"tipc://{{{self.type},{self.lower}}}@{z}.{c}.{n}"
        if self.kind == "port":
            return "tipc://" + format_port_id(self.node, self.ref)
        return "tipc://<*>"


def parse_tipc(address: str, *, bind: bool) -> TipcAddress:
    """Parse what follows ``tipc://``; raise EndpointError naming the problem."""
    endpoint = f"tipc://{address}"
    forms = BIND_FORMS if bind else CONNECT_FORMS
    text = address.strip()
    if not text:
        raise _error(endpoint, "the address is empty", forms)

    if m := _RANGE.fullmatch(text):
        if not bind:
            raise _error(
                endpoint,
                "a service range {type,lower,upper} is only valid for bind; "
                "connect to a service name {type,instance}",
                forms,
            )
        stype, lower, upper = (
            _u32(endpoint, v, what, forms)
            for v, what in zip(m.groups(), ("type", "lower", "upper"), strict=True)
        )
        if stype < TIPC_RESERVED_TYPES:
            raise _error(
                endpoint,
                f"service type {stype} is reserved (types below {TIPC_RESERVED_TYPES} "
                "belong to TIPC itself)",
                forms,
            )
        if lower > upper:
            raise _error(endpoint, f"the range lower {lower} is above upper {upper}", forms)
        return TipcAddress(
            "range", (ADDR_NAMESEQ, stype, lower, upper, ZONE_SCOPE), stype, lower, upper
        )

    if m := _NAME.fullmatch(text):
        if bind:
            raise _error(
                endpoint,
                "a service name {type,instance} is only valid for connect; bind a "
                "service range {type,lower,upper} such as {type,instance,instance}",
                forms,
            )
        stype = _u32(endpoint, m.group(1), "type", forms)
        instance = _u32(endpoint, m.group(2), "instance", forms)
        if stype <= TIPC_RESERVED_TYPES:
            raise _error(
                endpoint,
                f"service type {stype} is reserved (a service name's type must be "
                f"greater than {TIPC_RESERVED_TYPES})",
                forms,
            )
        domain = DEFAULT_DOMAIN
        if m.group(3) is not None:
            domain = _node_address(endpoint, m.group(3), m.group(4), m.group(5), "domain", forms)
        return TipcAddress(
            "name", (ADDR_NAME, stype, instance, 0), stype, instance, instance, domain=domain
        )

    if m := _PORT.fullmatch(text):
        if bind:
            raise _error(
                endpoint,
                "cannot bind to a port id <Z.C.N:ref> (the kernel assigns port ids); "
                "bind tipc://<*> to get a random one",
                forms,
            )
        node = _node_address(endpoint, m.group(1), m.group(2), m.group(3), "port id", forms)
        ref = _u32(endpoint, m.group(4), "port reference", forms)
        return TipcAddress("port", (ADDR_ID, node, ref, 0), node=node, ref=ref)

    if _RANDOM.fullmatch(text):
        if not bind:
            raise _error(
                endpoint,
                "<*> (a random port id) is only valid for bind; connect to the "
                "<Z.C.N:ref> that the binder's last_endpoint shows",
                forms,
            )
        return TipcAddress("random", None)

    raise _error(endpoint, "not a tipc address", forms)


def format_port_id(node: int, ref: int) -> str:
    """``<z.c.n:ref>``, libzmq's text for a port id."""
    z, c, n = split_node(node)
    return f"<{z}.{c}.{n}:{ref}>"


def format_last_endpoint(address: TipcAddress, sockname: Any = None) -> str:
    """libzmq's ``last_endpoint`` for a bound tipc address.

    A service range prints as ``tipc://{type, lower, upper}`` (with spaces). A random
    port id prints as ``tipc://<z.c.n:ref>`` from ``sockname``, the listening socket's
    ``getsockname()`` tuple ``(TIPC_ADDR_ID, node, ref, ...)``.
    """
    if address.kind in ("range", "name"):
        return f"tipc://{{{address.type}, {address.lower}, {address.upper}}}"
    if sockname is None:
        if address.kind == "port":
            return "tipc://" + format_port_id(address.node, address.ref)
        raise ValueError("a random port id needs the socket's getsockname() to be printed")
    if not isinstance(sockname, tuple) or len(sockname) < 3 or sockname[0] != ADDR_ID:
        raise ValueError(f"expected a (TIPC_ADDR_ID, node, ref, ...) tuple, got {sockname!r}")
    return "tipc://" + format_port_id(int(sockname[1]), int(sockname[2]))


def _u32(endpoint: str, digits: str, what: str, forms: str) -> int:
    value = int(digits)
    if value > _U32_MAX:
        raise _error(endpoint, f"the {what} {value} does not fit in 32 bits", forms)
    return value


def _node_address(endpoint: str, z: str, c: str, n: str, what: str, forms: str) -> int:
    zone, cluster, node = int(z), int(c), int(n)
    if zone > _ZONE_MAX or cluster > _CLUSTER_MAX or node > _NODE_MAX:
        raise _error(
            endpoint,
            f"the {what} address {zone}.{cluster}.{node} is out of range (zone 0-255, "
            "cluster 0-4095, node 0-4095)",
            forms,
        )
    return tipc_addr(zone, cluster, node)


def _error(endpoint: str, problem: str, forms: str) -> EndpointError:
    return EndpointError(f"{endpoint}: {problem}; expected {forms}")
