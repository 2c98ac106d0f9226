"""Tests specific to the poll backend.

The shared battery (mqsdk.testing.poller_conformance) runs against this backend from the
repository's tests/test_poller_conformance.py; a backend kept outside this repository
subclasses PollerConformance in its own tests instead.
"""

from __future__ import annotations

import fcntl
import os
import select
from collections.abc import Iterator

import pytest
from mqsdk_poller_poll import PollPoller, mqsdk_pollers

from mqsdk._kernel.poller import ERROR, READ, WRITE
from mqsdk.errors import PollerError
from mqsdk.testing.poller_conformance import (
    HANG_LIMIT,
    FdSet,
    call_bounded,
    raise_fd_limit,
    ready_map,
)

pytestmark = pytest.mark.skipif(not PollPoller.available(), reason=PollPoller.available().reason)


@pytest.fixture
def poller() -> Iterator[PollPoller]:
    backend = PollPoller()
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


def test_plugin_hook() -> None:
    assert mqsdk_pollers() == [PollPoller]
    assert (PollPoller.name, PollPoller.priority) == ("poll", 20)
    assert PollPoller.available().ok == hasattr(select, "poll")


def test_many_fds_all_reported_in_one_call(poller: PollPoller, fds: FdSet) -> None:
    n = 2500
    restore = raise_fd_limit(n + 256)
    try:
        order: list[int] = []
        while len(order) < n:
            a, b = fds.socketpair()
            order += (a.fileno(), b.fileno())
        for fd in order:
            poller.register(fd, READ)
        assert ready_map(poller.poll(0)) == {}
        expected = dict.fromkeys(order[::7], READ)
        for i in range(0, n, 7):
            # The other end of the pair: pairs are (even, odd) positions in order.
            os.write(order[i ^ 1], b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == expected
        for fd in order:
            poller.modify(fd, WRITE)
        assert ready_map(poller.poll(HANG_LIMIT)) == dict.fromkeys(order, WRITE)
    finally:
        fds.close_all()
        restore()


def test_fd_above_fd_setsize(poller: PollPoller, fds: FdSet) -> None:
    # Unlike select(), poll() has no ceiling on fd numbers.
    restore = raise_fd_limit(2100)
    try:
        r, w = fds.pipe()
        high = fcntl.fcntl(r, fcntl.F_DUPFD, 2000)
        fds.adopt(high)
        poller.register(high, READ)
        os.write(w, b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {high: READ}
    finally:
        fds.close_all()
        restore()


@pytest.mark.parametrize("interest", [READ, WRITE, READ | WRITE])
def test_closed_fd_reported_once(poller: PollPoller, fds: FdSet, interest: int) -> None:
    # POLLNVAL would come back on every wait: report it once so the owner cannot spin.
    r, _w = fds.pipe()
    poller.register(r, interest)
    fds.close(r)
    assert ready_map(call_bounded(lambda: poller.poll(0), "poll(0)")) == {r: ERROR | interest}
    assert ready_map(call_bounded(lambda: poller.poll(0), "poll(0) again")) == {}
    poller.modify(r, READ)  # still registered as far as the owner is concerned
    assert ready_map(call_bounded(lambda: poller.poll(0), "poll(0) after modify")) == {}
    poller.unregister(r)
    with pytest.raises(PollerError):
        poller.unregister(r)


class _RecordingPoll:
    """Stands in for select.poll to see the millisecond timeout handed to the OS."""

    def __init__(self) -> None:
        self.timeouts: list[int | None] = []

    def poll(self, timeout: int | None) -> list[tuple[int, int]]:
        self.timeouts.append(timeout)
        return []


@pytest.mark.parametrize(
    ("seconds", "ms"),
    [
        (None, None),
        (0, 0),
        (0.0, 0),
        (-2.5, 0),
        (1e-9, 1),
        (0.0004, 1),
        (0.001, 1),
        (0.0015, 2),
        (2.5, 2500),
        (1e12, 2**31 - 1),
    ],
)
def test_timeout_to_milliseconds(poller: PollPoller, seconds: float | None, ms: int) -> None:
    # Rounding down would turn a sub-millisecond wait into a busy poll(0); negative must
    # not mean "forever"; huge must fit poll()'s C int.
    recorder = _RecordingPoll()
    poller._p = recorder  # type: ignore[assignment]
    assert poller.poll(seconds) == []
    assert recorder.timeouts == [ms]


def test_use_after_close(poller: PollPoller, fds: FdSet) -> None:
    r, _w = fds.pipe()
    poller.close()
    with pytest.raises(PollerError, match="closed"):
        poller.register(r, READ)
    with pytest.raises(PollerError, match="closed"):
        poller.poll(None)
