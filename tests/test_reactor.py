"""The I/O thread: mailbox, timers, fd handlers, error containment, clean stop."""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
import weakref
from collections.abc import Iterator

import pytest

from mqsdk._kernel.poller import PollerBackend
from mqsdk._kernel.reactor import Reactor, TimerHandle, Waker

from .conftest import bundled_pollers, open_fds

WAIT = 10.0  # generous bound for anything that should happen "now"


def _backends() -> list[object]:
    params = []
    for cls in bundled_pollers():
        availability = cls.available()
        marks = [] if availability.ok else [pytest.mark.skip(reason=availability.reason)]
        params.append(pytest.param(cls, id=cls.name, marks=marks))
    return params


@pytest.fixture(params=_backends())
def reactor(request: pytest.FixtureRequest) -> Iterator[Reactor]:
    backend: type[PollerBackend] = request.param
    r = Reactor(backend, name=f"test-{backend.name}")
    r.start()
    yield r
    r.stop()


def test_call_soon_runs_in_the_reactor_thread_in_order(reactor: Reactor) -> None:
    seen: list[tuple[int, bool]] = []
    done = threading.Event()
    for i in range(100):
        reactor.call_soon(lambda i=i: seen.append((i, reactor.in_thread())))
    reactor.call_soon(done.set)
    assert done.wait(WAIT), "mailbox callbacks did not run"
    assert [i for i, _ in seen] == list(range(100))
    assert all(in_thread for _, in_thread in seen)


