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

Threads follow :mod:`mqsdk.pattern`. The reading thread only appends a pipe to a deque
(:meth:`pipe_readable`). Subscriptions that arrive as ``01``/``00`` messages are applied
in the user's thread whenever the socket is used (send, poll, recv, attach), as libzmq's
XPUB reads its pipes when it sends. SUBSCRIBE/CANCEL commands arrive through
:meth:`pipe_command`.
"""

from __future__ import annotations

import errno
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from mqsdk.distributor import Distributor
from mqsdk.errors import MQError
from mqsdk.hookspecs import hookimpl
from mqsdk.pattern import Pattern
from mqsdk.pipe import Message, Pipe
from mqsdk.routing import FairQueue
from mqsdk.subscriptions import SubscriptionTrie
from mqsdk.zmtp import commands
from mqsdk.zmtp.frames import Command, encode_message

__all__ = ["Pub", "Sub", "XPub", "XSub", "mqsdk_patterns"]
__version__ = "0.1.0"

_SUBSCRIBE = b"SUBSCRIBE"
_CANCEL = b"CANCEL"
_WAIT_SLICE = 0.1  # seconds; see Pub.wait_for_subscribers
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


def _topic(option: str, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        raise MQError(
            f"socket option {option} takes bytes, not str: encode it "
            f"(or call socket.{option}({value!r}), which encodes it as UTF-8)",
            errno.EINVAL,
        )
    raise MQError(
        f"socket option {option} takes bytes (a topic prefix), not {type(value).__name__}",
        errno.EINVAL,
    )


def _flag(option: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if not isinstance(value, int):
        raise MQError(
            f"socket option {option} takes an int (0 = off, 1 = on), not {type(value).__name__}",
            errno.EINVAL,
        )
    if value < 0:
        raise MQError(f"socket option {option} must be 0 or positive, got {value}", errno.EINVAL)
    return value != 0


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
    socket_type: ClassVar[int] = 1
    peer_types: ClassVar[frozenset[str]] = frozenset({"SUB", "XSUB"})
    commands: ClassVar[frozenset[bytes]] = frozenset({_SUBSCRIBE, _CANCEL})
    socket_methods: ClassVar[frozenset[str]] = frozenset({"wait_for_subscribers"})
    options: ClassVar[dict[str, int]] = {
        "subscribe": 6,
        "unsubscribe": 7,
        "xpub_verbose": 40,
        "xpub_nodrop": 69,
        "xpub_manual": 71,
        "xpub_welcome_msg": 72,
        "xpub_verboser": 78,
    }
    option_docs: ClassVar[dict[str, str]] = {
        "subscribe": "XPUB in manual mode: subscribe the peer last heard from.",
        "unsubscribe": "XPUB in manual mode: cancel that subscription.",
        "xpub_verbose": "Pass every subscription up, duplicates too.",
        "xpub_nodrop": "At the HWM, wait (or EAGAIN) instead of dropping.",
        "xpub_manual": "Subscriptions are set by the user, not taken from peers.",
        "xpub_welcome_msg": "A message sent to each new subscriber.",
        "xpub_verboser": "As xpub_verbose, and pass every unsubscription up.",
    }
    reports_upstream: ClassVar[bool] = False
    """XPUB hands subscriptions and other upstream messages to the user; PUB drops them."""

    def __init__(self, socket: Any) -> None:
        super().__init__(socket)
        self.trie: SubscriptionTrie[Pipe] = SubscriptionTrie()
        """The filter: which pipe gets which prefixes."""
        self.peer_subscriptions: SubscriptionTrie[Pipe] = SubscriptionTrie()
        """XPUB_MANUAL: what each peer asked for (reported back when it goes away)."""
        self.dist = Distributor()
        self._readable: deque[Pipe] = deque()
        self._pending: deque[tuple[Message, Pipe | None, bool]] = deque()
        self._manual_pipe: Pipe | None = None
        self._hold_recv = False
        self.verbose_subs = False
        self.verbose_unsubs = False
        self.manual = False
        self.nodrop = False
        self.welcome = b""

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
        if self.manual:
            gone = self.peer_subscriptions.remove_key(pipe)
            self.trie.remove_key(pipe)
            if self.reports_upstream:
                for topic in gone:
                    self._pending.append(([b"\x00" + topic], None, True))
        else:
            gone = self.trie.remove_key(pipe)
            if self.reports_upstream:
                for topic in gone:
                    if self.verbose_unsubs or not self.trie.subscribers(topic):
                        self._pending.append(([b"\x00" + topic], None, True))
        if self._manual_pipe is pipe:
            self._manual_pipe = None

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        # I/O thread. The welcome message goes once per pipe, as libzmq writes it into a
        # new pipe; a connecting XPUB's pipe survives reconnections and is not welcomed
        # again.
        welcome = self.welcome
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
            message = inq.popleft()
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
        if self.manual:
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
                notify = not trie.subscribers(topic) or self.verbose_subs
                if not trie.count(topic, pipe):
                    trie.add(topic, pipe)
            else:
                # libzmq reports a cancel that removed the topic's last subscriber, and
                # also one for a topic this pipe did not have (mtrie "not_found").
                found = trie.remove(topic, pipe, every=True) >= 0
                notify = not found or not trie.subscribers(topic) or self.verbose_unsubs
        if notify and self.reports_upstream:
            self._pending.append(([(b"\x01" if subscribe else b"\x00") + topic], pipe, True))

    # -- sending -----------------------------------------------------------------------------

    def send(self, message: Message) -> bool:
        if self._readable:
            self._process_inputs()
        trie = self.trie
        if not trie:
            return True
        pipes = trie.match(message[0])
        if not pipes:
            return True
        if self.nodrop:
            if not Distributor.all_writable(pipes):
                return False
            self.dist.send(message, pipes)
            return True
        dropped = self.dist.send(message, pipes)
        if dropped:
            stats = self.socket.stats
            stats["dropped_hwm"] = stats.setdefault("dropped_hwm", 0) + dropped
        return True

    def can_send(self) -> bool:
        if self._readable:
            self._process_inputs()
        if self.nodrop:
            # Which pipes a message goes to depends on it: without one, every pipe that
            # has a subscription must have room (see would_send for the precise check).
            return Distributor.all_writable(self.trie.keys())
        return True

    def would_send(self, message: Message) -> bool:
        if self._readable:
            self._process_inputs()
        if self.nodrop:
            return Distributor.all_writable(self.trie.match(message[0]))
        return True

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
        if is_subscription and self.manual:
            self._manual_pipe = pipe
        return message

    # -- options -------------------------------------------------------------------------------

    def set_option(self, name: str, value: Any) -> bool:
        if name == "xpub_verbose":
            self.verbose_subs = _flag(name, value)
            self.verbose_unsubs = False
        elif name == "xpub_verboser":
            self.verbose_subs = self.verbose_unsubs = _flag(name, value)
        elif name == "xpub_nodrop":
            self.nodrop = _flag(name, value)
        elif name == "xpub_manual":
            self.manual = _flag(name, value)
        elif name == "xpub_welcome_msg":
            if value is None:
                value = b""
            self.welcome = _topic(name, value)
        elif name in ("subscribe", "unsubscribe"):
            topic = _topic(name, value)
            if not self.manual:
                raise MQError(
                    f"{name} on a {self.name} socket works only in manual mode: set "
                    "xpub_manual=1 first (subscribers subscribe themselves otherwise)",
                    errno.EINVAL,
                )
            pipe = self._manual_pipe
            if pipe is None or pipe.state.get(_GONE):
                return True  # no subscription received yet, or its peer left: libzmq ignores it
            if name == "subscribe":
                if not self.trie.count(topic, pipe):
                    self.trie.add(topic, pipe)
            else:
                self.trie.remove(topic, pipe, every=True)
        else:
            return False
        return True

    def get_option(self, name: str) -> Any:
        if name == "xpub_verbose":
            return int(self.verbose_subs)
        if name == "xpub_verboser":
            return int(self.verbose_unsubs)
        if name == "xpub_nodrop":
            return int(self.nodrop)
        if name == "xpub_manual":
            return int(self.manual)
        if name == "xpub_welcome_msg":
            return self.welcome
        if name in ("subscribe", "unsubscribe"):
            raise MQError(f"socket option {name} is write-only", errno.EINVAL)
        raise KeyError(name)

    # -- socket method -------------------------------------------------------------------------

    def subscriber_count(self) -> int:
        """How many attached peers have at least one subscription now."""
        trie = self.peer_subscriptions if self.manual else self.trie
        return len(trie.keys())

    def wait_for_subscribers(self, n: int = 1, timeout: float | None = None) -> bool:
        """Block until at least ``n`` subscriber peers have at least one subscription.

        The way to beat the slow-joiner problem without sleeping: a PUB that publishes
        before its subscribers' subscriptions arrived drops those messages, so wait for
        them first. ``timeout`` is in seconds (None waits forever).

        :returns: True once ``n`` subscribers are there, False on timeout.
        :raises MQError: the socket was closed; ContextTerminated: the context was.
        """
        if not isinstance(n, int) or n < 0:
            raise MQError(f"wait_for_subscribers needs n >= 0, got {n!r}", errno.EINVAL)
        socket = self.socket
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        self._hold_recv = True  # XPUB: pending notifications must not end the wait early
        try:
            while True:
                socket._check_open()
                socket._read_engines()
                if socket._pipe_events:
                    socket._apply_pipe_events()
                self._process_inputs()
                if self.subscriber_count() >= n:
                    return True
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return False
                # Bounded slices: every turn reads the connections itself, so a wait
                # that misses a wake-up costs at most one slice, never the whole timeout.
                limit = now + _WAIT_SLICE
                socket._wait(limit if deadline is None else min(deadline, limit), writing=False)
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
    options: ClassVar[dict[str, int]] = {"subscribe": 6, "unsubscribe": 7}
    option_docs: ClassVar[dict[str, str]] = {
        "subscribe": "Receive messages starting with this prefix (write-only).",
        "unsubscribe": "Cancel one earlier subscribe (write-only).",
    }

    def __init__(self, socket: Any) -> None:
        super().__init__(socket)
        self.fq = FairQueue()
        self.trie: SubscriptionTrie[None] = SubscriptionTrie()
        """This socket's subscriptions, counted (the key is always None)."""
        self.dist = Distributor()
        self._pipes: dict[Pipe, None] = {}
        """Pipes to tell about subscription changes: the attached ones, plus those that
        greeted before their attach reached this thread (so no change is lost between
        the greeting's snapshot and the attach)."""

    def attach(self, pipe: Pipe) -> bool:
        self._pipes[pipe] = None
        return True

    def detach(self, pipe: Pipe) -> None:
        self._pipes.pop(pipe, None)  # messages already queued stay receivable

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        # I/O thread: register the pipe first, then snapshot; a change recorded after
        # the snapshot finds the pipe and goes out through send_command/send_message.
        self._pipes[pipe] = None
        topics = self.trie.topics(None)
        return [_subscription_frame(topic, True, zmtp_minor) for topic in topics]

    def pipe_readable(self, pipe: Pipe) -> None:
        self.fq.activate(pipe)

    def _tell_pipes(self, topic: bytes, subscribe: bool) -> None:
        for pipe in list(self._pipes):
            _send_subscription(pipe, topic, subscribe)


