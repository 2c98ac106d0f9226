"""PUB/SUB/XPUB/XSUB between mqsdk sockets, and against hand-written ZMTP peers.

Every wait is bounded (pubsub_helpers.WAIT); absence is shown with markers, never by
sleeping.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pubsub_helpers import (
    WAIT,
    XPUB_REPORTS,
    endpoint,
    publish_until,
    recv,
    recv_until,
    sender,
    short_tmpdir,
    xpub_sequence,
)
from pubsub_raw import RawListener, RawPeer, command, message

import mqsdk


class Sockets:
    """Makes mqsdk sockets and raw peers, and closes them all (linger 0)."""

    def __init__(self, ctx: mqsdk.Context, tmpdir: str) -> None:
        self.ctx = ctx
        self.tmpdir = tmpdir
        self.made: list[Any] = []
        self.count = 0

    def socket(self, kind: int, **options: Any) -> mqsdk.Socket:
        sock = self.ctx.socket(kind)
        sock.linger = 0
        for name, value in options.items():
            sock.set(name, value)
        self.made.append(sock)
        return sock

    def bound(self, kind: int, transport: str = "tcp", **options: Any) -> tuple[mqsdk.Socket, str]:
        sock = self.socket(kind, **options)
        self.count += 1
        sock.bind(endpoint(transport, self.tmpdir, f"s{self.count}"))
        return sock, sock.last_endpoint.decode()

    def raw(self, address: str, **kwargs: Any) -> RawPeer:
        peer = RawPeer.connect(address, **kwargs)
        self.made.append(peer)
        return peer

    def listener(self) -> RawListener:
        lst = RawListener()
        self.made.append(lst)
        return lst

    def close_all(self) -> None:
        for item in reversed(self.made):
            if isinstance(item, mqsdk.Socket):
                item.close(linger=0)
            else:
                item.close()


@pytest.fixture
def socks() -> Iterator[Sockets]:
    ctx = mqsdk.Context()
    with short_tmpdir() as tmpdir:
        sockets = Sockets(ctx, tmpdir)
        try:
            yield sockets
        finally:
            sockets.close_all()
            ctx.term()


# -- filtering ----------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc", "inproc"])
def test_pub_filters_by_prefix_per_subscriber(socks: Sockets, transport: str) -> None:
    pub, address = socks.bound(mqsdk.PUB, transport)
    news = socks.socket(mqsdk.SUB)
    weather = socks.socket(mqsdk.SUB)
    news.subscribe(b"news")
    weather.subscribe(b"weather.")
    news.connect(address)
    weather.connect(address)
    assert pub.wait_for_subscribers(2, WAIT)
    for topic in (b"sports", b"weather.paris", b"news.1", b"newsflash", b"weather"):
        pub.send(topic)
    pub.send_multipart([b"news.2", b"part 2", b"part 3"])
    assert recv(news) == [b"news.1"]
    assert recv(news) == [b"newsflash"]
    assert recv(news) == [b"news.2", b"part 2", b"part 3"]  # first frame matched, all go
    assert recv(weather) == [b"weather.paris"]
    pub.send(b"weather.end")
    assert recv(weather) == [b"weather.end"]


def test_empty_subscription_gets_everything(socks: Sockets) -> None:
    pub, address = socks.bound(mqsdk.PUB)
    sub = socks.socket(mqsdk.SUB)
    sub.subscribe(b"")
    sub.connect(address)
    assert pub.wait_for_subscribers(1, WAIT)
    for body in (b"", b"a", b"\x00\x01"):
        pub.send(body)
    assert [recv(sub) for _ in range(3)] == [[b""], [b"a"], [b"\x00\x01"]]


def test_sub_without_subscription_gets_nothing(socks: Sockets) -> None:
    pub, address = socks.bound(mqsdk.PUB)
    sub = socks.socket(mqsdk.SUB)
    sub.connect(address)
    assert not pub.wait_for_subscribers(1, 0.2)
    pub.send(b"hello")
    with pytest.raises(mqsdk.Again):
        sub.recv(mqsdk.NOBLOCK)


def test_filter_is_on_the_publisher_side(socks: Sockets) -> None:
    """A raw subscriber sees on the wire only what it subscribed to."""
    pub, address = socks.bound(mqsdk.PUB)
    peer = socks.raw(address, socket_type=b"SUB")
    peer.send(command(b"SUBSCRIBE", b"a"))
    assert pub.wait_for_subscribers(1, WAIT)
    pub.send(b"b-first")
    pub.send(b"a-second")
    item = peer.read_item()
    assert (item.kind, item.frames) == ("msg", (b"a-second",))


# -- counting -------------------------------------------------------------------------


def test_sub_subscriptions_are_counted(socks: Sockets) -> None:
    pub, address = socks.bound(mqsdk.PUB)
    sub = socks.socket(mqsdk.SUB)
    sub.subscribe(b"A")
    sub.subscribe(b"A")
    sub.subscribe(b"m")
    sub.connect(address)
    assert pub.wait_for_subscribers(1, WAIT)
    sub.unsubscribe(b"A")  # one of two: still subscribed
    got = publish_until(sender(pub), sub, [b"m1"], before=[[b"A1"]])
    assert all(m == [b"A1"] for m in got)
    publish_until(sender(pub), sub, [b"A2"])  # A still arrives
    sub.unsubscribe(b"A")  # the second: gone
    got = publish_until(sender(pub), sub, [b"m2"], before=[[b"A3"]])
    pub.send(b"A4")
    pub.send(b"m3")
    assert recv_until(sub, [b"m3"]) == []
    assert all(m in ([b"A3"], [b"A2"], [b"m1"]) for m in got)


def _greeted(sub: mqsdk.Socket, peer: RawPeer) -> None:
    """Wait until the SUB greeted ``peer``: from then on changes go out live."""
    sub.subscribe(b"ready")
    assert peer.read_item().frames[0][-5:] == b"ready"  # SUBSCRIBE, or 01 to a 3.0 peer
    sub.unsubscribe(b"ready")
    assert peer.read_item().frames[0][-5:] == b"ready"


def test_sub_sends_every_subscribe_but_only_the_last_cancel(socks: Sockets) -> None:
    """As libzmq's SUB: duplicates go upstream, a CANCEL only when the count hits zero."""
    lst = socks.listener()
    sub = socks.socket(mqsdk.SUB)
    sub.connect(lst.endpoint)
    peer = lst.accept(socket_type=b"PUB")
    _greeted(sub, peer)
    sub.subscribe(b"A")
    sub.subscribe(b"A")
    sub.unsubscribe(b"A")
    sub.unsubscribe(b"unknown")
    sub.subscribe(b"sentinel")
    sub.unsubscribe(b"A")
    seen = [(i.name, i.frames) for i in (peer.read_item() for _ in range(4))]
    assert seen == [
        (b"SUBSCRIBE", (b"A",)),
        (b"SUBSCRIBE", (b"A",)),
        (b"SUBSCRIBE", (b"sentinel",)),
        (b"CANCEL", (b"A",)),
    ]


