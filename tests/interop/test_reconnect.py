"""A libzmq peer that goes away and comes back: the flow resumes, whichever side binds.

Waits are on events: mqsdk's ``mqsdk_peer_disconnected`` hook tells when mqsdk noticed
the old connection is gone (so no message is routed into a dead connection), and
blocking send/recv with timeouts tell when the new connection carries messages.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
import zmq

import mqsdk
from tests.badinput import rawzmtp as raw
from tests.interop.helpers import WAIT, Observer, Sockets

pytestmark = pytest.mark.interop


def recv_after_reconnect(sock: Any, timeout: float = WAIT) -> Any:
    """Receive on an mqsdk socket whose connection was replaced, without blocking in it.

    A blocking recv can miss the new connection's messages when its OS socket reuses
    the old one's fd number (the bug shown by test_blocked_recv_sees_a_reconnection_
    that_reuses_the_fd_number); polling with NOBLOCK reads the connections directly.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return sock.recv_multipart(mqsdk.NOBLOCK)
        except mqsdk.Again:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def test_mqsdk_push_reconnects_to_restarted_pyzmq_pull(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    pull = socks.zmq(zmq.PULL)
    endpoint = socks.bind(pull, transport)
    push = socks.mq(mqsdk.PUSH)
    push.connect(endpoint)
    push.send(b"before")
    assert pull.recv() == b"before"

    pull.close(linger=0)
    observer.wait("disconnected", push)
    restarted = socks.zmq(zmq.PULL)
    socks.rebind(restarted, endpoint)
    # Queued on the connecter's pipe until mqsdk has reconnected, then delivered.
    push.send(b"after")
    push.send_multipart([b"and", b"more"])
    assert restarted.recv() == b"after"
    assert restarted.recv_multipart() == [b"and", b"more"]
    assert len(observer.wait("connected", push, count=2)) == 2


def test_mqsdk_pull_reconnects_to_restarted_pyzmq_push(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    push = socks.zmq(zmq.PUSH)
    endpoint = socks.bind(push, transport)
    pull = socks.mq(mqsdk.PULL)
    pull.connect(endpoint)
    push.send(b"before")
    assert pull.recv() == b"before"

    push.close(linger=0)
    observer.wait("disconnected", pull)
    restarted = socks.zmq(zmq.PUSH)
    socks.rebind(restarted, endpoint)
    restarted.send(b"after")  # blocks (sndtimeo) until mqsdk has reconnected
    assert recv_after_reconnect(pull) == [b"after"]


def test_pair_reconnects_to_restarted_pyzmq_pair(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    zpair = socks.zmq(zmq.PAIR)
    endpoint = socks.bind(zpair, transport)
    mpair = socks.mq(mqsdk.PAIR)
    mpair.connect(endpoint)
    mpair.send(b"one")
    assert zpair.recv() == b"one"

    zpair.close(linger=0)
    observer.wait("disconnected", mpair)
    restarted = socks.zmq(zmq.PAIR)
    socks.rebind(restarted, endpoint)
    mpair.send(b"two")
    assert restarted.recv() == b"two"
    restarted.send(b"three")
    assert recv_after_reconnect(mpair) == [b"three"]


def test_new_pyzmq_push_connects_to_bound_mqsdk_pull(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    pull = socks.mq(mqsdk.PULL)
    endpoint = socks.bind(pull, transport)
    first = socks.zmq(zmq.PUSH)
    first.connect(endpoint)
    first.send(b"one")
    assert pull.recv() == b"one"

    first.close(linger=0)
    observer.wait("disconnected", pull)
    second = socks.zmq(zmq.PUSH)
    second.connect(endpoint)
    second.send(b"two")
    assert recv_after_reconnect(pull) == [b"two"]


def test_new_pyzmq_pull_connects_to_bound_mqsdk_push(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    push = socks.mq(mqsdk.PUSH)
    endpoint = socks.bind(push, transport)
    first = socks.zmq(zmq.PULL)
    first.connect(endpoint)
    push.send(b"one")
    assert first.recv() == b"one"

    first.close(linger=0)
    observer.wait("disconnected", push)
    second = socks.zmq(zmq.PULL)
    second.connect(endpoint)
    push.send(b"two")  # a bound PUSH with no peer waits (sndtimeo) for the new one
    assert second.recv() == b"two"


def test_pyzmq_reconnects_after_mqsdk_binder_restarts(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    pull = socks.mq(mqsdk.PULL)
    endpoint = socks.bind(pull, transport)
    push = socks.zmq(zmq.PUSH)
    monitor = socks.monitor(push)
    push.connect(endpoint)
    monitor.wait_for(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    push.send(b"one")
    assert pull.recv() == b"one"

    pull.close(linger=0)
    monitor.wait_for(zmq.EVENT_DISCONNECTED)
    restarted = socks.mq(mqsdk.PULL)
    socks.rebind(restarted, endpoint)
    # libzmq keeps its pipe while it reconnects (reconnect_ivl): queued, then delivered.
    push.send(b"two")
    assert restarted.recv() == b"two"
    monitor.wait_for(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    observer.wait("connected", restarted)


def test_blocked_recv_sees_a_reconnection_that_reuses_the_fd_number(
    mctx: mqsdk.Context, observer: Observer
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT)
    pull = mctx.socket(mqsdk.PULL)
    pull.linger = 0
    pull.rcvtimeo = 2000
    try:
        pull.connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
        first, _ = listener.accept()
        raw.handshake_as(first, b"PUSH")
        observer.wait("connected", pull)
        assert pull.poll(50) == 0  # the user's thread has waited on this connection once
        old_fds = set(pull._engines)
        first.sendall(raw.frame(b"one"))
        assert pull.recv() == b"one"
        first.close()
        observer.wait("disconnected", pull)
        # mqsdk reconnects; nothing else opens an fd meanwhile, so the new OS socket
        # normally gets the number just freed.
        second, _ = listener.accept()
        raw.handshake_as(second, b"PUSH")
        observer.wait("connected", pull, count=2)
        if set(pull._engines) != old_fds:
            pytest.skip("the new connection did not reuse the fd number")

        def send_once_recv_waits() -> None:
            deadline = time.monotonic() + WAIT
            while not pull.io_policy.waiting_thread and time.monotonic() < deadline:
                time.sleep(0.001)
            second.sendall(raw.frame(b"two"))

        sender = threading.Thread(target=send_once_recv_waits)
        sender.start()
        try:
            assert pull.recv() == b"two"
        finally:
            sender.join(WAIT)
            second.close()
    finally:
        pull.close(linger=0)
        listener.close()
