"""The inproc transport: names, binds and connects within a context.

Each connection is a pair of the kernel's :class:`~mqsdk.plugin.MemoryPipe`, one per
socket, sharing their deques: a message is appended once by the sender and popped once
by the receiver. This module keeps the names (per context), the connections waiting for
their bind, and the greetings each side's pattern sends first.
"""

from __future__ import annotations

import errno
import threading
from dataclasses import dataclass, field

from mqsdk.plugin import (
    ENOCOMPATPROTO,
    EndpointError,
    MemoryPipe,
    MessageTransport,
    MQError,
    SocketHandle,
    join_memory_pipes,
)

_NAMESPACE = "inproc"


# A connection is two kernel memory pipes sharing their deques (compiled with the
# kernel where it is: every message crosses them).
InprocPipe = MemoryPipe


def _greet(pipe: InprocPipe) -> None:
    """What the pattern sends first on a new connection (SUB's subscriptions...)."""
    other = pipe.other
    if other is not None:
        greeting = pipe.owner.greeting(pipe)
        if greeting:
            other.receive_encoded(greeting)


def _connect_pipes(
    binder: SocketHandle, connecter: SocketHandle, endpoint: str, queued: InprocPipe
) -> InprocPipe:
    """Complete a connection: ``queued`` is the connecting side's pipe (it may already hold
    messages sent before the bind); return the binding side's pipe."""
    near = InprocPipe(binder, endpoint, outgoing=False)
    join_memory_pipes(near, queued)
    near.peer = connecter.peer_info()
    queued.peer = binder.peer_info()
    return near


@dataclass
class _Binding:
    socket: SocketHandle
    transport: InprocTransport
    pipes: list[InprocPipe] = field(default_factory=list)


@dataclass
class _Namespace:
    lock: threading.Lock = field(default_factory=threading.Lock)
    bound: dict[str, _Binding] = field(default_factory=dict)
    # name -> connections waiting for their bind: (connecting socket, its pipe, transport)
    pending: dict[str, list[tuple[SocketHandle, InprocPipe, InprocTransport]]] = field(
        default_factory=dict
    )


def _namespace(socket: SocketHandle) -> _Namespace:
    space: _Namespace = socket.context_state(_NAMESPACE, _Namespace)
    return space


class InprocTransport(MessageTransport):
    """``inproc://name``: any non-empty name, unique per context."""

    name = "inproc"
    loopback_endpoint = "inproc://demo-{n}"

    def __init__(self) -> None:
        self._name = ""
        self._bound = False
        self.pipes: list[InprocPipe] = []  # pipes this endpoint made for its socket

    @staticmethod
    def _check(address: str) -> str:
        if not address:
            raise EndpointError("inproc:// needs a name, e.g. inproc://workers")
        if len(address) > 256:
            raise EndpointError(f"inproc names are at most 256 characters, got {len(address)}")
        return address

    def bind(self, socket: SocketHandle, address: str) -> str:
        name = self._check(address)
        endpoint = f"inproc://{name}"
        space = _namespace(socket)
        with space.lock:
            if name in space.bound:
                raise MQError(
                    f"cannot bind {endpoint}: it is already bound in this context", errno.EADDRINUSE
                )
            binding = _Binding(socket, self)
            space.bound[name] = binding
            waiting = space.pending.pop(name, [])
            self._name, self._bound = name, True
            for connecter, queued, their_transport in waiting:
                if not socket.compatible(connecter):
                    # Refused like over tcp; the connecting side's queue is dropped.
                    their_transport.pipes.remove(queued)
                    connecter.post_detach(queued)
                    continue
                near = _connect_pipes(socket, connecter, endpoint, queued)
                binding.pipes.append(near)
                self.pipes.append(near)
                socket.attach_pipe(near)
                # Greetings (SUB's subscriptions...) after the attach, so each side's
                # pattern sees the pipe before anything arrives on it.
                _greet(near)
                _greet(queued)
        return endpoint

    def connect(self, socket: SocketHandle, address: str) -> None:
        name = self._check(address)
        endpoint = f"inproc://{name}"
        space = _namespace(socket)
        with space.lock:
            binding = space.bound.get(name)
            if binding is not None and not binding.socket.compatible(socket):
                raise MQError(
                    f"cannot connect a {socket.socket_type} socket to {endpoint}: "
                    f"it is bound by a {binding.socket.socket_type} socket, which "
                    "cannot talk to it",
                    ENOCOMPATPROTO,
                )
            queued = InprocPipe(socket, endpoint, outgoing=True)
            self._name = name
            self.pipes.append(queued)
            socket.attach_pipe(queued)
            if binding is None:
                space.pending.setdefault(name, []).append((socket, queued, self))
                return
            near = _connect_pipes(binding.socket, socket, endpoint, queued)
            binding.pipes.append(near)
            binding.transport.pipes.append(near)
            binding.socket.post_attach(near)
            _greet(near)
            _greet(queued)

    def close(self, socket: SocketHandle) -> None:
        space = _namespace(socket)
        with space.lock:
            if self._bound:
                binding = space.bound.get(self._name)
                if binding is not None and binding.transport is self:
                    del space.bound[self._name]
                self._bound = False
            waiting = space.pending.get(self._name)
            if waiting:
                waiting[:] = [entry for entry in waiting if entry[2] is not self]
                if not waiting:
                    del space.pending[self._name]
            pipes, self.pipes = self.pipes, []
        for pipe in pipes:
            socket.post_detach(pipe)
            other = pipe.other
            if other is not None:
                other.other = None
                other.owner.post_detach(other)
                pipe.other = None


__all__ = ["InprocPipe", "InprocTransport"]
