"""The stream engine: one ZMTP connection over a connected, non-blocking stream socket.

The protocol is :class:`mqsdk.zmtp.connection.Connection`'s, a sans-I/O state machine;
the engine is its driver: it reads and writes the OS socket, runs the timers (handshake
deadline, heartbeats, the TTL the peer asks for), sends the ZAP requests through the
ZAP client its socket gives it, and moves messages between the OS socket and the
connection's :class:`~mqsdk._kernel.pipe.Pipe`. The greeting and the handshake run in the I/O
thread, through the connection's events. Once it reports ``Ready`` the engine picks its
data path, once: plain ZMTP, or the mechanism's traffic codec (CURVE). From then on
reads go into the connection's frame decoder directly and its items are delivered as a
batch, without an event object per message; only commands go back to the connection
(PING is answered there, other commands come back for the pattern).

Who does the I/O (see docs/architecture.md): once the handshake is done, reading and
writing happen in whichever thread gets there first, the user's thread when it would
otherwise wait, the I/O thread for everything else; the engine asks its socket's
:class:`~mqsdk._kernel.io_policy.IoPolicy` before it reads, flushes or writes in the I/O thread.
``lock`` makes one of them the owner at a time; the I/O thread only ever *tries* the
lock, so a user thread never waits on it for long. Everything about the connection's
life (timers, close, reconnect) stays in the I/O thread: a user thread that meets EOF
or an error only hands it over.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mypy_extensions import mypyc_attr

from mqsdk._kernel.mechanism import (
    Mechanism,
    SocketTypeMismatch,
    TrafficCodec,
    ZapReply,
    ZapRequest,
)
from mqsdk._kernel.pipe import as_frames
from mqsdk.errors import MQError, ProtocolError
from mqsdk.zmtp.commands import PeerError
from mqsdk.zmtp.connection import (
    NEED_DATA,
    CommandReceived,
    Connection,
    GreetingReceived,
    MessageReceived,
    PingAnswered,
    PongReceived,
    Ready,
    State,
    ZapRefused,
    ZapRequested,
)
from mqsdk.zmtp.frames import Command, Item, encode_message

if TYPE_CHECKING:
    from collections import deque

    from mqsdk._kernel.io_policy import IoPolicy
    from mqsdk._kernel.pipe import Pipe, QueuedMessage, StreamPipe
    from mqsdk._kernel.reactor import Reactor, TimerHandle

log = logging.getLogger(__name__)


class ZapRequester(Protocol):
    """What the engine needs of a ZAP client (:class:`mqsdk._kernel.zap.ZapClient`), which
    the socket gives it (``owner.zap_client(reactor)``): the engine never imports
    the ZAP client, which is built on a socket."""

    def request(
        self,
        request: ZapRequest,
        *,
        domain: bytes,
        address: bytes,
        identity: bytes,
        callback: Callable[[ZapReply | ProtocolError | None], None],
    ) -> bytes | None: ...

    def cancel(self, request_id: bytes | None) -> None: ...


# The engine's own coarse state, an int compared on the data path; the protocol's
# state is the connection's (mqsdk.zmtp.connection.State, with its transition table).
_GREETING = 0
_HANDSHAKE = 1
_ACTIVE = 2
_CLOSED = 3

FLUSH_BYTES = 256 * 1024
"""Encode at most this much per flush, so memory stays bounded while the OS socket is full."""
_JOIN_LIMIT = 64 * 1024
"""Pieces adding up to at most this are joined into one buffer; bigger go through sendmsg."""
_IOV_MAX = 512
_BURST_RECHECK = 0.001  # s between looks at a connection whose user is in a send burst
_REWATCH = 0.05  # s before the I/O thread looks again at a connection it left to the user
_BUSY_RECHECK = 0.001  # s before it looks again at one the user's thread was busy with
_WRITER_RECHECK = 0.005  # s between looks at output it left to a waiting user's thread
_SOFT_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})
# Engines are told apart by serial number, not weak reference: the compiled kernel's
# classes cannot be weakly referenced, and an fd number is reused once closed.
_serials = itertools.count(1)


class CloseReason:
    """Why an engine ended, for the owner: whether to reconnect and what to report."""

    __slots__ = ("error", "fatal", "handshake", "text")

    def __init__(
        self, text: str, *, error: BaseException | None, fatal: bool, handshake: bool
    ) -> None:
        self.text = text
        self.error = error
        self.fatal = fatal  # a protocol error or the peer's ERROR: do not reconnect
        self.handshake = handshake  # ended before the handshake completed


@mypyc_attr(allow_interpreted_subclasses=True)
class StreamEngine:
    """One connection. Created and started in the I/O thread."""

    def __init__(
        self,
        sock: socket.socket,
        owner: Any,
        endpoint: str,
        reactor: Reactor,
        peer_address: str,
        on_close: Callable[[StreamEngine, CloseReason], None] | None = None,
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.serial = next(_serials)
        self.owner = owner  # the mqsdk._kernel.socket.Socket
        self.endpoint = endpoint
        self.reactor = reactor
        self.peer_address = peer_address
        self.on_close = on_close
        self.lock = threading.Lock()
        self.state = _GREETING
        self.pipe: StreamPipe | None = None
        self.mechanism: Mechanism | None = None
        self.peer_minor = 1
        self.read_paused = False
        self.dead = False  # set (from any thread) once the engine must not be used
        self.lingering = False  # the socket was closed: close once everything is written
        self.greeted = False  # the pattern's greeting (see Pattern.greet) is queued
        self.connecter: Any = None  # the Connecter that made this connection, if any
        self.last_rx = time.monotonic()
        options = owner.options
        self.maxmsgsize: int = options.maxmsgsize
        # The protocol itself (greeting, handshake, ZAP, PING) is the sans-I/O
        # connection's; this engine does its I/O, timers and threads.
        self.connection = Connection(
            mechanism_name=owner.mechanism_name,
            as_server=owner.as_server,
            make_mechanism=owner.make_mechanism,
            maxmsgsize=self.maxmsgsize,
        )
        # In READY, reads go straight into the connection's decoder (see _dispatch).
        self.decoder = self.connection.decoder
        self._codec: TrafficCodec | None = None  # chosen once, when the handshake ends
        # A wrapped stream (TLS, see StreamTransport.wrap) may hold decoded bytes that
        # the fd no longer signals; plain sockets have no pending().
        self._buffered: Callable[[], int] | None = getattr(sock, "pending", None)
        self._pending: list[Any] = []  # encoded pieces not yet written
        self._pending_size = 0
        # Whether the I/O thread should watch for writability (any thread, under
        # ``lock`` or in the I/O thread), and whether the reactor does (I/O thread only).
        # Only _sync_writer makes the second follow the first, reading the flag when it
        # runs: posting add/remove requests instead could apply them out of order (a
        # user thread's late "remove" undoing the I/O thread's newer "add") and leave a
        # full connection nobody watches.
        self._writer_armed = False
        self._writer_watched = False
        self._writer_sync_posted = False  # a _posted_writer_sync is in the mailbox
        self._writer_recheck = False  # a _recheck_writer timer is pending
        self._flush_scheduled = False
        self._timers: list[TimerHandle] = []
        self._rewatch: TimerHandle | None = None
        # Who reads and writes this connection: asked of the socket's policy, which
        # alone changes the three counters below (see mqsdk/_kernel/io_policy.py).
        self.io_policy: IoPolicy = owner.io_policy
        self.user_reads = 0  # reads done by the user's thread
        self.io_seen_user_reads = 0  # user_reads when the I/O thread last looked
        self.io_seen_burst_flushes = 0  # the socket's burst flushes then
        self._heartbeat_ivl = options.heartbeat_ivl / 1000
        self._heartbeat_timeout = (
            options.heartbeat_timeout if options.heartbeat_timeout >= 0 else options.heartbeat_ivl
        ) / 1000
        self._heartbeat_ttl_ds = options.heartbeat_ttl // 100
        self._zap_id: bytes | None = None  # a ZAP request in flight
        self._zap: ZapRequester | None = None  # the socket's, once a ZAP request is made

    # -- start and handshake (I/O thread) ----------------------------------------------------

    def start(self) -> None:
        self.reactor.add_reader(self.fd, self._on_readable)
        self._send_frames(self.connection.data_to_send())  # our greeting
        ivl = self.owner.options.handshake_ivl
        if ivl > 0:
            self._timers.append(self.reactor.call_later(ivl / 1000, self._handshake_expired))

    def _handshake_expired(self) -> None:
        if self.state < _ACTIVE and not self.dead:
            self._terminate(
                CloseReason(
                    "handshake did not complete within handshake_ivl",
                    error=TimeoutError(errno.ETIMEDOUT, "handshake timed out"),
                    fatal=False,
                    handshake=True,
                )
            )

    def _on_readable(self) -> None:
        if self.dead:
            return
        if self.state == _ACTIVE:
            if self.read_paused:
                self._stop_watching_reads()  # paused by a user's thread (see _pause_reading)
                return
            if not self.io_policy.should_io_thread_read(self):
                # The user's thread is waiting on this fd, or reads it itself whenever
                # its queue runs dry: stop watching it here so both threads do not
                # wake (and trade the GIL) for every packet.
                self._stop_watching_reads()
                return
            if self.lock.acquire(blocking=False):
                try:
                    self.read_available()
                    if self._pending or (self.pipe is not None and self.pipe.outq):
                        self.flush()
                finally:
                    self.lock.release()
            else:
                # The user's thread holds the connection (reading or writing it) right
                # now. The fd stays readable until it reads, and a level-triggered poller
                # would report it again at once: this thread would spin, taking the GIL
                # from the very thread it waits for. Step back and look again shortly
                # (sooner than the usual rewatch: that thread may only be writing).
                self._stop_watching_reads(_BUSY_RECHECK)
            return
        try:
            self._handshake_read()
        except ProtocolError as exc:
            self._protocol_failure(exc)
        except OSError as exc:
            self._terminate(
                CloseReason(f"connection error: {exc}", error=exc, fatal=False, handshake=True)
            )
        except MQError as exc:  # the mechanism's configuration is incomplete (no key...)
            log.warning("%s: %s", self.owner, exc)
            self._terminate(CloseReason(str(exc), error=exc, fatal=True, handshake=True))

    def _handshake_read(self) -> None:
        """Read what the handshake needs and let the connection decide (I/O thread)."""
        connection = self.connection
        while not self.dead:
            state = connection.state
            if state is not State.GREETING and state is not State.HANDSHAKE:
                return  # waiting for ZAP (not reading meanwhile), or done
            region = connection.read_buffer()
            try:
                n = self.sock.recv_into(region)
            except BlockingIOError:
                return
            if n == 0:
                text = (
                    "closed by peer"
                    if state is State.GREETING
                    else "closed by peer during the handshake"
                )
                self._terminate(CloseReason(text, error=None, fatal=False, handshake=True))
                return
            try:
                connection.commit(n)
            except ProtocolError as exc:
                # What the same read completed (a READY, then messages) goes first.
                self._handle_events()
                if self.state == _ACTIVE:
                    self._traffic_failure(exc)
                    return
                raise
            self._send_frames(connection.data_to_send())
            self._handle_events()
            if (
                state is State.GREETING
                and n < len(region)
                and (self._buffered is None or not self._buffered())
            ):
                # A short read took all there was (libzmq sends its greeting in three
                # parts, each after ours arrived): trying again would only fail with
                # EAGAIN. The poller is level-triggered and reports the rest.
                return

    def _handle_events(self) -> None:
        """Act on what the connection reported (I/O thread, before activation)."""
        connection = self.connection
        while True:
            event = connection.next_event()
            if event is NEED_DATA:
                return
            if isinstance(event, GreetingReceived):
                self.state = _HANDSHAKE
                self.peer_minor = connection.peer_minor
                self.mechanism = connection.mechanism
            elif isinstance(event, ZapRequested):
                self._ask_zap(event)
            elif isinstance(event, Ready):
                self._activate(event)
            elif isinstance(event, ZapRefused):
                self._send_frames(connection.data_to_send())  # the ERROR, if any
                self._terminate(
                    CloseReason(str(event.error), error=event.error, fatal=True, handshake=True)
                )
                return

    # -- ZAP (I/O thread) ------------------------------------------------------------------

    def _ask_zap(self, event: ZapRequested) -> None:
        """Send the mechanism's ZAP request; stop reading until the answer comes (the
        handshake timer still runs, so a handler that never answers cannot pin us)."""
        self._zap_id = b""  # waiting; the client's id replaces it below
        self.reactor.remove_reader(self.fd)
        zap = self._zap
        if zap is None:
            zap = self._zap = self.owner.zap_client(self.reactor)
        request_id = zap.request(
            event.request,
            domain=event.domain,
            address=self.peer_address.encode(),
            identity=self.owner.options.routing_id,  # our own id: libzmq's quirk
            callback=self._on_zap_answer,
        )
        if self._zap_id == b"":
            self._zap_id = request_id

    def _on_zap_answer(self, answer: ZapReply | ProtocolError | None) -> None:
        self._zap_id = None
        connection = self.connection
        if self.dead or connection.state is not State.ZAP_PENDING:
            return
        try:
            try:
                connection.zap_reply(answer)
            finally:
                self._send_frames(connection.data_to_send())
            if not connection.closed:
                self.reactor.add_reader(self.fd, self._on_readable)  # _ask_zap removed it
            self._handle_events()
        except ProtocolError as exc:
            self._protocol_failure(exc)
        except MQError as exc:  # e.g. PLAIN without a ZAP handler (EFAULT, as libzmq)
            self._terminate(CloseReason(str(exc), error=exc, fatal=True, handshake=True))

    def _activate(self, ready: Ready) -> None:
        """The handshake completed: choose the data path, start heartbeats, publish the
        engine, and deliver what came with the handshake's last command."""
        connection = self.connection
        self._codec = ready.codec  # the data path, chosen once (see _dispatch)
        # The single-frame lane (mqsdk._kernel.pipe.QueuedMessage), for the patterns
        # that take it; a traffic codec (CURVE) decodes messages itself, as lists.
        self.decoder.single_frames_bare = ready.codec is None and self.owner.pattern.receives_bytes
        if self.dead:
            return
        self.state = _ACTIVE
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._heartbeat_ivl > 0:
            self._timers.append(self.reactor.call_later(self._heartbeat_ivl, self._send_heartbeat))
        # Held from the moment user threads can see this engine until what came with
        # the handshake is delivered: a reader must not get later bytes first.
        with self.lock:
            if not self.owner._engine_ready(self):
                return
            pipe = self.pipe
            if pipe is not None:
                # What the pattern sends first on every connection: SUB's subscriptions,
                # XPUB's welcome message, PROBE_ROUTER's empty message...
                for greeting in self.owner.pattern.greet(pipe, self.peer_minor):
                    connection.send_encoded(greeting)
                self._queue_output(schedule=False)
            self.greeted = True
            # What the same read brought after the handshake's end, already decoded.
            rest: list[Item] = []
            while True:
                event = connection.next_event()
                if event is NEED_DATA:
                    break
                if isinstance(event, MessageReceived):
                    rest.append(event.frames)
                    continue
                if rest:
                    self._dispatch(rest, plaintext=True)
                    rest = []
                if isinstance(event, (PingAnswered, PongReceived, CommandReceived)):
                    self._after_command(event)
            if rest:
                self._dispatch(rest, plaintext=True)
            self._queue_output(schedule=False)
            self.flush()

    # -- reading (any thread holding the lock) ---------------------------------------------

    def read_available(self) -> int:
        """Read and decode what the OS has; return how many messages were delivered.

        Call with ``lock`` held, only while the engine is active.
        """
        delivered = 0
        sock = self.sock
        decoder = self.decoder
        stats = self.owner.stats
        while not self.read_paused and not self.dead:
            try:
                n = sock.recv_into(decoder.read_buffer())
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in _SOFT_ERRNOS:
                    break
                self._hand_over(
                    CloseReason(f"connection error: {exc}", error=exc, fatal=False, handshake=False)
                )
                break
            if n == 0:
                reason = "closed by peer"
                if decoder.has_partial:
                    reason = "closed by peer in the middle of a message"
                self._hand_over(CloseReason(reason, error=None, fatal=False, handshake=False))
                break
            self.last_rx = time.monotonic()
            stats["bytes_in"] += n
            commands = decoder.commands
            try:
                items = decoder.commit(n)
            except ProtocolError as exc:
                if decoder.decoded_before_error:
                    self._dispatch(decoder.decoded_before_error)
                self._hand_over(
                    CloseReason(f"protocol error: {exc}", error=exc, fatal=True, handshake=False)
                )
                break
            if items:
                delivered += self._dispatch(items, decoder.commands == commands)
            if n < 16384 and (self._buffered is None or not self._buffered()):
                break  # drained the OS buffer most likely; don't pay for an EAGAIN
        return delivered

    def _dispatch(
        self, items: list[Any], messages_only: bool = False, plaintext: bool = False
    ) -> int:
        """Hand decoded items over in wire order: messages to the pipe, commands to
        :meth:`_command`. ``messages_only``: the caller knows there is no command.

        The data path is the decoder's items as they are, unless the handshake chose a
        traffic codec (CURVE): then they go through it first (``plaintext``: they did).
        One test per batch, never per message, and no event object per message.
        """
        pipe = self.pipe
        if pipe is None:
            return 0
        if self._codec is not None and not plaintext:
            return self._dispatch_decoded(self._codec, items)
        if messages_only:
            if not pipe.deliver(items):
                self._pause_reading()
            self.owner.stats["msgs_in"] += len(items)
            return len(items)
        batch: list[QueuedMessage] = []
        for item in items:
            if type(item) is list or type(item) is bytes:
                batch.append(item)
            else:
                if batch:
                    if not pipe.deliver(batch):
                        self._pause_reading()
                    batch = []
                self._command(item)
        if batch and not pipe.deliver(batch):
            self._pause_reading()
        self.owner.stats["msgs_in"] += len(items)
        return len(items)

    def _dispatch_decoded(self, codec: TrafficCodec, items: list[Item]) -> int:
        """The codec's data path: every wire item is a box to open first (CURVE)."""
        try:
            plain = codec.decode_items(items)
        except ProtocolError as exc:
            # Nothing of the bad item is delivered, what came before it in the batch is.
            self._dispatch(codec.decoded_before_error, plaintext=True)
            self._traffic_failure(exc)
            return 0
        return self._dispatch(plain, plaintext=True)

    def _traffic_failure(self, exc: ProtocolError) -> None:
        """A protocol error after the handshake."""
        if self._codec is not None:
            # libzmq reports a bad box or nonce as a handshake protocol failure even
            # after the handshake (curve_mechanism_base.cpp).
            self.owner._event("handshake_failed_protocol", self.endpoint, exc.code)
        self._hand_over(
            CloseReason(f"protocol error: {exc}", error=exc, fatal=True, handshake=False)
        )

    def _command(self, command: Command) -> None:
        try:
            event = self.connection.receive_command(command)
        except ProtocolError as exc:  # a PING without its TTL
            self._hand_over(
                CloseReason(f"protocol error: {exc}", error=exc, fatal=True, handshake=False)
            )
            return
        self._after_command(event)

    def _after_command(self, event: PingAnswered | PongReceived | CommandReceived) -> None:
        if isinstance(event, PingAnswered):
            self._queue_output()  # the PONG
            if event.ttl > 0:
                # The peer drops us after ttl of silence; we drop it likewise if it
                # sends nothing for that long (libzmq's heartbeat TTL).
                self.reactor.call_later(event.ttl, self._ttl_expired, time.monotonic())
        elif isinstance(event, CommandReceived):
            command = event.command
            if not self.owner._engine_command(self, command):
                # libzmq ignores commands it does not know after the handshake; so do
                # we, but we say so in the log.
                log.debug(
                    "ignoring %r command from %s",
                    command.name,
                    self.peer_address or self.endpoint,
                )

    def _pause_reading(self) -> None:
        self.read_paused = True
        pipe = self.pipe
        if pipe is not None:
            pipe.read_paused = True
            # The user may have emptied the queue before seeing the flag (it only looks
            # when the flag is set): check again now that it is, or nobody would resume.
            if len(pipe.inq) <= pipe.low_water:
                self.resume_reading()
                return
        self.io_policy.connection_interest_changed(self.fd)  # a waiting user stops watching
        if self.reactor.in_thread():
            self._stop_watching_reads()
        # From a user's thread there is no need to wake the I/O thread for this: if the
        # fd becomes readable, _on_readable sees the flag and stops watching then.

    def resume_reading(self) -> None:
        """The user drained the pipe below its low-water mark: read again (any thread)."""
        if self.read_paused:
            self.read_paused = False
            if self.pipe is not None:
                self.pipe.read_paused = False
            self.io_policy.connection_interest_changed(self.fd)  # a waiting user reads it
            if self.reactor.in_thread():
                self._watch_reads()
            elif self.io_policy.should_io_thread_resume_reads():
                # fileno() users (asyncio, Poller) wait for the I/O thread to read for them.
                self.reactor.call_soon(self._watch_reads)
            # Otherwise the user's thread reads the connection itself whenever its queue
            # runs dry; the I/O thread, if it stopped watching, looks again within 50 ms
            # (a rewatch timer is always pending while it does not watch).

    def _stop_watching_reads(self, recheck: float = _REWATCH) -> None:
        if self.dead:
            return
        self.reactor.remove_reader(self.fd)
        rewatch = self._rewatch
        if rewatch is not None and recheck < _REWATCH:
            rewatch.cancel()  # a sooner look is wanted than the one pending
            rewatch = None
        if rewatch is None:
            # Watch again soon in case the user stops reading for a while (heartbeats and
            # a peer's close must still be noticed), or resumed reading without telling
            # us (see resume_reading). One timer per engine at most.
            self._rewatch = self.reactor.call_later(recheck, self._watch_reads)

    def _watch_reads(self) -> None:
        if self._rewatch is not None:
            self._rewatch.cancel()  # posted by resume_reading while a timer was pending
            self._rewatch = None
        if self.dead:
            return
        if self.read_paused or not self.io_policy.should_io_thread_read(self):
            self._rewatch = self.reactor.call_later(_REWATCH, self._watch_reads)
            return
        self.reactor.add_reader(self.fd, self._on_readable)
        # What arrived while nobody watched is read now.
        self._on_readable()

    # -- writing (any thread holding the lock) ---------------------------------------------

    def want_flush(self, deferred: bool = False) -> None:
        """The pipe's outq went from empty to non-empty: have it flushed.

        In a direct send (see :meth:`IoPolicy.send_directly`) the user's thread flushes
        right after routing; otherwise the I/O thread is asked, once per batch.
        """
        if not deferred and self.io_policy.wants_direct_flush(self):
            return
        if not self._flush_scheduled and self.state == _ACTIVE:
            self._flush_scheduled = True
            self.reactor.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        if self.dead:
            self._flush_scheduled = False
            return
        if not self.io_policy.should_io_thread_flush(self):
            # The user's thread is in a send burst and flushes every few sends itself.
            # Flushing here too would make the two threads trade the GIL on every batch
            # (each of its sends then waits for ours): look again in a moment instead,
            # staying scheduled so its sends do not wake us meanwhile. When the burst
            # ends, the leftovers go out on the next look.
            self.reactor.call_later(_BURST_RECHECK, self._scheduled_flush)
            return
        self._flush_scheduled = False
        if self.lock.acquire(blocking=False):
            try:
                self.flush()
            finally:
                self.lock.release()
        elif not self._writer_armed:
            # The user's thread is busy with this connection; look again shortly.
            self._writer_armed = True
            self._sync_writer()

    def flush(self) -> bool:
        """Encode queued messages and write as much as the OS takes; True if all went.

        Call with ``lock`` held.
        """
        pipe = self.pipe
        if self.dead:
            return False
        while True:
            if not self._pending and pipe is not None and pipe.outq:
                self._encode_from(pipe)
            if not self._pending:
                self._disarm_writer()
                if self.lingering:
                    self._hand_over(
                        CloseReason("flushed after close", error=None, fatal=True, handshake=False)
                    )
                return True
            if not self._write_pending():
                return False

    def _encode_from(self, pipe: Pipe) -> None:
        outq = pipe.outq
        was_full = pipe.sndhwm and len(outq) >= pipe.sndhwm
        count, size = self._encode_batch(outq)
        self._pending_size += size
        owner = self.owner
        # Tell a blocked sender there is room. "was_full" alone misses a sender that
        # filled the pipe while the batch was encoded and then went to wait.
        if was_full or self.io_policy.should_report_room():
            owner._pipe_writable(pipe)
        owner._sent(self, count, size)

    def _encode_batch(self, outq: deque[QueuedMessage]) -> tuple[int, int]:
        """Move messages from ``outq`` to the pending pieces; return (messages, bytes)."""
        pieces = self._pending
        size = 0
        count = 0
        popleft = outq.popleft
        # The data path chosen at READY: plain ZMTP, or the mechanism's codec (CURVE).
        codec = self._codec
        if codec is None:
            while outq and size < FLUSH_BYTES:
                size += encode_message(popleft(), pieces)  # takes bare frames too
                count += 1
            return count, size
        while outq and size < FLUSH_BYTES:
            message = popleft()
            # A codec is a plugin's: it sees every message as a list of frames.
            size += codec.encode_message(as_frames(message), pieces)
            count += 1
        return count, size

    def _write_pending(self) -> bool:
        """Write pending pieces; True if all went out, False if the OS socket is full."""
        pieces = self._pending
        sock = self.sock
        while pieces:
            try:
                if len(pieces) == 1:
                    sent = sock.send(pieces[0])
                elif self._pending_size <= _JOIN_LIMIT:
                    joined = b"".join(pieces)
                    pieces[:] = [joined]
                    sent = sock.send(joined)
                else:
                    sent = sock.sendmsg(pieces[:_IOV_MAX])
            except BlockingIOError:
                self._arm_writer()
                return False
            except OSError as exc:
                if exc.errno in _SOFT_ERRNOS:
                    self._arm_writer()
                    return False
                self._hand_over(
                    CloseReason(
                        f"connection error: {exc}",
                        error=exc,
                        fatal=False,
                        handshake=self.state < _ACTIVE,
                    )
                )
                pieces.clear()
                self._pending_size = 0
                return False
            self._pending_size -= sent
            # Drop what went out; keep a view of a partly written piece.
            index = 0
            count = len(pieces)
            while index < count and sent:
                piece = pieces[index]
                length = piece.nbytes if type(piece) is memoryview else len(piece)
                if sent >= length:
                    sent -= length
                    index += 1
                else:
                    pieces[index] = memoryview(piece)[sent:]
                    sent = 0
            del pieces[:index]
        return True

    def _arm_writer(self) -> None:
        if self.dead:
            return
        # The OS socket is full: a waiting user's thread watches for room itself (the
        # I/O thread's writer steps back while it waits, see _on_writable).
        self.io_policy.connection_interest_changed(self.fd)
        if not self._writer_armed:
            self._writer_armed = True
            self._request_writer_sync()

    def _disarm_writer(self) -> None:
        if self._writer_armed:
            self._writer_armed = False
            self._request_writer_sync()

    def _request_writer_sync(self) -> None:
        """Have the reactor's write watch follow ``_writer_armed`` (any thread)."""
        if self.reactor.in_thread():
            self._sync_writer()
        elif not self._writer_sync_posted:
            # One post covers any number of flag changes before it runs: it reads the
            # flag then, so the last change wins whatever the order of the threads.
            self._writer_sync_posted = True
            self.reactor.call_soon(self._posted_writer_sync)

    def _posted_writer_sync(self) -> None:
        # Cleared before the flag is read: a change made after this line posts again,
        # one made before it is seen below. (The other order could lose a change.)
        self._writer_sync_posted = False
        self._sync_writer()

    def _sync_writer(self) -> None:
        """Watch for writability exactly when ``_writer_armed`` says so (I/O thread)."""
        if self.state == _CLOSED:
            return  # _cleanup stopped watching; the fd number may be reused already
        if self._writer_armed:
            if not self._writer_watched:
                self._writer_watched = True
                self.reactor.add_writer(self.fd, self._on_writable)
        elif self._writer_watched:
            self._writer_watched = False
            self.reactor.remove_writer(self.fd)

    def _on_writable(self) -> None:
        if self.dead:
            return
        if self.state < _ACTIVE:
            if self._write_pending():
                self._disarm_writer()
            return
        if not self.io_policy.should_io_thread_write():
            # A user's thread is blocked in a send or a poll: it writes this connection
            # itself when it is writable (as it reads it). Writing here too would make
            # both threads wake for every writable edge and fight over the lock and the
            # GIL. Step back, and wake it in case it began waiting before this output
            # was pending (its poller then does not watch for writability yet). A
            # later failed write arms this writer again; should that thread stop
            # waiting with output still pending, the recheck takes it up.
            self._disarm_writer()
            self.io_policy.connection_interest_changed(self.fd)
            self.owner._wake_waiter()
            if not self._writer_recheck:
                self._writer_recheck = True
                self.reactor.call_later(_WRITER_RECHECK, self._recheck_writer)
            return
        if self.lock.acquire(blocking=False):
            try:
                self.flush()
            finally:
                self.lock.release()

    def _recheck_writer(self) -> None:
        """Watch for writability again if output is still pending and no user's thread
        waits on this connection (see :meth:`_on_writable`)."""
        if self.dead or self._writer_armed or not self._pending:
            self._writer_recheck = False
            return
        if not self.io_policy.should_io_thread_write():
            self.reactor.call_later(_WRITER_RECHECK, self._recheck_writer)
            return
        self._writer_recheck = False
        self._arm_writer()

    @property
    def has_pending_output(self) -> bool:
        return bool(self._pending) or (self.pipe is not None and bool(self.pipe.outq))

    def _send_frames(self, frames: list[bytes]) -> None:
        """Queue handshake frames and write them (I/O thread, before activation)."""
        if frames:
            self._pending.extend(frames)
            self._pending_size += sum(len(f) for f in frames)
            if not self._write_pending():
                return

    def _queue_output(self, schedule: bool = True) -> None:
        """Queue what the connection has to send after the handshake (PONG, PING, a
        pattern's commands: already through the codec, if any), and have it flushed
        unless the caller flushes itself (lock held by the caller's thread)."""
        frames = self.connection.data_to_send()
        if not frames:
            return
        self._pending.extend(frames)
        self._pending_size += sum(len(frame) for frame in frames)
        if schedule and not self._flush_scheduled:
            self._flush_scheduled = True
            self.reactor.call_soon(self._scheduled_flush)

    def send_command(self, frame: bytes) -> bool:
        """Queue an encoded command (SUBSCRIBE...) from any thread.

        Returns False, sending nothing, before the pattern's greeting went out: the
        greeting is computed under the same lock, so whatever the pattern recorded
        before this call is in it, and nothing is sent twice.
        """
        with self.lock:
            if not self.greeted or self.dead:
                return False
            self.connection.send_encoded(frame)
            # Written now by the caller, who holds the lock, rather than left to the I/O
            # thread: that thread needs the GIL and this lock, and a user's thread that
            # keeps polling this socket holds both nearly all the time, so a subscription
            # made just before the poll would not leave at all (and one made just before
            # a publish in the same process would miss it). What the OS does not take
            # now goes out when the socket is writable again (flush arms the writer).
            self._queue_output(schedule=False)
            self.flush()
            return True

    # -- heartbeats (I/O thread) ---------------------------------------------------------

    def _send_heartbeat(self) -> None:
        if self.dead:
            return
        sent_at = time.monotonic()
        with self.lock:
            if not self.connection.ready:
                return
            self.connection.send_ping(self._heartbeat_ttl_ds)
            self._queue_output()
        self._timers.append(
            self.reactor.call_later(self._heartbeat_timeout, self._heartbeat_check, sent_at)
        )
        self._timers.append(self.reactor.call_later(self._heartbeat_ivl, self._send_heartbeat))
        if len(self._timers) > 16:
            self._timers = [t for t in self._timers if not t.cancelled][-4:]

    def _heartbeat_check(self, sent_at: float) -> None:
        if not self.dead and self.last_rx < sent_at:
            self._terminate(
                CloseReason(
                    "heartbeat timeout: the peer went silent",
                    error=None,
                    fatal=False,
                    handshake=False,
                )
            )

    def _ttl_expired(self, since: float) -> None:
        if not self.dead and self.last_rx <= since:
            self._terminate(
                CloseReason(
                    "heartbeat TTL expired: the peer went silent",
                    error=None,
                    fatal=False,
                    handshake=False,
                )
            )

    # -- ending ----------------------------------------------------------------------------

    def _protocol_failure(self, exc: ProtocolError) -> None:
        if isinstance(exc, SocketTypeMismatch):
            # libzmq sends its own READY (already written), then just closes.
            self._terminate(CloseReason(str(exc), error=exc, fatal=True, handshake=True))
            return
        fatal = True
        if isinstance(exc, PeerError):
            text = f"the peer refused the connection: {exc}"
        else:
            text = f"protocol error: {exc}"
        self._terminate(CloseReason(text, error=exc, fatal=fatal, handshake=True))

    def _hand_over(self, reason: CloseReason) -> None:
        """End the connection from any thread: the I/O thread does the cleanup."""
        if self.dead:
            return
        self.dead = True
        # Always deferred: the caller may hold ``lock``, which the cleanup takes.
        self.reactor.call_soon(self._cleanup, reason)

    def _terminate(self, reason: CloseReason) -> None:
        """End the connection (I/O thread)."""
        if self.dead and self.state == _CLOSED:
            return
        self.dead = True
        self._cleanup(reason)

    def close(self, text: str = "closed locally") -> None:
        """Close from the I/O thread, without reconnecting."""
        self._terminate(CloseReason(text, error=None, fatal=True, handshake=False))

    def _close_socket(self) -> None:
        sock = self.sock
        with contextlib.suppress(OSError):
            # Unread input makes close() send RST, which can destroy output still in
            # the kernel's buffer; read it away first, then close gracefully.
            for _ in range(16):
                if not sock.recv(65536):
                    break
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            sock.close()

    def _cleanup(self, reason: CloseReason) -> None:
        if self.state == _CLOSED:
            return
        self.state = _CLOSED
        if self._zap_id:
            if self._zap is not None:
                self._zap.cancel(self._zap_id)
            self._zap_id = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._rewatch is not None:
            self._rewatch.cancel()
            self._rewatch = None
        self.reactor.remove_reader(self.fd)
        self._writer_armed = False
        if self._writer_watched:
            self._writer_watched = False
            self.reactor.remove_writer(self.fd)
        with self.lock:
            self.connection.close()
            self._close_socket()
        # A failed handshake is logged at DEBUG only: it is counted (stats) and reported
        # (monitor event, mqsdk_handshake_failed), and anyone who can connect could
        # otherwise write a line to the log per connection.
        if (
            reason.error is not None
            and not reason.handshake
            and not isinstance(reason.error, OSError)
        ):
            log.info("%s: connection %s closed: %s", self.owner, self.endpoint, reason.text)
        else:
            log.debug("%s: connection %s closed: %s", self.owner, self.endpoint, reason.text)
        self.owner._engine_closed(self, reason)
        if self.on_close is not None:
            self.on_close(self, reason)
