"""The conformance battery every poller backend must pass.

It checks, with real pipes and socket pairs, each point of the contract in the module
docstring of :mod:`mqsdk._kernel.poller`. A backend author runs it from their own tests::

    from mqsdk.testing.poller_conformance import PollerConformance
    from my_poller import MyPoller


    class TestMyPollerConformance(PollerConformance):
        backend_class = MyPoller
        many_fds = 1000  # lower it if the OS API caps fd numbers (select: FD_SETSIZE)

Every test is skipped, with the reason ``available()`` gives, where the backend cannot
run. Waits are bounded: a broken backend fails with a message rather than hanging. A few
tests call the backend from a helper thread so a hang can be detected; the backend is
still only ever used by one thread at a time.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import ClassVar, TypeVar

import pytest

from mqsdk._kernel.poller import ERROR, READ, WRITE, PollerBackend
from mqsdk.errors import PollerError

__all__ = [
    "HANG_LIMIT",
    "FdSet",
    "PollerConformance",
    "call_bounded",
    "raise_fd_limit",
    "ready_map",
]

HANG_LIMIT = 5.0
"""Seconds after which a wait counts as hung. Only ever an upper bound, never a speed test.
A correct backend returns at once wherever a test waits this long for readiness."""

_T = TypeVar("_T")


class FdSet:
    """Pipes and socket pairs for one test; teardown closes whatever the test left open.

    Close pipe ends with :meth:`close`, never ``os.close`` (sockets with their own
    ``close()``): teardown must not close an fd number that the test closed and something
    else reused meanwhile.
    """

    def __init__(self) -> None:
        self._fds: set[int] = set()
        self._socks: list[socket.socket] = []

    def pipe(self) -> tuple[int, int]:
        """A new pipe, ``(read end, write end)``."""
        r, w = os.pipe()
        self._fds.update((r, w))
        return r, w

    def socketpair(self) -> tuple[socket.socket, socket.socket]:
        """A new connected pair of stream sockets."""
        a, b = socket.socketpair()
        self._socks += (a, b)
        return a, b

    def dup(self, fd: int) -> int:
        """A duplicate of ``fd`` (another number for the same open file)."""
        new = os.dup(fd)
        self._fds.add(new)
        return new

    def adopt(self, fd: int) -> int:
        """Take charge of closing ``fd``, made some other way."""
        self._fds.add(fd)
        return fd

    def close(self, fd: int) -> None:
        """Close an fd this set made."""
        self._fds.remove(fd)
        os.close(fd)

    def close_all(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        for sock in self._socks:
            sock.close()
        self._socks.clear()


def ready_map(result: list[tuple[int, int]]) -> dict[int, int]:
    """Check the shape of a ``poll()`` result and return it as ``{fd: events}``."""
    assert isinstance(result, list), f"poll() must return a list, not {type(result).__name__}"
    ready: dict[int, int] = {}
    for item in result:
        fd, events = item
        assert isinstance(fd, int), f"poll() reported a non-int fd {fd!r} in {result}"
        assert isinstance(events, int), f"poll() reported non-int events for fd {fd}: {result}"
        assert fd not in ready, f"fd {fd} appears twice in one poll() result: {result}"
        assert events, f"fd {fd} was reported with no events: {result}"
        assert not events & ~(READ | WRITE | ERROR), (
            f"fd {fd} was reported with bits outside READ|WRITE|ERROR: {result}"
        )
        ready[fd] = events
    return ready


def call_bounded(fn: Callable[[], _T], what: str, limit: float = HANG_LIMIT) -> _T:
    """Run ``fn`` in a helper thread; fail the test if it has not returned within ``limit``."""
    value: list[_T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            value.append(fn())
        except BaseException as e:  # handed to the test thread below
            error.append(e)

    thread = threading.Thread(target=run, name=f"bounded: {what}", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        pytest.fail(f"{what} did not return within {limit} s: the backend hangs")
    if error:
        raise error[0]
    return value[0]


def raise_fd_limit(needed: int) -> Callable[[], None]:
    """Raise RLIMIT_NOFILE's soft limit to ``needed`` if the hard limit allows; skip if not.

    Returns a function that restores the previous limit.
    """
    try:
        import resource
    except ImportError:  # not POSIX: nothing to raise, the OS decides
        return lambda: None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return lambda: None
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target < needed:
        pytest.skip(f"needs {needed} open files, RLIMIT_NOFILE hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class PollerConformance:
    """Subclass as ``Test...`` and set :attr:`backend_class`; pytest runs the ``test_*``."""

    backend_class: ClassVar[type[PollerBackend]]
    """The backend under test."""

    many_fds: ClassVar[int] = 1000
    """How many fds :meth:`test_many_fds` registers at once."""

    # -- fixtures ----------------------------------------------------------------------

    @pytest.fixture
    def poller(self) -> Iterator[PollerBackend]:
        """A fresh backend instance, closed after the test."""
        availability = self.backend_class.available()
        if not availability:
            pytest.skip(availability.reason)
        backend = self.backend_class()
        try:
            yield backend
        finally:
            backend.close()

    @pytest.fixture
    def fds(self) -> Iterator[FdSet]:
        """Pipes and socket pairs, closed after the test."""
        made = FdSet()
        try:
            yield made
        finally:
            made.close_all()

    # -- identity ----------------------------------------------------------------------

    def test_identity(self) -> None:
        cls = self.backend_class
        assert issubclass(cls, PollerBackend)
        assert cls.kind == "poller"
        assert cls.name, "a poller backend must set name"
        assert cls.name == cls.name.lower(), f"poller name {cls.name!r} must be lowercase"
        availability = cls.available()
        assert isinstance(availability.ok, bool)
        assert availability.ok or availability.reason, "an unavailable backend must say why"

    # -- readiness ---------------------------------------------------------------------

    def test_idle_pipe_is_not_readable(self, poller: PollerBackend, fds: FdSet) -> None:
        r, _w = fds.pipe()
        poller.register(r, READ)
        assert ready_map(poller.poll(0)) == {}, "an empty pipe was reported"

    def test_readable_after_write(self, poller: PollerBackend, fds: FdSet) -> None:
        r, w = fds.pipe()
        poller.register(r, READ)
        os.write(w, b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}

    def test_socket_readable_after_send(self, poller: PollerBackend, fds: FdSet) -> None:
        a, b = fds.socketpair()
        poller.register(a.fileno(), READ)
        assert ready_map(poller.poll(0)) == {}, "a socket with nothing to read was reported"
        b.send(b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {a.fileno(): READ}

    def test_pipe_writable_immediately(self, poller: PollerBackend, fds: FdSet) -> None:
        _r, w = fds.pipe()
        poller.register(w, WRITE)
        assert ready_map(poller.poll(HANG_LIMIT)) == {w: WRITE}

    def test_socket_writable_immediately(self, poller: PollerBackend, fds: FdSet) -> None:
        a, _b = fds.socketpair()
        poller.register(a.fileno(), WRITE)
        assert ready_map(poller.poll(HANG_LIMIT)) == {a.fileno(): WRITE}

    def test_both_interests_both_ready(self, poller: PollerBackend, fds: FdSet) -> None:
        a, b = fds.socketpair()
        b.send(b"x")
        poller.register(a.fileno(), READ | WRITE)
        assert ready_map(poller.poll(HANG_LIMIT)) == {a.fileno(): READ | WRITE}

    def test_both_interests_only_write_ready(self, poller: PollerBackend, fds: FdSet) -> None:
        a, _b = fds.socketpair()
        poller.register(a.fileno(), READ | WRITE)
        assert ready_map(poller.poll(HANG_LIMIT)) == {a.fileno(): WRITE}

    def test_modify(self, poller: PollerBackend, fds: FdSet) -> None:
        a, b = fds.socketpair()
        fd = a.fileno()
        poller.register(fd, READ)
        assert ready_map(poller.poll(0)) == {}
        poller.modify(fd, WRITE)
        assert ready_map(poller.poll(HANG_LIMIT)) == {fd: WRITE}, "READ -> WRITE"
        b.send(b"x")
        poller.modify(fd, READ)
        assert ready_map(poller.poll(HANG_LIMIT)) == {fd: READ}, "WRITE -> READ"
        poller.modify(fd, READ | WRITE)
        assert ready_map(poller.poll(HANG_LIMIT)) == {fd: READ | WRITE}, "READ -> both"
        a.recv(1)
        poller.modify(fd, READ)
        assert ready_map(poller.poll(0)) == {}, "both -> READ with nothing left to read"

    def test_unregister_stops_reports(self, poller: PollerBackend, fds: FdSet) -> None:
        r, w = fds.pipe()
        poller.register(r, READ)
        os.write(w, b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}
        poller.unregister(r)
        assert ready_map(poller.poll(0)) == {}, "an unregistered fd was still reported"

    def test_register_again_after_unregister(self, poller: PollerBackend, fds: FdSet) -> None:
        r, w = fds.pipe()
        poller.register(r, READ)
        poller.unregister(r)
        poller.register(r, READ)
        os.write(w, b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}

    def test_level_triggered(self, poller: PollerBackend, fds: FdSet) -> None:
        r, w = fds.pipe()
        poller.register(r, READ)
        os.write(w, b"xy")
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}, "not reported again undrained"
        os.read(r, 1)
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}, "not reported with 1 byte left"
        os.read(r, 1)
        assert ready_map(poller.poll(0)) == {}, "still reported once drained"

    # -- timeouts ----------------------------------------------------------------------

    @pytest.mark.parametrize("timeout", [0, 0.0])
    def test_timeout_zero_returns_at_once(
        self, poller: PollerBackend, fds: FdSet, timeout: float
    ) -> None:
        r, _w = fds.pipe()
        poller.register(r, READ)
        start = time.monotonic()
        assert ready_map(poller.poll(timeout)) == {}
        assert time.monotonic() - start < HANG_LIMIT

    def test_timeout_zero_with_nothing_registered(self, poller: PollerBackend) -> None:
        assert ready_map(poller.poll(0)) == {}

    @pytest.mark.parametrize("timeout", [0.05, 0.0004, 1e-9])
    def test_finite_timeout_expires_empty(
        self, poller: PollerBackend, fds: FdSet, timeout: float
    ) -> None:
        # Sub-millisecond timeouts must neither raise nor turn into "block forever".
        r, _w = fds.pipe()
        poller.register(r, READ)
        start = time.monotonic()
        assert ready_map(poller.poll(timeout)) == {}
        assert time.monotonic() - start < HANG_LIMIT

    def test_none_timeout_wakes_on_write(self, poller: PollerBackend, fds: FdSet) -> None:
        r, w = fds.pipe()
        poller.register(r, READ)
        polling = threading.Event()
        box: dict[str, object] = {}

        def wait() -> None:
            polling.set()
            try:
                box["result"] = poller.poll(None)
            except BaseException as e:  # handed to the test thread below
                box["error"] = e

        thread = threading.Thread(target=wait, name="poll(None)", daemon=True)
        thread.start()
        assert polling.wait(HANG_LIMIT), "the polling thread did not start"
        os.write(w, b"x")
        thread.join(HANG_LIMIT)
        assert not thread.is_alive(), f"poll(None) still blocked {HANG_LIMIT} s after a write"
        assert "error" not in box, f"poll(None) raised {box.get('error')!r}"
        result = box["result"]
        assert isinstance(result, list)
        assert ready_map(result) == {r: READ}

    def test_signal_during_wait(self, poller: PollerBackend, fds: FdSet) -> None:
        # The handler writes to the watched pipe, so a correct backend returns either []
        # (it gave up on EINTR) or the pipe (it retried); raising is the failure.
        if not hasattr(signal, "pthread_kill"):
            pytest.skip("needs signal.pthread_kill (POSIX)")
        if threading.current_thread() is not threading.main_thread():
            pytest.skip("Python runs signal handlers in the main thread only")
        r, w = fds.pipe()
        poller.register(r, READ)
        deadline = time.monotonic() + HANG_LIMIT
        caught: list[int] = []

        def handler(signum: int, _frame: object) -> None:
            if not caught:
                os.write(w, b"x")
            caught.append(signum)
            if time.monotonic() > deadline:
                raise TimeoutError(f"poll(None) still blocked {HANG_LIMIT} s after a signal")

        stop = threading.Event()
        target = threading.main_thread().ident
        assert target is not None

        def poke() -> None:
            # Repeats so the signal also lands while poll() is blocked, whatever the timing.
            while not stop.wait(0.02):
                signal.pthread_kill(target, signal.SIGUSR1)

        previous = signal.signal(signal.SIGUSR1, handler)
        poker = threading.Thread(target=poke, name="SIGUSR1", daemon=True)
        poker.start()
        try:
            ready = ready_map(poller.poll(None))
        finally:
            stop.set()
            poker.join(HANG_LIMIT)
            signal.signal(signal.SIGUSR1, previous)
        assert caught, "poll(None) returned before any signal or write happened"
        assert ready in ({}, {r: READ})

    # -- hang-ups and errors -----------------------------------------------------------

    def test_pipe_hangup_is_read(self, poller: PollerBackend, fds: FdSet) -> None:
        r, w = fds.pipe()
        poller.register(r, READ)
        fds.close(w)
        events = ready_map(poller.poll(HANG_LIMIT)).get(r, 0)
        assert events & READ, f"a pipe whose writer closed must be READ, got {events}"
        assert os.read(r, 1) == b""

    def test_socket_hangup_is_read(self, poller: PollerBackend, fds: FdSet) -> None:
        a, b = fds.socketpair()
        poller.register(a.fileno(), READ)
        b.close()
        events = ready_map(poller.poll(HANG_LIMIT)).get(a.fileno(), 0)
        assert events & READ, f"a socket whose peer closed must be READ, got {events}"
        assert a.recv(1) == b""

    def test_broken_pipe_writer_reported(self, poller: PollerBackend, fds: FdSet) -> None:
        # OS APIs disagree (writable, or an error): either way the writer must hear of it,
        # and an ERROR must carry the registered interest.
        r, w = fds.pipe()
        poller.register(w, WRITE)
        fds.close(r)
        events = ready_map(poller.poll(HANG_LIMIT)).get(w, 0)
        assert events & (WRITE | ERROR), "a pipe with no reader left was not reported"
        if events & ERROR:
            assert events & WRITE, f"ERROR must come with the interest (WRITE), got {events}"

    @pytest.mark.parametrize("interest", [READ, WRITE, READ | WRITE])
    def test_closed_registered_fd(self, poller: PollerBackend, fds: FdSet, interest: int) -> None:
        # A socket, not a pipe end: some OS APIs (kqueue) refuse WRITE on a pipe's read end.
        doomed_sock, _peer = fds.socketpair()
        doomed = doomed_sock.fileno()
        live_r, live_w = fds.pipe()
        poller.register(doomed, interest)
        poller.register(live_r, READ)
        os.write(live_w, b"x")
        doomed_sock.close()
        for attempt in (1, 2):
            ready = ready_map(call_bounded(lambda: poller.poll(0), f"poll(0) #{attempt}"))
            assert ready.get(live_r) == READ, (
                f"poll(0) #{attempt} with a closed fd registered lost a ready fd: {ready}"
            )
            if doomed in ready:
                assert ready[doomed] & ERROR, (
                    f"a closed fd may only be reported as ERROR, got {ready[doomed]}"
                )
        call_bounded(lambda: poller.unregister(doomed), "unregister(closed fd)")
        ready = ready_map(call_bounded(lambda: poller.poll(0), "poll(0) after unregister"))
        assert ready == {live_r: READ}

    def test_fd_number_reused_after_close(self, poller: PollerBackend, fds: FdSet) -> None:
        # The usual order in a reactor: close, unregister, and the OS hands the number out
        # again. The new file must start with a clean slate.
        r, w = fds.pipe()
        poller.register(r, READ)
        os.write(w, b"x")
        fds.close(r)
        fds.close(w)
        poller.unregister(r)
        r2, w2 = fds.pipe()
        poller.register(r2, READ)
        assert ready_map(poller.poll(0)) == {}, "a fresh empty pipe was reported"
        os.write(w2, b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {r2: READ}

    def test_unregister_closed_fd_whose_file_lives_on(
        self, poller: PollerBackend, fds: FdSet
    ) -> None:
        # A dup (or a forked child) keeps the file open after the registered number is
        # closed; once unregistered it must not be reported under the old number.
        r, w = fds.pipe()
        fds.dup(r)
        poller.register(r, READ)
        fds.close(r)
        poller.unregister(r)
        os.write(w, b"x")
        assert ready_map(poller.poll(0)) == {}, "an unregistered fd was reported"

    # -- misuse ------------------------------------------------------------------------

    def test_double_register(self, poller: PollerBackend, fds: FdSet) -> None:
        r, w = fds.pipe()
        poller.register(r, READ)
        with pytest.raises(PollerError):
            poller.register(r, READ)
        with pytest.raises(PollerError):
            poller.register(r, WRITE)
        os.write(w, b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}, "first registration was lost"

    def test_modify_unknown(self, poller: PollerBackend, fds: FdSet) -> None:
        r, _w = fds.pipe()
        with pytest.raises(PollerError):
            poller.modify(r, READ)

    def test_unregister_unknown(self, poller: PollerBackend, fds: FdSet) -> None:
        r, _w = fds.pipe()
        with pytest.raises(PollerError):
            poller.unregister(r)
        poller.register(r, READ)
        poller.unregister(r)
        with pytest.raises(PollerError):
            poller.unregister(r)

    @pytest.mark.parametrize("events", [0, ERROR, READ | ERROR, 8, -1])
    def test_bad_events_mask(self, poller: PollerBackend, fds: FdSet, events: int) -> None:
        r, w = fds.pipe()
        with pytest.raises(PollerError):
            poller.register(r, events)
        poller.register(r, READ)  # the failed register left nothing behind
        with pytest.raises(PollerError):
            poller.modify(r, events)
        os.write(w, b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}, "a bad modify changed interest"

    def test_register_closed_fd(self, poller: PollerBackend, fds: FdSet) -> None:
        r, _w = fds.pipe()
        fds.close(r)
        with pytest.raises(PollerError) as info:
            poller.register(r, READ)
        reason = os.strerror(errno.EBADF)
        assert reason in str(info.value), f"the OS reason ({reason!r}) is missing: {info.value}"
        with pytest.raises(PollerError):
            poller.unregister(r)  # the failed register left nothing behind

    def test_register_negative_fd(self, poller: PollerBackend) -> None:
        with pytest.raises(PollerError):
            poller.register(-1, READ)

    def test_close_is_idempotent(self, fds: FdSet) -> None:
        availability = self.backend_class.available()
        if not availability:
            pytest.skip(availability.reason)
        r, _w = fds.pipe()
        backend = self.backend_class()
        backend.register(r, READ)
        backend.close()
        backend.close()
        with self.backend_class() as other:
            assert isinstance(other, self.backend_class)
        other.close()

    # -- scale -------------------------------------------------------------------------

    def test_many_fds(self, poller: PollerBackend, fds: FdSet) -> None:
        n = self.many_fds
        restore = raise_fd_limit(n + 256)  # headroom for the fds the process already has
        try:
            # Both ends of each pair are registered: n fds cost n/2 pairs, which keeps fd
            # numbers low for backends capped by FD_SETSIZE.
            peer: dict[int, socket.socket] = {}
            order: list[int] = []
            while len(order) < n:
                a, b = fds.socketpair()
                for mine, theirs in ((a, b), (b, a)):
                    if len(order) < n:
                        peer[mine.fileno()] = theirs
                        order.append(mine.fileno())
            for fd in order:
                poller.register(fd, READ)
            assert ready_map(poller.poll(0)) == {}, "idle sockets were reported"
            expected = dict.fromkeys(order[::7], READ)
            for fd in expected:
                peer[fd].send(b"x")
            assert ready_map(poller.poll(HANG_LIMIT)) == expected
            for fd in order:
                poller.modify(fd, READ | WRITE)
            everyone = {fd: READ | WRITE if fd in expected else WRITE for fd in order}
            assert ready_map(poller.poll(HANG_LIMIT)) == everyone, "one poll must report all"
            for fd in order:
                poller.unregister(fd)
            assert ready_map(poller.poll(0)) == {}
        finally:
            fds.close_all()
            restore()
