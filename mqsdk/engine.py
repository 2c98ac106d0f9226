"""The stream engine: one ZMTP connection over a connected, non-blocking stream socket.

The engine runs the greeting and the security handshake in the I/O thread, then moves
messages between the OS socket and the connection's :class:`~mqsdk.pipe.Pipe`.

Who does the I/O (see docs/architecture.md): once the handshake is done, reading and
writing happen in whichever thread gets there first, the user's thread when it would
otherwise wait, the I/O thread for everything else. ``lock`` makes one of them the
owner at a time; the I/O thread only ever *tries* the lock, so a user thread never waits
on it for long. Everything about the connection's life (timers, close, reconnect) stays
in the I/O thread: a user thread that meets EOF or an error only hands it over.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mqsdk.errors import MQError, ProtocolError
from mqsdk.mechanism import (
    HANDSHAKE_FRAME_LIMIT,
    AuthenticationFailed,
    Mechanism,
    SocketTypeMismatch,
    ZapReply,
)
from mqsdk.zap import zap_client
from mqsdk.zmtp.commands import PeerError, parse_ping, ping, pong
from mqsdk.zmtp.constants import PING, PONG, ProtocolErrorCode
from mqsdk.zmtp.frames import Command, FrameDecoder, Item, encode_message
from mqsdk.zmtp.greeting import GreetingParser, make_greeting

if TYPE_CHECKING:
    from collections import deque

    from mqsdk.pipe import Message, Pipe
    from mqsdk.reactor import Reactor, TimerHandle

log = logging.getLogger(__name__)

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
        self.owner = owner  # the mqsdk.socket.Socket
        self.endpoint = endpoint
        self.reactor = reactor
        self.peer_address = peer_address
        self.on_close = on_close
        self.lock = threading.Lock()
        self.state = _GREETING
        self.pipe: Pipe | None = None
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
        self.decoder = FrameDecoder(self.maxmsgsize)
        # A wrapped stream (TLS, see StreamTransport.wrap) may hold decoded bytes that
        # the fd no longer signals; plain sockets have no pending().
        self._buffered: Callable[[], int] | None = getattr(sock, "pending", None)
        self._greeting = GreetingParser(owner.mechanism_name)
        self._pending: list[Any] = []  # encoded pieces not yet written
        self._pending_size = 0
        self._writer_armed = False
        self._writer_recheck = False  # a _recheck_writer timer is pending
        self._flush_scheduled = False
        self._timers: list[TimerHandle] = []
        self._rewatch: TimerHandle | None = None
        self._seen_burst_flushes = 0  # owner._burst_flushes when the I/O thread last looked
        self.user_reads = 0  # reads done by the user's thread (it counts them)
        self._seen_user_reads = 0  # user_reads when the I/O thread last looked
        self._heartbeat_ivl = options.heartbeat_ivl / 1000
        self._heartbeat_timeout = (
            options.heartbeat_timeout if options.heartbeat_timeout >= 0 else options.heartbeat_ivl
        ) / 1000
        self._heartbeat_ttl_ds = options.heartbeat_ttl // 100
        self._zap_id: bytes | None = None  # a ZAP request in flight
        self._zap_held: list[Item] = []  # handshake items that came while ZAP decides

    # -- start and handshake (I/O thread) ----------------------------------------------------

    def start(self) -> None:
        greeting = make_greeting(self.owner.mechanism_name, self.owner.as_server)
        self._pending.append(greeting)
        self._pending_size = len(greeting)
        self.reactor.add_reader(self.fd, self._on_readable)
        self._write_pending()
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
            owner = self.owner
            if owner._attended or self._user_keeps_up():
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
        parser = self._greeting
        while not parser.done:
            want = 64 - parser.received
            data = self._recv_or_close(want, handshake=True)
            if data is None:
                return
            parser.feed(data)
            if len(data) < want and (self._buffered is None or not self._buffered()):
                # A short read took all there was (libzmq sends its greeting in three
                # parts, each after ours arrived): trying again would only fail with
                # EAGAIN. The poller is level-triggered and reports the rest.
                return
        if self.state == _GREETING:
            self.state = _HANDSHAKE
            version = parser.version
            self.peer_minor = version[1] if version and version[0] == 3 else 1
            self.mechanism = self.owner.make_mechanism()
            self._send_frames(self.mechanism.start())
            if self.mechanism.pending_zap is not None:
                self._ask_zap([])
                return
        mechanism = self.mechanism
        assert mechanism is not None
        while self.state == _HANDSHAKE and self._zap_id is None:
            try:
                n = self.sock.recv_into(self.decoder.read_buffer())
            except BlockingIOError:
                return
            if n == 0:
                self._terminate(
                    CloseReason(
                        "closed by peer during the handshake",
                        error=None,
                        fatal=False,
                        handshake=True,
                    )
                )
                return
            try:
                items = self.decoder.commit(n)
            except ProtocolError as exc:
                if exc.errno == errno.EMSGSIZE:
                    raise mechanism.oversized_command(exc) from None
                raise
            if self._handshake_items(items):
                return
            self._bound_handshake_input(mechanism)

    def _bound_handshake_input(self, mechanism: Mechanism) -> None:
        """Refuse, before it is buffered, what no handshake needs: a frame over the
        mechanism's limit, or a message (legitimate only after the handshake's last
        command, which would have ended the handshake already).

        Checked after each read rather than by lowering the decoder's maxmsgsize: a
        peer may send its last command and a big message in one segment, and that
        message must not be held to the handshake's bound.
        """
        pending = self.decoder.pending_frame
        limit = mechanism.handshake_frame_limit
        if limit < 0:
            limit = HANDSHAKE_FRAME_LIMIT  # no mechanism goes unbounded
        if pending is not None and pending[0] > limit:
            error = ProtocolError(
                f"the peer declared a frame of {pending[0]} bytes during the handshake, "
                f"more than the {limit} bytes a {mechanism.name} handshake frame may have",
                ProtocolErrorCode.ZMTP_UNSPECIFIED,
            )
            error.errno = errno.EMSGSIZE
            raise mechanism.oversized_command(error)
        if self.decoder.message_in_progress:
            raise ProtocolError(
                "the peer sent a message before the handshake completed",
                ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
            )

    def _handshake_items(self, items: list[Item]) -> bool:
        """Feed handshake commands to the mechanism; True once it is done or waits for ZAP."""
        mechanism = self.mechanism
        assert mechanism is not None
        for index, item in enumerate(items):
            if type(item) is list:
                raise ProtocolError(
                    "the peer sent a message before the handshake completed",
                    ProtocolErrorCode.ZMTP_UNEXPECTED_COMMAND,
                )
            assert isinstance(item, Command)
            self._send_frames(mechanism.on_command(item))
            if mechanism.pending_zap is not None:
                self._ask_zap(items[index + 1 :])
                return True
            if mechanism.done:
                self._activate(items[index + 1 :])
                return True
        return False

    # -- ZAP (I/O thread) ------------------------------------------------------------------

    def _ask_zap(self, held: list[Item]) -> None:
        """Send the mechanism's ZAP request; stop reading until the answer comes (the
        handshake timer still runs, so a handler that never answers cannot pin us)."""
        mechanism = self.mechanism
        assert mechanism is not None and mechanism.pending_zap is not None
        self._zap_held = held
        self._zap_id = b""  # waiting; the client's id replaces it below
        self.reactor.remove_reader(self.fd)
        domain = mechanism.options.get("zap_domain")
        request_id = zap_client(self.owner.context, self.reactor).request(
            mechanism.pending_zap,
            domain=domain if isinstance(domain, bytes) else b"",
            address=self.peer_address.encode(),
            identity=self.owner.options.routing_id,  # our own id: libzmq's quirk
            callback=self._on_zap_answer,
        )
        if self._zap_id == b"":
            self._zap_id = request_id

    def _on_zap_answer(self, answer: ZapReply | ProtocolError | None) -> None:
        self._zap_id = None
        if self.dead or self.state != _HANDSHAKE:
            return
        mechanism = self.mechanism
        assert mechanism is not None
        try:
            if isinstance(answer, ProtocolError):
                raise answer
            self._send_frames(mechanism.on_zap_reply(answer))
            refusal = mechanism.zap_refusal
            if refusal is not None:
                error = AuthenticationFailed(refusal)
                self._terminate(CloseReason(str(error), error=error, fatal=True, handshake=True))
                return
            held, self._zap_held = self._zap_held, []
            self.reactor.add_reader(self.fd, self._on_readable)
            if mechanism.pending_zap is not None:
                self._ask_zap(held)
            elif mechanism.done:
                self._activate(held)
            else:
                self._handshake_items(held)
        except ProtocolError as exc:
            self._protocol_failure(exc)
        except MQError as exc:  # e.g. PLAIN without a ZAP handler (EFAULT, as libzmq)
            self._terminate(CloseReason(str(exc), error=exc, fatal=True, handshake=True))

    def _recv_or_close(self, size: int, *, handshake: bool) -> bytes | None:
        try:
            data = self.sock.recv(size)
        except BlockingIOError:
            return None
        if not data:
            self._terminate(
                CloseReason("closed by peer", error=None, fatal=False, handshake=handshake)
            )
            return None
        return data

    def _activate(self, rest: list[Any]) -> None:
        mechanism = self.mechanism
        assert mechanism is not None
        if mechanism.wraps_messages:
            self._wrap_traffic(mechanism)
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
                    frame = self._wrap_encoded(greeting) if mechanism.wraps_messages else greeting
                    self._pending.append(frame)
                    self._pending_size += len(frame)
            self.greeted = True
            if rest:
                self._dispatch(rest)
            self.flush()

    # -- traffic through the mechanism (CURVE); NULL and PLAIN never come here -------------

    def _wrap_traffic(self, mechanism: Mechanism) -> None:
        """Route this connection's traffic through the mechanism's hooks.

        Instance attributes shadow the class's plain methods, so the NULL data path
        keeps its code and costs nothing extra; only this connection takes the detour.
        """
        self._encode_batch = self._encode_batch_wrapped  # type: ignore[method-assign]
        self._dispatch = self._dispatch_wrapped  # type: ignore[method-assign]
        self._queue_frame = self._queue_frame_wrapped  # type: ignore[method-assign]

    def _encode_batch_wrapped(self, outq: deque[Message]) -> tuple[int, int]:
        mechanism = self.mechanism
        assert mechanism is not None
        pieces = self._pending
        size = 0
        count = 0
        while outq and size < FLUSH_BYTES:
            size += mechanism.encode_message(outq.popleft(), pieces)
            count += 1
        return count, size

    def _dispatch_wrapped(self, items: list[Any], messages_only: bool = False) -> int:
        # CURVE: every frame on the wire is a MESSAGE or another command; what they
        # carry is sorted after decryption.
        mechanism = self.mechanism
        assert mechanism is not None
        try:
            plain = mechanism.decode_items(items)
        except ProtocolError as exc:
            # libzmq reports a bad box or nonce as a handshake protocol failure even
            # after the handshake (curve_mechanism_base.cpp); nothing of it is delivered,
            # what came before it in the batch is.
            StreamEngine._dispatch(self, mechanism.decoded_before_error)
            self.owner._event("handshake_failed_protocol", self.endpoint, exc.code)
            self._hand_over(
                CloseReason(f"protocol error: {exc}", error=exc, fatal=True, handshake=False)
            )
            return 0
        return StreamEngine._dispatch(self, plain)

    def _wrap_encoded(self, frame: bytes) -> bytes:
        """Box frames a pattern or the engine encoded in plain ZMTP (commands, 3.0
        subscriptions): decode them and encode each through the mechanism."""
        mechanism = self.mechanism
        assert mechanism is not None
        pieces: list[Any] = []
        for item in FrameDecoder().feed(frame):
            if type(item) is list:
                mechanism.encode_message(item, pieces)
            else:
                assert isinstance(item, Command)
                pieces.append(mechanism.encode_command(item.name, item.data))
        return b"".join(pieces)

    def _queue_frame_wrapped(self, frame: bytes) -> None:
        StreamEngine._queue_frame(self, self._wrap_encoded(frame))

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

    def _dispatch(self, items: list[Any], messages_only: bool = False) -> int:
        """Hand decoded items over in wire order: messages to the pipe, commands to
        :meth:`_command`. ``messages_only``: the caller knows there is no command."""
        pipe = self.pipe
        if pipe is None:
            return 0
        if messages_only:
            if not pipe.deliver(items):
                self._pause_reading()
            self.owner.stats["msgs_in"] += len(items)
            return len(items)
        batch: list[Message] = []
        for item in items:
            if type(item) is list:
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

    def _command(self, command: Command) -> None:
        name = command.name
        if name == PING:
            try:
                ttl, context = parse_ping(command.data)
            except ProtocolError as exc:
                self._hand_over(
                    CloseReason(f"protocol error: {exc}", error=exc, fatal=True, handshake=False)
                )
                return
            self._queue_frame(pong(context))
            if ttl > 0:
                deadline = time.monotonic()
                self.reactor.call_later(ttl / 10, self._ttl_expired, deadline)
            return
        if name == PONG:
            return
        handled = self.owner._engine_command(self, command)
        if not handled:
            # libzmq ignores commands it does not know after the handshake; so do we,
            # but we say so once in the log.
            log.debug("ignoring %r command from %s", name, self.peer_address or self.endpoint)

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
            if self.reactor.in_thread():
                self._watch_reads()
            elif self.owner._ready is not None:
                # fileno() users (asyncio, Poller) wait for the I/O thread to read for them.
                self.reactor.call_soon(self._watch_reads)
            # Otherwise the user's thread reads the connection itself whenever its queue
            # runs dry; the I/O thread, if it stopped watching, looks again within 50 ms
            # (a rewatch timer is always pending while it does not watch). This saves two
            # wake-ups (and GIL hand-offs) per HWM's worth of messages.

    def _user_keeps_up(self) -> bool:
        """True if the user's thread read this connection since the I/O thread last
        asked (I/O thread). Not while someone sleeps on the socket's readiness fd
        (:meth:`Socket.fileno`, pollers, asyncio): only this thread's reads wake them."""
        reads = self.user_reads
        if reads == self._seen_user_reads or self.owner._ready is not None:
            return False
        self._seen_user_reads = reads
        return True

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
        if self.read_paused or self.owner._attended or self._user_keeps_up():
            self._rewatch = self.reactor.call_later(_REWATCH, self._watch_reads)
            return
        self.reactor.add_reader(self.fd, self._on_readable)
        # What arrived while nobody watched is read now.
        self._on_readable()

    # -- writing (any thread holding the lock) ---------------------------------------------

    def want_flush(self, deferred: bool = False) -> None:
        """The pipe's outq went from empty to non-empty: have it flushed.

        In the socket's direct mode the user's thread flushes right after routing;
        otherwise the I/O thread is asked, once per batch.
        """
        owner = self.owner
        if owner._direct and not deferred:
            owner._to_flush.append(self)
            return
        if not self._flush_scheduled and self.state == _ACTIVE:
            self._flush_scheduled = True
            self.reactor.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        if self.dead:
            self._flush_scheduled = False
            return
        flushes = self.owner._burst_flushes
        if flushes != self._seen_burst_flushes:
            # The user's thread is in a send burst and flushes every few sends itself.
            # Flushing here too would make the two threads trade the GIL on every batch
            # (each of its sends then waits for ours): look again in a moment instead,
            # staying scheduled so its sends do not wake us meanwhile. When the burst
            # ends, the leftovers go out on the next look.
            self._seen_burst_flushes = flushes
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
            self.reactor.add_writer(self.fd, self._on_writable)

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
        # filled the pipe while the batch was encoded and then went to wait: waiters say so.
        if was_full or owner._attended or owner._pollout_waiters:
            owner._pipe_writable(pipe)
        owner._sent(self, count, size)

    def _encode_batch(self, outq: deque[Message]) -> tuple[int, int]:
        """Move messages from ``outq`` to the pending pieces; return (messages, bytes)."""
        pieces = self._pending
        size = 0
        count = 0
        popleft = outq.popleft
        while outq and size < FLUSH_BYTES:
            size += encode_message(popleft(), pieces)
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
        if not self._writer_armed and not self.dead:
            self._writer_armed = True
            self.reactor.add_writer(self.fd, self._on_writable)

    def _disarm_writer(self) -> None:
        if self._writer_armed:
            self._writer_armed = False
            self.reactor.remove_writer(self.fd)

    def _on_writable(self) -> None:
        if self.dead:
            return
        if self.state < _ACTIVE:
            if self._write_pending():
                self._disarm_writer()
            return
        owner = self.owner
        if owner._attended:
            # A user's thread is blocked in a send or a poll: it writes this connection
            # itself when it is writable (as it reads it). Writing here too would make
            # both threads wake for every writable edge and fight over the lock and the
            # GIL. Step back, and wake it in case it began waiting before this output
            # was pending (its poller then does not watch for writability yet). A
            # later failed write arms this writer again; should that thread stop
            # waiting with output still pending, the recheck takes it up.
            self._disarm_writer()
            owner._wake_waiter()
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
        if self.owner._attended:
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

    def _queue_frame(self, frame: bytes) -> None:
        """Queue a command frame after the handshake (lock held by the caller's thread)."""
        self._pending.append(frame)
        self._pending_size += len(frame)
        if not self._flush_scheduled:
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
            self._queue_frame(frame)
            return True

    # -- heartbeats (I/O thread) ---------------------------------------------------------

    def _send_heartbeat(self) -> None:
        if self.dead:
            return
        sent_at = time.monotonic()
        with self.lock:
            self._queue_frame(ping(self._heartbeat_ttl_ds))
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
            zap_client(self.owner.context, self.reactor).cancel(self._zap_id)
            self._zap_id = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._rewatch is not None:
            self._rewatch.cancel()
            self._rewatch = None
        self.reactor.remove_reader(self.fd)
        if self._writer_armed:
            self._writer_armed = False
            self.reactor.remove_writer(self.fd)
        with self.lock:
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
