"""The ``tipc://`` stream transport: AF_TIPC SOCK_STREAM sockets, libzmq's ``last_endpoint``."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping
from typing import Any

from mqsdk.plugin import Availability, EndpointError, StreamTransport, start_connect

from .address import TipcAddress, format_last_endpoint, format_port_id, parse_tipc

__all__ = ["TipcTransport", "tipc_availability"]


def tipc_availability(sock_module: Any = socket) -> Availability:
    """Probe for TIPC by opening (and closing) an AF_TIPC stream socket.

    ``sock_module`` is the :mod:`socket` module, replaceable for tests.
    """
    family = getattr(sock_module, "AF_TIPC", None)
    if family is None:
        return Availability.no("TIPC needs Linux: this Python's socket module has no AF_TIPC")
    try:
        probe = sock_module.socket(family, sock_module.SOCK_STREAM)
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "")
        text = exc.strerror or str(exc)
        detail = f"[Errno {exc.errno}] {text}" + (f" ({code})" if code else "")
        return Availability.no(
            f"cannot create an AF_TIPC socket: {detail}; the tipc kernel module is "
            "needed (load it with 'modprobe tipc')"
        )
    probe.close()
    return Availability.yes()


class TipcTransport(StreamTransport):
    """TIPC (Linux kernel module) stream sockets, with libzmq's endpoint forms."""

    name = "tipc"
    loopback_endpoint = "tipc://<*>"  # a random port id, reported by last_endpoint

    @classmethod
    def available(cls) -> Availability:
        return tipc_availability()

    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> TipcAddress:
        return parse_tipc(address, bind=bind)

    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        addr = _check(address)
        if addr.kind not in ("range", "random"):
            raise EndpointError(f"{addr}: only a service range or <*> can be bound")
        sock = socket.socket(socket.AF_TIPC, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if addr.sockaddr is not None:  # <*> keeps the port id the kernel gave it
                sock.bind(addr.sockaddr)
            sock.listen(int(options.get("backlog", 100)))
            sockname = sock.getsockname() if addr.kind == "random" else None
            endpoint = format_last_endpoint(addr, sockname)
        except BaseException:
            sock.close()
            raise
        return sock, endpoint

    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        addr = _check(address)
        if addr.sockaddr is None or addr.kind not in ("name", "port"):
            raise EndpointError(f"{addr}: only a service name or a port id can be connected")
        return start_connect(socket.socket(socket.AF_TIPC, socket.SOCK_STREAM), addr.sockaddr)

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        sock.setblocking(False)

    def peer_address(self, sock: socket.socket) -> str:
        """The peer's port id as ``<z.c.n:ref>``."""
        try:
            peer = sock.getpeername()
        except OSError:
            return ""
        if isinstance(peer, tuple) and len(peer) >= 3:
            return format_port_id(int(peer[1]), int(peer[2]))
        return str(peer)


def _check(address: Any) -> TipcAddress:
    if not isinstance(address, TipcAddress):
        raise TypeError(f"tipc transport: expected a parsed TipcAddress, got {address!r}")
    return address
