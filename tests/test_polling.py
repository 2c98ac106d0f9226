"""mqsdk.Poller, the level-triggered fileno(), and selectors integration."""

from __future__ import annotations

import os
import selectors
import socket
import threading
from collections.abc import Iterator

import pytest

import mqsdk

TIMEOUT_MS = 5000


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture(params=["tcp://127.0.0.1:*", "inproc://polling"])
def pipeline(
    ctx: mqsdk.Context, request: pytest.FixtureRequest
) -> tuple[mqsdk.Socket, mqsdk.Socket]:
    pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
    pull.bind(request.param)
    push.connect(pull.last_endpoint.decode())
    return pull, push


def test_poller_reports_readable_sockets(pipeline: tuple[mqsdk.Socket, mqsdk.Socket]) -> None:
    pull, push = pipeline
    poller = mqsdk.Poller()
    poller.register(pull, mqsdk.POLLIN)
    assert poller.poll(0) == []
    push.send(b"x")
    assert dict(poller.poll(TIMEOUT_MS)) == {pull: mqsdk.POLLIN}
    assert pull.recv() == b"x"
    assert poller.poll(20) == []
    poller.unregister(pull)
    with pytest.raises(KeyError):
        poller.unregister(pull)


def test_poller_mixes_sockets_and_plain_fds(pipeline: tuple[mqsdk.Socket, mqsdk.Socket]) -> None:
    pull, push = pipeline
    a, b = socket.socketpair()
    try:
        poller = mqsdk.Poller()
        poller.register(pull, mqsdk.POLLIN)
        poller.register(a, mqsdk.POLLIN)
        poller.register(push, mqsdk.POLLOUT)
        ready = dict(poller.poll(TIMEOUT_MS))
        assert ready == {push: mqsdk.POLLOUT}
        poller.unregister(push)
        b.send(b"!")
        # A registered file or socket.socket comes back as its fd number, as in pyzmq.
        assert dict(poller.poll(TIMEOUT_MS)) == {a.fileno(): mqsdk.POLLIN}
        a.recv(1)
        push.send(b"m")
        assert dict(poller.poll(TIMEOUT_MS)) == {pull: mqsdk.POLLIN}
    finally:
        a.close()
        b.close()


def test_poller_wakes_when_another_thread_sends(
    pipeline: tuple[mqsdk.Socket, mqsdk.Socket],
) -> None:
    pull, push = pipeline
    poller = mqsdk.Poller()
    poller.register(pull, mqsdk.POLLIN)
    started = threading.Event()

    def later() -> None:
        started.wait(5)
        push.send(b"late")

    thread = threading.Thread(target=later)
    thread.start()
    started.set()
    assert dict(poller.poll(TIMEOUT_MS)) == {pull: mqsdk.POLLIN}
    thread.join(5)
    assert pull.recv() == b"late"


def test_poller_timeout_returns_empty(ctx: mqsdk.Context) -> None:
    s = ctx.socket(mqsdk.PULL)
    s.bind("inproc://quiet")
    poller = mqsdk.Poller()
    poller.register(s, mqsdk.POLLIN)
    assert poller.poll(30) == []


def test_fileno_is_level_triggered(pipeline: tuple[mqsdk.Socket, mqsdk.Socket]) -> None:
    pull, push = pipeline
    fd = pull.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    try:
        # A peer arriving may also make the fd readable (documented: check events when
        # woken), so let the connection settle through one message before asserting.
        push.send(b"settle")
        assert sel.select(TIMEOUT_MS / 1000), "fd not readable with a message waiting"
        assert pull.recv() == b"settle"
        assert sel.select(0) == []
        push.send(b"one")
        push.send(b"two")
        assert sel.select(TIMEOUT_MS / 1000), "fd not readable with a message waiting"
        assert pull.recv() == b"one"
        # Still readable: another message waits (no edge to miss, unlike ZMQ_FD).
        assert sel.select(TIMEOUT_MS / 1000)
        assert pull.recv() == b"two"
        assert sel.select(0) == []
        push.send_multipart([b"a", b"b"])
        assert sel.select(TIMEOUT_MS / 1000)
        assert pull.recv() == b"a"
        assert sel.select(0), "fd must stay readable while the rest of a message waits"
        assert pull.recv() == b"b"
        assert sel.select(0) == []
    finally:
        sel.close()


def test_events_option(pipeline: tuple[mqsdk.Socket, mqsdk.Socket]) -> None:
    pull, push = pipeline
    assert pull.getsockopt(mqsdk.EVENTS) & mqsdk.POLLIN == 0
    assert push.events & mqsdk.POLLOUT
    push.send(b"e")
    assert pull.poll(TIMEOUT_MS) == mqsdk.POLLIN
    assert pull.events & mqsdk.POLLIN


def test_select_function(pipeline: tuple[mqsdk.Socket, mqsdk.Socket]) -> None:
    pull, push = pipeline
    r, w, x = mqsdk.select([pull], [push], [], 1)
    assert (r, w, x) == ([], [push], [])
    push.send(b"s")
    r, _, _ = mqsdk.select([pull], [], [], 5)
    assert r == [pull]


def test_closed_socket_is_an_error_in_poll(ctx: mqsdk.Context) -> None:
    s = ctx.socket(mqsdk.PULL)
    poller = mqsdk.Poller()
    poller.register(s, mqsdk.POLLIN)
    s.close()
    with pytest.raises(mqsdk.MQError, match="closed"):
        poller.poll(0)


def test_poller_fds_are_released(ctx: mqsdk.Context) -> None:
    before = set(os.listdir("/proc/self/fd"))
    poller = mqsdk.Poller()
    r, w = os.pipe()
    poller.register(r, mqsdk.POLLIN)
    poller.poll(0)
    poller.close()
    os.close(r)
    os.close(w)
    # Nothing new stays open (other tests' sockets may release fds meanwhile: GC).
    assert set(os.listdir("/proc/self/fd")) - before == set()
