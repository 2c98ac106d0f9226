"""Who does a connection's I/O: the user's thread or the I/O thread (one policy per socket).

See :class:`IoPolicy`. The socket (``mqsdk/_kernel/socket.py``) and its stream engines
(``mqsdk/_kernel/engine.py``) both ask it; neither reads the other's state to decide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mqsdk._kernel.engine import StreamEngine
    from mqsdk._kernel.pipe import QueuedMessage


class IoPolicy:
    """Which thread reads and writes a socket's connections, and when the other steps back.

    Measured before the engine was written (``performance-notes.md``): handing each
    message to a background thread is slower than pyzmq's round trip; only a caller doing
    its own socket I/O matched it. So both threads do a connection's I/O, whichever gets
    there first (the engine's ``lock`` makes one of them the owner at a time; the I/O
    thread only ever *tries* it), and this object says when each should.

    **Reading.** A receive that finds nothing queued reads the connections in the user's
    thread (:meth:`note_user_read` counts the reads that delivered something), then
    waits in its own poller on the connections' fds. While it waits
    (:meth:`user_waiting_begins` .. :meth:`user_waiting_ends`) the I/O thread, woken by
    the same data, does not read: :meth:`should_io_thread_read` says no, and the engine
    stops watching that fd and looks again 50 ms later, rather than both threads waking
    (and trading the GIL) for every packet. It also says no when the user's thread has
    read the connection since the I/O thread's last look: a receiver that keeps up never
    waits, so it is never seen waiting. Neither holds while somebody may sleep on the
    socket's readiness fd (:meth:`readiness_fd_opened`: ``fileno()``, ``mqsdk.Poller``):
    only the I/O thread's reads can wake them, so it keeps reading, and a reader resumed
    past RCVHWM asks it to watch again at once (:meth:`should_io_thread_resume_reads`).
    An ``mqsdk.asyncio`` socket's event loop plays the waiting thread: it watches the
    connections' fds and reads them itself, and counts a user's read on each of them at
    least every 25 ms while one of its tasks awaits, so the I/O thread steps back as long
    as the loop runs, and takes the connections back once it stops or hangs (heartbeats
    are still answered). ``loop_waiting`` has the I/O thread wake the loop meanwhile.

    **Writing.** The first send after a receive or a wait (a request, a reply) is written
    out in the user's thread (:meth:`send_directly`: engines whose queue the send filled
    register through :meth:`wants_direct_flush`, then are flushed in this thread, or
    handed to the I/O thread if it holds one), and the blocking receive that follows
    skips its read before waiting, since the answer cannot be there yet
    (:meth:`skip_read_before_wait`). Later sends of a burst are queued, and the engine
    asks the I/O thread for one flush per batch; the user's thread flushes every few
    sends itself (:meth:`user_flushes_burst`), and while it does,
    :meth:`should_io_thread_flush` makes the I/O thread look again 1 ms later instead
    of trading the GIL with it on every batch. A sender blocked at SNDHWM (or a thread
    blocked in ``poll``) writes its connections itself as they become writable:
    :meth:`should_io_thread_write` keeps the I/O thread's writer away while it waits
    (rechecked every 5 ms, so output left pending still goes out). After encoding a
    batch from a pipe that was not full, :meth:`should_report_room` says whether a
    sender may be waiting for room anyway.

    **Watching.** The waiting user's thread watches, in its poller, every live connection
    that is not paused, for reading, and those whose OS socket is full, for writing. It
    does not recompute this on every wait (that cost grew with the connections: 0.7 s of
    CPU for 3,000 clients): each change is reported by fd
    (:meth:`connection_interest_changed`: a connection came or went, paused or resumed
    reading, its output blocked) and applied at the next wait
    (:meth:`take_interest_changes`). Before waiting it reads only what that poller reports
    ready, and it flushes only the connections it queued output to
    (:meth:`take_unflushed`).

    **Threads.** The user's thread (one at a time per socket) alone changes
    ``waiting_thread``, the burst count, the direct-send and unflushed state and
    ``user_reads``; it, or a Poller or an asyncio waiter in its place, changes
    ``readiness_fd_used`` and ``pollout_waiters`` (``close()`` from another thread
    clears the first once nobody waits). The I/O thread only reads them, and alone
    changes each engine's ``io_seen_*`` marks. Every change is one attribute store, one
    integer increment or one set insertion, and every read one attribute load, each
    atomic under the GIL; the I/O thread takes them as hints: a stale one costs a
    wake-up or a 1-50 ms recheck, never a message. ``full_receive_needed`` is derived
    from two of them by whoever changes either; a stale value after a close only sends
    a receive down its full path. The user's thread re-checks its wait conditions after
    :meth:`user_waiting_begins`, so a wake-up sent just before it is not lost; the
    interest changes are reported after the change is visible and taken one by one, so
    none is lost either.

    **Shared sockets.** A thread-safe socket (``Pattern.thread_safe``) is used by several
    threads at once, none of which ever waits in the socket's poller: each takes the
    socket's lock, tries without blocking, and sleeps on the socket's waker otherwise
    (:mod:`mqsdk._kernel.threadsafe`). :meth:`share_between_threads` makes the I/O thread
    do, for good, the reads and writes such a waiting thread would have done: it never
    steps back from a connection, reports room after every batch, resumes paused reads at
    once and wakes the waker on every change (``loop_waiting`` stays set, as for an event
    loop that never stops awaiting). The socket's threads leave every read to it
    (:meth:`skip_read_before_wait`); they still write out what they send.
    """

    __slots__ = (
        "_burst_flushes",
        "_direct_send",
        "_interest_changed",
        "_just_sent",
        "_to_flush",
        "_unflushed",
        "full_receive_needed",
        "loop_waiting",
        "pollout_waiters",
        "readiness_fd_used",
        "shared",
        "waiting_thread",
    )

    def __init__(self) -> None:
        self.waiting_thread = 0
        """Ident of the user's thread (about to be) blocked waiting in this socket, or 0.
        Read it freely (the socket refuses a second thread with EBUSY while it is set);
        change it only through :meth:`user_waiting_begins`/:meth:`user_waiting_ends`."""
        self.readiness_fd_used = False
        """Somebody may sleep on the socket's readiness fd (``fileno()``)."""
        self.full_receive_needed = False
        """``waiting_thread or readiness_fd_used``, kept as one flag: the one look a
        receive's shortest path takes (a second thread must get EBUSY; the readiness fd
        must follow every message taken)."""
        self.pollout_waiters = 0
        """``fileno()`` users (a Poller, an asyncio waiter) waiting for room to send."""
        self.loop_waiting = False
        """A task of an event loop awaits this socket (``mqsdk.asyncio``): the I/O thread
        wakes the loop through the socket's waker, as it wakes a blocked user's thread,
        but the socket stays free for the loop's other tasks (no EBUSY). Changed only by
        that loop's thread."""
        self.shared = False
        """Several threads use this socket at once (:meth:`share_between_threads`)."""
        self._burst_flushes = 0  # times the user's thread flushed in a send burst
        self._direct_send = False  # the user's thread is routing a message it writes out
        self._to_flush: list[StreamEngine] = []  # engines that send filled (direct only)
        self._just_sent = False  # a message went out from the user's thread just now
        self._unflushed: set[int] = set()  # fds of connections with output it queued
        self._interest_changed: set[int] = set()  # fds whose wait interest may differ

    # -- the user's thread waits -----------------------------------------------------------

    def user_waiting_begins(self) -> None:
        """The user's thread is about to sleep in its poller on the connections' fds: it
        reads and writes them when they are ready, the I/O thread steps back. The caller
        re-checks what it waits for afterwards (a wake-up sent before this is not seen)."""
        self.waiting_thread = threading.get_ident()
        self.full_receive_needed = True

    def user_waiting_ends(self) -> None:
        self.waiting_thread = 0
        self.full_receive_needed = self.readiness_fd_used

    def share_between_threads(self) -> None:
        """The socket is thread-safe: its threads wait on its waker, never in its poller,
        so the I/O thread does all the waiting I/O and wakes them for every change (see
        the class's *Shared sockets*). Called once, before the socket is used."""
        self.shared = True
        self.loop_waiting = True

    # -- the user's thread sends -----------------------------------------------------------

    def send_directly(
        self, route: Callable[[QueuedMessage], object], message: QueuedMessage
    ) -> bool:
        """Route ``message`` (``route`` is the pattern's ``send`` or its sender brick's:
        a true result means it was taken) and write it out in
        this thread now; False if the pattern had no room for it (nothing was written).

        A connection whose lock the I/O thread holds is left to it (a deferred flush).
        """
        self._direct_send = True
        try:
            sent = route(message)
        finally:
            self._direct_send = False
        engines = self._to_flush
        if engines:
            for engine in engines:
                if engine.lock.acquire(blocking=False):
                    try:
                        engine.flush()
                        self._just_sent = True
                    finally:
                        engine.lock.release()
                else:
                    engine.want_flush(deferred=True)
                    self._unflushed.add(engine.fd)  # and the user's next flush tries
            engines.clear()
        return bool(sent)

    def wants_direct_flush(self, engine: StreamEngine) -> bool:
        """``engine``'s queue went from empty to non-empty: True if the user's thread
        flushes it itself (inside :meth:`send_directly`), False if the engine should ask
        the I/O thread."""
        if self._direct_send:
            self._to_flush.append(engine)
            return True
        self._unflushed.add(engine.fd)  # for the user's next flush (take_unflushed)
        return False

    def take_unflushed(self) -> list[int]:
        """The fds of the connections to which the user's thread queued output since its
        last flush (and what that flush left behind), for it to flush now: only those,
        not every connection. User's thread only."""
        unflushed = self._unflushed
        if not unflushed:
            return []
        fds = list(unflushed)
        unflushed.clear()
        return fds

    def output_left_unflushed(self, engine: StreamEngine) -> None:
        """The user's flush left output on ``engine`` (the OS socket was full, or the
        I/O thread held it): its next flush tries again."""
        self._unflushed.add(engine.fd)

    def user_flushes_burst(self) -> list[int]:
        """The user's thread, in a burst of sends, flushes its connections itself now:
        the I/O thread's scheduled flushes look again later (:meth:`should_io_thread_flush`).
        Returns the fds to flush, as :meth:`take_unflushed` does."""
        self._burst_flushes += 1
        return self.take_unflushed()

    def skip_read_before_wait(self, blocking: bool) -> bool:
        """Should a receive go straight to waiting, without reading the connections
        first? Once, after a message went out directly: its answer cannot be there yet
        (the wait polls the connections anyway), which saves a syscall per round trip.
        A non-blocking receive always reads (and leaves the mark for the next one).
        A shared socket's threads never read: the I/O thread reads for them, and a
        connection one of them held would make it step back for a while (measured: a
        CLIENT's round trip took twice as long)."""
        if self.shared:
            return True
        if blocking and self._just_sent:
            self._just_sent = False
            return True
        return False

    # -- the user's thread reads ------------------------------------------------------------

    def note_user_read(self, engine: StreamEngine) -> None:
        """The user's thread read messages from ``engine`` without waiting: the I/O
        thread may leave that connection to it (see :meth:`should_io_thread_read`)."""
        engine.user_reads += 1

    # -- users of the readiness fd (fileno(), Poller, asyncio) --------------------------------

    def readiness_fd_opened(self) -> None:
        """``fileno()`` is about to exist: call before it does, so the I/O thread never
        steps back from a connection while someone may sleep on that fd."""
        self.readiness_fd_used = True
        self.full_receive_needed = True

    def readiness_fd_closed(self) -> None:
        self.readiness_fd_used = False
        self.full_receive_needed = bool(self.waiting_thread)

    def pollout_wait_begins(self) -> None:
        """A ``fileno()`` user waits for room to send: every encoded batch reports room
        (:meth:`should_report_room`). Call before looking at the socket's state."""
        self.pollout_waiters += 1

    def pollout_wait_ends(self) -> None:
        self.pollout_waiters -= 1

    # -- what a waiting user's thread watches ---------------------------------------------------

    def connection_interest_changed(self, fd: int) -> None:
        """What the connection on ``fd`` needs from a waiting user's thread may have
        changed: it came or went, paused or resumed reading, or its OS socket is full.
        Any thread; one set insertion (atomic under the GIL)."""
        self._interest_changed.add(fd)

    def take_interest_changes(self) -> list[int]:
        """The fds reported by :meth:`connection_interest_changed` since the last call
        (user's thread). Taken one by one: a report made meanwhile is either taken now
        or stays for the next call, never lost."""
        changed = self._interest_changed
        fds: list[int] = []
        while changed:
            fds.append(changed.pop())
        return fds

    # -- the I/O thread decides ---------------------------------------------------------------

    def should_io_thread_read(self, engine: StreamEngine) -> bool:
        """May the I/O thread read ``engine`` now? No while the user's thread waits on
        it, or when that thread read it since the I/O thread last asked (it keeps up by
        itself); yes whenever the readiness fd may have sleepers or the socket is shared.
        I/O thread only: a no
        marks the user's reads as seen."""
        if self.waiting_thread:
            return False
        reads = engine.user_reads
        if reads == engine.io_seen_user_reads or self.readiness_fd_used or self.shared:
            return True
        engine.io_seen_user_reads = reads
        return False

    def should_io_thread_flush(self, engine: StreamEngine) -> bool:
        """May the I/O thread's scheduled flush of ``engine`` run now? No if the user's
        thread flushed a burst since it last asked (it looks again shortly, staying
        scheduled so the burst's sends do not wake it meanwhile). I/O thread only."""
        flushes = self._burst_flushes
        if flushes != engine.io_seen_burst_flushes:
            engine.io_seen_burst_flushes = flushes
            return False
        return True

    def should_io_thread_write(self) -> bool:
        """May the I/O thread write a connection that became writable? No while the
        user's thread waits: it writes its connections itself when they are."""
        return not self.waiting_thread

    def should_report_room(self) -> bool:
        """After a batch left a pipe that was not full (any thread): tell the socket
        there is room anyway? Yes if anybody may be waiting to send: a blocked send or
        poll (it may have filled the pipe while the batch was encoded), a ``fileno()``
        user. (A pipe that was full always reports it.)"""
        return bool(self.waiting_thread) or self.pollout_waiters > 0 or self.shared

    def should_io_thread_resume_reads(self) -> bool:
        """A user's thread drained a paused connection below its low-water mark: must
        the I/O thread watch it again at once? Only for readiness-fd sleepers; otherwise
        the user's thread reads it itself when its queue runs dry, and the I/O thread's
        own rewatch timer (at most 50 ms) takes it up again, two wake-ups saved per HWM."""
        return self.readiness_fd_used or self.shared
