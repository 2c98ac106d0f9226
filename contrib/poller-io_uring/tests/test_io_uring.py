"""Tests specific to the io_uring backend (the shared battery is in
test_io_uring_conformance.py)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqsdk_poller_io_uring import IoUringPoller, _probe, _ring, mqsdk_pollers

import mqsdk
from mqsdk.errors import PollerError
from mqsdk.plugin import READ, WRITE
from mqsdk.testing.poller_conformance import HANG_LIMIT, FdSet, call_bounded, ready_map

AVAILABLE = IoUringPoller.available()
needs_io_uring = pytest.mark.skipif(not AVAILABLE, reason=AVAILABLE.reason)


@pytest.fixture
def poller() -> Iterator[IoUringPoller]:
    if not AVAILABLE:
        pytest.skip(AVAILABLE.reason)
    backend = IoUringPoller()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def fds() -> Iterator[FdSet]:
    made = FdSet()
    try:
        yield made
    finally:
        made.close_all()


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    # available() is computed once per process; these tests change what it sees.
    _probe.cache_clear()
    try:
        yield
    finally:
        _probe.cache_clear()


def test_plugin_hook() -> None:
    assert mqsdk_pollers() == [IoUringPoller]
    # Slower than epoll from Python (see the README): never the automatic choice.
    assert (IoUringPoller.name, IoUringPoller.priority) == ("io_uring", 0)


# -- why not -------------------------------------------------------------------------------


def _refuse_setup(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def refuse(entries: int, params: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_ring, "io_uring_setup", refuse)


def test_unavailable_without_the_system_call(
    monkeypatch: pytest.MonkeyPatch, fresh_probe: None
) -> None:
    # What an old kernel, CONFIG_IO_URING=n or a seccomp filter returning ENOSYS gives.
    _refuse_setup(monkeypatch, errno.ENOSYS)
    availability = IoUringPoller.available()
    assert not availability
    assert "ENOSYS" in availability.reason
    assert "seccomp" in availability.reason
    with pytest.raises(PollerError, match="ENOSYS"):
        IoUringPoller()


@pytest.mark.parametrize(
    ("sysctl", "expected"),
    [
        ("2", "disabled for every process"),
        ("1", "io_uring_group"),
        ("0", "EPERM"),  # allowed by the sysctl: a seccomp policy said no
    ],
)
def test_unavailable_when_refused(
    monkeypatch: pytest.MonkeyPatch,
    fresh_probe: None,
    tmp_path: Path,
    sysctl: str,
    expected: str,
) -> None:
    disabled = tmp_path / "io_uring_disabled"
    disabled.write_text(sysctl + "\n")
    monkeypatch.setattr("mqsdk_poller_io_uring.DISABLED_SYSCTL", str(disabled))
    _refuse_setup(monkeypatch, errno.EPERM)
    availability = IoUringPoller.available()
    assert not availability
    assert expected in availability.reason


@needs_io_uring
def test_unavailable_when_features_are_missing(
    monkeypatch: pytest.MonkeyPatch, fresh_probe: None
) -> None:
    # A 5.4 kernel has io_uring but not a timeout on io_uring_enter (IORING_FEAT_EXT_ARG).
    real_init = _ring.Ring.__init__

    def old_kernel(self: _ring.Ring, sq_entries: int, cq_entries: int) -> None:
        real_init(self, sq_entries, cq_entries)
        self.features &= ~_ring.FEAT_EXT_ARG

    monkeypatch.setattr(_ring.Ring, "__init__", old_kernel)
    availability = IoUringPoller.available()
    assert not availability
    assert "IORING_FEAT_EXT_ARG" in availability.reason


def test_available_here_matches_the_kernel() -> None:
    # io_uring_disabled = 2 must read as unavailable; otherwise the probe decides.
    try:
        disabled = Path("/proc/sys/kernel/io_uring_disabled").read_text().strip()
    except OSError:
        disabled = None
    if disabled == "2":
        assert not AVAILABLE
        assert "io_uring_disabled" in AVAILABLE.reason


# -- the backend ---------------------------------------------------------------------------


@needs_io_uring
def test_ring_fd_is_close_on_exec(poller: IoUringPoller) -> None:
    assert poller._ring is not None
    assert not os.get_inheritable(poller._ring.fd)


@needs_io_uring
def test_unregister_releases_the_file_of_a_closed_socket(poller: IoUringPoller, fds: FdSet) -> None:
    # A poll in flight holds a reference to the file: a socket closed while watched
    # stays open until the poll is removed. unregister() must remove it at once, not at
    # the next wait, or the peer would not see the close until then (maybe never).
    a, b = fds.socketpair()
    fd = a.fileno()
    poller.register(fd, READ)
    assert ready_map(poller.poll(0)) == {}  # the poll is now in flight
    a.close()
    poller.unregister(fd)
    b.settimeout(HANG_LIMIT)
    try:
        assert b.recv(1) == b"", "the peer saw data instead of the close"
    except TimeoutError:
        pytest.fail(f"the peer did not see the close within {HANG_LIMIT} s of unregister()")


@needs_io_uring
def test_completion_of_a_removed_poll_is_not_reported(poller: IoUringPoller, fds: FdSet) -> None:
    # The poll completes (data arrived) before unregister() cancels it; its completion
    # sits in the ring and must be dropped, also once the fd is registered again.
    r, w = fds.pipe()
    poller.register(r, READ)
    assert ready_map(poller.poll(0)) == {}
    os.write(w, b"x")
    poller.unregister(r)
    assert ready_map(poller.poll(0)) == {}, "a poll removed by unregister() was reported"
    poller.register(r, WRITE)  # never ready on a read end
    assert ready_map(poller.poll(0)) == {}, "the old READ completion leaked into WRITE"
    poller.modify(r, READ)
    assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}


@needs_io_uring
def test_modify_while_in_flight_then_ready(poller: IoUringPoller, fds: FdSet) -> None:
    # modify() cancels the poll in flight and arms the new interest with the next wait.
    a, b = fds.socketpair()
    fd = a.fileno()
    poller.register(fd, READ)
    assert ready_map(poller.poll(0)) == {}
    poller.modify(fd, READ | WRITE)
    assert ready_map(poller.poll(HANG_LIMIT)) == {fd: WRITE}
    b.send(b"x")
    assert ready_map(poller.poll(HANG_LIMIT)) == {fd: READ | WRITE}


@needs_io_uring
def test_more_changes_than_the_submission_ring_holds(poller: IoUringPoller, fds: FdSet) -> None:
    # 300 registrations and 300 modifications queued between two waits: more entries
    # than the submission ring has (128), so it is flushed on the way.
    pairs = [fds.socketpair() for _ in range(150)]
    order = [s.fileno() for pair in pairs for s in pair]
    for fd in order:
        poller.register(fd, READ)
    assert ready_map(poller.poll(0)) == {}
    for fd in order:
        poller.modify(fd, WRITE)
    assert ready_map(poller.poll(HANG_LIMIT)) == dict.fromkeys(order, WRITE)


@needs_io_uring
def test_no_fd_is_lost_when_the_kernel_takes_no_more_entries(
    poller: IoUringPoller, fds: FdSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kernel may refuse submissions (EBUSY) until its completions are taken. The
    # polls that did not fit then are armed on a later wait, not forgotten.
    pairs = [fds.socketpair() for _ in range(100)]
    order = [s.fileno() for pair in pairs for s in pair]  # 200: more than the ring's 128
    for fd in order:
        poller.register(fd, WRITE)
    ring = poller._ring
    assert ring is not None
    monkeypatch.setattr(ring, "submit", lambda: False)
    call_bounded(lambda: poller.poll(HANG_LIMIT), "poll() while submissions are refused")
    monkeypatch.undo()
    assert ready_map(poller.poll(HANG_LIMIT)) == dict.fromkeys(order, WRITE)


@needs_io_uring
def test_serial_numbers_wrap(poller: IoUringPoller, fds: FdSet) -> None:
    # Each arm takes a serial number for its 64-bit user_data; a busy poller arms
    # billions of times, and the number must wrap rather than overflow the field.
    r, w = fds.pipe()
    poller.register(r, READ)
    os.write(w, b"x")
    poller._serial = 2**32 - 3
    for _ in range(5):
        assert ready_map(poller.poll(HANG_LIMIT)) == {r: READ}


@pytest.mark.parametrize("timeout", [1e12, 1e300, float("inf")])
@needs_io_uring
def test_huge_timeouts(poller: IoUringPoller, fds: FdSet, timeout: float) -> None:
    r, w = fds.pipe()
    poller.register(r, READ)
    os.write(w, b"x")
    assert ready_map(call_bounded(lambda: poller.poll(timeout), f"poll({timeout})")) == {r: READ}


@needs_io_uring
def test_negative_timeout_does_not_block(poller: IoUringPoller, fds: FdSet) -> None:
    r, _w = fds.pipe()
    poller.register(r, READ)
    assert ready_map(call_bounded(lambda: poller.poll(-5), "poll(-5)")) == {}


@needs_io_uring
def test_use_after_close(poller: IoUringPoller, fds: FdSet) -> None:
    r, _w = fds.pipe()
    poller.close()
    with pytest.raises(PollerError, match="closed"):
        poller.register(r, READ)
    with pytest.raises(PollerError, match="closed"):
        poller.poll(0)


@needs_io_uring
def test_sockets_run_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chosen by name (it is never "auto"), it carries the I/O thread and the waits of
    # blocking calls: a REQ/REP exchange over tcp, both directions.
    monkeypatch.setenv("MQSDK_POLLER", "io_uring")
    with mqsdk.Context() as ctx:
        assert ctx.poller_class is IoUringPoller
        rep = ctx.socket(mqsdk.REP)
        req = ctx.socket(mqsdk.REQ)
        for sock in (rep, req):
            sock.rcvtimeo = int(HANG_LIMIT * 1000)
            sock.linger = 0
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        req.connect(f"tcp://127.0.0.1:{port}")
        for i in range(50):
            req.send(b"ping %d" % i)
            assert rep.recv() == b"ping %d" % i
            rep.send(b"pong %d" % i)
            assert req.recv() == b"pong %d" % i
        rep.close()
        req.close()