def test_publisher_keeps_one_entry_per_pipe_and_topic(socks: Sockets) -> None:
    """Two SUBSCRIBE A and one CANCEL A from a pipe remove A (libzmq's mtrie), because a
    subscriber sends CANCEL only for its last unsubscribe."""
    pub, address = socks.bound(mqsdk.PUB)
    peer = socks.raw(address, socket_type=b"SUB")
    peer.send(command(b"SUBSCRIBE", b"A") * 2 + command(b"SUBSCRIBE", b"m"))
    assert pub.wait_for_subscribers(1, WAIT)
    peer.send(command(b"CANCEL", b"A") + message(b"\x01z"))
    publish_until(sender(pub), peer, [b"z-synced"])
    pub.send(b"A1")
    pub.send(b"m1")
    assert peer.read_message() == (b"m1",)


def test_xsub_counts_and_forwards_only_the_last_cancel(socks: Sockets) -> None:
    lst = socks.listener()
    xsub = socks.socket(mqsdk.XSUB)
    xsub.connect(lst.endpoint)
    peer = lst.accept(socket_type=b"PUB")
    for data in (b"\x01abc", b"\x01abc", b"\x00abc", b"\x00nothing", b"hello", b"\x00abc"):
        xsub.send(data)
    items = [peer.read_item() for _ in range(4)]
    assert [i.raw for i in items] == [
        b"\x00\x04\x01abc",  # unchanged data frames, even to a 3.1 peer
        b"\x00\x04\x01abc",
        b"\x00\x05hello",
        b"\x00\x04\x00abc",
    ]


