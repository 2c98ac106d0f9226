"""STREAM: raw byte streams, one routing id per connection (libzmq's stream.cpp)."""

from __future__ import annotations

import errno
import random
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator

from mqsdk.plugin import (
    FairQueue,
    Message,
    MQError,
    OptionModel,
    Pattern,
    Pipe,
    SocketHandle,
    as_frames,
    hookimpl,
    option,
)


def _on_off(value: Any) -> int:
    # 0 or 1 only, as libzmq takes it (a bool is one; 1.0 or "1" is not).
    if value not in (0, 1) or isinstance(value, float | str):
        raise ValueError("it takes 0 or 1")
    return int(value)


class StreamOptions(OptionModel):
    """STREAM's options."""

    stream_notify: Annotated[int, BeforeValidator(_on_off)] = option(
        1,
        number=73,
        doc="An empty message on each connect and disconnect (the kernel sends it).",
    )


class Stream(Pattern):
    """``[id, data]`` in and out; no ZMTP on the wire."""

    name: ClassVar[str] = "STREAM"
    socket_type: ClassVar[int] = 11
    peer_types: ClassVar[frozenset[str]] = frozenset()
    raw: ClassVar[bool] = True
    option_model = StreamOptions

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.options: StreamOptions = socket.component_options(StreamOptions)
        self.fq = FairQueue()
        self.by_id: dict[bytes, Pipe] = {}
        self._next_id = random.getrandbits(32)

    def _routing_id(self, pipe: Pipe) -> bytes:
        if not pipe.routing_id:
            self._next_id = (self._next_id + 1) & 0xFFFFFFFF
            pipe.routing_id = b"\x00" + self._next_id.to_bytes(4, "big")
        return pipe.routing_id

    def attach(self, pipe: Pipe) -> bool:
        self.by_id[self._routing_id(pipe)] = pipe
        return True

    def detach(self, pipe: Pipe) -> None:
        if self.by_id.get(pipe.routing_id) is pipe:
            del self.by_id[pipe.routing_id]

    def pipe_readable(self, pipe: Pipe) -> None:
        self.fq.active.append(pipe)

    def send(self, message: Message) -> bool:
        if len(message) < 2:
            raise MQError(
                "a STREAM socket sends [routing_id, data]: send the routing id with SNDMORE "
                "first (an empty data frame closes that connection)",
                errno.EINVAL,
            )
        pipe = self.by_id.get(bytes(message[0]))
        if pipe is None:
            raise MQError(
                f"no connection with routing id {bytes(message[0])!r} (it closed, or was "
                "never connected)",
                errno.EHOSTUNREACH,
            )
        if not pipe.writable():
            return False
        pipe.write([message[-1]])
        return True

    def would_send(self, message: Message) -> bool:
        pipe = self.by_id.get(bytes(message[0])) if message else None
        return pipe is None or pipe.writable()

    def recv(self) -> Message | None:
        message = self.fq.recv()
        if message is None:
            return None
        pipe = self.fq.last_pipe
        assert pipe is not None
        self.last_pipe = pipe
        return [self._routing_id(pipe), as_frames(message)[0]]

    def can_recv(self) -> bool:
        return self.fq.can_recv()

    def can_send(self) -> bool:
        return any(pipe.writable() for pipe in self.by_id.values())


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Stream]
