"""REQ, REP, DEALER and ROUTER between mqsdk sockets, on loopback tcp (and ipc where the
endpoint must be reused). Every wait is bounded by rcvtimeo/sndtimeo or an observer."""

from __future__ import annotations

import errno
import sys
from typing import Any

import pytest
from mqsdk_pattern_reqrep import Dealer, Rep, Req, Router, mqsdk_patterns
from reqrep_helpers import QUIET, TIMEO, Observer, Sockets, recv_nothing, send_when_routable

import mqsdk
from mqsdk.errors import EFSM

# -- registration ------------------------------------------------------------------------


def test_plugin_provides_the_four_types() -> None:
    assert list(mqsdk_patterns()) == [Req, Rep, Dealer, Router]
    assert [(c.name, c.socket_type) for c in (Req, Rep, Dealer, Router)] == [
        ("REQ", mqsdk.REQ),
        ("REP", mqsdk.REP),
        ("DEALER", mqsdk.DEALER),
        ("ROUTER", mqsdk.ROUTER),
    ]
    assert Req.peer_types == {"REP", "ROUTER"}
    assert Rep.peer_types == {"REQ", "DEALER"}
    assert Dealer.peer_types == {"REP", "DEALER", "ROUTER"}
    assert Router.peer_types == {"REQ", "DEALER", "ROUTER"}
    assert (Req.sends_identity, Rep.sends_identity) == (True, False)
    assert (Dealer.sends_identity, Router.sends_identity) == (True, True)
    classes = (Req, Rep, Dealer, Router)
    declared = {cls.name: {s.name: s.number for s in cls.declared_options()} for cls in classes}
    for options in declared.values():
        for option, number in options.items():
            assert getattr(mqsdk, option.upper()) == number, option
    assert declared["ROUTER"] == {
        "router_mandatory": 33,
        "probe_router": 51,
        "router_handover": 56,
        "connect_routing_id": 61,
    }
    assert declared["REQ"] == {"probe_router": 51, "req_correlate": 52, "req_relaxed": 53}
    assert declared["DEALER"] == {"probe_router": 51}
    assert declared["REP"] == {}


def test_context_makes_each_type(mctx: mqsdk.Context) -> None:
    for number, name in ((3, "REQ"), (4, "REP"), (5, "DEALER"), (6, "ROUTER")):
        sock = mctx.socket(number)
        try:
            assert sock.type == number
            assert sock.socket_type_name == name
        finally:
            sock.close(linger=0)


# -- REQ / REP ---------------------------------------------------------------------------


def _req_rep(socks: Sockets, **req_options: Any) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    rep = socks.mq(mqsdk.REP)
    req = socks.mq(mqsdk.REQ, **req_options)
    req.connect(socks.bind(rep))
    return req, rep


def test_req_rep_round_trips(socks: Sockets) -> None:
    req, rep = _req_rep(socks)
    for i in range(5):
        req.send_multipart([b"question", b"%d" % i])
        assert rep.recv_multipart() == [b"question", b"%d" % i]
        rep.send_multipart([b"answer", b"%d" % i])
        assert req.recv_multipart() == [b"answer", b"%d" % i]
    req.send(b"")  # an empty body is a body
    assert rep.recv_multipart() == [b""]
    rep.send(b"")
    frame = req.recv(copy=False)
    assert frame.bytes == b""
    assert frame.get("Socket-Type") == "REP"


def test_req_send_twice_is_efsm_and_names_req_relaxed(socks: Sockets) -> None:
    req, rep = _req_rep(socks)
    req.send(b"one")
    with pytest.raises(mqsdk.MQError) as info:
        req.send(b"two")
    assert info.value.errno == EFSM
    assert "req_relaxed" in str(info.value)
    assert "reply" in str(info.value)
    # The state is intact: the first request is still answered.
    assert rep.recv() == b"one"
    rep.send(b"1")
    assert req.recv() == b"1"


def test_req_recv_without_request_is_efsm(socks: Sockets) -> None:
    req, rep = _req_rep(socks)
    with pytest.raises(mqsdk.MQError) as info:
        req.recv()
    assert info.value.errno == EFSM
    assert "send a request first" in str(info.value)
    req.send(b"q")
    assert rep.recv() == b"q"
    rep.send(b"a")
    assert req.recv() == b"a"
    with pytest.raises(mqsdk.MQError) as again:
        req.recv()  # the reply was taken: back to sending
    assert again.value.errno == EFSM


