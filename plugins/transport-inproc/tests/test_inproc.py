"""inproc between sockets of one context: ordering, HWM, by-reference, lifecycle."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator

import pytest

import mqsdk

TIMEOUT_MS = 5000


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def _socket(ctx: mqsdk.Context, kind: int) -> mqsdk.Socket:
    s = ctx.socket(kind)
    s.rcvtimeo = TIMEOUT_MS
    s.sndtimeo = TIMEOUT_MS
    return s


def test_bind_then_connect(ctx: mqsdk.Context) -> None:
    pull, push = _socket(ctx, mqsdk.PULL), _socket(ctx, mqsdk.PUSH)
    pull.bind("inproc://work")
    assert pull.last_endpoint == b"inproc://work"
    push.connect("inproc://work")
    push.send_multipart([b"a", b"", b"c"])
    assert pull.recv_multipart() == [b"a", b"", b"c"]


def test_connect_before_bind_queues(ctx: mqsdk.Context) -> None:
    push = _socket(ctx, mqsdk.PUSH)
    push.connect("inproc://later")
    for i in range(3):
        push.send(b"%d" % i)
    pull = _socket(ctx, mqsdk.PULL)
    pull.bind("inproc://later")
    assert [pull.recv() for _ in range(3)] == [b"0", b"1", b"2"]


def test_messages_cross_by_reference(ctx: mqsdk.Context) -> None:
    a, b = _socket(ctx, mqsdk.PAIR), _socket(ctx, mqsdk.PAIR)
    a.bind("inproc://ref")
    b.connect("inproc://ref")
    payload = b"x" * 1_000_000
    b.send(payload)
    assert a.recv() is payload  # the same object: no encoding, no copy


def test_pair_both_ways_across_threads(ctx: mqsdk.Context) -> None:
    a, b = _socket(ctx, mqsdk.PAIR), _socket(ctx, mqsdk.PAIR)
    a.bind("inproc://echo")
    b.connect("inproc://echo")
    count = 2000

    def echo() -> None:
        for _ in range(count):
            b.send(b.recv())

    thread = threading.Thread(target=echo)
    thread.start()
    for i in range(count):
        a.send(b"%d" % i)
        assert a.recv() == b"%d" % i
    thread.join(10)
    assert not thread.is_alive()


def test_many_messages_between_threads_in_order(ctx: mqsdk.Context) -> None:
    pull, push = _socket(ctx, mqsdk.PULL), _socket(ctx, mqsdk.PUSH)
    pull.bind("inproc://stream")
    push.connect("inproc://stream")
    count = 50000

    def produce() -> None:
        for i in range(count):
            push.send(i.to_bytes(4, "big"))

    thread = threading.Thread(target=produce)
    thread.start()
    got = [int.from_bytes(pull.recv(), "big") for _ in range(count)]
    thread.join(10)
    assert got == list(range(count))


def test_hwm_is_sender_sndhwm_plus_receiver_rcvhwm(ctx: mqsdk.Context) -> None:
    pull, push = _socket(ctx, mqsdk.PULL), _socket(ctx, mqsdk.PUSH)
    pull.rcvhwm = 3
    push.sndhwm = 4
    pull.bind("inproc://hwm")
    push.connect("inproc://hwm")
    for i in range(7):
        push.send(b"%d" % i, mqsdk.NOBLOCK)
    with pytest.raises(mqsdk.Again):
        push.send(b"7", mqsdk.NOBLOCK)
    assert pull.recv() == b"0"
    assert pull.recv() == b"1"
    assert pull.recv() == b"2"
    assert pull.recv() == b"3"  # now at the low-water mark: room again
    push.send(b"7", mqsdk.NOBLOCK)


def test_blocked_sender_is_woken_when_the_reader_drains(ctx: mqsdk.Context) -> None:
    pull, push = _socket(ctx, mqsdk.PULL), _socket(ctx, mqsdk.PUSH)
    pull.rcvhwm = 1
    push.sndhwm = 1
    pull.bind("inproc://wake")
    push.connect("inproc://wake")
    sent = threading.Event()

    def produce() -> None:
        for i in range(100):
            push.send(b"%d" % i)  # blocks at HWM 2 until the reader catches up
        sent.set()

    thread = threading.Thread(target=produce)
    thread.start()
    assert [pull.recv() for _ in range(100)] == [b"%d" % i for i in range(100)]
    assert sent.wait(10)
    thread.join(10)


def test_double_bind_is_address_in_use(ctx: mqsdk.Context) -> None:
    _socket(ctx, mqsdk.PULL).bind("inproc://dup")
    with pytest.raises(mqsdk.MQError) as info:
        _socket(ctx, mqsdk.PULL).bind("inproc://dup")
    assert info.value.errno == errno.EADDRINUSE


def test_names_are_per_context() -> None:
    with mqsdk.Context() as one, mqsdk.Context() as two:
        one.socket(mqsdk.PULL).bind("inproc://same")
        two.socket(mqsdk.PULL).bind("inproc://same")  # no clash


def test_incompatible_types_are_refused(ctx: mqsdk.Context) -> None:
    _socket(ctx, mqsdk.PULL).bind("inproc://typed")
    with pytest.raises(mqsdk.MQError, match="cannot talk to it") as info:
        _socket(ctx, mqsdk.PULL).connect("inproc://typed")
    assert info.value.errno == mqsdk.errors.ENOCOMPATPROTO


def test_incompatible_pending_connect_is_dropped_at_bind(ctx: mqsdk.Context) -> None:
    pull = _socket(ctx, mqsdk.PULL)
    pull.connect("inproc://pending")
    other = _socket(ctx, mqsdk.PULL)
    other.bind("inproc://pending")  # PULL-PULL: the pending connection is refused
    good = _socket(ctx, mqsdk.PUSH)
    good.connect("inproc://pending")
    good.send(b"ok")
    assert other.recv() == b"ok"


def test_unbind_frees_the_name_and_detaches(ctx: mqsdk.Context) -> None:
    pull, push = _socket(ctx, mqsdk.PULL), _socket(ctx, mqsdk.PUSH)
    pull.bind("inproc://gone")
    push.connect("inproc://gone")
    push.send(b"before")
    assert pull.recv() == b"before"
    pull.unbind("inproc://gone")
    with pytest.raises(mqsdk.Again):
        push.send(b"after", mqsdk.NOBLOCK)
    again = _socket(ctx, mqsdk.PULL)
    again.bind("inproc://gone")


def test_close_of_the_binder_detaches_the_connecter(ctx: mqsdk.Context) -> None:
    pull, push = _socket(ctx, mqsdk.PULL), _socket(ctx, mqsdk.PUSH)
    pull.bind("inproc://closing")
    push.connect("inproc://closing")
    pull.close()
    with pytest.raises(mqsdk.Again):
        push.send(b"x", mqsdk.NOBLOCK)


def test_frame_properties(ctx: mqsdk.Context) -> None:
    pull, push = _socket(ctx, mqsdk.PULL), _socket(ctx, mqsdk.PUSH)
    pull.bind("inproc://props")
    push.connect("inproc://props")
    push.send(b"x")
    frame = pull.recv(copy=False)
    assert frame.get("Socket-Type") == "PUSH"


def test_empty_name_is_refused(ctx: mqsdk.Context) -> None:
    with pytest.raises(mqsdk.EndpointError, match="needs a name"):
        _socket(ctx, mqsdk.PULL).bind("inproc://")


def test_counters(ctx: mqsdk.Context) -> None:
    pull, push = _socket(ctx, mqsdk.PULL), _socket(ctx, mqsdk.PUSH)
    pull.bind("inproc://counted")
    push.connect("inproc://counted")
    push.send_multipart([b"ab", b"cde"])
    push.send(b"f")
    assert push.stats["msgs_out"] == 2 and push.stats["bytes_out"] == 6
    assert pull.stats["msgs_in"] == 2 and pull.stats["bytes_in"] == 6


def test_request_reply_over_inproc(ctx: mqsdk.Context) -> None:
    rep, req = _socket(ctx, mqsdk.REP), _socket(ctx, mqsdk.REQ)
    rep.bind("inproc://rr")
    req.connect("inproc://rr")
    req.send(b"question")
    assert rep.recv() == b"question"
    rep.send(b"answer")
    assert req.recv() == b"answer"


def test_dealer_router_over_inproc_with_identity(ctx: mqsdk.Context) -> None:
    router, dealer = _socket(ctx, mqsdk.ROUTER), _socket(ctx, mqsdk.DEALER)
    dealer.routing_id = b"worker-1"
    router.bind("inproc://dr")
    dealer.connect("inproc://dr")
    dealer.send(b"ready")
    assert router.recv_multipart() == [b"worker-1", b"ready"]
    router.send_multipart([b"worker-1", b"job"])
    assert dealer.recv() == b"job"


def test_pub_sub_over_inproc_filters(ctx: mqsdk.Context) -> None:
    pub, sub = _socket(ctx, mqsdk.PUB), _socket(ctx, mqsdk.SUB)
    pub.bind("inproc://ps")
    sub.subscribe(b"a")
    sub.connect("inproc://ps")
    assert pub.wait_for_subscribers(1, timeout=5)
    pub.send(b"b-skipped")
    pub.send(b"a-kept")
    assert sub.recv() == b"a-kept"


def test_sub_connecting_before_the_pub_binds(ctx: mqsdk.Context) -> None:
    sub = _socket(ctx, mqsdk.SUB)
    sub.subscribe(b"")
    sub.connect("inproc://late-pub")
    pub = _socket(ctx, mqsdk.PUB)
    pub.bind("inproc://late-pub")
    assert pub.wait_for_subscribers(1, timeout=5)
    pub.send(b"hello")
    assert sub.recv() == b"hello"


def test_xpub_sees_subscriptions_over_inproc(ctx: mqsdk.Context) -> None:
    xpub, xsub = _socket(ctx, mqsdk.XPUB), _socket(ctx, mqsdk.XSUB)
    xpub.bind("inproc://xx")
    xsub.connect("inproc://xx")
    xsub.send(b"\x01topic")
    assert xpub.recv() == b"\x01topic"
    xpub.send(b"topic data")
    assert xsub.recv() == b"topic data"


def test_probe_router_over_inproc(ctx: mqsdk.Context) -> None:
    router, dealer = _socket(ctx, mqsdk.ROUTER), _socket(ctx, mqsdk.DEALER)
    dealer.routing_id = b"probe"
    dealer.probe_router = 1
    router.bind("inproc://probe")
    dealer.connect("inproc://probe")
    assert router.recv_multipart() == [b"probe", b""]
