"""SCATTER and GATHER against libzmq's own (4.3.4 built with its draft API, through
ctypes: :mod:`mqsdk.testing.libzmq`), both directions, either side binding.

Skips with the reason where that library is absent (fails instead under
``MQSDK_REQUIRE_DRAFT_LIBZMQ=1``, as in CI).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import mqsdk
from mqsdk.testing import libzmq
from mqsdk.testing.helpers import WAIT

MakeSocket = Callable[[int], mqsdk.Socket]
COUNT = 200

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("mqsdk_binds", [True, False], ids=["mqsdk-binds", "libzmq-binds"])
def test_mqsdk_scatter_to_libzmq_gather(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext, mqsdk_binds: bool
) -> None:
    scatter, gather = make(mqsdk.SCATTER), lib_ctx.socket(libzmq.GATHER)
    libzmq.link_over_tcp(scatter, gather, mqsdk_binds)
    for number in range(COUNT):
        scatter.send(b"m%d" % number)
    scatter.send(b"x" * 70000)  # a long frame (8-byte size) too
    got = [gather.recv() for _ in range(COUNT + 1)]
    assert [m.data for m in got] == [b"m%d" % n for n in range(COUNT)] + [b"x" * 70000]
    assert not any(m.more for m in got)


@pytest.mark.parametrize("mqsdk_binds", [True, False], ids=["mqsdk-binds", "libzmq-binds"])
def test_libzmq_scatter_to_mqsdk_gather(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext, mqsdk_binds: bool
) -> None:
    scatter, gather = lib_ctx.socket(libzmq.SCATTER), make(mqsdk.GATHER)
    libzmq.link_over_tcp(gather, scatter, mqsdk_binds)
    for number in range(COUNT):
        scatter.send(b"m%d" % number)
    scatter.send(b"y" * 70000)
    assert [gather.recv() for _ in range(COUNT + 1)] == [b"m%d" % n for n in range(COUNT)] + [
        b"y" * 70000
    ]


def test_libzmq_refuses_a_multipart_scatter_send_as_mqsdk_does(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext
) -> None:
    theirs = lib_ctx.socket(libzmq.SCATTER)
    with pytest.raises(libzmq.LibzmqError) as libzmq_refusal:
        theirs.send(b"a", more=True)
    with pytest.raises(mqsdk.MQError) as mqsdk_refusal:
        make(mqsdk.SCATTER).send(b"a", mqsdk.SNDMORE)
    assert mqsdk_refusal.value.errno == libzmq_refusal.value.errno


@pytest.mark.parametrize("sender", ["mqsdk", "libzmq"])
def test_eight_threads_on_each_side(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext, sender: str
) -> None:
    """Both libraries' sockets shared by 8 threads each, messages both ways in turn."""
    threads, per_thread = 8, 100
    mine = make(mqsdk.SCATTER if sender == "mqsdk" else mqsdk.GATHER)
    theirs = lib_ctx.socket(libzmq.GATHER if sender == "mqsdk" else libzmq.SCATTER)
    libzmq.link_over_tcp(mine, theirs, mqsdk_binds=True)
    if sender == "mqsdk":
        send: Callable[[bytes], None] = mine.send
        recv: Callable[[], bytes] = lambda: theirs.recv().data  # noqa: E731
    else:
        send, recv = theirs.send, mine.recv
    received: list[bytes] = []
    errors: list[BaseException] = []

    def sending(index: int) -> None:
        try:
            for number in range(per_thread):
                send(b"%d:%d" % (index, number))
        except BaseException as exc:
            errors.append(exc)

    def receiving() -> None:
        try:
            while (message := recv()) != b"stop":
                received.append(message)  # list.append is atomic
        except BaseException as exc:
            errors.append(exc)

    receivers = [threading.Thread(target=receiving) for _ in range(threads)]
    senders = [threading.Thread(target=sending, args=(i,)) for i in range(threads)]
    for worker in receivers + senders:
        worker.start()
    for worker in senders:
        worker.join(WAIT * 3)
    for _ in receivers:  # after every message on the one connection
        send(b"stop")
    for worker in receivers + senders:
        worker.join(WAIT * 3)
    assert not errors, errors
    assert not any(w.is_alive() for w in receivers + senders), "a thread is stuck"
    expected = [b"%d:%d" % (i, n) for i in range(threads) for n in range(per_thread)]
    assert sorted(received) == sorted(expected)
