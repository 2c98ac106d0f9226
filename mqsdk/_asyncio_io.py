"""The event loop as an ``mqsdk.asyncio`` socket's waiting thread.

A blocking receive in a plain socket reads its connections in the caller's thread: it
waits in a poller of its own on the connections' fds and reads those that become ready,
while the I/O thread steps back (see :class:`mqsdk._kernel.io_policy.IoPolicy`). Here the
event loop plays that thread. :class:`LoopIo` registers each connection's fd with the loop
(``add_reader``); the callback reads the connection in the loop's thread and resolves the
awaiting futures directly, with no thread to hand the message over and no wake-up of the
loop through a second fd. The I/O thread leaves a connection to whoever reads it (the
user's reads it counts, see ``IoPolicy.should_io_thread_read``): the loop counts one on
each read, and on every connection it watches at least every 25 ms while a task awaits,
so the I/O thread keeps away while the loop runs and takes the connections back within
its 50 ms look once the loop stops or hangs in a callback (heartbeats are still
answered). While a task awaits (``IoPolicy.loop_waiting``), what only the I/O thread sees
(a message it read, a connection that came or went, a pipe command, a message from an
inproc peer, room to send, close() in another thread) reaches the loop through the
socket's waker, also watched by the loop.

The registrations stay between awaits (adding and removing them on every await would
cost system calls per message): a connection that becomes readable then is read by the
loop, as the I/O thread would have.

The loop watches duplicates of the fds (``os.dup``), never the kernel's own: the I/O
thread closes a connection's fd when the connection ends, at a moment the loop cannot
know, and a closed fd number still registered in the loop would be mistaken for the next
file opened with that number (a new connection, or a transport of the application's).
A duplicate is closed by the loop, after it stopped watching it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import weakref
from typing import TYPE_CHECKING

from mqsdk._kernel.io_policy import IoPolicy

if TYPE_CHECKING:
    from mqsdk._kernel.core import SocketCore
    from mqsdk._kernel.engine import StreamEngine

_BUSY_RECHECK = 0.001  # s before looking again at a connection the I/O thread was using
# Half the I/O thread's look at a connection it left to the user (engine._REWATCH): at
# least one tick between two of its looks.
_TICK = 0.025  # s
_OUT_OF_FDS_RECHECK = 0.05  # s before trying again to duplicate an fd after EMFILE
log = logging.getLogger(__name__)


class LoopIo:
    """One asyncio socket's connections, watched and read by one event loop (its thread).

    ``waiters``: the futures of the tasks awaiting this socket (a receive, a send, a
    Poller); every one is resolved when anything may have changed, and each looks again.
    ``reads`` counts the loop's reads that delivered messages, ``handoffs`` the times the
    I/O thread (or another thread) had to wake the loop.
    """

    __slots__ = (
        "_generation",
        "_out_of_fds_logged",
        "_policy",
        "_resync_pending",
        "_socket",
        "_ticker",
        "_unwatched",
        "_waker_fd",
        "_waker_is_eventfd",
        "_watched",
        "handoffs",
        "loop",
        "reads",
        "waiters",
    )

    def __init__(self, sock: SocketCore, loop: asyncio.AbstractEventLoop) -> None:
        """Watch ``sock``'s waker in ``loop``; OSError if the socket was closed meanwhile."""
        self.loop = loop
        # Weak: the loop's callbacks hold this object, and a socket the application
        # dropped must still be collected (its __del__ closes it, which releases this).
        self._socket: weakref.ref[SocketCore] = weakref.ref(sock)
        self._policy: IoPolicy = sock.io_policy
        self.waiters: list[asyncio.Future[None]] = []
        self._watched: dict[int, tuple[int, int]] = {}  # engine fd -> (serial, our dup)
        self._unwatched: set[int] = set()  # of those, fds not in the loop now (paused, busy)
        self._generation = -1  # of the socket's engines mapping last synced
        self._resync_pending = False
        self._out_of_fds_logged = False
        self._ticker: asyncio.TimerHandle | None = None
        self.reads = 0
        self.handoffs = 0
        waker = sock._waker
        self._waker_is_eventfd = waker.kind == "eventfd"
        self._waker_fd = os.dup(waker.fileno())  # EBADF once close() closed it
        loop.add_reader(self._waker_fd, self._on_waker)

    # -- waiting -----------------------------------------------------------------------------

    def add_waiter(self, waiter: asyncio.Future[None]) -> None:
        """A task begins waiting: from now on the I/O thread wakes the loop for changes
        and leaves the connections to it. The caller looks at the socket's state after
        this (a change made before it is not signalled)."""
        self.waiters.append(waiter)
        self._policy.loop_waiting = True
        sock = self._socket()
        if sock is not None:
            self._sync(sock)
            if self._ticker is None:
                self._tick()

    def _tick(self) -> None:
        """Count a user's read on every watched connection, now and every ``_TICK`` while
        tasks wait: the I/O thread leaves a connection alone while such reads keep coming
        (IoPolicy.should_io_thread_read), and reads it again once they stop: the loop
        stopped, or a callback hangs it (messages and heartbeats are then still read,
        and the loop woken through the waker once it runs)."""
        self._ticker = None
        sock = self._socket()
        if not self.waiters or sock is None or self.released:
            return
        engines = sock._engines
        note_user_read = self._policy.note_user_read
        for fd, (serial, _dup) in self._watched.items():
            engine = engines.get(fd)
            if engine is not None and engine.serial == serial:
                note_user_read(engine)
        self._ticker = self.loop.call_later(_TICK, self._tick)

    def remove_waiter(self, waiter: asyncio.Future[None]) -> None:
        waiters = self.waiters
        with contextlib.suppress(ValueError):
            waiters.remove(waiter)
        if not waiters:
            self._policy.loop_waiting = False
        if not waiter.done():
            waiter.cancel()

    def _wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        # An mqsdk.asyncio socket completes its waiting operations now, in this callback:
        # through its waiter's done-callback it would take one more pass of the loop
        # before the awaiting task is even scheduled.
        sock = self._socket()
        serve = getattr(sock, "_on_loop_wake", None)
        if serve is not None:
            serve(self)

    # -- which connections the loop watches --------------------------------------------------

    def _sync(self, sock: SocketCore) -> None:
        """Watch every live connection that is not paused (each change of the connections
        is one new mapping; only then are they all looked at)."""
        generation = sock._engines_generation  # before the mapping: see SocketCore
        if generation != self._generation:
            self._generation = generation
            engines = sock._engines
            for fd, (serial, _dup) in list(self._watched.items()):
                engine = engines.get(fd)
                if engine is None or engine.serial != serial:
                    self._forget(fd)
            for fd, engine in engines.items():
                if fd in self._watched or engine.dead:
                    continue
                retry = self._adopt(fd, engine)
                if retry:
                    # Not now: look again soon, not at the next wait, which may be
                    # waiting for this very connection.
                    self._generation = -1
                    if not self._resync_pending:
                        self._resync_pending = True
                        self.loop.call_later(retry, self._resync)
        for fd in list(self._unwatched):
            self._rewatch(fd)

    def _resync(self) -> None:
        self._resync_pending = False
        sock = self._socket()
        if sock is not None and not self.released:
            self._sync(sock)

    def _adopt(self, fd: int, engine: StreamEngine) -> float:
        """Start watching a new connection through a duplicate of its fd. Returns 0, or
        the seconds after which to try again: the I/O thread still holds the connection
        (it publishes one before it is done with it), or the process is out of fds."""
        # Under the engine's lock the I/O thread cannot close the fd (it closes it holding
        # the lock): the duplicate is of this connection, not of a reused fd number.
        if not engine.lock.acquire(blocking=False):
            return _BUSY_RECHECK
        try:
            if engine.dead or engine.sock.fileno() != fd:
                return 0  # ending: nothing to watch
            dup = os.dup(fd)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            # Its messages wait (the I/O thread leaves the connection to the loop while
            # a task awaits) until an fd is free: say why, once.
            if not self._out_of_fds_logged:
                self._out_of_fds_logged = True
                log.warning("%s: no fd left to watch a connection in the event loop", exc)
            return _OUT_OF_FDS_RECHECK
        finally:
            engine.lock.release()
        self._watched[fd] = (engine.serial, dup)
        self._policy.note_user_read(engine)  # the loop reads it from now on
        if engine.read_paused:
            self._unwatched.add(fd)
        else:
            self.loop.add_reader(dup, self._on_readable, fd)
        return 0

    def _rewatch(self, fd: int) -> None:
        """Watch again a connection left out (paused, or busy in the I/O thread)."""
        entry = self._watched.get(fd)
        sock = self._socket()
        if entry is None or fd not in self._unwatched or sock is None:
            return
        engine = sock._engines.get(fd)
        if engine is None or engine.serial != entry[0] or engine.dead:
            self._forget(fd)
        elif not engine.read_paused:
            self._unwatched.discard(fd)
            self.loop.add_reader(entry[1], self._on_readable, fd)

    def _unwatch(self, fd: int) -> None:
        entry = self._watched.get(fd)
        if entry is not None and fd not in self._unwatched:
            self._unwatched.add(fd)
            self.loop.remove_reader(entry[1])

    def _forget(self, fd: int) -> None:
        entry = self._watched.pop(fd, None)
        if entry is None:
            return
        if fd in self._unwatched:
            self._unwatched.discard(fd)
        elif not self.loop.is_closed():
            self.loop.remove_reader(entry[1])
        os.close(entry[1])  # only now: see the module docstring

    # -- the loop's callbacks ----------------------------------------------------------------

    def _on_readable(self, fd: int) -> None:
        """A connection's fd is readable: read it here, in the loop's thread."""
        sock = self._socket()
        if sock is None:
            self.release()
            return
        entry = self._watched.get(fd)
        if entry is None:
            return
        engine = sock._engines.get(fd)
        if engine is None or engine.serial != entry[0] or engine.dead:
            self._forget(fd)  # ended: the I/O thread closes it and tells the socket
            return
        if engine.read_paused:
            self._unwatch(fd)  # RCVHWM: the next wait after a receive drained it rewatches
            return
        if not engine.lock.acquire(blocking=False):
            # The I/O thread is in the middle of a read or write on it. The fd stays
            # readable until somebody reads, so the loop would spin on it: look again in
            # a moment instead.
            self._unwatch(fd)
            self.loop.call_later(_BUSY_RECHECK, self._rewatch, fd)
            return
        policy = self._policy
        # Our own deliveries need no wake-up through the waker: the waiters are resolved
        # below, and each looks at the socket again.
        policy.loop_waiting = False
        try:
            delivered = engine.read_available()
        except Exception:
            # A defect, not the peer (read_available reports those itself): stop
            # watching, or the loop would meet it again on every pass; the loop logs it.
            self._forget(fd)
            raise
        finally:
            engine.lock.release()
            policy.loop_waiting = bool(self.waiters)
        if delivered:
            self.reads += 1
            policy.note_user_read(engine)  # the I/O thread leaves it to us between waits
        self._after_read(fd, engine)
        # Resolved even when nothing was delivered: while the flag was down, a change
        # made by another thread did not wake the loop.
        self._wake()

    def _after_read(self, fd: int, engine: StreamEngine) -> None:
        if engine.dead:  # EOF or an error: handed over to the I/O thread, which closes it
            self._forget(fd)
        elif engine.read_paused:  # RCVHWM reached
            self._unwatch(fd)

    def _on_waker(self) -> None:
        """Another thread signalled the socket's waker (I/O thread, inproc peer, close)."""
        fd = self._waker_fd
        if fd < 0:
            return  # released in this pass of the loop, after it had seen the fd ready
        self.handoffs += 1
        try:
            if self._waker_is_eventfd:
                os.read(fd, 8)
            else:
                while os.read(fd, 4096):
                    pass
        except (BlockingIOError, InterruptedError):
            pass
        sock = self._socket()
        if sock is None or sock._closed:
            self.release()
            return
        self._wake()

    # -- the end -----------------------------------------------------------------------------

    def release(self) -> None:
        """Stop watching and close the duplicates (in the loop's thread, or with the loop
        not running); the waiters are resolved to see why."""
        loop = self.loop
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for fd in list(self._watched):
            self._forget(fd)
        waker_fd = self._waker_fd
        if waker_fd >= 0:
            self._waker_fd = -1
            if not loop.is_closed():
                loop.remove_reader(waker_fd)
            os.close(waker_fd)
        if self.waiters:
            self._policy.loop_waiting = False
            if not loop.is_closed():
                self._wake()
            self.waiters = []

    @property
    def connections(self) -> int:
        return len(self._watched)

    @property
    def released(self) -> bool:
        return self._waker_fd < 0


def release_when_safe(io: LoopIo) -> None:
    """Release ``io`` now if this thread may touch its loop (the loop runs here, or does
    not run); a loop running in another thread releases it itself when the socket's
    waker (signalled by close()) fires."""
    loop = io.loop
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop or loop.is_closed() or not loop.is_running():
        io.release()
