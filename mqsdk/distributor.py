"""Fan-out: one message to many pipes, dropping per pipe at its SNDHWM (libzmq's ``dist``).

A routing brick for PUB, XPUB and XSUB. The same message object (a list of frames) is
queued on every pipe it goes to: nothing downstream modifies a queued message, so no
copy is made. A pipe that has no room simply misses the message; the caller learns how
many pipes missed it and can count the drops, or (XPUB_NODROP) ask first with
:meth:`Distributor.all_writable` and not send at all.

Threads: like :class:`mqsdk.routing.LoadBalancer`, use it from the socket's user thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from mqsdk.pipe import Message, Pipe

__all__ = ["Distributor"]


class Distributor:
    """Fan-out to all attached pipes, or to a chosen (matching) subset of them."""

    __slots__ = ("pipes",)

    def __init__(self) -> None:
        self.pipes: list[Pipe] = []

    def attach(self, pipe: Pipe) -> None:
        if pipe not in self.pipes:
            self.pipes.append(pipe)

    def detach(self, pipe: Pipe) -> None:
        with contextlib.suppress(ValueError):
            self.pipes.remove(pipe)

    def __len__(self) -> int:
        return len(self.pipes)

    @staticmethod
    def all_writable(pipes: Iterable[Pipe]) -> bool:
        """True if every one of ``pipes`` has room for one more message."""
        return all(pipe.writable() for pipe in pipes)

    def can_send_all(self) -> bool:
        """True if every attached pipe has room for one more message."""
        return all(pipe.writable() for pipe in self.pipes)

    def send(self, message: Message, pipes: Iterable[Pipe] | None = None) -> int:
        """Queue ``message`` on each of ``pipes`` (default: every attached pipe) that has
        room; return how many pipes had none and so dropped it."""
        dropped = 0
        for pipe in self.pipes if pipes is None else pipes:
            if pipe.writable():
                pipe.write(message)
            else:
                dropped += 1
        return dropped
