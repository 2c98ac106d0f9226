"""ZMTP heartbeats (PING/PONG, protocols.md 1.8) between mqsdk and libzmq.

Intervals are short (100 ms) and timeouts a few intervals, so "the connection stays up"
is checked over an idle period of several timeouts; nothing here measures time.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import zmq

import mqsdk
from tests.badinput import rawzmtp as raw
from tests.interop.helpers import WAIT, Observer, Sockets

pytestmark = pytest.mark.interop

IVL = 100  # ms
TIMEOUT = 300  # ms
IDLE = 1.0  # s: ten intervals, three timeouts


def _idle() -> None:
    time.sleep(IDLE)  # a period where nothing should happen


def test_mqsdk_pings_and_libzmq_answers(socks: Sockets, transport: str, observer: Observer) -> None:
    pull = socks.zmq(zmq.PULL)
    monitor = socks.monitor(pull)
    endpoint = socks.bind(pull, transport)
    push = socks.mq(
        mqsdk.PUSH, heartbeat_ivl=IVL, heartbeat_timeout=TIMEOUT, heartbeat_ttl=10 * IVL
    )
    push.connect(endpoint)
    push.send(b"first")
    assert pull.recv() == b"first"
    monitor.wait_for(zmq.EVENT_HANDSHAKE_SUCCEEDED)

    _idle()

    assert observer.of("disconnected", push) == [], "mqsdk dropped a live libzmq peer"
    assert len(observer.of("connected", push)) == 1
    assert "DISCONNECTED" not in monitor.collect(0.05), monitor.names()
    push.send(b"still flowing")
    assert pull.recv() == b"still flowing"


@pytest.mark.parametrize("mq_binds", [True, False], ids=["mqsdk-binds", "libzmq-binds"])
def test_libzmq_pings_and_mqsdk_answers(
    socks: Sockets, transport: str, observer: Observer, mq_binds: bool
) -> None:
    push = socks.zmq(zmq.PUSH, heartbeat_ivl=IVL, heartbeat_timeout=TIMEOUT, heartbeat_ttl=10 * IVL)
    monitor = socks.monitor(push)
    pull = socks.mq(mqsdk.PULL)
    if mq_binds:
        push.connect(socks.bind(pull, transport))
    else:
        pull.connect(socks.bind(push, transport))
    monitor.wait_for(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    push.send(b"first")
    assert pull.recv() == b"first"

    _idle()

    names = monitor.collect(0.05)
    assert "DISCONNECTED" not in names, f"libzmq dropped mqsdk: {names}"
    assert observer.of("disconnected", pull) == []
    push.send(b"still flowing")
    assert pull.recv() == b"still flowing"


def test_control_libzmq_drops_a_peer_that_never_answers_ping(socks: Sockets) -> None:
    """The previous test can fail: a peer that does not answer is dropped by libzmq."""
    pull = socks.zmq(zmq.PULL, heartbeat_ivl=IVL, heartbeat_timeout=TIMEOUT)
    monitor = socks.monitor(pull)
    endpoint = socks.bind(pull, "tcp")
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=WAIT) as peer:
        raw.handshake_as(peer, b"PUSH")
        monitor.wait_for(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        # Read (PINGs arrive) but never answer.
        data, _how = raw.read_until_closed(peer)
        assert b"\x04PING" in data
    monitor.wait_for(zmq.EVENT_DISCONNECTED)


def _raw_listener(transport: str, tmp_path: Path) -> tuple[socket.socket, str]:
    if transport == "tcp":
        listener = socket.create_server(("127.0.0.1", 0))
        return listener, f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    path = str(tmp_path / "raw.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()
    return listener, f"ipc://{path}"


def test_mqsdk_heartbeat_timeout_drops_a_silent_peer(
    socks: Sockets, transport: str, observer: Observer, tmp_path: Path
) -> None:
    listener, endpoint = _raw_listener(transport, tmp_path)
    listener.settimeout(WAIT)
    with listener:
        push = socks.mq(mqsdk.PUSH, heartbeat_ivl=IVL, heartbeat_timeout=TIMEOUT)
        push.connect(endpoint)
        first, _ = listener.accept()
        with first:
            mq_ready = raw.handshake_as(first, b"PULL")
            assert b"Socket-Type\x00\x00\x00\x04PUSH" in mq_ready
            # Silent from now on: read what mqsdk sends until it gives up on us.
            data, _how = raw.read_until_closed(first)
        assert data.startswith(b"\x04\x07\x04PING\x00\x00"), data[:32]  # TTL 0, no context
        reasons = [e["reason"] for e in observer.wait("disconnected", push)]
        assert any("heartbeat" in r for r in reasons), reasons
        # Not a protocol error: mqsdk reconnects.
        second, _ = listener.accept()
        with second:
            raw.handshake_as(second, b"PULL")
            push.send(b"after reconnect")
            assert raw.recv_exactly(second, 17) == raw.frame(b"after reconnect")
