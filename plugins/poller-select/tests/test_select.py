"""Tests specific to the select backend.

The shared battery (mqsdk.testing.poller_conformance) runs against this backend from the
repository's tests/test_poller_conformance.py; a backend kept outside this repository
subclasses PollerConformance in its own tests instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from mqsdk_poller_select import FD_SETSIZE, SelectPoller, mqsdk_pollers

from mqsdk._kernel.poller import ERROR, READ, WRITE
from mqsdk.errors import PollerError
from mqsdk.testing.poller_conformance import (
    HANG_LIMIT,
    FdSet,
    call_bounded,
    raise_fd_limit,
    ready_map,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="FD_SETSIZE caps fd numbers on POSIX")


@pytest.fixture
def poller() -> Iterator[SelectPoller]:
    backend = SelectPoller()
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
    assert mqsdk_pollers() == [SelectPoller]
    assert (SelectPoller.name, SelectPoller.priority) == ("select", 10)
    assert SelectPoller.available()


@posix_only
def test_fd_at_or_above_fd_setsize_refused(poller: SelectPoller, fds: FdSet) -> None:
    import fcntl

    restore = raise_fd_limit(FD_SETSIZE + 64)
    try:
        r, w = fds.pipe()
        high = fds.adopt(fcntl.fcntl(r, fcntl.F_DUPFD, FD_SETSIZE))
        with pytest.raises(PollerError, match=rf"fd {high}\b.*FD_SETSIZE \({FD_SETSIZE}\)"):
            poller.register(high, READ)
        with pytest.raises(PollerError):
            poller.unregister(high)  # the refusal left nothing behind
        # The largest fd select() can take still works.
        top = fds.adopt(fcntl.fcntl(r, fcntl.F_DUPFD, FD_SETSIZE - 1))
        if top != FD_SETSIZE - 1:
            pytest.skip(f"fd {FD_SETSIZE - 1} is in use by this process")
        poller.register(top, READ)
        os.write(w, b"x")
        assert ready_map(poller.poll(HANG_LIMIT)) == {top: READ}
    finally:
        fds.close_all()
        restore()


@pytest.mark.parametrize("interest", [READ, WRITE, READ | WRITE])
def test_closed_fd_reported_once_others_still_served(
    poller: SelectPoller, fds: FdSet, interest: int
) -> None:
    # select() fails with EBADF while a closed fd is in its sets: the backend must find it,
    # report it once, and keep serving the live fds in the same call.
    doomed, _w = fds.pipe()
    live_r, live_w = fds.pipe()
    poller.register(doomed, interest)
    poller.register(live_r, READ)
    os.write(live_w, b"x")
    fds.close(doomed)
    first = ready_map(call_bounded(lambda: poller.poll(0), "poll(0)"))
    assert first == {doomed: ERROR | interest, live_r: READ}
    second = ready_map(call_bounded(lambda: poller.poll(0), "poll(0) again"))
    assert second == {live_r: READ}
    poller.modify(doomed, READ)  # still registered as far as the owner is concerned
    assert ready_map(call_bounded(lambda: poller.poll(0), "poll(0) after modify")) == second
    poller.unregister(doomed)
    with pytest.raises(PollerError):
        poller.unregister(doomed)


def test_closed_fd_number_reused_after_unregister(poller: SelectPoller, fds: FdSet) -> None:
    r, _w = fds.pipe()
    poller.register(r, READ)
    fds.close(r)
    assert ready_map(poller.poll(0)) == {r: ERROR | READ}
    poller.unregister(r)
    r2, w2 = fds.pipe()
    poller.register(r2, READ)
    assert ready_map(poller.poll(0)) == {}
    os.write(w2, b"x")
    assert ready_map(poller.poll(HANG_LIMIT)) == {r2: READ}


def test_negative_timeout_does_not_block(poller: SelectPoller, fds: FdSet) -> None:
    r, _w = fds.pipe()
    poller.register(r, READ)
    assert ready_map(call_bounded(lambda: poller.poll(-1), "poll(-1)")) == {}


def test_use_after_close(poller: SelectPoller, fds: FdSet) -> None:
    r, _w = fds.pipe()
    poller.close()
    with pytest.raises(PollerError, match="closed"):
        poller.register(r, READ)
    with pytest.raises(PollerError, match="closed"):
        poller.poll(None)
