"""The who-does-the-I/O policy (mqsdk/_kernel/io_policy.py): each decision, on its own.

The engines here are recording StreamEngines (a subclass that skips the connection
setup and counts what the policy made it do); the socket and engine tests exercise the
same decisions end to end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import zmq

import mqsdk
from mqsdk._kernel.engine import StreamEngine
from mqsdk._kernel.io_policy import IoPolicy
from mqsdk.testing.helpers import wait_until

from .conftest import requires_pure_kernel


class FakeEngine(StreamEngine):
    """What the policy touches on a StreamEngine: its lock, flush, want_flush, counters.

    A subclass, not a look-alike: the compiled kernel checks that the policy is given
    StreamEngines. No connection is set up (no super().__init__)."""

    def __init__(self, fd: int = 7) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.user_reads = 0
        self.io_seen_user_reads = 0
        self.io_seen_burst_flushes = 0
        self.flushes = 0
        self.deferred_flushes = 0

    def flush(self) -> bool:
        assert self.lock.locked(), "flushed without holding the connection's lock"
        self.flushes += 1
        return True

    def want_flush(self, deferred: bool = False) -> None:
        assert deferred
        self.deferred_flushes += 1


def test_a_waiting_user_thread_takes_the_io_and_the_io_thread_steps_back() -> None:
    policy = IoPolicy()
    engine = FakeEngine()
    assert policy.should_io_thread_read(engine)
    assert policy.should_io_thread_write()
    assert not policy.should_report_room()
    assert not policy.full_receive_needed
    policy.user_waiting_begins()
    assert policy.waiting_thread == threading.get_ident()
    assert policy.full_receive_needed  # a second thread's receive must see EBUSY
    assert not policy.should_io_thread_read(engine)
    assert not policy.should_io_thread_write()
    assert policy.should_report_room()  # a blocked send may wait for this room
    policy.user_waiting_ends()
    assert policy.waiting_thread == 0
    assert not policy.full_receive_needed
    assert policy.should_io_thread_read(engine)
    assert policy.should_io_thread_write()


def test_a_user_thread_that_keeps_up_is_left_the_reads_once_per_look() -> None:
    policy = IoPolicy()
    engine = FakeEngine()
    policy.note_user_read(engine)
    assert engine.user_reads == 1
    assert not policy.should_io_thread_read(engine)  # it read since the last look
    assert policy.should_io_thread_read(engine)  # and not since this one
    policy.note_user_read(engine)
    policy.note_user_read(engine)
    assert not policy.should_io_thread_read(engine)
    assert policy.should_io_thread_read(engine)


def test_readiness_fd_sleepers_keep_the_io_thread_reading() -> None:
    policy = IoPolicy()
    engine = FakeEngine()
    assert not policy.should_io_thread_resume_reads()
    policy.readiness_fd_opened()
    assert policy.full_receive_needed  # every receive keeps the fd in step
    policy.user_waiting_begins()
    policy.user_waiting_ends()
    assert policy.full_receive_needed  # still: the fd outlives the wait
    policy.note_user_read(engine)
    assert policy.should_io_thread_read(engine)  # only its reads wake fileno() sleepers
    assert policy.should_io_thread_resume_reads()
    policy.readiness_fd_closed()
    assert not policy.full_receive_needed
    assert not policy.should_io_thread_resume_reads()
    assert not policy.should_io_thread_read(engine)  # the read above was not yet seen


def test_a_burst_flush_by_the_user_defers_the_io_threads_flush_once() -> None:
    policy = IoPolicy()
    first = FakeEngine()
    second = FakeEngine()
    assert policy.should_io_thread_flush(first)
    policy.user_flushes_burst()
    assert not policy.should_io_thread_flush(first)
    assert policy.should_io_thread_flush(first)  # the burst flushed nothing since
    assert not policy.should_io_thread_flush(second)  # each connection looks for itself
    assert policy.should_io_thread_flush(second)


def test_send_directly_flushes_in_the_callers_thread_and_skips_the_next_read() -> None:
    policy = IoPolicy()
    engine = FakeEngine()
    assert not policy.wants_direct_flush(engine)  # outside a direct send: the I/O thread

    def route(message: list[bytes]) -> bool:
        assert policy.wants_direct_flush(engine)
        return True

    assert policy.send_directly(route, [b"request"])
    assert engine.flushes == 1
    assert engine.deferred_flushes == 0
    assert not policy.wants_direct_flush(engine)  # the direct send is over
    assert not policy.skip_read_before_wait(False)  # non-blocking: reads, keeps the mark
    assert policy.skip_read_before_wait(True)
    assert not policy.skip_read_before_wait(True)  # once only
    assert policy.send_directly(route, [b"again"])
    assert engine.flushes == 2  # the list of connections to flush was emptied


def test_send_directly_leaves_a_busy_connection_to_the_io_thread() -> None:
    policy = IoPolicy()
    engine = FakeEngine()
    engine.lock.acquire()  # the I/O thread is reading or writing it
    try:
        assert policy.send_directly(lambda m: policy.wants_direct_flush(engine), [b"x"])
    finally:
        engine.lock.release()
    assert engine.flushes == 0
    assert engine.deferred_flushes == 1
    assert policy.take_unflushed() == [engine.fd]  # the user's next flush tries too
    assert not policy.skip_read_before_wait(True)  # nothing went out from this thread


def test_send_directly_reports_no_room_and_ends_direct_mode_on_errors() -> None:
    policy = IoPolicy()
    engine = FakeEngine()
    assert not policy.send_directly(lambda m: False, [b"x"])
    assert engine.flushes == 0

    def broken(message: list[bytes]) -> bool:
        raise RuntimeError("pattern failed")

    with pytest.raises(RuntimeError):
        policy.send_directly(broken, [b"x"])
    assert not policy.wants_direct_flush(engine)


def test_pollout_waiters_report_room() -> None:
    policy = IoPolicy()
    assert not policy.should_report_room()
    policy.pollout_wait_begins()
    policy.pollout_wait_begins()
    policy.pollout_wait_ends()
    assert policy.should_report_room()
    policy.pollout_wait_ends()
    assert not policy.should_report_room()


def test_sends_outside_a_direct_send_are_left_for_the_users_next_flush() -> None:
    policy = IoPolicy()
    first = FakeEngine(fd=7)
    second = FakeEngine(fd=9)
    assert policy.take_unflushed() == []
    assert not policy.wants_direct_flush(first)
    assert not policy.wants_direct_flush(second)
    assert not policy.wants_direct_flush(first)
    assert sorted(policy.take_unflushed()) == [7, 9]
    assert policy.take_unflushed() == []  # taken once
    policy.output_left_unflushed(second)  # the OS took only part of it
    assert policy.take_unflushed() == [9]
    assert not policy.wants_direct_flush(first)
    assert policy.user_flushes_burst() == [7]  # a burst's flush takes them too
    assert policy.take_unflushed() == []
    policy.send_directly(lambda m: policy.wants_direct_flush(first), [b"x"])
    assert policy.take_unflushed() == []  # written out by the direct send itself


def test_interest_changes_are_reported_once_each_from_any_thread() -> None:
    policy = IoPolicy()
    assert policy.take_interest_changes() == []
    policy.connection_interest_changed(7)
    thread = threading.Thread(target=policy.connection_interest_changed, args=(9,))
    thread.start()
    thread.join()
    policy.connection_interest_changed(7)
    assert sorted(policy.take_interest_changes()) == [7, 9]
    assert policy.take_interest_changes() == []


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    with mqsdk.Context() as context:
        yield context


def test_the_socket_and_its_connections_decide_through_one_policy(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = 5000
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(mqsdk.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(b"first")
    assert pull.recv() == b"first"
    (engine,) = pull._engines.values()
    assert engine.io_policy is pull.io_policy
    assert not pull.io_policy.readiness_fd_used
    pull.fileno()
    assert pull.io_policy.readiness_fd_used
    assert pull.io_policy.should_io_thread_read(engine)  # fileno() sleepers need its reads
    pull.close()
    assert not pull.io_policy.readiness_fd_used


def _user_thread_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count, in this thread only, the per-connection steps of a wait: a read attempt
    and a look at pending output."""
    counts = {"read_available": 0, "has_pending_output": 0}
    me = threading.get_ident()
    read = StreamEngine.read_available
    pending = StreamEngine.has_pending_output.fget
    assert pending is not None

    def counted_read(engine: StreamEngine) -> int:
        if threading.get_ident() == me:
            counts["read_available"] += 1
        return read(engine)

    def counted_pending(engine: StreamEngine) -> bool:
        if threading.get_ident() == me:
            counts["has_pending_output"] += 1
        return pending(engine)

    monkeypatch.setattr(StreamEngine, "read_available", counted_read)
    monkeypatch.setattr(StreamEngine, "has_pending_output", property(counted_pending))
    return counts