def test_call_soon_from_many_threads_loses_nothing(reactor: Reactor) -> None:
    counts: list[int] = []
    per_thread, threads = 2000, 4

    def post() -> None:
        for _ in range(per_thread):
            reactor.call_soon(counts.append, 1)

    workers = [threading.Thread(target=post) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(WAIT)
    done = threading.Event()
    reactor.call_soon(done.set)
    assert done.wait(WAIT)
    assert len(counts) == per_thread * threads


def test_call_later_fires_in_deadline_order_and_cancel_works(reactor: Reactor) -> None:
    fired: list[str] = []
    done = threading.Event()
    reactor.call_later(0.03, fired.append, "second")
    cancelled = reactor.call_later(0.01, fired.append, "cancelled")
    reactor.call_later(0.0, fired.append, "first")
    reactor.call_later(0.06, done.set)
    cancelled.cancel()
    assert done.wait(WAIT), "timer did not fire"
    assert fired == ["first", "second"]


class _Owner:
    """Something a timer's callback belongs to (an engine, in real life)."""

    def fire(self, *args: object) -> None:
        raise AssertionError("a cancelled timer fired")


def test_cancelled_timer_lets_go_of_its_callback_at_once(reactor: Reactor) -> None:
    # Issue 14: a closed connection's engine stayed alive until its cancelled 30 s
    # handshake timer came due, because the heap kept the timer and its bound method.
    owners = [_Owner(), _Owner()]
    alive = [weakref.ref(owner) for owner in owners]
    from_here = reactor.call_later(30, owners[0].fire, "arg")  # posted to the I/O thread
    inside: list[TimerHandle] = []
    scheduled = threading.Event()
    handed_over = [owners[1]]

    def schedule_inside() -> None:
        inside.append(reactor.call_later(30, handed_over.pop().fire))  # pushed directly
        scheduled.set()

    reactor.call_soon(schedule_inside)
    assert scheduled.wait(WAIT)
    from_here.cancel()
    inside[0].cancel()
    del owners
    gc.collect()
    assert [ref() for ref in alive] == [None, None], "a cancelled timer still holds its owner"
    assert from_here.cancelled and inside[0].cancelled


def test_cancelled_timers_are_compacted_out_of_the_heap(reactor: Reactor) -> None:
    fired: list[int] = []
    handles: list[TimerHandle] = []
    scheduled = threading.Event()

    def schedule() -> None:  # in the I/O thread: every timer is in the heap at once
        handles.extend(reactor.call_later(30 + i / 1000, fired.append, i) for i in range(1001))
        scheduled.set()

    reactor.call_soon(schedule)
    assert scheduled.wait(WAIT)
    assert len(reactor._timers) >= 1001
    keep = handles.pop()
    for handle in handles:
        handle.cancel()
    for _ in range(2):  # one loop iteration to compact, one to be sure it finished
        done = threading.Event()
        reactor.call_later(0, done.set)
        assert done.wait(WAIT)
    assert len(reactor._timers) < 100, f"{len(reactor._timers)} timers left in the heap"
    assert not keep.cancelled and any(entry[2] is keep for entry in reactor._timers)
    # What is left still fires in deadline order.
    soon = threading.Event()
    order: list[str] = []
    reactor.call_later(0.02, order.append, "b")
    reactor.call_later(0.01, order.append, "a")
    reactor.call_later(0.03, soon.set)
    assert soon.wait(WAIT)
    assert order == ["a", "b"] and fired == []


def test_reader_and_writer_callbacks(reactor: Reactor) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    received: list[bytes] = []
    got = threading.Event()
    writable = threading.Event()

    def on_readable() -> None:
        received.append(a.recv(100))
        got.set()

    def on_writable() -> None:
        writable.set()
        reactor.remove_writer(b.fileno())  # level-triggered: stop the flood

    try:
        reactor.add_reader(a.fileno(), on_readable)
        reactor.add_writer(b.fileno(), on_writable)
        assert writable.wait(WAIT), "writer callback never ran"
        b.send(b"ping")
        assert got.wait(WAIT), "reader callback never ran"
        assert received == [b"ping"]
        done = threading.Event()
        reactor.remove_reader(a.fileno())
        reactor.call_soon(done.set)
        assert done.wait(WAIT)
    finally:
        a.close()
        b.close()


def test_exception_in_handler_is_logged_and_reactor_goes_on(
    reactor: Reactor, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("handler failed on purpose")

    done = threading.Event()
    with caplog.at_level(logging.ERROR, logger="mqsdk._kernel.reactor"):
        reactor.call_soon(boom)
        reactor.call_later(0.001, boom)
        reactor.call_later(0.002, done.set)
        assert done.wait(WAIT), "reactor stopped after a handler raised"
    failures = [r for r in caplog.records if "exception in handler" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.exc_info and "on purpose" in str(r.exc_info[1]) for r in failures)
    assert reactor.running


def test_fd_closed_while_watched_does_not_wedge_the_reactor(reactor: Reactor) -> None:
    a, b = socket.socketpair()
    calls: list[int] = []
    reactor.add_reader(a.fileno(), lambda: calls.append(1))
    done = threading.Event()
    reactor.call_soon(done.set)
    assert done.wait(WAIT)
    a.close()
    b.close()
    # The reactor must still serve timers and the mailbox afterwards.
    later = threading.Event()
    reactor.call_later(0.01, later.set)
    assert later.wait(WAIT), "reactor wedged after a watched fd was closed"


def test_stop_runs_pending_callbacks_and_leaves_no_thread_or_fd() -> None:
    backend = next(c for c in bundled_pollers() if c.available().ok)
    before_fds = open_fds()
    before_threads = set(threading.enumerate())
    r = Reactor(backend, name="test-stop")
    r.start()
    assert r.running
    ran = []
    r.call_soon(ran.append, "pending")
    r.stop()
    assert ran == ["pending"]
    assert not r.running
    assert set(threading.enumerate()) == before_threads
    assert open_fds() - before_fds == set()  # nothing new left open (GC may close others)
    r.stop()  # idempotent


def test_stop_from_inside_a_callback() -> None:
    backend = next(c for c in bundled_pollers() if c.available().ok)
    r = Reactor(backend, name="test-self-stop")
    r.start()
    thread = next(t for t in threading.enumerate() if t.name == "test-self-stop")
    r.call_soon(r.stop)
    thread.join(WAIT)
    assert not thread.is_alive()
    assert not r.running


def test_restart_after_stop() -> None:
    backend = next(c for c in bundled_pollers() if c.available().ok)
    r = Reactor(backend, name="test-restart")
    for _ in range(2):
        r.start()
        done = threading.Event()
        r.call_soon(done.set)
        assert done.wait(WAIT)
        r.stop()


def test_waker_wakes_and_drains() -> None:
    waker = Waker()
    try:
        assert waker.kind in ("eventfd", "socketpair")
        import select

        assert select.select([waker.fileno()], [], [], 0)[0] == []
        waker.wake()
        waker.wake()
        assert select.select([waker.fileno()], [], [], WAIT)[0] == [waker.fileno()]
        waker.drain()
        assert select.select([waker.fileno()], [], [], 0)[0] == []
        waker.drain()  # draining an idle waker does not block
    finally:
        waker.close()


def test_every_post_is_run_without_a_later_post_to_push_it(reactor: Reactor) -> None:
    # Each post waits for its own callback: a swallowed wake-up would strand one post
    # (this caught the reactor clearing its "signalled" flag before draining the waker).
    helper_posts = threading.Event()

    def chatter() -> None:
        while not helper_posts.is_set():
            reactor.call_soon(lambda: None)
            time.sleep(0)  # let go of the GIL: contention, not starvation

    noise = threading.Thread(target=chatter)
    noise.start()
    try:
        for i in range(1000):
            ran = threading.Event()
            reactor.call_soon(ran.set)
            assert ran.wait(WAIT), f"post {i} was never run"
    finally:
        helper_posts.set()
        noise.join(WAIT)
