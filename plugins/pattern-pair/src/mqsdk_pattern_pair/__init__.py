"""PAIR: an exclusive connection to one peer (RFC 31 "Exclusive Pair").

A plain composition of kernel bricks (a load balancer over at most one pipe out, a fair
queue in): the socket drives them directly per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mqsdk.plugin import FairQueue, LoadBalancer, Pattern, Pipe, SocketHandle, hookimpl


class Pair(Pattern):
    """One peer; a second is refused while the first is attached (libzmq's pair.cpp).

    What a peer sent before it went is still received: its pipe stays in the fair queue
    until emptied.
    """

    name: ClassVar[str] = "PAIR"
    receives_bytes: ClassVar[bool] = True  # the single-frame lane, both ways
    sends_bytes: ClassVar[bool] = True
    socket_type: ClassVar[int] = 0
    peer_types: ClassVar[frozenset[str]] = frozenset({"PAIR"})

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.pipe: Pipe | None = None
        self.lb = LoadBalancer()
        self.fq = FairQueue()
        self.sender = self.lb
        self.receiver = self.fq

    def attach(self, pipe: Pipe) -> bool:
        if self.pipe is not None:
            return False
        self.pipe = pipe
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        if self.pipe is pipe:
            self.pipe = None
            self.lb.detach(pipe)


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Pair]
