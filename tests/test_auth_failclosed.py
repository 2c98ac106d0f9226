"""mqsdk.auth never admits by accident: async credentials callbacks are awaited or refused,
the thread authenticator serves asyncio contexts, and a failing handler refuses.

Every handshake here is a real CURVE (or PLAIN, or NULL with a ZAP domain) handshake
between mqsdk sockets over loopback TCP; verdicts are read from the server's monitor
events (HANDSHAKE_FAILED_AUTH carries the ZAP status) and from what it receives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest

import mqsdk
import mqsdk.asyncio
import mqsdk.auth
from mqsdk.auth.asyncio import AsyncioAuthenticator
from mqsdk.monitor import Event
from mqsdk.testing.helpers import WAIT, EventLog, recording_events, wait_until


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def curve_server(ctx: Any) -> tuple[Any, bytes, str]:
    """A CURVE PULL server: the socket, its public key, its endpoint."""
    public, secret = mqsdk.curve_keypair()
    server = ctx.socket(mqsdk.PULL)
    server.curve_secretkey = secret
    server.curve_server = 1
    server.bind("tcp://127.0.0.1:*")
    return server, public, server.last_endpoint.decode()


def curve_client(ctx: Any, server_key: bytes, endpoint: str, keys: tuple[bytes, bytes]) -> Any:
    client = ctx.socket(mqsdk.PUSH)
    client.curve_serverkey = server_key
    client.curve_publickey, client.curve_secretkey = keys
    client.connect(endpoint)
    return client


def refusal(events: EventLog, server: Any, count: int = 1) -> int:
    """The ZAP status of the ``count``-th refused handshake on ``server``."""
    return events.wait(server, Event.HANDSHAKE_FAILED_AUTH, count=count)[count - 1].value


class AsyncProvider:
    """An ``async def`` credentials callback, as pyzmq users write them."""

    def __init__(self, allowed: bytes) -> None:
        self.allowed = allowed  # Z85, as curve_keypair() gives and callback() is asked

    async def callback(self, domain: str, key: bytes) -> bool:
        await asyncio.sleep(0)  # a real await: the verdict is only known after it
        return key == self.allowed


class AwaitableReturningProvider(AsyncProvider):
    """A plain ``def`` whose result is an awaitable: only visible when it is called."""

    def callback(self, domain: str, key: bytes) -> Awaitable[bool]:  # type: ignore[override]
        return AsyncProvider.callback(self, domain, key)


class AsyncCallable:
    async def __call__(self, domain: str, key: bytes) -> bool:
        return True


# -- 1. async credentials callbacks ------------------------------------------------------


def test_an_authenticator_that_cannot_await_refuses_an_async_callback_up_front(
    ctx: mqsdk.Context,
) -> None:
    allowed = mqsdk.curve_keypair()
    auth = mqsdk.auth.Authenticator(ctx)  # driven by hand: nothing awaits for it
    with pytest.raises(TypeError, match=r"cannot await.*AsyncioAuthenticator"):
        auth.configure_curve_callback(credentials_provider=AsyncProvider(allowed[0]))
    provider_with_async_call = type("P", (), {"callback": AsyncCallable()})()
    with pytest.raises(TypeError, match="cannot await"):
        auth.configure_curve_callback(credentials_provider=provider_with_async_call)
    assert auth.credentials_providers == {}


def test_an_authenticator_that_cannot_await_refuses_a_callback_that_returns_an_awaitable(
    ctx: mqsdk.Context, caplog: pytest.LogCaptureFixture
) -> None:
    allowed = mqsdk.curve_keypair()
    auth = mqsdk.auth.Authenticator(ctx)
    auth.configure_curve_callback(credentials_provider=AwaitableReturningProvider(allowed[0]))
    request = [b"1.0", b"7", b"", b"127.0.0.1", b"", b"CURVE", mqsdk.z85_decode(allowed[0])]
    # A truthy coroutine must not pass for a yes: refused (500, as a fault of the server).
    assert auth.handle_zap_message(request)[2] == b"500"
    assert "returned an awaitable" in caplog.text


@pytest.mark.parametrize("provider_class", [AsyncProvider, AwaitableReturningProvider])
def test_thread_authenticator_awaits_the_callback(
    ctx: mqsdk.Context, provider_class: type[AsyncProvider]
) -> None:
    # As pyzmq's does: in an event loop of the authenticator's thread.
    allowed, stranger = mqsdk.curve_keypair(), mqsdk.curve_keypair()
    with recording_events(ctx) as events, mqsdk.auth.ThreadAuthenticator(ctx) as auth:
        auth.configure_curve_callback(credentials_provider=provider_class(allowed[0]))
        server, server_key, endpoint = curve_server(ctx)
        curve_client(ctx, server_key, endpoint, stranger).send(b"refused key")
        assert refusal(events, server) == 400
        curve_client(ctx, server_key, endpoint, allowed).send(b"allowed key")
        server.rcvtimeo = int(WAIT * 1000)
        frame = server.recv(copy=False)
        assert frame.bytes == b"allowed key"
        assert frame.get("User-Id") == allowed[0].decode()
        assert auth.is_alive()


@pytest.mark.parametrize("provider_class", [AsyncProvider, AwaitableReturningProvider])
def test_asyncio_authenticator_awaits_the_callback(provider_class: type[AsyncProvider]) -> None:
    allowed, stranger = mqsdk.curve_keypair(), mqsdk.curve_keypair()

    async def main() -> None:
        ctx = mqsdk.asyncio.Context()
        auth = AsyncioAuthenticator(ctx)
        auth.start()
        try:
            with recording_events(ctx) as events:
                auth.configure_curve_callback(credentials_provider=provider_class(allowed[0]))
                server, server_key, endpoint = curve_server(ctx)
                await curve_client(ctx, server_key, endpoint, stranger).send(b"refused key")
                # Waited for in a thread: the authenticator answers in this loop.
                assert await asyncio.to_thread(refusal, events, server) == 400
                await curve_client(ctx, server_key, endpoint, allowed).send(b"allowed key")
                frame = await asyncio.wait_for(server.recv(copy=False), WAIT)
                assert frame.bytes == b"allowed key"
                assert frame.get("User-Id") == allowed[0].decode()
        finally:
            auth.stop()
            ctx.destroy(linger=0)

    asyncio.run(main())


# -- 2. the thread authenticator on an asyncio context; failing handlers ------------------


def test_thread_authenticator_serves_an_asyncio_context() -> None:
    async def main() -> None:
        ctx = mqsdk.asyncio.Context()
        auth = mqsdk.auth.ThreadAuthenticator(ctx)
        auth.start()
        try:
            with recording_events(ctx) as events:
                auth.configure_plain(passwords={"admin": "secret"})
                server, endpoint = plain_server(ctx)

                def client(password: bytes) -> Any:
                    sock: Any = ctx.socket(mqsdk.PUSH)
                    sock.plain_username, sock.plain_password = b"admin", password
                    sock.connect(endpoint)
                    return sock

                await client(b"guess").send(b"intruder")
                assert await asyncio.to_thread(refusal, events, server) == 400
                await client(b"secret").send(b"admin")
                frame = await asyncio.wait_for(server.recv(copy=False), WAIT)
                assert (frame.bytes, frame.get("User-Id")) == (b"admin", "admin")
                auth.deny("127.0.0.1")  # the case: a denied client got in
                await client(b"secret").send(b"denied")
                assert await asyncio.to_thread(refusal, events, server, 2) == 400
                assert auth.is_alive()
        finally:
            auth.stop()
            ctx.destroy(linger=0)

    asyncio.run(main())


class FlakyAuthenticator(mqsdk.auth.ThreadAuthenticator):
    """Its metadata hook fails for one user: a bug in one request's handling."""

    def user_metadata(self, mechanism: str, user_id: str) -> dict[str, bytes]:
        if user_id == "crash":
            raise RuntimeError("bug in user_metadata")
        return {}


