"""The I/O thread: one poller backend, timers and a cross-thread mailbox.

Each context runs one reactor per I/O thread. It does the work nobody waits on: accepts,
connects and reconnects, heartbeats, flushing what a caller left queued. A caller that
would otherwise block does its own socket's I/O in its own thread (measured to be the
only way to match libzmq's round trip; see docs/architecture.md), so the reactor is
deliberately small.

Thread rules: :meth:`Reactor.call_soon`, :meth:`Reactor.call_later`, the reader/writer
methods and :meth:`Reactor.stop` may be called from any thread. Callbacks always run in
the reactor thread. An exception escaping a callback is logged with its traceback and
the reactor goes on.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from mqsdk._kernel.poller import ERROR, READ, WRITE, PollerBackend

log = logging.getLogger(__name__)

Callback = Callable[..., object]

_COMPACT_MIN = 64
"""Cancelled timers tolerated in the heap before it may be compacted (see
:meth:`Reactor._compact_timers`); below this, dropping them as they come due is cheaper."""


class Waker:
    """Wakes a thread sleeping in a poller: an eventfd, or a socketpair where there is none."""

    def __init__(self) -> None:
        self._eventfd = -1
        self._pair: tuple[socket.socket, socket.socket] | None = None
        # wake() may race close() from another thread (Context.term wakes sockets that
        # their own thread is closing): without the lock a wake could write into an fd
        # number the OS has already handed to someone else.
        self._lock = threading.Lock()
        if hasattr(os, "eventfd"):
            self._eventfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - exercised on platforms without eventfd
            reader, writer = socket.socketpair()
            reader.setblocking(False)
            writer.setblocking(False)
            self._pair = (reader, writer)

    @property
    def kind(self) -> str:
        return "eventfd" if self._eventfd >= 0 else "socketpair"

    def fileno(self) -> int:
        if self._pair is not None:
            return self._pair[0].fileno()
        return self._eventfd

    def wake(self) -> None:
        with self._lock:
            try:
                if self._pair is not None:
                    self._pair[1].send(b"\x01")
                elif self._eventfd >= 0:
                    os.eventfd_write(self._eventfd, 1)
            except (BlockingIOError, InterruptedError):
                pass  # already signalled: the reader will wake anyway
            except OSError:
                pass  # closed during shutdown; nobody is left to wake

    def drain(self) -> None:
        with self._lock:
            try:
                if self._pair is not None:
                    while self._pair[0].recv(4096):
                        pass
                elif self._eventfd >= 0:
                    os.eventfd_read(self._eventfd)
            except (BlockingIOError, InterruptedError):
                pass

    def close(self) -> None:
        with self._lock:
            if self._pair is not None:
                for end in self._pair:
                    end.close()
                self._pair = None
            elif self._eventfd >= 0:
                os.close(self._eventfd)
                self._eventfd = -1


class TimerHandle:
    """A scheduled call; :meth:`cancel` it from any thread."""

    __slots__ = ("_reactor", "cancelled", "deadline", "target")

    def __init__(
        self,
        deadline: float,
        callback: Callback,
        args: tuple[Any, ...],
        reactor: Reactor | None = None,
    ) -> None:
        self.deadline = deadline
        # One attribute, so a cancel from another thread while the reactor reads it
        # cannot pair the callback with the wrong arguments.
        self.target: tuple[Callback, tuple[Any, ...]] | None = (callback, args)
        self.cancelled = False
        self._reactor = reactor

    def cancel(self) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        # A cancelled timer stays in the reactor's heap until its deadline or the next
        # compaction: let go of the callback now, or it would keep its object (a closed
        # connection's engine and buffers, say) alive that long.
        self.target = None
        reactor = self._reactor
        if reactor is not None:
            self._reactor = None
            reactor._timer_cancelled()


class Reactor:
    """One I/O thread driving one poller backend."""

    def __init__(self, backend_class: type[PollerBackend], name: str = "mqsdk-io") -> None:
        self.backend_class = backend_class
        self.name = name
        self._backend: PollerBackend | None = None
        self._waker: Waker | None = None
        self._io_thread: threading.Thread | None = None
        self._mailbox: deque[tuple[Callback, tuple[Any, ...]]] = deque()
        self._signalled = False
        self._stopping = False
        self._timers: list[tuple[float, int, TimerHandle]] = []
        self._cancelled_timers = 0  # about how many of _timers are cancelled
        self._sequence = itertools.count()
        self._readers: dict[int, Callback] = {}
        self._writers: dict[int, Callback] = {}
        self._interest: dict[int, int] = {}
        self._lock = threading.Lock()
        self._started = threading.Event()

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread; returns once it is polling. Idempotent."""
        with self._lock:
            if self._io_thread is not None:
                return
            self._backend = self.backend_class()
            self._waker = Waker()
            self._backend.register(self._waker.fileno(), READ)
            self._io_thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._io_thread.start()
        self._started.wait()

    @property
    def running(self) -> bool:
        return self._io_thread is not None and self._io_thread.is_alive()

    def in_thread(self) -> bool:
        """True when called from this reactor's own thread."""
        thread = self._io_thread
        return thread is not None and thread.ident == threading.get_ident()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the thread and release its fds. Pending callbacks run first.

        Called from the reactor's own thread it only requests the stop.
        """
        with self._lock:
            thread = self._io_thread
            if thread is None:
                return
            self._stopping = True
        self._wake()
        if self.in_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"{self.name}: I/O thread did not stop within {timeout} s")

    # -- scheduling (any thread) -------------------------------------------------------

    def call_soon(self, callback: Callback, *args: Any) -> None:
        """Run ``callback(*args)`` in the reactor thread, in call order."""
        self._mailbox.append((callback, args))
        if not self._signalled:
            self._signalled = True
            self._wake()

    def call_later(self, delay: float, callback: Callback, *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` in the reactor thread after ``delay`` seconds."""
        handle = TimerHandle(time.monotonic() + max(delay, 0.0), callback, args, self)
        if self.in_thread():
            heapq.heappush(self._timers, (handle.deadline, next(self._sequence), handle))
        else:
            self.call_soon(self._push_timer, handle)
        return handle

    def add_reader(self, fd: int, callback: Callback) -> None:
        """Call ``callback()`` in the reactor thread whenever ``fd`` is readable."""
        self._in_thread_or_post(self._set_handler, fd, callback, READ)

    def remove_reader(self, fd: int) -> None:
        self._in_thread_or_post(self._set_handler, fd, None, READ)

    def add_writer(self, fd: int, callback: Callback) -> None:
        """Call ``callback()`` in the reactor thread whenever ``fd`` is writable."""
        self._in_thread_or_post(self._set_handler, fd, callback, WRITE)

    def remove_writer(self, fd: int) -> None:
        self._in_thread_or_post(self._set_handler, fd, None, WRITE)

    # -- reactor thread ----------------------------------------------------------------

    def _wake(self) -> None:
        waker = self._waker
        if waker is not None:
            waker.wake()

    def _in_thread_or_post(self, fn: Callback, *args: Any) -> None:
        if self.in_thread():
            fn(*args)
        else:
            self.call_soon(fn, *args)

    def _push_timer(self, handle: TimerHandle) -> None:
        if not handle.cancelled:  # cancelled before this post ran
            heapq.heappush(self._timers, (handle.deadline, next(self._sequence), handle))

    def _timer_cancelled(self) -> None:
        # Any thread. A count lost to a race only delays a compaction.
        self._cancelled_timers += 1

    def _compact_timers(self) -> None:
        """Drop cancelled timers from the heap (reactor thread), as asyncio does once
        they are over half of it: with long timers (handshake_ivl is 30 s) and many
        short connections, they would otherwise pile up until their deadlines."""
        self._cancelled_timers = 0  # cancels from here on count towards the next one
        timers = self._timers
        timers[:] = [entry for entry in timers if not entry[2].cancelled]
        heapq.heapify(timers)

    def _set_handler(self, fd: int, callback: Callback | None, which: int) -> None:
        table = self._readers if which == READ else self._writers
        previous = table.get(fd)
        if callback is None:
            table.pop(fd, None)
        else:
            table[fd] = callback
        wanted = (READ if fd in self._readers else 0) | (WRITE if fd in self._writers else 0)
        current = self._interest.get(fd, 0)
        if wanted == current:
            return
        backend = self._backend
        assert backend is not None
        try:
            if not wanted:
                backend.unregister(fd)
            elif current:
                backend.modify(fd, wanted)
            else:
                backend.register(fd, wanted)
        except Exception:
            # The fd is gone (closed before this request ran): keep no handler for it, or
            # a later fd with the same number would call the dead one's callbacks.
            if previous is None:
                table.pop(fd, None)
            else:
                table[fd] = previous
            raise
        if wanted:
            self._interest[fd] = wanted
        else:
            del self._interest[fd]

    def _run(self) -> None:
        backend = self._backend
        waker = self._waker
        assert backend is not None and waker is not None
        wake_fd = waker.fileno()
        timers = self._timers
        self._started.set()
        try:
            while not self._stopping:
                timeout: float | None = None
                if timers:
                    timeout = max(timers[0][0] - time.monotonic(), 0.0)
                for fd, events in backend.poll(timeout):
                    if fd == wake_fd:
                        self._run_mailbox(waker)
                    else:
                        self._dispatch(fd, events)
                if timers:
                    self._run_timers()
                    cancelled = self._cancelled_timers
                    if cancelled > _COMPACT_MIN and 2 * cancelled > len(timers):
                        self._compact_timers()
        except BaseException:  # pragma: no cover - a bug in the loop itself
            log.critical("%s: I/O loop crashed", self.name, exc_info=True)
            raise
        finally:
            self._run_mailbox(waker)  # what was posted before stop() still runs
            self._shutdown()

    def _run_mailbox(self, waker: Waker) -> None:
        # Drain first, then clear the flag, then empty the mailbox: a post that sees the
        # flag still set is appended before the mailbox is emptied below; a post that
        # sees it clear signals the waker anew. Clearing before draining could swallow
        # a wake-up and leave a post stranded.
        waker.drain()
        self._signalled = False
        mailbox = self._mailbox
        while mailbox:
            callback, args = mailbox.popleft()
            self._call(callback, args)

    def _dispatch(self, fd: int, events: int) -> None:
        if events & (READ | ERROR):
            reader = self._readers.get(fd)
            if reader is not None:
                self._call(reader, ())
        if events & (WRITE | ERROR):
            writer = self._writers.get(fd)
            if writer is not None:
                self._call(writer, ())
        if events & ERROR and fd in self._interest and not _fd_is_open(fd):
            # Closed without being removed: forget it, or it would be reported forever.
            log.warning("%s: fd %d was closed while watched; no longer watching it", self.name, fd)
            self._readers.pop(fd, None)
            self._writers.pop(fd, None)
            del self._interest[fd]
            assert self._backend is not None
            self._backend.unregister(fd)

    def _run_timers(self) -> None:
        timers = self._timers
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            target = heapq.heappop(timers)[2].target
            if target is not None:
                self._call(*target)
            elif self._cancelled_timers > 0:
                self._cancelled_timers -= 1

    def _call(self, callback: Callback, args: tuple[Any, ...]) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception(
                "%s: exception in handler %r; the I/O thread goes on", self.name, callback
            )

    def _shutdown(self) -> None:
        with self._lock:
            backend, waker = self._backend, self._waker
            self._backend = self._waker = None
            self._readers.clear()
            self._writers.clear()
            self._interest.clear()
            self._timers.clear()
            self._cancelled_timers = 0
            self._mailbox.clear()
            self._io_thread = None
            self._stopping = False
            self._started.clear()
        if backend is not None:
            backend.close()
        if waker is not None:
            waker.close()


def _fd_is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
