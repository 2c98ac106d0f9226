"""SCATTER and GATHER: thread-safe, single-frame pipelines (libzmq's draft scatter.cpp,
gather.cpp).

They are PUSH and PULL with two differences, both libzmq's: several threads may use one
socket at once (``thread_safe``: the kernel serialises the calls), and a message is one
frame. The kernel refuses a multipart send of a thread-safe type (EINVAL); a multipart
message a peer sends anyway is dropped by GATHER as it is read (counted as
``dropped_malformed``), as libzmq's ``gather_t::xrecv`` drops it.

Both are plain compositions of kernel bricks: the socket drives them per message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from mqsdk.plugin import (
    LoadBalancer,
    Pattern,
    Pipe,
    SingleFrameQueue,
    SocketHandle,
    hookimpl,
)

__all__ = ["Gather", "Scatter", "mqsdk_patterns"]


class Scatter(Pattern):
    """Round-robin to the GATHER peers with room; never receives."""

    name: ClassVar[str] = "SCATTER"
    socket_type: ClassVar[int] = 17
    peer_types: ClassVar[frozenset[str]] = frozenset({"GATHER"})
    thread_safe: ClassVar[bool] = True
    sends_bytes: ClassVar[bool] = True  # the single-frame lane: GATHER takes it

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.lb = LoadBalancer()
        self.sender = self.lb

    def attach(self, pipe: Pipe) -> bool:
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.lb.detach(pipe)


class Gather(Pattern):
    """Fair-queues the single-frame messages of its SCATTER peers; never sends."""

    name: ClassVar[str] = "GATHER"
    socket_type: ClassVar[int] = 16
    peer_types: ClassVar[frozenset[str]] = frozenset({"SCATTER"})
    thread_safe: ClassVar[bool] = True
    receives_bytes: ClassVar[bool] = True  # the single-frame lane

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.fq = SingleFrameQueue(socket)
        self.receiver = self.fq

    def attach(self, pipe: Pipe) -> bool:
        return True

    def detach(self, pipe: Pipe) -> None:
        pass  # what the peer sent before it went stays receivable


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Scatter, Gather]
