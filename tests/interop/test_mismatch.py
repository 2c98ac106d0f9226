"""Socket-type mismatch (protocols.md 1.6, 1.9): refused without ERROR, nothing delivered."""

from __future__ import annotations

import contextlib

import pytest
import zmq

import mqsdk
from mqsdk._kernel.mechanism import SocketTypeMismatch
from tests.interop.helpers import Observer, Sockets

pytestmark = pytest.mark.interop

QUIET = 0.3  # s: a period where nothing should happen


def _assert_refused_by_libzmq(names: list[str]) -> None:
    assert "HANDSHAKE_SUCCEEDED" not in names, names
    assert "DISCONNECTED" in names, names


def test_mqsdk_push_to_pyzmq_push_is_refused(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    zpush = socks.zmq(zmq.PUSH)
    monitor = socks.monitor(zpush)
    endpoint = socks.bind(zpush, transport)
    mpush = socks.mq(mqsdk.PUSH)
    mpush.connect(endpoint)
    mpush.send(b"nobody should get this")  # queued on the connecter's pipe

    monitor.wait_for(zmq.EVENT_ACCEPTED)
    monitor.wait_for(zmq.EVENT_DISCONNECTED)
    failures = observer.wait("handshake_failed", mpush)
    assert isinstance(failures[0]["error"], SocketTypeMismatch), failures
    assert observer.of("connected", mpush) == []
    # A protocol error: mqsdk does not reconnect (libzmq's session_base::engine_error).
    _assert_refused_by_libzmq(monitor.collect(QUIET))
    assert monitor.names().count("ACCEPTED") == 1, monitor.names()


def test_pyzmq_push_to_mqsdk_push_is_refused(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    mpush = socks.mq(mqsdk.PUSH)
    endpoint = socks.bind(mpush, transport)
    zpush = socks.zmq(zmq.PUSH)
    monitor = socks.monitor(zpush)
    zpush.connect(endpoint)

    failures = observer.wait("handshake_failed", mpush)
    assert isinstance(failures[0]["error"], SocketTypeMismatch), failures
    monitor.wait_for(zmq.EVENT_DISCONNECTED)
    _assert_refused_by_libzmq(monitor.collect(QUIET))
    assert observer.of("connected", mpush) == []
    # The bound mqsdk PUSH has no peer: a send cannot go anywhere.
    with pytest.raises(mqsdk.Again):
        mpush.send(b"x", mqsdk.NOBLOCK)


def test_mqsdk_push_to_pyzmq_pair_delivers_nothing(socks: Sockets, transport: str) -> None:
    zpair = socks.zmq(zmq.PAIR, rcvtimeo=int(QUIET * 1000))
    monitor = socks.monitor(zpair)
    endpoint = socks.bind(zpair, transport)
    mpush = socks.mq(mqsdk.PUSH)
    mpush.connect(endpoint)
    mpush.send(b"must not arrive")
    monitor.wait_for(zmq.EVENT_DISCONNECTED)
    with pytest.raises(zmq.Again):
        zpair.recv()
    _assert_refused_by_libzmq(monitor.names())


def test_pyzmq_push_to_mqsdk_pair_delivers_nothing(
    socks: Sockets, transport: str, observer: Observer
) -> None:
    mpair = socks.mq(mqsdk.PAIR, rcvtimeo=int(QUIET * 1000))
    endpoint = socks.bind(mpair, transport)
    zpush = socks.zmq(zmq.PUSH, immediate=0)
    zpush.connect(endpoint)
    # Queued in libzmq's pipe, never sent; or refused at once (Again) when the failed
    # handshake already removed that pipe: either way nothing may arrive.
    with contextlib.suppress(zmq.Again):
        zpush.send(b"must not arrive")
    observer.wait("handshake_failed", mpair)
    with pytest.raises(mqsdk.Again):
        mpair.recv()
    assert observer.of("connected", mpair) == []
