"""The pyzmq-shaped socket API, between mqsdk sockets over tcp and ipc."""

from __future__ import annotations

import errno
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

import mqsdk

TIMEOUT_MS = 5000


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture(params=["tcp", "ipc"])
def endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "tcp":
        return "tcp://127.0.0.1:*"
    return f"ipc://{tmp_path}/sock"


def _pair(
    ctx: mqsdk.Context, endpoint: str, kinds: tuple[int, int]
) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    a, b = ctx.socket(kinds[0]), ctx.socket(kinds[1])
    for s in (a, b):
        s.rcvtimeo = TIMEOUT_MS
        s.sndtimeo = TIMEOUT_MS
        s.linger = 0
    a.bind(endpoint)
    b.connect(a.last_endpoint.decode())
    return a, b


def test_constants_match_libzmq() -> None:
    assert (mqsdk.PAIR, mqsdk.PUB, mqsdk.SUB, mqsdk.REQ, mqsdk.REP) == (0, 1, 2, 3, 4)
    assert (mqsdk.DEALER, mqsdk.ROUTER, mqsdk.PULL, mqsdk.PUSH) == (5, 6, 7, 8)
    assert (mqsdk.XPUB, mqsdk.XSUB, mqsdk.STREAM) == (9, 10, 11)
    assert mqsdk.NOBLOCK == mqsdk.DONTWAIT == 1
    assert mqsdk.SNDMORE == 2
    assert (mqsdk.SNDHWM, mqsdk.RCVHWM, mqsdk.LINGER, mqsdk.RCVTIMEO) == (23, 24, 17, 27)
    assert mqsdk.IDENTITY == mqsdk.ROUTING_ID == 5
    assert mqsdk.LAST_ENDPOINT == 32


def test_push_pull_roundtrip(ctx: mqsdk.Context, endpoint: str) -> None:
    pull, push = _pair(ctx, endpoint, (mqsdk.PULL, mqsdk.PUSH))
    push.send(b"hello")
    push.send(bytearray(b"from a bytearray"))
    push.send(memoryview(b"from a memoryview"))
    assert pull.recv() == b"hello"
    assert pull.recv() == b"from a bytearray"
    assert pull.recv() == b"from a memoryview"


def test_str_is_refused_with_a_hint(ctx: mqsdk.Context) -> None:
    push = ctx.socket(mqsdk.PUSH)
    with pytest.raises(TypeError, match="send_string"):
        push.send("text")  # type: ignore[arg-type]
    push.close()


def test_multipart_and_sndmore(ctx: mqsdk.Context, endpoint: str) -> None:
    pull, push = _pair(ctx, endpoint, (mqsdk.PULL, mqsdk.PUSH))
    push.send(b"a", mqsdk.SNDMORE)
    push.send(b"", mqsdk.SNDMORE)
    push.send(b"c")
    push.send_multipart([b"x" * 255, b"y" * 256, b""])
    assert pull.recv() == b"a"
    assert pull.rcvmore
    assert pull.getsockopt(mqsdk.RCVMORE) == 1
    assert pull.recv() == b""
    assert pull.recv() == b"c"
    assert not pull.rcvmore
    assert pull.recv_multipart() == [b"x" * 255, b"y" * 256, b""]


def test_recv_multipart_returns_the_rest_of_a_started_message(
    ctx: mqsdk.Context, endpoint: str
) -> None:
    pull, push = _pair(ctx, endpoint, (mqsdk.PULL, mqsdk.PUSH))
    push.send_multipart([b"1", b"2", b"3"])
    assert pull.recv() == b"1"
    assert pull.recv_multipart() == [b"2", b"3"]


def test_big_and_many_frames(ctx: mqsdk.Context, endpoint: str) -> None:
    pull, push = _pair(ctx, endpoint, (mqsdk.PULL, mqsdk.PUSH))
    big = bytes(range(256)) * (16 * 4096 + 1)  # a bit over 16 MiB
    frames = [str(i).encode() for i in range(1000)]
    push.send(big)
    push.send_multipart(frames)
    assert pull.recv() == big
    assert pull.recv_multipart() == frames