def test_rep_alternation_is_efsm_both_ways(socks: Sockets) -> None:
    req, rep = _req_rep(socks)
    with pytest.raises(mqsdk.MQError) as info:
        rep.send(b"unasked")
    assert info.value.errno == EFSM
    assert "receive a request first" in str(info.value)
    req.send(b"q")
    assert rep.recv() == b"q"
    with pytest.raises(mqsdk.MQError) as twice:
        rep.recv()
    assert twice.value.errno == EFSM
    assert "reply" in str(twice.value)
    rep.send(b"a")
    assert req.recv() == b"a"


def test_req_round_robins_over_its_peers(socks: Sockets) -> None:
    reps = [socks.mq(mqsdk.REP) for _ in range(2)]
    req = socks.mq(mqsdk.REQ)
    for rep in reps:
        req.connect(socks.bind(rep))
    served = []
    for i in range(4):
        req.send(b"%d" % i)
        rep = reps[i % 2]  # connect() attached the pipes in order
        assert rep.recv() == b"%d" % i
        rep.send(b"r%d" % i)
        assert req.recv() == b"r%d" % i
        served.append(reps.index(rep))
    assert served == [0, 1, 0, 1]


def test_req_without_peer_blocks_and_keeps_its_state(socks: Sockets) -> None:
    req = socks.mq(mqsdk.REQ, sndtimeo=50)
    with pytest.raises(mqsdk.Again):
        req.send(b"nobody", mqsdk.NOBLOCK)
    with pytest.raises(mqsdk.Again):
        req.send(b"nobody")  # waits sndtimeo, then gives up
    assert not req.poll(0, mqsdk.POLLOUT)
    with pytest.raises(mqsdk.MQError) as info:
        req.recv()  # nothing was sent, so no reply is due
    assert info.value.errno == EFSM
    rep = socks.mq(mqsdk.REP)
    req.connect(socks.bind(rep))
    req.send(b"now")
    assert rep.recv() == b"now"


# -- REQ envelope, correlation, relaxed mode ---------------------------------------------


def _req_router(socks: Sockets, **req_options: Any) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    router = socks.mq(mqsdk.ROUTER)
    req = socks.mq(mqsdk.REQ, routing_id=b"client", **req_options)
    req.connect(socks.bind(router))
    return req, router


def test_req_prepends_the_empty_delimiter(socks: Sockets) -> None:
    req, router = _req_router(socks)
    req.send_multipart([b"a", b"b"])
    assert router.recv_multipart() == [b"client", b"", b"a", b"b"]
    router.send_multipart([b"client", b"", b"x", b"y"])
    assert req.recv_multipart() == [b"x", b"y"]


def test_req_drops_replies_without_delimiter(socks: Sockets) -> None:
    req, router = _req_router(socks, rcvtimeo=QUIET)
    req.send(b"q")
    assert router.recv_multipart() == [b"client", b"", b"q"]
    router.send_multipart([b"client", b"no delimiter"])
    router.send_multipart([b"client", b"x", b"", b"delimiter not first"])
    router.send_multipart([b"client", b""])  # a delimiter and no body
    with pytest.raises(mqsdk.Again):
        req.recv()
    assert not req.poll(0)  # POLLIN is false: nothing receivable is queued
    router.send_multipart([b"client", b"", b"", b"good"])  # only the first "" is stripped
    assert req.poll(TIMEO) == mqsdk.POLLIN
    assert req.recv_multipart() == [b"", b"good"]


