"""PUB/SUB/XPUB/XSUB against real libzmq (pyzmq 27 bundles libzmq 4.3.5).

Every pair, over tcp and ipc, with mqsdk on either side and either side binding.
Filtering is checked on the wire: an XSUB does not filter, so an XSUB that receives
only what it subscribed to proves that the publisher filtered. The slow joiner is
beaten with wait_for_subscribers (mqsdk publisher) or by publishing until the marker
arrives (libzmq publisher), never by sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from pubsub_helpers import (
    WAIT,
    XPUB_REPORTS,
    endpoint,
    publish_until,
    receiver,
    recv,
    recv_until,
    sender,
    short_tmpdir,
    xpub_sequence,
)
from pubsub_raw import RawPeer

import mqsdk

pytestmark = pytest.mark.interop


class Both:
    """Makes mqsdk and pyzmq sockets and closes them all with linger 0."""

    def __init__(self, tmpdir: str) -> None:
        self.mctx = mqsdk.Context()
        self.zctx: zmq.Context[Any] = zmq.Context()
        self.tmpdir = tmpdir
        self.made: list[Any] = []
        self.count = 0

    def socket(self, impl: str, kind: str) -> Any:
        if impl == "mqsdk":
            sock: Any = self.mctx.socket(getattr(mqsdk, kind))
        else:
            sock = self.zctx.socket(getattr(zmq, kind))
        sock.linger = 0
        self.made.append(sock)
        return sock

    def bind(self, sock: Any, transport: str) -> str:
        self.count += 1
        sock.bind(endpoint(transport, self.tmpdir, f"z{self.count}"))
        last = sock.last_endpoint
        return last.decode() if isinstance(last, bytes) else str(last)

    def raw(self, address: str, **kwargs: Any) -> RawPeer:
        peer = RawPeer.connect(address, **kwargs)
        self.made.append(peer)
        return peer

    def close(self) -> None:
        for sock in reversed(self.made):
            if isinstance(sock, RawPeer):
                sock.close()
            else:
                sock.close(linger=0)
        self.mctx.term()
        self.zctx.term()


@pytest.fixture
def both() -> Iterator[Both]:
    with short_tmpdir() as tmpdir:
        sockets = Both(tmpdir)
        try:
            yield sockets
        finally:
            sockets.close()


def _wait_subscribed(pub: mqsdk.Socket, peer: Any, n: int = 1) -> None:
    """wait_for_subscribers, poking a libzmq peer meanwhile: libzmq attaches a new pipe
    (and sends its subscriptions on it) only when its socket is used."""
    deadline = time.monotonic() + WAIT
    while not pub.wait_for_subscribers(n, 0.05):
        if isinstance(peer, zmq.Socket):
            peer.getsockopt(zmq.EVENTS)
        assert time.monotonic() < deadline, "the subscription never arrived"


def _recv_poking(sock: Any, peer: Any) -> list[bytes]:
    """Receive on ``sock``, poking a libzmq ``peer`` meanwhile (see _wait_subscribed)."""
    deadline = time.monotonic() + WAIT
    while True:
        if isinstance(peer, zmq.Socket):
            peer.getsockopt(zmq.EVENTS)
        message = receiver(sock)(0.05)
        if message is not None:
            return message
        assert time.monotonic() < deadline, "nothing arrived"


def _bind_retrying(sock: Any, address: str) -> None:
    """Bind an address a closed libzmq socket may still hold for a moment (its I/O
    thread closes the listener asynchronously)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            sock.bind(address)
            return
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _subscribe(sock: Any, kind: str, topic: bytes) -> None:
    if kind == "SUB":
        sock.subscribe(topic)
    else:
        sock.send(b"\x01" + topic)


