"""Fixtures for the interop tests: an mqsdk context, a pyzmq context and socket factories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

import mqsdk
from tests.interop.helpers import Observer, Sockets, observing


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
def socks(mctx: mqsdk.Context, zctx: zmq.Context[Any], tmp_path: Path) -> Iterator[Sockets]:
    sockets = Sockets(mctx, zctx, tmp_path)
    yield sockets
    sockets.close_all()


@pytest.fixture(params=["tcp", "ipc"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def observer(mctx: mqsdk.Context) -> Iterator[Observer]:
    with observing(mctx) as obs:
        yield obs
