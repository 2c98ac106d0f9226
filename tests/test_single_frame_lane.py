"""The single-frame lane: a one-frame message travels as bare ``bytes``, not a list, for
the patterns that declare it (mqsdk._kernel.pipe.QueuedMessage), and every other pattern,
transport and codec still sees lists.

Observed where the lane lives: what a pipe's queue holds. The user-visible results are
the same either way, which the rest of the suite checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import zmq

import mqsdk
from mqsdk._kernel.pipe import Pipe
from mqsdk._kernel.registry import get_registry
from mqsdk.testing.helpers import wait_until

RCVTIMEO = 10_000


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.term()


def _socket(ctx: mqsdk.Context, kind: int) -> Any:
    sock = ctx.socket(kind)
    sock.rcvtimeo = RCVTIMEO
    sock.sndtimeo = RCVTIMEO
    sock.linger = 0
    return sock


def _queued(sock: Any) -> list[Any]:
    """Every message waiting in the socket's pipes, as queued."""
    sock.poll(0)  # applies the pipes the I/O thread attached meanwhile
    pipes: list[Pipe] = list(sock._pipes)
    return [message for pipe in pipes for message in pipe.inq]


def _endpoint(transport: str, sock: Any, name: str) -> str:
    if transport == "inproc":
        sock.bind(f"inproc://lane-{name}")
        return f"inproc://lane-{name}"
    sock.bind("tcp://127.0.0.1:*")
    return str(sock.last_endpoint.decode())


def test_a_pattern_sends_bare_frames_only_to_peers_that_take_them() -> None:
    """An inproc pipe hands the peer the very objects queued: a sender on the lane needs
    every peer type on it, or a ROUTER would index a bytes object."""
    registry = get_registry()
    patterns = {cls.name: cls for cls in registry.patterns.values()}
    for cls in patterns.values():
        if not cls.sends_bytes:
            continue
        for peer in cls.peer_types:
            if peer in patterns:
                assert patterns[peer].receives_bytes, f"{cls.name} sends bare frames to {peer}"


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_single_frames_queue_bare_and_multipart_stays_a_list(
    ctx: mqsdk.Context, transport: str
) -> None:
    pull = _socket(ctx, mqsdk.PULL)
    push = _socket(ctx, mqsdk.PUSH)
    push.connect(_endpoint(transport, pull, "pushpull"))
    push.send(b"one")
    push.send_multipart([b"two", b"parts"])
    push.send(memoryview(b"view"), copy=False)  # not bytes: queued as a list at the PUSH
    push.send(b"last")
    wait_until(lambda: len(_queued(pull)) == 4, "four messages queued at the PULL")
    queued = _queued(pull)
    # The PULL's connection decodes it as bytes; inproc hands over the PUSH's list.
    view_form = bytes if transport == "tcp" else list
    assert [type(m) for m in queued] == [bytes, list, view_form, bytes]
    assert pull.recv() == b"one"
    assert pull.recv_multipart() == [b"two", b"parts"]
    frame = pull.recv(copy=False)
    assert frame.bytes == b"view" and not frame.more
    assert pull.recv_multipart() == [b"last"]


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_subscribers_filter_bare_frames(ctx: mqsdk.Context, transport: str) -> None:
    pub = _socket(ctx, mqsdk.PUB)
    sub = _socket(ctx, mqsdk.SUB)
    xsub = _socket(ctx, mqsdk.XSUB)
    endpoint = _endpoint(transport, pub, "pubsub")
    sub.subscribe(b"keep")
    sub.connect(endpoint)
    xsub.connect(endpoint)
    xsub.send(b"\x01")  # everything
    pub.wait_for_subscribers(2, timeout=RCVTIMEO)
    for body in (b"drop-me", b"keep-1", b"keep-2"):
        pub.send(body)
    assert sub.recv() == b"keep-1"
    assert sub.recv() == b"keep-2"
    assert [xsub.recv() for _ in range(3)] == [b"drop-me", b"keep-1", b"keep-2"]


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_patterns_off_the_lane_still_see_lists(ctx: mqsdk.Context, transport: str) -> None:
    router = _socket(ctx, mqsdk.ROUTER)
    dealer = _socket(ctx, mqsdk.DEALER)
    dealer.routing_id = b"D"
    dealer.connect(_endpoint(transport, router, "router"))
    dealer.send(b"single")
    assert router.recv_multipart() == [b"D", b"single"]
    router.send_multipart([b"D", b"back"])
    wait_until(lambda: len(_queued(dealer)) == 1, "the reply queued at the DEALER")
    # DEALER takes the lane in: the connection's decoder queues the reply bare; over
    # inproc it arrives as the ROUTER queued it, a list.
    assert type(_queued(dealer)[0]) is (bytes if transport == "tcp" else list)
    assert dealer.recv() == b"back"


def test_curve_traffic_on_the_lane(ctx: mqsdk.Context) -> None:
    """A traffic codec (a plugin's) gets every message as a list; nothing changes on the
    wire or for the user."""
    server_public, server_secret = mqsdk.curve_keypair()
    client_public, client_secret = mqsdk.curve_keypair()
    pull = _socket(ctx, mqsdk.PULL)
    pull.curve_server = True
    pull.curve_secretkey = server_secret
    push = _socket(ctx, mqsdk.PUSH)
    push.curve_serverkey = server_public
    push.curve_publickey = client_public
    push.curve_secretkey = client_secret
    push.connect(_endpoint("tcp", pull, "curve"))
    push.send(b"secret")
    push.send_multipart([b"two", b"frames"])
    assert pull.recv() == b"secret"
    assert pull.recv_multipart() == [b"two", b"frames"]


def test_libzmq_peers_both_ways(ctx: mqsdk.Context) -> None:
    zctx = zmq.Context()
    try:
        zpull = zctx.socket(zmq.PULL)
        zpull.rcvtimeo = RCVTIMEO
        zpull.linger = 0
        port = zpull.bind_to_random_port("tcp://127.0.0.1")
        push = _socket(ctx, mqsdk.PUSH)
        push.connect(f"tcp://127.0.0.1:{port}")
        push.send(b"a" * 300)  # a long frame on the lane
        push.send(b"b")
        assert zpull.recv() == b"a" * 300
        assert zpull.recv_multipart() == [b"b"]

        pull = _socket(ctx, mqsdk.PULL)
        zpush = zctx.socket(zmq.PUSH)
        zpush.linger = 0
        zpush.connect(_endpoint("tcp", pull, "libzmq"))
        zpush.send(b"c" * 300)
        zpush.send_multipart([b"d", b"e"])
        assert pull.recv() == b"c" * 300
        assert pull.recv_multipart() == [b"d", b"e"]
        zpush.close()
        zpull.close()
    finally:
        zctx.term()
