"""The ``ws://`` and ``wss://`` stream transports: TCP (and TLS) sockets that speak ZWS 2.0.

Connections are made exactly as tcp makes them (by the tcp transport, found through
the registry: endpoint forms, socket options, ``last_endpoint``); :meth:`WsTransport.wrap`
then hands the kernel a socket object whose reads and writes translate between ZMTP and
WebSocket frames (:mod:`.zws`). Nothing in the kernel knows about WebSocket.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import ssl
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mqsdk.plugin import (
    READ,
    WRITE,
    EndpointError,
    Flag,
    OptionModel,
    StreamTransport,
    get_registry,
    option,
)

from .zws import ZwsStream

__all__ = [
    "WsAddress",
    "WsOptions",
    "WsSocket",
    "WsTransport",
    "WssSocket",
    "WssTransport",
]

_TLS_RECORD = 16384  # the most plaintext one TLS record carries


class WsSocket(ZwsStream, socket.socket):
    """A TCP socket that reads and writes ZMTP, speaking ZWS on the wire."""

    def raw_recv_into(self, view: memoryview) -> int:
        return socket.socket.recv_into(self, view)

    def raw_write(self, views: list[memoryview]) -> int:
        if len(views) == 1:
            return socket.socket.send(self, views[0])
        return socket.socket.sendmsg(self, views)

    def pending(self) -> int:
        return self.zws_pending()

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        return self.zws_recv_into(buffer, nbytes)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        buffer = bytearray(bufsize)
        return bytes(buffer[: self.zws_recv_into(buffer)])

    def send(self, data: Any, flags: int = 0) -> int:
        return self.zws_send_views((data,))

    def sendmsg(
        self, buffers: Iterable[Any], ancdata: Any = (), flags: int = 0, address: Any = None
    ) -> int:
        return self.zws_send_views(buffers)

    def shutdown(self, how: int) -> None:
        self.zws_close_frame()
        socket.socket.shutdown(self, how)


class WssSocket(ZwsStream, ssl.SSLSocket):
    """An SSL socket that reads and writes ZMTP, speaking ZWS inside TLS."""

    def raw_recv_into(self, view: memoryview) -> int:
        try:
            return ssl.SSLSocket.recv_into(self, view)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise BlockingIOError(errno.EAGAIN, "TLS: no application data yet") from None

    def raw_write(self, views: list[memoryview]) -> int:
        # SSL has no sendmsg: join small pieces up to a record, so that a frame header
        # does not become a record of its own.
        if len(views) == 1 or len(views[0]) >= _TLS_RECORD:
            data: Any = views[0]
        else:
            size = 0
            count = 0
            for view in views:
                if size and size + len(view) > _TLS_RECORD:
                    break
                size += len(view)
                count += 1
            data = b"".join(views[:count])
        try:
            return ssl.SSLSocket.send(self, data)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise BlockingIOError(errno.EAGAIN, "TLS: the socket is full") from None

    def raw_buffered(self) -> int:
        return ssl.SSLSocket.pending(self)

    def pending(self) -> int:
        # Decoded bytes, or TLS bytes already read off the fd, which it no longer signals.
        return self.zws_pending() or ssl.SSLSocket.pending(self)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        return self.zws_recv_into(buffer, nbytes or 0)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        buffer = bytearray(buflen)
        return bytes(buffer[: self.zws_recv_into(buffer)])

    def send(self, data: Any, flags: int = 0) -> int:
        return self.zws_send_views((data,))

    def sendmsg(  # type: ignore[override]
        self, buffers: Iterable[Any], ancdata: Any = (), flags: int = 0, address: Any = None
    ) -> int:
        return self.zws_send_views(buffers)

    def shutdown(self, how: int) -> None:
        self.zws_close_frame()
        ssl.SSLSocket.shutdown(self, how)


class WsOptions(OptionModel):
    """The ws and wss transports' options (one model for both, so that the names are
    declared once): libzmq's ``wss_*`` names and numbers (draft API; PEM text, not file
    names, as in libzmq), and ``ws_allowed_origins``, which libzmq lacks."""

    ws_allowed_origins: bytes = option(
        b"",
        number=None,
        doc="Comma-separated origins (scheme://host[:port]) whose web pages may connect "
        "to a ws/wss server; a request with another Origin gets 403. Empty: any origin, "
        "as libzmq. Clients that are not browsers send no Origin and are not concerned.",
    )

    wss_key_pem: bytes = option(b"", number=103, doc="PEM private key of wss_cert_pem (wss bind).")
    wss_cert_pem: bytes = option(
        b"", number=104, doc="PEM certificate chain the wss server presents (wss bind)."
    )
    wss_trust_pem: bytes = option(
        b"", number=105, doc="PEM CA certificates a wss client trusts (wss connect)."
    )
    wss_hostname: bytes = option(
        b"",
        number=106,
        doc="Name the wss server's certificate must carry, sent as SNI (wss connect; "
        "empty: the endpoint's host, where libzmq checks no name at all).",
    )
    wss_trust_system: Flag = option(
        0, number=107, doc="A wss client also trusts the system's CA certificates (1)."
    )


@dataclass(frozen=True)
class WsAddress:
    """A parsed ``ws://`` or ``wss://`` endpoint."""

    scheme: str
    tcp: Any  # the tcp transport's own parsed address, opaque here
    path: str  # the request target, "/" when the endpoint names none
    host: str  # what the client sends as Host
    tls: ssl.SSLContext | None = field(default=None, compare=False, repr=False)
    server_hostname: str | None = None


