"""``tcp://`` endpoint parsing and name resolution, in libzmq's forms.

* ``host:port``; the port is taken after the *last* ``:``, ``[...]`` brackets are
  stripped, so ``[::1]:5555`` and ``[fe80::1%eth0]:5555`` (zone id) work.
* ``*`` as the host means any address (bind only); ``*`` or ``0`` as the port means an
  ephemeral port (bind and source address only).
* On bind (and for a source address) a host may name a network interface (``eth0``) or a
  DNS name; both are resolved now. On connect a DNS name is only checked for syntax here
  and resolved at every connection attempt, since DNS can change between reconnects.
* ``src;dst`` on connect binds the source address first; the split is on the *last* ``;``.
"""

from __future__ import annotations

import errno
import re
import socket
import struct
import sys
from dataclasses import dataclass, replace
from typing import Any

from mqsdk.plugin import EndpointError

__all__ = [
    "TcpAddress",
    "format_sockaddr",
    "interface_address",
    "parse_tcp",
    "resolve_destination",
    "source_sockaddr",
]

BIND_EXAMPLE = "tcp://*:5555, tcp://127.0.0.1:5555, tcp://[::1]:5555 or tcp://eth0:5555"
CONNECT_EXAMPLE = (
    "tcp://127.0.0.1:5555, tcp://[::1]:5555 or tcp://example.com:5555 "
    "(with a source address: tcp://127.0.0.1:*;127.0.0.1:5555)"
)
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")

# SIOCGIFADDR (struct ifreq: a 16-byte name, then a sockaddr_in whose address is at 20).
_SIOCGIFADDR = 0x8915 if sys.platform.startswith("linux") else 0xC0206921
_IFREQ_ADDR = slice(20, 24)
_IPV6_LINK_SCOPE = 0x20


@dataclass(frozen=True)
class TcpAddress:
    """A parsed tcp endpoint.

    ``family`` and ``sockaddr`` are set when the address is known now (literals, bind
    addresses, interfaces); they are 0/None for a DNS name to resolve at connect time
    and for a wildcard source address (which takes the destination's family).
    """

    host: str
    port: int
    family: int = 0
    sockaddr: tuple[Any, ...] | None = None
    source: TcpAddress | None = None

    def __str__(self) -> str:
        text = f"{_bracket(self.host)}:{self.port}"
        if self.source is not None:
            text = f"{_bracket(self.source.host)}:{self.source.port};{text}"
        return f"tcp://{text}"


def parse_tcp(address: str, *, bind: bool, ipv6: bool) -> TcpAddress:
    """Parse what follows ``tcp://``; raise EndpointError naming the problem."""
    example = BIND_EXAMPLE if bind else CONNECT_EXAMPLE
    endpoint = f"tcp://{address}"
    if ";" in address:
        if bind:
            raise _error(endpoint, "a source address (src;dst) is only valid for connect", example)
        src_text, _, dst_text = address.rpartition(";")
        if not src_text:
            raise _error(endpoint, "the source address before ';' is empty", example)
        source = _parse_one(endpoint, src_text, local=True, ipv6=ipv6, example=example, source=True)
        dest = _parse_one(endpoint, dst_text, local=False, ipv6=ipv6, example=example)
        if source.family and dest.family and source.family != dest.family:
            raise _error(
                endpoint,
                f"the source {source.host!r} and the destination {dest.host!r} are not "
                "the same address family (IPv4 vs IPv6)",
                example,
            )
        return replace(dest, source=source)
    return _parse_one(endpoint, address, local=bind, ipv6=ipv6, example=example)


def resolve_destination(address: TcpAddress, ipv6: bool) -> tuple[int, tuple[Any, ...]]:
    """The family and sockaddr to connect to, resolving a DNS name now (OSError if not)."""
    if address.sockaddr is not None:
        return address.family, address.sockaddr
    only = address.source.family if address.source is not None else 0
    return _resolve_name(address.host, address.port, ipv6=ipv6, only=only)


def source_sockaddr(source: TcpAddress, family: int) -> tuple[Any, ...]:
    """Where to bind a connecting socket of ``family`` for a ``src;dst`` endpoint."""
    if source.sockaddr is not None:
        return source.sockaddr
    return _wildcard(family, source.port)


def format_sockaddr(sockaddr: Any) -> str:
    """``127.0.0.1:5555`` / ``[::1]:5555`` / ``[fe80::1%eth0]:5555`` from getsockname()."""
    host, port = str(sockaddr[0]), int(sockaddr[1])
    if len(sockaddr) >= 4 and sockaddr[3] and "%" not in host:
        try:
            zone = socket.if_indextoname(sockaddr[3])
        except (OSError, AttributeError):
            zone = str(sockaddr[3])
        host = f"{host}%{zone}"
    return f"{_bracket(host)}:{port}"


def interface_address(name: str, *, ipv6: bool) -> tuple[int, str, int] | None:
    """The primary address of network interface ``name`` as (family, address, scope id).

    None when there is no such interface or it has no usable address. With ``ipv6`` an
    interface's IPv6 address is preferred (as libzmq does), else its IPv4 address.
    """
    try:
        names = {n for _, n in socket.if_nameindex()}
    except (OSError, AttributeError):
        return None
    if name not in names:
        return None
    if ipv6 and (found := _interface_ipv6(name)) is not None:
        return socket.AF_INET6, found[0], found[1]
    if (v4 := _interface_ipv4(name)) is not None:
        return socket.AF_INET, v4, 0
    return None


# --------------------------------------------------------------------------------------


