"""The ``tcp://`` stream transport: sockets, socket options, libzmq's ``last_endpoint``."""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
from collections.abc import Mapping
from typing import Any

from mqsdk.plugin import StreamTransport, start_connect

from .address import (
    TcpAddress,
    format_sockaddr,
    parse_tcp,
    resolve_destination,
    source_sockaddr,
)

__all__ = ["TcpTransport"]

_KEEPALIVE_OPTIONS = (
    ("tcp_keepalive_cnt", getattr(socket, "TCP_KEEPCNT", None)),
    # macOS names the idle time TCP_KEEPALIVE.
    ("tcp_keepalive_idle", getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))),
    ("tcp_keepalive_intvl", getattr(socket, "TCP_KEEPINTVL", None)),
)


class TcpTransport(StreamTransport):
    """TCP over IPv4 and IPv6, with libzmq's endpoint forms (see :mod:`.address`)."""

    name = "tcp"
    loopback_endpoint = "tcp://127.0.0.1:*"

    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> TcpAddress:
        return parse_tcp(address, bind=bind, ipv6=bool(options.get("ipv6", 0)))

    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        addr = _check(address)
        assert addr.sockaddr is not None  # parse resolves every bind address
        family, sockaddr = addr.family, addr.sockaddr
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            # libzmq falls back to IPv4 for "*" with ipv6=1 on a host without IPv6.
            if not (addr.host == "*" and family == socket.AF_INET6):
                raise
            if exc.errno not in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT):
                raise
            family, sockaddr = socket.AF_INET, ("0.0.0.0", addr.port)
            sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if sys.platform == "win32":
                sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_EXCLUSIVEADDRUSE", -5), 1)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                _dual_stack(sock)
            _set_buffers(sock, options)
            sock.bind(sockaddr)
            sock.listen(int(options.get("backlog", 100)))
            endpoint = "tcp://" + format_sockaddr(sock.getsockname())
        except BaseException:
            sock.close()
            raise
        return sock, endpoint

    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        addr = _check(address)
        family, sockaddr = resolve_destination(addr, bool(options.get("ipv6", 0)))
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            _set_buffers(sock, options)
            if addr.source is not None:
                # Lets a fixed source port be reused on reconnect despite TIME_WAIT.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(source_sockaddr(addr.source, family))
        except BaseException:
            sock.close()
            raise
        return start_connect(sock, sockaddr)

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        keepalive = int(options.get("tcp_keepalive", -1))
        if keepalive != -1:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if keepalive else 0)
        if keepalive == 1:  # as libzmq: the tuning applies only when keepalive is on
            for option, level_opt in _KEEPALIVE_OPTIONS:
                value = int(options.get(option, -1))
                if value > 0 and level_opt is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, level_opt, value)
        _set_buffers(sock, options)


def _check(address: Any) -> TcpAddress:
    if not isinstance(address, TcpAddress):
        raise TypeError(f"tcp transport: expected a parsed TcpAddress, got {address!r}")
    return address


def _dual_stack(sock: socket.socket) -> None:
    """IPV6_V6ONLY off, so an IPv6 wildcard also accepts IPv4 clients (as libzmq)."""
    # Some systems (OpenBSD) have no dual stack: the socket stays IPv6-only there.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)


def _set_buffers(sock: socket.socket, options: Mapping[str, Any]) -> None:
    for option, level_opt in (("sndbuf", socket.SO_SNDBUF), ("rcvbuf", socket.SO_RCVBUF)):
        value = int(options.get(option, -1))
        if value >= 0:
            sock.setsockopt(socket.SOL_SOCKET, level_opt, value)