def _unsubscribe(sock: Any, kind: str, topic: bytes) -> None:
    if kind == "SUB":
        sock.unsubscribe(topic)
    else:
        sock.send(b"\x00" + topic)


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("binder", ["publisher", "subscriber"])
@pytest.mark.parametrize("mqsdk_side", ["publisher", "subscriber"])
@pytest.mark.parametrize(
    ("pub_kind", "sub_kind"), [("PUB", "SUB"), ("PUB", "XSUB"), ("XPUB", "SUB"), ("XPUB", "XSUB")]
)
def test_pair(
    both: Both, pub_kind: str, sub_kind: str, mqsdk_side: str, binder: str, transport: str
) -> None:
    pub = both.socket("mqsdk" if mqsdk_side == "publisher" else "zmq", pub_kind)
    sub = both.socket("mqsdk" if mqsdk_side == "subscriber" else "zmq", sub_kind)
    if binder == "publisher":
        sub.connect(both.bind(pub, transport))
    else:
        pub.connect(both.bind(sub, transport))
    _subscribe(sub, sub_kind, b"a")
    if pub_kind == "XPUB":
        # The subscription reaches the publisher's user.
        assert _recv_poking(pub, sub) == [b"\x01a"]
    if mqsdk_side == "publisher":
        _wait_subscribed(pub, sub)
        pub.send(b"b-first")
        pub.send(b"a-first")
        assert recv(sub) == [b"a-first"]
    else:
        before = publish_until(sender(pub), sub, [b"a-marker"], before=[[b"b-early"]])
        assert [m for m in before if not m[0].startswith(b"a")] == []
    # Filtered on the publisher's side: an XSUB would show anything that came.
    pub.send(b"b-late")
    pub.send_multipart([b"a-late", b"second frame"])
    assert recv_until(sub, [b"a-late", b"second frame"]) in ([], [[b"a-marker"]])
    _unsubscribe(sub, sub_kind, b"a")
    if pub_kind == "XPUB":
        assert recv(pub) == [b"\x00a"]


@pytest.mark.parametrize("option", sorted(XPUB_REPORTS, key=str))
def test_xpub_report_sequences_are_libzmqs(both: Both, option: str) -> None:
    """The sequences the mqsdk XPUB tests expect are what libzmq's XPUB reports."""
    xpub = both.socket("zmq", "XPUB")
    if option != "default":
        xpub.setsockopt(getattr(zmq, option.upper()), 1)
    address = both.bind(xpub, "tcp")
    p1 = both.raw(address)
    p2 = both.raw(address)
    assert xpub_sequence(xpub, p1, p2) == XPUB_REPORTS[option]
    p2.close()
    gone = sorted(recv(xpub)[0] for _ in range(5))
    assert gone == sorted([b"\x00A", b"\x00C", b"\x00s1", b"\x00s2", b"\x00s4"])


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_libzmq_xsub_counted_cancel_reaches_mqsdk_pub(both: Both, transport: str) -> None:
    """libzmq's XSUB sends 01A, 01A but only one 00A for two: the mqsdk PUB must drop A
    after that single cancel (one entry per pipe and topic, like libzmq's PUB)."""
    pub = both.socket("mqsdk", "PUB")
    xsub = both.socket("zmq", "XSUB")
    xsub.connect(both.bind(pub, transport))
    # Each barrier topic is new and no other topic is a prefix of it, so its marker
    # arrives only once the messages sent before it were applied.
    for data in (b"\x01A", b"\x01A", b"\x01p"):
        xsub.send(data)
    _wait_subscribed(pub, xsub)
    publish_until(sender(pub), xsub, [b"p-sync"], before=[[b"A-sync"]])
    xsub.send(b"\x00A")  # count 2 -> 1: libzmq keeps it to itself
    xsub.send(b"\x01q")
    publish_until(sender(pub), xsub, [b"q-sync"])
    pub.send(b"A-still")
    assert recv_until(xsub, [b"A-still"]) == []
    xsub.send(b"\x00A")  # count 1 -> 0: now the cancel goes
    xsub.send(b"\x01r")
    publish_until(sender(pub), xsub, [b"r-sync"], before=[[b"A-gone?"]])
    pub.send(b"A-gone")
    pub.send(b"p-end")
    assert recv_until(xsub, [b"p-end"]) == []


