"""Eight threads sending on one SCATTER while eight others receive on one GATHER.

libzmq promises that threads may share these sockets; the kernel serialises the calls
and lets a blocked call wait without holding the socket. Every message must arrive
exactly once, nothing may deadlock, and each wait is bounded (a stuck thread fails the
test with what it was doing rather than hanging the run).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

import mqsdk
from mqsdk.testing.helpers import WAIT

MakeSocket = Callable[[int], mqsdk.Socket]
THREADS = 8
PER_THREAD = 400
STOP = b"stop"


def run_all(workers: list[threading.Thread], what: str) -> None:
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT * 3)
    stuck = [worker.name for worker in workers if worker.is_alive()]
    assert not stuck, f"{what}: threads still running after {WAIT * 3} s: {stuck}"


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_eight_senders_and_eight_receivers_share_one_socket_each(
    make: MakeSocket, transport: str
) -> None:
    scatter, gather = make(mqsdk.SCATTER), make(mqsdk.GATHER)
    scatter.sndhwm = gather.rcvhwm = 50  # small queues: senders block and wait often
    gather.bind("tcp://127.0.0.1:*" if transport == "tcp" else "inproc://sg-hammer")
    scatter.connect(gather.last_endpoint)
    received: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        try:
            for number in range(PER_THREAD):
                scatter.send(b"%d:%d" % (index, number))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def receive() -> None:
        try:
            while True:
                message = gather.recv()
                if message == STOP:
                    return
                with lock:
                    received.append(message)
        except BaseException as exc:
            errors.append(exc)

    receivers = [threading.Thread(target=receive, name=f"recv-{i}") for i in range(THREADS)]
    senders = [threading.Thread(target=send, args=(i,), name=f"send-{i}") for i in range(THREADS)]
    for receiver in receivers:
        receiver.start()
    run_all(senders, "sending")
    # One pipe keeps its order: the stops come after every message, one per receiver.
    for _ in receivers:
        scatter.send(STOP)
    for receiver in receivers:
        receiver.join(WAIT * 3)
    assert not errors, errors
    assert not [r.name for r in receivers if r.is_alive()], "a receiver never got its stop"
    expected = {b"%d:%d" % (i, n) for i in range(THREADS) for n in range(PER_THREAD)}
    duplicated = [m for m, count in Counter(received).items() if count > 1]
    assert not duplicated, f"received twice: {duplicated[:5]}"
    assert set(received) == expected, f"lost: {sorted(expected - set(received))[:5]}"


BIG = b"x" * 200_000  # more than the OS socket buffers take: the engine's writer arms
BIG_ROUNDS = 30
BIG_PER_THREAD = 20


def test_big_messages_at_hwm_1_over_tcp_never_stall(make: MakeSocket) -> None:
    """Big messages fill the OS socket, so the I/O thread and the senders' direct flushes
    arm and disarm the connection's writer all the time. A lost write watch (review 31,
    finding 1) stopped all traffic for good about once in ten rounds; each round here is
    bounded (the sockets' timeouts), and a stall fails with how far it got."""
    for round_number in range(BIG_ROUNDS):
        _big_round(make, round_number)


def _big_round(make: MakeSocket, round_number: int) -> None:
    total = THREADS * BIG_PER_THREAD
    scatter, gather = make(mqsdk.SCATTER), make(mqsdk.GATHER)
    scatter.sndhwm = gather.rcvhwm = 1
    gather.bind("tcp://127.0.0.1:*")
    scatter.connect(gather.last_endpoint)
    received: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        try:
            for number in range(BIG_PER_THREAD):
                scatter.send(b"%d:%d:" % (index, number) + BIG)
        except BaseException as exc:
            errors.append(exc)

    def receive() -> None:
        try:
            while True:
                message = gather.recv()
                if message == STOP:
                    return
                with lock:
                    received.append(message[: message.index(b":", 2) + 1])
        except BaseException as exc:
            errors.append(exc)

    receivers = [threading.Thread(target=receive, name=f"recv-{i}") for i in range(THREADS)]
    senders = [threading.Thread(target=send, args=(i,), name=f"send-{i}") for i in range(THREADS)]
    for receiver in receivers:
        receiver.start()
    run_all(senders, f"round {round_number}: sending")
    if not errors:
        for _ in receivers:
            scatter.send(STOP)
    else:
        gather.close()  # the receivers end with ENOTSOCK
    for receiver in receivers:
        receiver.join(WAIT * 3)
    assert not errors, (
        f"round {round_number}: traffic stopped after {len(received)} of {total} "
        f"messages (a connection nobody writes any more?): {errors[:3]}"
    )
    assert not [r.name for r in receivers if r.is_alive()], "a receiver never got its stop"
    expected = {b"%d:%d:" % (i, n) for i in range(THREADS) for n in range(BIG_PER_THREAD)}
    assert sorted(received) == sorted(expected), f"round {round_number}: lost or duplicated"
    scatter.close()
    gather.close()
