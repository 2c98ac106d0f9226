"""Context: configuration in code, lazy I/O threads, clean termination, lifecycle hooks."""

from __future__ import annotations

import asyncio
import select
import threading
from collections.abc import Awaitable, Callable

import pytest

import mqsdk
import mqsdk.asyncio as maio
from mqsdk.errors import ConfigError, ContextTerminated
from mqsdk.hookspecs import hookimpl
from mqsdk.testing.helpers import WAIT, wait_until

from .conftest import open_fds


def test_context_picks_the_configured_poller() -> None:
    with mqsdk.Context(config=mqsdk.Config(poller="select")) as ctx:
        assert ctx.poller_class.name == "select"
    with mqsdk.Context(config={"poller": "poll"}) as ctx:
        assert ctx.poller_class.name == "poll"


def test_environment_reaches_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQSDK_POLLER", "select")
    with mqsdk.Context() as ctx:
        assert ctx.poller_class.name == "select"
    # code beats the environment
    with mqsdk.Context(config={"poller": "poll"}) as ctx:
        assert ctx.poller_class.name == "poll"


@pytest.mark.skipif(hasattr(select, "kqueue"), reason="kqueue is available on this host")
def test_bad_poller_fails_at_creation_naming_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQSDK_POLLER", "kqueue")
    with pytest.raises(ConfigError) as info:
        mqsdk.Context()
    text = str(info.value)
    assert "environment variable MQSDK_POLLER" in text
    assert "kqueue" in text


def test_io_threads_start_lazily_and_stop_on_term() -> None:
    before_threads = set(threading.enumerate())
    before_fds = open_fds()
    ctx = mqsdk.Context(io_threads=2)
    assert set(threading.enumerate()) == before_threads  # nothing started yet
    first, second = ctx.reactor(), ctx.reactor()
    assert first is not second
    assert ctx.reactor() is first  # round-robin over two
    names = {t.name for t in threading.enumerate()} - {t.name for t in before_threads}
    assert names == {"mqsdk-io-0", "mqsdk-io-1"}
    done = threading.Event()
    first.call_soon(done.set)
    assert done.wait(10)
    ctx.term()
    assert set(threading.enumerate()) == before_threads
    assert open_fds() - before_fds == set()  # nothing new left open (GC may close others)
    assert ctx.closed
    with pytest.raises(ContextTerminated):
        ctx.reactor()
    ctx.term()  # idempotent


def test_instance_is_shared_until_terminated() -> None:
    a = mqsdk.Context.instance()
    try:
        assert mqsdk.Context.instance() is a
    finally:
        a.term()
    b = mqsdk.Context.instance()
    try:
        assert b is not a
    finally:
        b.term()


def test_lifecycle_hooks_see_creation_and_termination() -> None:
    events: list[str] = []

    class Observer:
        @hookimpl
        def mqsdk_context_created(self, context: mqsdk.Context, config: mqsdk.Config) -> None:
            events.append(f"created io_threads={config.io_threads}")

        @hookimpl
        def mqsdk_context_terminated(self, context: mqsdk.Context) -> None:
            events.append("terminated")

    ctx = mqsdk.Context()
    observer = Observer()
    ctx.registry.register_observer(observer)
    try:
        other = mqsdk.Context()  # same configuration: same registry, observer sees it
        other.term()
    finally:
        ctx.registry.unregister_observer(observer)
        ctx.term()
    assert events == ["created io_threads=1", "terminated"]


def test_errors_carry_libzmq_errno() -> None:
    import errno

    assert mqsdk.Again().errno == errno.EAGAIN
    assert mqsdk.ContextTerminated().errno == 156384712 + 53
    assert isinstance(mqsdk.ConfigError("x"), mqsdk.MQError)
    assert issubclass(mqsdk.UnsupportedTransport, mqsdk.PluginError)


# -- term() and destroy() wake every blocked call with ContextTerminated ------------------


class _HoldShutdown:
    """Holds term()/destroy() right after each socket it closes (bounded) until the blocked
    call has ended: that call then wakes with the shutdown half done, where destroy() once
    gave ENOTSOCK (it closed the sockets before marking the context terminated)."""

    def __init__(self) -> None:
        self.call_ended = threading.Event()

    @hookimpl
    def mqsdk_socket_closed(self, socket: object) -> None:
        self.call_ended.wait(WAIT)


