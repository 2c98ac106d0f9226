"""DEALER: asynchronous requests, no envelope handling (libzmq's dealer.cpp)."""

from __future__ import annotations

from typing import Any, ClassVar

from mqsdk.pattern import Pattern
from mqsdk.pipe import Message, Pipe
from mqsdk.routing import FairQueue, LoadBalancer
from mqsdk_pattern_reqrep._common import PROBE, flag


class Dealer(Pattern):
    """Round-robin out to the peers with room (blocking, or :class:`~mqsdk.Again`, when
    none has), fair-queued in, messages passed through unchanged. To talk to a REP,
    send the empty delimiter frame yourself: ``send_multipart([b"", body])``.

    ``probe_router = 1`` sends one empty message first on every new connection, so
    that a ROUTER peer learns this socket's routing id at once.
    """

    name: ClassVar[str] = "DEALER"
    socket_type: ClassVar[int] = 5
    peer_types: ClassVar[frozenset[str]] = frozenset({"REP", "DEALER", "ROUTER"})
    sends_identity: ClassVar[bool] = True
    options: ClassVar[dict[str, int]] = {"probe_router": 51}
    option_docs: ClassVar[dict[str, str]] = {
        "probe_router": "Send an empty message on each new connection.",
    }

    def __init__(self, socket: Any) -> None:
        super().__init__(socket)
        self.lb = LoadBalancer()
        self.fq = FairQueue()
        self.probe_router = 0

    def attach(self, pipe: Pipe) -> bool:
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.lb.detach(pipe)  # its queued input stays in the fair queue until read

    def pipe_readable(self, pipe: Pipe) -> None:
        self.fq.activate(pipe)

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        return [PROBE] if self.probe_router else []

    def send(self, message: Message) -> bool:
        return self.lb.send(message) is not None

    def recv(self) -> Message | None:
        message = self.fq.recv()
        if message is not None:
            self.last_pipe = self.fq.last_pipe
        return message

    def can_send(self) -> bool:
        return self.lb.can_send()

    def can_recv(self) -> bool:
        return self.fq.can_recv()

    def set_option(self, name: str, value: Any) -> bool:
        if name == "probe_router":
            self.probe_router = flag(name, value)
            return True
        return False

    def get_option(self, name: str) -> Any:
        if name == "probe_router":
            return self.probe_router
        raise KeyError(name)