# -- SUB local filter ----------------------------------------------------------------------


def test_sub_filters_locally(socks: Sockets) -> None:
    """A publisher that ignores subscriptions (a raw peer) still cannot reach the user."""
    lst = socks.listener()
    sub = socks.socket(mqsdk.SUB)
    sub.subscribe(b"a")
    sub.connect(lst.endpoint)
    peer = lst.accept(socket_type=b"PUB")
    peer.send(message(b"b1") + message(b"a1") + message(b"c", b"a") + message(b"a2", b"x"))
    assert recv(sub) == [b"a1"]
    assert recv(sub) == [b"a2", b"x"]
    sub.unsubscribe(b"a")
    sub.subscribe(b"z")
    peer.send(message(b"a3") + message(b"z1"))
    assert recv(sub) == [b"z1"]  # a3 was queued but no longer matches


def test_sub_poll_ignores_filtered_messages(socks: Sockets) -> None:
    lst = socks.listener()
    sub = socks.socket(mqsdk.SUB)
    sub.subscribe(b"keep")
    sub.connect(lst.endpoint)
    peer = lst.accept(socket_type=b"PUB")
    peer.send(message(b"drop me"))
    peer.send(message(b"keep me"))
    assert sub.poll(int(WAIT * 1000)) == mqsdk.POLLIN
    assert sub.recv() == b"keep me"
    peer.send(message(b"drop again"))
    assert sub.poll(100) == 0


# -- wire forms ----------------------------------------------------------------------------


@pytest.mark.parametrize("minor", [0, 1])
def test_sub_subscription_wire_form(socks: Sockets, minor: int) -> None:
    """Vector 3: commands to a 3.1 peer, 01/00 messages to a 3.0 peer."""
    lst = socks.listener()
    sub = socks.socket(mqsdk.SUB)
    sub.connect(lst.endpoint)
    peer = lst.accept(socket_type=b"PUB", minor=minor)
    _greeted(sub, peer)
    sub.subscribe(b"topic")
    sub.unsubscribe(b"topic")
    raws = [peer.read_item().raw for _ in range(2)]
    if minor:
        assert raws == [b"\x04\x0f\x09SUBSCRIBEtopic", b"\x04\x0c\x06CANCELtopic"]
    else:
        assert raws == [b"\x00\x06\x01topic", b"\x00\x06\x00topic"]


@pytest.mark.parametrize("kind", ["SUB", "XSUB"])
def test_subscriptions_replayed_on_reconnect_per_peer_version(socks: Sockets, kind: str) -> None:
    lst = socks.listener()
    sub = socks.socket(getattr(mqsdk, kind), reconnect_ivl=10)
    if kind == "SUB":
        for topic in (b"A", b"A", b"C"):
            sub.subscribe(topic)
    else:
        for data in (b"\x01A", b"\x01A", b"\x01C", b"\x01D", b"\x00D"):
            sub.send(data)  # no peer yet: nothing goes, but XSUB remembers
    sub.connect(lst.endpoint)
    expected_commands = [(b"SUBSCRIBE", (b"A",)), (b"SUBSCRIBE", (b"C",))]
    first = lst.accept(socket_type=b"PUB", minor=1)
    assert [(i.name, i.frames) for i in (first.read_item() for _ in range(2))] == expected_commands
    first.close()
    old = lst.accept(socket_type=b"PUB", minor=0)
    assert [old.read_item().raw for _ in range(2)] == [b"\x00\x02\x01A", b"\x00\x02\x01C"]
    old.close()
    new = lst.accept(socket_type=b"PUB", minor=1)
    assert [(i.name, i.frames) for i in (new.read_item() for _ in range(2))] == expected_commands
    if kind == "SUB":
        sub.subscribe(b"E")
        assert new.read_item().raw == b"\x04\x0b\x09SUBSCRIBEE"
    else:
        sub.send(b"\x01E")
        assert new.read_item().raw == b"\x00\x02\x01E"