class Sub(_Subscriber):
    """Receives, fair-queued, the messages whose first frame starts with one of its
    subscriptions (publishers filter too; SUB filters again locally, like libzmq)."""

    name: ClassVar[str] = "SUB"
    socket_type: ClassVar[int] = 2

    def __init__(self, socket: Any) -> None:
        super().__init__(socket)
        self._next: Message | None = None
        self._next_pipe: Pipe | None = None

    def send(self, message: Message) -> bool:
        raise _enotsup("a SUB socket cannot send (use XSUB to send upstream)")

    def can_send(self) -> bool:
        return False

    def _prefetch(self) -> bool:
        if self._next is not None:
            return True
        fq = self.fq
        trie = self.trie
        while True:
            message = fq.recv()
            if message is None:
                return False
            if trie.matches(message[0]):
                self._next = message
                self._next_pipe = fq.last_pipe
                return True

    def recv(self) -> Message | None:
        if self._next is None and not self._prefetch():
            return None
        message = self._next
        self._next = None
        self.last_pipe = self._next_pipe
        return message

    def can_recv(self) -> bool:
        return self._prefetch()

    def set_option(self, name: str, value: Any) -> bool:
        if name == "subscribe":
            topic = _topic(name, value)
            self.trie.add(topic, None)
            # Every subscribe goes upstream, duplicates included (an XPUB_VERBOSE
            # upstream reports them), as libzmq's SUB does.
            self._tell_pipes(topic, True)
            return True
        if name == "unsubscribe":
            topic = _topic(name, value)
            if self.trie.remove(topic, None) == 0:
                self._tell_pipes(topic, False)  # only the last cancel goes upstream
            return True
        return False

    def get_option(self, name: str) -> Any:
        if name in ("subscribe", "unsubscribe"):
            raise MQError(f"socket option {name} is write-only", errno.EINVAL)
        raise KeyError(name)


