"""``mqsdk.proxy`` and ``mqsdk.proxy_steerable``: libzmq's built-in device loop.

The proxy moves messages both ways between a frontend and a backend socket (ROUTER/
DEALER for a shared queue, XSUB/XPUB for a forwarder whose subscriptions flow upstream,
PULL/PUSH for a streamer), optionally copying every message to a capture socket. It runs
in the calling thread until the context is terminated (raising ContextTerminated, as
libzmq returns ETERM) or, for the steerable one, until told TERMINATE.
"""

from __future__ import annotations

import struct
from typing import Any

from mqsdk._kernel.polling import Poller
from mqsdk.constants import NOBLOCK, POLLIN, SocketType
from mqsdk.errors import Again, ContextTerminated, MQError

BURST = 1000  # messages moved per side per turn (libzmq's proxy_burst_size)
_STAT = struct.Struct("=Q")  # host byte order, as libzmq sends STATISTICS


class _Counters:
    __slots__ = ("recv_bytes", "recv_msgs", "sent_bytes", "sent_msgs")

    def __init__(self) -> None:
        self.recv_msgs = self.recv_bytes = self.sent_msgs = self.sent_bytes = 0

    def frames(self) -> list[bytes]:
        return [
            _STAT.pack(v)
            for v in (self.recv_msgs, self.recv_bytes, self.sent_msgs, self.sent_bytes)
        ]


def _forward(source: Any, target: Any, capture: Any, into: _Counters, out: _Counters) -> None:
    for _ in range(BURST):
        try:
            message = source.recv_multipart(NOBLOCK)
        except Again:
            return
        size = sum(len(frame) for frame in message)
        # libzmq counts every part of a multipart message separately.
        into.recv_msgs += len(message)
        into.recv_bytes += size
        if capture is not None:
            capture.send_multipart(message)
        target.send_multipart(message)
        out.sent_msgs += len(message)
        out.sent_bytes += size


def _run(frontend: Any, backend: Any, capture: Any, control: Any) -> None:
    poller = Poller()
    poller.register(frontend, POLLIN)
    if backend is not frontend:
        poller.register(backend, POLLIN)
    if control is not None:
        poller.register(control, POLLIN)
    stats = {id(frontend): _Counters(), id(backend): _Counters()}
    paused = False
    try:
        while True:
            if frontend.context.closed:
                raise ContextTerminated("the context was terminated")
            try:
                ready = dict(poller.poll(100))
            except MQError:
                if frontend.context.closed:
                    raise ContextTerminated("the context was terminated") from None
                raise
            if control is not None and ready.get(control):
                command = control.recv()
                if command == b"TERMINATE":
                    if control.type == SocketType.REP:
                        control.send(b"")
                    return
                if command == b"PAUSE":
                    paused = True
                elif command == b"RESUME":
                    paused = False
                elif command == b"STATISTICS":
                    control.send_multipart(
                        stats[id(frontend)].frames() + stats[id(backend)].frames()
                    )
                    continue
                if control.type == SocketType.REP:
                    control.send(b"")  # a REP must answer every request
                continue
            if paused:
                continue
            if ready.get(frontend):
                _forward(frontend, backend, capture, stats[id(frontend)], stats[id(backend)])
            if backend is not frontend and ready.get(backend):
                _forward(backend, frontend, capture, stats[id(backend)], stats[id(frontend)])
    finally:
        poller.close()


def proxy(frontend: Any, backend: Any, capture: Any = None) -> None:
    """Forward between ``frontend`` and ``backend`` until the context terminates."""
    _run(frontend, backend, capture, None)
    raise AssertionError("unreachable")  # pragma: no cover - _run only returns on TERMINATE


def proxy_steerable(frontend: Any, backend: Any, capture: Any = None, control: Any = None) -> None:
    """Like :func:`proxy`, steered by single-frame commands on ``control`` (PAIR or REP):
    ``PAUSE``, ``RESUME``, ``TERMINATE`` (returns) and ``STATISTICS`` (replies with 8
    frames of host-order uint64: frontend received messages, bytes, sent messages,
    bytes, then the same for the backend)."""
    _run(frontend, backend, capture, control)


__all__ = ["BURST", "proxy", "proxy_steerable"]