def test_req_correlate_adds_and_checks_a_request_id(socks: Sockets) -> None:
    req, router = _req_router(socks, req_correlate=1)
    assert req.req_correlate == 1
    req.send(b"first")
    client, rid1, empty, body = router.recv_multipart()
    assert (client, empty, body) == (b"client", b"", b"first")
    assert len(rid1) == 4
    router.send_multipart([b"client", rid1, b"", b"reply 1"])
    assert req.recv() == b"reply 1"

    req.send(b"second")
    _, rid2, _, _ = router.recv_multipart()
    first = int.from_bytes(rid1, sys.byteorder)
    assert int.from_bytes(rid2, sys.byteorder) == (first + 1) % 2**32  # host byte order, +1
    stale = rid1
    wrong_size = rid2 + b"\x00"
    router.send_multipart([b"client", stale, b"", b"stale"])
    router.send_multipart([b"client", wrong_size, b"", b"bad id"])
    router.send_multipart([b"client", b"", b"no id"])
    router.send_multipart([b"client", rid2, b"missing delimiter"])
    router.send_multipart([b"client", rid2, b"", b"reply 2"])
    assert req.recv() == b"reply 2"


def test_req_correlate_starts_at_a_random_id(socks: Sockets) -> None:
    starts = set()
    for _ in range(3):
        req, router = _req_router(socks, req_correlate=1)
        req.send(b"x")
        starts.add(router.recv_multipart()[1])
    assert len(starts) == 3  # 3 random 32-bit starts collide with probability ~1e-9


def test_req_relaxed_allows_a_new_request_and_drops_the_old_replies(socks: Sockets) -> None:
    req, router = _req_router(socks, req_relaxed=1)
    assert req.req_relaxed == 1
    req.send(b"first")
    assert router.recv_multipart() == [b"client", b"", b"first"]
    router.send_multipart([b"client", b"", b"late reply to first"])
    assert req.poll(TIMEO) == mqsdk.POLLIN  # the old reply is queued...
    req.send(b"second")  # ...and is discarded by the new request
    assert router.recv_multipart() == [b"client", b"", b"second"]
    router.send_multipart([b"client", b"", b"reply to second"])
    assert req.recv() == b"reply to second"


def test_req_relaxed_with_correlate_ignores_late_replies(socks: Sockets) -> None:
    req, router = _req_router(socks, req_relaxed=1, req_correlate=1)
    req.send(b"first")
    _, rid1, _, _ = router.recv_multipart()
    assert req.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT  # relaxed: sending is allowed
    req.send(b"second")
    _, rid2, _, _ = router.recv_multipart()
    router.send_multipart([b"client", rid1, b"", b"late"])  # arrives after the new request
    router.send_multipart([b"client", rid2, b"", b"current"])
    assert req.recv() == b"current"


def test_req_takes_the_reply_only_from_the_peer_it_asked(socks: Sockets) -> None:
    routers = [socks.mq(mqsdk.ROUTER, router_mandatory=1) for _ in range(2)]
    req = socks.mq(mqsdk.REQ, routing_id=b"client")
    for router in routers:
        req.connect(socks.bind(router))
    asked, other = routers  # the first request goes to the first pipe connect() made
    req.send(b"question")
    assert asked.recv_multipart() == [b"client", b"", b"question"]
    send_when_routable(other, [b"client", b"", b"not asked"])
    asked.send_multipart([b"client", b"", b"answer"])
    assert req.recv() == b"answer"


def test_req_takes_a_reply_from_any_peer_once_the_asked_one_is_gone(
    socks: Sockets, observer: Observer
) -> None:
    """libzmq's rule: with the reply pipe gone, a well-formed reply from any pipe is taken."""
    req = socks.mq(mqsdk.REQ, routing_id=b"client")
    endpoint = socks.bind(req)
    asked = socks.mq(mqsdk.ROUTER)
    other = socks.mq(mqsdk.ROUTER, router_mandatory=1)
    asked.connect(endpoint)
    observer.wait("connected", req)
    other.connect(endpoint)
    observer.wait("connected", req, count=2)
    req.send(b"question")  # to the first pipe attached: the first peer's
    assert asked.recv_multipart() == [b"client", b"", b"question"]
    asked.close(linger=0)
    observer.wait("disconnected", req)
    send_when_routable(other, [b"client", b"", b"stand-in answer"])
    assert req.recv() == b"stand-in answer"


# -- REP envelopes ------------------------------------------------------------------------


def _pump(source: mqsdk.Socket, sink: mqsdk.Socket) -> list[bytes]:
    message: list[bytes] = source.recv_multipart()
    sink.send_multipart(message)
    return message


