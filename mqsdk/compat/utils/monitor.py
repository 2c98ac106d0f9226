"""``zmq.utils.monitor``: monitor messages as pyzmq's dicts.

``{"event": zmq.Event, "value": int, "endpoint": bytes}``, parsed from the two-frame
messages ``sock.get_monitor_socket()`` receives (the same bytes libzmq writes).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any, TypedDict

from mqsdk.monitor import MonitorEvent


class _MonitorMessage(TypedDict):
    event: int
    value: int
    endpoint: bytes


def parse_monitor_message(msg: list[bytes]) -> _MonitorMessage:
    """Decode one monitor message (two frames) into pyzmq's dict."""
    from mqsdk.compat.constants import Event

    if len(msg) != 2 or len(msg[0]) != 6:
        # pyzmq raises RuntimeError for a message that is not a monitor event.
        raise RuntimeError(f"Invalid event message format: {msg!r}")
    event = MonitorEvent.decode([bytes(msg[0]), bytes(msg[1])])
    return {"event": Event(int(event.event)), "value": event.value, "endpoint": bytes(msg[1])}


async def _parse_when_received(frames: Awaitable[list[bytes]]) -> _MonitorMessage:
    return parse_monitor_message(await frames)


def recv_monitor_message(
    socket: Any, flags: int = 0
) -> _MonitorMessage | Awaitable[_MonitorMessage]:
    """Receive one monitor message as a dict; on an asyncio socket, an awaitable of it."""
    frames = socket.recv_multipart(flags)
    if inspect.isawaitable(frames):
        return _parse_when_received(frames)
    return parse_monitor_message(frames)


__all__ = ["parse_monitor_message", "recv_monitor_message"]