def test_many_small_messages_in_order(ctx: mqsdk.Context, endpoint: str) -> None:
    pull, push = _pair(ctx, endpoint, (mqsdk.PULL, mqsdk.PUSH))
    count = 20000

    def produce() -> None:
        for i in range(count):
            push.send(i.to_bytes(4, "big"))

    producer = threading.Thread(target=produce)
    producer.start()
    got = [int.from_bytes(pull.recv(), "big") for _ in range(count)]
    producer.join(10)
    assert got == list(range(count))


def test_strings_json_and_pyobj(ctx: mqsdk.Context, endpoint: str) -> None:
    a, b = _pair(ctx, endpoint, (mqsdk.PAIR, mqsdk.PAIR))
    b.send_string("héllo")
    assert a.recv_string() == "héllo"
    a.send_json({"k": [1, 2]})
    assert b.recv_json() == {"k": [1, 2]}
    b.send_pyobj({"set": {1, 2}})
    assert a.recv_pyobj() == {"set": {1, 2}}
    with pytest.raises(TypeError):
        a.send_string(b"bytes")  # type: ignore[arg-type]
    b.send(json.dumps([1]).encode())
    assert a.recv_json() == [1]


def test_recv_copy_false_gives_frames(ctx: mqsdk.Context, endpoint: str) -> None:
    pull, push = _pair(ctx, endpoint, (mqsdk.PULL, mqsdk.PUSH))
    push.send_multipart([b"one", b"two"])
    first = pull.recv(copy=False)
    assert isinstance(first, mqsdk.Frame)
    assert first.bytes == b"one" and first.more
    assert bytes(first.buffer) == b"one"
    assert first.get("Socket-Type") == "PUSH"
    second = pull.recv(copy=False)
    assert second.bytes == b"two" and not second.more
    push.send_multipart([b"x", b"y"])
    frames = pull.recv_multipart(copy=False)
    assert [f.bytes for f in frames] == [b"x", b"y"]
    assert [f.more for f in frames] == [True, False]


def test_noblock_and_timeouts_raise_again(ctx: mqsdk.Context, endpoint: str) -> None:
    pull, _push = _pair(ctx, endpoint, (mqsdk.PULL, mqsdk.PUSH))
    with pytest.raises(mqsdk.Again) as info:
        pull.recv(mqsdk.NOBLOCK)
    assert info.value.errno == errno.EAGAIN
    pull.rcvtimeo = 50
    with pytest.raises(mqsdk.Again, match="timed out"):
        pull.recv()


def test_push_blocks_at_sndhwm_then_raises_again(ctx: mqsdk.Context) -> None:
    push = ctx.socket(mqsdk.PUSH)
    push.sndhwm = 5
    push.linger = 0
    push.connect("tcp://127.0.0.1:1")  # nobody there: messages queue on the pipe
    for i in range(5):
        push.send(b"%d" % i, mqsdk.NOBLOCK)
    with pytest.raises(mqsdk.Again):
        push.send(b"6", mqsdk.NOBLOCK)
    push.sndtimeo = 50
    with pytest.raises(mqsdk.Again, match="timed out"):
        push.send(b"6")


def test_push_without_peers_cannot_send(ctx: mqsdk.Context) -> None:
    push = ctx.socket(mqsdk.PUSH)
    with pytest.raises(mqsdk.Again):
        push.send(b"x", mqsdk.NOBLOCK)
    push.close()