def test_rep_envelope_survives_two_proxy_hops(socks: Sockets) -> None:
    """REQ -> ROUTER|DEALER -> ROUTER|DEALER -> REP, and back, with a manual proxy."""
    front1, back1 = socks.mq(mqsdk.ROUTER), socks.mq(mqsdk.DEALER, routing_id=b"hop1")
    front2, back2 = socks.mq(mqsdk.ROUTER), socks.mq(mqsdk.DEALER)
    rep = socks.mq(mqsdk.REP)
    clients = [socks.mq(mqsdk.REQ, routing_id=b"c%d" % i) for i in range(2)]
    front1_ep = socks.bind(front1)
    back1.connect(socks.bind(front2))
    rep.connect(socks.bind(back2))
    for client in clients:
        client.connect(front1_ep)

    for i, client in enumerate(clients):
        client.send_multipart([b"job", b"%d" % i])
    for _ in clients:
        assert _pump(front1, back1)[1:] in ([b"", b"job", b"0"], [b"", b"job", b"1"])
        forwarded = _pump(front2, back2)
        assert forwarded[0] == b"hop1"
        assert forwarded[1] in (b"c0", b"c1")
        request = rep.recv_multipart()
        assert request[0] == b"job"  # REP hands over the body only
        rep.send_multipart([b"done", request[1]])
        reply = back2.recv_multipart()
        # What REP sent: the whole envelope it received (two hops) before the body.
        assert reply == [b"hop1", b"c%s" % request[1], b"", b"done", request[1]]
        front2.send_multipart(reply)
        _pump(back1, front1)
    for i, client in enumerate(clients):
        assert client.recv_multipart() == [b"done", b"%d" % i]


def test_rep_drops_requests_without_delimiter(socks: Sockets) -> None:
    rep = socks.mq(mqsdk.REP, rcvtimeo=QUIET)
    dealer = socks.mq(mqsdk.DEALER)
    dealer.connect(socks.bind(rep))
    dealer.send(b"no delimiter")
    dealer.send_multipart([b"a", b"b"])
    dealer.send_multipart([b"id", b""])  # a delimiter but no body
    with pytest.raises(mqsdk.Again):
        rep.recv()
    assert not rep.poll(0)
    dealer.send_multipart([b"id1", b"id2", b"", b"body", b""])
    assert rep.recv_multipart() == [b"body", b""]
    rep.send(b"reply")
    assert dealer.recv_multipart() == [b"id1", b"id2", b"", b"reply"]
    dealer.send_multipart([b"", b"plain"])
    assert rep.recv_multipart() == [b"plain"]
    rep.send_multipart([b"r1", b"r2"])
    assert dealer.recv_multipart() == [b"", b"r1", b"r2"]


def test_rep_fair_queues_and_replies_to_the_right_peer(socks: Sockets) -> None:
    rep = socks.mq(mqsdk.REP)
    endpoint = socks.bind(rep)
    reqs = [socks.mq(mqsdk.REQ) for _ in range(3)]
    for req in reqs:
        req.connect(endpoint)
        req.send(b"from %d" % reqs.index(req))
    seen = set()
    for _ in reqs:
        request = rep.recv()
        seen.add(request)
        rep.send(b"re: " + request)
    assert seen == {b"from 0", b"from 1", b"from 2"}
    for i, req in enumerate(reqs):
        assert req.recv() == b"re: from %d" % i


def test_rep_reply_to_a_gone_peer_is_dropped(socks: Sockets, observer: Observer) -> None:
    rep = socks.mq(mqsdk.REP)
    endpoint = socks.bind(rep)
    gone = socks.mq(mqsdk.REQ)
    gone.connect(endpoint)
    gone.send(b"then I leave")
    assert rep.recv() == b"then I leave"
    gone.close(linger=0)
    observer.wait("disconnected", rep)
    rep.send(b"nobody hears this")  # dropped silently, never blocks
    assert rep.poll(0, mqsdk.POLLOUT) == 0  # back to receiving
    other = socks.mq(mqsdk.REQ)
    other.connect(endpoint)
    other.send(b"hello")
    assert rep.recv() == b"hello"
    rep.send(b"hi")
    assert other.recv() == b"hi"


