"""``mqsdk_messages_dropped`` reports, in batches, the drops libzmq makes silently.

Each test makes one documented drop happen on real sockets and checks that the hook's
counts add up to the socket's own counters, by reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import mqsdk
from mqsdk.testing import fixtures
from mqsdk.testing.helpers import WAIT, wait_until

BIG = bytes(65536)


class DropLog:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, str, int]] = []

    @mqsdk.hookimpl
    def mqsdk_messages_dropped(self, socket: Any, reason: str, count: int) -> None:
        self.calls.append((socket, reason, count))

    def total(self, socket: Any, reason: str) -> int:
        return sum(c for s, r, c in self.calls if s is socket and r == reason)


ctx = fixtures.ctx  # a context destroyed with linger 0 after each test


@pytest.fixture
def drops(ctx: mqsdk.Context) -> Iterator[DropLog]:
    log = DropLog()
    ctx.registry.register_observer(log)
    yield log
    ctx.registry.unregister_observer(log)


def _fill_until(sock: mqsdk.Socket, counter: str, message: list[bytes]) -> None:
    """Send (never blocking: these sockets drop instead) until ``counter`` moves."""
    for _ in range(5000):
        sock.send_multipart(message)
        if sock.stats.get(counter, 0):
            return
    raise AssertionError(f"no message was counted in stats[{counter!r}] after 5000 sends")


def test_pub_at_hwm_is_reported_at_close(ctx: mqsdk.Context, drops: DropLog) -> None:
    pub = ctx.socket(mqsdk.PUB)
    pub.sndhwm = 1
    pub.sndbuf = 4096
    pub.bind("tcp://127.0.0.1:*")
    sub = ctx.socket(mqsdk.SUB)
    sub.rcvhwm = 1
    sub.rcvbuf = 4096
    sub.subscribe(b"")
    sub.connect(pub.last_endpoint.decode())
    assert pub.wait_for_subscribers(1, WAIT), "the subscriber never subscribed"
    _fill_until(pub, "dropped_hwm", [BIG])  # the subscriber never reads
    pub.close(linger=0)
    dropped = pub.stats["dropped_hwm"]
    assert dropped > 0
    assert drops.total(pub, "hwm") == dropped
    assert all(count > 0 for _, _, count in drops.calls)
    sub.close(linger=0)


def test_router_unroutable_is_reported_at_close(ctx: mqsdk.Context, drops: DropLog) -> None:
    router = ctx.socket(mqsdk.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    for _ in range(3):
        router.send_multipart([b"nobody", b"lost"])  # no such peer: dropped silently
    assert router.stats["unroutable"] == 3
    router.close(linger=0)
    assert drops.total(router, "unroutable") == 3
    assert drops.total(router, "hwm") == 0


def test_router_to_a_full_peer_is_reported_as_hwm(ctx: mqsdk.Context, drops: DropLog) -> None:
    router = ctx.socket(mqsdk.ROUTER)
    router.sndhwm = 1
    router.sndbuf = 4096
    router.rcvtimeo = int(WAIT * 1000)
    router.bind("tcp://127.0.0.1:*")
    dealer = ctx.socket(mqsdk.DEALER)
    dealer.routing_id = b"slow"
    dealer.rcvhwm = 1
    dealer.rcvbuf = 4096
    dealer.connect(router.last_endpoint.decode())
    dealer.send(b"hello")
    assert router.recv_multipart() == [b"slow", b"hello"]
    _fill_until(router, "hwm_dropped", [b"slow", BIG])  # the dealer never reads
    router.close(linger=0)
    assert drops.total(router, "hwm") == router.stats["hwm_dropped"] > 0
    dealer.close(linger=0)


def test_drops_are_reported_while_the_socket_lives(ctx: mqsdk.Context, drops: DropLog) -> None:
    router = ctx.socket(mqsdk.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    router.send_multipart([b"nobody", b"lost"])
    router.send_multipart([b"nobody", b"lost"])
    wait_until(lambda: drops.total(router, "unroutable") == 2, "a report while the socket lives")
    router.close(linger=0)
    assert drops.total(router, "unroutable") == 2, "the close reported the drops again"


def test_no_drops_no_call(ctx: mqsdk.Context, drops: DropLog) -> None:
    router = ctx.socket(mqsdk.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    router.close(linger=0)
    assert drops.calls == []
