"""Listeners (bind) and connecters (connect) for stream transports.

Both live in the socket's I/O thread. A listener accepts connections and starts an
engine for each; a connecter connects, starts an engine, and reconnects with backoff
when the connection ends (unless it ended on a protocol error, as libzmq does).
"""

from __future__ import annotations

import errno
import logging
import random
import socket
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mqsdk._kernel.engine import CloseReason, StreamEngine
from mqsdk._kernel.poller import READ, WRITE

if TYPE_CHECKING:
    from mqsdk._kernel.pipe import StreamPipe
    from mqsdk._kernel.reactor import Reactor, TimerHandle
    from mqsdk._kernel.transport import StreamTransport

log = logging.getLogger(__name__)

_ACCEPTS_PER_WAKE = 1024
"""Most connections taken and set up per wake-up of the listener, so that a flood of
them cannot keep the I/O thread from the connections it already has for long. The
listening fd stays readable, so the rest are taken on the next turn."""
_SET_UPS_BETWEEN_ACCEPTS = 16
"""Connections set up before the listener looks at the OS's accept queue again."""
_ACCEPT_SOFT = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.ECONNABORTED})


class Listener:
    """A bound endpoint: accepts connections and hands each to a new engine."""

    def __init__(
        self,
        owner: Any,
        endpoint: str,
        transport: StreamTransport,
        address: Any,
        sock: socket.socket,
        reactor: Reactor,
    ) -> None:
        self.owner = owner
        self.endpoint = endpoint  # the resolved form, as last_endpoint reports it
        self.transport = transport
        self.address = address
        self.sock = sock
        self.reactor = reactor
        self.engines: set[StreamEngine] = set()
        self.handshakes: set[TransportHandshake] = set()
        self.closed = False

    def start(self) -> None:
        self.reactor.add_reader(self.sock.fileno(), self._on_acceptable)
        self.owner._event("listening", self.endpoint, self.sock.fileno())

    def _on_acceptable(self) -> None:
        # Keep the OS's accept queue empty while connections are set up. The queue holds
        # only `backlog` connections; while it is full, Linux drops the SYNs (and
        # handshake ACKs) that arrive, and each of those clients tries again only 1 s
        # later, then 3 s, 7 s... (with a linger shorter than that, its messages are
        # lost). Taking a connection off the queue costs a few microseconds, setting it
        # up (an engine, the greeting sent) a hundred or more: so take all there are,
        # set a few up, and look at the queue again.
        waiting: deque[socket.socket] = deque()
        taken = 0
        options: Mapping[str, Any] | None = None
        try:
            while True:
                if taken < _ACCEPTS_PER_WAKE:
                    batch = self._accept_batch(_ACCEPTS_PER_WAKE - taken)
                    taken += len(batch)
                    waiting.extend(batch)
                if not waiting:
                    return
                if options is None:
                    options = self.owner.transport_options()  # once: it is a copy
                for _ in range(min(_SET_UPS_BETWEEN_ACCEPTS, len(waiting))):
                    self._set_up(waiting.popleft(), options)
        finally:
            for conn in waiting:  # only if a set-up raised: the reactor logs it
                conn.close()

    def _accept_batch(self, limit: int) -> list[socket.socket]:
        """Take up to ``limit`` connections off the OS's queue; [] when it is empty."""
        batch: list[socket.socket] = []
        accept = self.sock.accept
        while len(batch) < limit:
            try:
                conn, _addr = accept()
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno not in _ACCEPT_SOFT:
                    # EMFILE and friends: report, and keep listening.
                    self.owner._event("accept_failed", self.endpoint, exc.errno or 0)
                break
            batch.append(conn)
        return batch

    def _set_up(self, conn: socket.socket, options: Mapping[str, Any]) -> None:
        """Configure an accepted connection and start its engine (or its TLS handshake)."""
        try:
            conn.setblocking(False)
            self.transport.accepted(conn, options)
        except OSError as exc:
            conn.close()
            self.owner._event("accept_failed", self.endpoint, exc.errno or 0)
            return
        self.owner._event("accepted", self.endpoint, conn.fileno())
        try:
            wrapped = self.transport.wrap(conn, self.address, options, server_side=True)
        except OSError as exc:
            transport_handshake_failed(self.owner, self.endpoint, conn, exc)
            return
        if wrapped is None:
            self._start_engine(conn)
            return
        handshake = TransportHandshake(
            self.owner, self.endpoint, self.transport, wrapped, self.reactor, self._start_engine
        )
        handshake.on_end = self.handshakes.discard
        self.handshakes.add(handshake)
        handshake.start()

    def _start_engine(self, conn: socket.socket) -> None:
        engine = self.owner.engine_class(
            conn,
            self.owner,
            self.endpoint,
            self.reactor,
            self.transport.peer_address(conn),
            on_close=self._engine_closed,
        )
        self.engines.add(engine)
        engine.start()

    def _engine_closed(self, engine: StreamEngine, reason: CloseReason) -> None:
        self.engines.discard(engine)

    def close(self) -> None:
        """Stop accepting, close the listening socket and every accepted connection."""
        if self.closed:
            return
        self.closed = True
        fd = self.sock.fileno()
        self.reactor.remove_reader(fd)
        try:
            self.transport.close_listener(self.sock, self.address)
        except OSError as exc:
            self.owner._event("close_failed", self.endpoint, exc.errno or 0)
        else:
            self.owner._event("closed", self.endpoint, fd)
        for handshake in list(self.handshakes):
            handshake.cancel()
        for engine in list(self.engines):
            engine.close("endpoint unbound")


