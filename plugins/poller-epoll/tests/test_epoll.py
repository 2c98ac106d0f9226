"""Tests specific to the epoll backend.

The shared battery (mqsdk.testing.poller_conformance) runs against this backend from the
repository's tests/test_poller_conformance.py; a backend kept outside this repository
subclasses PollerConformance in its own tests instead.
"""

from __future__ import annotations

import errno
import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqsdk_poller_epoll import EpollPoller, mqsdk_pollers

from mqsdk._kernel.poller import READ, WRITE
from mqsdk.errors import PollerError
from mqsdk.testing.poller_conformance import (
    HANG_LIMIT,
    FdSet,
    call_bounded,
    raise_fd_limit,
    ready_map,
)

pytestmark = pytest.mark.skipif(not EpollPoller.available(), reason=EpollPoller.available().reason)


@pytest.fixture
def poller() -> Iterator[EpollPoller]:
    backend = EpollPoller()
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
    assert mqsdk_pollers() == [EpollPoller]
    assert (EpollPoller.name, EpollPoller.priority) == ("epoll", 40)


def test_available_on_linux() -> None:
    assert EpollPoller.available().ok == hasattr(select, "epoll")
    if sys.platform.startswith("linux"):
        assert EpollPoller.available()


def test_epoll_fd_is_close_on_exec(poller: EpollPoller) -> None:
    assert not os.get_inheritable(poller._ep.fileno())


def test_many_fds_all_reported_in_one_call(poller: EpollPoller, fds: FdSet) -> None:
    # More than Python's default maxevents (FD_SETSIZE - 1): every ready fd must come
    # back from a single poll(), not spread over several.
    n = 2500
    restore = raise_fd_limit(n + 256)
    try:
        order: list[int] = []
        while len(order) < n:
            a, b = fds.socketpair()
            order += (a.fileno(), b.fileno())
        for fd in order:
            poller.register(fd, WRITE)
        assert ready_map(poller.poll(HANG_LIMIT)) == dict.fromkeys(order, WRITE)
        for fd in order:
            poller.modify(fd, READ)
        assert ready_map(poller.poll(0)) == {}
    finally:
        fds.close_all()
        restore()


def test_closed_then_unregistered_dup_is_not_reported_under_reused_number(
    poller: EpollPoller, fds: FdSet
) -> None:
    # epoll watches open files, not numbers: a file kept open by a dup stays in the epoll
    # set after its registered number is closed. Once that number is reused and
    # registered again, the old file's readiness must not leak into the new one.
    r, w = fds.pipe()
    fds.dup(r)
    poller.register(r, READ)
    os.write(w, b"x")
    fds.close(r)
    poller.unregister(r)
    r2, w2 = fds.pipe()
    poller.register(r2, READ)
    assert ready_map(poller.poll(0)) == {}, f"fd {r2} reported for the old file at {r}"
    os.write(w2, b"y")
    assert ready_map(poller.poll(HANG_LIMIT)) == {r2: READ}


def test_regular_file_refused_with_os_reason(poller: EpollPoller, tmp_path: Path) -> None:
    # epoll cannot watch regular files (EPERM); the OS reason must reach the caller.
    with open(tmp_path / "f", "wb") as f, pytest.raises(PollerError) as info:
        poller.register(f.fileno(), READ)
    assert os.strerror(errno.EPERM) in str(info.value)
    assert info.value.errno == errno.EPERM


@pytest.mark.parametrize("timeout", [1e12, (2**31 - 1) / 1000])
def test_huge_timeouts(poller: EpollPoller, fds: FdSet, timeout: float) -> None:
    # Too large for epoll_wait's C int of milliseconds: must not raise. The pipe is
    # readable, so each call returns at once.
    r, w = fds.pipe()
    poller.register(r, READ)
    os.write(w, b"x")
    assert ready_map(poller.poll(timeout)) == {r: READ}


def test_negative_timeout_does_not_block(poller: EpollPoller, fds: FdSet) -> None:
    # A deadline already past (a negative remainder) means "don't wait", not epoll's "forever".
    r, _w = fds.pipe()
    poller.register(r, READ)
    assert ready_map(call_bounded(lambda: poller.poll(-5), "poll(-5)")) == {}


def test_use_after_close(poller: EpollPoller, fds: FdSet) -> None:
    r, _w = fds.pipe()
    poller.close()
    with pytest.raises(PollerError, match="closed"):
        poller.register(r, READ)
    with pytest.raises(PollerError, match="closed"):
        poller.poll(0)
