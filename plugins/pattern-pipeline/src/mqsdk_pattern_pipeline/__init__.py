"""PUSH and PULL: load-balanced pipelines (RFC 30 "Pipeline")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from mqsdk.errors import MQError
from mqsdk.hookspecs import hookimpl
from mqsdk.pattern import Pattern
from mqsdk.pipe import Message, Pipe
from mqsdk.routing import FairQueue, LoadBalancer

_ENOTSUP = 95


class Push(Pattern):
    """Round-robin to the peers with room; never receives."""

    name: ClassVar[str] = "PUSH"
    socket_type: ClassVar[int] = 8
    peer_types: ClassVar[frozenset[str]] = frozenset({"PULL"})

    def __init__(self, socket: Any) -> None:
        super().__init__(socket)
        self.lb = LoadBalancer()

    def attach(self, pipe: Pipe) -> bool:
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.lb.detach(pipe)

    def send(self, message: Message) -> bool:
        return self.lb.send(message) is not None

    def recv(self) -> Message | None:
        raise MQError("a PUSH socket cannot receive", _ENOTSUP)

    def can_send(self) -> bool:
        return self.lb.can_send()


class Pull(Pattern):
    """Fair-queues messages from its peers; never sends."""

    name: ClassVar[str] = "PULL"
    socket_type: ClassVar[int] = 7
    peer_types: ClassVar[frozenset[str]] = frozenset({"PUSH"})

    def __init__(self, socket: Any) -> None:
        super().__init__(socket)
        self.fq = FairQueue()

    def attach(self, pipe: Pipe) -> bool:
        return True

    def detach(self, pipe: Pipe) -> None:
        pass  # messages already received stay in the fair queue until read

    def pipe_readable(self, pipe: Pipe) -> None:
        self.fq.active.append(pipe)

    def send(self, message: Message) -> bool:
        raise MQError("a PULL socket cannot send", _ENOTSUP)

    def recv(self) -> Message | None:
        message = self.fq.recv()
        self.last_pipe = self.fq.last_pipe
        return message

    def can_recv(self) -> bool:
        return self.fq.can_recv()


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Push, Pull]
