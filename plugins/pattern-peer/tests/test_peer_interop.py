"""PEER and CHANNEL against libzmq's own (4.3.4 built with its draft API, through ctypes:
:mod:`mqsdk.testing.libzmq`), both directions.

Skips with the reason where that library is absent (fails instead under
``MQSDK_REQUIRE_DRAFT_LIBZMQ=1``, as in CI).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import mqsdk
from mqsdk.testing import libzmq

MakeSocket = Callable[[int], mqsdk.Socket]
COUNT = 100

pytestmark = pytest.mark.interop


def test_mqsdk_connect_peer_to_libzmq_peer(make: MakeSocket, lib_ctx: libzmq.LibzmqContext) -> None:
    theirs = lib_ctx.socket(libzmq.PEER)
    address = theirs.bind("tcp://127.0.0.1:*")
    mine = make(mqsdk.PEER)
    routing_id = mine.connect_peer(address)
    for number in range(COUNT):
        mine.send(b"q%d" % number, routing_id=routing_id)
    requests = [theirs.recv() for _ in range(COUNT)]
    assert [r.data for r in requests] == [b"q%d" % n for n in range(COUNT)]
    assert len({r.routing_id for r in requests}) == 1 and requests[0].routing_id != 0
    theirs.send(b"answer", routing_id=requests[0].routing_id)
    reply = mine.recv(copy=False)
    assert (reply.bytes, reply.routing_id) == (b"answer", routing_id)


def test_libzmq_connect_peer_to_mqsdk_peer(make: MakeSocket, lib_ctx: libzmq.LibzmqContext) -> None:
    mine = make(mqsdk.PEER)
    mine.bind("tcp://127.0.0.1:*")
    theirs = [lib_ctx.socket(libzmq.PEER) for _ in range(2)]
    ids = [sock.connect_peer(mine.last_endpoint.decode()) for sock in theirs]
    for index, (sock, routing_id) in enumerate(zip(theirs, ids, strict=True)):
        sock.send(b"from %d" % index, routing_id=routing_id)
    senders = {}
    for _ in theirs:
        frame = mine.recv(copy=False)
        senders[frame.bytes] = frame.routing_id
    assert len(set(senders.values())) == 2 and 0 not in senders.values()
    for index in range(2):
        mine.send(b"to %d" % index, routing_id=senders[b"from %d" % index])
    for index, (sock, routing_id) in enumerate(zip(theirs, ids, strict=True)):
        reply = sock.recv()
        assert (reply.data, reply.routing_id) == (b"to %d" % index, routing_id)


@pytest.mark.parametrize("mqsdk_binds", [True, False], ids=["mqsdk-binds", "libzmq-binds"])
def test_channel_both_ways(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext, mqsdk_binds: bool
) -> None:
    mine, theirs = make(mqsdk.CHANNEL), lib_ctx.socket(libzmq.CHANNEL)
    if mqsdk_binds:
        mine.bind("tcp://127.0.0.1:*")
        theirs.connect(mine.last_endpoint.decode())
    else:
        mine.connect(theirs.bind("tcp://127.0.0.1:*"))
    for number in range(COUNT):
        mine.send(b"m%d" % number)
    assert [theirs.recv().data for _ in range(COUNT)] == [b"m%d" % n for n in range(COUNT)]
    for number in range(COUNT):
        theirs.send(b"t%d" % number)
    assert [mine.recv() for _ in range(COUNT)] == [b"t%d" % n for n in range(COUNT)]


def test_libzmq_peer_refuses_what_mqsdk_peer_refuses(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext
) -> None:
    """Same errno for an unknown routing id and for SNDMORE."""
    theirs, mine = lib_ctx.socket(libzmq.PEER), make(mqsdk.PEER)
    for libzmq_call, mqsdk_call in (
        (lambda: theirs.send(b"x", routing_id=777), lambda: mine.send(b"x", routing_id=777)),
        (
            lambda: theirs.send(b"x", routing_id=777, more=True),
            lambda: mine.send(b"x", mqsdk.SNDMORE, routing_id=777),
        ),
    ):
        with pytest.raises(libzmq.LibzmqError) as libzmq_refusal:
            libzmq_call()
        with pytest.raises(mqsdk.MQError) as mqsdk_refusal:
            mqsdk_call()
        assert mqsdk_refusal.value.errno == libzmq_refusal.value.errno
