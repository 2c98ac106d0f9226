"""Socket monitoring: libzmq's lifecycle events, as typed objects and as monitor messages.

Three ways to watch a socket, all fed by the same events:

* plugins implement the ``mqsdk_socket_event`` hook (any socket in the process);
* ``sock.get_monitor_socket()`` returns a PAIR socket receiving libzmq-compatible
  two-frame messages (``struct.pack("=HI", event, value)``, endpoint), which pyzmq's
  ``zmq.utils.monitor.parse_monitor_message`` reads too; :func:`recv_monitor_message`
  parses them into :class:`MonitorEvent` (which also reads as pyzmq's dict:
  ``event["event"]``, ``event["endpoint"]``);
* ``async for event in mqsdk.asyncio.monitor_events(sock)``.
"""

from __future__ import annotations

import inspect
import struct
from collections.abc import Awaitable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntFlag
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    import mqsdk.asyncio

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
class MonitorEvent(Mapping[str, Any]):
    """One lifecycle event: what happened, its value (an fd, errno, interval or protocol
    error code depending on the event, as in libzmq) and the endpoint it concerns.

    It is also a read-only mapping with the keys of pyzmq's monitor dict (see
    :meth:`as_dict`), so code written for pyzmq can index, iterate, ``dict()`` or
    compare it with such a dict."""

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
        return {"event": self.event, "value": self.value, "endpoint": self.endpoint.encode()}

    def __getitem__(self, key: str) -> Any:
        # Code written for pyzmq reads a monitor message as a dict: m["event"],
        # m["value"], m["endpoint"] (bytes there).
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_DICT_KEYS)

    def __len__(self) -> int:
        return len(_DICT_KEYS)

    def __eq__(self, other: object) -> bool:
        # Written out because Mapping's version would let the dataclass replace it and
        # compare only with other MonitorEvents; pyzmq code compares with plain dicts.
        if isinstance(other, MonitorEvent):
            return (self.event, self.value, self.endpoint) == (
                other.event,
                other.value,
                other.endpoint,
            )
        if isinstance(other, Mapping):
            return self.as_dict() == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.event, self.value, self.endpoint))


_DICT_KEYS = ("event", "value", "endpoint")


def parse_monitor_message(frames: list[bytes]) -> dict[str, Any]:
    """Like ``zmq.utils.monitor.parse_monitor_message``."""
    return MonitorEvent.decode(frames).as_dict()


async def _decode_when_received(frames: Awaitable[list[bytes]]) -> MonitorEvent:
    return MonitorEvent.decode(await frames)


@overload
def recv_monitor_message(
    socket: mqsdk.asyncio.Socket, flags: int = 0
) -> Awaitable[MonitorEvent]: ...
@overload
def recv_monitor_message(socket: Any, flags: int = 0) -> MonitorEvent: ...
def recv_monitor_message(socket: Any, flags: int = 0) -> MonitorEvent | Awaitable[MonitorEvent]:
    """Receive and parse one event from a monitor socket; on an asyncio socket, an
    awaitable of it (as pyzmq's ``recv_monitor_message`` does)."""
    frames = socket.recv_multipart(flags)
    if inspect.isawaitable(frames):
        return _decode_when_received(frames)
    return MonitorEvent.decode(frames)


__all__ = [
    "EVENT_BY_NAME",
    "Event",
    "MonitorEvent",
    "parse_monitor_message",
    "recv_monitor_message",
]
