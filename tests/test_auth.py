"""mqsdk.auth: certificate files shared with pyzmq, the asyncio authenticator, CURVE
policies (directory, allow-any, callback)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq.auth

import mqsdk
import mqsdk.asyncio
import mqsdk.auth
from mqsdk.auth.asyncio import AsyncioAuthenticator
from mqsdk.monitor import Event, recv_monitor_message


@pytest.mark.interop
def test_certificates_written_by_pyzmq_load_in_mqsdk(tmp_path: Path) -> None:
    public_file, secret_file = zmq.auth.create_certificates(tmp_path, "peer", {"name": "peer"})
    assert mqsdk.auth.load_certificate(public_file) == zmq.auth.load_certificate(public_file)
    assert mqsdk.auth.load_certificate(secret_file) == zmq.auth.load_certificate(secret_file)
    assert mqsdk.auth.load_certificates(tmp_path) == zmq.auth.load_certificates(tmp_path)


@pytest.mark.interop
def test_certificates_written_by_mqsdk_load_in_pyzmq(tmp_path: Path) -> None:
    public_file, secret_file = mqsdk.auth.create_certificates(tmp_path, "peer", {"name": "peer"})
    public, secret = zmq.auth.load_certificate(secret_file)
    assert secret is not None and zmq.curve_public(secret) == public
    assert zmq.auth.load_certificate(public_file) == (public, None)
    assert zmq.auth.load_certificates(tmp_path) == {public: True}
    assert os.stat(secret_file).st_mode & 0o077 == 0  # the secret is private


def test_load_certificate_errors(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        mqsdk.auth.load_certificate(tmp_path / "missing.key")
    empty = tmp_path / "empty.key"
    empty.write_text("metadata\ncurve\n")
    with pytest.raises(ValueError, match="no public key"):
        mqsdk.auth.load_certificate(empty)
    with pytest.raises(OSError):
        mqsdk.auth.load_certificates(tmp_path / "nowhere")


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def curve_pair(ctx: Any, client_keys: tuple[bytes, bytes]) -> tuple[Any, Any, Any]:
    server_public, server_secret = mqsdk.curve_keypair()
    server = ctx.socket(mqsdk.PULL)
    server.curve_secretkey = server_secret
    server.curve_server = 1
    monitor = server.get_monitor_socket()
    monitor.rcvtimeo = 5000
    server.bind("tcp://127.0.0.1:*")
    client = ctx.socket(mqsdk.PUSH)
    client.curve_serverkey = server_public
    client.curve_publickey, client.curve_secretkey = client_keys
    client.connect(server.last_endpoint.decode())
    return server, client, monitor


def auth_failure(monitor: Any) -> int:
    while True:
        event = recv_monitor_message(monitor)
        if event.event == Event.HANDSHAKE_FAILED_AUTH:
            return event.value


def test_curve_certificate_directory(ctx: mqsdk.Context, tmp_path: Path) -> None:
    _, secret_file = mqsdk.auth.create_certificates(tmp_path, "client")
    keys = mqsdk.auth.load_certificate(secret_file)
    assert keys[1] is not None
    with mqsdk.auth.ThreadAuthenticator(ctx) as auth:
        auth.configure_curve(location=tmp_path)
        server, client, _ = curve_pair(ctx, (keys[0], keys[1]))
        client.send(b"known")
        frame = server.recv(copy=False)
        assert frame.get("User-Id") == keys[0].decode()
        _, stranger, monitor = curve_pair(ctx, mqsdk.curve_keypair())
        stranger.send(b"unknown")
        assert auth_failure(monitor) == 400


def test_curve_allow_any_and_callback(ctx: mqsdk.Context) -> None:
    allowed = mqsdk.curve_keypair()

    class Provider:
        def __init__(self) -> None:
            self.asked: list[bytes] = []

        def callback(self, domain: str, key: bytes) -> bool:
            self.asked.append(key)
            return key == allowed[0]

    with mqsdk.auth.ThreadAuthenticator(ctx) as auth:
        auth.configure_curve(location=mqsdk.auth.CURVE_ALLOW_ANY)
        server, client, _ = curve_pair(ctx, mqsdk.curve_keypair())
        client.send(b"anyone")
        assert server.recv() == b"anyone"
        provider = Provider()
        auth.configure_curve_callback(credentials_provider=provider)
        server, client, _ = curve_pair(ctx, allowed)
        client.send(b"vetted")
        assert server.recv() == b"vetted"
        _, other, monitor = curve_pair(ctx, mqsdk.curve_keypair())
        other.send(b"no")
        assert auth_failure(monitor) == 400
        assert provider.asked[0] == allowed[0]


def test_curve_without_authenticator_accepts_any_client(ctx: mqsdk.Context) -> None:
    # libzmq's "Stonehouse" behaviour: encryption without client authentication.
    server, client, _ = curve_pair(ctx, mqsdk.curve_keypair())
    client.send(b"unauthenticated but encrypted")
    assert server.recv() == b"unauthenticated but encrypted"


def test_asyncio_authenticator() -> None:
    async def main() -> tuple[bytes, str | None]:
        ctx = mqsdk.asyncio.Context()
        auth = AsyncioAuthenticator(ctx)
        auth.start()
        auth.configure_plain(passwords={"admin": "secret"})
        try:
            server = ctx.socket(mqsdk.PULL)
            server.plain_server = 1
            server.bind("tcp://127.0.0.1:*")
            client = ctx.socket(mqsdk.PUSH)
            client.plain_username, client.plain_password = b"admin", b"secret"
            client.connect(server.last_endpoint.decode())
            await client.send(b"async")
            frame = await asyncio.wait_for(server.recv(copy=False), 5)
            return frame.bytes, frame.get("User-Id")
        finally:
            auth.stop()
            ctx.destroy(linger=0)

    assert asyncio.run(main()) == (b"async", "admin")


def test_asyncio_authenticator_started_without_a_loop_binds_nothing() -> None:
    """start() outside a running loop raises RuntimeError and leaves the ZAP endpoint
    free: started again from a coroutine, it serves."""
    ctx = mqsdk.asyncio.Context()
    try:
        auth = AsyncioAuthenticator(ctx)
        with pytest.raises(RuntimeError):
            auth.start()
        assert auth.zap_socket is None

        async def start_in_a_loop() -> bool:
            auth.start()
            try:
                return auth.zap_socket is not None
            finally:
                auth.stop()

        assert asyncio.run(start_in_a_loop())
    finally:
        ctx.destroy(linger=0)


def test_zap_client_does_not_keep_the_io_thread_busy(ctx: mqsdk.Context) -> None:
    import select

    from tests.interop.helpers import wait_until

    server, client, _ = curve_pair(ctx, mqsdk.curve_keypair())  # asks ZAP: nobody bound
    client.send(b"x")
    assert server.recv() == b"x"
    (zap,) = [v for k, v in ctx.shared.items() if k.startswith("zap:")]
    fd = zap._dealer.fileno()
    # Level-triggered: once the reply queue is empty the fd must go quiet, or the I/O
    # thread would be woken for it forever.
    wait_until(lambda: not select.select([fd], [], [], 0)[0], "the ZAP client's fd drained")


def test_authenticator_survives_context_destroy() -> None:
    ctx = mqsdk.Context()
    auth = mqsdk.auth.ThreadAuthenticator(ctx)
    auth.start()
    ctx.destroy(linger=0)
    auth.stop()
    assert not auth.is_alive()
