"""pyzmq's Context API on mqsdk.Context: options, socket defaults, shadows, instance()."""

from __future__ import annotations

import copy
import errno
import gc
import os
import select
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import mqsdk
import mqsdk.asyncio as maio
from mqsdk.errors import ETERM, ContextTerminated, MQError
from mqsdk.testing.helpers import WAIT, wait_until

IO_THREADS, MAX_SOCKETS, SOCKET_LIMIT, IPV6, BLOCKY = 1, 2, 3, 42, 70  # libzmq's numbers
LINGER, SUBSCRIBE = 17, 6


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.term()


def _io_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "mqsdk-io-" in t.name}


# -- context options -------------------------------------------------------------------------


def test_context_options_by_number_name_and_attribute(ctx: mqsdk.Context) -> None:
    assert ctx.get(IO_THREADS) == 1
    ctx.set(IO_THREADS, 2)  # before the first socket: taken
    assert ctx.get("io_threads") == ctx.io_threads == ctx.IO_THREADS == 2
    assert ctx.get(MAX_SOCKETS) == 1023  # libzmq's default
    ctx.max_sockets = 100
    assert ctx.get(MAX_SOCKETS) == ctx.MAX_SOCKETS == 100
    assert ctx.get(SOCKET_LIMIT) == 65535
    assert "IO_THREADS" in dir(ctx)
    before = _io_threads()
    with ctx.socket(mqsdk.PUSH):
        assert len(_io_threads() - before) == 2  # the two asked for


@pytest.mark.parametrize(
    ("option", "value"),
    [
        pytest.param(IO_THREADS, 0, id="io_threads 0"),
        pytest.param(MAX_SOCKETS, 0, id="max_sockets 0"),
        pytest.param(SOCKET_LIMIT, 5, id="read-only"),
        pytest.param(4, 1, id="unsupported"),  # THREAD_SCHED_POLICY: nothing to apply it to
        pytest.param(12345, 1, id="unknown"),
    ],
)
def test_bad_context_options_are_einval(ctx: mqsdk.Context, option: int, value: int) -> None:
    with pytest.raises(MQError) as info:
        ctx.set(option, value)
    assert info.value.errno == errno.EINVAL


def test_io_threads_cannot_change_once_running(ctx: mqsdk.Context) -> None:
    ctx.socket(mqsdk.PAIR).close()
    with pytest.raises(MQError, match="before the I/O threads start") as info:
        ctx.io_threads = 3
    assert info.value.errno == errno.EINVAL
    assert ctx.io_threads == 1


def test_max_sockets_is_enforced_with_emfile(ctx: mqsdk.Context) -> None:
    ctx.set(MAX_SOCKETS, 2)
    first, second = ctx.socket(mqsdk.PUSH), ctx.socket(mqsdk.PULL)
    with pytest.raises(MQError) as info:
        ctx.socket(mqsdk.PAIR)
    assert info.value.errno == errno.EMFILE
    first.close()
    ctx.socket(mqsdk.PAIR).close()  # a slot is free again
    second.close()


def test_blocky_and_ipv6_become_socket_defaults(ctx: mqsdk.Context) -> None:
    ctx.set(BLOCKY, 0)
    ctx.set(IPV6, 1)
    with ctx.socket(mqsdk.PUSH) as push:
        assert push.linger == 0
        assert push.ipv6 == 1


# -- socket defaults -------------------------------------------------------------------------


def test_socket_options_set_on_the_context_are_defaults(ctx: mqsdk.Context) -> None:
    ctx.linger = 5
    ctx.setsockopt("sndhwm", 7)
    assert ctx.linger == ctx.getsockopt(LINGER) == ctx.sockopts[LINGER] == 5
    with ctx.socket(mqsdk.REQ) as req:
        assert req.linger == 5
        assert req.sndhwm == 7
    del ctx.linger
    with pytest.raises(AttributeError):
        _ = ctx.linger
    with ctx.socket(mqsdk.REQ) as req:
        assert req.linger == -1


