"""PUB, SUB, XPUB and XSUB: publish-subscribe (RFC 29; libzmq's pub/sub/xpub/xsub).

Where subscriptions live (protocols.md 1.7, checked against libzmq 4.3.5):

* The subscriber side **counts**. ``sub.subscribe(b"A")`` twice needs two
  ``unsubscribe(b"A")``. Every subscribe goes upstream (so an XPUB_VERBOSE upstream sees
  duplicates), but a cancel goes upstream only when the count drops to zero. XSUB does
  the same with the ``01``/``00`` messages its user sends.
* The publisher side keeps **one entry per pipe and topic** and filters on the first
  frame with a prefix trie. A repeated SUBSCRIBE from the same pipe changes nothing and
  one CANCEL removes the entry. libzmq's PUB does exactly this. A publisher that counted
  SUBSCRIBEs would never drop a topic that a libzmq SUB subscribed twice, because that
  SUB sends only one CANCEL.
* Replays (on every new or re-established connection, through :meth:`Pattern.greet`)
  send each distinct topic once, as libzmq's ``xhiccuped`` does: a SUBSCRIBE command to a
  ZMTP 3.1 peer, a ``01topic`` message to a 3.0 peer.

Threads follow :mod:`mqsdk._kernel.pattern`. The reading thread only appends a pipe to a deque
(:meth:`pipe_readable`). Subscriptions that arrive as ``01``/``00`` messages are applied
in the user's thread whenever the socket is used (send, poll, recv, attach), as libzmq's
XPUB reads its pipes when it sends. SUBSCRIBE/CANCEL commands arrive through
:meth:`pipe_command`.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from mqsdk.plugin import (
    Distributor,
    FairQueue,
    FilteringFairQueue,
    Message,
    MQError,
    Pattern,
    Pipe,
    Publisher,
    SocketHandle,
    SubscriptionTrie,
    UpstreamPipes,
    as_frames,
    hookimpl,
)
from mqsdk.zmtp import commands
from mqsdk.zmtp.frames import Command, encode_message
from mqsdk_pattern_pubsub.options import PubOptions, SubOptions, XSubOptions

__all__ = ["Pub", "Sub", "XPub", "XSub", "mqsdk_patterns"]

_SUBSCRIBE = b"SUBSCRIBE"
_CANCEL = b"CANCEL"
_WELCOMED = "pubsub.welcomed"  # pipe.state key: the welcome message went to this pipe
_GONE = "pubsub.gone"  # pipe.state key: detached; late input from it is ignored


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _subscription_frame(topic: bytes, subscribe: bool, zmtp_minor: int) -> bytes:
    """An encoded (un)subscription for a peer: a command to 3.1, a message to 3.0."""
    if zmtp_minor >= 1:
        return commands.subscribe(topic) if subscribe else commands.cancel(topic)
    pieces: list[Any] = []
    encode_message([(b"\x01" if subscribe else b"\x00") + topic], pieces)
    return b"".join(pieces)


def _send_subscription(pipe: Pipe, topic: bytes, subscribe: bool) -> None:
    """Send one (un)subscription on ``pipe``'s current connection, in the form its peer
    wants; record the change *before* calling this (see :meth:`Pipe.send_command`)."""
    if pipe.zmtp_minor >= 1:
        frame = commands.subscribe(topic) if subscribe else commands.cancel(topic)
        pipe.send_command(frame)
    else:
        pipe.send_message([(b"\x01" if subscribe else b"\x00") + topic])


def _enotsup(what: str) -> MQError:
    return MQError(what, errno.ENOTSUP)


# --------------------------------------------------------------------------------------
# PUB and XPUB
# --------------------------------------------------------------------------------------


class Pub(Pattern):
    """Fans each message out to the peers subscribed to a prefix of its first frame.

    Never blocks: a subscriber whose queue is at SNDHWM misses the message, counted in
    ``socket.stats["dropped_hwm"]``. With ``xpub_nodrop`` the send waits (or raises
    :class:`~mqsdk.errors.Again`) instead, until every matching peer has room.
    """

    name: ClassVar[str] = "PUB"
    reads_before_sending: ClassVar[bool] = True  # subscriptions apply to the next message
    sends_bytes: ClassVar[bool] = True  # the single-frame lane: SUB and XSUB take it
    socket_type: ClassVar[int] = 1
    peer_types: ClassVar[frozenset[str]] = frozenset({"SUB", "XSUB"})
    commands: ClassVar[frozenset[bytes]] = frozenset({_SUBSCRIBE, _CANCEL})
    socket_methods: ClassVar[frozenset[str]] = frozenset({"wait_for_subscribers"})
    option_model = PubOptions
    reports_upstream: ClassVar[bool] = False
    """XPUB hands subscriptions and other upstream messages to the user; PUB drops them."""

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.trie: SubscriptionTrie[Pipe] = SubscriptionTrie()
        """The filter: which pipe gets which prefixes."""
        self.peer_subscriptions: SubscriptionTrie[Pipe] = SubscriptionTrie()
        """XPUB_MANUAL: what each peer asked for (reported back when it goes away)."""
        self._readable: deque[Pipe] = deque()
        # The kernel brick routes every message (the socket calls it directly); the
        # ``01topic`` messages of ZMTP 3.0 peers are applied first, when there are any.
        self.publisher = Publisher(self.trie, socket.stats, self._readable, self._process_inputs)
        self.sender = self.publisher
        self.dist = self.publisher.dist
        self._pending: deque[tuple[Message, Pipe | None, bool]] = deque()
        self._manual_pipe: Pipe | None = None
        self.options: PubOptions = socket.component_options(PubOptions)
        self._hold_recv = False

    # -- pipes -----------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> bool:
        # Messages already in pipe.inq are announced through pipe_readable and applied
        # with the others, after the commands already reported (see _process_inputs).
        self.dist.attach(pipe)
        self.socket.stats.setdefault("dropped_hwm", 0)
        return True

    def detach(self, pipe: Pipe) -> None:
        if pipe.state.get(_GONE):
            return
        pipe.state[_GONE] = True
        self.dist.detach(pipe)
        if self.options.xpub_manual:
            gone = self.peer_subscriptions.remove_key(pipe)
            self.trie.remove_key(pipe)
            if self.reports_upstream:
                for topic in gone:
                    self._pending.append(([b"\x00" + topic], None, True))
        else:
            gone = self.trie.remove_key(pipe)
            if self.reports_upstream:
                for topic in gone:
                    if self.options.xpub_verboser or not self.trie.subscribers(topic):
                        self._pending.append(([b"\x00" + topic], None, True))
        if self._manual_pipe is pipe:
            self._manual_pipe = None

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        # I/O thread. The welcome message goes once per pipe, as libzmq writes it into a
        # new pipe; a connecting XPUB's pipe survives reconnections and is not welcomed
        # again.
        welcome = self.options.xpub_welcome_msg
        if not welcome or pipe.state.get(_WELCOMED):
            return []
        pipe.state[_WELCOMED] = True
        pieces: list[Any] = []
        encode_message([welcome], pieces)
        return [b"".join(pieces)]

    def pipe_readable(self, pipe: Pipe) -> None:
        self._readable.append(pipe)

    def pipe_command(self, pipe: Pipe, command: Command) -> None:
        # A pipe may not be attached yet: inproc delivers the peer's greeting before
        # the attach. Only a pipe already detached is ignored.
        if not pipe.state.get(_GONE):
            self._apply(pipe, command.name == _SUBSCRIBE, command.data)

    # -- subscriptions from the peers ------------------------------------------------------

    def _process_inputs(self) -> None:
        """Apply the ``01``/``00`` messages the peers sent (user's thread).

        The socket applies SUBSCRIBE/CANCEL commands (pipe events) before calling the
        pattern, so commands that arrived are applied before messages that arrived:
        the kernel does not tell how the two interleaved on the wire. For libzmq peers
        this gives the right result: their SUBSCRIBE commands are replays at the start
        of a connection, and their ``01``/``00`` messages (XSUB users') follow.
        """
        readable = self._readable
        while readable:
            self._drain(readable.popleft())

    def _drain(self, pipe: Pipe) -> None:
        if pipe.state.get(_GONE):
            return  # its subscriptions went with it
        inq = pipe.inq
        report = self.reports_upstream
        while inq:
            message = as_frames(inq.popleft())
            frame = message[0]
            if frame and frame[0] <= 1:
                self._apply(pipe, frame[0] == 1, bytes(frame[1:]))
            elif report:
                self._pending.append((message, pipe, False))
            # PUB ignores any other message, as libzmq does.
        if pipe.read_paused:
            pipe.drained()

    def _apply(self, pipe: Pipe, subscribe: bool, topic: bytes) -> None:
        """One subscription or cancel from ``pipe``; queue what XPUB reports."""
        if self.options.xpub_manual:
            record = self.peer_subscriptions
            if subscribe:
                if not record.count(topic, pipe):
                    record.add(topic, pipe)
            else:
                record.remove(topic, pipe, every=True)
            notify = True
        else:
            trie = self.trie
            if subscribe:
                notify = not trie.subscribers(topic) or bool(self.options.xpub_verbose)
                if not trie.count(topic, pipe):
                    trie.add(topic, pipe)
            else:
                # libzmq reports a cancel that removed the topic's last subscriber, and
                # also one for a topic this pipe did not have (mtrie "not_found").
                found = trie.remove(topic, pipe, every=True) >= 0
                notify = (
                    not found or not trie.subscribers(topic) or bool(self.options.xpub_verboser)
                )
        if notify and self.reports_upstream:
            self._pending.append(([(b"\x01" if subscribe else b"\x00") + topic], pipe, True))

    # -- sending (the Publisher brick; see __init__) ----------------------------------------

    def would_send(self, message: Message) -> bool:
        return self.publisher.would_send(message)

    # -- receiving ---------------------------------------------------------------------------

    def recv(self) -> Message | None:
        raise _enotsup("a PUB socket cannot receive (use XPUB to see subscriptions)")

    def can_recv(self) -> bool:
        return False

    def _take_pending(self) -> Message | None:
        if self._readable:
            self._process_inputs()
        if not self._pending:
            return None
        message, pipe, is_subscription = self._pending.popleft()
        self.last_pipe = pipe
        if is_subscription and self.options.xpub_manual:
            self._manual_pipe = pipe
        return message

    # -- option handlers (see PubOptions) ----------------------------------------------------

    def on_xpub_nodrop(self, value: int) -> None:
        self.publisher.nodrop = bool(value)  # read per message: a plain attribute

    def on_xpub_verbose(self, value: int) -> None:
        self.options.xpub_verboser = 0  # VERBOSE turns VERBOSER off, as in libzmq

    def on_xpub_verboser(self, value: int) -> None:
        self.options.xpub_verbose = value  # VERBOSER implies VERBOSE

    def on_subscribe(self, topic: bytes) -> None:
        self._manual_change("subscribe", topic)

    def on_unsubscribe(self, topic: bytes) -> None:
        self._manual_change("unsubscribe", topic)

    def _manual_change(self, name: str, topic: bytes) -> None:
        if not self.options.xpub_manual:
            raise MQError(
                f"{name} on a {self.name} socket works only in manual mode: set "
                "xpub_manual=1 first (subscribers subscribe themselves otherwise)",
                errno.EINVAL,
            )
        pipe = self._manual_pipe
        if pipe is None or pipe.state.get(_GONE):
            return  # no subscription received yet, or its peer left: libzmq ignores it
        if name == "subscribe":
            if not self.trie.count(topic, pipe):
                self.trie.add(topic, pipe)
        else:
            self.trie.remove(topic, pipe, every=True)

    # -- socket method -------------------------------------------------------------------------

    def subscriber_count(self) -> int:
        """How many attached peers have at least one subscription now."""
        trie = self.peer_subscriptions if self.options.xpub_manual else self.trie
        return len(trie.keys())

    def wait_for_subscribers(self, n: int = 1, timeout: float | None = None) -> bool:
        """Block until at least ``n`` subscriber peers have at least one subscription.

        The way to beat the slow-joiner problem without sleeping: a PUB that publishes
        before its subscribers' subscriptions arrived drops those messages, so wait for
        them first. ``timeout`` is in seconds (None waits forever).

        :returns: True once ``n`` subscribers are there, False on timeout.
        :raises MQError: the socket was closed, or ``n`` is negative (EINVAL).
        :raises ContextTerminated: the context was terminated.
        """
        if not isinstance(n, int) or n < 0:
            raise MQError(f"wait_for_subscribers needs n >= 0, got {n!r}", errno.EINVAL)
        self._hold_recv = True  # XPUB: pending notifications must not end the wait early
        try:

            def enough() -> bool:
                self._process_inputs()
                return self.subscriber_count() >= n

            return self.socket.wait_until(enough, timeout)
        finally:
            self._hold_recv = False


class XPub(Pub):
    """PUB that also hands the user the subscriptions (``01topic``/``00topic``) and any
    other message its subscribers send.

    A topic's first subscription and last cancel are reported once across all peers,
    unless ``xpub_verbose`` (every subscribe) or ``xpub_verboser`` (every subscribe and
    cancel). With ``xpub_manual`` nothing is added to the filter automatically: every
    subscription is reported and the user calls ``subscribe``/``unsubscribe`` on the XPUB,
    which apply to the peer the last received subscription came from. When a peer goes
    away, its topics come back as ``00topic`` messages.
    """

    name: ClassVar[str] = "XPUB"
    sends_bytes: ClassVar[bool] = False  # its sends go through its own policy first
    socket_type: ClassVar[int] = 9
    reports_upstream: ClassVar[bool] = True

    def recv(self) -> Message | None:
        return self._take_pending()

    def can_recv(self) -> bool:
        if self._hold_recv:
            return False
        if self._readable:
            self._process_inputs()
        return bool(self._pending)


# --------------------------------------------------------------------------------------
# SUB and XSUB
# --------------------------------------------------------------------------------------


class _Subscriber(Pattern):
    """What SUB and XSUB share: the fair queue, the counted subscriptions and their replay."""

    peer_types: ClassVar[frozenset[str]] = frozenset({"PUB", "XPUB"})

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.fq = FairQueue()
        self.receiver = self.fq  # the socket takes messages from it directly
        self.trie: SubscriptionTrie[None] = SubscriptionTrie()
        """This socket's subscriptions, counted (the key is always None)."""
        self.dist = Distributor()
        self.upstream = UpstreamPipes()
        """The pipes to tell about subscription changes (see UpstreamPipes)."""

    def attach(self, pipe: Pipe) -> bool:
        self.upstream.add(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.upstream.remove(pipe)  # messages already queued stay receivable

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        # I/O thread: register the pipe first, then snapshot; a change recorded after
        # the snapshot finds the pipe and goes out through send_command/send_message.
        self.upstream.add(pipe)  # before the snapshot: see UpstreamPipes
        topics = self.trie.topics(None)
        return [_subscription_frame(topic, True, zmtp_minor) for topic in topics]

    def _tell_pipes(self, topic: bytes, subscribe: bool) -> None:
        self.upstream.tell(lambda pipe: _send_subscription(pipe, topic, subscribe))


class Sub(_Subscriber):
    """Receives, fair-queued, the messages whose first frame starts with one of its
    subscriptions (publishers filter too; SUB filters again locally, like libzmq)."""

    name: ClassVar[str] = "SUB"
    receives_bytes: ClassVar[bool] = True  # the single-frame lane
    socket_type: ClassVar[int] = 2
    option_model = SubOptions

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        # The kernel brick filters and fair-queues every message (the socket takes
        # them from it directly).
        self.fq = self.receiver = FilteringFairQueue(self.trie.matches)  # filters too

    def send(self, message: Message) -> bool:
        raise _enotsup("a SUB socket cannot send (use XSUB to send upstream)")

    def can_send(self) -> bool:
        return False

    def on_subscribe(self, topic: bytes) -> None:
        self.trie.add(topic, None)
        # Every subscribe goes upstream, duplicates included (an XPUB_VERBOSE upstream
        # reports them), as libzmq's SUB does.
        self._tell_pipes(topic, True)

    def on_unsubscribe(self, topic: bytes) -> None:
        if self.trie.remove(topic, None) == 0:
            self._tell_pipes(topic, False)  # only the last cancel goes upstream


class XSub(_Subscriber):
    """Receives everything (fair-queued, unfiltered); sends ``01topic``/``00topic``
    messages (and any other message) upstream, unchanged, to every publisher.

    Its subscriptions are counted: a ``00topic`` goes upstream only when it cancels the
    last ``01topic`` (one for an unknown topic is dropped), as libzmq does. They are
    replayed, re-encoded for each peer's ZMTP version, on every (re)connection.
    """

    name: ClassVar[str] = "XSUB"
    receives_bytes: ClassVar[bool] = True  # the single-frame lane
    socket_type: ClassVar[int] = 10
    option_model = XSubOptions

    def send(self, message: Message) -> bool:
        frame = message[0]
        if frame and frame[0] <= 1:
            topic = bytes(frame[1:])
            if frame[0] == 1:
                self.trie.add(topic, None)
            elif self.trie.remove(topic, None) != 0:
                return True  # still subscribed, or never was: nothing goes upstream
        dropped = self.dist.send(message, self.upstream.pipes())
        if dropped:
            stats = self.socket.stats
            stats["dropped_hwm"] = stats.setdefault("dropped_hwm", 0) + dropped
        return True

    def on_subscribe(self, topic: bytes) -> None:
        raise MQError(
            "an XSUB socket has no subscribe option: send b'\\x01' + topic to subscribe",
            errno.EINVAL,
        )

    def on_unsubscribe(self, topic: bytes) -> None:
        raise MQError(
            "an XSUB socket has no unsubscribe option: send b'\\x00' + topic to unsubscribe",
            errno.EINVAL,
        )


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Pub, Sub, XPub, XSub]