# -- A REQ whose peer dies mid-request ------------------------------------------------


def test_req_peer_closed_mid_request_bound_req(socks: Sockets, observer: Observer) -> None:
    req = socks.mq(mqsdk.REQ, rcvtimeo=QUIET)
    endpoint = socks.bind(req)
    dying = socks.mq(mqsdk.REP)
    dying.connect(endpoint)
    req.send(b"will never be answered")
    assert dying.recv() == b"will never be answered"
    dying.close(linger=0)
    observer.wait("disconnected", req)
    with pytest.raises(mqsdk.Again):
        req.recv()  # rcvtimeo: the caller is not stuck forever
    with pytest.raises(mqsdk.MQError) as info:
        req.send(b"retry")  # strict: still waiting for that reply
    assert info.value.errno == EFSM
    req.req_relaxed = 1  # ...which is what relaxed mode is for
    healthy = socks.mq(mqsdk.REP)
    healthy.connect(endpoint)
    observer.wait("connected", req, count=2)
    req.send(b"retry")
    assert healthy.recv() == b"retry"
    healthy.send(b"answered")
    assert req.recv() == b"answered"


def test_req_peer_restarted_mid_request_connected_req(socks: Sockets, observer: Observer) -> None:
    req = socks.mq(mqsdk.REQ, rcvtimeo=QUIET, req_relaxed=1, req_correlate=1)
    first = socks.mq(mqsdk.REP)
    endpoint = socks.bind(first, "ipc")
    req.connect(endpoint)
    req.send(b"lost")
    assert first.recv() == b"lost"
    first.close(linger=0)
    observer.wait("disconnected", req)
    with pytest.raises(mqsdk.Again):
        req.recv()
    second = socks.mq(mqsdk.REP)
    second.bind(endpoint)  # the same endpoint: REQ's pipe reconnects to it
    req.send(b"again")  # relaxed: allowed; queued on the reconnecting pipe
    assert second.recv() == b"again"
    second.send(b"finally")
    req.rcvtimeo = TIMEO
    assert req.recv() == b"finally"


# -- DEALER -------------------------------------------------------------------------------


def test_dealer_talks_to_rep_with_its_own_delimiter(socks: Sockets) -> None:
    rep = socks.mq(mqsdk.REP)
    dealer = socks.mq(mqsdk.DEALER)
    dealer.connect(socks.bind(rep))
    for i in range(3):  # asynchronous: several requests in flight
        dealer.send_multipart([b"", b"q%d" % i])
    for i in range(3):
        assert rep.recv() == b"q%d" % i
        rep.send(b"a%d" % i)
    assert [dealer.recv_multipart() for _ in range(3)] == [[b"", b"a%d" % i] for i in range(3)]


def test_dealer_load_balances_and_fair_queues(socks: Sockets) -> None:
    dealer = socks.mq(mqsdk.DEALER)
    peers = [socks.mq(mqsdk.DEALER) for _ in range(2)]
    for peer in peers:
        dealer.connect(socks.bind(peer))
    for i in range(4):
        dealer.send(b"%d" % i)
    assert [peers[0].recv() for _ in range(2)] == [b"0", b"2"]
    assert [peers[1].recv() for _ in range(2)] == [b"1", b"3"]
    for peer in peers:
        peer.send_multipart([b"from", b"%d" % peers.index(peer)])
    received = sorted(tuple(dealer.recv_multipart()) for _ in peers)
    assert received == [(b"from", b"0"), (b"from", b"1")]


def test_dealer_blocks_at_hwm(socks: Sockets) -> None:
    dealer = socks.mq(mqsdk.DEALER, sndhwm=1, sndtimeo=100)
    with pytest.raises(mqsdk.Again):
        dealer.send(b"no peer", mqsdk.NOBLOCK)
    assert not dealer.poll(0, mqsdk.POLLOUT)
    dealer.connect("tcp://127.0.0.1:1")  # never answers; the pipe exists at once
    assert dealer.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT
    dealer.send(b"queued")
    assert not dealer.poll(0, mqsdk.POLLOUT)
    with pytest.raises(mqsdk.Again):
        dealer.send(b"full", mqsdk.NOBLOCK)
    with pytest.raises(mqsdk.Again):
        dealer.send(b"full")  # waited sndtimeo


