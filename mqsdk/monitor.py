"""Socket monitoring: libzmq's lifecycle events, as typed objects and as monitor messages.

Three ways to watch a socket, all fed by the same events:

* plugins implement the ``mqsdk_socket_event`` hook (any socket in the process);
* ``sock.get_monitor_socket()`` returns a PAIR socket receiving libzmq-compatible
  two-frame messages (``struct.pack("=HI", event, value)``, endpoint), which pyzmq's
  ``zmq.utils.monitor.parse_monitor_message`` reads too; :func:`recv_monitor_message`
  parses them into :class:`MonitorEvent`;
* ``async for event in mqsdk.asyncio.monitor_events(sock)``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag
from typing import Any

_HEADER = struct.Struct("=HI")  # host byte order, as libzmq writes it


class Event(IntFlag):
    """Monitor event numbers (libzmq's ZMQ_EVENT_*)."""

    CONNECTED = 0x0001
    CONNECT_DELAYED = 0x0002
    CONNECT_RETRIED = 0x0004
    LISTENING = 0x0008
    BIND_FAILED = 0x0010
    ACCEPTED = 0x0020
    ACCEPT_FAILED = 0x0040
    CLOSED = 0x0080
    CLOSE_FAILED = 0x0100
    DISCONNECTED = 0x0200
    MONITOR_STOPPED = 0x0400
    HANDSHAKE_FAILED_NO_DETAIL = 0x0800
    HANDSHAKE_SUCCEEDED = 0x1000
    HANDSHAKE_FAILED_PROTOCOL = 0x2000
    HANDSHAKE_FAILED_AUTH = 0x4000
    ALL = 0xFFFF


EVENT_BY_NAME: dict[str, Event] = {
    e.name.lower(): e for e in Event if e.name and e is not Event.ALL
}


@dataclass(frozen=True)
class MonitorEvent:
    """One lifecycle event: what happened, its value (an fd, errno, interval or protocol
    error code depending on the event, as in libzmq) and the endpoint it concerns."""

    event: Event
    value: int
    endpoint: str

    def encode(self) -> list[bytes]:
        """The libzmq v1 monitor message: 6 bytes of event and value, then the endpoint."""
        return [_HEADER.pack(int(self.event), self.value & 0xFFFFFFFF), self.endpoint.encode()]

    @classmethod
    def decode(cls, frames: list[bytes]) -> MonitorEvent:
        """Parse a two-frame monitor message (ValueError if it is not one)."""
        if len(frames) != 2 or len(frames[0]) != _HEADER.size:
            raise ValueError(f"not a monitor message: {frames!r}")
        event, value = _HEADER.unpack(frames[0])
        return cls(Event(event), value, frames[1].decode("utf-8", "replace"))

    def as_dict(self) -> dict[str, Any]:
        """The shape pyzmq's ``parse_monitor_message`` returns."""
        return {"event": int(self.event), "value": self.value, "endpoint": self.endpoint.encode()}


def parse_monitor_message(frames: list[bytes]) -> dict[str, Any]:
    """Like ``zmq.utils.monitor.parse_monitor_message``."""
    return MonitorEvent.decode(frames).as_dict()


def recv_monitor_message(socket: Any, flags: int = 0) -> MonitorEvent:
    """Receive and parse one event from a monitor socket."""
    return MonitorEvent.decode(socket.recv_multipart(flags))


__all__ = [
    "EVENT_BY_NAME",
    "Event",
    "MonitorEvent",
    "parse_monitor_message",
    "recv_monitor_message",
]