class XSub(_Subscriber):
    """Receives everything (fair-queued, unfiltered); sends ``01topic``/``00topic``
    messages (and any other message) upstream, unchanged, to every publisher.

    Its subscriptions are counted: a ``00topic`` goes upstream only when it cancels the
    last ``01topic`` (one for an unknown topic is dropped), as libzmq does. They are
    replayed, re-encoded for each peer's ZMTP version, on every (re)connection.
    """

    name: ClassVar[str] = "XSUB"
    socket_type: ClassVar[int] = 10

    def send(self, message: Message) -> bool:
        frame = message[0]
        if frame and frame[0] <= 1:
            topic = bytes(frame[1:])
            if frame[0] == 1:
                self.trie.add(topic, None)
            elif self.trie.remove(topic, None) != 0:
                return True  # still subscribed, or never was: nothing goes upstream
        dropped = self.dist.send(message, list(self._pipes))
        if dropped:
            stats = self.socket.stats
            stats["dropped_hwm"] = stats.setdefault("dropped_hwm", 0) + dropped
        return True

    def recv(self) -> Message | None:
        message = self.fq.recv()
        self.last_pipe = self.fq.last_pipe
        return message

    def can_recv(self) -> bool:
        return self.fq.can_recv()

    def set_option(self, name: str, value: Any) -> bool:
        if name in ("subscribe", "unsubscribe"):
            raise MQError(
                f"an XSUB socket has no {name} option: send b'\\x01' + topic to "
                "subscribe and b'\\x00' + topic to unsubscribe",
                errno.EINVAL,
            )
        return False

    def get_option(self, name: str) -> Any:
        if name in ("subscribe", "unsubscribe"):
            raise MQError(f"an XSUB socket has no {name} option", errno.EINVAL)
        raise KeyError(name)


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Pub, Sub, XPub, XSub]
