"""Context: configuration in code, lazy I/O threads, clean termination, lifecycle hooks."""

from __future__ import annotations

import select
import threading

import pytest

import mqsdk
from mqsdk.errors import ConfigError, ContextTerminated
from mqsdk.hookspecs import hookimpl

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
