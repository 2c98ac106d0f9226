"""proxy and proxy_steerable (patterns beyond PUSH/PULL are tested in their plugins)."""

from __future__ import annotations

import struct
import threading

import pytest
import zmq

import mqsdk

TIMEOUT_MS = 5000


def test_streamer_with_capture_and_pyzmq_outer_sides() -> None:
    ctx = mqsdk.Context()
    zctx = zmq.Context()
    try:
        frontend, backend, capture = (
            ctx.socket(mqsdk.PULL),
            ctx.socket(mqsdk.PUSH),
            ctx.socket(mqsdk.PUSH),
        )
        frontend.bind("tcp://127.0.0.1:*")
        backend.bind("tcp://127.0.0.1:*")
        capture.bind("inproc://capture")
        tap = ctx.socket(mqsdk.PULL)
        tap.rcvtimeo = TIMEOUT_MS
        tap.connect("inproc://capture")
        producer = zctx.socket(zmq.PUSH)
        producer.connect(frontend.last_endpoint.decode())
        consumer = zctx.socket(zmq.PULL)
        consumer.rcvtimeo = TIMEOUT_MS
        consumer.connect(backend.last_endpoint.decode())
        errors: list[BaseException] = []

        def run() -> None:
            try:
                mqsdk.proxy(frontend, backend, capture)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        producer.send_multipart([b"job", b"1"])
        assert consumer.recv_multipart() == [b"job", b"1"]
        assert tap.recv_multipart() == [b"job", b"1"]
        producer.close(linger=0)
        consumer.close(linger=0)
        ctx.term()
        thread.join(10)
        assert not thread.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], mqsdk.ContextTerminated)
    finally:
        ctx.destroy(linger=0)
        zctx.destroy(linger=0)


@pytest.mark.parametrize("control_type", [mqsdk.PAIR])
def test_steerable_pause_resume_statistics_terminate(control_type: int) -> None:
    ctx = mqsdk.Context()
    try:
        frontend, backend = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
        frontend.bind("inproc://front")
        backend.bind("inproc://back")
        control_inside, control = ctx.socket(control_type), ctx.socket(control_type)
        control_inside.bind("inproc://control")
        control.connect("inproc://control")
        control.rcvtimeo = TIMEOUT_MS
        producer, consumer = ctx.socket(mqsdk.PUSH), ctx.socket(mqsdk.PULL)
        producer.connect("inproc://front")
        consumer.connect("inproc://back")
        consumer.rcvtimeo = TIMEOUT_MS
        thread = threading.Thread(
            target=mqsdk.proxy_steerable, args=(frontend, backend, None, control_inside)
        )
        thread.start()
        producer.send_multipart([b"ab", b"cde"])
        assert consumer.recv_multipart() == [b"ab", b"cde"]
        control.send(b"PAUSE")
        control.send(b"STATISTICS")
        stats = [struct.unpack("=Q", f)[0] for f in control.recv_multipart()]
        assert stats == [2, 5, 0, 0, 0, 0, 2, 5]
        producer.send(b"held")
        consumer.rcvtimeo = 100
        with pytest.raises(mqsdk.Again):
            consumer.recv()
        control.send(b"RESUME")
        consumer.rcvtimeo = TIMEOUT_MS
        assert consumer.recv() == b"held"
        control.send(b"TERMINATE")
        thread.join(10)
        assert not thread.is_alive()
    finally:
        ctx.destroy(linger=0)


@pytest.mark.interop
def test_router_dealer_broker_between_pyzmq_clients_and_workers() -> None:
    ctx = mqsdk.Context()
    zctx = zmq.Context()
    try:
        frontend, backend = ctx.socket(mqsdk.ROUTER), ctx.socket(mqsdk.DEALER)
        frontend.bind("tcp://127.0.0.1:*")
        backend.bind("tcp://127.0.0.1:*")
        control_in, control = ctx.socket(mqsdk.PAIR), ctx.socket(mqsdk.PAIR)
        control_in.bind("inproc://broker-control")
        control.connect("inproc://broker-control")
        broker = threading.Thread(
            target=mqsdk.proxy_steerable, args=(frontend, backend, None, control_in)
        )
        broker.start()
        workers = []
        for _ in range(2):
            worker = zctx.socket(zmq.REP)
            worker.rcvtimeo = TIMEOUT_MS
            worker.connect(backend.last_endpoint.decode())
            workers.append(worker)
        clients = []
        for _ in range(3):
            client = zctx.socket(zmq.REQ)
            client.rcvtimeo = TIMEOUT_MS
            client.connect(frontend.last_endpoint.decode())
            clients.append(client)
        for index, client in enumerate(clients):
            client.send(b"request %d" % index)
        answered = 0
        poller = zmq.Poller()
        for worker in workers:
            poller.register(worker, zmq.POLLIN)
        while answered < len(clients):
            ready = dict(poller.poll(TIMEOUT_MS))
            assert ready, "no request reached a worker through the broker"
            for worker in ready:
                worker.send(worker.recv().replace(b"request", b"reply"))
                answered += 1
        for index, client in enumerate(clients):
            assert client.recv() == b"reply %d" % index
        control.send(b"TERMINATE")
        broker.join(10)
        assert not broker.is_alive()
        for s in workers + clients:
            s.close(linger=0)
    finally:
        ctx.destroy(linger=0)
        zctx.destroy(linger=0)
