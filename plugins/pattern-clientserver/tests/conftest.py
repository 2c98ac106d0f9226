"""Fixtures of the CLIENT/SERVER tests: a context, and sockets made with linger 0 and
bounded send and receive timeouts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import mqsdk
from mqsdk.testing.helpers import WAIT

MakeSocket = Callable[[int], mqsdk.Socket]


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def make(ctx: mqsdk.Context) -> MakeSocket:
    def socket(kind: int) -> mqsdk.Socket:
        sock = ctx.socket(kind)
        sock.linger = 0
        sock.rcvtimeo = sock.sndtimeo = int(WAIT * 1000)
        return sock

    return socket
