"""Connect/close churn while user threads wait in recv and send (issue 14, item 5).

Hundreds of pyzmq clients connect to two mqsdk ROUTERs and close again, round after round,
while one thread waits in ``recv`` (``rcvtimeo`` 5 ms) on the first and another waits in
``send`` on the second (a stable peer that reads only between rounds, SNDHWM 2). Every
wait walks the socket's connections while the I/O thread adds and removes them: nothing
but :class:`mqsdk.Again` may escape either thread, and every message that was acknowledged
(a client's send, the sender's returned send) must arrive.

The GIL switch interval is shortened while the threads run so that a thread is more often
interrupted in the middle of a walk (the race behind "dictionary changed size during
iteration"); it changes how often threads switch, not what they do.

Below it, races found by the audit of what the user's thread and the I/O thread share
(docs/architecture.md, "Who owns what"), made deterministic: a queue the reader empties
just as new messages land.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import zmq

import mqsdk
from mqsdk._kernel.pipe import Message, StreamPipe
from mqsdk.testing.helpers import WAIT, short_tmpdir, wait_until
from mqsdk.testing.poller_conformance import raise_fd_limit

ROUNDS = 8
CLIENTS = 250  # per round and per server socket
PAYLOAD = b"x" * 2048  # big enough that the stable peer's buffers fill within a round


def _endpoint(transport: str, directory: str, name: str) -> str:
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    return f"ipc://{directory}/{name}.sock"


class _Worker(threading.Thread):
    """Runs ``step`` until stopped; Again is a normal outcome, anything else is recorded."""

    def __init__(self, name: str, step: Callable[[], object]) -> None:
        super().__init__(name=name, daemon=True)
        self.step = step
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.timeouts = 0  # Again: the wait ran to its deadline

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                except mqsdk.Again:
                    self.timeouts += 1
        except BaseException as exc:
            self.error = exc


@pytest.fixture
def fast_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.interop
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_connect_close_churn_while_recv_and_send_wait(transport: str, fast_switching: None) -> None:
    # Per client: its socket and mailbox (libzmq) and our side of the connection.
    restore_fd_limit = raise_fd_limit(4 * 2 * CLIENTS + 256)
    try:
        with short_tmpdir() as directory:
            _churn(transport, directory)
    finally:
        restore_fd_limit()


def _churn(transport: str, directory: str) -> None:
    ctx = mqsdk.Context()
    zctx: zmq.Context[Any] = zmq.Context()
    zctx.set(zmq.MAX_SOCKETS, 4 * CLIENTS + 64)
    workers: list[_Worker] = []
    try:
        # A backlog that takes a whole round: the churn is the point, not SYN retries.
        rx = ctx.socket(mqsdk.ROUTER)
        rx.linger = 0
        rx.backlog = 2 * CLIENTS
        rx.rcvtimeo = 5
        rx.bind(_endpoint(transport, directory, "rx"))
        rx_endpoint = rx.last_endpoint.decode()

        tx = ctx.socket(mqsdk.ROUTER)
        tx.linger = 0
        tx.backlog = 2 * CLIENTS
        tx.router_mandatory = 1  # a full peer makes send wait instead of dropping
        tx.sndhwm = 2
        tx.sndtimeo = 5
        tx.bind(_endpoint(transport, directory, "tx"))
        tx_endpoint = tx.last_endpoint.decode()

        stable = zctx.socket(zmq.DEALER)
        stable.linger = 0
        stable.routing_id = b"stable"
        stable.rcvhwm = 2
        stable.connect(tx_endpoint)
        stable.send(b"hello")
        tx.rcvtimeo = int(WAIT * 1000)
        assert tx.recv_multipart() == [b"stable", b"hello"]  # its handshake is done

        received: list[bytes] = []

        def receive() -> None:
            received.append(rx.recv_multipart()[1])

        acked: list[int] = []

        def send() -> None:
            number = len(acked)
            tx.send_multipart([b"stable", b"%d" % number, PAYLOAD])
            acked.append(number)

        arrived: list[int] = []

        def drain_stable(until: int | None = None) -> None:
            deadline = time.monotonic() + WAIT
            while True:
                try:
                    number, _payload = stable.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    if until is None or len(arrived) >= until:
                        return
                    if time.monotonic() > deadline:
                        return
                    stable.poll(100)
                    continue
                arrived.append(int(number))

        workers = [_Worker("churn-recv", receive), _Worker("churn-send", send)]
        for worker in workers:
            worker.start()

        sent = 0
        for _round in range(ROUNDS):
            talkers = []
            bystanders = []
            for _ in range(CLIENTS):
                talker = zctx.socket(zmq.DEALER)
                talker.linger = int(WAIT * 1000)
                talker.connect(rx_endpoint)
                talkers.append(talker)
                # It says hello too, so that its connection lingers until it is made.
                bystander = zctx.socket(zmq.DEALER)
                bystander.linger = int(WAIT * 1000)
                bystander.connect(tx_endpoint)
                bystanders.append(bystander)
            for talker in talkers:
                talker.send(b"%d" % sent)
                sent += 1
            for bystander in bystanders:
                bystander.send(b"hello")
            for client in talkers + bystanders:
                client.close()
            drain_stable()
            wait_until(
                lambda sent=sent: len(received) >= sent or any(w.error for w in workers),
                f"the {sent} client messages sent so far arrived (round {_round + 1})",
            )
            errors = {w.name: w.error for w in workers if w.error is not None}
            assert not errors, f"an exception escaped a waiting thread: {errors!r}"
            assert all(w.is_alive() for w in workers)

        for worker in workers:
            worker.stop.set()
        for worker in workers:
            worker.join(WAIT)
        errors = {w.name: w.error for w in workers if w.error is not None}
        assert not errors, f"an exception escaped a waiting thread: {errors!r}"
        drain_stable(until=len(acked))

        assert sorted(received) == sorted(b"%d" % n for n in range(sent)), (
            f"{sent - len(set(received))} of {sent} client messages did not arrive"
        )
        assert acked, "the sender never managed to send"
        assert workers[1].timeouts, "the sender never had to wait (the stable peer kept up)"
        assert arrived == acked, (
            f"the stable peer got {len(arrived)} of the {len(acked)} acknowledged messages"
        )
    finally:
        for worker in workers:
            worker.stop.set()
            worker.join(WAIT)
        ctx.destroy(linger=0)
        zctx.destroy(linger=0)


# -- a queue emptied by its reader while a message is appended --------------------------


class _ReaderTakesFirst(deque[Message]):
    """A pipe queue that lets the reading socket take what is queued just before the next
    append lands: the interleaving of two threads, made deterministic."""

    def __init__(self, queued: deque[Message], reader: Callable[[], object]) -> None:
        super().__init__(queued)
        self.reader: Callable[[], object] | None = reader

    def _reader_first(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            reader()

    def append(self, message: Message) -> None:
        self._reader_first()
        super().append(message)

    def extend(self, messages: Iterable[Message]) -> None:
        self._reader_first()
        super().extend(messages)


def test_a_message_delivered_as_the_reader_empties_the_queue_is_announced() -> None:
    """A connection's reader delivered into a queue that was not empty when it looked but
    was emptied (and the pipe forgotten by the fair queue) before its messages landed:
    they were never announced, and recv() waited while they sat in the queue."""
    ctx = mqsdk.Context()
    try:
        pull = ctx.socket(mqsdk.PULL)
        pull.linger = 0
        pipe = StreamPipe(pull.handle, "test://reader-race", 0, 0)
        pull.handle.attach_pipe(pipe)
        pipe.deliver([[b"first"]])  # what an engine does with a decoded message
        taken: list[bytes] = []
        pipe.inq = _ReaderTakesFirst(pipe.inq, lambda: taken.append(pull.recv(mqsdk.NOBLOCK)))
        pipe.deliver([[b"second"]])
        assert taken == [b"first"]
        assert pull.recv(mqsdk.NOBLOCK) == b"second"
    finally:
        ctx.destroy(linger=0)


def test_an_inproc_message_sent_as_the_receiver_empties_the_queue_is_announced() -> None:
    """The same over inproc, where the sender's thread appends to the receiver's queue."""
    ctx = mqsdk.Context()
    try:
        pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
        for sock in (pull, push):
            sock.linger = 0
        pull.bind("inproc://reader-race")
        push.connect("inproc://reader-race")
        push.send(b"first")
        (near,) = push._pipes
        far = near.other
        assert far is not None
        taken: list[bytes] = []
        shared = _ReaderTakesFirst(near.outq, lambda: taken.append(pull.recv(mqsdk.NOBLOCK)))
        near.outq = far.inq = shared
        push.send(b"second")
        assert taken == [b"first"]
        assert pull.recv(mqsdk.NOBLOCK) == b"second"

        # What a pattern's greeting delivers (XPUB's welcome message) takes the same path.
        push.send(b"third")
        shared.reader = lambda: taken.append(pull.recv(mqsdk.NOBLOCK))
        far.receive_encoded(b"\x00\x07welcome")  # one short frame, as on the wire
        assert taken == [b"first", b"third"]
        assert pull.recv(mqsdk.NOBLOCK) == b"welcome"
    finally:
        ctx.destroy(linger=0)