def test_send_takes_pyzmqs_arguments_in_pyzmqs_order(ctx: mqsdk.Context) -> None:
    # pyzmq 27: send(data, flags, copy, track, routing_id, group). A type that does not
    # route by id checks the id and ignores it, as libzmq does.
    pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
    pull.bind("inproc://send-order")
    push.connect("inproc://send-order")
    push.send(b"one", 0, True, False, 7, None)
    push.send(b"two", routing_id=7)
    assert [pull.recv(), pull.recv()] == [b"one", b"two"]
    with pytest.raises(mqsdk.MQError) as info:
        push.send(b"bad id", 0, True, False, 0)  # zmq_msg_set_routing_id refuses 0
    assert info.value.errno == errno.EINVAL
    pull.close(linger=0)
    push.close(linger=0)


def test_immediate_does_not_queue_before_connection(ctx: mqsdk.Context) -> None:
    push = ctx.socket(mqsdk.PUSH)
    push.immediate = 1
    push.connect("tcp://127.0.0.1:1")
    with pytest.raises(mqsdk.Again):
        push.send(b"x", mqsdk.NOBLOCK)
    push.close(linger=0)


def test_connect_before_bind_queues(ctx: mqsdk.Context, tmp_path: Path) -> None:
    push = ctx.socket(mqsdk.PUSH)
    push.linger = 0
    endpoint = f"ipc://{tmp_path}/later"
    push.connect(endpoint)
    push.send(b"queued before the peer existed")
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = TIMEOUT_MS
    pull.bind(endpoint)
    assert pull.recv() == b"queued before the peer existed"


def test_round_robin_over_two_peers(ctx: mqsdk.Context) -> None:
    push = ctx.socket(mqsdk.PUSH)
    push.linger = 0
    pulls = [ctx.socket(mqsdk.PULL) for _ in range(2)]
    for pull in pulls:
        pull.rcvtimeo = TIMEOUT_MS
        pull.bind("tcp://127.0.0.1:*")
        push.connect(pull.last_endpoint.decode())
    # Both pipes exist from connect() on, so the first two messages go one each.
    for i in range(10):
        push.send(b"%d" % i)
    got = [sorted(int(pull.recv()) for _ in range(5)) for pull in pulls]
    assert sorted(got) == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]


