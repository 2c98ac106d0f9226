"""CLIENT and SERVER between mqsdk sockets, and against hand-written ZMTP peers: libzmq's
semantics (client.cpp, server.cpp) one thread at a time."""

from __future__ import annotations

import errno
import itertools
from collections.abc import Callable

import pytest

import mqsdk
from mqsdk.testing.helpers import wait_until
from mqsdk.testing.rawzmtp import RawPeer

MakeSocket = Callable[[int], mqsdk.Socket]
TRANSPORTS = ["tcp", "ipc", "inproc"]


def _pair(make: MakeSocket, transport: str, name: str) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    server = make(mqsdk.SERVER)
    client = make(mqsdk.CLIENT)
    if transport == "tcp":
        server.bind("tcp://127.0.0.1:0")
    elif transport == "ipc":
        server.bind(f"ipc://@mqsdk-cs-{name}-{id(server):x}")
    else:
        server.bind(f"inproc://cs-{name}-{id(server):x}")
    client.connect(server.last_endpoint)
    return server, client


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_request_and_reply_by_routing_id(make: MakeSocket, transport: str) -> None:
    server, client = _pair(make, transport, "reply")
    client.send(b"ping")
    request = server.recv(copy=False)
    assert request.bytes == b"ping"
    assert 0 < request.routing_id < 2**32
    reply = mqsdk.Frame(b"pong")
    reply.routing_id = request.routing_id
    server.send(reply)
    assert client.recv() == b"pong"
    server.send(b"again", routing_id=request.routing_id)  # pyzmq's keyword
    assert client.recv() == b"again"


def test_send_takes_pyzmqs_positional_order(make: MakeSocket) -> None:
    """pyzmq 27: send(data, flags, copy, track, routing_id, group); code written for
    pyzmq passes the routing id fifth."""
    server, client = _pair(make, "tcp", "positional")
    client.send(b"ping", 0, True, False, None)
    rid = server.recv(copy=False).routing_id
    server.send(b"pong", 0, True, False, rid)
    assert client.recv() == b"pong"
    tracker = server.send(b"tracked", 0, False, True, rid, None)
    assert client.recv() == b"tracked"
    assert tracker is not None
    tracker.wait(10)


def test_each_connection_gets_the_next_nonzero_id(make: MakeSocket) -> None:
    server = make(mqsdk.SERVER)
    server.bind("tcp://127.0.0.1:0")
    clients = [make(mqsdk.CLIENT) for _ in range(3)]
    ids = []
    for index, client in enumerate(clients):
        client.connect(server.last_endpoint)
        client.send(b"%d" % index)
        frame = server.recv(copy=False)
        assert frame.bytes == b"%d" % index
        ids.append(frame.routing_id)
    # libzmq: a random first id, then one more per connection, never 0.
    assert all(0 < rid < 2**32 for rid in ids)
    assert [(b - a) % 2**32 for a, b in itertools.pairwise(ids)] in ([1, 1], [1, 2], [2, 1])
    for rid, client in zip(ids, clients, strict=True):
        server.send(b"for %d" % rid, routing_id=rid)
        assert client.recv() == b"for %d" % rid


def test_unknown_routing_id_is_ehostunreach(make: MakeSocket) -> None:
    server, client = _pair(make, "tcp", "unknown")
    client.send(b"hello")
    rid = server.recv(copy=False).routing_id
    with pytest.raises(mqsdk.MQError) as info:
        server.send(b"lost", routing_id=rid ^ 0x5A5A5A5A)
    assert info.value.errno == errno.EHOSTUNREACH
    with pytest.raises(mqsdk.MQError) as info:
        server.send(b"no id")  # libzmq: routing id 0 names no peer
    assert info.value.errno == errno.EHOSTUNREACH


def test_routing_id_of_a_gone_peer_is_ehostunreach(make: MakeSocket) -> None:
    server, client = _pair(make, "tcp", "gone")
    client.send(b"hello")
    rid = server.recv(copy=False).routing_id
    client.close()

    def refused() -> bool:
        try:
            server.send(b"late", mqsdk.NOBLOCK, routing_id=rid)
        except mqsdk.MQError as exc:
            return exc.errno == errno.EHOSTUNREACH
        return False

    wait_until(refused, "the SERVER to forget the closed CLIENT's routing id")


def test_bad_routing_ids_are_refused(make: MakeSocket) -> None:
    server = make(mqsdk.SERVER)
    frame = mqsdk.Frame(b"x")
    assert frame.routing_id == 0
    for bad in (0, -1, 2**32):
        with pytest.raises(mqsdk.MQError) as info:
            frame.routing_id = bad
        assert info.value.errno == errno.EINVAL
        with pytest.raises(mqsdk.MQError):
            server.send(b"x", routing_id=bad)
    with pytest.raises(TypeError):
        frame.routing_id = b"\x00\x00\x00\x01"  # type: ignore[assignment]