def test_sub_replays_each_topic_once(socks: Sockets) -> None:
    lst = socks.listener()
    sub = socks.socket(mqsdk.SUB)
    for topic in (b"A", b"A", b"", b"C"):
        sub.subscribe(topic)
    sub.connect(lst.endpoint)
    peer = lst.accept(socket_type=b"PUB")
    replay = [(i.name, i.frames) for i in (peer.read_item() for _ in range(3))]
    assert sorted(replay) == [
        (b"SUBSCRIBE", (b"",)),
        (b"SUBSCRIBE", (b"A",)),
        (b"SUBSCRIBE", (b"C",)),
    ]
    sub.subscribe(b"sentinel")
    assert peer.read_item().frames == (b"sentinel",)


def test_pub_honours_commands_and_messages(socks: Sockets) -> None:
    pub, address = socks.bound(mqsdk.PUB)
    new = socks.raw(address, socket_type=b"SUB", minor=1)
    old = socks.raw(address, socket_type=b"SUB", minor=0)
    new.send(
        command(b"SUBSCRIBE", b"cmd")
        + message(b"\x01old")
        + message(b"not a subscription")
        + message(b"\x01n-sync")
    )
    old.send(message(b"\x01old") + message(b"\x01") + message(b"\x00") + message(b"\x01o-sync"))
    assert pub.wait_for_subscribers(2, WAIT)
    publish_until(sender(pub), new, [b"n-sync"])
    publish_until(sender(pub), old, [b"o-sync"])
    for body in (b"x", b"cmd1", b"old1"):
        pub.send(body)
    assert new.read_message() == (b"cmd1",)
    assert new.read_message() == (b"old1",)
    assert old.read_message() == (b"old1",)


# -- XPUB ---------------------------------------------------------------------------------


@pytest.mark.parametrize("option", sorted(XPUB_REPORTS, key=str))
def test_xpub_reports_like_libzmq(socks: Sockets, option: str) -> None:
    """Same sequences as libzmq 4.3.5 gives (checked against pyzmq in the interop tests)."""
    xpub, address = socks.bound(mqsdk.XPUB)
    if option != "default":
        xpub.set(option, 1)
    p1 = socks.raw(address)
    p2 = socks.raw(address)
    assert xpub_sequence(xpub, p1, p2) == XPUB_REPORTS[option]
    p2.close()
    # p2 held A and C: both come back once (and its sentinels s1, s2, s4).
    gone = sorted(recv(xpub)[0] for _ in range(5))
    assert gone == sorted([b"\x00A", b"\x00C", b"\x00s1", b"\x00s2", b"\x00s4"])


def test_xpub_vector_4(socks: Sockets) -> None:
    """protocols.md 9.4: SUBSCRIBE cmd, 01old, CANCEL cmd -> 01cmd, 01old, 00cmd."""
    xpub, address = socks.bound(mqsdk.XPUB, xpub_verbose=1)
    peer = socks.raw(address)
    peer.send(command(b"SUBSCRIBE", b"cmd"))
    assert recv(xpub) == [b"\x01cmd"]
    peer.send(message(b"\x01old"))
    assert recv(xpub) == [b"\x01old"]
    peer.send(command(b"CANCEL", b"cmd"))
    assert recv(xpub) == [b"\x00cmd"]
    xpub.send(b"cmdnews")
    xpub.send(b"oldnews")
    assert peer.read_item().raw == b"\x00\x07oldnews"


