"""Monitor events: monitor sockets (libzmq's format), the plugin hook, async iteration,
counters and peers."""

from __future__ import annotations

import asyncio
import errno
import threading
from collections.abc import Iterator

import pytest
import zmq.utils.monitor

import mqsdk
import mqsdk.asyncio as maio
from mqsdk.monitor import Event, MonitorEvent, recv_monitor_message

TIMEOUT_MS = 5000


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def _events_until(monitor: mqsdk.Socket, last: Event) -> list[MonitorEvent]:
    monitor.rcvtimeo = TIMEOUT_MS
    seen = []
    while True:
        event = recv_monitor_message(monitor)
        seen.append(event)
        if event.event == last:
            return seen


def test_bind_accept_handshake_disconnect(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    monitor = pull.get_monitor_socket()
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.last_endpoint.decode()
    push = ctx.socket(mqsdk.PUSH)
    push.connect(endpoint)
    seen = _events_until(monitor, Event.HANDSHAKE_SUCCEEDED)
    assert [e.event for e in seen] == [Event.LISTENING, Event.ACCEPTED, Event.HANDSHAKE_SUCCEEDED]
    assert all(e.endpoint == endpoint for e in seen)
    push.close(linger=0)
    assert _events_until(monitor, Event.DISCONNECTED)[-1].event == Event.DISCONNECTED


def test_refused_connect_reports_delayed_closed_retried(ctx: mqsdk.Context) -> None:
    push = ctx.socket(mqsdk.PUSH)
    push.reconnect_ivl = 50
    monitor = push.get_monitor_socket()
    push.connect("tcp://127.0.0.1:1")
    seen = _events_until(monitor, Event.CONNECT_RETRIED)
    assert [e.event for e in seen] == [Event.CONNECT_DELAYED, Event.CLOSED, Event.CONNECT_RETRIED]
    assert seen[0].value == errno.EINPROGRESS
    assert 50 <= seen[-1].value < 100  # reconnect_ivl plus a random part of it
    assert push.stats["reconnects"] >= 1


def test_monitor_messages_read_by_pyzmq(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    monitor = pull.get_monitor_socket(Event.LISTENING)
    monitor.rcvtimeo = TIMEOUT_MS
    pull.bind("tcp://127.0.0.1:*")
    frames = monitor.recv_multipart()
    assert len(frames[0]) == 6
    parsed = zmq.utils.monitor.parse_monitor_message(frames)
    assert parsed["event"] == zmq.EVENT_LISTENING
    assert parsed["endpoint"] == pull.last_endpoint


def test_event_mask_filters(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    monitor = pull.get_monitor_socket(Event.ACCEPTED)
    pull.bind("tcp://127.0.0.1:*")
    ctx.socket(mqsdk.PUSH).connect(pull.last_endpoint.decode())
    monitor.rcvtimeo = TIMEOUT_MS
    assert recv_monitor_message(monitor).event == Event.ACCEPTED


def test_disable_monitor_sends_monitor_stopped(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    monitor = pull.get_monitor_socket()
    monitor.rcvtimeo = TIMEOUT_MS
    pull.disable_monitor()
    assert recv_monitor_message(monitor).event == Event.MONITOR_STOPPED


def test_handshake_failure_event_on_type_mismatch(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    monitor = pull.get_monitor_socket()
    pull.bind("tcp://127.0.0.1:*")
    wrong = ctx.socket(mqsdk.PULL)
    wrong.connect(pull.last_endpoint.decode())
    seen = _events_until(monitor, Event.DISCONNECTED)
    kinds = [e.event for e in seen]
    assert Event.HANDSHAKE_SUCCEEDED not in kinds
    assert pull.stats["handshake_failures"] >= 1


def test_plugin_hook_sees_events(ctx: mqsdk.Context) -> None:
    got: list[MonitorEvent] = []
    listening = threading.Event()

    class Observer:
        @mqsdk.hookimpl
        def mqsdk_socket_event(self, socket: mqsdk.Socket, event: MonitorEvent) -> None:
            got.append(event)
            if event.event == Event.LISTENING:
                listening.set()

    observer = Observer()
    ctx.registry.register_observer(observer)
    try:
        pull = ctx.socket(mqsdk.PULL)
        pull.bind("tcp://127.0.0.1:*")
        assert listening.wait(5)
        assert got[0].endpoint == pull.last_endpoint.decode()
    finally:
        ctx.registry.unregister_observer(observer)


def test_counters_and_peers(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    pull.rcvtimeo = TIMEOUT_MS
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(mqsdk.PUSH)
    push.connect(pull.last_endpoint.decode())
    for _ in range(10):
        push.send(b"x" * 100)
    for _ in range(10):
        pull.recv()
    assert pull.stats["msgs_in"] == 10
    assert pull.stats["bytes_in"] >= 10 * 102
    assert push.stats["msgs_out"] == 10
    assert push.stats["bytes_out"] == 10 * 102
    (peer,) = pull.peers
    assert peer.socket_type == "PUSH"
    assert peer.address == "127.0.0.1"
    assert [p.socket_type for p in push.peers] == ["PULL"]


def test_async_iterator_of_events() -> None:
    async def main() -> None:
        ctx = maio.Context()
        try:
            pull = ctx.socket(mqsdk.PULL)
            events = maio.monitor_events(pull)
            first = asyncio.ensure_future(events.__anext__())
            await asyncio.sleep(0)
            pull.bind("tcp://127.0.0.1:*")
            event = await asyncio.wait_for(first, 5)
            assert event.event == Event.LISTENING
            pull.disable_monitor()
            rest = [e.event async for e in events]
            assert rest[-1] == Event.MONITOR_STOPPED
        finally:
            ctx.destroy(linger=0)

    asyncio.run(main())
