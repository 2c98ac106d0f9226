"""Tests specific to the kqueue backend.

The shared battery (mqsdk.testing.poller_conformance) runs against this backend from the
repository's tests/test_poller_conformance.py; a backend kept outside this repository
subclasses PollerConformance in its own tests instead.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator

import pytest
from mqsdk_poller_kqueue import KqueuePoller, mqsdk_pollers

from mqsdk._kernel.poller import ERROR, READ, WRITE
from mqsdk.errors import PollerError
from mqsdk.testing.poller_conformance import HANG_LIMIT, FdSet, raise_fd_limit, ready_map

HAS_KQUEUE = hasattr(select, "kqueue")
needs_kqueue = pytest.mark.skipif(not HAS_KQUEUE, reason="select.kqueue is missing on this OS")


@pytest.fixture
def poller() -> Iterator[KqueuePoller]:
    backend = KqueuePoller()
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
    assert mqsdk_pollers() == [KqueuePoller]
    assert (KqueuePoller.name, KqueuePoller.priority) == ("kqueue", 30)


@pytest.mark.skipif(HAS_KQUEUE, reason="kqueue exists here")
def test_unavailable_says_why() -> None:
    availability = KqueuePoller.available()
    assert not availability
    assert "BSD/macOS" in availability.reason
    assert sys.platform in availability.reason
    with pytest.raises(PollerError) as info:
        KqueuePoller()
    assert str(info.value) == availability.reason


@needs_kqueue
def test_available_here() -> None:
    assert KqueuePoller.available()


@needs_kqueue
def test_kqueue_fd_is_close_on_exec(poller: KqueuePoller) -> None:
    assert not os.get_inheritable(poller._kq.fileno())


@needs_kqueue
def test_many_fds_all_reported_in_one_call(poller: KqueuePoller, fds: FdSet) -> None:
    n = 2000
    restore = raise_fd_limit(n + 256)
    try:
        order: list[int] = []
        while len(order) < n:
            a, b = fds.socketpair()
            order += (a.fileno(), b.fileno())
        for fd in order:
            poller.register(fd, READ | WRITE)
        expected = dict.fromkeys(order, WRITE)
        for i in range(0, n, 7):
            # The other end of the pair: pairs are (even, odd) positions in order.
            os.write(order[i ^ 1], b"x")
            expected[order[i]] = READ | WRITE
        # Two kernel filters per fd, merged into one entry per fd.
        assert ready_map(poller.poll(HANG_LIMIT)) == expected
    finally:
        fds.close_all()
        restore()


@needs_kqueue
def test_modify_both_to_one_and_back(poller: KqueuePoller, fds: FdSet) -> None:
    a, b = fds.socketpair()
    fd = a.fileno()
    b.send(b"x")
    poller.register(fd, READ | WRITE)
    assert ready_map(poller.poll(HANG_LIMIT)) == {fd: READ | WRITE}
    poller.modify(fd, WRITE)
    assert ready_map(poller.poll(HANG_LIMIT)) == {fd: WRITE}
    poller.modify(fd, READ)
    assert ready_map(poller.poll(HANG_LIMIT)) == {fd: READ}
    poller.unregister(fd)
    assert ready_map(poller.poll(0)) == {}


@needs_kqueue
def test_broken_pipe_writer_is_error_with_interest(poller: KqueuePoller, fds: FdSet) -> None:
    r, w = fds.pipe()
    poller.register(w, WRITE)
    fds.close(r)
    assert ready_map(poller.poll(HANG_LIMIT)) == {w: ERROR | WRITE}