def test_a_default_another_socket_type_lacks_is_left_out(ctx: mqsdk.Context) -> None:
    ctx.subscribe = b""
    with ctx.socket(mqsdk.REQ) as req:  # REQ has no SUBSCRIBE: made all the same
        assert req.socket_type_name == "REQ"
        # As libzmq answers: EINVAL (which the context's defaults skip), not a TypeError.
        with pytest.raises(MQError) as info:
            req.setsockopt(SUBSCRIBE, b"")
        assert info.value.errno == errno.EINVAL
        assert not isinstance(info.value, TypeError)  # bytes are right for SUBSCRIBE
    pub = ctx.socket(mqsdk.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = ctx.socket(mqsdk.SUB)  # subscribed to everything by the default
    sub.connect(f"tcp://127.0.0.1:{port}")
    poller = mqsdk.Poller()
    poller.register(sub, mqsdk.POLLIN)

    def delivered() -> bool:
        pub.send(b"hello")
        return bool(poller.poll(50))

    wait_until(delivered, "a SUB subscribed by the context default to receive")
    assert sub.recv() == b"hello"
    pub.close(0)
    sub.close(0)


def test_a_default_of_the_wrong_type_is_not_hidden(ctx: mqsdk.Context) -> None:
    ctx.linger = "long"
    with pytest.raises(TypeError):
        ctx.socket(mqsdk.PUSH)


def test_unknown_attribute_names_raise(ctx: mqsdk.Context) -> None:
    with pytest.raises(AttributeError):
        ctx.lingr = 5  # a typo is not silently kept
    with pytest.raises(AttributeError):
        _ = ctx.no_such_thing
    assert not hasattr(ctx, "sndhwm")  # a socket option with no default set


# -- socket(socket_class=, **kwargs) -----------------------------------------------------------


class _TaggedSocket(mqsdk.Socket):
    tag: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.tag = kwargs.pop("tag", None)
        super().__init__(*args, **kwargs)


def test_socket_class_and_keyword_arguments(ctx: mqsdk.Context) -> None:
    with ctx.socket(mqsdk.PUSH, socket_class=_TaggedSocket, tag="x") as sock:
        assert isinstance(sock, _TaggedSocket)
        assert sock.tag == "x"

    class TaggedContext(mqsdk.Context):
        _socket_class = _TaggedSocket

    with TaggedContext() as tagged, tagged.socket(mqsdk.PUSH, tag="y") as sock:
        assert isinstance(sock, _TaggedSocket)
        assert sock.tag == "y"


def test_asyncio_context_can_make_a_blocking_socket() -> None:
    with maio.Context() as actx:
        with actx.socket(mqsdk.PUSH) as asock:
            assert isinstance(asock, maio.Socket)
        with actx.socket(mqsdk.PUSH, socket_class=mqsdk.Socket) as sock:
            assert not isinstance(sock, maio.Socket)


# -- shadows -------------------------------------------------------------------------------------


def test_shadows_are_the_same_context(ctx: mqsdk.Context) -> None:
    by_address = mqsdk.Context.shadow(ctx.underlying)
    by_object = mqsdk.Context(ctx)
    copied = copy.copy(ctx)
    deep = copy.deepcopy(ctx)
    for shadow in (by_address, by_object, copied, deep):
        assert shadow._shadow
        assert shadow.underlying == ctx.underlying
    assert not ctx._shadow
    # Same context: an inproc endpoint bound through one is reachable through another.
    with ctx.socket(mqsdk.PAIR) as a, by_address.socket(mqsdk.PAIR) as b:
        a.bind("inproc://shadow-test")
        b.connect("inproc://shadow-test")
        b.send(b"ping")
        assert a.poll(int(WAIT * 1000))
        assert a.recv() == b"ping"
    # Deleting a shadow leaves the context running.
    del by_object, copied, deep
    gc.collect()
    assert not ctx.closed
    ctx.term()
    assert by_address.closed
    with pytest.raises(ContextTerminated) as info:
        by_address.socket(mqsdk.PUB)
    assert info.value.errno == errno.EFAULT  # libzmq's answer for a dead context handle
    with pytest.raises(ContextTerminated) as info:
        ctx.socket(mqsdk.PUB)
    assert info.value.errno == ETERM


def test_shadow_of_an_unknown_address_is_refused() -> None:
    with pytest.raises(MQError) as info:
        mqsdk.Context.shadow(12345)
    assert info.value.errno == errno.EFAULT


def test_term_through_a_shadow_terminates_the_context(ctx: mqsdk.Context) -> None:
    sock = ctx.socket(mqsdk.PUSH)
    mqsdk.Context(ctx).term()
    assert ctx.closed
    assert sock.closed


# -- instance() --------------------------------------------------------------------------------


def test_instance_follows_pyzmq_class_rules() -> None:
    class Inherits(mqsdk.Context):
        pass

    class Own(mqsdk.Context):
        _instance = None

    base = mqsdk.Context.instance()
    try:
        assert Inherits.instance() is base  # looked up through the class hierarchy
        own = Own.instance()
        assert type(own) is Own
        own.term()
        # The asyncio context keeps an instance of its own (its sockets are others).
        async_instance = maio.Context.instance()
        assert type(async_instance) is maio.Context
        async_instance.term()
    finally:
        base.term()


def _in_forked_child(work: Callable[[], bytes]) -> bytes:
    """Run ``work`` in a forked child: its answer, or b"" if none came in time (the
    child is killed then)."""
    reader, writer = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a threaded process; the child only uses
        # what the fork gives it a fresh copy of.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        answer = b"error"
        try:
            answer = work()
        finally:
            os.write(writer, answer)
            os._exit(0)
    os.close(writer)
    ready: list[int] = []
    try:
        ready, _, _ = select.select([reader], [], [], WAIT)
        return os.read(reader, 100) if ready else b""
    finally:
        os.close(reader)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_instance_after_fork_is_a_new_working_context() -> None:
    parent = mqsdk.Context.instance()
    parent.socket(mqsdk.PAIR).close()  # its I/O thread runs: the child has none of it

    def in_child() -> bytes:
        child = mqsdk.Context.instance()
        with child.socket(mqsdk.PAIR) as a, child.socket(mqsdk.PAIR) as b:
            a.bind("inproc://after-fork")
            b.connect("inproc://after-fork")
            b.send(b"ping")
            received = a.recv() if a.poll(int(WAIT * 1000)) else b"nothing"
        child.term()
        return b"new:" + received if child is not parent else b"same"

    try:
        assert _in_forked_child(in_child) == b"new:ping"
    finally:
        parent.term()


def test_terminating_an_inherited_context_in_a_child_returns(ctx: mqsdk.Context) -> None:
    # A socket with a connection: closing it needs the parent's I/O thread.
    pull = ctx.socket(mqsdk.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push = ctx.socket(mqsdk.PUSH)
    push.connect(f"tcp://127.0.0.1:{port}")
    push.send(b"before")
    assert pull.recv() == b"before"

    def in_child() -> bytes:
        ctx.term()  # must not touch what only the parent has: its I/O threads, its lock
        return b"closed" if ctx.closed else b"open"

    # As if another thread were making a socket at the moment of the fork: the child's
    # copy of the context's lock is held, by a thread the child does not have.
    with ctx._state.lock:
        answer = _in_forked_child(in_child)
    assert answer == b"closed", "term() in the child did not return"
    # The parent's context is untouched by the child.
    push.send(b"after")
    assert pull.poll(int(WAIT * 1000))
    assert pull.recv() == b"after"
    push.close(0)
    pull.close(0)


def test_instance_is_thread_safe() -> None:
    started = threading.Barrier(8)
    seen: list[mqsdk.Context] = []

    def get() -> None:
        started.wait(WAIT)
        seen.append(mqsdk.Context.instance())

    threads = [threading.Thread(target=get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    try:
        assert len(seen) == 8
        assert all(c is seen[0] for c in seen)
    finally:
        seen[0].term()


# -- garbage collection ----------------------------------------------------------------------


def test_a_dropped_context_stops_its_io_threads() -> None:
    before = _io_threads()

    def make() -> None:
        ctx = mqsdk.Context()
        ctx.socket(mqsdk.PUSH)  # starts an I/O thread; left open, as the context is

    make()
    gc.collect()
    wait_until(lambda: _io_threads() <= before, "the dropped context's I/O thread to stop")


def test_a_dropped_shadow_does_not_terminate(ctx: mqsdk.Context) -> None:
    mqsdk.Context.shadow(ctx)
    gc.collect()
    assert not ctx.closed