# -- ROUTER -------------------------------------------------------------------------------


def _auto_number(rid: bytes) -> int:
    assert len(rid) == 5
    assert rid[0] == 0
    return int.from_bytes(rid[1:], "big")


def test_router_generates_5_byte_ids_for_anonymous_peers(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER)
    endpoint = socks.bind(router)
    dealers = [socks.mq(mqsdk.DEALER) for _ in range(2)]
    ids = []
    for dealer in dealers:
        dealer.connect(endpoint)
        dealer.send(b"hello")
        rid, body = router.recv_multipart()
        assert body == b"hello"
        ids.append(rid)
    first, second = (_auto_number(rid) for rid in ids)
    assert second == (first + 1) % 2**32  # a counter
    for rid, dealer in zip(ids, dealers, strict=True):
        router.send_multipart([rid, b"for " + rid])
        assert dealer.recv() == b"for " + rid
    other = socks.mq(mqsdk.ROUTER)
    anonymous = socks.mq(mqsdk.DEALER)
    anonymous.connect(socks.bind(other))
    anonymous.send(b"x")
    assert other.recv_multipart()[0] != ids[0]  # random start per socket (2**-32 to fail)


def test_router_routes_by_identity(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER)
    endpoint = socks.bind(router)
    peers = {}
    for name in (b"alice", b"bob"):
        dealer = socks.mq(mqsdk.DEALER, routing_id=name)
        dealer.connect(endpoint)
        dealer.send(b"I am " + name)
        peers[name] = dealer
    got = sorted(tuple(router.recv_multipart()) for _ in peers)
    assert got == [(b"alice", b"I am alice"), (b"bob", b"I am bob")]
    for name in (b"bob", b"alice"):
        router.send_multipart([name, b"to", name])
    for name, dealer in peers.items():
        assert dealer.recv_multipart() == [b"to", name]


def test_router_refuses_a_duplicate_identity(socks: Sockets, observer: Observer) -> None:
    router = socks.mq(mqsdk.ROUTER)
    endpoint = socks.bind(router)
    first = socks.mq(mqsdk.DEALER, routing_id=b"dup")
    first.connect(endpoint)
    first.send(b"first")
    assert router.recv_multipart() == [b"dup", b"first"]
    second = socks.mq(mqsdk.DEALER, routing_id=b"dup", rcvtimeo=QUIET, reconnect_ivl=-1)
    second.connect(endpoint)
    second.send(b"second")
    observer.wait("connected", router, count=2)
    recv_nothing(router)  # (the ROUTER meets the new peer when it is next used)
    observer.wait("disconnected", router)  # the refused connection was closed
    router.send_multipart([b"dup", b"to the first"])
    assert first.recv() == b"to the first"
    with pytest.raises(mqsdk.Again):
        second.recv()


def test_router_handover_gives_the_id_to_the_new_peer(socks: Sockets, observer: Observer) -> None:
    router = socks.mq(mqsdk.ROUTER, router_handover=1)
    assert router.router_handover == 1
    endpoint = socks.bind(router)
    old = socks.mq(mqsdk.DEALER, routing_id=b"same", rcvtimeo=QUIET, reconnect_ivl=-1)
    old.connect(endpoint)
    old.send(b"old")
    assert router.recv_multipart() == [b"same", b"old"]
    new = socks.mq(mqsdk.DEALER, routing_id=b"same")
    new.connect(endpoint)
    new.send(b"new")
    assert router.recv_multipart() == [b"same", b"new"]
    router.send_multipart([b"same", b"to whoever has the id"])
    assert new.recv() == b"to whoever has the id"
    observer.wait("disconnected", router)  # the old connection was closed
    with pytest.raises(mqsdk.Again):
        old.recv()


def test_router_unroutable_is_dropped_and_counted(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER)
    assert router.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT  # never blocks without mandatory
    router.send_multipart([b"nobody", b"lost"])
    router.send_multipart([b"nobody", b"lost again"], mqsdk.NOBLOCK)
    assert router.stats["unroutable"] == 2
    router.send(b"only an id")  # one frame: nothing to deliver; dropped, not counted
    assert router.stats["unroutable"] == 2