def test_xpub_burst_of_both_forms(socks: Sockets) -> None:
    """All three at once: the same reports and the same filter (see README on order)."""
    xpub, address = socks.bound(mqsdk.XPUB, xpub_verbose=1)
    peer = socks.raw(address)
    peer.send(command(b"SUBSCRIBE", b"cmd") + message(b"\x01old") + command(b"CANCEL", b"cmd"))
    assert sorted(recv(xpub)[0] for _ in range(3)) == [b"\x00cmd", b"\x01cmd", b"\x01old"]
    xpub.send(b"cmdnews")
    xpub.send(b"oldnews")
    assert peer.read_message() == (b"oldnews",)


def test_xpub_hands_other_upstream_messages_to_the_user(socks: Sockets) -> None:
    xpub, address = socks.bound(mqsdk.XPUB)
    peer = socks.raw(address)
    peer.send(message(b"hello") + message(b"") + message(b"two", b"frames"))
    assert recv(xpub) == [b"hello"]
    assert recv(xpub) == [b""]
    assert recv(xpub) == [b"two", b"frames"]


def test_pub_ignores_upstream_messages_and_cannot_recv(socks: Sockets) -> None:
    pub, address = socks.bound(mqsdk.PUB)
    peer = socks.raw(address)
    peer.send(message(b"hello") + message(b"\x01t"))
    assert pub.wait_for_subscribers(1, WAIT)
    with pytest.raises(mqsdk.MQError) as info:
        pub.recv(mqsdk.NOBLOCK)
    assert info.value.errno == errno.ENOTSUP
    assert not pub.poll(0)


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_xpub_closed_subscriber_unsubscribes_once_per_topic(socks: Sockets, transport: str) -> None:
    xpub, address = socks.bound(mqsdk.XPUB, transport)
    sub1 = socks.socket(mqsdk.SUB)
    sub2 = socks.socket(mqsdk.SUB)
    for topic in (b"A", b"B", b"B"):
        sub1.subscribe(topic)
    sub1.connect(address)
    assert sorted([recv(xpub)[0], recv(xpub)[0]]) == [b"\x01A", b"\x01B"]
    sub2.subscribe(b"A")
    sub2.subscribe(b"C")
    sub2.connect(address)
    assert recv(xpub) == [b"\x01C"]  # A already had a subscriber
    sub1.close(linger=0)
    assert recv(xpub) == [b"\x00B"]  # A is still wanted by sub2
    sub2.unsubscribe(b"C")
    assert recv(xpub) == [b"\x00C"]


def test_xpub_verboser_reports_every_topic_of_a_closed_peer(socks: Sockets) -> None:
    xpub, address = socks.bound(mqsdk.XPUB, xpub_verboser=1)
    p1 = socks.raw(address)
    p2 = socks.raw(address)
    p1.send(command(b"SUBSCRIBE", b"A"))
    assert recv(xpub) == [b"\x01A"]
    p2.send(command(b"SUBSCRIBE", b"A"))
    assert recv(xpub) == [b"\x01A"]
    p1.close()
    assert recv(xpub) == [b"\x00A"]


def test_xpub_manual(socks: Sockets) -> None:
    xpub, address = socks.bound(mqsdk.XPUB, xpub_manual=1)
    peer = socks.raw(address)
    peer.send(command(b"SUBSCRIBE", b"A") + command(b"SUBSCRIBE", b"A"))
    assert recv(xpub) == [b"\x01A"]
    assert recv(xpub) == [b"\x01A"]  # every subscription is reported in manual mode
    assert not xpub.wait_for_subscribers(2, 0)
    assert xpub.wait_for_subscribers(1, 0)
    xpub.subscribe(b"X")  # for the pipe the last subscription came from
    xpub.send(b"A1")  # nothing added automatically: not sent
    xpub.send(b"X1")
    assert peer.read_message() == (b"X1",)
    xpub.unsubscribe(b"X")
    xpub.subscribe(b"")
    xpub.send(b"after")
    assert peer.read_message() == (b"after",)
    peer.close()
    assert recv(xpub) == [b"\x00A"]


