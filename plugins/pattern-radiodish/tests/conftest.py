"""Fixtures shared by the RADIO/DISH tests: a context, and sockets made with linger 0 and
a bounded receive timeout."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from radiodish_raw import WAIT

import mqsdk

MakeSocket = Callable[[int], mqsdk.Socket]


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.term()


@pytest.fixture
def make(ctx: mqsdk.Context) -> MakeSocket:
    def socket(kind: int) -> mqsdk.Socket:
        sock = ctx.socket(kind)
        sock.linger = 0
        sock.rcvtimeo = int(WAIT * 1000)
        return sock

    return socket