def test_router_mandatory_raises_ehostunreach(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER)
    router.setsockopt(mqsdk.ROUTER_MANDATORY, 1)
    assert router.getsockopt(33) == 1
    assert not router.poll(0, mqsdk.POLLOUT)  # mandatory and no peer: not writable
    with pytest.raises(mqsdk.MQError) as info:
        router.send_multipart([b"nobody", b"x"])
    assert info.value.errno == errno.EHOSTUNREACH
    assert "nobody" in str(info.value)
    assert router.stats.get("unroutable", 0) == 0
    dealer = socks.mq(mqsdk.DEALER, routing_id=b"somebody")
    dealer.connect(socks.bind(router))
    send_when_routable(router, [b"somebody", b"found"])
    assert dealer.recv() == b"found"
    assert router.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT


def test_router_at_hwm_blocks_with_mandatory_else_drops(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER, sndhwm=2, sndbuf=4096, router_mandatory=1, sndtimeo=50)
    dealer = socks.mq(mqsdk.DEALER, routing_id=b"slow", rcvhwm=2, rcvbuf=4096)
    dealer.connect(socks.bind(router))
    big = b"x" * 65536
    send_when_routable(router, [b"slow", big])
    for _ in range(10_000):  # the peer does not read: its queues fill up
        try:
            router.send_multipart([b"slow", big])  # blocks up to sndtimeo when full...
        except mqsdk.Again:
            break  # ...then gives up
    else:
        raise AssertionError("the ROUTER never reported the full peer")
    with pytest.raises(mqsdk.Again):
        router.send_multipart([b"slow", big], mqsdk.NOBLOCK)
    router.router_mandatory = 0
    before = router.stats.get("hwm_dropped", 0)
    for _ in range(20):
        router.send_multipart([b"slow", big], mqsdk.NOBLOCK)  # never raises: drops
    assert router.stats["hwm_dropped"] > before
    assert router.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT


def test_probe_router_from_dealer_router_and_req(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER)
    endpoint = socks.bind(router)
    for number, name in ((mqsdk.DEALER, b"d"), (mqsdk.ROUTER, b"r"), (mqsdk.REQ, b"q")):
        prober = socks.mq(number, routing_id=name, probe_router=1)
        assert prober.probe_router == 1
        prober.connect(endpoint)
        assert router.recv_multipart() == [name, b""]  # without anything being sent


def test_router_probe_router_on_accepted_connections(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER, probe_router=1)
    dealer = socks.mq(mqsdk.DEALER)
    dealer.connect(socks.bind(router))
    assert dealer.recv_multipart() == [b""]


def test_router_to_router_with_connect_routing_id(socks: Sockets) -> None:
    server = socks.mq(mqsdk.ROUTER, routing_id=b"server")
    client = socks.mq(mqsdk.ROUTER, routing_id=b"client", router_mandatory=1)
    endpoint = socks.bind(server)
    client.connect_routing_id = b"srv-alias"
    assert client.connect_routing_id == b"srv-alias"
    client.connect(endpoint)
    assert client.connect_routing_id == b""  # used up by that connect()
    client.send_multipart([b"srv-alias", b"hello"])  # routable at once: queued until connected
    assert server.recv_multipart() == [b"client", b"hello"]
    server.send_multipart([b"client", b"welcome"])
    assert client.recv_multipart() == [b"srv-alias", b"welcome"]


def test_router_to_router_learns_the_peer_identity(socks: Sockets) -> None:
    server = socks.mq(mqsdk.ROUTER, routing_id=b"server")
    client = socks.mq(mqsdk.ROUTER, routing_id=b"client", router_mandatory=1)
    client.connect(socks.bind(server))
    send_when_routable(client, [b"server", b"hello"])
    assert server.recv_multipart() == [b"client", b"hello"]
    server.send_multipart([b"client", b"welcome"])
    assert client.recv_multipart() == [b"server", b"welcome"]


def test_connect_routing_id_must_be_unique(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER)
    peers = [socks.mq(mqsdk.ROUTER) for _ in range(2)]
    router.connect_routing_id = b"taken"
    router.connect(socks.bind(peers[0]))
    router.connect_routing_id = b"taken"
    with pytest.raises(mqsdk.MQError) as info:
        router.connect(socks.bind(peers[1]))
    assert info.value.errno == errno.EINVAL
    assert "taken" in str(info.value)
    assert router.connect_routing_id == b"taken"  # not used up by the failed connect