class WsTransport(StreamTransport):
    """ZWS 2.0 over TCP, with tcp's endpoint forms plus an optional path:
    ``ws://127.0.0.1:5555``, ``ws://*:*/zmq``, ``ws://example.com:80/zeromq``."""

    name = "ws"
    option_model = WsOptions
    loopback_endpoint: ClassVar[str | None] = "ws://127.0.0.1:*"
    carries_raw_bytes: ClassVar[bool] = False  # ZWS frames ZMTP; it has no raw form

    def __init__(self) -> None:
        # Connections are tcp's, made by the tcp transport (options, last_endpoint...),
        # found through the registry as a wrapping transport should, not imported.
        tcp = get_registry().transport("tcp")()
        if not isinstance(tcp, StreamTransport):
            raise EndpointError(f"{self.name}: tcp:// is not a stream transport")
        self._tcp = tcp

    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> WsAddress:
        scheme = self.name
        where, slash, rest = address.partition("/")
        path = "/" + rest if slash else "/"
        if any(c <= " " or c > "~" for c in path):
            raise EndpointError(
                f"invalid endpoint {scheme}://{address!r}: the path {path!r} has spaces or "
                f"non-ASCII characters; for example {scheme}://127.0.0.1:5555/zeromq"
            )
        try:
            tcp = self._tcp.parse(where, bind=bind, options=options)
        except EndpointError as exc:
            text = str(exc).replace("tcp://", f"{scheme}://")
            raise EndpointError(text, getattr(exc, "errno", None) or errno.EINVAL) from None
        host = where.rpartition(";")[2]  # after a source address, if any
        # tcp accepted host:port, so the host is what comes before the last colon.
        endpoint_host = host.rpartition(":")[0].removeprefix("[").removesuffix("]")
        tls, server_hostname = self._tls(
            address, bind=bind, options=options, endpoint_host=endpoint_host
        )
        return WsAddress(scheme, tcp, path, host, tls, server_hostname)

    def _tls(
        self, address: str, *, bind: bool, options: Mapping[str, Any], endpoint_host: str
    ) -> tuple[ssl.SSLContext | None, str | None]:
        return None, None

    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        addr = _check(address)
        sock, endpoint = self._tcp.listen(addr.tcp, options)
        # libzmq's last_endpoint: the tcp form, the ws scheme, and the path.
        return sock, f"{addr.scheme}://{endpoint.partition('://')[2]}{addr.path}"

    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        return self._tcp.connect(_check(address).tcp, options)

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        self._tcp.accepted(sock, options)

    def wrap(
        self, sock: socket.socket, address: Any, options: Mapping[str, Any], *, server_side: bool
    ) -> socket.socket:
        addr = _check(address)
        ws = WsSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        ws.setblocking(False)
        _zws_setup(ws, addr, options, server_side=server_side)
        return ws