def test_mqsdk_sub_counts_like_libzmq_for_a_verbose_xpub(both: Both) -> None:
    xpub = both.socket("zmq", "XPUB")
    xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
    sub = both.socket("mqsdk", "SUB")
    sub.connect(both.bind(xpub, "tcp"))
    sub.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]
    sub.subscribe(b"A")
    assert recv(xpub) == [b"\x01A"]  # duplicates go upstream
    sub.unsubscribe(b"A")
    sub.subscribe(b"sync")
    assert recv(xpub) == [b"\x01sync"]  # no cancel for the first of two
    sub.unsubscribe(b"A")
    assert recv(xpub) == [b"\x00A"]


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_xsub_xpub_forwarder_between_libzmq_peers(both: Both, transport: str) -> None:
    """An mqsdk XSUB + XPUB forwarder (a poll loop) between libzmq publishers and
    subscribers passes subscriptions upstream and messages downstream."""
    xsub = both.socket("mqsdk", "XSUB")
    xpub = both.socket("mqsdk", "XPUB")
    upstream = both.bind(xsub, transport)
    downstream = both.bind(xpub, transport)
    pub = both.socket("zmq", "PUB")
    watcher = both.socket("zmq", "XPUB")  # an upstream publisher that shows what arrives
    pub.connect(upstream)
    watcher.connect(upstream)
    sub_x = both.socket("zmq", "SUB")
    sub_y = both.socket("zmq", "SUB")
    sub_x.connect(downstream)
    sub_y.connect(downstream)

    stop = threading.Event()
    failure: list[BaseException] = []

    def forward() -> None:
        try:
            while not stop.is_set():
                moved = False
                for source, target in ((xsub, xpub), (xpub, xsub)):
                    while source.poll(0):
                        target.send_multipart(source.recv_multipart())
                        moved = True
                if not moved:
                    xpub.poll(5)
                    xsub.poll(5)
        except BaseException as exc:  # report in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=forward, name="forwarder", daemon=True)
    thread.start()
    try:
        sub_x.subscribe(b"x")
        sub_y.subscribe(b"y")
        # The subscriptions travel SUB -> mqsdk XPUB -> loop -> mqsdk XSUB -> publisher.
        reports = {recv(watcher)[0], recv(watcher)[0]}
        assert reports == {b"\x01x", b"\x01y"}
        got_x = publish_until(sender(pub), sub_x, [b"x-marker"], before=[[b"z-nobody"]])
        got_y = publish_until(sender(pub), sub_y, [b"y-marker"], before=[[b"x-other"]])
        assert all(m[0].startswith(b"x") for m in got_x)
        assert all(m[0].startswith(b"y") for m in got_y)
        watcher.send_multipart([b"y-from-watcher", b"2 frames"])
        assert recv_until(sub_y, [b"y-from-watcher", b"2 frames"]) == []
        sub_x.close(linger=0)
        assert recv(watcher) == [b"\x00x"]  # the closed subscriber's topic, upstream
    finally:
        stop.set()
        thread.join(WAIT)
    assert not failure, failure
    assert not thread.is_alive()


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_libzmq_sub_gets_mqsdk_xpub_welcome(both: Both, transport: str) -> None:
    xpub = both.socket("mqsdk", "XPUB")
    xpub.xpub_welcome_msg = b"welcome"
    sub = both.socket("zmq", "SUB")
    sub.subscribe(b"welcome")
    sub.connect(both.bind(xpub, transport))
    assert recv(sub) == [b"welcome"]


def test_libzmq_pub_reads_mqsdk_sub_after_reconnect(both: Both) -> None:
    """A libzmq publisher restarted on the same endpoint gets the mqsdk SUB's replay."""
    sub = both.socket("mqsdk", "SUB")
    sub.reconnect_ivl = 10
    pub = both.socket("zmq", "PUB")
    address = both.bind(pub, "tcp")
    sub.subscribe(b"t")
    sub.connect(address)
    publish_until(sender(pub), sub, [b"t-first"])
    pub.close(linger=0)
    again = both.socket("zmq", "XPUB")
    _bind_retrying(again, address)
    assert recv(again) == [b"\x01t"]
    publish_until(sender(again), sub, [b"t-second"], before=[[b"u-other"]])


def test_mqsdk_proxy_forwarder_between_libzmq_peers(both: Both) -> None:
    """mqsdk.proxy_steerable with an mqsdk XSUB frontend and XPUB backend."""
    xsub = both.socket("mqsdk", "XSUB")
    xpub = both.socket("mqsdk", "XPUB")
    upstream = both.bind(xsub, "tcp")
    downstream = both.bind(xpub, "ipc")
    control_name = f"inproc://{both.tmpdir.rsplit('/', 1)[-1]}-control"
    control = both.socket("mqsdk", "PAIR")
    control.bind(control_name)
    steer = both.socket("mqsdk", "PAIR")
    steer.connect(control_name)
    watcher = both.socket("zmq", "XPUB")
    watcher.connect(upstream)
    sub = both.socket("zmq", "SUB")
    sub.connect(downstream)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            mqsdk.proxy_steerable(xsub, xpub, None, control)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="proxy", daemon=True)
    thread.start()
    try:
        sub.subscribe(b"news")
        assert recv(watcher) == [b"\x01news"]
        got = publish_until(sender(watcher), sub, [b"news-marker"], before=[[b"sport"]])
        assert all(m[0].startswith(b"news") for m in got)
    finally:
        steer.send(b"TERMINATE")
        thread.join(WAIT)
    assert not failure, failure
    assert not thread.is_alive()
