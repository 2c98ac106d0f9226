"""The transport interface.

A *stream transport* (tcp, ipc, tipc, vmci, or a third-party one such as tls) only turns
endpoint strings into connected, non-blocking OS stream sockets; the kernel runs ZMTP,
reconnection, heartbeats and everything else on top of what it returns. Writing one is a
matter of parsing an address and calling ``socket``/``bind``/``listen``/``connect``.

Message transports (:class:`MessageTransport`: inproc, udp, pgm) instead move whole
messages and attach pipes to the socket themselves.

Who calls what (stream transports): the kernel calls ``parse`` in the user's thread
during ``bind()`` and ``connect()`` (so a bad endpoint is an immediate
:class:`~mqsdk.errors.EndpointError`), ``listen`` in the user's thread during ``bind()``
(so an address in use is an immediate error), and ``connect``/``accepted`` from the
context's I/O thread. A transport instance is created once per socket endpoint and holds
no global state.

A stream transport may run its own protocol under ZMTP (TLS): :meth:`StreamTransport.wrap`
returns the socket the kernel should use instead, and the kernel drives
:meth:`StreamTransport.handshake` in the I/O thread until it is complete, before the ZMTP
greeting. The wrapped socket must behave like a plain non-blocking one towards the kernel
(see :meth:`StreamTransport.wrap`).
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from mqsdk._kernel.component import Component

if TYPE_CHECKING:
    from mqsdk._kernel.handle import SocketHandle


class Transport(Component, ABC):
    """Base of every transport. ``name`` is the endpoint scheme, lowercase (``"tcp"``)."""

    kind: ClassVar[str] = "transport"

    loopback_endpoint: ClassVar[str | None] = None
    """An endpoint that binds on this one host, for self-tests such as ``mqsdk demo``:
    ``{tmp}`` is replaced by a private folder and ``{n}`` by a number unique to the run
    (``"tcp://127.0.0.1:*"``). None when the transport needs more than one host or a
    network (multicast): the demo then lists it as not applicable."""

    @classmethod
    def loopback_connect_endpoint(cls, bound: str) -> str:
        """The endpoint a peer on this host connects to, given what binding
        :attr:`loopback_endpoint` reported in ``last_endpoint`` (the same by default)."""
        return bound


class StreamTransport(Transport):
    """A transport whose connections are byte streams carrying ZMTP.

    ``options`` passed to the methods is a read-only mapping of the socket's option
    names (``"ipv6"``, ``"backlog"``, ``"tcp_keepalive"``, ``"sndbuf"``...) to values.
    """

    carries_raw_bytes: ClassVar[bool] = True
    """False when the connections can carry only ZMTP (ws puts each ZMTP frame in a
    WebSocket message): a STREAM socket's ``bind``/``connect`` (raw bytes, no ZMTP) is
    then refused with ENOCOMPATPROTO rather than making connections that garble them."""

    @abstractmethod
    def parse(self, address: str, *, bind: bool, options: Mapping[str, Any]) -> Any:
        """Check and parse the part of the endpoint after ``scheme://``.

        Return any object the other methods understand (typically a small frozen
        dataclass). No I/O except name resolution that the endpoint form requires.
        Raise :class:`~mqsdk.errors.EndpointError` saying what is wrong and what a good
        endpoint looks like.
        """

    @abstractmethod
    def listen(self, address: Any, options: Mapping[str, Any]) -> tuple[socket.socket, str]:
        """Create, bind and listen; return the non-blocking listening socket and the
        resolved endpoint for ``last_endpoint`` (``tcp://0.0.0.0:40123``). Raise
        OSError as the OS reports it (the kernel turns it into a monitor event)."""

    @abstractmethod
    def connect(self, address: Any, options: Mapping[str, Any]) -> socket.socket:
        """Create a non-blocking socket and start connecting it (``connect_ex``).

        The kernel waits for writability and reads ``SO_ERROR`` to learn the outcome.
        """

    def accepted(self, sock: socket.socket, options: Mapping[str, Any]) -> None:
        """Configure a freshly accepted or connected socket (TCP_NODELAY, keepalive...).

        Called for both sides of every connection, in the I/O thread. The default does
        nothing. Keep it to the few system calls it needs: under a burst of clients,
        each waits for those of the ones accepted before it.
        """

    def wrap(
        self, sock: socket.socket, address: Any, options: Mapping[str, Any], *, server_side: bool
    ) -> socket.socket | None:
        """Return the socket to run ZMTP over instead of ``sock``, or None (the default).

        Called in the I/O thread after :meth:`accepted`, for both sides of every
        connection (``server_side`` is True for accepted ones; ``address`` is the parsed
        bind or connect address). The returned socket (an ``ssl.SSLSocket`` subclass, for
        example) must behave like a plain non-blocking socket towards the kernel:
        ``recv``, ``recv_into``, ``send`` and ``sendmsg`` raise :class:`BlockingIOError`
        when they would block (translate ``SSLWantReadError``/``SSLWantWriteError``),
        ``sendmsg`` may send only a prefix, and a ``pending()`` method, if it has one,
        says how many bytes it holds already decoded, which the fd no longer signals.
        """
        return None

    def handshake(self, sock: socket.socket) -> int:
        """Advance the handshake of a socket :meth:`wrap` returned, without blocking.

        Return 0 when it is complete, or :data:`mqsdk._kernel.poller.READ` / ``WRITE`` for what
        to wait for before the next call. Raise OSError if it failed: the kernel reports
        HANDSHAKE_FAILED_NO_DETAIL (the ``mqsdk_handshake_failed`` hook gets the error),
        closes the socket and, on the connecting side, retries. The socket option
        ``handshake_ivl`` bounds this handshake and the ZMTP one, each.
        """
        return 0

    def close_listener(self, sock: socket.socket, address: Any) -> None:
        """Close a listening socket on unbind or socket close (ipc removes its file)."""
        sock.close()

    def peer_address(self, sock: socket.socket) -> str:
        """The peer's address as text, for ZAP and the ``Peer-Address`` property."""
        try:
            peer = sock.getpeername()
        except OSError:
            return ""
        if isinstance(peer, tuple):
            return str(peer[0])
        return str(peer)


class MessageTransport(Transport):
    """A transport that moves whole messages itself instead of a ZMTP byte stream
    (inproc between threads, udp and pgm datagrams).

    It makes its own :class:`~mqsdk._kernel.pipe.Pipe` subclass and gives each pipe to the
    socket through the :class:`~mqsdk._kernel.handle.SocketHandle` its methods receive:
    ``handle.attach_pipe(pipe)`` from the socket's own thread, ``handle.post_attach``
    / ``handle.post_detach`` from any other (applied at the socket's next call). Traffic
    is counted with ``handle.count_sent``/``count_received``; what a peer learns about
    the socket, the pattern's greeting and the socket-type checks come from the handle
    too (``peer_info``, ``greeting``, ``accepts``/``compatible``). All methods run in
    the socket's user thread. One instance is created per bound or connected endpoint
    and kept until it is unbound, disconnected or the socket closes.
    """

    @abstractmethod
    def bind(self, socket: SocketHandle, address: str) -> str:
        """Start serving ``address`` for ``socket``; return the endpoint for
        ``last_endpoint``. Raise :class:`~mqsdk.errors.MQError` (EADDRINUSE...)."""

    @abstractmethod
    def connect(self, socket: SocketHandle, address: str) -> None:
        """Connect ``socket`` to ``address`` (connecting before the bind exists may
        be allowed, as inproc does)."""

    @abstractmethod
    def close(self, socket: SocketHandle) -> None:
        """The endpoint is unbound or disconnected, or the socket closes: detach and
        forget every pipe this instance made for ``socket``."""


# connect_ex results meaning "started, finish asynchronously". EWOULDBLOCK (EAGAIN)
# counts only on Windows: on Linux it means the connect did not start (no ephemeral
# port left, a Unix listener's backlog full), an error to retry later.
_CONNECT_STARTED = frozenset(
    {0, errno.EINPROGRESS, errno.EINTR}
    | ({errno.EWOULDBLOCK} if sys.platform == "win32" else set())
)


def start_connect(sock: socket.socket, sockaddr: Any, name: str | None = None) -> socket.socket:
    """Make ``sock`` non-blocking and start connecting it to ``sockaddr``, as
    :meth:`StreamTransport.connect` must; close it and raise OSError (its filename
    ``name``, when given) if the connection failed at once. Returns ``sock``."""
    try:
        sock.setblocking(False)
        rc = sock.connect_ex(sockaddr)
        if rc not in _CONNECT_STARTED:
            raise OSError(rc, os.strerror(rc), name)
    except BaseException:
        sock.close()
        raise
    return sock
