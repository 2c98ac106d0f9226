"""Thread-safe sockets (``Pattern.thread_safe``, mqsdk/_kernel/threadsafe.py) through
CLIENT and SERVER: eight threads sending and receiving on one socket at once, blocked
calls that leave the socket to the other threads, and close()/term() waking them.

Every wait is bounded (RCVTIMEO/SNDTIMEO, joins with a timeout) and every thread's
failure is collected and reported; nothing asserts on timing."""

from __future__ import annotations

import errno
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

import mqsdk
from mqsdk.testing.helpers import WAIT, wait_until

MakeSocket = Callable[[int], mqsdk.Socket]
THREADS = 8
PER_THREAD = 250
JOIN = 60.0  # s: a hammer thread still running after this is a deadlock


class Workers:
    """Threads whose exceptions are kept, joined with a bound."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, target: Callable[[], object], name: str) -> None:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported by join()
                self.errors.append(exc)

        thread = threading.Thread(target=run, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(JOIN)
        stuck = [t.name for t in self.threads if t.is_alive()]
        assert not stuck, f"threads still blocked after {JOIN} s (deadlock?): {stuck}"
        assert not self.errors, f"{len(self.errors)} thread(s) failed: {self.errors[:3]!r}"


@contextmanager
def workers() -> Iterator[Workers]:
    pool = Workers()
    yield pool
    pool.join()


def _connected(make: MakeSocket, transport: str) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    server = make(mqsdk.SERVER)
    client = make(mqsdk.CLIENT)
    server.bind("tcp://127.0.0.1:0" if transport == "tcp" else f"inproc://ts-{id(server):x}")
    client.connect(server.last_endpoint)
    return server, client


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_eight_threads_send_and_receive_on_each_socket(make: MakeSocket, transport: str) -> None:
    # Eight CLIENT threads each send PER_THREAD requests and receive as many replies (any
    # thread may get any reply); eight SERVER threads each take PER_THREAD requests and
    # answer each by its routing id. Every request is answered exactly once.
    server, client = _connected(make, transport)
    replies: list[bytes] = []
    handled: list[bytes] = []
    window = 5  # requests a client thread has out before it reads replies

    def serve() -> None:
        for _ in range(PER_THREAD):
            request = server.recv(copy=False)
            handled.append(request.bytes)  # list.append: atomic
            server.send(b"re:" + request.bytes, routing_id=request.routing_id)

    def ask(index: int) -> None:
        for start in range(0, PER_THREAD, window):
            count = min(window, PER_THREAD - start)
            for seq in range(start, start + count):
                client.send(b"%d:%d" % (index, seq))
            replies.extend(client.recv() for _ in range(count))

    with workers() as pool:
        for index in range(THREADS):
            pool.start(serve, f"server-{index}")
        for index in range(THREADS):
            pool.start(lambda index=index: ask(index), f"client-{index}")
    expected = {b"%d:%d" % (i, s) for i in range(THREADS) for s in range(PER_THREAD)}
    assert len(handled) == len(expected) and set(handled) == expected  # none lost or twice
    duplicates = [m for m, n in Counter(replies).items() if n > 1]
    assert not duplicates, f"replies received twice: {duplicates[:5]}"
    assert set(replies) == {b"re:" + m for m in expected}


@pytest.mark.parametrize("transport", ["tcp", "inproc"])
def test_eight_threads_blocked_at_sndhwm_all_get_through(make: MakeSocket, transport: str) -> None:
    # The senders block at the CLIENT's SNDHWM (nobody reads yet); the SERVER then reads
    # everything: each blocked sender is woken as room appears, none is lost. (Over tcp
    # the OS buffers take some first, so fewer block.)
    server = make(mqsdk.SERVER)
    client = make(mqsdk.CLIENT)
    client.sndhwm = server.rcvhwm = 4
    server.bind("tcp://127.0.0.1:0" if transport == "tcp" else "inproc://ts-hwm")
    client.connect(server.last_endpoint)
    sent = threading.Semaphore(0)

    def send(index: int) -> None:
        for seq in range(PER_THREAD):
            client.send(b"%d:%d" % (index, seq))
            sent.release()

    with workers() as pool:
        for index in range(THREADS):
            pool.start(lambda index=index: send(index), f"sender-{index}")
        # Some senders block: over inproc at most 8 messages fit (SNDHWM + RCVHWM).
        assert sent.acquire(timeout=WAIT)
        got = [server.recv() for _ in range(THREADS * PER_THREAD)]
    assert sorted(got) == sorted(
        b"%d:%d" % (i, s) for i in range(THREADS) for s in range(PER_THREAD)
    )
    for index in range(THREADS):  # each thread's messages in its own order (one pipe)
        mine = [m for m in got if m.startswith(b"%d:" % index)]
        assert mine == [b"%d:%d" % (index, s) for s in range(PER_THREAD)]


def test_a_blocked_receive_leaves_the_socket_to_other_threads(make: MakeSocket) -> None:
    server, client = _connected(make, "tcp")
    client.send(b"hello")
    rid = server.recv(copy=False).routing_id
    received: list[bytes] = []
    with workers() as pool:
        pool.start(lambda: received.append(client.recv()), "blocked-receiver")
        wait_until(lambda: client._waiters._sleeping, "the receiving thread to block")
        # A single-threaded socket refuses this with EBUSY while another thread waits.
        client.send(b"from another thread")
        assert client.get(mqsdk.RCVTIMEO) > 0
        assert server.recv() == b"from another thread"
        server.send(b"wake up", routing_id=rid)
    assert received == [b"wake up"]


def test_a_blocked_poll_is_woken_by_a_message(make: MakeSocket) -> None:
    server, client = _connected(make, "tcp")
    client.send(b"hello")
    rid = server.recv(copy=False).routing_id
    polled: list[int] = []
    with workers() as pool:
        for index in range(THREADS):
            pool.start(
                lambda: polled.append(client.poll(int(WAIT * 1000), mqsdk.POLLIN)), f"poll-{index}"
            )
        wait_until(lambda: client._waiters._sleeping, "a polling thread to block")
        server.send(b"readable", routing_id=rid)
    assert polled == [mqsdk.POLLIN] * THREADS
    assert client.recv() == b"readable"


@pytest.mark.parametrize("how", ["close", "term"])
def test_close_or_term_wakes_every_blocked_thread(ctx: mqsdk.Context, how: str) -> None:
    server = ctx.socket(mqsdk.SERVER)
    client = ctx.socket(mqsdk.CLIENT)  # no peer: its sends block
    for sock in (server, client):
        sock.linger = 0
        sock.rcvtimeo = sock.sndtimeo = -1  # only the close/term can end these calls
    server.bind("tcp://127.0.0.1:0")
    outcomes: list[BaseException] = []

    def blocked(call: Callable[[], object]) -> None:
        try:
            call()
        except mqsdk.MQError as exc:
            outcomes.append(exc)

    with workers() as pool:
        for index in range(3):
            pool.start(lambda: blocked(server.recv), f"recv-{index}")
            pool.start(lambda: blocked(lambda: client.send(b"x")), f"send-{index}")
        for index in range(THREADS - 6):
            pool.start(lambda: blocked(lambda: server.poll(-1)), f"poll-{index}")
        for sock in (server, client):
            wait_until(lambda sock=sock: sock._waiters._sleeping, "the threads to block")
        if how == "close":
            server.close()
            client.close()
        else:
            ctx.term()
    assert len(outcomes) == THREADS
    if how == "close":
        assert {exc.errno for exc in outcomes} == {errno.ENOTSOCK}
    else:
        assert all(isinstance(exc, mqsdk.ContextTerminated) for exc in outcomes)


def test_close_waits_for_a_late_sleeper_before_closing_its_fds(
    ctx: mqsdk.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thread that registered as the waker's sleeper but lost the CPU before its poll
    # (a loaded machine) must not find the poller and waker closed when it runs again:
    # it would poll a closed poller (or a reused fd number) instead of failing with
    # ENOTSOCK. Here the "lost CPU" is a poller held back until the test lets it go.
    from mqsdk._kernel import threadsafe

    monkeypatch.setattr(threadsafe, "_CLOSE_WAIT", 0.01)  # the old bound, made short
    client = ctx.socket(mqsdk.CLIENT)
    client.linger = 0
    client.rcvtimeo = -1
    at_poll = threading.Event()
    go_on = threading.Event()
    make_poller = ctx.poller_class

    class HeldBackPoller:
        def __init__(self) -> None:
            self.real = make_poller()

        def register(self, fd: int, events: int) -> None:
            self.real.register(fd, events)

        def poll(self, timeout: float | None) -> list[tuple[int, int]]:
            at_poll.set()
            assert go_on.wait(WAIT), "the test never let the sleeper go on"
            return self.real.poll(timeout)

        def close(self) -> None:
            self.real.close()

    client._waiters._make_poller = HeldBackPoller
    outcome: list[BaseException] = []

    def receive() -> None:
        try:
            client.recv()
        except BaseException as exc:  # the assertion below names it
            outcome.append(exc)

    receiver = threading.Thread(target=receive, name="late sleeper")
    receiver.start()
    assert at_poll.wait(WAIT), "the receive never went to sleep"
    closer = threading.Thread(target=client.close, name="closer")
    closer.start()
    closer.join(0.5)  # time for a bounded close to give up on the sleeper (none should)
    go_on.set()
    receiver.join(WAIT)
    closer.join(WAIT)
    assert not receiver.is_alive() and not closer.is_alive(), "close or recv hangs"
    assert len(outcome) == 1
    assert isinstance(outcome[0], mqsdk.MQError), f"not ENOTSOCK: {outcome[0]!r}"
    assert outcome[0].errno == errno.ENOTSOCK


@pytest.mark.parametrize("kind", [mqsdk.CLIENT, mqsdk.SERVER])
def test_events_of_a_closed_socket_are_enotsock(make: MakeSocket, kind: int) -> None:
    # As on any socket (and in libzmq): a loop on poll_events()/EVENTS must end.
    sock = make(kind)
    sock.close()
    for ask in (sock.poll_events, lambda: sock.get(mqsdk.EVENTS), lambda: sock.events):
        with pytest.raises(mqsdk.MQError) as info:
            ask()
        assert info.value.errno == errno.ENOTSOCK
    with pytest.raises(mqsdk.MQError) as info:
        sock.poll(0)
    assert info.value.errno == errno.ENOTSUP  # pyzmq's answer for a poll after close


def test_a_poller_in_one_thread_while_another_sends(make: MakeSocket) -> None:
    # mqsdk.Poller reads the socket (fileno, events, its connections) from its thread.
    server, client = _connected(make, "tcp")
    poller = mqsdk.Poller()
    poller.register(server, mqsdk.POLLIN)
    got: list[bytes] = []

    def poll_then_receive() -> None:
        while len(got) < PER_THREAD:
            if dict(poller.poll(int(WAIT * 1000))).get(server):
                got.append(server.recv(mqsdk.NOBLOCK))  # POLLIN: a message is there

    with workers() as pool:
        pool.start(poll_then_receive, "poller")
        for seq in range(PER_THREAD):
            client.send(b"%d" % seq)
    assert got == [b"%d" % seq for seq in range(PER_THREAD)]
    poller.close()


def test_threads_waiting_together_all_time_out(make: MakeSocket) -> None:
    # Threads blocked together on one socket each give up at RCVTIMEO: the one sleeping on
    # the waker wakes the others as it leaves, and the next sleeps in its place.
    _server, client = _connected(make, "tcp")
    client.rcvtimeo = 100
    outcomes: list[str] = []

    def receive() -> None:
        try:
            client.recv()
        except mqsdk.Again:
            outcomes.append("timed out")

    with workers() as pool:
        for index in range(THREADS):
            pool.start(receive, f"recv-{index}")
    assert outcomes == ["timed out"] * THREADS


@pytest.mark.parametrize("how", ["close", "term"])
def test_close_or_term_in_the_middle_of_traffic(ctx: mqsdk.Context, how: str) -> None:
    # Threads busy sending, receiving and polling on both sockets when they close: each
    # ends with ENOTSOCK (ETERM after a term; a poll begun after the close: ENOTSUP, as
    # on any socket), never another error, a hang or a crash.
    server = ctx.socket(mqsdk.SERVER)
    client = ctx.socket(mqsdk.CLIENT)
    for sock in (server, client):
        sock.linger = 0
        sock.rcvtimeo = sock.sndtimeo = -1
    server.bind("tcp://127.0.0.1:0")
    client.connect(server.last_endpoint)
    ended: list[tuple[str, mqsdk.MQError]] = []
    busy = threading.Semaphore(0)

    def until_closed(role: str, step: Callable[[], object]) -> None:
        try:
            while True:
                step()
                busy.release()
        except mqsdk.MQError as exc:
            ended.append((role, exc))

    def echo() -> None:
        frame = server.recv(copy=False)
        try:
            server.send(frame, routing_id=frame.routing_id)
        except mqsdk.MQError as exc:
            if exc.errno != errno.EHOSTUNREACH:
                raise  # EHOSTUNREACH: the CLIENT closed first, its connection is gone

    with workers() as pool:
        for index in range(3):
            pool.start(lambda: until_closed("send", lambda: client.send(b"x")), f"send-{index}")
            pool.start(lambda: until_closed("recv", client.recv), f"recv-{index}")
            pool.start(lambda: until_closed("echo", echo), f"echo-{index}")
        pool.start(lambda: until_closed("poll", lambda: client.poll(-1, mqsdk.POLLIN)), "poll")
        for _ in range(THREADS * 20):  # traffic is flowing
            assert busy.acquire(timeout=WAIT), "no traffic"
        if how == "close":
            client.close()
            server.close()
        else:
            ctx.term()
    assert len(ended) == 10
    for role, exc in ended:
        if how == "term":
            assert isinstance(exc, mqsdk.ContextTerminated), (role, exc)
        elif role == "poll":
            assert exc.errno in (errno.ENOTSOCK, errno.ENOTSUP), exc
        else:
            assert exc.errno == errno.ENOTSOCK, (role, exc)