def _receive_sent_while_waiting(pull: mqsdk.Socket, push: zmq.Socket[bytes], data: bytes) -> None:
    """``pull.recv()`` with nothing queued: the message is sent once it waits."""

    def send_once_recv_waits() -> None:
        wait_until(lambda: pull.io_policy.waiting_thread != 0, "recv() waiting")
        push.send(data)

    sender = threading.Thread(target=send_once_recv_waits)
    sender.start()
    try:
        assert pull.recv() == data
    finally:
        sender.join(10)


def _steps_of_one_wait(ctx: mqsdk.Context, peers: int, monkeypatch: pytest.MonkeyPatch) -> int:
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = 10_000
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    zctx = zmq.Context()
    pushes = [zctx.socket(zmq.PUSH) for _ in range(peers)]
    try:
        for push in pushes:
            push.linger = 0
            push.connect(f"tcp://127.0.0.1:{port}")
        wait_until(lambda: len(pull.peers) == peers, f"{peers} peers connected")
        # The first wait watches every connection once.
        _receive_sent_while_waiting(pull, pushes[0], b"warm-up")
        with monkeypatch.context() as patch:
            counts = _user_thread_calls(patch)
            _receive_sent_while_waiting(pull, pushes[-1], b"one")
        return counts["read_available"] + counts["has_pending_output"]
    finally:
        for push in pushes:
            push.close()
        zctx.term()
        pull.close(linger=0)


@requires_pure_kernel("counts StreamEngine method calls by replacing them on the class")
def test_a_receive_costs_the_same_with_many_idle_connections(
    ctx: mqsdk.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's thread looks only at connections that changed or are ready, not at
    every one on every wait (it was 0.7 s of CPU with 3,000 clients)."""
    few = _steps_of_one_wait(ctx, 3, monkeypatch)
    many = _steps_of_one_wait(ctx, 60, monkeypatch)
    # A few extra rounds (a wake-up, the lock busy) cost a few steps each; one step per
    # connection per wait (the old way) is at least 60 here.
    assert many <= few + 12, (
        f"one receive took {many} per-connection steps with 60 idle connections and "
        f"{few} with 3: the per-wait work grows with the number of connections"
    )
