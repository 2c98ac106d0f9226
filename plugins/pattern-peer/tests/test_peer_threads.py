"""Threads sharing PEER and CHANNEL sockets: each socket is sent on and received from by
several threads at once (8 per socket), as libzmq allows for these types.

Every message must come back exactly once, nothing may deadlock, and every wait is
bounded: a stuck thread fails the test with its name rather than hanging the run.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Callable

import mqsdk
from mqsdk.testing.helpers import WAIT

MakeSocket = Callable[[int], mqsdk.Socket]
PER_THREAD = 300
STOP = b"stop"


class Workers:
    """Threads that record the first exception any of them raises."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, name: str, work: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the main thread
                self.errors.append(exc)

        thread = threading.Thread(target=run, name=name)
        self.threads.append(thread)
        thread.start()
        return thread

    def join(self, threads: list[threading.Thread], what: str) -> None:
        for thread in threads:
            thread.join(WAIT * 3)
        assert not self.errors, f"{what}: {self.errors!r}"
        stuck = [t.name for t in threads if t.is_alive()]
        assert not stuck, f"{what}: threads still running after {WAIT * 3} s: {stuck}"


def check_exactly_once(received: list[bytes], expected: set[bytes]) -> None:
    duplicated = [m for m, count in Counter(received).items() if count > 1]
    assert not duplicated, f"received twice: {duplicated[:5]}"
    assert set(received) == expected, f"lost: {sorted(expected - set(received))[:5]}"


def test_peer_echo_with_eight_threads_on_each_socket(make: MakeSocket) -> None:
    """On the server, 8 threads each receive and echo back by routing id; on the client,
    4 threads send while 4 others receive the echoes."""
    server, client = make(mqsdk.PEER), make(mqsdk.PEER)
    server.sndhwm = server.rcvhwm = client.sndhwm = client.rcvhwm = 40
    server.bind("tcp://127.0.0.1:*")
    server_id = client.connect_peer(server.last_endpoint)
    workers = Workers()
    total = 4 * PER_THREAD
    echoes: list[bytes] = []
    lock = threading.Lock()
    done = threading.Event()

    def echo() -> None:
        while True:
            frame = server.recv(copy=False)
            if frame.bytes == STOP:
                return
            server.send(frame)  # back to the peer its routing id names

    def send(index: int) -> None:
        for number in range(PER_THREAD):
            client.send(b"%d:%d" % (index, number), routing_id=server_id)

    def collect() -> None:
        while not done.is_set():
            try:
                frame = client.recv(copy=False)
            except mqsdk.Again:
                continue  # RCVTIMEO: look at `done` again
            assert frame.routing_id == server_id
            with lock:
                echoes.append(frame.bytes)
                if len(echoes) == total:
                    done.set()

    client.rcvtimeo = 200  # collectors look at `done` this often once all is in
    echoers = [workers.start(f"echo-{i}", echo) for i in range(8)]
    collectors = [workers.start(f"collect-{i}", collect) for i in range(4)]
    senders = [workers.start(f"send-{i}", functools.partial(send, i)) for i in range(4)]
    workers.join(senders, "sending")
    assert done.wait(WAIT * 3), f"only {len(echoes)} of {total} echoes came back"
    workers.join(collectors, "collecting")
    for _ in echoers:  # after every message on the one connection: one stop per echoer
        client.send(STOP, routing_id=server_id)
    workers.join(echoers, "echoing")
    check_exactly_once(echoes, {b"%d:%d" % (i, n) for i in range(4) for n in range(PER_THREAD)})


def test_channel_with_four_senders_and_four_receivers_on_each_end(make: MakeSocket) -> None:
    left, right = make(mqsdk.CHANNEL), make(mqsdk.CHANNEL)
    left.sndhwm = left.rcvhwm = right.sndhwm = right.rcvhwm = 40
    left.bind("tcp://127.0.0.1:*")
    right.connect(left.last_endpoint)
    workers = Workers()
    got: dict[str, list[bytes]] = {"left": [], "right": []}
    lock = threading.Lock()

    def send(sock: mqsdk.Socket, tag: bytes) -> None:
        for number in range(PER_THREAD):
            sock.send(b"%s:%d" % (tag, number))

    def receive(sock: mqsdk.Socket, side: str) -> None:
        while (message := sock.recv()) != STOP:
            with lock:
                got[side].append(message)

    receivers = [
        workers.start(f"{side}-recv-{i}", functools.partial(receive, sock, side))
        for side, sock in (("left", left), ("right", right))
        for i in range(4)
    ]
    senders = [
        workers.start(f"{side}-send-{i}", functools.partial(send, sock, f"{side}{i}".encode()))
        for side, sock in (("left", left), ("right", right))
        for i in range(4)
    ]
    workers.join(senders, "sending")
    for sock in (left, right):  # one pipe keeps its order: stops come after all data
        for _ in range(4):
            sock.send(STOP)
    workers.join(receivers, "receiving")
    for side, other in (("left", b"right"), ("right", b"left")):
        check_exactly_once(
            got[side], {b"%s%d:%d" % (other, i, n) for i in range(4) for n in range(PER_THREAD)}
        )


def test_connect_peer_from_eight_threads_names_each_threads_own_connection(
    make: MakeSocket,
) -> None:
    """Each thread gets the id of the connection its own call made, not the id of one
    that another thread's connect made meanwhile: every message reaches the server its
    thread connected to."""
    rounds = 20  # many calls, so that some overlap
    hub = make(mqsdk.PEER)
    servers = [make(mqsdk.PEER) for _ in range(8)]
    for index, server in enumerate(servers):
        server.bind(f"inproc://pe-connect-{index}")
    workers = Workers()

    def connect_and_send(index: int) -> None:
        for number in range(rounds):
            routing_id = hub.connect_peer(f"inproc://pe-connect-{index}")
            hub.send(b"%d:%d" % (index, number), routing_id=routing_id)

    workers.join(
        [workers.start(f"connect-{i}", functools.partial(connect_and_send, i)) for i in range(8)],
        "connecting",
    )
    for index, server in enumerate(servers):
        got = sorted(server.recv() for _ in range(rounds))
        assert got == sorted(b"%d:%d" % (index, n) for n in range(rounds))
