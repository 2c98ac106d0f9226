"""Thread-safe sockets: several threads sending, receiving and polling one socket at once.

libzmq lets threads share its draft socket types (CLIENT, SERVER, RADIO, DISH, SCATTER,
GATHER, PEER, CHANNEL); the others belong to one thread at a time. A pattern says which
it is with ``Pattern.thread_safe``, and ``ctx.socket()`` then makes a
:class:`ThreadSafeSocket` (a :class:`~mqsdk._kernel.socket.Socket` in every other way):

* Every call that reads or changes the socket holds its lock (reentrant: an option alias
  sets other options), so the kernel below runs in one thread at a time, as it does for
  a socket with a single user. Sends and receives are made as non-blocking attempts.
* A call that must wait (no room to send, nothing to receive, ``poll``) lets go of the
  lock and sleeps until the socket changes, then tries again, so the other threads keep
  using the socket meanwhile. Nobody waits in the socket's own poller: the I/O policy is
  shared (``IoPolicy.share_between_threads``), so the I/O thread does the reads and
  writes a waiting thread would have done, and wakes the socket's waker at every change.
* One waiting thread sleeps on that waker (an fd, in a poller of its own) and, once
  woken, drains it and wakes the others through a condition variable: one fd serves
  any number of waiting threads (libzmq's thread-safe sockets wait on a condition
  variable too, not on ZMQ_FD).
* No wake-up is lost: a thread reads :attr:`_Waiters.generation` before it looks at the
  socket and sleeps only while that number is unchanged; whoever drains the waker adds
  one. The socket's own changes that may let a waiting thread through (a connect, a
  bind, an option) wake the waker like the I/O thread's.
* ``close()`` (and ``Context.term()``) from any thread takes the lock, wakes every
  waiting thread and waits until none sleeps on the waker before the fds close; the woken
  calls then fail with ENOTSOCK (ETERM for a terminated context), as in libzmq.

Messages of these types are single frames (libzmq refuses ZMQ_SNDMORE on them): a
message made over several calls could not be shared between threads. SERVER-style types
(``Pattern.routed_by_id``) get ``[routing_id, body]`` to send, the id taken from
:attr:`Frame.routing_id <mqsdk.Frame.routing_id>` or ``send(..., routing_id=n)``, and put
the peer's id on the frames ``recv(copy=False)`` returns.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mqsdk._kernel.core import SocketCore, _frame_bytes
from mqsdk._kernel.frame import (
    Frame,
    MessageTracker,
    checked_routing_id,
    tracked_frame_content,
    tracked_payload,
)
from mqsdk._kernel.poller import READ, PollerBackend
from mqsdk._kernel.socket import Socket
from mqsdk.constants import NOBLOCK, POLLIN, SNDMORE
from mqsdk.errors import Again, MQError
from mqsdk.monitor import Event

if TYPE_CHECKING:
    from mqsdk._kernel.context import Context
    from mqsdk._kernel.pipe import PeerInfo
    from mqsdk._kernel.reactor import Waker

_T = TypeVar("_T")
_CLOSE_WAIT = 2.0  # s between close()'s notes that it still waits for the sleeper to leave
log = logging.getLogger(__name__)


class _Waiters:
    """The threads waiting for one thread-safe socket to change (see the module)."""

    __slots__ = (
        "_changed",
        "_closing",
        "_make_poller",
        "_poller",
        "_sleeping",
        "_waker",
        "generation",
    )

    def __init__(self, waker: Waker, make_poller: Callable[[], PollerBackend]) -> None:
        self._changed = threading.Condition(threading.Lock())
        self.generation = 0
        """Changes seen so far: read it before looking at the socket, then :meth:`wait`."""
        self._sleeping = False  # a thread sleeps on the waker (the others on _changed)
        self._closing = False
        self._waker = waker
        self._make_poller = make_poller
        self._poller: PollerBackend | None = None  # watches the waker alone; made on need

    def wait(self, seen: int, timeout: float | None) -> None:
        """Sleep until the socket changed after ``generation`` was ``seen``, or
        ``timeout`` seconds (None: no limit). May return early: callers look again."""
        changed = self._changed
        with changed:
            if self.generation != seen or self._closing:
                return
            if self._sleeping:
                changed.wait(timeout)  # the sleeper wakes us when the waker fires
                return
            self._sleeping = True
            poller = self._poller
            if poller is None:
                poller = self._poller = self._make_poller()
                poller.register(self._waker.fileno(), READ)
        try:
            poller.poll(timeout)
            self._waker.drain()
        finally:
            with changed:
                # Woken, or timed out: either way the others look again (one of them
                # sleeps on the waker next), so none is left without a sleeper.
                self._sleeping = False
                self.generation += 1
                changed.notify_all()

    def close(self) -> None:
        """Wake every waiting thread, keep new ones from sleeping, and wait until none
        sleeps on the waker, which may then be closed."""
        changed = self._changed
        with changed:
            self._closing = True
            self.generation += 1
            changed.notify_all()
        self._waker.wake()
        with changed:
            # No time limit: the sleeper may not have reached its poll yet (a loaded
            # machine can keep a thread off the CPU for seconds), and closing the fds
            # under it would have it poll a closed poller or, once the number is reused,
            # someone else's fd. It cannot stay: the waker stays signalled until it
            # drains it, and it needs only this lock (not the socket's) to leave.
            while self._sleeping:
                if not changed.wait(_CLOSE_WAIT):
                    log.debug("close() still waits for a woken thread to leave the waker")
            poller, self._poller = self._poller, None
        if poller is not None:
            poller.close()


class ThreadSafeSocket(Socket):
    """A socket of a ``thread_safe`` pattern: any thread may call it at any time."""

    __slots__ = ("_routed", "_shared_lock", "_waiters")

    def __init__(
        self, context: Context, socket_type: int | str, *, copy_threshold: int | None = None
    ) -> None:
        # First: a plugin told of the new socket (mqsdk_socket_created) may already use it.
        self._shared_lock = threading.RLock()
        super().__init__(context, socket_type, copy_threshold=copy_threshold)
        self._routed = self.pattern.routed_by_id
        self._waiters = _Waiters(self._waker, context.poller_class)
        self.io_policy.share_between_threads()

    # -- waiting without the lock -----------------------------------------------------------

    def _blocking(self, attempt: Callable[[int], _T], flags: int, send: bool) -> _T:
        """``attempt(flags | NOBLOCK)`` under the lock until it succeeds; between two
        tries, wait without the lock for a change (up to SNDTIMEO/RCVTIMEO)."""
        lock = self._shared_lock
        waiters = self._waiters
        deadline: float | None = None
        timeout_read = False
        while True:
            seen = waiters.generation  # before looking: a change after it wakes us
            with lock:
                try:
                    return attempt(flags | NOBLOCK)
                except Again:
                    if flags & NOBLOCK:
                        raise
                    if not timeout_read:
                        timeout_read = True
                        options = self.options
                        deadline = self._deadline(options.sndtimeo if send else options.rcvtimeo)
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Again(f"{'send' if send else 'receive'} timed out")
            waiters.wait(seen, remaining)

    def _changed(self) -> None:
        """Something a waiting thread may have waited for may hold now (a peer to send
        to after a connect...): have them look again."""
        self._waker.wake()

    # -- sending ---------------------------------------------------------------------------

    def send(
        self,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        routing_id: int | None = None,
        group: str | bytes | None = None,
    ) -> MessageTracker | None:
        """Send one message (a single frame); ``routing_id`` (SERVER) names the peer,
        as setting :attr:`Frame.routing_id <mqsdk.Frame.routing_id>` does. pyzmq's
        arguments in pyzmq's order."""
        if flags & SNDMORE:
            raise self._multipart_refused("SNDMORE is invalid")
        if routing_id is not None:
            checked_routing_id(routing_id)
        if not self._routed:
            # The usual case first, without the waiting machinery: one try under the lock.
            with self._shared_lock:
                try:
                    return SocketCore.send(self, data, flags | NOBLOCK, copy, track, None, group)
                except Again:
                    if flags & NOBLOCK:
                        raise
            return self._blocking(
                lambda f: SocketCore.send(self, data, f, copy, track, None, group), flags, True
            )
        if group is not None:
            raise MQError(
                f"send(group=...) is for RADIO sockets; a {self.socket_type_name} socket "
                "has no groups",
                errno.EINVAL,
            )
        message, tracker = self._addressed(data, copy, track, routing_id)
        with self._shared_lock:
            try:
                self._send_message(message, flags | NOBLOCK)
                return tracker
            except Again:
                if flags & NOBLOCK:
                    raise
        self._blocking(lambda f: self._send_message(message, f), flags, True)
        return tracker

    def _addressed(
        self, data: Any, copy: bool, track: bool, routing_id: int | None
    ) -> tuple[list[Any], MessageTracker | None]:
        """``[routing_id, body]`` for a routed pattern (the id as 4 bytes big-endian),
        and the tracker of a tracked send."""
        is_frame = type(data) is Frame
        if routing_id is None:
            routing_id = data.routing_id if is_frame else 0
        tracker: MessageTracker | None = None
        if is_frame and data.tracker is not None:
            tracker = data.tracker
            body = tracked_frame_content(data)
        elif track:
            if is_frame:
                raise ValueError("not a tracked message: make the Frame with track=True")
            body, tracker = tracked_payload(data, copy, self.copy_threshold)
        else:
            body = _frame_bytes(data, copy)
        return [routing_id.to_bytes(4, "big"), body], tracker

    def send_multipart(
        self, msg_parts: Sequence[Any], flags: int = 0, copy: bool = True, track: bool = False
    ) -> MessageTracker | None:
        """A one-frame message only (libzmq: EINVAL for more on thread-safe types)."""
        parts = list(msg_parts)
        if not parts:
            raise ValueError("a message has at least one frame; send_multipart got none")
        if len(parts) > 1:
            raise self._multipart_refused("multipart is invalid")
        return self.send(parts[0], flags, copy, track)

    def _multipart_refused(self, what: str) -> MQError:
        return MQError(
            f"a {self.socket_type_name} message is a single frame (a thread-safe socket "
            f"type): {what}",
            errno.EINVAL,
        )

    # -- receiving -------------------------------------------------------------------------

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        # The usual case first, without the waiting machinery: one try under the lock.
        with self._shared_lock:
            try:
                return self._recv_one(flags | NOBLOCK, copy)
            except Again:
                if flags & NOBLOCK:
                    raise
        return self._blocking(lambda f: self._recv_one(f, copy), flags, False)

    def _recv_one(self, flags: int, copy: bool) -> Any:
        received = SocketCore.recv(self, flags, copy)
        if not copy and self._routed:
            received._routing_id = self.pattern.last_routing_id
        return received

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> list[Any]:
        return [self.recv(flags, copy, track)]

    # -- polling ---------------------------------------------------------------------------

    def poll(self, timeout: int | None = None, flags: int = POLLIN) -> int:
        """Wait up to ``timeout`` ms (None: forever) until ``flags`` events; return them.
        Other threads use the socket meanwhile."""
        lock = self._shared_lock
        waiters = self._waiters
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout / 1000
        first = True
        while True:
            seen = waiters.generation
            with lock:
                if first and self._closed and not self.context.closed:
                    raise MQError(
                        f"poll() on a closed {self.socket_type_name} socket", errno.ENOTSUP
                    )
                first = False
                self._check_open()  # closed meanwhile: ENOTSOCK (ETERM after a term)
                self._flush_engines()  # the I/O thread reads for us (IoPolicy)
                ready = Socket.poll_events(self) & flags
            if ready:
                return ready
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return 0
            waiters.wait(seen, remaining)

    def poll_events(self) -> int:
        with self._shared_lock:
            # Closed: ENOTSOCK as get(EVENTS) and libzmq, so a loop on it ends (a closed
            # pattern would still say POLLOUT).
            self._check_open()
            return Socket.poll_events(self)

    def fileno(self) -> int:
        with self._shared_lock:
            return Socket.fileno(self)

    def _read_engines(self) -> None:
        # mqsdk.Poller reads a socket's connections from its own thread.
        with self._shared_lock:
            SocketCore._read_engines(self)

    # -- everything else that touches the socket -------------------------------------------

    def set(self, option: int | str, value: Any) -> None:
        with self._shared_lock:
            Socket.set(self, option, value)
        self._changed()  # a higher HWM may let a blocked sender through

    setsockopt = set

    def get(self, option: int | str) -> Any:
        with self._shared_lock:
            return Socket.get(self, option)

    getsockopt = get

    def _bind(self, endpoint: str) -> None:
        with self._shared_lock:
            Socket._bind(self, endpoint)
        self._changed()

    def _connect(self, endpoint: str) -> None:
        with self._shared_lock:
            Socket._connect(self, endpoint)
        self._changed()  # a peer to send to (a pipe exists before the connection does)

    def unbind(self, endpoint: str | bytes) -> None:
        with self._shared_lock:
            Socket.unbind(self, endpoint)

    def disconnect(self, endpoint: str | bytes) -> None:
        with self._shared_lock:
            Socket.disconnect(self, endpoint)

    def _group_change(self, group: str | bytes, *, join: bool) -> None:
        with self._shared_lock:
            Socket._group_change(self, group, join=join)

    def monitor(self, addr: str | None, events: int = Event.ALL) -> None:
        with self._shared_lock:
            Socket.monitor(self, addr, events)

    def get_monitor_socket(self, events: int = Event.ALL, addr: str | None = None) -> Socket:
        with self._shared_lock:
            return Socket.get_monitor_socket(self, events, addr)

    def disable_monitor(self) -> None:
        with self._shared_lock:
            Socket.disable_monitor(self)

    @property
    def peers(self) -> list[PeerInfo]:
        with self._shared_lock:
            return Socket.peers.fget(self)  # type: ignore[attr-defined, no-any-return]

    def close(self, linger: int | None = None) -> None:
        """Close the socket (any thread): threads blocked in it fail with ENOTSOCK, or
        ETERM when the context was terminated."""
        lock: threading.RLock | None = getattr(self, "_shared_lock", None)
        if lock is None:  # __init__ failed before the socket existed
            return
        with lock:
            if getattr(self, "_closed", True):
                return
            waiters: _Waiters | None = getattr(self, "_waiters", None)
            if waiters is not None:
                waiters.close()
            Socket.close(self, linger)