def test_fair_queue_from_two_pushers(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = TIMEOUT_MS
    pull.bind("tcp://127.0.0.1:*")
    pushes = [ctx.socket(mqsdk.PUSH) for _ in range(2)]
    for index, push in enumerate(pushes):
        push.linger = 0
        push.connect(pull.last_endpoint.decode())
        for i in range(50):
            push.send(b"%d-%d" % (index, i))
    got = [pull.recv() for _ in range(100)]
    for index in range(2):
        mine = [m for m in got if m.startswith(b"%d-" % index)]
        assert mine == [b"%d-%d" % (index, i) for i in range(50)]


def test_pair_refuses_a_second_peer(ctx: mqsdk.Context) -> None:
    server = ctx.socket(mqsdk.PAIR)
    server.rcvtimeo = TIMEOUT_MS
    server.bind("tcp://127.0.0.1:*")
    first, second = ctx.socket(mqsdk.PAIR), ctx.socket(mqsdk.PAIR)
    for client in (first, second):
        client.linger = 0
    first.connect(server.last_endpoint.decode())
    first.send(b"first")
    assert server.recv() == b"first"
    second.connect(server.last_endpoint.decode())
    second.send(b"second")
    first.send(b"first again")
    assert server.recv() == b"first again"
    server.rcvtimeo = 200
    with pytest.raises(mqsdk.Again):
        server.recv()


def test_wrong_direction_is_refused(ctx: mqsdk.Context) -> None:
    push, pull = ctx.socket(mqsdk.PUSH), ctx.socket(mqsdk.PULL)
    with pytest.raises(mqsdk.MQError) as info:
        push.recv(mqsdk.NOBLOCK)
    assert info.value.errno == errno.ENOTSUP
    with pytest.raises(mqsdk.MQError):
        pull.send(b"x", mqsdk.NOBLOCK)


def test_options_as_attributes_and_numbers(ctx: mqsdk.Context) -> None:
    s = ctx.socket(mqsdk.PUSH)
    assert s.sndhwm == 1000
    s.sndhwm = 10
    assert s.getsockopt(mqsdk.SNDHWM) == 10
    s.setsockopt(mqsdk.LINGER, 0)
    assert s.linger == 0
    s.routing_id = b"me"
    assert s.getsockopt(mqsdk.IDENTITY) == b"me"
    assert s.type == mqsdk.PUSH == s.getsockopt(mqsdk.TYPE)
    with pytest.raises(mqsdk.MQError, match="invalid value -5 for socket option sndhwm"):
        s.sndhwm = -5
    with pytest.raises(mqsdk.MQError, match="unknown socket option 'nonsense'"):
        s.set("nonsense", 1)
    with pytest.raises(mqsdk.MQError, match="read-only"):
        s.setsockopt(mqsdk.LAST_ENDPOINT, b"x")
    with pytest.raises(mqsdk.MQError, match="routing_id"):
        s.routing_id = b"\x00reserved"


def test_socket_defaults_from_configuration() -> None:
    with mqsdk.Context(config={"socket_defaults": {"sndhwm": 7, "linger": 0}}) as context:
        s = context.socket(mqsdk.PUSH)
        assert s.sndhwm == 7
        assert s.linger == 0


def test_last_endpoint_and_unbind(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.bind("tcp://127.0.0.1:*")
    resolved = pull.last_endpoint.decode()
    port = int(resolved.rsplit(":", 1)[1])
    assert resolved == f"tcp://127.0.0.1:{port}" and port > 0
    pull.unbind(resolved)
    again = ctx.socket(mqsdk.PULL)
    again.bind(resolved)  # the port is free again
    with pytest.raises(mqsdk.MQError, match="not bound"):
        pull.unbind(resolved)


def test_bind_twice_is_address_in_use(ctx: mqsdk.Context) -> None:
    a, b = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PULL)
    a.bind("tcp://127.0.0.1:*")
    with pytest.raises(mqsdk.MQError) as info:
        b.bind(a.last_endpoint.decode())
    assert info.value.errno == errno.EADDRINUSE


def test_bind_to_random_port(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    assert pull.last_endpoint.decode() == f"tcp://127.0.0.1:{port}"
    other = ctx.socket(mqsdk.PULL)
    port2 = other.bind_to_random_port("tcp://127.0.0.1", min_port=40000, max_port=60000)
    assert 40000 <= port2 < 60000


def test_bad_endpoints(ctx: mqsdk.Context) -> None:
    s = ctx.socket(mqsdk.PUSH)
    with pytest.raises(mqsdk.EndpointError, match="not an endpoint"):
        s.connect("127.0.0.1:5555")
    with pytest.raises(mqsdk.UnsupportedTransport, match="nope://"):
        s.connect("nope://x")
    with pytest.raises(mqsdk.EndpointError):
        s.connect("tcp://127.0.0.1:notaport")


def test_disconnect_stops_delivery(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = TIMEOUT_MS
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(mqsdk.PUSH)
    push.linger = 0
    endpoint = pull.last_endpoint.decode()
    push.connect(endpoint)
    push.send(b"before")
    assert pull.recv() == b"before"
    push.disconnect(endpoint)
    with pytest.raises(mqsdk.Again):
        push.send(b"after", mqsdk.NOBLOCK)
    with pytest.raises(mqsdk.MQError, match="not connected"):
        push.disconnect(endpoint)


def test_reconnect_after_the_binder_restarts(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.last_endpoint.decode()
    push = ctx.socket(mqsdk.PUSH)
    push.linger = 0
    push.reconnect_ivl = 20
    push.connect(endpoint)
    push.send(b"one")
    pull.rcvtimeo = TIMEOUT_MS
    assert pull.recv() == b"one"
    pull.close(linger=0)
    reborn = ctx.socket(mqsdk.PULL)
    reborn.bind(endpoint)
    # A message written before the pusher noticed the old peer is gone dies with that
    # connection (libzmq behaves the same), so keep sending until one gets through.
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        push.send(b"two", mqsdk.NOBLOCK)
        if reborn.poll(50):
            break
    assert reborn.recv(mqsdk.NOBLOCK) == b"two"
    assert push.stats["reconnects"] >= 1


def test_linger_delivers_after_close(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = TIMEOUT_MS
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(mqsdk.PUSH)
    push.connect(pull.last_endpoint.decode())
    payload = b"z" * 1_000_000
    for _ in range(20):
        push.send(payload)
    push.close(linger=5000)
    for _ in range(20):
        assert pull.recv() == payload


def test_closed_socket_raises(ctx: mqsdk.Context) -> None:
    s = ctx.socket(mqsdk.PULL)
    s.close()
    assert s.closed
    with pytest.raises(mqsdk.MQError, match="closed"):
        s.recv()
    s.close()  # idempotent


def test_context_manager_and_term_closes_sockets() -> None:
    with mqsdk.Context() as context:
        s = context.socket(mqsdk.PULL)
        s.bind("tcp://127.0.0.1:*")
    assert s.closed
    assert context.closed
    with pytest.raises(mqsdk.ContextTerminated):
        context.socket(mqsdk.PULL)


def test_term_wakes_a_blocked_receiver() -> None:
    context = mqsdk.Context()
    s = context.socket(mqsdk.PULL)
    s.bind("tcp://127.0.0.1:*")
    errors: list[BaseException] = []
    started = threading.Event()

    def blocked() -> None:
        started.set()
        try:
            s.recv()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=blocked)
    thread.start()
    assert started.wait(5)
    context.term()
    thread.join(10)
    assert not thread.is_alive(), "a receiver blocked in recv() was not woken by term()"
    assert len(errors) == 1 and isinstance(errors[0], mqsdk.MQError)


def test_unknown_socket_type(ctx: mqsdk.Context) -> None:
    with pytest.raises(mqsdk.PluginError, match="no installed pattern plugin provides"):
        ctx.socket(99)


def test_poll_and_events(ctx: mqsdk.Context, endpoint: str) -> None:
    pull, push = _pair(ctx, endpoint, (mqsdk.PULL, mqsdk.PUSH))
    assert pull.poll(0) == 0
    assert push.poll(1000, mqsdk.POLLOUT) == mqsdk.POLLOUT
    push.send(b"x")
    assert pull.poll(TIMEOUT_MS) == mqsdk.POLLIN
    assert pull.events & mqsdk.POLLIN
    assert pull.recv() == b"x"
    assert pull.poll(10) == 0


def test_second_thread_using_a_busy_socket_is_refused(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.bind("inproc://busy")
    push = ctx.socket(mqsdk.PUSH)
    push.connect("inproc://busy")
    blocked = threading.Event()
    result: list[bytes] = []

    def receiver() -> None:
        blocked.set()
        result.append(pull.recv())

    thread = threading.Thread(target=receiver)
    thread.start()
    assert blocked.wait(5)
    deadline = time.monotonic() + 5
    while not pull.io_policy.waiting_thread and time.monotonic() < deadline:
        time.sleep(0.001)  # wait until the other thread is inside its blocking wait
    with pytest.raises(mqsdk.MQError, match="in use by another thread") as info:
        pull.recv(mqsdk.NOBLOCK)
    assert info.value.errno == errno.EBUSY
    push.send(b"for the owner")
    thread.join(5)
    assert result == [b"for the owner"]  # the owner's state was not corrupted


def test_context_is_thread_safe() -> None:
    with mqsdk.Context() as context:
        errors: list[BaseException] = []

        def worker(index: int) -> None:
            try:
                for round_ in range(20):
                    pull = context.socket(mqsdk.PULL)
                    push = context.socket(mqsdk.PUSH)
                    name = f"inproc://t{index}-{round_}"
                    pull.bind(name)
                    push.connect(name)
                    push.send(b"x")
                    pull.rcvtimeo = TIMEOUT_MS
                    assert pull.recv() == b"x"
                    push.close()
                    pull.close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []


def _noblock_sends_right_after_again(
    push: Any, again: type[Exception], noblock: int
) -> tuple[int, int]:
    """Send to a slow reader with a timed send; after each Again, send NOBLOCK at once.

    Returns (Agains, NOBLOCK sends that succeeded right after one). Such a success means
    the Again was raised while there was room, unless room appeared in the microseconds
    between the two calls (rare: libzmq shows it about once in a few hundred).
    """
    agains = succeeded = 0
    deadline = time.monotonic() + 10  # a bound; normally 60 Agains take about a second
    while agains < 60 and time.monotonic() < deadline:
        try:
            push.send(b"x" * 1000)
        except again:
            agains += 1
            try:
                push.send(b"x" * 1000, noblock)
                succeeded += 1
            except again:
                pass
    return agains, succeeded


def test_again_from_a_timed_out_send_means_no_room_right_now(endpoint: str) -> None:
    """Issue 14, item 9: a timed send waited for the poller to call the connection
    writable, but the OS accepts bytes sooner (Linux reports a TCP socket writable once a
    third of its buffer is free, a unix one once three quarters are), so a NOBLOCK send
    right after its Again, which writes before it decides, often found room (ipc: about
    a third of the time, tcp: half in some runs). The timed send now takes that last look
    itself before raising Again."""
    zctx: zmq.Context[Any] = zmq.Context()
    ctx = mqsdk.Context()
    rates: dict[str, tuple[int, int]] = {}
    try:
        for library in ("mqsdk", "pyzmq"):
            pull = zctx.socket(zmq.PULL)
            pull.linger = 0
            pull.rcvhwm = 1
            pull.rcvbuf = 4096
            pull.bind(endpoint if endpoint.startswith("tcp") else f"{endpoint}-{library}")
            push: Any = ctx.socket(mqsdk.PUSH) if library == "mqsdk" else zctx.socket(zmq.PUSH)
            push.linger = 0
            push.sndhwm = 1
            push.sndbuf = 4096
            push.sndtimeo = 5
            push.connect(pull.last_endpoint.decode())
            stop = threading.Event()

            def slow_reader(pull: zmq.Socket[bytes] = pull, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    if pull.poll(100):
                        pull.recv()
                        time.sleep(0.002)  # the consumer's pace, not synchronisation

            reader = threading.Thread(target=slow_reader, daemon=True)
            reader.start()
            try:
                if library == "mqsdk":
                    rates[library] = _noblock_sends_right_after_again(
                        push, mqsdk.Again, mqsdk.NOBLOCK
                    )
                else:
                    rates[library] = _noblock_sends_right_after_again(push, zmq.Again, zmq.NOBLOCK)
            finally:
                stop.set()
                reader.join(10)
                push.close(linger=0)
                pull.close(linger=0)
    finally:
        ctx.destroy(linger=0)
        zctx.destroy(linger=0)
    agains, succeeded = rates["mqsdk"]
    reference_agains, reference_succeeded = rates["pyzmq"]
    assert agains and reference_agains, f"no send timed out: {rates}"
    # A few may succeed legitimately (room made in between): libzmq's share plus 10
    # points (at least 2) leaves room for a loaded machine, far below the share before.
    allowed = max(2.0, (reference_succeeded / reference_agains + 0.1) * agains)
    assert succeeded <= allowed, (
        f"after {agains} timed-out sends, a NOBLOCK send right after succeeded {succeeded} "
        f"times (pyzmq: {reference_succeeded} of {reference_agains}): Again was raised "
        "while there was room"
    )
