"""CLIENT and SERVER against libzmq's own (4.3.4 built with its draft API, through
ctypes: :mod:`mqsdk.testing.libzmq`), both directions, either side binding, and with
eight threads on each side's shared socket.

Skips with the reason where that library is absent (fails instead under
``MQSDK_REQUIRE_DRAFT_LIBZMQ=1``, as in CI).
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable

import pytest

import mqsdk
from mqsdk.testing import libzmq

MakeSocket = Callable[[int], mqsdk.Socket]
COUNT = 100
THREADS = 8
PER_THREAD = 100
JOIN = 60.0

pytestmark = pytest.mark.interop


BINDS = pytest.mark.parametrize("mqsdk_binds", [True, False], ids=["mqsdk-binds", "libzmq-binds"])


@BINDS
def test_mqsdk_client_to_libzmq_server(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext, mqsdk_binds: bool
) -> None:
    client, server = make(mqsdk.CLIENT), lib_ctx.socket(libzmq.SERVER)
    libzmq.link_over_tcp(client, server, mqsdk_binds)
    for number in range(COUNT):
        client.send(b"q%d" % number)
    client.send(b"x" * 70000)  # a long frame (8-byte size) too
    requests = [server.recv() for _ in range(COUNT + 1)]
    assert [m.data for m in requests] == [b"q%d" % n for n in range(COUNT)] + [b"x" * 70000]
    assert len({m.routing_id for m in requests}) == 1 and requests[0].routing_id != 0
    for message in requests:
        server.send(b"re:" + message.data[:8], routing_id=message.routing_id)
    replies = [client.recv() for _ in range(COUNT + 1)]
    assert replies == [b"re:" + m.data[:8] for m in requests]


@BINDS
def test_libzmq_client_to_mqsdk_server(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext, mqsdk_binds: bool
) -> None:
    server = make(mqsdk.SERVER)
    clients = [lib_ctx.socket(libzmq.CLIENT) for _ in range(2)]
    if mqsdk_binds:
        server.bind("tcp://127.0.0.1:*")
        for client in clients:
            client.connect(server.last_endpoint.decode())
    else:
        for client in clients:
            server.connect(client.bind("tcp://127.0.0.1:*"))
    ids = {}
    for index, client in enumerate(clients):
        for number in range(COUNT):
            client.send(b"%d:%d" % (index, number))
        for number in range(COUNT):
            frame = server.recv(copy=False)
            assert frame.bytes == b"%d:%d" % (index, number)
            ids.setdefault(index, frame.routing_id)
            assert frame.routing_id == ids[index]
            server.send(b"re:" + frame.bytes, routing_id=frame.routing_id)
    assert len(set(ids.values())) == 2 and 0 not in ids.values()
    for index, client in enumerate(clients):
        assert [client.recv().data for _ in range(COUNT)] == [
            b"re:%d:%d" % (index, n) for n in range(COUNT)
        ]


def test_multipart_is_refused_by_both_alike(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext
) -> None:
    for lib_type, our_type in ((libzmq.CLIENT, mqsdk.CLIENT), (libzmq.SERVER, mqsdk.SERVER)):
        with pytest.raises(libzmq.LibzmqError) as libzmq_refusal:
            lib_ctx.socket(lib_type).send(b"a", more=True, routing_id=1)
        with pytest.raises(mqsdk.MQError) as mqsdk_refusal:
            make(our_type).send(b"a", mqsdk.SNDMORE, routing_id=1)
        assert mqsdk_refusal.value.errno == libzmq_refusal.value.errno == errno.EINVAL


def test_unknown_routing_id_is_refused_by_both_alike(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext
) -> None:
    with pytest.raises(libzmq.LibzmqError) as libzmq_refusal:
        lib_ctx.socket(libzmq.SERVER).send(b"a", routing_id=12345, timeout=0)
    with pytest.raises(mqsdk.MQError) as mqsdk_refusal:
        make(mqsdk.SERVER).send(b"a", mqsdk.NOBLOCK, routing_id=12345)
    assert mqsdk_refusal.value.errno == libzmq_refusal.value.errno == errno.EHOSTUNREACH


def _run(threads: list[threading.Thread], errors: list[BaseException]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still blocked after {JOIN} s (deadlock?): {stuck}"
    assert not errors, f"{len(errors)} thread(s) failed: {errors[:3]!r}"


def _thread(
    target: Callable[[], object], name: str, errors: list[BaseException]
) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as exc:  # reported by _run
            errors.append(exc)

    return threading.Thread(target=run, name=name, daemon=True)


def test_eight_libzmq_client_threads_against_eight_mqsdk_server_threads(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext
) -> None:
    # Both sockets are shared: libzmq's CLIENT by eight threads that send and receive, our
    # SERVER by eight that answer by routing id. Each request is answered exactly once.
    server, client = make(mqsdk.SERVER), lib_ctx.socket(libzmq.CLIENT)
    server.bind("tcp://127.0.0.1:*")
    client.connect(server.last_endpoint.decode())
    handled: list[bytes] = []
    replies: list[bytes] = []
    errors: list[BaseException] = []

    def serve() -> None:
        for _ in range(PER_THREAD):
            request = server.recv(copy=False)
            handled.append(request.bytes)
            server.send(b"re:" + request.bytes, routing_id=request.routing_id)

    def ask(index: int) -> None:
        for seq in range(PER_THREAD):
            client.send(b"%d:%d" % (index, seq))
            replies.append(client.recv().data)

    threads = [_thread(serve, f"server-{i}", errors) for i in range(THREADS)]
    threads += [_thread(lambda i=i: ask(i), f"client-{i}", errors) for i in range(THREADS)]
    _run(threads, errors)
    expected = [b"%d:%d" % (i, s) for i in range(THREADS) for s in range(PER_THREAD)]
    assert sorted(handled) == sorted(expected)
    assert sorted(replies) == sorted(b"re:" + m for m in expected)


def test_eight_mqsdk_client_threads_against_a_libzmq_server(
    make: MakeSocket, lib_ctx: libzmq.LibzmqContext
) -> None:
    client, server = make(mqsdk.CLIENT), lib_ctx.socket(libzmq.SERVER)
    client.connect(server.bind("tcp://127.0.0.1:*"))
    replies: list[bytes] = []
    errors: list[BaseException] = []

    def serve() -> None:
        for _ in range(THREADS * PER_THREAD):
            request = server.recv()
            server.send(b"re:" + request.data, routing_id=request.routing_id)

    def ask(index: int) -> None:
        for seq in range(PER_THREAD):
            client.send(b"%d:%d" % (index, seq))
            replies.append(client.recv())

    threads = [_thread(serve, "libzmq-server", errors)]
    threads += [_thread(lambda i=i: ask(i), f"client-{i}", errors) for i in range(THREADS)]
    _run(threads, errors)
    assert sorted(replies) == sorted(
        b"re:%d:%d" % (i, s) for i in range(THREADS) for s in range(PER_THREAD)
    )
