"""DEALER: asynchronous requests, no envelope handling (libzmq's dealer.cpp)."""

from __future__ import annotations

from typing import ClassVar

from mqsdk.plugin import FairQueue, LoadBalancer, Pattern, Pipe, SocketHandle
from mqsdk_pattern_reqrep._common import PROBE
from mqsdk_pattern_reqrep.options import DealerOptions


class Dealer(Pattern):
    """Round-robin out to the peers with room (blocking, or :class:`~mqsdk.Again`, when
    none has), fair-queued in, messages passed through unchanged. To talk to a REP,
    send the empty delimiter frame yourself: ``send_multipart([b"", body])``.

    ``probe_router = 1`` sends one empty message first on every new connection, so
    that a ROUTER peer learns this socket's routing id at once.
    """

    name: ClassVar[str] = "DEALER"
    receives_bytes: ClassVar[bool] = True  # the single-frame lane (not sends: ROUTER takes lists)
    socket_type: ClassVar[int] = 5
    peer_types: ClassVar[frozenset[str]] = frozenset({"REP", "DEALER", "ROUTER"})
    sends_identity: ClassVar[bool] = True
    option_model = DealerOptions

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.options: DealerOptions = socket.component_options(DealerOptions)
        self.lb = LoadBalancer()
        self.fq = FairQueue()
        # A plain composition: the socket drives both bricks directly per message.
        self.sender = self.lb
        self.receiver = self.fq

    def attach(self, pipe: Pipe) -> bool:
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.lb.detach(pipe)  # its queued input stays in the fair queue until read

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        return [PROBE] if self.options.probe_router else []