def _bound(ctx: mqsdk.Context, kind: int) -> mqsdk.Socket:
    sock = ctx.socket(kind)
    sock.bind("tcp://127.0.0.1:*")
    return sock


class _BlockingCall:
    """A call that blocks until shutdown, and how to tell that it is blocked now."""

    def __init__(self, call: Callable[[], object], blocked: Callable[[], object]) -> None:
        self.call = call
        self.blocked = blocked


def _in_thread(call: Callable[[], object], blocked: Callable[[], object]) -> _BlockingCall:
    return _BlockingCall(call, blocked)


def _awaited(make: Callable[[], Awaitable[object]], sock: mqsdk.Socket) -> _BlockingCall:
    # An event loop of its own in the calling thread, waiting for the socket.
    async def wait() -> object:
        return await make()  # a future of the running loop (made inside it)

    return _BlockingCall(lambda: asyncio.run(wait()), lambda: sock.io_policy.loop_waiting)


def _recv(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PULL)
    return _in_thread(sock.recv, lambda: sock.io_policy.waiting_thread)


def _recv_multipart(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PULL)
    return _in_thread(sock.recv_multipart, lambda: sock.io_policy.waiting_thread)


def _send(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PUSH)  # no peer: a send waits for one
    return _in_thread(lambda: sock.send(b"x"), lambda: sock.io_policy.waiting_thread)


def _socket_poll(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PULL)
    return _in_thread(lambda: sock.poll(None), lambda: sock.io_policy.waiting_thread)


def _poller(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PULL)
    poller = mqsdk.Poller()
    poller.register(sock, mqsdk.POLLIN)
    return _in_thread(poller.poll, lambda: sock._fd_waiters)


def _proxy(ctx: mqsdk.Context) -> _BlockingCall:
    frontend, backend = _bound(ctx, mqsdk.PULL), _bound(ctx, mqsdk.PUSH)
    return _in_thread(lambda: mqsdk.proxy(frontend, backend), lambda: frontend._fd_waiters)


def _async_recv(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PULL)
    return _awaited(sock.recv, sock)


def _async_recv_multipart(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PULL)
    return _awaited(sock.recv_multipart, sock)


def _async_send(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PUSH)
    return _awaited(lambda: sock.send(b"x"), sock)


def _async_poller(ctx: mqsdk.Context) -> _BlockingCall:
    sock = _bound(ctx, mqsdk.PULL)
    poller = maio.Poller()
    poller.register(sock, mqsdk.POLLIN)
    return _awaited(poller.poll, sock)


_BLOCKING_CALLS: dict[str, Callable[[mqsdk.Context], _BlockingCall]] = {
    "recv": _recv,
    "recv_multipart": _recv_multipart,
    "send": _send,
    "Socket.poll": _socket_poll,
    "Poller.poll": _poller,
    "proxy": _proxy,
    "asyncio recv": _async_recv,
    "asyncio recv_multipart": _async_recv_multipart,
    "asyncio send": _async_send,
    "asyncio Poller.poll": _async_poller,
}


@pytest.mark.parametrize("shutdown", ["term", "destroy"])
@pytest.mark.parametrize("call", list(_BLOCKING_CALLS))
def test_shutdown_wakes_a_blocked_call_with_context_terminated(call: str, shutdown: str) -> None:
    ctx = maio.Context() if call.startswith("asyncio") else mqsdk.Context()
    blocking = _BLOCKING_CALLS[call](ctx)
    hold = _HoldShutdown()
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            blocking.call()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)
        finally:
            hold.call_ended.set()

    thread = threading.Thread(target=run, daemon=True)
    ctx.registry.register_observer(hold)
    try:
        thread.start()
        wait_until(lambda: bool(blocking.blocked()), f"{call} is blocked")
        if shutdown == "term":
            ctx.term()
        else:
            ctx.destroy(linger=0)
        thread.join(WAIT)
        assert not thread.is_alive(), f"{call} was not woken by {shutdown}()"
    finally:
        ctx.registry.unregister_observer(hold)
        hold.call_ended.set()
        ctx.term()
    assert len(outcome) == 1
    assert isinstance(outcome[0], ContextTerminated), (
        f"{call} woken by {shutdown}() raised {outcome[0]!r}, not ContextTerminated"
    )
