"""Fan-out: one message to many pipes, dropping per pipe at its SNDHWM (libzmq's ``dist``).

A routing brick for PUB, XPUB and XSUB. The same message object (its frames, or a bare
single frame: mqsdk._kernel.pipe.QueuedMessage) is
queued on every pipe it goes to: nothing downstream modifies a queued message, so no
copy is made. A pipe that has no room simply misses the message; the caller learns how
many pipes missed it and can count the drops, or (XPUB_NODROP) ask first with
:meth:`Distributor.all_writable` and not send at all.

Threads: like :class:`mqsdk._kernel.routing.LoadBalancer`, use it from the socket's user thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sized

from mqsdk._kernel.pipe import Pipe, QueuedMessage, first_frame
from mqsdk._kernel.subscriptions import SubscriptionTrie

__all__ = ["Distributor", "Publisher"]


class Distributor:
    """Fan-out to all attached pipes, or to a chosen (matching) subset of them."""

    __slots__ = ("pipes",)

    def __init__(self) -> None:
        self.pipes: list[Pipe] = []
        """The attached pipes."""

    def attach(self, pipe: Pipe) -> None:
        """Send to ``pipe`` too (attaching it twice changes nothing)."""
        if pipe not in self.pipes:
            self.pipes.append(pipe)

    def detach(self, pipe: Pipe) -> None:
        """Stop sending to ``pipe``; unknown pipes are ignored."""
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

    def send(self, message: QueuedMessage, pipes: Iterable[Pipe] | None = None) -> int:
        """Queue ``message`` on each of ``pipes`` (default: every attached pipe) that has
        room; return how many pipes had none and so dropped it."""
        dropped = 0
        for pipe in self.pipes if pipes is None else pipes:
            if pipe.writable():
                pipe.write(message)
            else:
                dropped += 1
        return dropped


class Publisher:
    """PUB's and XPUB's routing of outgoing messages (libzmq's ``dist`` with its
    ``mtrie``): each message goes to the pipes subscribed to a prefix of its first frame.

    A pipe at SNDHWM misses the message (counted in ``stats["dropped_hwm"]``), unless
    :attr:`nodrop` (XPUB_NODROP): then :meth:`send` takes the message only when every
    matching pipe has room. Subscriptions that peers sent as messages (``01topic``, ZMTP
    3.0) wait in ``pending`` until ``apply_pending`` (the pattern's) applies them, which
    happens before the next message is routed.
    """

    __slots__ = ("apply_pending", "dist", "nodrop", "pending", "stats", "trie")

    def __init__(
        self,
        trie: SubscriptionTrie[Pipe],
        stats: dict[str, int],
        pending: Sized,
        apply_pending: Callable[[], None],
    ) -> None:
        self.trie = trie
        """The peers' subscriptions: which pipes want which prefixes."""
        self.dist = Distributor()
        """Sends to the pipes a message matches."""
        self.stats = stats
        """The socket's counters (``dropped_hwm`` is counted here)."""
        self.pending = pending
        """Subscriptions waiting to be applied: true (non-empty) while some wait."""
        self.apply_pending = apply_pending
        """Applies ``pending`` (the pattern's)."""
        self.nodrop = False
        """XPUB_NODROP: wait for room instead of dropping at SNDHWM."""

    def send(self, message: QueuedMessage) -> bool:
        """Queue ``message`` on every matching pipe (dropping it for those at SNDHWM);
        with :attr:`nodrop`, False instead when one of them has no room."""
        if self.pending:
            self.apply_pending()
        trie = self.trie
        if not trie:
            return True
        pipes = trie.match(message if isinstance(message, bytes) else first_frame(message))
        if not pipes:
            return True
        if self.nodrop:
            if not Distributor.all_writable(pipes):
                return False
            self.dist.send(message, pipes)
            return True
        dropped = self.dist.send(message, pipes)
        if dropped:
            stats = self.stats
            stats["dropped_hwm"] = stats.get("dropped_hwm", 0) + dropped
        return True

    def can_send(self) -> bool:
        """Whether a message could be sent now: always, but with :attr:`nodrop` only
        when every subscribed pipe has room."""
        if self.pending:
            self.apply_pending()
        if self.nodrop:
            # Which pipes a message goes to depends on it: without one, every pipe that
            # has a subscription must have room (would_send checks one message).
            return Distributor.all_writable(self.trie.keys())
        return True

    def would_send(self, message: QueuedMessage) -> bool:
        """Whether :meth:`send` would take ``message`` now (with :attr:`nodrop`: every
        pipe it matches has room)."""
        if self.pending:
            self.apply_pending()
        if self.nodrop:
            topic = message if isinstance(message, bytes) else first_frame(message)
            return Distributor.all_writable(self.trie.match(topic))
        return True