def plain_server(ctx: Any) -> tuple[Any, str]:
    server = ctx.socket(mqsdk.PULL)
    server.plain_server = 1
    server.bind("tcp://127.0.0.1:*")
    return server, server.last_endpoint.decode()


def plain_client(ctx: Any, endpoint: str, user: bytes) -> Any:
    client = ctx.socket(mqsdk.PUSH)
    client.plain_username, client.plain_password = user, b"pw"
    client.connect(endpoint)
    return client


def test_an_error_in_one_request_refuses_it_and_serving_goes_on(
    ctx: mqsdk.Context, caplog: pytest.LogCaptureFixture
) -> None:
    with recording_events(ctx) as events, FlakyAuthenticator(ctx) as auth:
        auth.configure_plain(passwords={"crash": "pw", "fine": "pw"})
        server, endpoint = plain_server(ctx)
        plain_client(ctx, endpoint, b"crash").send(b"never delivered")
        assert refusal(events, server) == 500
        plain_client(ctx, endpoint, b"fine").send(b"served")
        assert server.recv() == b"served"
        assert auth.is_alive()
    assert "bug in user_metadata" in caplog.text


def test_asyncio_authenticator_refuses_a_request_whose_handling_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Flaky(AsyncioAuthenticator):
        def user_metadata(self, mechanism: str, user_id: str) -> dict[str, bytes]:
            if user_id == "crash":
                raise RuntimeError("bug in user_metadata")
            return {}

    async def main() -> None:
        ctx = mqsdk.asyncio.Context()
        auth = Flaky(ctx)
        auth.start()
        try:
            with recording_events(ctx) as events:
                auth.configure_plain(passwords={"crash": "pw", "fine": "pw"})
                server, endpoint = plain_server(ctx)
                await plain_client(ctx, endpoint, b"crash").send(b"never delivered")
                assert await asyncio.to_thread(refusal, events, server) == 500
                await plain_client(ctx, endpoint, b"fine").send(b"served")
                assert await asyncio.wait_for(server.recv(), WAIT) == b"served"
        finally:
            auth.stop()
            ctx.destroy(linger=0)

    asyncio.run(main())
    assert "bug in user_metadata" in caplog.text


