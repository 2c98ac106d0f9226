"""PUSH and PULL: load-balanced pipelines (RFC 30 "Pipeline").

Both are plain compositions of kernel bricks: the socket routes each message through
the brick directly, and these classes are consulted only when a peer comes or goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mqsdk.plugin import FairQueue, LoadBalancer, Pattern, Pipe, SocketHandle, hookimpl


class Push(Pattern):
    """Round-robin to the peers with room; never receives."""

    name: ClassVar[str] = "PUSH"
    sends_bytes: ClassVar[bool] = True  # the single-frame lane: PULL takes it
    socket_type: ClassVar[int] = 8
    peer_types: ClassVar[frozenset[str]] = frozenset({"PULL"})

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.lb = LoadBalancer()
        self.sender = self.lb

    def attach(self, pipe: Pipe) -> bool:
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.lb.detach(pipe)


class Pull(Pattern):
    """Fair-queues messages from its peers; never sends."""

    name: ClassVar[str] = "PULL"
    receives_bytes: ClassVar[bool] = True  # the single-frame lane
    socket_type: ClassVar[int] = 7
    peer_types: ClassVar[frozenset[str]] = frozenset({"PUSH"})

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.fq = FairQueue()
        self.receiver = self.fq

    def attach(self, pipe: Pipe) -> bool:
        return True

    def detach(self, pipe: Pipe) -> None:
        pass  # messages already received stay in the fair queue until read


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Push, Pull]