def _parse_one(
    endpoint: str, text: str, *, local: bool, ipv6: bool, example: str, source: bool = False
) -> TcpAddress:
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise _error(endpoint, f"{text!r} has no ':port'", example)
    if not port_text:
        raise _error(endpoint, "the port after ':' is missing", example)
    if not host:
        raise _error(endpoint, "the host before ':' is missing (use * for any address)", example)
    port = _parse_port(endpoint, port_text, local=local, example=example)

    bracketed = host.startswith("[")
    if bracketed or host.endswith("]"):
        if not (bracketed and host.endswith("]")) or len(host) < 2:
            raise _error(endpoint, f"the brackets in {host!r} are not balanced", example)
        host = host[1:-1]
        if not host:
            raise _error(endpoint, "the brackets [] hold no address", example)
    if "[" in host or "]" in host:
        raise _error(endpoint, f"stray bracket in host {host!r}", example)

    if host == "*":
        if not local:
            raise _error(endpoint, "'*' (any address) is only valid for bind", example)
        if source:  # a wildcard source takes the destination's family
            return TcpAddress("*", port)
        any_family = socket.AF_INET6 if ipv6 else socket.AF_INET
        return TcpAddress("*", port, any_family, _wildcard(any_family, port))

    literal = _parse_literal(endpoint, host, port, example)
    if literal is not None:
        return literal
    if bracketed or ":" in host or "%" in host:
        raise _error(endpoint, f"{host!r} is not a valid IPv6 address", example)
    if not local:
        _check_hostname(endpoint, host, example)
        return TcpAddress(host, port)

    found = interface_address(host, ipv6=ipv6)
    if found is not None:
        family, addr, scope = found
        sockaddr = (addr, port) if family == socket.AF_INET else (addr, port, 0, scope)
        return TcpAddress(host, port, family, sockaddr)
    _check_hostname(endpoint, host, example)
    try:
        family, sockaddr = _resolve_name(host, port, ipv6=ipv6, only=0)
    except OSError:
        raise _error(
            endpoint,
            f"{host!r} is neither an IP address, a network interface nor a resolvable host name",
            example,
            errno.ENODEV,
        ) from None
    return TcpAddress(host, port, family, sockaddr)


def _parse_port(endpoint: str, text: str, *, local: bool, example: str) -> int:
    if text == "*":
        port = 0
    elif text.isascii() and text.isdigit():
        port = int(text)
        if port > 65535:
            raise _error(endpoint, f"port {port} is out of the range 0..65535", example)
    else:
        raise _error(endpoint, f"{text!r} is not a port", example)
    if port == 0 and not local:
        raise _error(
            endpoint,
            f"connect needs a real port, not {text!r} (an ephemeral port, for bind only)",
            example,
        )
    return port


def _parse_literal(endpoint: str, host: str, port: int, example: str) -> TcpAddress | None:
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        pass
    else:
        return TcpAddress(host, port, socket.AF_INET, (host, port))
    addr, pct, zone = host.partition("%")
    try:
        socket.inet_pton(socket.AF_INET6, addr)
    except OSError:
        return None
    scope = 0
    if pct:
        if not zone:
            raise _error(endpoint, f"the zone id after '%' in {host!r} is empty", example)
        if zone.isascii() and zone.isdigit():
            scope = int(zone)
        else:
            try:
                scope = socket.if_nametoindex(zone)
            except (OSError, AttributeError):
                raise _error(
                    endpoint, f"the zone id {zone!r} is not a network interface here", example
                ) from None
    return TcpAddress(host, port, socket.AF_INET6, (addr, port, 0, scope))


def _check_hostname(endpoint: str, host: str, example: str) -> None:
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    labels = ascii_host.removesuffix(".").split(".")
    if not ascii_host or len(ascii_host) > 253 or not all(_LABEL.fullmatch(x) for x in labels):
        raise _error(endpoint, f"{host!r} is not a valid host name", example)


def _resolve_name(host: str, port: int, *, ipv6: bool, only: int) -> tuple[int, tuple[Any, ...]]:
    """getaddrinfo, preferring IPv4 (IPv6 with ``ipv6``); ``only`` restricts the family."""
    infos = socket.getaddrinfo(host, port, only, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    usable = [i for i in infos if i[0] in (socket.AF_INET, socket.AF_INET6)]
    if not usable:
        raise OSError(errno.EAFNOSUPPORT, f"{host!r} has no IPv4 or IPv6 address")
    preferred = socket.AF_INET6 if ipv6 else socket.AF_INET
    family, _, _, _, sockaddr = next((i for i in usable if i[0] == preferred), usable[0])
    return int(family), tuple(sockaddr)


def _wildcard(family: int, port: int) -> tuple[Any, ...]:
    return ("::", port, 0, 0) if family == socket.AF_INET6 else ("0.0.0.0", port)


def _interface_ipv4(name: str) -> str | None:
    try:
        import fcntl
    except ImportError:
        return None
    request = struct.pack("256s", name.encode()[:15])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
    except OSError:
        return None
    return socket.inet_ntoa(reply[_IFREQ_ADDR])


def _interface_ipv6(name: str) -> tuple[str, int] | None:
    """The interface's IPv6 address from /proc/net/if_inet6 (Linux), non-link-local first."""
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as table:
            rows = [line.split() for line in table]
    except OSError:
        return None
    found: list[tuple[str, int]] = []
    for row in rows:
        if len(row) < 6 or row[5] != name:
            continue
        addr = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(row[0]))
        link_local = int(row[3], 16) == _IPV6_LINK_SCOPE
        found.append((addr, int(row[1], 16) if link_local else 0))
    found.sort(key=lambda item: item[1] != 0)
    return found[0] if found else None


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _error(endpoint: str, problem: str, example: str, code: int | None = None) -> EndpointError:
    return EndpointError(f"{endpoint}: {problem}; expected tcp://host:port such as {example}", code)