class DyingAuthenticator(mqsdk.auth.ThreadAuthenticator):
    """Its thread ends on the first request (SystemExit ends a thread without a trace)."""

    def handle_zap_message(self, msg: Any) -> list[bytes]:
        raise SystemExit("the handler thread is gone")


def null_server(ctx: Any) -> tuple[Any, str]:
    server = ctx.socket(mqsdk.PULL)
    server.zap_domain = b"lab"  # a NULL server asks ZAP only when it has a domain
    server.bind("tcp://127.0.0.1:*")
    return server, server.last_endpoint.decode()


def null_client(ctx: Any, endpoint: str) -> Any:
    client = ctx.socket(mqsdk.PUSH)
    client.connect(endpoint)
    return client


def test_a_dead_handler_thread_fails_closed(
    ctx: mqsdk.Context, caplog: pytest.LogCaptureFixture
) -> None:
    # Unbound, the ZAP endpoint would mean "no handler": every NULL and CURVE client in.
    dying = DyingAuthenticator(ctx)
    dying.start()
    with recording_events(ctx) as events:
        server, endpoint = null_server(ctx)
        # The request that kills the thread is never answered by it; it is refused at
        # once rather than left waiting for handshake_ivl (30 s, beyond WAIT).
        null_client(ctx, endpoint).send(b"in flight when it died")
        assert refusal(events, server) == 500
        wait_until(lambda: not dying.is_alive(), "the handler thread ended")
        null_client(ctx, endpoint).send(b"after it died")
        assert refusal(events, server, count=2) == 500
        with pytest.raises(mqsdk.Again):
            server.recv(mqsdk.NOBLOCK)
        assert "ZAP handler thread died" in caplog.text
        assert "the ZAP handler failed" in caplog.text  # each refusal is logged too
        # A new authenticator takes over, and stopping the dead one later does not
        # disturb it.
        with mqsdk.auth.ThreadAuthenticator(ctx):
            null_client(ctx, endpoint).send(b"served again")
            assert server.recv() == b"served again"
            dying.stop()
            null_client(ctx, endpoint).send(b"still served")
            assert server.recv() == b"still served"
        assert len(events.wait(server, Event.HANDSHAKE_FAILED_AUTH)) == 2


def test_asyncio_authenticator_fails_closed_when_its_loop_ends_without_stop(
    ctx: mqsdk.Context, caplog: pytest.LogCaptureFixture
) -> None:
    async def start_and_forget() -> None:
        AsyncioAuthenticator(ctx).start()

    asyncio.run(start_and_forget())  # cancels the serving task on the way out
    with recording_events(ctx) as events:
        server, endpoint = null_server(ctx)
        null_client(ctx, endpoint).send(b"nobody answers")
        assert refusal(events, server) == 500
    assert "task ended without stop()" in caplog.text


def test_stopping_a_dead_authenticator_clears_only_its_own_failure(ctx: mqsdk.Context) -> None:
    # stop() chooses "no authenticator", which for NULL means admit (libzmq's behaviour);
    # but stopping an old dead one must not lift the refusal a later dead one set.
    first, second = DyingAuthenticator(ctx), DyingAuthenticator(ctx)
    with recording_events(ctx) as events:
        server, endpoint = null_server(ctx)
        first.start()
        null_client(ctx, endpoint).send(b"kills the first")
        assert refusal(events, server) == 500
        wait_until(lambda: not first.is_alive(), "the first handler thread ended")
        second.start()
        null_client(ctx, endpoint).send(b"kills the second")
        assert refusal(events, server, count=2) == 500
        wait_until(lambda: not second.is_alive(), "the second handler thread ended")
        first.stop()
        null_client(ctx, endpoint).send(b"still refused")
        assert refusal(events, server, count=3) == 500
        second.stop()
        null_client(ctx, endpoint).send(b"no handler")
        assert server.recv() == b"no handler"


@pytest.fixture(autouse=True)
def _log_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mqsdk")