@pytest.mark.parametrize("kind", [mqsdk.CLIENT, mqsdk.SERVER])
def test_messages_are_single_frames(make: MakeSocket, kind: int) -> None:
    sock = make(kind)
    with pytest.raises(mqsdk.MQError) as info:
        sock.send(b"a", mqsdk.SNDMORE)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(mqsdk.MQError) as info:
        sock.send_multipart([b"a", b"b"])
    assert info.value.errno == errno.EINVAL


def test_thread_safe_option_says_so(make: MakeSocket) -> None:
    assert make(mqsdk.CLIENT).get(mqsdk.THREAD_SAFE) == 1
    assert make(mqsdk.SERVER).thread_safe == 1
    assert make(mqsdk.DEALER).thread_safe == 0


def test_client_without_a_server_waits_then_again(make: MakeSocket) -> None:
    client = make(mqsdk.CLIENT)
    with pytest.raises(mqsdk.Again):
        client.send(b"nobody", mqsdk.NOBLOCK)
    client.sndtimeo = 50
    with pytest.raises(mqsdk.Again):
        client.send(b"nobody")
    assert not client.poll(0, mqsdk.POLLOUT)


def test_client_load_balances_over_servers(make: MakeSocket) -> None:
    servers = [make(mqsdk.SERVER) for _ in range(2)]
    client = make(mqsdk.CLIENT)
    client.immediate = 1  # only connections that completed their handshake take messages
    for server in servers:
        server.bind("tcp://127.0.0.1:0")
        client.connect(server.last_endpoint)
    wait_until(lambda: len(client.peers) == 2, "both connections up")
    for index in range(4):
        client.send(b"%d" % index)
    got = sorted([servers[0].recv(), servers[0].recv(), servers[1].recv(), servers[1].recv()])
    assert got == [b"0", b"1", b"2", b"3"]


def test_server_at_sndhwm_waits_for_that_peer(make: MakeSocket) -> None:
    server = make(mqsdk.SERVER)
    client = make(mqsdk.CLIENT)
    server.sndhwm = client.rcvhwm = 2  # before the pipe is made: it takes them then
    server.bind("inproc://cs-hwm")
    client.connect("inproc://cs-hwm")
    client.send(b"hello")
    rid = server.recv(copy=False).routing_id
    sent = 0
    with pytest.raises(mqsdk.Again):
        for sent in range(100):
            server.send(b"%d" % sent, mqsdk.NOBLOCK, routing_id=rid)
    assert 0 < sent < 100
    server.sndtimeo = 50
    with pytest.raises(mqsdk.Again):
        server.send(b"blocked", routing_id=rid)
    assert [client.recv() for _ in range(sent)] == [b"%d" % i for i in range(sent)]
    server.send(b"room again", routing_id=rid)
    assert client.recv() == b"room again"


@pytest.mark.parametrize(
    ("ours", "peer_type"),
    [
        (mqsdk.SERVER, b"DEALER"),
        (mqsdk.SERVER, b"SERVER"),
        (mqsdk.CLIENT, b"ROUTER"),
        (mqsdk.CLIENT, b"CLIENT"),
    ],
)
def test_only_the_other_side_is_a_compatible_peer(
    make: MakeSocket, ours: int, peer_type: bytes
) -> None:
    sock = make(ours)
    sock.bind("tcp://127.0.0.1:0")
    with RawPeer.connect(sock.last_endpoint.decode(), peer_type) as peer:
        assert peer.closed_by_peer(), f"a {peer_type.decode()} peer was accepted"


@pytest.mark.parametrize(
    ("ours", "peer_type"), [(mqsdk.SERVER, b"CLIENT"), (mqsdk.CLIENT, b"SERVER")]
)
def test_multipart_from_a_peer_is_dropped(make: MakeSocket, ours: int, peer_type: bytes) -> None:
    sock = make(ours)
    sock.bind("tcp://127.0.0.1:0")
    with RawPeer.connect(sock.last_endpoint.decode(), peer_type) as peer:
        peer.send([b"two", b"frames"])
        peer.send([b"one"])
        assert sock.recv() == b"one"
        assert sock.stats["dropped_malformed"] == 1


def test_server_replies_reach_a_raw_client(make: MakeSocket) -> None:
    server = make(mqsdk.SERVER)
    server.bind("tcp://127.0.0.1:0")
    with RawPeer.connect(server.last_endpoint.decode(), b"CLIENT") as peer:
        peer.send([b"question"])
        frame = server.recv(copy=False)
        server.send(b"answer", routing_id=frame.routing_id)
        assert peer.recv() == [b"answer"]  # one frame on the wire, no routing id frame
