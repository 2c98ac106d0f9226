"""Pytest fixtures for tests of socket patterns: a context, and sockets that cannot hang
a test.

A test suite takes them into its ``conftest.py`` by importing them
(``from mqsdk.testing.fixtures import ctx, make``); they are not in the ``mqsdk.testing``
pytest plugin, so no other suite gets fixtures named ``ctx`` or ``make`` it did not ask for.

* ``ctx``: a :class:`mqsdk.Context`, destroyed with linger 0 after the test.
* ``make(kind)``: a socket of ``ctx`` with linger 0 and send and receive timeouts of
  :data:`~mqsdk.testing.helpers.WAIT`, so a lost message fails the test instead of
  blocking it (:data:`MakeSocket` is its type).
* ``endpoint(transport)``: a fresh endpoint to bind for ``"tcp"``, ``"ipc"`` or
  ``"inproc"`` (ipc ones in a short temporary folder, removed after the test;
  :data:`Endpoint` is its type).
* ``lib_ctx``: a context of the draft libzmq (:mod:`mqsdk.testing.libzmq`), for interop
  tests; the test skips with the reason when that library is absent (fails instead under
  ``MQSDK_REQUIRE_DRAFT_LIBZMQ=1``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

import mqsdk
from mqsdk.testing import libzmq
from mqsdk.testing.helpers import WAIT, ipc_endpoints, short_tmpdir

__all__ = ["Endpoint", "MakeSocket", "ctx", "endpoint", "lib_ctx", "make"]

MakeSocket = Callable[[int], mqsdk.Socket]
Endpoint = Callable[[str], str]
_inproc_names = itertools.count()


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


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with short_tmpdir("ep") as directory:
        ipc = ipc_endpoints(directory)

        def make_endpoint(transport: str) -> str:
            if transport == "ipc":
                return ipc()
            if transport == "inproc":
                return f"inproc://fixture-{next(_inproc_names)}"
            if transport == "tcp":
                return "tcp://127.0.0.1:*"
            raise ValueError(f"no endpoint fixture for {transport!r}")

        yield make_endpoint


@pytest.fixture
def lib_ctx() -> Iterator[libzmq.LibzmqContext]:
    with libzmq.draft_libzmq().context() as context:
        yield context
