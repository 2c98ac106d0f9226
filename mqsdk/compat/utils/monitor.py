"""``zmq.utils.monitor``: monitor messages as pyzmq's dicts.

``{"event": zmq.Event, "value": int, "endpoint": bytes}``, parsed from the two-frame
messages ``sock.get_monitor_socket()`` receives (the same bytes libzmq writes).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any, TypedDict

from mqsdk.monitor import MonitorEvent


class _EventDict(TypedDict):
    """The dict shape pyzmq's callers index (``endpoint`` stays the raw bytes)."""

    endpoint: bytes
    event: int
    value: int


def parse_monitor_message(msg: list[bytes]) -> _EventDict:
    """Decode one monitor message (two frames) into pyzmq's dict."""
    from mqsdk.compat.constants import Event

    frames = [bytes(part) for part in msg]
    try:
        decoded = MonitorEvent.decode(frames)
    except ValueError as exc:
        # RuntimeError, not ValueError: that is what callers written for pyzmq catch.
        raise RuntimeError(f"not a monitor event (two frames, 6-byte header): {msg!r}") from exc
    return {"endpoint": frames[1], "event": Event(int(decoded.event)), "value": decoded.value}


async def _parse_when_received(frames: Awaitable[list[bytes]]) -> _EventDict:
    return parse_monitor_message(await frames)


def recv_monitor_message(socket: Any, flags: int = 0) -> _EventDict | Awaitable[_EventDict]:
    """Receive one monitor message as a dict; on an asyncio socket, an awaitable of it."""
    frames = socket.recv_multipart(flags)
    if inspect.isawaitable(frames):
        return _parse_when_received(frames)
    return parse_monitor_message(frames)


__all__ = ["parse_monitor_message", "recv_monitor_message"]
