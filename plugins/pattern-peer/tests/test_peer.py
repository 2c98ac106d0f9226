"""PEER and CHANNEL between mqsdk sockets, and against hand-written ZMTP peers."""

from __future__ import annotations

import errno
import itertools

import pytest

import mqsdk
from mqsdk.testing.fixtures import Endpoint, MakeSocket
from mqsdk.testing.helpers import wait_until
from mqsdk.testing.rawzmtp import RawPeer


def bound(make: MakeSocket, kind: int, address: str) -> tuple[mqsdk.Socket, str]:
    sock = make(kind)
    sock.bind(address)
    return sock, sock.last_endpoint.decode()


# -- PEER ------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc", "inproc"])
def test_connect_peer_names_the_peer_so_the_connecting_side_speaks_first(
    make: MakeSocket, endpoint: Endpoint, transport: str
) -> None:
    server, address = bound(make, mqsdk.PEER, endpoint(transport))
    client = make(mqsdk.PEER)
    routing_id = client.connect_peer(address)
    assert 0 < routing_id < 2**32
    client.send(b"hello", routing_id=routing_id)
    request = server.recv(copy=False)
    assert request.bytes == b"hello" and request.routing_id != 0
    server.send(b"welcome", routing_id=request.routing_id)
    reply = client.recv(copy=False)
    assert (reply.bytes, reply.routing_id) == (b"welcome", routing_id)


def test_each_peer_has_its_own_id_and_gets_only_its_messages(make: MakeSocket) -> None:
    hub = make(mqsdk.PEER)
    others = [bound(make, mqsdk.PEER, "tcp://127.0.0.1:*") for _ in range(3)]
    ids = [hub.connect_peer(address) for _, address in others]
    assert len(set(ids)) == 3
    # libzmq numbers a socket's pipes consecutively from a random start (never 0).
    assert all((b - a) % 2**32 in (1, 2) for a, b in itertools.pairwise(ids)), ids
    for number, routing_id in enumerate(ids):
        hub.send(b"to %d" % number, routing_id=routing_id)
    for number, (sock, _) in enumerate(others):
        frame = sock.recv(copy=False)
        assert frame.bytes == b"to %d" % number
        sock.send(b"from %d" % number, routing_id=frame.routing_id)
    replies = {}
    for _ in others:
        frame = hub.recv(copy=False)
        replies[frame.routing_id] = frame.bytes
    assert replies == {rid: b"from %d" % n for n, rid in enumerate(ids)}


def test_a_frame_carries_its_routing_id_back(make: MakeSocket) -> None:
    server, address = bound(make, mqsdk.PEER, "tcp://127.0.0.1:*")
    client = make(mqsdk.PEER)
    client.send(b"ping", routing_id=client.connect_peer(address))
    frame = server.recv(copy=False)
    server.send(frame)  # the received Frame names its sender: an echo needs nothing else
    assert client.recv() == b"ping"


def test_unknown_or_missing_routing_id_is_ehostunreach(make: MakeSocket) -> None:
    peer = make(mqsdk.PEER)
    for attempt in (lambda: peer.send(b"x", routing_id=12345), lambda: peer.send(b"x")):
        with pytest.raises(mqsdk.MQError) as refused:
            attempt()
        assert refused.value.errno == errno.EHOSTUNREACH


def test_messages_are_single_frames(make: MakeSocket) -> None:
    server, address = bound(make, mqsdk.PEER, "tcp://127.0.0.1:*")
    client = make(mqsdk.PEER)
    routing_id = client.connect_peer(address)
    with pytest.raises(mqsdk.MQError) as refused:
        client.send(b"a", mqsdk.SNDMORE, routing_id=routing_id)
    assert refused.value.errno == errno.EINVAL
    with pytest.raises(mqsdk.MQError) as refused:
        client.send_multipart([b"a", b"b"])
    assert refused.value.errno == errno.EINVAL
    with RawPeer.connect(address, b"PEER") as raw:
        raw.send([b"two", b"frames"])
        raw.send([b"one"])
        frame = server.recv(copy=False)
        assert frame.bytes == b"one" and frame.routing_id != 0
        assert server.stats.get("dropped_malformed") == 1
        server.send(b"answer", routing_id=frame.routing_id)
        assert raw.recv() == [b"answer"]


def test_connect_peer_with_immediate_is_efault_as_in_libzmq(make: MakeSocket) -> None:
    peer = make(mqsdk.PEER)
    peer.immediate = 1
    with pytest.raises(mqsdk.MQError) as refused:
        peer.connect_peer("tcp://127.0.0.1:1")
    assert refused.value.errno == errno.EFAULT


def test_a_full_peer_blocks_only_its_own_messages(make: MakeSocket) -> None:
    hub = make(mqsdk.PEER)
    hub.sndhwm = 1
    slow, slow_address = bound(make, mqsdk.PEER, "inproc://pe-slow")
    fast, fast_address = bound(make, mqsdk.PEER, "inproc://pe-fast")
    slow.rcvhwm = 1
    slow_id, fast_id = hub.connect_peer(slow_address), hub.connect_peer(fast_address)
    sent = 0
    with pytest.raises(mqsdk.Again):
        for _ in range(100):
            hub.send(b"s", mqsdk.NOBLOCK, routing_id=slow_id)
            sent += 1
    assert 1 <= sent < 100
    hub.send(b"f", mqsdk.NOBLOCK, routing_id=fast_id)  # the other peer still has room
    assert fast.recv() == b"f"
    assert [slow.recv() for _ in range(sent)] == [b"s"] * sent


def test_only_peers_may_connect(make: MakeSocket) -> None:
    _, address = bound(make, mqsdk.PEER, "tcp://127.0.0.1:*")
    with (
        pytest.raises((EOFError, ConnectionError)),
        RawPeer.connect(address, b"SERVER") as raw,
    ):
        raw.recv()


# -- CHANNEL ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "ipc", "inproc"])
def test_channel_talks_both_ways(make: MakeSocket, endpoint: Endpoint, transport: str) -> None:
    first, address = bound(make, mqsdk.CHANNEL, endpoint(transport))
    second = make(mqsdk.CHANNEL)
    second.connect(address)
    second.send(b"ping")
    assert first.recv() == b"ping"
    first.send(b"pong")
    assert second.recv() == b"pong"


def test_channel_has_one_peer_and_single_frames(make: MakeSocket) -> None:
    channel, address = bound(make, mqsdk.CHANNEL, "tcp://127.0.0.1:*")
    with RawPeer.connect(address, b"CHANNEL") as raw:
        raw.send([b"dropped", b"whole"])
        raw.send([b"kept"])
        assert channel.recv_multipart() == [b"kept"]
        with pytest.raises(mqsdk.MQError) as refused:
            channel.send(b"a", mqsdk.SNDMORE)
        assert refused.value.errno == errno.EINVAL
        # A second peer is refused while the first is attached (libzmq: the pipe ends).
        with RawPeer.connect(address, b"CHANNEL") as second:

            def refused_yet() -> bool:
                channel.poll(0)  # the socket applies a new pipe at its next call
                return second.closed_by_peer(0.01)

            wait_until(refused_yet, "the second CHANNEL peer was refused")
        channel.send(b"still here")
        assert raw.recv() == [b"still here"]
    wait_until(lambda: channel.stats.get("dropped_malformed") == 1, "the drop is counted")


def test_all_say_they_are_thread_safe(make: MakeSocket) -> None:
    assert make(mqsdk.PEER).get(mqsdk.THREAD_SAFE) == 1
    assert make(mqsdk.CHANNEL).get(mqsdk.THREAD_SAFE) == 1
