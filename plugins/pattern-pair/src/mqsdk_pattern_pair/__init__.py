"""PAIR: an exclusive connection to one peer (RFC 31 "Exclusive Pair")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from mqsdk.hookspecs import hookimpl
from mqsdk.pattern import Pattern
from mqsdk.pipe import Message, Pipe


class Pair(Pattern):
    """One peer; a second is refused while the first is attached (libzmq's pair.cpp)."""

    name: ClassVar[str] = "PAIR"
    socket_type: ClassVar[int] = 0
    peer_types: ClassVar[frozenset[str]] = frozenset({"PAIR"})

    def __init__(self, socket: Any) -> None:
        super().__init__(socket)
        self.pipe: Pipe | None = None
        self.leftover: Pipe | None = None  # a gone peer's pipe with messages still unread

    def attach(self, pipe: Pipe) -> bool:
        if self.pipe is not None:
            return False
        self.pipe = pipe
        return True

    def detach(self, pipe: Pipe) -> None:
        if self.pipe is pipe:
            self.pipe = None
            if pipe.inq:
                self.leftover = pipe  # what the peer sent before it went is still delivered

    def send(self, message: Message) -> bool:
        pipe = self.pipe
        if pipe is None or not pipe.writable():
            return False
        pipe.write(message)
        return True

    def recv(self) -> Message | None:
        leftover = self.leftover
        if leftover is not None:
            if leftover.inq:
                self.last_pipe = leftover
                return leftover.inq.popleft()
            self.leftover = None
        pipe = self.pipe
        if pipe is not None and pipe.inq:
            message = pipe.inq.popleft()
            if pipe.read_paused and len(pipe.inq) <= pipe.low_water:
                pipe.drained()
            self.last_pipe = pipe
            return message
        return None

    def can_send(self) -> bool:
        return self.pipe is not None and self.pipe.writable()

    def can_recv(self) -> bool:
        if self.leftover is not None and self.leftover.inq:
            return True
        return self.pipe is not None and bool(self.pipe.inq)


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Pair]