def test_xpub_welcome_message(socks: Sockets) -> None:
    xpub, address = socks.bound(mqsdk.XPUB, xpub_welcome_msg=b"Welcome")
    assert xpub.xpub_welcome_msg == b"Welcome"
    sub = socks.socket(mqsdk.SUB)
    sub.subscribe(b"W")
    sub.connect(address)
    assert recv(sub) == [b"Welcome"]
    assert recv(xpub) == [b"\x01W"]
    peer = socks.raw(address)  # the welcome is the first message, unfiltered
    assert peer.read_item().raw == b"\x00\x07Welcome"


def test_xpub_welcome_once_per_connecting_pipe(socks: Sockets) -> None:
    lst = socks.listener()
    xpub = socks.socket(mqsdk.XPUB, xpub_welcome_msg=b"hi", reconnect_ivl=10)
    xpub.connect(lst.endpoint)
    peer = lst.accept(socket_type=b"SUB")
    assert peer.read_item().frames == (b"hi",)
    peer.close()
    again = lst.accept(socket_type=b"SUB")
    again.send(command(b"SUBSCRIBE", b""))
    publish_until(sender(xpub), again, [b"marker"])  # no second "hi" (libzmq: once per pipe)


# -- HWM ----------------------------------------------------------------------------------


def _slow_subscriber(socks: Sockets, pub: mqsdk.Socket, address: str, topic: bytes) -> RawPeer:
    peer = socks.raw(address, rcvbuf=4096)
    peer.send(command(b"SUBSCRIBE", topic))
    assert pub.wait_for_subscribers(1, WAIT)
    return peer


def test_pub_drops_per_pipe_at_hwm_and_counts(socks: Sockets) -> None:
    pub, address = socks.bound(mqsdk.PUB, sndhwm=2, sndbuf=4096)
    assert pub.stats.get("dropped_hwm", 0) == 0
    _slow_subscriber(socks, pub, address, b"big")  # never reads
    fast = socks.socket(mqsdk.SUB)
    fast.subscribe(b"fast")
    fast.connect(address)
    assert pub.wait_for_subscribers(2, WAIT)
    big = b"big" + bytes(65536)
    for _ in range(2000):
        pub.send(big)  # never blocks, never raises
        if pub.stats["dropped_hwm"]:
            break
    assert pub.stats["dropped_hwm"] > 0
    publish_until(sender(pub), fast, [b"fast: still served"])


@pytest.mark.parametrize("kind", ["PUB", "XPUB"])
def test_nodrop_makes_send_wait(socks: Sockets, kind: str) -> None:
    pub, address = socks.bound(getattr(mqsdk, kind), sndhwm=2, sndbuf=4096, xpub_nodrop=1)
    _slow_subscriber(socks, pub, address, b"big")
    fast = socks.socket(mqsdk.SUB)
    fast.subscribe(b"fast")
    fast.connect(address)
    assert pub.wait_for_subscribers(2, WAIT)
    big = b"big" + bytes(65536)
    with pytest.raises(mqsdk.Again):  # the loop ends with Again
        for _ in range(2000):
            pub.send(big, mqsdk.NOBLOCK)
    assert pub.stats.get("dropped_hwm", 0) == 0
    assert not pub.poll(0, mqsdk.POLLOUT)
    pub.sndtimeo = 50
    started = time.monotonic()
    with pytest.raises(mqsdk.Again):
        pub.send(big)
    assert time.monotonic() - started < WAIT
    # Messages the full peer does not want still go.
    publish_until(sender(pub), fast, [b"fast: not blocked"])


