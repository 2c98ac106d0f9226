"""udp endpoint parsing, with libzmq's rules (libzmq:src/udp_address.cpp; protocols.md 5.4).

Forms::

    bind (DISH)       udp://*:5555  udp://127.0.0.1:5555  udp://eth0:5555  udp://*:*
                      udp://239.1.2.3:5555  udp://eth0;239.1.2.3:5555  udp://*;239.1.2.3:5555
    connect (RADIO)   udp://127.0.0.1:5555  udp://host:5555  udp://239.1.2.3:5555
                      udp://eth0;239.1.2.3:5555  udp://127.0.0.1;239.1.2.3:5555

* ``iface;`` (an interface name, an interface address or ``*``) is allowed only before a
  multicast address, and the interface itself must not be multicast (EINVAL, as libzmq).
* A multicast bind listens on the group's port on every address and joins the group on
  the interface; a multicast connect sends to the group through the interface.
* IPv6 literals go in brackets (``udp://[::1]:5555``, ``udp://eth0;[ff02::1]:5555``);
  IPv6 multicast needs an interface *name* (the kernel joins by index), as in libzmq.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
import sys
from dataclasses import dataclass

from mqsdk.plugin import EndpointError

__all__ = ["UdpAddress", "parse_udp"]

_EXAMPLES = (
    "e.g. udp://*:5555 or udp://eth0;239.1.2.3:5555 to bind a DISH, "
    "udp://127.0.0.1:5555 or udp://eth0;239.1.2.3:5555 to connect a RADIO"
)
# SIOCGIFADDR: struct ifreq is a 16-byte name, then a sockaddr_in (address at offset 20).
_SIOCGIFADDR = 0x8915 if sys.platform.startswith("linux") else 0xC0206921


@dataclass(frozen=True)
class UdpAddress:
    """A parsed udp endpoint.

    ``host``/``port``: where a RADIO sends, or what a unicast DISH binds. ``interface``:
    the ``iface;`` part as written (None without one); ``interface_address`` and
    ``interface_index`` are what the kernel wants for it (an address: that address and
    index 0; a name: its IPv4 address, 0.0.0.0 if it has none, and its index; ``*``:
    0.0.0.0 and index 0).
    """

    family: int
    host: str
    port: int
    multicast: bool
    interface: str | None = None
    interface_address: str = "0.0.0.0"
    interface_index: int = 0

    def sockaddr(self) -> tuple[str, int]:
        return (self.host, self.port)

    def endpoint(self, port: int | None = None) -> str:
        """The endpoint as ``last_endpoint`` shows it (with the real port once bound)."""
        host = f"[{self.host}]" if self.family == socket.AF_INET6 else self.host
        prefix = f"{self.interface};" if self.interface is not None else ""
        return f"udp://{prefix}{host}:{self.port if port is None else port}"


def _error(endpoint: str, problem: str) -> EndpointError:
    return EndpointError(f"bad udp endpoint udp://{endpoint}: {problem} ({_EXAMPLES})")


def parse_udp(address: str, *, bind: bool, ipv6: bool = False) -> UdpAddress:
    """Parse the part after ``udp://``; raise EndpointError saying what is wrong."""
    interface: str | None = None
    rest = address
    if ";" in address:
        interface, _, rest = address.rpartition(";")
        if not interface:
            raise _error(address, "the interface before ';' is empty")
    host, sep, port_text = rest.rpartition(":")
    if not sep or not host:
        raise _error(address, "expected host:port")
    port = _parse_port(address, port_text, bind=bind)
    family, host = _parse_host(address, host, bind=bind, ipv6=ipv6)
    multicast = ipaddress.ip_address(host).is_multicast
    if interface is None:
        return UdpAddress(family, host, port, multicast)
    if not multicast:
        raise _error(address, f"an interface ({interface};) goes only before a multicast address")
    if_address, if_index = _parse_interface(address, interface, family)
    return UdpAddress(family, host, port, True, interface, if_address, if_index)


def _parse_port(endpoint: str, text: str, *, bind: bool) -> int:
    if text in ("*", "0"):
        if bind:
            return 0
        raise _error(endpoint, "a RADIO must connect to a port number, not a wildcard")
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise _error(endpoint, f"port {text!r} is not a number in 1..65535")
    return int(text)


def _parse_host(endpoint: str, host: str, *, bind: bool, ipv6: bool) -> tuple[int, str]:
    if host.startswith("[") and host.endswith("]"):
        literal = host[1:-1]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise _error(endpoint, f"{host} is not an IPv6 address") from None
        return socket.AF_INET6, literal
    if "[" in host or "]" in host or ":" in host:
        raise _error(endpoint, f"{host!r}: an IPv6 address goes in brackets, e.g. [::1]")
    if host == "*":
        if not bind:
            raise _error(endpoint, "a RADIO needs a destination address, not '*'")
        return (socket.AF_INET6, "::") if ipv6 else (socket.AF_INET, "0.0.0.0")
    try:
        return socket.AF_INET, str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    if bind:
        # A DISH binds addresses or interfaces, never DNS names (libzmq: allow_nic_name).
        found = interface_ipv4(host)
        if found is None:
            raise _error(endpoint, f"{host!r} is neither an IPv4 address nor an interface")
        return socket.AF_INET, found
    try:
        infos = socket.getaddrinfo(
            host,
            None,
            socket.AF_UNSPEC if ipv6 else socket.AF_INET,
            socket.SOCK_DGRAM,
        )
    except socket.gaierror as exc:
        raise _error(endpoint, f"cannot resolve {host!r}: {exc.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    return int(family), str(sockaddr[0])


def _parse_interface(endpoint: str, interface: str, family: int) -> tuple[str, int]:
    """The interface as (IPv4 address, index): ``*`` is any; an address must be unicast."""
    if interface == "*":
        return "0.0.0.0", 0
    try:
        literal = ipaddress.ip_address(interface.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        if literal.is_multicast:
            raise _error(endpoint, f"the interface {interface} is a multicast address")
        if family == socket.AF_INET6 or literal.version == 6:
            raise _error(endpoint, "IPv6 multicast needs an interface name, not an address")
        return str(literal), 0
    try:
        index = socket.if_nametoindex(interface)
    except OSError:
        raise _error(endpoint, f"no network interface named {interface!r}") from None
    return interface_ipv4(interface) or "0.0.0.0", index


def interface_ipv4(name: str) -> str | None:
    """The primary IPv4 address of the interface ``name``, or None if it has none."""
    request = struct.pack("256s", name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(reply[20:24])
