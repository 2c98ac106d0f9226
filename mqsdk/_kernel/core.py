"""The socket core: the state a socket shares with its I/O thread, and what the
kernel does with it.

Connections (engines) report to it from the I/O thread; pipes are attached and
detached in the user's thread, in order, the way libzmq processes its command
mailbox; the user's thread waits here for a connection to become ready. The
pyzmq-shaped API (:class:`mqsdk._kernel.socket.Socket`) is a subclass that adds
nothing but methods: every attribute lives in these slots.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mypy_extensions import mypyc_attr

from mqsdk._kernel.drops import DropReporter
from mqsdk._kernel.endpoints import Connecter, Listener
from mqsdk._kernel.engine import StreamEngine
from mqsdk._kernel.frame import (
    COPY_THRESHOLD,
    Frame,
    MessageTracker,
    checked_routing_id,
    group_bytes,
    received_frame,
    tracked_frame_content,
    tracked_parts,
    tracked_payload,
)
from mqsdk._kernel.handle import SocketHandle
from mqsdk._kernel.io_policy import IoPolicy
from mqsdk._kernel.options import (
    KernelOptions,
    OptionModel,
)
from mqsdk._kernel.pipe import (
    Message,
    PeerInfo,
    Pipe,
    QueuedMessage,
    StreamPipe,
    as_frames,
)
from mqsdk._kernel.poller import ERROR, READ, WRITE, PollerBackend
from mqsdk._kernel.raw_engine import RawEngine
from mqsdk._kernel.reactor import Waker
from mqsdk._kernel.security import KernelSecurityOptions, MechanismSelection
from mqsdk._kernel.transport import MessageTransport
from mqsdk._kernel.zap import ZapClient, zap_client
from mqsdk.constants import NOBLOCK, SNDMORE
from mqsdk.errors import Again, ContextTerminated, MQError, ProtocolError
from mqsdk.monitor import EVENT_BY_NAME, MonitorEvent
from mqsdk.zmtp.constants import PROP_IDENTITY, PROP_SOCKET_TYPE, PROP_USER_ID

if TYPE_CHECKING:
    from mqsdk._kernel.context import Context
    from mqsdk._kernel.engine import CloseReason
    from mqsdk._kernel.mechanism import Mechanism
    from mqsdk._kernel.pattern import Pattern
    from mqsdk._kernel.reactor import Reactor
    from mqsdk._kernel.routing import Receiver
    from mqsdk._kernel.socket import Socket
    from mqsdk.zmtp.frames import Command


log = logging.getLogger(__name__)
_LOCK_WAIT = 0.01  # s a woken waiter waits for a connection the I/O thread is using

_Model = TypeVar("_Model", bound=OptionModel)

_READ_EACH_UP_TO = 2  # connections a receive reads without asking the wait poller first


_BYTES_LIKE = (bytes, bytearray, memoryview)
_FLUSH_EVERY = 64  # sends between flushes done by the user's thread itself


def _as_bytes_frames(message: Message) -> Message:
    """``message`` with every frame as bytes, as pyzmq's ``recv_multipart`` returns it:
    inproc hands over a memoryview a zero-copy send queued as it is. The kernel's list
    itself when it holds only bytes (the usual case), else a new one (a PUB's inproc
    subscribers may share a list)."""
    frames: list[Any] = message
    for frame in frames:
        if type(frame) is not bytes:
            return [f if type(f) is bytes else bytes(f) for f in frames]
    return message


def _frame_bytes(data: Any, copy: bool) -> Any:
    kind = type(data)
    if kind is bytes:
        return data
    if kind is Frame:
        return data.bytes
    if isinstance(data, str):
        raise TypeError(
            "str is not bytes: encode it, or use send_string() (send_multipart takes "
            "bytes-like frames)"
        )
    if isinstance(data, _BYTES_LIKE):
        if copy or kind is bytearray:
            return bytes(data)
        return data
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"cannot send {kind.__name__}: frames must be bytes, bytearray, memoryview "
            "or another buffer (use send_string, send_json or send_pyobj for objects)"
        ) from None
    return bytes(view) if copy else view


@mypyc_attr(allow_interpreted_subclasses=True)
class SocketCore:
    """A socket's kernel half (see the module docstring)."""

    __slots__ = (
        "__weakref__",
        "_announce",
        "_closed",
        "_component_options",
        "_connecters",
        "_drop_reporter",
        "_engines",
        "_engines_generation",
        "_fd_waiters",
        "_last_endpoint",
        "_listeners",
        "_message_endpoints",
        "_monitor_addrs",
        "_monitor_lock",
        "_monitors",
        "_option_table",
        "_owner_thread",
        "_pipe_events",
        "_pipes",
        "_read_first",
        "_reads_before_sending",
        "_ready",
        "_ridx",
        "_rmsg",
        "_route",
        "_rpipe",
        "_sendbuf",
        "_sends",
        "_sends_bytes",
        "_synced_engines",
        "_synced_generation",
        "_take",
        "_taken_from",
        "_type",
        "_wait_interest",
        "_wait_poller",
        "_waker",
        "_watching_writes",
        "context",
        "engine_class",
        "handle",
        "io_policy",
        "options",
        "pattern",
        "reactor",
        "security",
        "socket_type_name",
        "stats",
    )

    def __init__(self, context: Context, socket_type: int | str) -> None:
        self.context = context
        """The context that made this socket."""
        pattern_class = context.registry.pattern(socket_type)
        table = context.registry.option_table(pattern_class)
        self._option_table = table
        self.options = KernelOptions.model_validate(context.config.socket_defaults)
        """The kernel's option values (read directly on hot paths)."""
        self._component_options: dict[type[OptionModel], OptionModel] = {
            model: model() for model in table.models if model is not KernelOptions
        }
        self._component_options[KernelOptions] = self.options
        self._type: int = pattern_class.socket_type
        self.socket_type_name: str = pattern_class.name
        """The socket type's name (``"PUSH"``), as ZMTP's Socket-Type property says it."""
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "msgs_in",
                "bytes_in",
                "msgs_out",
                "bytes_out",
                "dropped_hwm",
                "unroutable",
                "reconnects",
                "handshake_failures",
            ),
            0,
        )
        """Counters: messages and bytes in and out, messages dropped at HWM or unroutable
        (where the pattern drops), reconnects, handshake failures."""
        self.reactor = context.reactor()
        self.handle = SocketHandle(self, pattern_class)
        """This socket as its plugins see it (the pattern, message transports, pipes)."""
        self.pattern: Pattern = pattern_class(self.handle)
        # Per message the socket drives a plain pattern's bricks directly (see
        # Pattern.sender/receiver): no call into the pattern plugin on the hot path.
        pattern = self.pattern
        sender, receiver = pattern.sender, pattern.receiver
        # Bare single frames go only to a sender brick (sends_bytes): the cast says so.
        self._route: Callable[[QueuedMessage], object] = (
            sender.send
            if sender is not None
            else cast("Callable[[QueuedMessage], object]", pattern.send)
        )
        self._sends_bytes = sender is not None and pattern.sends_bytes
        self._reads_before_sending = pattern.reads_before_sending
        self._take: Callable[[], QueuedMessage | None] = (
            receiver.recv if receiver is not None else pattern.recv
        )
        self._taken_from: Receiver | Pattern = receiver if receiver is not None else pattern
        self._announce: Callable[[Pipe], None] = (
            receiver.activate if receiver is not None else pattern.pipe_readable
        )
        self.engine_class: type[StreamEngine] = RawEngine if pattern_class.raw else StreamEngine
        self.security = MechanismSelection(context.registry)
        self.io_policy = IoPolicy()
        """Which thread reads and writes the connections (the kernel's; see
        :class:`~mqsdk._kernel.io_policy.IoPolicy`)."""
        self._waker = Waker()
        self._ready: Waker | None = None  # the fd behind fileno(), made on first use
        self._fd_waiters = 0  # our Pollers / asyncio waiters sleeping on fileno() now
        self._wait_poller: PollerBackend | None = None
        self._wait_interest: dict[int, int] = {}
        # The live connections by fd. Owned by the I/O thread, which publishes a new
        # mapping on every change and never mutates a published one: the user's thread
        # reads a snapshot and may walk it at leisure (no lock, no copy).
        self._engines: Mapping[int, StreamEngine] = {}
        # Bumped after each publication; read before _engines, so a reader that saw
        # generation g holds a snapshot at least as new as g's.
        self._engines_generation = 0
        # What the wait poller was last synced to (user's thread): the generation, and
        # each fd's engine by weak reference, so a closed connection is freed at once
        # even while its socket sits idle between two waits.
        self._synced_generation = -1
        self._synced_engines: dict[int, int] = {}  # fd -> the serial of the engine watched
        self._watching_writes: set[int] = set()  # fds the wait poller watches for WRITE
        self._read_first: list[int] = []  # fds just watched for READ: read before waiting
        self._pipe_events: deque[tuple[str, Pipe, Any]] = deque()
        self._listeners: dict[str, Listener] = {}
        self._message_endpoints: dict[str, MessageTransport] = {}
        self._connecters: dict[str, list[Connecter]] = {}
        self._last_endpoint = ""
        self._sendbuf: list[Any] = []
        self._rmsg: Message | None = None
        self._ridx = 0
        self._rpipe: Pipe | None = None
        # Consecutive sends since the last receive or wait: the first is written out at
        # once (IoPolicy.send_directly), the others are a burst. Kept here rather than
        # in the policy: every send and receive touches it, one attribute away.
        self._sends = 0
        self._closed = False
        self._owner_thread: int | None = None
        self._monitors: dict[Socket, int] = {}
        self._monitor_addrs: dict[str, Socket] = {}
        self._monitor_lock = threading.Lock()
        self._pipes: set[Pipe] = set()
        self._drop_reporter = DropReporter(self)
        context._socket_opened(self)
        context.registry.notify("mqsdk_socket_created", socket=self)

    # -- the per-message path: send and receive (compiled with the core) -----------------

    def send(
        self,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        routing_id: int | None = None,
        group: str | bytes | None = None,
    ) -> MessageTracker | None:
        """Send one frame; with ``SNDMORE`` it is held until the message's last frame.

        The arguments are pyzmq's, in its order. ``group`` (RADIO): the group the message
        goes to, at most 255 bytes; a :class:`Frame` whose ``.group`` is set is sent to
        that group too. ``routing_id`` names the peer of a SERVER-style socket (see
        :mod:`mqsdk._kernel.threadsafe`); other types check it and ignore it, as libzmq.
        Returns a :class:`MessageTracker` for ``track=True`` or a tracked Frame (else None).
        """
        if routing_id is not None:
            checked_routing_id(routing_id)
        if track or group is not None or type(data) is Frame:  # one look for the rest
            if track or (type(data) is Frame and data.tracker is not None):
                return self._send_tracked(data, flags, copy, group)
            if group is not None or (data._group is not None and self.pattern.grouped):
                self._send_grouped(data, flags, copy, group)
                return None
        frame = _frame_bytes(data, copy)
        if flags & SNDMORE:
            if self.pattern.grouped:
                raise MQError(
                    f"a {self.socket_type_name} message is a single frame: SNDMORE is invalid",
                    errno.EINVAL,
                )
            if self._closed:
                self._check_open()  # raises, as the message's last frame would
            self._sendbuf.append(frame)
            return None
        if self._sendbuf:
            message: QueuedMessage = self._sendbuf
            self._sendbuf.append(frame)
            self._sendbuf = []
        elif self._sends_bytes and type(frame) is bytes:
            message = frame  # the single-frame lane (mqsdk._kernel.pipe.QueuedMessage)
        else:
            message = [frame]
        self._send_message(message, flags)
        return None

    def _send_tracked(
        self, data: Any, flags: int, copy: bool, group: str | bytes | None
    ) -> MessageTracker | None:
        # The kernel gets what the tracker watches: a Frame's content (its own tracker
        # says when the Frame's buffer is free) or a view the kernel lets go once written.
        if type(data) is Frame:
            tracker = data.tracker
            if tracker is None:
                raise ValueError("not a tracked message: make the Frame with track=True")
            if group is None and data._group is not None and self.pattern.grouped:
                group = data._group
            content = tracked_frame_content(data)
            # SocketCore's own send: a subclass's (asyncio's) would wrap it in a future.
            SocketCore.send(self, content, flags, False, False, None, group)
            return tracker
        threshold = getattr(self, "copy_threshold", COPY_THRESHOLD)
        payload, tracker = tracked_payload(data, copy, threshold)
        SocketCore.send(self, payload, flags, False, False, None, group)
        return tracker

    def send_multipart(
        self, msg_parts: Sequence[Any], flags: int = 0, copy: bool = True, track: bool = False
    ) -> MessageTracker | None:
        """Send a whole multipart message atomically (``track=True``: returns a
        :class:`MessageTracker` for all its parts)."""
        if track:
            threshold = getattr(self, "copy_threshold", COPY_THRESHOLD)
            parts, tracker = tracked_parts(msg_parts, copy, threshold)
            SocketCore.send_multipart(self, parts, flags, False, False)
            return tracker
        message = [_frame_bytes(part, copy) for part in msg_parts]
        if not message:
            raise ValueError("a message has at least one frame; send_multipart got none")
        if (len(message) > 1 or flags & SNDMORE) and self.pattern.grouped:
            raise MQError(
                f"a {self.socket_type_name} message is a single frame: multipart is invalid",
                errno.EINVAL,
            )
        if flags & SNDMORE:
            if self._closed:
                self._check_open()  # raises, as the message's last frame would
            self._sendbuf.extend(message)
            return None
        if self._sendbuf:
            message = self._sendbuf + message
            self._sendbuf = []
        self._send_message(message, flags)
        return None

    def _send_grouped(self, data: Any, flags: int, copy: bool, group: str | bytes | None) -> None:
        """send(data, group=...) (RADIO): the pattern gets ``[group, body]``."""
        if not self.pattern.grouped:
            raise MQError(
                f"send(group=...) is for RADIO sockets; a {self.socket_type_name} "
                "socket has no groups",
                errno.EINVAL,
            )
        if flags & SNDMORE or self._sendbuf:
            raise MQError(
                f"a {self.socket_type_name} message is a single frame: SNDMORE is invalid",
                errno.EINVAL,
            )
        name = group_bytes(group) if group is not None else data._group
        self._send_message([name, _frame_bytes(data, copy)], flags)

    def _send_message(self, message: QueuedMessage, flags: int) -> None:
        sends = self._sends
        # A thread blocked in this socket's wait zeroed _sends before it began waiting:
        # while it waits, a send from another thread has sends == 0. A burst's sends
        # skip the look.
        if not sends:
            if self.io_policy.waiting_thread:
                self._misuse()
            if self._reads_before_sending:
                # What peers told us (a PUB's subscriptions) may wait in the OS for the
                # I/O thread, which needs the GIL this thread holds: read it now, as
                # libzmq's socket takes its pending commands before a send. Once per burst.
                self._read_engines()
        if self._pipe_events:
            self._apply_pipe_events()
        if sends:
            # Part of a burst: leave the batch to the I/O thread (woken once per batch)
            # and flush it here now and then.
            if self._route(message):
                if sends >= _FLUSH_EVERY:
                    self._sends = 1
                    fds = self.io_policy.user_flushes_burst()
                    if fds:
                        self._flush_fds(fds)
                else:
                    self._sends = sends + 1
                return
        elif self.io_policy.send_directly(self._route, message):
            # The first send after a receive or a wait (a request, a reply) went out in
            # this thread at once rather than through a hand-off to the I/O thread.
            self._sends = 1
            return
        self._send_slow(message, flags)

    def _send_slow(self, message: QueuedMessage, flags: int) -> None:
        self._check_open()
        self._flush_engines()
        if self._route(message):
            return
        if flags & NOBLOCK:
            raise Again("cannot send now: no peer has room (SNDHWM reached, or no peer yet)")
        deadline = self._deadline(self.options.sndtimeo)
        while True:
            self._wait(deadline, writing=True, message=message)
            if self._pipe_events:
                self._apply_pipe_events()
            if self._route(message):
                return
            if deadline is not None and time.monotonic() >= deadline:
                # Before Again, one last look as a non-blocking send takes: the wait only
                # wakes when the poller says an fd is writable, but the OS may accept
                # bytes sooner (Linux reports a TCP socket writable only once a third of
                # its buffer is free), and writing them out may make room in the pipe.
                # Again then means "no room right now", as it does from a NOBLOCK send.
                self._flush_engines()
                if self._pipe_events:
                    self._apply_pipe_events()
                if self._route(message):
                    return
            self._check_deadline(deadline, "send")

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """Receive one frame (``copy=False``: a :class:`Frame`); ``rcvmore`` says if more follow."""
        rest = self._rmsg
        if rest is None:
            self._sends = 0
            if self.io_policy.full_receive_needed or self._pipe_events:
                message = self._recv_message(flags)
            else:
                # The common case, _recv_message without its rarely needed steps: one
                # call less per message.
                taken = self._take()
                message = self._recv_slow(flags) if taken is None else taken
                if copy and isinstance(message, bytes):
                    return message  # the single-frame lane: its pipe is not needed
                self._rpipe = self._taken_from.last_pipe
            if isinstance(message, bytes):  # the single-frame lane
                if copy:
                    return message
                return received_frame(message, False, self._rpipe, self.pattern.last_group)
            frames: list[Any] = message  # a frame may be a memoryview: see Message
            if len(frames) == 1:
                frame = frames[0]
                if copy:
                    # bytes, as pyzmq's recv: inproc hands over a memoryview a zero-copy
                    # send queued as it is.
                    return frame if type(frame) is bytes else bytes(frame)
                return received_frame(frame, False, self._rpipe, self.pattern.last_group)
            self._rmsg = message
            self._ridx = 1
            frame = frames[0]
            more = True
            if self._ready is not None:
                self._ready.wake()  # the rest of this message is waiting
        else:
            index = self._ridx
            rest_frames: list[Any] = rest
            frame = rest_frames[index]
            index += 1
            more = index < len(rest)
            if more:
                self._ridx = index
            else:
                self._rmsg = None
                if self._ready is not None:
                    self._refresh_ready()
        if copy:
            return frame if type(frame) is bytes else bytes(frame)  # see above
        return received_frame(frame, more, self._rpipe, None)

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> list[Any]:
        """Receive every frame of the next message (or the rest of the current one)."""
        message: Message | None = self._rmsg
        if message is None:
            self._sends = 0
            message = as_frames(self._recv_message(flags))
        else:
            message = message[self._ridx :]
            self._rmsg = None
            if self._ready is not None:
                self._refresh_ready()
        if copy:
            return _as_bytes_frames(message)
        pipe = self._rpipe
        last = len(message) - 1
        group = self.pattern.last_group
        return [received_frame(f, i < last, pipe, group) for i, f in enumerate(message)]

    def _recv_message(self, flags: int) -> QueuedMessage:
        if self.io_policy.waiting_thread:
            self._misuse()
        if self._pipe_events:
            self._apply_pipe_events()
        message = self._take()
        if message is None:
            message = self._recv_slow(flags)
        self._rpipe = self._taken_from.last_pipe
        if self._ready is not None and not self.pattern.can_recv():
            self._refresh_ready()
        return message

    def _recv_slow(self, flags: int) -> QueuedMessage:
        self._check_open()
        self._flush_engines()  # a request goes out before we wait for its reply
        if not self.io_policy.skip_read_before_wait(not flags & NOBLOCK):
            self._read_engines()
            message = self._take()
            if message is not None:
                return message
        if flags & NOBLOCK:
            raise Again("no message is waiting")
        deadline = self._deadline(self.options.rcvtimeo)
        while True:
            self._wait(deadline, writing=False)
            if self._pipe_events:
                self._apply_pipe_events()
            message = self._take()
            if message is not None:
                return message
            self._check_deadline(deadline, "receive")

    def _refresh_ready(self) -> None:
        """Make the fd readable iff a message is waiting (after recv or a state change)."""
        ready = self._ready
        if ready is None:
            return
        if self._pipe_events:
            self._apply_pipe_events()
        if self._rmsg is not None or self.pattern.can_recv():
            ready.wake()
            return
        ready.drain()
        # Anything delivered while we drained must leave the fd readable.
        if self.pattern.can_recv():
            ready.wake()

    def component_options(self, model: type[_Model]) -> _Model:
        """This socket's values of the options a component declared in ``model`` (its
        :attr:`~mqsdk._kernel.component.Component.option_model`)."""
        return self._component_options[model]  # type: ignore[return-value]

    def transport_options(self) -> dict[str, Any]:
        """Every option value a transport may read, by name: the kernel's and those
        declared by transports (not a mechanism's: CURVE's secret key stays out of
        every transport's hands)."""
        merged: dict[str, Any] = {}
        for model in self._option_table.models_of(("kernel", "transport")):
            merged.update(self._component_options[model].model_dump())
        return merged

    def _misuse(self) -> None:
        raise MQError(
            f"{self!r} is in use by another thread, blocked in a send or receive; a socket "
            "belongs to one thread at a time (give each thread its own socket, or pass "
            "messages between threads over inproc)",
            errno.EBUSY,
        )

    def _deadline(self, timeout_ms: int) -> float | None:
        return None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000

    def _check_deadline(self, deadline: float | None, what: str) -> None:
        if self.context.closed:
            raise ContextTerminated("the context was terminated")
        if self._closed:
            raise MQError("the socket was closed", errno.ENOTSOCK)
        if deadline is not None and time.monotonic() >= deadline:
            raise Again(f"{what} timed out")

    def _check_open(self) -> None:
        if self.io_policy.waiting_thread:
            self._misuse()
        if self.context.closed:
            # Checked first: term() closes the sockets other threads still use, and
            # those threads must learn why (ETERM, as libzmq), not just ENOTSOCK.
            raise ContextTerminated("the context was terminated")
        if self._closed:
            raise MQError("the socket is closed", errno.ENOTSOCK)

    def _flush_engines(self) -> None:
        """Write out what this thread queued and has not gone out yet (a burst's
        sends, a request before its reply): only those connections, not every one."""
        fds = self.io_policy.take_unflushed()
        if fds:
            self._flush_fds(fds)

    def _flush_fds(self, fds: list[int]) -> None:
        io_policy = self.io_policy
        engines = self._engines
        for fd in fds:
            engine = engines.get(fd)
            if engine is None:
                continue
            if engine.lock.acquire(blocking=False):
                try:
                    engine.flush()
                finally:
                    engine.lock.release()
            if not engine.dead and engine.has_pending_output:
                io_policy.output_left_unflushed(engine)  # the OS took part: next time

    def _read_engines(self) -> None:
        """Read, without waiting, the connections that have something: those the wait
        poller reports readable, and those it has just begun to watch (new, resumed).

        Asking the poller costs the ready connections, not all of them: the I/O thread
        may have stepped back from any of them (see IoPolicy), so each one it does not
        read is in the poller's interest, kept up to date by the changes it reports.
        """
        engines = self._engines
        if len(engines) <= _READ_EACH_UP_TO:
            # Reading each of one or two connections costs no more system calls than
            # asking the poller which are ready first (a one-connection PULL's throughput).
            if self._read_first:
                self._read_first.clear()
            note_user_read = self.io_policy.note_user_read
            for engine in engines.values():
                if not engine.read_paused and engine.lock.acquire(blocking=False):
                    try:
                        if engine.read_available():
                            note_user_read(engine)  # the I/O thread may leave it to us
                        if engine.has_pending_output:
                            engine.flush()  # see _read_fds
                    finally:
                        engine.lock.release()
            return
        poller = self._wait_poller_made()
        self._sync_wait_interest(poller, False)
        try:
            ready = poller.poll(0)
        except (MQError, OSError, ValueError):
            if self._closed:
                return  # closed by another thread (term): the caller raises
            raise
        self._read_fds([fd for fd, events in ready if events & (READ | ERROR)])

    def _read_fds(self, fds: list[int]) -> None:
        """Read these connections (and those just watched) if nobody else is."""
        first = self._read_first
        if first:
            fds.extend(first)
            first.clear()
        engines = self._engines
        note_user_read = self.io_policy.note_user_read
        for fd in fds:
            engine = engines.get(fd)
            if (
                engine is not None
                and not engine.read_paused
                and engine.lock.acquire(blocking=False)
            ):
                try:
                    if engine.read_available():
                        note_user_read(engine)  # the I/O thread may leave it to us
                    if engine.has_pending_output:
                        # Output queued by another thread (a PONG, a pattern's command)
                        # waits for the I/O thread, which needs this lock: a user's
                        # thread polling in a loop holds it whenever it lets go of the
                        # GIL (in the read's system call), so the I/O thread would find
                        # it taken every time. We hold it: write it now.
                        engine.flush()
                finally:
                    engine.lock.release()

    def _wait_poller_made(self) -> PollerBackend:
        poller = self._wait_poller
        if poller is None:
            poller = self._wait_poller = self.context.poller_class()
            poller.register(self._waker.fileno(), READ)
        return poller

    def _wait(
        self, deadline: float | None, *, writing: bool, message: QueuedMessage | None = None
    ) -> None:
        """Sleep until a connection is ready, the I/O thread wakes us, or the deadline.

        ``message``: the message a blocked send waits to route (its destination may be
        the only full pipe, see :meth:`Pattern.would_send`).
        """
        poller = self._wait_poller
        if poller is None:
            poller = self._wait_poller_made()
        synced = self._sync_wait_interest(poller, writing)
        if self._read_first:
            self._read_fds([])  # new or resumed connections: what they hold is read now
        self._sends = 0
        io_policy = self.io_policy
        io_policy.user_waiting_begins()
        try:
            # Re-check now that the I/O thread knows we wait: it wakes us for anything
            # that happens after this point.
            if (
                self._pipe_events
                or self._engines_generation != synced  # a connection came or went
                or (
                    (
                        # Patterns see messages as lists (a wait is not the hot path).
                        self.pattern.would_send(as_frames(message))
                        if message is not None
                        else self.pattern.can_send()
                    )
                    if writing
                    else self.pattern.can_recv()
                )
                or self.context.closed
                or self._closed
            ):
                return
            timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            ready = poller.poll(timeout)
        finally:
            io_policy.user_waiting_ends()
        waker_fd = self._waker.fileno()
        engines = self._engines
        for fd, events in ready:
            if fd == waker_fd:
                self._waker.drain()
                continue
            engine = engines.get(fd)
            if engine is None or engine.dead:
                # Ended, and handed to the I/O thread for closing: its fd may stay
                # readable (EOF, unread garbage) until then; watching it would spin.
                self._stop_watching_fd(poller, fd)
                continue
            # Wait briefly if the I/O thread holds the connection: it is in the middle
            # of one read or write. Trying and giving up would have this thread poll
            # the still-ready fd again at once and spin, holding the GIL that the I/O
            # thread needs to finish.
            if not engine.lock.acquire(timeout=_LOCK_WAIT):
                continue
            try:
                if events & (READ | ERROR) and not engine.read_paused:
                    engine.read_available()
                if events & WRITE:
                    engine.flush()
            finally:
                engine.lock.release()

    def _sync_wait_interest(self, poller: PollerBackend, writing: bool) -> int:
        """Make the wait poller watch what the connections need; return the generation
        of ``_engines`` it was made from (the I/O thread may publish a newer one).

        Only the connections whose needs changed are looked at (IoPolicy reports them:
        came, went, paused, resumed, output blocked), plus those watched for writing,
        so a wait costs the same with three connections or three thousand.
        """
        generation = self._engines_generation  # before the snapshot: see __init__
        io_policy = self.io_policy
        first = self._synced_generation < 0
        changed = io_policy.take_interest_changes()
        # Taken after the changes: every connection they name as new is in it.
        engines = self._engines
        fds = list(engines) if first else changed
        if self._watching_writes:
            fds.extend(self._watching_writes)  # written out meanwhile?
        for fd in fds:
            self._watch_fd(poller, fd, engines.get(fd))
        self._synced_generation = generation
        return generation

    def _watch_fd(self, poller: PollerBackend, fd: int, engine: StreamEngine | None) -> None:
        """Register ``fd`` for what its connection needs now (nothing if it is gone)."""
        interest = self._wait_interest
        old = interest.get(fd)
        if old is not None:
            serial = self._synced_engines.get(fd)
            if engine is None or serial != engine.serial:
                # Its connection ended: the fd number may now belong to a new socket
                # that the poller never saw (it dropped the closed one by itself).
                self._stop_watching_fd(poller, fd)
                old = None
        mask = 0
        if engine is not None and not engine.dead:
            # A dead one is handed over to the I/O thread for closing: its fd may stay
            # readable (EOF, unread garbage) until then, and watching it would spin.
            if not engine.read_paused:
                mask = READ
            if engine.has_pending_output:
                mask |= WRITE
        if mask == old:
            return
        if not mask:
            if old is not None:
                self._stop_watching_fd(poller, fd)
            return
        assert engine is not None
        try:
            if old is None:
                poller.register(fd, mask)
                self._synced_engines[fd] = engine.serial
            else:
                poller.modify(fd, mask)
        except MQError:
            # Closed meanwhile: the I/O thread reports it as a change.
            self._stop_watching_fd(poller, fd)
            return
        interest[fd] = mask
        if mask & READ and not (old or 0) & READ:
            self._read_first.append(fd)  # what came before it was watched
        if mask & WRITE:
            self._watching_writes.add(fd)
        else:
            self._watching_writes.discard(fd)

    def _stop_watching_fd(self, poller: PollerBackend, fd: int) -> None:
        if self._wait_interest.pop(fd, None) is not None:
            with contextlib.suppress(MQError):
                poller.unregister(fd)
        self._synced_engines.pop(fd, None)
        self._watching_writes.discard(fd)

    def _wake_waiter(self) -> None:
        io_policy = self.io_policy
        if io_policy.waiting_thread or io_policy.loop_waiting:
            self._waker.wake()
        if self._ready is not None:
            self._ready.wake()  # something changed: fd users re-evaluate

    @property
    def mechanism_name(self) -> str:
        """The security mechanism the options selected (``"NULL"``, ``"PLAIN"``...)."""
        return self.security.mechanism

    @property
    def as_server(self) -> bool:
        """Our PLAIN/CURVE role, from ``plain_server``/``curve_server``."""
        return self.security.as_server

    def _check_security(self) -> None:
        """Refuse to bind or connect with an incomplete mechanism configuration (a CURVE
        client without the server's key...) now, rather than fail every handshake."""
        if self.mechanism_name != "NULL":
            self.make_mechanism()

    def handshake_metadata(self) -> dict[str, bytes]:
        """What a peer learns about this socket in a handshake: its Socket-Type and, for
        types that send one (REQ, DEALER, ROUTER), its Identity."""
        metadata = {PROP_SOCKET_TYPE: self.socket_type_name.encode()}
        if self.pattern.sends_identity:
            metadata[PROP_IDENTITY] = self.options.routing_id
        return metadata

    def make_mechanism(self) -> Mechanism:
        mechanism_class = self.context.registry.mechanisms[self.mechanism_name]
        metadata = self.handshake_metadata()
        options: dict[str, object] = {
            "peer_types": self.pattern.peer_types,
            **self._component_options[KernelSecurityOptions].model_dump(),
        }
        model = mechanism_class.option_model
        declared = self._component_options.get(model) if model is not None else None
        if declared is not None:  # the options this mechanism declared
            options.update(declared.model_dump())
        return mechanism_class(self.as_server, metadata, options)

    def zap_client(self, reactor: Reactor) -> ZapClient:
        """The ZAP client engines on ``reactor`` ask (the socket core hands it to them,
        so the engine needs no import of the ZAP client, which is built on a socket)."""
        return zap_client(self.context, reactor)

    def _new_pipe(self, endpoint: str, *, outgoing: bool) -> StreamPipe:
        options = self.options
        return StreamPipe(self.handle, endpoint, options.sndhwm, options.rcvhwm, outgoing=outgoing)

    def _engine_ready(self, engine: StreamEngine) -> bool:
        """The handshake completed (I/O thread): give the engine a pipe."""
        mechanism = engine.mechanism
        metadata = dict(mechanism.peer_metadata.items()) if mechanism is not None else {}
        if mechanism is not None:
            # What the ZAP handler said reaches every message, as in libzmq.
            metadata.update(mechanism.zap_metadata.items())
            if mechanism.user_id:
                metadata[PROP_USER_ID] = mechanism.user_id
        peer = PeerInfo(
            (mechanism.peer_socket_type or "") if mechanism is not None else "",
            metadata.get(PROP_IDENTITY, b""),
            engine.peer_address,
            metadata,
        )
        connecter = engine.connecter
        pipe = connecter.pipe if connecter is not None else None
        if connecter is not None and connecter.lingering:
            engine.lingering = True  # the socket is closed: flush, then go
        if pipe is None:
            pipe = self._new_pipe(engine.endpoint, outgoing=connecter is not None)
            if connecter is not None:
                connecter.pipe = pipe  # IMMEDIATE: from now on this connecter's pipe
            self._pipe_events.append(("attach", pipe, None))
        pipe.peer = peer
        pipe.engine = engine
        engine.pipe = pipe
        engines = dict(self._engines)
        engines[engine.fd] = engine
        self._engines = engines  # publish (see __init__)
        self._engines_generation += 1
        self.io_policy.connection_interest_changed(engine.fd)  # after publishing it
        self._event("handshake_succeeded", engine.endpoint, 0)
        self.context.registry.notify(
            "mqsdk_peer_connected", socket=self, endpoint=engine.endpoint, peer=peer
        )
        self._wake_waiter()
        return True

    def _engine_closed(self, engine: StreamEngine, reason: CloseReason) -> None:
        """A connection ended (I/O thread)."""
        if self._engines.get(engine.fd) is engine:
            engines = dict(self._engines)
            del engines[engine.fd]
            self._engines = engines  # publish (see __init__)
            self._engines_generation += 1
            self.io_policy.connection_interest_changed(engine.fd)
        pipe = engine.pipe
        endpoint = engine.endpoint
        if reason.handshake:
            self.stats["handshake_failures"] += 1
            error = reason.error
            if error is None:
                # The peer closed before the handshake completed (libzmq reports
                # HANDSHAKE_FAILED_NO_DETAIL with EPIPE).
                error = BrokenPipeError(errno.EPIPE, reason.text)
            status = getattr(error, "status", None) or getattr(error, "status_code", None)
            if status:
                # Refused by ZAP here (AuthenticationFailed), or by the peer's ZAP
                # (its ERROR carries the status): libzmq reports the status code.
                self._event("handshake_failed_auth", endpoint, status)
            elif isinstance(error, ProtocolError):
                self._event("handshake_failed_protocol", endpoint, error.code)
            else:
                value = getattr(error, "errno", None) or errno.EPIPE
                self._event("handshake_failed_no_detail", endpoint, value)
            self.context.registry.notify(
                "mqsdk_handshake_failed", socket=self, endpoint=endpoint, error=error
            )
        if pipe is not None:
            pipe.engine = None
            self.context.registry.notify(
                "mqsdk_peer_disconnected",
                socket=self,
                endpoint=endpoint,
                peer=pipe.peer,
                reason=reason.text,
            )
            connecter = engine.connecter
            keep = connecter is not None and not self.options.immediate and not connecter.closed
            if not keep:
                if connecter is not None:
                    connecter.pipe = None
                self._pipe_events.append(("detach", pipe, None))
            if pipe.read_paused:
                pipe.read_paused = False
        self._event("disconnected", endpoint, engine.fd)
        if pipe is not None:
            # Only a connection the user's side could see changes anything for a waiting
            # thread; waking it for each failed handshake would have it re-walk every
            # connection once per garbage connection.
            self._wake_waiter()

    def _engine_command(self, engine: StreamEngine, command: Command) -> bool:
        """A command the engine does not handle itself (SUBSCRIBE, CANCEL...)."""
        pipe = engine.pipe
        if pipe is None:
            return False
        return self._pipe_command(pipe, command)

    def _pipe_command(self, pipe: Pipe, command: Command) -> bool:
        """Hand a command to the pattern, in the user's thread, in order with attach and
        detach (any thread may call this). False if the pattern does not take it."""
        if command.name not in self.pattern.commands:
            return False
        self._pipe_events.append(("command", pipe, command))
        self._wake_waiter()
        return True

    def _pipe_readable(self, pipe: Pipe) -> None:
        # A pipe not attached yet is announced by _attach (it looks at inq after marking
        # the pipe attached, this looks at attached after the append: one of the two
        # sees the other), and one the pattern refused never is.
        if pipe.attached:
            self._announce(pipe)
        io_policy = self.io_policy
        if io_policy.waiting_thread or io_policy.loop_waiting:  # a thread or an event loop
            self._waker.wake()
        ready = self._ready
        if ready is not None:
            ready.wake()

    def _pipe_writable(self, pipe: Pipe) -> None:
        self._wake_waiter()

    def _sent(self, engine: StreamEngine, messages: int, nbytes: int) -> None:
        stats = self.stats
        stats["msgs_out"] += messages
        stats["bytes_out"] += nbytes

    def _received(self, messages: int, nbytes: int) -> None:
        stats = self.stats
        stats["msgs_in"] += messages
        stats["bytes_in"] += nbytes

    def _event(self, name: str, endpoint: str, value: int) -> None:
        """A lifecycle event: to the monitor sockets, the plugins' hook, and the log."""
        if name == "connect_retried":
            self.stats["reconnects"] += 1
        event = MonitorEvent(EVENT_BY_NAME[name], value, endpoint)
        log.debug("%s: %s %s (%s)", self, name, endpoint, value)
        monitors = self._monitors
        if monitors:
            frames = event.encode()
            with self._monitor_lock:
                for monitor, mask in list(monitors.items()):
                    if mask & event.event and not monitor.closed:
                        with contextlib.suppress(MQError):
                            monitor.send_multipart(frames, NOBLOCK)  # never block I/O
        self.context.registry.notify("mqsdk_socket_event", socket=self, event=event)

    def _attach_pipe(self, pipe: Pipe) -> None:
        """Attach a pipe made by a message transport (this socket's own thread)."""
        self._attach(pipe)

    def _post_pipe_event(self, action: str, pipe: Pipe) -> None:
        """Attach or detach a pipe from another thread; applied at this socket's next call."""
        self._pipe_events.append((action, pipe, None))
        self._wake_waiter()

    def _apply_pipe_events(self) -> None:
        events = self._pipe_events
        while events:
            action, pipe, command = events.popleft()
            if action == "command":
                self.pattern.pipe_command(pipe, command)
            elif action == "attach":
                self._attach(pipe)
            else:
                self._detach(pipe)

    def _attach(self, pipe: Pipe) -> None:
        if pipe.attached:
            return
        if self.pattern.attach(pipe):
            pipe.attached = True
            self._pipes.add(pipe)
            if pipe.inq:
                self._announce(pipe)
            return
        pipe.close_connection(f"refused by the {self.socket_type_name} pattern")

    def _detach(self, pipe: Pipe) -> None:
        if pipe.attached:
            pipe.attached = False
            self._pipes.discard(pipe)
            self.pattern.detach(pipe)

    def _in_reactor(self, fn: Callable[[], object], *, wait: bool = False) -> None:
        if self.reactor.in_thread():
            fn()
            return
        if not wait:
            self.reactor.call_soon(fn)
            return
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                done.set()

        self.reactor.call_soon(run)
        if not done.wait(30):
            raise MQError("the I/O thread did not answer within 30 s", errno.ETIMEDOUT)

    def _close_in_reactor(self, linger_ms: int) -> None:
        # Connections that still have messages to send linger first, so closing the
        # listeners (which closes their accepted connections) does not cut them off.
        connecters = [c for group in self._connecters.values() for c in group]
        self._connecters.clear()
        for connecter in connecters:
            if linger_ms != 0 and connecter.has_pending_output:
                connecter.linger(linger_ms)
            else:
                connecter.close()
        listeners = set(self._listeners.values())
        self._listeners.clear()
        for engine in list(self._engines.values()):
            if engine.connecter is not None:
                continue  # its connecter decided above
            if linger_ms != 0 and engine.has_pending_output:
                for listener in listeners:
                    listener.engines.discard(engine)
                self._linger_engine(engine, linger_ms)
        for listener in listeners:
            listener.close()
        for engine in list(self._engines.values()):
            if not engine.lingering and (
                engine.connecter is None or not engine.connecter.lingering
            ):
                engine.close("socket closed")

    def _linger_engine(self, engine: StreamEngine, linger_ms: int) -> None:
        context = self.context
        context._linger_started(engine)
        previous = engine.on_close

        def finished(done: StreamEngine, reason: CloseReason) -> None:
            if previous is not None:
                previous(done, reason)
            context._linger_finished(done)

        engine.on_close = finished
        engine.lingering = True
        if linger_ms > 0:
            engine.reactor.call_later(linger_ms / 1000, engine.close, "linger expired")
        engine.want_flush(deferred=True)