# -- reconnection and waiting ------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_resubscribe_after_publisher_restart(socks: Sockets, transport: str) -> None:
    pub, address = socks.bound(mqsdk.PUB, transport)
    sub = socks.socket(mqsdk.SUB, reconnect_ivl=10)
    sub.subscribe(b"t")
    sub.connect(address)
    assert pub.wait_for_subscribers(1, WAIT)
    pub.send(b"t1")
    assert recv(sub) == [b"t1"]
    pub.close(linger=0)
    restarted = socks.socket(mqsdk.PUB)
    restarted.bind(address)
    assert restarted.wait_for_subscribers(1, WAIT)  # the SUB replayed its subscription
    restarted.send(b"x")
    restarted.send(b"t2")
    assert recv(sub) == [b"t2"]


def test_wait_for_subscribers(socks: Sockets) -> None:
    pub, address = socks.bound(mqsdk.PUB)
    started = time.monotonic()
    assert pub.wait_for_subscribers(1, 0.1) is False
    assert time.monotonic() - started >= 0.1
    assert pub.wait_for_subscribers(0, 0) is True
    subs = []
    for topic in (b"a", b"b", b"c"):
        sub = socks.socket(mqsdk.SUB)
        sub.subscribe(topic)
        sub.connect(address)
        subs.append(sub)
    assert pub.wait_for_subscribers(3, WAIT) is True
    for topic in (b"a", b"b", b"c"):
        pub.send(topic + b"!")
    assert [recv(s) for s in subs] == [[b"a!"], [b"b!"], [b"c!"]]
    with pytest.raises(mqsdk.MQError):
        pub.wait_for_subscribers(-1, 0)


def test_wait_for_subscribers_on_xpub_keeps_the_reports(socks: Sockets) -> None:
    xpub, address = socks.bound(mqsdk.XPUB)
    sub = socks.socket(mqsdk.SUB)
    sub.subscribe(b"q")
    sub.connect(address)
    assert xpub.wait_for_subscribers(1, WAIT)
    assert xpub.wait_for_subscribers(2, 0.05) is False  # pending reports do not end it early
    assert recv(xpub) == [b"\x01q"]


def test_wait_for_subscribers_counts_peers_not_topics(socks: Sockets) -> None:
    pub, address = socks.bound(mqsdk.PUB)
    peer = socks.raw(address)
    peer.send(command(b"SUBSCRIBE", b"a") + command(b"SUBSCRIBE", b"b"))
    assert pub.wait_for_subscribers(1, WAIT)
    assert not pub.wait_for_subscribers(2, 0.05)
    peer.send(command(b"CANCEL", b"a") + command(b"CANCEL", b"b") + message(b"\x01s"))
    publish_until(sender(pub), peer, [b"s"])
    peer.send(command(b"CANCEL", b"s") + message(b"junk"))
    deadline = time.monotonic() + WAIT
    while pub.wait_for_subscribers(1, 0.01):  # until the cancels are applied
        assert time.monotonic() < deadline


# -- options ------------------------------------------------------------------------------


