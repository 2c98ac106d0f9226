"""REQ, REP, DEALER and ROUTER against real libzmq (pyzmq), over tcp and ipc, with each
side binding in turn. Every wait is bounded (rcvtimeo/sndtimeo, poll, observer)."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest
import zmq
from reqrep_helpers import QUIET, TIMEO, WAIT, Observer, Sockets, recv_nothing, send_when_routable
from zmq.utils.monitor import recv_monitor_message

import mqsdk

pytestmark = pytest.mark.interop

binds = pytest.mark.parametrize("mq_binds", [True, False], ids=["mqsdk-binds", "pyzmq-binds"])


def _link(socks: Sockets, transport: str, mq: Any, zq: Any, mq_binds: bool) -> None:
    binder, connecter = (mq, zq) if mq_binds else (zq, mq)
    connecter.connect(socks.bind(binder, transport))


def _is_auto_id(rid: bytes) -> bool:
    return len(rid) == 5 and rid[0] == 0


# -- REQ / REP ---------------------------------------------------------------------------


@binds
def test_mqsdk_req_to_libzmq_rep(socks: Sockets, transport: str, mq_binds: bool) -> None:
    req, rep = socks.mq(mqsdk.REQ), socks.zmq(zmq.REP)
    _link(socks, transport, req, rep, mq_binds)
    for i in range(3):
        req.send_multipart([b"q", b"%d" % i])
        assert rep.recv_multipart() == [b"q", b"%d" % i]
        rep.send_multipart([b"a", b"%d" % i])
        assert req.recv_multipart() == [b"a", b"%d" % i]


@binds
def test_libzmq_req_to_mqsdk_rep(socks: Sockets, transport: str, mq_binds: bool) -> None:
    rep, req = socks.mq(mqsdk.REP), socks.zmq(zmq.REQ)
    _link(socks, transport, rep, req, mq_binds)
    for i in range(3):
        req.send_multipart([b"q", b"%d" % i])
        assert rep.recv_multipart() == [b"q", b"%d" % i]
        rep.send_multipart([b"a", b"%d" % i])
        assert req.recv_multipart() == [b"a", b"%d" % i]


@binds
def test_libzmq_req_correlate_through_mqsdk_rep(
    socks: Sockets, transport: str, mq_binds: bool
) -> None:
    """REP's envelope is everything up to the delimiter, so libzmq's request id goes back."""
    rep, req = socks.mq(mqsdk.REP), socks.zmq(zmq.REQ)
    req.setsockopt(zmq.REQ_CORRELATE, 1)
    req.setsockopt(zmq.REQ_RELAXED, 1)
    _link(socks, transport, rep, req, mq_binds)
    for i in range(3):
        req.send(b"q%d" % i)
        assert rep.recv() == b"q%d" % i
        rep.send(b"a%d" % i)
        assert req.recv() == b"a%d" % i


# -- REQ / ROUTER -------------------------------------------------------------------------


@binds
def test_mqsdk_req_to_libzmq_router(socks: Sockets, transport: str, mq_binds: bool) -> None:
    req = socks.mq(mqsdk.REQ, routing_id=b"mq-req", rcvtimeo=QUIET)
    router = socks.zmq(zmq.ROUTER)
    _link(socks, transport, req, router, mq_binds)
    req.send_multipart([b"hello", b"there"])
    assert router.recv_multipart() == [b"mq-req", b"", b"hello", b"there"]
    router.send_multipart([b"mq-req", b"no delimiter"])  # dropped by REQ
    with pytest.raises(mqsdk.Again):
        req.recv()
    router.send_multipart([b"mq-req", b"", b"reply"])
    req.rcvtimeo = TIMEO
    assert req.recv() == b"reply"


@binds
def test_mqsdk_req_correlate_with_libzmq_router(
    socks: Sockets, transport: str, mq_binds: bool
) -> None:
    req = socks.mq(mqsdk.REQ, routing_id=b"mq-req", req_correlate=1, req_relaxed=1)
    router = socks.zmq(zmq.ROUTER)
    _link(socks, transport, req, router, mq_binds)
    req.send(b"one")
    rid, id1, empty, body = router.recv_multipart()
    assert (rid, len(id1), empty, body) == (b"mq-req", 4, b"", b"one")
    req.send(b"two")  # relaxed: a new request before the reply
    _, id2, _, _ = router.recv_multipart()
    one = int.from_bytes(id1, sys.byteorder)
    assert int.from_bytes(id2, sys.byteorder) == (one + 1) % 2**32
    router.send_multipart([b"mq-req", id1, b"", b"late"])
    router.send_multipart([b"mq-req", id2, b"", b"current"])
    assert req.recv() == b"current"


@binds
def test_libzmq_req_to_mqsdk_router(socks: Sockets, transport: str, mq_binds: bool) -> None:
    router = socks.mq(mqsdk.ROUTER)
    req = socks.zmq(zmq.REQ, routing_id=b"z-req")
    _link(socks, transport, router, req, mq_binds)
    req.send_multipart([b"hello", b"there"])
    assert router.recv_multipart() == [b"z-req", b"", b"hello", b"there"]
    router.send_multipart([b"z-req", b"", b"reply"])
    assert req.recv() == b"reply"


@binds
def test_libzmq_req_correlate_to_mqsdk_router(
    socks: Sockets, transport: str, mq_binds: bool
) -> None:
    router = socks.mq(mqsdk.ROUTER)
    req = socks.zmq(zmq.REQ)
    req.setsockopt(zmq.REQ_CORRELATE, 1)
    _link(socks, transport, router, req, mq_binds)
    req.send(b"q")
    rid, request_id, empty, body = router.recv_multipart()
    assert _is_auto_id(rid)
    assert (len(request_id), empty, body) == (4, b"", b"q")
    router.send_multipart([rid, b"\x00\x00\x00\x00", b"", b"wrong id"])  # libzmq drops it
    router.send_multipart([rid, request_id, b"", b"right id"])
    assert req.recv() == b"right id"


# -- DEALER -------------------------------------------------------------------------------


@binds
def test_mqsdk_dealer_to_libzmq_rep(socks: Sockets, transport: str, mq_binds: bool) -> None:
    dealer, rep = socks.mq(mqsdk.DEALER), socks.zmq(zmq.REP)
    _link(socks, transport, dealer, rep, mq_binds)
    dealer.send_multipart([b"", b"q1"])
    dealer.send_multipart([b"hop", b"", b"q2"])
    assert rep.recv() == b"q1"
    rep.send(b"a1")
    assert rep.recv() == b"q2"
    rep.send(b"a2")
    assert dealer.recv_multipart() == [b"", b"a1"]
    assert dealer.recv_multipart() == [b"hop", b"", b"a2"]


@binds
def test_libzmq_dealer_to_mqsdk_rep(socks: Sockets, transport: str, mq_binds: bool) -> None:
    rep, dealer = socks.mq(mqsdk.REP), socks.zmq(zmq.DEALER)
    _link(socks, transport, rep, dealer, mq_binds)
    dealer.send_multipart([b"no delimiter"])  # dropped by REP
    dealer.send_multipart([b"", b"q1"])
    dealer.send_multipart([b"hop", b"", b"q2"])
    assert rep.recv() == b"q1"
    rep.send(b"a1")
    assert rep.recv() == b"q2"
    rep.send(b"a2")
    assert dealer.recv_multipart() == [b"", b"a1"]
    assert dealer.recv_multipart() == [b"hop", b"", b"a2"]


@binds
def test_mqsdk_dealer_to_libzmq_router(socks: Sockets, transport: str, mq_binds: bool) -> None:
    named = socks.mq(mqsdk.DEALER, routing_id=b"mq-dealer")
    anonymous = socks.mq(mqsdk.DEALER)
    router = socks.zmq(zmq.ROUTER)
    if mq_binds:
        for dealer in (named, anonymous):
            router.connect(socks.bind(dealer, transport))
    else:
        endpoint = socks.bind(router, transport)
        named.connect(endpoint)
        anonymous.connect(endpoint)
    named.send_multipart([b"a", b"b"])
    assert router.recv_multipart() == [b"mq-dealer", b"a", b"b"]
    anonymous.send(b"who am I")
    rid, body = router.recv_multipart()
    assert _is_auto_id(rid)  # an empty Identity: libzmq makes one up
    assert body == b"who am I"
    router.send_multipart([b"mq-dealer", b"back"])
    router.send_multipart([rid, b"back to you"])
    assert named.recv() == b"back"
    assert anonymous.recv() == b"back to you"


@binds
def test_libzmq_dealer_to_mqsdk_router(socks: Sockets, transport: str, mq_binds: bool) -> None:
    router = socks.mq(mqsdk.ROUTER)
    named = socks.zmq(zmq.DEALER, routing_id=b"z-dealer")
    anonymous = socks.zmq(zmq.DEALER)
    if mq_binds:
        endpoint = socks.bind(router, transport)
        named.connect(endpoint)
        anonymous.connect(endpoint)
    else:
        for dealer in (named, anonymous):
            router.connect(socks.bind(dealer, transport))
    named.send_multipart([b"a", b"b"])
    assert router.recv_multipart() == [b"z-dealer", b"a", b"b"]
    anonymous.send(b"who am I")
    rid, body = router.recv_multipart()
    assert _is_auto_id(rid)
    assert body == b"who am I"
    router.send_multipart([b"z-dealer", b"back"])
    router.send_multipart([rid, b"back to you"])
    assert named.recv() == b"back"
    assert anonymous.recv() == b"back to you"


@binds
def test_dealer_to_dealer(socks: Sockets, transport: str, mq_binds: bool) -> None:
    mq, zq = socks.mq(mqsdk.DEALER), socks.zmq(zmq.DEALER)
    _link(socks, transport, mq, zq, mq_binds)
    mq.send_multipart([b"", b"from", b"mqsdk"])
    assert zq.recv_multipart() == [b"", b"from", b"mqsdk"]
    zq.send_multipart([b"from", b"libzmq"])
    assert mq.recv_multipart() == [b"from", b"libzmq"]


# -- ROUTER / ROUTER and routing ids -------------------------------------------------


@binds
def test_router_to_router(socks: Sockets, transport: str, mq_binds: bool) -> None:
    mq = socks.mq(mqsdk.ROUTER, routing_id=b"mq-router", router_mandatory=1)
    zq = socks.zmq(zmq.ROUTER, routing_id=b"z-router")
    zq.setsockopt(zmq.ROUTER_MANDATORY, 1)
    _link(socks, transport, mq, zq, mq_binds)
    if mq_binds:  # the connecting side learns the binder's id from the handshake
        send_when_routable(zq, [b"mq-router", b"hello"])
        assert mq.recv_multipart() == [b"z-router", b"hello"]
        mq.send_multipart([b"z-router", b"welcome"])
        assert zq.recv_multipart() == [b"mq-router", b"welcome"]
    else:
        send_when_routable(mq, [b"z-router", b"hello"])
        assert zq.recv_multipart() == [b"mq-router", b"hello"]
        zq.send_multipart([b"mq-router", b"welcome"])
        assert mq.recv_multipart() == [b"z-router", b"welcome"]


@binds
def test_routing_ids_round_trip(socks: Sockets, transport: str, mq_binds: bool) -> None:
    """Ids set with pyzmq's routing_id reach mqsdk's ROUTER, and the other way round."""
    mq_router, z_router = socks.mq(mqsdk.ROUTER), socks.zmq(zmq.ROUTER)
    mq_dealer, z_dealer = socks.mq(mqsdk.DEALER), socks.zmq(zmq.DEALER)
    mq_dealer.routing_id = b"\x01binary\xffid"
    z_dealer.routing_id = b"\x01libzmq\xffid"
    assert mq_dealer.routing_id == b"\x01binary\xffid"
    _link(socks, transport, mq_router, z_dealer, mq_binds)
    _link(socks, transport, mq_dealer, z_router, mq_binds)
    z_dealer.send(b"1")
    assert mq_router.recv_multipart() == [b"\x01libzmq\xffid", b"1"]
    mq_dealer.send(b"2")
    assert z_router.recv_multipart() == [b"\x01binary\xffid", b"2"]
    mq_router.send_multipart([b"\x01libzmq\xffid", b"3"])
    assert z_dealer.recv() == b"3"
    z_router.send_multipart([b"\x01binary\xffid", b"4"])
    assert mq_dealer.recv() == b"4"


@binds
def test_probe_router_both_ways(socks: Sockets, transport: str, mq_binds: bool) -> None:
    mq_router = socks.mq(mqsdk.ROUTER)
    z_dealer = socks.zmq(zmq.DEALER, routing_id=b"z-probe")
    z_dealer.setsockopt(zmq.PROBE_ROUTER, 1)
    _link(socks, transport, mq_router, z_dealer, mq_binds)
    # A binding libzmq socket attaches the new pipe (and writes its probe) only when the
    # application next uses it: keep it busy until the probe arrives.
    deadline = time.monotonic() + WAIT
    while not mq_router.poll(10) and time.monotonic() < deadline:
        z_dealer.getsockopt(zmq.EVENTS)
    assert mq_router.recv_multipart() == [b"z-probe", b""]

    z_router = socks.zmq(zmq.ROUTER)
    mq_dealer = socks.mq(mqsdk.DEALER, routing_id=b"mq-probe", probe_router=1)
    _link(socks, transport, mq_dealer, z_router, mq_binds)
    assert z_router.recv_multipart() == [b"mq-probe", b""]

    prober = socks.mq(mqsdk.ROUTER, probe_router=1)
    z_peer = socks.zmq(zmq.DEALER)
    _link(socks, transport, prober, z_peer, mq_binds)
    assert z_peer.recv_multipart() == [b""]


@pytest.mark.parametrize("handover", [0, 1], ids=["refused", "handover"])
def test_duplicate_libzmq_identity(
    socks: Sockets, transport: str, observer: Observer, handover: int
) -> None:
    router = socks.mq(mqsdk.ROUTER, router_handover=handover)
    endpoint = socks.bind(router, transport)
    old = socks.zmq(zmq.DEALER, routing_id=b"twin", rcvtimeo=QUIET, reconnect_ivl=-1)
    old.connect(endpoint)
    old.send(b"old")
    assert router.recv_multipart() == [b"twin", b"old"]
    new = socks.zmq(zmq.DEALER, routing_id=b"twin", rcvtimeo=QUIET, reconnect_ivl=-1)
    new.connect(endpoint)
    new.send(b"new")
    observer.wait("connected", router, count=2)
    if handover:
        assert router.recv_multipart() == [b"twin", b"new"]
    else:
        recv_nothing(router)
    router.send_multipart([b"twin", b"which one?"])
    winner, loser = (new, old) if handover else (old, new)
    assert winner.recv() == b"which one?"
    with pytest.raises(zmq.Again):
        loser.recv()
    observer.wait("disconnected", router)  # the loser's connection was closed


# -- invalid pairs --------------------------------------------------------------------

INVALID = [
    # (mqsdk type, libzmq type, who sends something the other must not receive)
    (mqsdk.REQ, zmq.PUB, "mqsdk"),
    (mqsdk.ROUTER, zmq.PULL, "none"),
    (mqsdk.REP, zmq.REP, "none"),
    (mqsdk.DEALER, zmq.PULL, "mqsdk"),
    (mqsdk.REQ, zmq.REQ, "both"),
    (mqsdk.ROUTER, zmq.PUSH, "libzmq"),
    (mqsdk.DEALER, zmq.PUSH, "libzmq"),
    (mqsdk.REP, zmq.PUSH, "libzmq"),
]


@binds
@pytest.mark.parametrize(
    ("mq_type", "z_type", "sender"),
    INVALID,
    ids=[f"{mqsdk.SocketType(m).name}-{zmq.SocketType(z).name}" for m, z, _ in INVALID],
)
def test_invalid_pairs_are_refused(
    socks: Sockets,
    transport: str,
    observer: Observer,
    mq_binds: bool,
    mq_type: int,
    z_type: int,
    sender: str,
) -> None:
    mq = socks.mq(mq_type, rcvtimeo=QUIET)
    zq = socks.zmq(z_type, rcvtimeo=QUIET)
    monitor = zq.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
    try:
        _link(socks, transport, mq, zq, mq_binds)
        mq_sent = False
        if sender in ("mqsdk", "both"):
            body = [b"", b"x"] if mq_type == mqsdk.DEALER else [b"x"]
            try:
                mq.send_multipart(body, mqsdk.NOBLOCK)
                mq_sent = True
            except mqsdk.Again:
                pass  # a binding socket without a peer has nowhere to queue it
        z_sent = False
        if sender in ("libzmq", "both"):
            body = [b"", b"x"] if z_type == zmq.PUSH else [b"x"]
            try:
                zq.send_multipart(body, zmq.NOBLOCK)
                z_sent = True
            except zmq.Again:
                pass  # a binding libzmq socket without a peer has nowhere to queue it
        # mqsdk refuses the peer in the handshake (by the RFC 37 table)...
        failures = observer.wait("handshake_failed", mq)
        assert type(failures[0]["error"]).__name__ == "SocketTypeMismatch"
        # ...and libzmq drops the connection without ever completing its handshake.
        assert monitor.poll(TIMEO), "libzmq never saw the connection end"
        event = recv_monitor_message(monitor)
        assert event["event"] == zmq.EVENT_DISCONNECTED
        # Nothing crosses, in either direction.
        if mq_type in (mqsdk.REP, mqsdk.ROUTER, mqsdk.DEALER):
            recv_nothing(mq)
        elif mq_sent:  # a REQ that sent may wait for a reply
            with pytest.raises(mqsdk.Again):
                mq.recv()
        if z_type == zmq.REQ and z_sent:
            with pytest.raises(zmq.Again):
                zq.recv()
        elif z_type in (zmq.PULL, zmq.REP):
            assert not zq.poll(QUIET)
    finally:
        zq.disable_monitor()
        monitor.close(linger=0)