class Connecter:
    """A connected endpoint: keeps one connection up, reconnecting with backoff."""

    def __init__(
        self,
        owner: Any,
        endpoint: str,
        transport: StreamTransport,
        address: Any,
        reactor: Reactor,
        pipe: StreamPipe | None,
    ) -> None:
        self.owner = owner
        self.endpoint = endpoint
        self.transport = transport
        self.address = address
        self.reactor = reactor
        self.pipe = pipe  # created at connect() unless IMMEDIATE; survives reconnects
        self.engine: StreamEngine | None = None
        self.closed = False
        self.lingering = False  # the socket was closed with messages still queued here
        self._sock: socket.socket | None = None
        self._handshake: TransportHandshake | None = None
        self._retry: TimerHandle | None = None
        self._interval = 0.0  # the current backoff, seconds

    def start(self) -> None:
        self._attempt()

    def _options(self) -> Mapping[str, Any]:
        options: Mapping[str, Any] = self.owner.transport_options()
        return options

    def _attempt(self) -> None:
        self._retry = None
        if self.closed:
            return
        try:
            sock = self.transport.connect(self.address, self._options())
        except OSError as exc:
            log.debug("%s: connect to %s failed: %s", self.owner, self.endpoint, exc)
            self._schedule_retry()
            return
        self._sock = sock
        self.owner._event("connect_delayed", self.endpoint, errno.EINPROGRESS)
        self.reactor.add_writer(sock.fileno(), self._on_connect_done)

    def _on_connect_done(self) -> None:
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self.reactor.remove_writer(sock.fileno())
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            fd = sock.fileno()
            sock.close()
            self.owner._event("closed", self.endpoint, fd)
            self._schedule_retry()
            return
        try:
            self.transport.accepted(sock, self._options())
        except OSError:
            sock.close()
            self._schedule_retry()
            return
        self._interval = 0.0
        self.owner._event("connected", self.endpoint, sock.fileno())
        try:
            wrapped = self.transport.wrap(sock, self.address, self._options(), server_side=False)
        except OSError as exc:
            transport_handshake_failed(self.owner, self.endpoint, sock, exc)
            self._schedule_retry()
            return
        if wrapped is None:
            self._start_engine(sock)
            return
        self._handshake = TransportHandshake(
            self.owner, self.endpoint, self.transport, wrapped, self.reactor, self._start_engine
        )
        self._handshake.on_end = self._handshake_ended
        self._handshake.start()

    def _handshake_ended(self, handshake: TransportHandshake) -> None:
        self._handshake = None
        if handshake.failed:
            self._schedule_retry()

    def _start_engine(self, sock: socket.socket) -> None:
        self.engine = self.owner.engine_class(
            sock,
            self.owner,
            self.endpoint,
            self.reactor,
            self.transport.peer_address(sock),
            on_close=self._engine_closed,
        )
        self.engine.connecter = self
        self.engine.start()

    @property
    def has_pending_output(self) -> bool:
        if self.engine is not None and self.engine.has_pending_output:
            return True
        return self.pipe is not None and bool(self.pipe.outq)

    def linger(self, linger_ms: int) -> None:
        """The socket was closed: keep (re)connecting until the queue is out, then close."""
        self.lingering = True
        self.owner.context._linger_started(self)
        if self.engine is not None:
            self.engine.lingering = True
            self.engine.want_flush(deferred=True)
        if linger_ms > 0:
            self.reactor.call_later(linger_ms / 1000, self.close)

    def _engine_closed(self, engine: StreamEngine, reason: CloseReason) -> None:
        if engine is self.engine:
            self.engine = None
        if self.lingering and (reason.fatal or not self.has_pending_output):
            self.close()
            return
        if self.closed:
            return
        if reason.fatal:
            # A protocol error (or the peer's ERROR) ends this endpoint: reconnecting
            # would only fail the same way (libzmq's session_base::engine_error).
            log.warning(
                "%s: not reconnecting to %s after: %s", self.owner, self.endpoint, reason.text
            )
            return
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self.closed:
            return
        options = self.owner.options
        ivl = options.reconnect_ivl
        if ivl < 0:
            return  # reconnection disabled
        base = ivl / 1000
        cap = options.reconnect_ivl_max / 1000
        if cap > 0:
            # Exponential backoff from reconnect_ivl up to reconnect_ivl_max.
            self._interval = base if not self._interval else min(self._interval * 2, cap)
            delay = self._interval
        else:
            # libzmq: reconnect_ivl plus a random part of it, to spread reconnect storms.
            delay = base + random.random() * base
        self.owner._event("connect_retried", self.endpoint, int(delay * 1000))
        self._retry = self.reactor.call_later(delay, self._attempt)

    def close(self) -> None:
        """Stop connecting and close the connection (I/O thread)."""
        if self.closed:
            return
        self.closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._sock is not None:
            self.reactor.remove_writer(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._handshake is not None:
            self._handshake.cancel()
        if self.engine is not None:
            self.engine.close("endpoint disconnected")
        if self.lingering:
            self.owner.context._linger_finished(self)


class TransportHandshake:
    """Drives a wrapped stream's own handshake (TLS) in the I/O thread, before ZMTP.

    See :meth:`StreamTransport.wrap`. ``ready(sock)`` starts the engine once the
    transport says the handshake is complete; a failure or ``handshake_ivl`` expiring
    is reported and closes the socket. ``on_end(self)`` is called either way (``failed``
    tells which), but not after :meth:`cancel`.
    """

    def __init__(
        self,
        owner: Any,
        endpoint: str,
        transport: StreamTransport,
        sock: socket.socket,
        reactor: Reactor,
        ready: Callable[[socket.socket], None],
    ) -> None:
        self.owner = owner
        self.endpoint = endpoint
        self.transport = transport
        self.sock = sock
        self.fd = sock.fileno()
        self.reactor = reactor
        self.ready = ready
        self.on_end: Callable[[TransportHandshake], None] = lambda handshake: None
        self.failed = False
        self._done = False
        self._watching = 0
        self._timer: TimerHandle | None = None

    def start(self) -> None:
        ivl = self.owner.options.handshake_ivl
        if ivl > 0:
            self._timer = self.reactor.call_later(ivl / 1000, self._expired)
        self._step()

    def _step(self) -> None:
        if self._done:
            return
        try:
            want = self.transport.handshake(self.sock)
        except OSError as exc:
            self._fail(exc)
            return
        if want:
            self._watch(want)
            return
        self._finish()
        self.on_end(self)
        self.ready(self.sock)

    def _watch(self, want: int) -> None:
        for flag, add, remove in (
            (READ, self.reactor.add_reader, self.reactor.remove_reader),
            (WRITE, self.reactor.add_writer, self.reactor.remove_writer),
        ):
            if want & flag and not self._watching & flag:
                add(self.fd, self._step)
            elif self._watching & flag and not want & flag:
                remove(self.fd)
        self._watching = want & (READ | WRITE)

    def _finish(self) -> None:
        self._done = True
        self._watch(0)
        if self._timer is not None:
            self._timer.cancel()

    def _expired(self) -> None:
        if not self._done:
            self._fail(TimeoutError(errno.ETIMEDOUT, "the transport handshake timed out"))

    def _fail(self, exc: OSError) -> None:
        self._finish()
        self.failed = True
        transport_handshake_failed(self.owner, self.endpoint, self.sock, exc)
        self.on_end(self)

    def cancel(self) -> None:
        """The endpoint closes: stop, and close the socket without reporting a failure."""
        if not self._done:
            self._finish()
            self.sock.close()


def transport_handshake_failed(
    owner: Any, endpoint: str, sock: socket.socket, exc: OSError
) -> None:
    """Report a failed transport handshake the way a failed ZMTP one is, and close."""
    fd = sock.fileno()
    sock.close()
    log.debug("%s: %s: transport handshake failed: %s", owner, endpoint, exc)  # see engine
    owner.stats["handshake_failures"] += 1
    owner._event("handshake_failed_no_detail", endpoint, exc.errno or errno.EPROTO)
    owner.context.registry.notify(
        "mqsdk_handshake_failed", socket=owner, endpoint=endpoint, error=exc
    )
    owner._event("disconnected", endpoint, fd)