def test_options_and_errors(socks: Sockets) -> None:
    pub = socks.socket(mqsdk.PUB)
    xpub = socks.socket(mqsdk.XPUB)
    sub = socks.socket(mqsdk.SUB)
    xsub = socks.socket(mqsdk.XSUB)

    def einval(fn: Any, *args: Any) -> str:
        with pytest.raises(mqsdk.MQError) as info:
            fn(*args)
        assert info.value.errno == errno.EINVAL
        return str(info.value)

    assert "manual" in einval(xpub.subscribe, b"x")
    assert "xpub_manual" in einval(pub.set, mqsdk.SUBSCRIBE, b"x")
    assert "\\x01" in einval(xsub.set, mqsdk.SUBSCRIBE, b"x")
    assert "encode" in einval(sub.set, "subscribe", "text")
    einval(sub.set, 6, 42)
    einval(sub.get, mqsdk.SUBSCRIBE)
    einval(xpub.set, mqsdk.XPUB_VERBOSE, -1)
    einval(xpub.set, mqsdk.XPUB_NODROP, "yes")
    einval(sub.set, mqsdk.XPUB_VERBOSE, 1)  # not a SUB option
    einval(xpub.set, mqsdk.XPUB_WELCOME_MSG, "str")

    sub.setsockopt(6, bytearray(b"by number"))
    sub.setsockopt_string(mqsdk.SUBSCRIBE, "text")
    sub.unsubscribe("text")
    xpub.xpub_verbose = 2
    assert xpub.xpub_verbose == 1
    assert xpub.xpub_verboser == 0
    xpub.setsockopt(mqsdk.XPUB_VERBOSER, 1)
    assert (xpub.getsockopt(mqsdk.XPUB_VERBOSE), xpub.getsockopt(mqsdk.XPUB_VERBOSER)) == (1, 1)
    xpub.xpub_verbose = 1  # VERBOSE turns VERBOSER off, as in libzmq
    assert xpub.xpub_verboser == 0
    xpub.xpub_manual = True
    assert xpub.xpub_manual == 1
    xpub.subscribe(b"nobody yet")  # manual, no subscription received: ignored like libzmq
    xpub.xpub_welcome_msg = None
    assert xpub.xpub_welcome_msg == b""
    pub.xpub_nodrop = 1
    assert pub.getsockopt(mqsdk.XPUB_NODROP) == 1

    with pytest.raises(mqsdk.MQError) as info:
        sub.send(b"x")
    assert info.value.errno == errno.ENOTSUP
    with pytest.raises(mqsdk.MQError) as info:
        pub.recv()
    assert info.value.errno == errno.ENOTSUP
    assert pub.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT
    assert sub.poll(0, mqsdk.POLLOUT) == 0
    assert xsub.poll(0, mqsdk.POLLOUT) == mqsdk.POLLOUT
    assert (pub.type, xpub.type, sub.type, xsub.type) == (1, 9, 2, 10)


def test_socket_type_pairs(socks: Sockets) -> None:
    from mqsdk_pattern_pubsub import Pub, Sub, XPub, XSub

    assert Pub.peer_types == XPub.peer_types == frozenset({"SUB", "XSUB"})
    assert Sub.peer_types == XSub.peer_types == frozenset({"PUB", "XPUB"})
    pub, address = socks.bound(mqsdk.PUB)
    push = socks.socket(mqsdk.PUSH)
    push.connect(address)
    assert not pub.wait_for_subscribers(1, 0.2)


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_xsub_to_xpub_and_back(socks: Sockets, transport: str) -> None:
    xpub, address = socks.bound(mqsdk.XPUB, transport)
    xsub = socks.socket(mqsdk.XSUB)
    xsub.connect(address)
    xsub.send(b"\x01t")
    assert recv(xpub) == [b"\x01t"]
    xsub.send_multipart([b"upstream", b"data"])
    assert recv(xpub) == [b"upstream", b"data"]
    xpub.send(b"t-down")
    xpub.send(b"other")
    xpub.send(b"t-end")
    assert recv(xsub) == [b"t-down"]
    assert recv(xsub) == [b"t-end"]
    xsub.send(b"\x00t")
    assert recv(xpub) == [b"\x00t"]


def test_inproc_subscriber_connecting_before_the_bind(socks: Sockets) -> None:
    """inproc hands the SUB's greeting (its subscriptions) to the PUB before the PUB
    attaches the pipe: they must count all the same."""
    sub = socks.socket(mqsdk.SUB)
    sub.subscribe(b"early")
    name = f"inproc://{socks.tmpdir.rsplit('/', 1)[-1]}-early"
    sub.connect(name)
    pub = socks.socket(mqsdk.XPUB)
    pub.bind(name)
    assert recv(pub) == [b"\x01early"]
    assert pub.wait_for_subscribers(1, WAIT)
    pub.send(b"late")
    pub.send(b"early bird")
    assert recv(sub) == [b"early bird"]
