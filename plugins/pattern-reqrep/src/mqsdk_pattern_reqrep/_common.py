"""Pieces the four socket types share: option checks, the probe message, and a fair
queue that can look at a pipe's next message before deciding to take, drop or skip it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, Generic, TypeVar

from mqsdk.plugin import FairQueue, Message, Pipe, as_frames
from mqsdk.zmtp.frames import encode_message

T = TypeVar("T")


def _encoded(message: Message) -> bytes:
    pieces: list[Any] = []
    encode_message(message, pieces)
    return b"".join(pieces)


PROBE = _encoded([b""])
"""The encoded empty message ``probe_router`` sends first on every new connection."""


class Verdict(Enum):
    """What :meth:`Inbox.next` does with a message its check refused."""

    DROP = "drop"
    """Discard this message and look further."""
    SKIP = "skip"
    """Leave this pipe's messages where they are and forget the pipe until it is
    announced again (by ``pipe_readable``, e.g. when the kernel attaches it)."""


class Inbox(FairQueue, Generic[T]):
    """A :class:`~mqsdk._kernel.routing.FairQueue` whose reader decides per message.

    The same rules hold as for the kernel's fair queue: the reading thread appends
    pipes to ``active`` (via the pattern's ``pipe_readable``); only the user's thread
    pops and rotates; a stale entry whose queue is empty is dropped.
    """

    __slots__ = ()

    def next(
        self, check: Callable[[Pipe, Message], T | Verdict], take: bool
    ) -> tuple[Pipe, Message, T] | None:
        """The first message ``check`` accepts, with its pipe and what ``check`` said.

        Messages ``check`` answers :attr:`Verdict.DROP` for are discarded on the way.
        With ``take`` False the accepted message stays queued (a peek, for POLLIN);
        with ``take`` True it is removed and ``last_pipe`` is set.
        """
        active = self.active
        while active:
            pipe = active[0]
            inq = pipe.inq
            if not inq:
                active.popleft()
                continue
            message = as_frames(inq[0])  # never bare here: no reqrep type takes the lane
            verdict = check(pipe, message)
            if verdict is Verdict.SKIP:
                active.popleft()
                continue
            if take or verdict is Verdict.DROP:
                inq.popleft()
                if inq:
                    active.rotate(-1)
                else:
                    active.popleft()
                if pipe.read_paused and len(inq) <= pipe.low_water:
                    pipe.drained()
                if verdict is Verdict.DROP:
                    continue
                self.last_pipe = pipe
            assert not isinstance(verdict, Verdict)
            return pipe, message, verdict
        return None

    def discard_all(self) -> None:
        """Drop every message queued now (REQ does this before each request)."""
        active = self.active
        while active:
            pipe = active.popleft()
            inq = pipe.inq
            while inq:
                inq.popleft()
            if pipe.read_paused:
                pipe.drained()
