"""pyzmq's ``zmq.auth`` layout on mqsdk.auth (base, certs, thread, asyncio, ioloop)."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

import mqsdk
import mqsdk.asyncio
import mqsdk.auth
import mqsdk.auth.asyncio
from mqsdk.testing.helpers import WAIT


def test_the_modules_are_mqsdk_auth_under_pyzmq_names() -> None:
    import mqsdk.compat.auth.asyncio as auth_asyncio
    from mqsdk.compat import auth
    from mqsdk.compat.auth import base, certs, thread

    assert auth.Authenticator is base.Authenticator is mqsdk.auth.Authenticator
    assert auth.CURVE_ALLOW_ANY == "*" and base.VERSION == b"1.0"
    assert thread.ThreadAuthenticator is mqsdk.auth.ThreadAuthenticator
    assert auth_asyncio.AsyncioAuthenticator is mqsdk.auth.asyncio.AsyncioAuthenticator
    assert auth.create_certificates is certs.create_certificates is mqsdk.auth.create_certificates
    assert auth.load_certificate is mqsdk.auth.load_certificate


def test_certificates_round_trip_through_the_compat_names(tmp_path: Path) -> None:
    from mqsdk.compat import auth

    public_file, secret_file = auth.create_certificates(tmp_path, "server")
    public, secret = auth.load_certificate(secret_file)
    assert auth.load_certificate(public_file) == (public, None)
    assert secret is not None and auth.load_certificates(tmp_path) == {public: True}


def test_ioloop_authenticator_is_the_asyncio_one_and_warns_as_pyzmqs_does() -> None:
    sys.modules.pop("mqsdk.compat.auth.ioloop", None)
    with pytest.warns(DeprecationWarning, match="AsyncioAuthenticator"):
        ioloop = importlib.import_module("mqsdk.compat.auth.ioloop")
    ctx = mqsdk.asyncio.Context()
    try:
        auth = ioloop.IOLoopAuthenticator(ctx)
        assert isinstance(auth, mqsdk.auth.asyncio.AsyncioAuthenticator)
        assert auth.context is ctx
        with pytest.warns(DeprecationWarning, match="io_loop"):
            ioloop.IOLoopAuthenticator(ctx, io_loop=object())
        with pytest.warns(DeprecationWarning, match="loop"):
            mqsdk.auth.asyncio.AsyncioAuthenticator(ctx, object())  # pyzmq's (context, loop)
    finally:
        ctx.term()


def test_asyncio_authenticator_serves_plain_through_futures() -> None:
    # The authenticator's task awaits the asyncio socket's futures (recv, then send).
    async def main() -> None:
        ctx: Any = mqsdk.asyncio.Context()
        auth = mqsdk.auth.asyncio.AsyncioAuthenticator(ctx)
        auth.start()
        try:
            auth.configure_plain(passwords={"admin": "secret"})
            server, client = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
            server.plain_server = True
            client.plain_username, client.plain_password = b"admin", b"secret"
            server.bind("tcp://127.0.0.1:*")
            client.connect(server.last_endpoint.decode())
            await client.send(b"let in")
            frame = await asyncio.wait_for(server.recv(copy=False), WAIT)
            assert (frame.bytes, frame.get("User-Id")) == (b"let in", "admin")
        finally:
            auth.stop()
            ctx.destroy(linger=0)

    asyncio.run(main())
