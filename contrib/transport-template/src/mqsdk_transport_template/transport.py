"""The ``template://host:port`` stream transport: TCP sockets, on which the kernel runs ZMTP.

Replace the socket calls with your own (another address family, a tunnel...). The kernel
calls ``parse`` and ``listen`` in the user's thread during ``bind()``/``connect()``, and
``connect``, ``accepted`` (and ``wrap``/``handshake`` if you run a protocol under ZMTP,
as contrib/transport-tls does) in its I/O thread. See ``mqsdk._kernel.transport.StreamTransport``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mqsdk.plugin import Availability, EndpointError, StreamTransport, start_connect

__all__ = ["TemplateAddress", "TemplateTransport"]

EXAMPLE = "template://127.0.0.1:5555 (or template://127.0.0.1:* to bind any free port)"


@dataclass(frozen=True)
class TemplateAddress:
    """A parsed endpoint: whatever ``listen`` and ``connect`` need."""

    host: str
    port: int  # 0: any free port (bind only)


class TemplateTransport(StreamTransport):
    """ZMTP over TCP/IPv4."""

    name = "template"  # the endpoint scheme
    # What `mqsdk demo` binds to try every seed pattern over this transport on one host
    # (None: the demo lists it as not applicable, e.g. a transport that needs a network).
    loopback_endpoint = "template://127.0.0.1:*"

    @classmethod
    def available(cls) -> Availability:
        # Say here why the transport cannot run on this host (a missing kernel module,
        # an OS without the address family): tests and `mqsdk plugins` show the reason.
        return Availability.yes()

    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> TemplateAddress:
        host, sep, port_text = address.rpartition(":")
        if not sep or not host:
            raise EndpointError(f"{address!r} is not host:port; for example {EXAMPLE}")
        if port_text == "*" and bind:
            return TemplateAddress(host, 0)
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise EndpointError(f"{port_text!r} is not a port (1..65535); for example {EXAMPLE}")
        return TemplateAddress(host, int(port_text))

    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        addr = _check(address)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((addr.host, addr.port))
            sock.listen(int(options.get("backlog", 100)))
            host, port = sock.getsockname()
        except BaseException:
            sock.close()
            raise
        return sock, f"{self.name}://{host}:{port}"  # what last_endpoint reports

    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        addr = _check(address)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Non-blocking connect_ex; the kernel then waits for writability and SO_ERROR.
        return start_connect(sock, (addr.host, addr.port))

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _check(address: Any) -> TemplateAddress:
    if not isinstance(address, TemplateAddress):
        raise TypeError(f"template transport: expected a TemplateAddress, got {address!r}")
    return address
