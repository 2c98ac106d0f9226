"""The ``tls://`` stream transport: TCP sockets, wrapped in TLS before ZMTP starts.

The kernel drives the TLS handshake through :meth:`TlsTransport.handshake` and then runs
ZMTP over the wrapped socket as over a plain one. :class:`TlsSocket` makes that true:
it turns ssl's "want read / want write" into :class:`BlockingIOError` and provides the
``sendmsg`` that ``ssl.SSLSocket`` lacks.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

from mqsdk.plugin import READ, WRITE, StreamTransport, start_connect

from .address import TlsAddress, parse_tls, resolve

__all__ = ["TlsSocket", "TlsTransport"]

_RECORD = 16384  # the most plaintext one TLS record carries


class TlsSocket(ssl.SSLSocket):
    """An SSL socket that reads and writes like a plain non-blocking socket."""

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        try:
            return super().recv(buflen, flags)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise BlockingIOError(errno.EAGAIN, "TLS: no application data yet") from None

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        try:
            return super().recv_into(buffer, nbytes, flags)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise BlockingIOError(errno.EAGAIN, "TLS: no application data yet") from None

    def send(self, data: Any, flags: int = 0) -> int:
        try:
            return super().send(data, flags)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise BlockingIOError(errno.EAGAIN, "TLS: the socket is full") from None

    def sendmsg(  # type: ignore[override]
        self, buffers: Iterable[Any], ancdata: Any = (), flags: int = 0, address: Any = None
    ) -> int:
        """Send a prefix of ``buffers`` as one write. Small pieces (ZMTP frame headers)
        are joined up to a record, so each does not become a record of its own. After
        a would-block the kernel offers the same pieces again, as ssl requires."""
        views = [memoryview(b) for b in buffers]
        if len(views) == 1 or views[0].nbytes >= _RECORD:
            return self.send(views[0])
        size = 0
        count = 0
        for view in views:
            if size and size + view.nbytes > _RECORD:
                break
            size += view.nbytes
            count += 1
        return self.send(b"".join(views[:count]))


class TlsTransport(StreamTransport):
    """TLS 1.2+ over TCP (IPv4 or IPv6) with Python's ``ssl`` module."""

    name = "tls"

    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> TlsAddress:
        return parse_tls(address, bind=bind, socket_class=TlsSocket)

    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        addr = _check(address)
        infos = socket.getaddrinfo(
            addr.sockaddr_host, addr.port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.listen(int(options.get("backlog", 100)))
            host, port = sock.getsockname()[:2]
        except BaseException:
            sock.close()
            raise
        host = f"[{host}]" if ":" in host else host
        return sock, f"tls://{host}:{port}"

    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        family, sockaddr = resolve(_check(address))
        return start_connect(socket.socket(family, socket.SOCK_STREAM), sockaddr)

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def wrap(
        self, sock: socket.socket, address: Any, options: Mapping[str, Any], *, server_side: bool
    ) -> socket.socket:
        addr = _check(address)
        return addr.context.wrap_socket(
            sock,
            server_side=server_side,
            server_hostname=None if server_side else addr.server_hostname,
            do_handshake_on_connect=False,
        )

    def handshake(self, sock: socket.socket) -> int:
        assert isinstance(sock, ssl.SSLSocket)
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            return READ
        except ssl.SSLWantWriteError:
            return WRITE
        except ssl.SSLError as exc:  # bad certificate, no common protocol...
            raise ConnectionError(errno.EPROTO, f"TLS handshake failed: {exc}") from exc
        return 0


def _check(address: Any) -> TlsAddress:
    if not isinstance(address, TlsAddress):
        raise TypeError(f"tls transport: expected a parsed TlsAddress, got {address!r}")
    return address
