"""STREAM against plain Python sockets (both roles) and against pyzmq's STREAM."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import zmq

import mqsdk

TIMEOUT_MS = 5000


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def _port(sock: mqsdk.Socket) -> int:
    return int(sock.last_endpoint.decode().rsplit(":", 1)[1])


def _read_all(conn: socket.socket) -> bytes:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    return data


def test_http_style_exchange_with_a_plain_client(ctx: mqsdk.Context) -> None:
    server = ctx.socket(mqsdk.STREAM)
    server.rcvtimeo = TIMEOUT_MS
    server.bind("tcp://127.0.0.1:*")
    client = socket.create_connection(("127.0.0.1", _port(server)), timeout=5)
    try:
        ident, hello = server.recv_multipart()
        assert hello == b"" and len(ident) == 5 and ident[0] == 0
        client.sendall(b"GET /index HTTP/1.0\r\n\r\n")
        request = b""
        while not request.endswith(b"\r\n\r\n"):
            got_id, data = server.recv_multipart()
            assert got_id == ident
            request += data
        assert request.startswith(b"GET /index")
        body = b"x" * 100_000
        server.send_multipart([ident, b"HTTP/1.0 200 OK\r\n\r\n" + body])
        server.send_multipart([ident, b""])  # close after the response
        assert _read_all(client) == b"HTTP/1.0 200 OK\r\n\r\n" + body
        assert server.recv_multipart() == [ident, b""]  # disconnect notification
        with pytest.raises(mqsdk.MQError) as info:
            server.send_multipart([ident, b"late"])
        assert info.value.errno == 113  # EHOSTUNREACH
    finally:
        client.close()


def test_stream_connects_to_a_plain_server(ctx: mqsdk.Context) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            received.append(conn.recv(100))
            conn.sendall(b"pong")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        client = ctx.socket(mqsdk.STREAM)
        client.rcvtimeo = TIMEOUT_MS
        client.connect(f"tcp://127.0.0.1:{port}")
        ident, empty = client.recv_multipart()
        assert empty == b""
        client.send_multipart([ident, b"ping"])
        assert client.recv_multipart() == [ident, b"pong"]
        thread.join(5)
        assert received == [b"ping"]
        assert client.recv_multipart() == [ident, b""]  # the server closed
    finally:
        listener.close()


def test_notify_off(ctx: mqsdk.Context) -> None:
    server = ctx.socket(mqsdk.STREAM)
    server.stream_notify = 0
    server.rcvtimeo = TIMEOUT_MS
    server.bind("tcp://127.0.0.1:*")
    with socket.create_connection(("127.0.0.1", _port(server)), timeout=5) as client:
        client.sendall(b"data")
        _ident, data = server.recv_multipart()
        assert data == b"data"


def test_unknown_routing_id(ctx: mqsdk.Context) -> None:
    server = ctx.socket(mqsdk.STREAM)
    with pytest.raises(mqsdk.MQError, match="no connection with routing id"):
        server.send_multipart([b"\x00abcd", b"x"])
    with pytest.raises(mqsdk.MQError, match="routing_id, data"):
        server.send(b"lonely")


@pytest.mark.interop
def test_against_pyzmq_stream(ctx: mqsdk.Context) -> None:
    zctx = zmq.Context()
    try:
        zserver = zctx.socket(zmq.STREAM)
        zserver.rcvtimeo = TIMEOUT_MS
        port = zserver.bind_to_random_port("tcp://127.0.0.1")
        client = ctx.socket(mqsdk.STREAM)
        client.rcvtimeo = TIMEOUT_MS
        client.connect(f"tcp://127.0.0.1:{port}")
        my_id, _ = client.recv_multipart()
        zid, notice = zserver.recv_multipart()
        assert notice == b""
        client.send_multipart([my_id, b"hello libzmq"])
        data = b""
        while data != b"hello libzmq":
            got_id, chunk = zserver.recv_multipart()
            assert got_id == zid
            data += chunk
        zserver.send_multipart([zid, b"hello mqsdk"])
        assert client.recv_multipart() == [my_id, b"hello mqsdk"]
        zserver.send_multipart([zid, b""])  # libzmq closes the connection, but only
        # once its socket processes commands again (observed), so keep it busy.
        client.rcvtimeo = 50
        for _ in range(100):
            zserver.getsockopt(zmq.EVENTS)
            try:
                assert client.recv_multipart() == [my_id, b""]
                break
            except mqsdk.Again:
                continue
        else:
            pytest.fail("libzmq closed the STREAM connection but mqsdk saw no disconnect")
        zserver.close(linger=0)
    finally:
        zctx.destroy(linger=0)
