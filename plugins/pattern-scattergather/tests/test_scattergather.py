"""SCATTER and GATHER between mqsdk sockets, and against hand-written ZMTP peers."""

from __future__ import annotations

import errno

import pytest

import mqsdk
from mqsdk.testing.fixtures import Endpoint, MakeSocket
from mqsdk.testing.helpers import WAIT, wait_until
from mqsdk.testing.rawzmtp import RawPeer


def connected(
    make: MakeSocket, endpoint: Endpoint, transport: str, gathers: int = 1
) -> tuple[mqsdk.Socket, list[mqsdk.Socket]]:
    """A SCATTER connected to ``gathers`` GATHERs: its pipes exist from connect() on, so
    the first messages are already dealt among all of them."""
    scatter = make(mqsdk.SCATTER)
    sinks = []
    for _ in range(gathers):
        gather = make(mqsdk.GATHER)
        gather.bind(endpoint(transport))
        scatter.connect(gather.last_endpoint)
        sinks.append(gather)
    return scatter, sinks


@pytest.mark.parametrize("transport", ["tcp", "ipc", "inproc"])
def test_scatter_load_balances_and_gather_receives(
    make: MakeSocket, endpoint: Endpoint, transport: str
) -> None:
    scatter, gathers = connected(make, endpoint, transport, gathers=2)
    for number in range(10):
        scatter.send(b"%d" % number)
    got = [[g.recv() for _ in range(5)] for g in gathers]
    assert sorted(got[0] + got[1], key=int) == [b"%d" % n for n in range(10)]
    assert got[0] == sorted(got[0], key=int), "one peer's messages keep their order"


def test_gather_fair_queues_several_scatters(make: MakeSocket) -> None:
    gather = make(mqsdk.GATHER)
    gather.bind("tcp://127.0.0.1:*")
    scatters = [make(mqsdk.SCATTER) for _ in range(3)]
    for index, scatter in enumerate(scatters):
        scatter.connect(gather.last_endpoint)
        for number in range(4):
            scatter.send(b"%d-%d" % (index, number))
    got = [gather.recv() for _ in range(12)]
    assert sorted(got) == sorted(b"%d-%d" % (i, n) for i in range(3) for n in range(4))


def test_messages_are_single_frames(make: MakeSocket, endpoint: Endpoint) -> None:
    scatter, (gather,) = connected(make, endpoint, "tcp")
    for attempt in (
        lambda: scatter.send(b"a", mqsdk.SNDMORE),
        lambda: scatter.send_multipart([b"a", b"b"]),
    ):
        with pytest.raises(mqsdk.MQError) as refused:
            attempt()
        assert refused.value.errno == errno.EINVAL
    scatter.send(b"whole")
    assert gather.recv_multipart() == [b"whole"]


def test_gather_drops_a_multipart_message_from_a_peer(make: MakeSocket) -> None:
    """libzmq's GATHER drops every frame of a multipart message and keeps reading."""
    gather = make(mqsdk.GATHER)
    gather.bind("tcp://127.0.0.1:*")
    with RawPeer.connect(gather.last_endpoint.decode(), b"SCATTER") as peer:
        peer.send([b"first", b"second"])
        peer.send([b"single"])
        assert gather.recv_multipart() == [b"single"]
        assert gather.stats.get("dropped_malformed") == 1
        # A queue holding only a multipart message is not readable: poll reads it (and
        # drops it) rather than announcing a message recv would not return.
        peer.send([b"a", b"b", b"c"])
        wait_until(
            lambda: gather.poll(0) == 0 and gather.stats.get("dropped_malformed") == 2,
            "the second multipart message was dropped without making the GATHER readable",
        )


@pytest.mark.parametrize(
    ("kind", "wrong_peer"), [(mqsdk.GATHER, b"PUSH"), (mqsdk.SCATTER, b"PULL")]
)
def test_only_the_twin_type_may_connect(make: MakeSocket, kind: int, wrong_peer: bytes) -> None:
    sock = make(kind)
    sock.bind("tcp://127.0.0.1:*")
    # Refused in the handshake, or just after it.
    with (
        pytest.raises((EOFError, ConnectionError)),
        RawPeer.connect(sock.last_endpoint.decode(), wrong_peer) as peer,
    ):
        peer.recv()


def test_scatter_waits_for_room_then_raises_again(make: MakeSocket) -> None:
    scatter = make(mqsdk.SCATTER)
    with pytest.raises(mqsdk.Again):
        scatter.send(b"nobody", mqsdk.NOBLOCK)  # no peer yet: nothing to queue on
    scatter.sndhwm = 1
    scatter.sndtimeo = 50
    gather = make(mqsdk.GATHER)
    gather.rcvhwm = 1
    scatter.bind("inproc://sg-hwm")
    gather.connect("inproc://sg-hwm")
    sent = 0
    with pytest.raises(mqsdk.Again):
        for _ in range(100):
            scatter.send(b"x")
            sent += 1
    assert 1 <= sent < 100
    assert [gather.recv() for _ in range(sent)] == [b"x"] * sent


def test_wrong_direction_is_enotsup(make: MakeSocket) -> None:
    scatter, gather = make(mqsdk.SCATTER), make(mqsdk.GATHER)
    with pytest.raises(mqsdk.MQError) as no_recv:
        scatter.recv(mqsdk.NOBLOCK)
    assert no_recv.value.errno == errno.ENOTSUP
    with pytest.raises(mqsdk.MQError) as no_send:
        gather.send(b"x")
    assert no_send.value.errno == errno.ENOTSUP


def test_both_say_they_are_thread_safe(make: MakeSocket) -> None:
    assert make(mqsdk.SCATTER).get(mqsdk.THREAD_SAFE) == 1
    assert make(mqsdk.GATHER).get(mqsdk.THREAD_SAFE) == 1
    assert WAIT > 0