class WssTransport(WsTransport):
    """ZWS 2.0 over TLS (Python's ``ssl``), configured by libzmq's ``wss_*`` options."""

    name = "wss"
    loopback_endpoint: ClassVar[str | None] = None  # a server needs its certificate first

    def _tls(
        self, address: str, *, bind: bool, options: Mapping[str, Any], endpoint_host: str
    ) -> tuple[ssl.SSLContext | None, str | None]:
        def refuse(problem: str) -> EndpointError:
            return EndpointError(f"invalid endpoint wss://{address}: {problem}", errno.EINVAL)

        cert = bytes(options.get("wss_cert_pem", b""))
        key = bytes(options.get("wss_key_pem", b""))
        trust = bytes(options.get("wss_trust_pem", b""))
        # libzmq checks the name only when wss_hostname is set, so any certificate its
        # trust store signs, for any name, passes. Here the endpoint's host is checked
        # then (an IP literal against the certificate's IP addresses), as a browser
        # would; wss_hostname names another one. There is no way to turn the check
        # off: libzmq has no option for that either.
        hostname = bytes(options.get("wss_hostname", b"")).decode("ascii", "replace")
        hostname = hostname or endpoint_host.strip("[]")
        if bind:
            if not cert or not key:
                raise refuse("a wss server needs the wss_cert_pem and wss_key_pem options")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        else:
            if not trust and not options.get("wss_trust_system", 0):
                raise refuse(
                    "a wss client needs wss_trust_pem (the CA certificates to trust) "
                    "or wss_trust_system=1"
                )
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = True
            context.verify_mode = ssl.CERT_REQUIRED
            try:
                if trust:
                    context.load_verify_locations(cadata=trust.decode("ascii"))
                if options.get("wss_trust_system", 0):
                    context.load_default_certs()
            except (ssl.SSLError, ValueError, UnicodeDecodeError) as exc:
                raise refuse(f"cannot load wss_trust_pem: {exc}") from None
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # A renegotiation would need a write while the kernel waits to read: refuse it.
        context.options |= ssl.OP_NO_RENEGOTIATION
        if bind:
            try:
                _load_pem_pair(context, cert, key)
            except (ssl.SSLError, OSError) as exc:
                raise refuse(f"cannot load wss_cert_pem/wss_key_pem: {exc}") from None
        context.sslsocket_class = WssSocket
        return context, (hostname or None) if not bind else None

    def wrap(
        self, sock: socket.socket, address: Any, options: Mapping[str, Any], *, server_side: bool
    ) -> socket.socket:
        addr = _check(address)
        assert addr.tls is not None
        tls = addr.tls.wrap_socket(
            sock,
            server_side=server_side,
            server_hostname=None if server_side else addr.server_hostname,
            do_handshake_on_connect=False,
        )
        assert isinstance(tls, WssSocket)
        _zws_setup(tls, addr, options, server_side=server_side)
        return tls

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


def _load_pem_pair(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """``load_cert_chain`` reads only files: give it private, short-lived ones."""
    with tempfile.TemporaryDirectory(prefix="mqsdk-wss-") as folder:
        cert_path = os.path.join(folder, "cert.pem")
        key_path = os.path.join(folder, "key.pem")
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
        try:
            context.load_cert_chain(cert_path, key_path)
        finally:
            for path in (cert_path, key_path):
                with contextlib.suppress(OSError):
                    os.unlink(path)


def _zws_setup(
    stream: ZwsStream, addr: WsAddress, options: Mapping[str, Any], *, server_side: bool
) -> None:
    """Give a freshly wrapped socket (plain or TLS) what its ZWS side needs to know."""
    stream.zws_setup(
        client=not server_side,
        host=addr.host,
        path=addr.path,
        maxmsgsize=int(options.get("maxmsgsize", -1)),
        allowed_origins=_allowed_origins(options),
    )


def _allowed_origins(options: Mapping[str, Any]) -> frozenset[str]:
    text = bytes(options.get("ws_allowed_origins", b"")).decode("ascii", "replace")
    return frozenset(o.strip().lower() for o in text.split(",") if o.strip())


def _check(address: Any) -> WsAddress:
    if not isinstance(address, WsAddress):
        raise TypeError(f"ws transport: expected a parsed WsAddress, got {address!r}")
    return address
