"""pyzmq's monitor helpers on mqsdk: messages read as dicts, asyncio monitor sockets, and
one monitor socket per socket."""

from __future__ import annotations

import asyncio

import pytest

import mqsdk
import mqsdk.asyncio as maio
from mqsdk.compat.constants import Event as PyzmqEvent
from mqsdk.compat.utils import monitor as compat_monitor
from mqsdk.monitor import Event, MonitorEvent, recv_monitor_message

TIMEOUT_MS = 5000
WAIT_S = TIMEOUT_MS / 1000


def test_get_monitor_socket_twice_gives_the_same_socket(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    first = pull.get_monitor_socket()
    assert pull.get_monitor_socket() is first  # was a second PAIR on a second address
    first.rcvtimeo = TIMEOUT_MS
    pull.disable_monitor()
    assert recv_monitor_message(first).event == Event.MONITOR_STOPPED
    again = pull.get_monitor_socket()
    assert again is not first  # after disable_monitor, a new one
    first.close()
    assert pull.get_monitor_socket() is again


def test_monitor_message_reads_as_pyzmqs_dict(ctx: mqsdk.Context) -> None:
    pull = ctx.socket(mqsdk.PULL)
    monitor = pull.get_monitor_socket(Event.LISTENING)
    monitor.rcvtimeo = TIMEOUT_MS
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    typed = recv_monitor_message(monitor)
    # mqsdk's own event also answers pyzmq-style item access.
    assert typed["event"] == Event.LISTENING
    assert typed["endpoint"] == f"tcp://127.0.0.1:{port}".encode()
    pull.bind("tcp://127.0.0.1:*")
    message = compat_monitor.recv_monitor_message(monitor)
    assert type(message) is dict
    assert set(message) == {"event", "value", "endpoint"}
    assert message["event"] is PyzmqEvent.LISTENING
    assert isinstance(message["endpoint"], bytes)


def test_parse_rejects_what_is_not_a_monitor_message() -> None:
    with pytest.raises(RuntimeError):
        compat_monitor.parse_monitor_message([b"short", b"tcp://x"])


def test_recv_monitor_message_on_an_asyncio_socket_is_awaitable() -> None:
    async def main() -> tuple[Event, object]:
        context = maio.Context()
        try:
            pull = context.socket(mqsdk.PULL)
            monitor = pull.get_monitor_socket(Event.LISTENING)
            pull.bind("tcp://127.0.0.1:*")
            typed = await asyncio.wait_for(recv_monitor_message(monitor), WAIT_S)
            pull.bind("tcp://127.0.0.1:*")
            as_dict = await asyncio.wait_for(compat_monitor.recv_monitor_message(monitor), WAIT_S)
            return typed.event, as_dict["event"]
        finally:
            context.destroy(linger=0)

    assert asyncio.run(main()) == (Event.LISTENING, PyzmqEvent.LISTENING)


def test_mqsdk_monitor_event_reads_as_a_whole_mapping() -> None:
    # Review 26 item 7: only event["key"] worked; dict(event), list(event), "key" in
    # event raised KeyError(0) and event.get AttributeError.
    event = MonitorEvent(Event.LISTENING, 7, "tcp://127.0.0.1:5555")
    as_pyzmq = {"event": Event.LISTENING, "value": 7, "endpoint": b"tcp://127.0.0.1:5555"}
    assert dict(event) == as_pyzmq
    assert list(event) == ["event", "value", "endpoint"] and len(event) == 3
    assert "endpoint" in event and "fd" not in event
    assert event.get("value") == 7 and event.get("fd", -1) == -1
    assert event == as_pyzmq and as_pyzmq == event
    same = MonitorEvent(Event.LISTENING, 7, "tcp://127.0.0.1:5555")
    assert event == same and len({event, same}) == 1  # still a hashable value
    assert event != MonitorEvent(Event.CLOSED, 7, "tcp://127.0.0.1:5555")