def test_router_recv_frame_knows_its_peer(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER)
    req = socks.mq(mqsdk.REQ, routing_id=b"who")
    req.connect(socks.bind(router))
    req.send(b"?")
    frames = router.recv_multipart(copy=False)
    assert [f.bytes for f in frames] == [b"who", b"", b"?"]
    assert frames[0].get("Socket-Type") == "REQ"
    assert frames[-1].get("Identity") == "who"


# -- events (POLLIN / POLLOUT) --------------------------------------------------------


def test_events_follow_the_req_rep_state_machines(socks: Sockets) -> None:
    req, rep = _req_rep(socks)
    assert req.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT  # connect() made the pipe
    assert req.poll(0, mqsdk.POLLIN) == 0
    assert rep.poll(0, mqsdk.POLLOUT) == 0  # nothing to reply to
    req.send(b"q")
    assert req.poll(0, mqsdk.POLLOUT) == 0  # strict: waiting for the reply
    assert rep.poll(TIMEO, mqsdk.POLLIN) == mqsdk.POLLIN
    assert rep.poll(0, mqsdk.POLLOUT) == 0  # receive first
    assert rep.recv() == b"q"
    assert rep.poll(0, mqsdk.POLLOUT | mqsdk.POLLIN) == mqsdk.POLLOUT
    rep.send(b"a")
    assert req.poll(TIMEO, mqsdk.POLLIN) == mqsdk.POLLIN
    assert req.recv() == b"a"
    assert req.poll(0, mqsdk.POLLOUT | mqsdk.POLLIN) == mqsdk.POLLOUT
    assert req.events == mqsdk.POLLOUT


# -- options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("socket_type", "option"),
    [
        (mqsdk.REQ, "req_relaxed"),
        (mqsdk.REQ, "req_correlate"),
        (mqsdk.REQ, "probe_router"),
        (mqsdk.DEALER, "probe_router"),
        (mqsdk.ROUTER, "probe_router"),
        (mqsdk.ROUTER, "router_mandatory"),
        (mqsdk.ROUTER, "router_handover"),
    ],
)
def test_flag_options_take_0_or_1(socks: Sockets, socket_type: int, option: str) -> None:
    sock = socks.mq(socket_type)
    assert sock.get(option) == 0
    sock.set(option, 1)
    assert sock.get(option) == 1
    sock.set(option, False)
    assert getattr(sock, option) == 0
    for bad in (2, -1, "1", 1.0, None, b"\x01"):
        with pytest.raises(mqsdk.MQError) as info:
            sock.set(option, bad)
        assert info.value.errno == errno.EINVAL
        assert option in str(info.value)
        assert "0" in str(info.value)
    assert sock.get(option) == 0


def test_connect_routing_id_validation(socks: Sockets) -> None:
    router = socks.mq(mqsdk.ROUTER)
    for bad, why in (("peer", "bytes"), (b"", "1 to 255"), (b"x" * 256, "1 to 255"), (5, "bytes")):
        with pytest.raises(mqsdk.MQError) as info:
            router.connect_routing_id = bad
        assert info.value.errno == errno.EINVAL
        assert why in str(info.value)
    router.setsockopt(mqsdk.CONNECT_ROUTING_ID, bytearray(b"ok"))
    assert router.connect_routing_id == b"ok"


@pytest.mark.parametrize(
    ("socket_type", "option"),
    [
        (mqsdk.REP, "req_relaxed"),
        (mqsdk.REP, "probe_router"),
        (mqsdk.DEALER, "router_mandatory"),
        (mqsdk.REQ, "connect_routing_id"),
        (mqsdk.ROUTER, "req_correlate"),
    ],
)
def test_options_of_other_types_are_refused(socks: Sockets, socket_type: int, option: str) -> None:
    sock = socks.mq(socket_type)
    with pytest.raises(mqsdk.MQError) as info:
        sock.set(option, 1)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(mqsdk.MQError):
        sock.get(option)
