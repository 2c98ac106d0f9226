"""RADIO and DISH are thread-safe (as libzmq's): eight threads send on one RADIO while
eight receive on one DISH, with ``xpub_nodrop`` so that a full peer makes the senders
wait rather than drop; every message arrives exactly once, in its group."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from radiodish_raw import WAIT

import mqsdk

MakeSocket = Callable[[int], mqsdk.Socket]
THREADS = 8
PER_THREAD = 200
JOIN = 60.0


def _joined(radio: mqsdk.Socket, dish: mqsdk.Socket, group: str) -> None:
    deadline = time.monotonic() + WAIT
    while not dish.poll(20):
        assert time.monotonic() < deadline, f"the DISH's JOIN {group!r} never reached the RADIO"
        radio.send(b"marker", group=group)
    radio.send(b"last marker", group=group)
    while dish.recv() != b"last marker":
        pass


def test_eight_senders_and_eight_receivers_share_the_sockets(make: MakeSocket) -> None:
    radio, dish = make(mqsdk.RADIO), make(mqsdk.DISH)
    radio.xpub_nodrop = 1
    radio.sndhwm = dish.rcvhwm = 50  # small: senders wait for room now and then
    dish.bind("tcp://127.0.0.1:0")
    radio.connect(dish.last_endpoint.decode())
    for group in ("even", "odd"):
        dish.join(group)
        _joined(radio, dish, group)
    got: list[tuple[str | None, bytes]] = []
    errors: list[BaseException] = []

    def send(index: int) -> None:
        group = "odd" if index % 2 else "even"
        for seq in range(PER_THREAD):
            radio.send(b"%d:%d" % (index, seq), group=group)

    def receive() -> None:
        for _ in range(PER_THREAD):
            frame = dish.recv(copy=False)
            got.append((frame.group, frame.bytes))

    def guarded(target: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(receive), daemon=True) for _ in range(THREADS)]
    threads += [
        threading.Thread(target=guarded(lambda i=i: send(i)), daemon=True) for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    assert not [t for t in threads if t.is_alive()], f"threads blocked after {JOIN} s"
    assert not errors, errors[:3]
    expected = sorted(
        ("odd" if i % 2 else "even", b"%d:%d" % (i, s))
        for i in range(THREADS)
        for s in range(PER_THREAD)
    )
    assert sorted(got) == expected
