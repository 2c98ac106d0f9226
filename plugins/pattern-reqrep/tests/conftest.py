"""Fixtures of the REQ/REP/DEALER/ROUTER tests: contexts and socket factories, all
closed with linger 0 and destroyed at the end of each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from reqrep_helpers import Observer, Sockets, observing

import mqsdk


@pytest.fixture
def mctx() -> Iterator[mqsdk.Context]:
    ctx = mqsdk.Context()
    yield ctx
    ctx.term()


@pytest.fixture
def zctx() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def socks(
    mctx: mqsdk.Context, zctx: zmq.Context[Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sockets]:
    # A short directory: ipc paths must fit in sun_path (about 107 bytes).
    sockets = Sockets(mctx, zctx, tmp_path_factory.mktemp("rr"))
    yield sockets
    sockets.close_all()


@pytest.fixture
def observer(mctx: mqsdk.Context) -> Iterator[Observer]:
    with observing(mctx) as obs:
        yield obs


@pytest.fixture(params=["tcp", "ipc"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)
