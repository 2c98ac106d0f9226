"""Prefix subscriptions: a counted radix trie from topics to subscribers.

A routing brick for publish-subscribe patterns (PUB/XPUB filter per pipe, SUB filters
locally, XSUB remembers what to replay). A message matches a subscription when the
subscription's topic is a prefix of the message's first frame; the empty topic matches
everything (protocols.md 1.7).

Each subscription belongs to a *key* (a pipe, or any hashable token such as ``None``
for "this socket") and is counted: ``add(b"A", k)`` twice needs two ``remove(b"A", k)``
to disappear. Patterns that want set semantics instead (libzmq's XPUB keeps one entry
per pipe and topic whatever the peer repeats) check :meth:`SubscriptionTrie.count`
before adding and remove with ``every=True``.

The trie is path-compressed: each node holds the bytes of the edge leading to it, so a
topic costs one node, not one per byte. Matching walks at most one node per stored
topic that is a prefix of the message: O(length of the longest matching topic).

Threads: every method is meant for one thread (the socket's user thread). The only
exception is :meth:`SubscriptionTrie.topics`, which returns a copy made by a single
dict operation and may be read from another thread (a pattern's ``greet``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from mqsdk._kernel.pipe import Pipe

__all__ = ["SubscriptionTrie", "UpstreamPipes"]

K = TypeVar("K", bound=Hashable)


class _Node(Generic[K]):
    """One trie node: the edge bytes from its parent, its children by first byte, and
    the subscriptions whose topic ends exactly here (key -> count)."""

    __slots__ = ("children", "label", "subs")

    def __init__(self, label: bytes) -> None:
        self.label = label
        self.children: dict[int, _Node[K]] = {}
        self.subs: dict[K, int] = {}


def _common_length(label: bytes, topic: bytes, start: int) -> int:
    """How many leading bytes of ``label`` equal ``topic[start:]``."""
    limit = min(len(label), len(topic) - start)
    index = 0
    while index < limit and label[index] == topic[start + index]:
        index += 1
    return index


class SubscriptionTrie(Generic[K]):
    """Counted prefix subscriptions (see the module docstring)."""

    __slots__ = ("_by_key", "_longest", "_pairs", "_root")

    def __init__(self) -> None:
        self._root: _Node[K] = _Node(b"")
        self._by_key: dict[K, dict[bytes, int]] = {}
        self._pairs = 0  # distinct (topic, key) pairs
        self._longest = 0  # an upper bound on the longest topic ever stored

    # -- queries -----------------------------------------------------------------------

    def __len__(self) -> int:
        """The number of distinct (topic, key) pairs."""
        return self._pairs

    def __bool__(self) -> bool:
        return self._pairs > 0

    def __contains__(self, topic: object) -> bool:
        """True if some key subscribes to exactly ``topic``."""
        if not isinstance(topic, bytes | bytearray | memoryview):
            return False
        node = self._find(bytes(topic))
        return node is not None and bool(node.subs)

    def count(self, topic: bytes, key: K) -> int:
        """How many times ``key`` subscribed to exactly ``topic`` (0 if not)."""
        topics = self._by_key.get(key)
        return topics.get(bytes(topic), 0) if topics is not None else 0

    def subscribers(self, topic: bytes) -> int:
        """How many distinct keys subscribe to exactly ``topic``."""
        node = self._find(bytes(topic))
        return len(node.subs) if node is not None else 0

    def keys(self) -> list[K]:
        """The keys that have at least one subscription."""
        return list(self._by_key)

    def topics(self, key: K) -> dict[bytes, int]:
        """A copy of ``key``'s subscriptions, topic -> count (may be called from another
        thread: the copy is one dict operation)."""
        topics = self._by_key.get(key)
        return topics.copy() if topics is not None else {}

    def all_topics(self) -> dict[bytes, int]:
        """Every distinct topic with the number of keys subscribed to it."""
        result: dict[bytes, int] = {}
        for topic, node in self._walk(self._root, b""):
            if node.subs:
                result[topic] = len(node.subs)
        return result

    def match(self, data: bytes | bytearray | memoryview) -> set[K]:
        """The keys with at least one subscription that is a prefix of ``data``."""
        data = self._prefix_bytes(data)
        node = self._root
        result: set[K] = set(node.subs) if node.subs else set()
        pos = 0
        size = len(data)
        children = node.children
        while pos < size and children:
            child = children.get(data[pos])
            if child is None:
                break
            label = child.label
            if not data.startswith(label, pos):
                break
            pos += len(label)
            if child.subs:
                result.update(child.subs)
            children = child.children
        return result

    def matches(self, data: bytes | bytearray | memoryview) -> bool:
        """True if some subscription, of any key, is a prefix of ``data``."""
        node = self._root
        if node.subs:
            return True
        data = self._prefix_bytes(data)
        pos = 0
        size = len(data)
        children = node.children
        while pos < size and children:
            child = children.get(data[pos])
            if child is None:
                return False
            label = child.label
            if not data.startswith(label, pos):
                return False
            pos += len(label)
            if child.subs:
                return True
            children = child.children
        return False

    # -- changes -----------------------------------------------------------------------

    def add(self, topic: bytes | bytearray | memoryview, key: K) -> int:
        """Record one subscription of ``key`` to ``topic``; return ``key``'s count for
        that topic afterwards (1 means it is new)."""
        topic = bytes(topic)
        node = self._insert(topic)
        count = node.subs.get(key, 0) + 1
        node.subs[key] = count
        topics = self._by_key.get(key)
        if topics is None:
            topics = self._by_key[key] = {}
        topics[topic] = count
        if count == 1:
            self._pairs += 1
            self._longest = max(self._longest, len(topic))
        return count

    def remove(self, topic: bytes | bytearray | memoryview, key: K, *, every: bool = False) -> int:
        """Cancel one subscription of ``key`` to ``topic`` (all of them with ``every``).

        :returns: ``key``'s count for the topic afterwards (0 means it is gone), or -1
            if ``key`` had no subscription to exactly ``topic`` (nothing changes).
        """
        topic = bytes(topic)
        topics = self._by_key.get(key)
        if topics is None or topic not in topics:
            return -1
        path = self._path(topic)
        node = path[-1]
        count = 0 if every else node.subs[key] - 1
        if count:
            node.subs[key] = count
            topics[topic] = count
            return count
        del node.subs[key]
        del topics[topic]
        if not topics:
            del self._by_key[key]
        self._pairs -= 1
        self._prune(path)
        return 0

    def remove_key(self, key: K) -> dict[bytes, int]:
        """Forget every subscription of ``key`` (its pipe went away); return them,
        topic -> count, in the order they were first made."""
        topics = self._by_key.get(key)
        if topics is None:
            return {}
        removed = topics.copy()
        for topic in removed:
            self.remove(topic, key, every=True)
        return removed

    def clear(self) -> None:
        """Forget every subscription."""
        self._root = _Node(b"")
        self._by_key.clear()
        self._pairs = 0
        self._longest = 0

    # -- internals -----------------------------------------------------------------------

    def _prefix_bytes(self, data: bytes | bytearray | memoryview) -> bytes:
        if type(data) is bytes:
            return data
        # A memoryview or bytearray frame: only the bytes a topic could cover matter.
        return bytes(memoryview(data).cast("B")[: self._longest])

    def _find(self, topic: bytes) -> _Node[K] | None:
        node = self._root
        pos = 0
        size = len(topic)
        while pos < size:
            child = node.children.get(topic[pos])
            if child is None or not topic.startswith(child.label, pos):
                return None
            pos += len(child.label)
            node = child
        return node if pos == size else None

    def _path(self, topic: bytes) -> list[_Node[K]]:
        """The nodes from the root to the node of ``topic``, which must exist."""
        node = self._root
        path = [node]
        pos = 0
        while pos < len(topic):
            node = node.children[topic[pos]]
            pos += len(node.label)
            path.append(node)
        return path

    def _insert(self, topic: bytes) -> _Node[K]:
        """The node for ``topic``, created (splitting an edge if needed) when missing."""
        node = self._root
        pos = 0
        size = len(topic)
        while pos < size:
            first = topic[pos]
            child = node.children.get(first)
            if child is None:
                new: _Node[K] = _Node(topic[pos:])
                node.children[first] = new
                return new
            label = child.label
            common = _common_length(label, topic, pos)
            if common == len(label):
                node = child
                pos += common
                continue
            # Split the edge: node -> middle (label[:common]) -> child (label[common:]).
            middle: _Node[K] = _Node(label[:common])
            child.label = label[common:]
            middle.children[child.label[0]] = child
            node.children[first] = middle
            pos += common
            if pos == size:
                return middle
            leaf: _Node[K] = _Node(topic[pos:])
            middle.children[topic[pos]] = leaf
            return leaf
        return node

    def _prune(self, path: list[_Node[K]]) -> None:
        """Remove or merge nodes left without subscriptions at the end of ``path``."""
        index = len(path) - 1
        while index > 0:
            node = path[index]
            parent = path[index - 1]
            if node.subs:
                return
            if not node.children:
                del parent.children[node.label[0]]
                index -= 1
                continue
            if len(node.children) == 1:
                (only,) = node.children.values()
                only.label = node.label + only.label
                parent.children[only.label[0]] = only
            return

    def _walk(self, node: _Node[K], prefix: bytes) -> Iterator[tuple[bytes, _Node[K]]]:
        stack = [(prefix, node)]
        while stack:
            topic, current = stack.pop()
            yield topic, current
            for child in current.children.values():
                stack.append((topic + child.label, child))

    def __repr__(self) -> str:
        return f"<SubscriptionTrie {self._pairs} subscriptions, {len(self._by_key)} keys>"


class UpstreamPipes:
    """The pipes a subscribing socket tells about changes of its interest (SUB's and
    XSUB's subscriptions, DISH's joins), without losing one to a new connection.

    A new connection greets with a snapshot of the interest, taken in the I/O thread,
    while its attach reaches the user's thread later. The pattern's ``greet`` calls
    :meth:`add` *before* taking the snapshot, and ``attach`` calls it again: a change the
    user makes after the snapshot then finds the pipe in :meth:`tell` (and goes out on
    the connection, which has sent its greeting by then), and one made before it is in
    the snapshot. Adding is one dict store, atomic under the GIL.
    """

    __slots__ = ("_pipes",)

    def __init__(self) -> None:
        self._pipes: dict[Pipe, None] = {}

    def add(self, pipe: Pipe) -> None:
        """``pipe`` greeted (I/O thread) or was attached (user's thread)."""
        self._pipes[pipe] = None

    def remove(self, pipe: Pipe) -> None:
        """``pipe`` was detached; messages already queued from it stay receivable."""
        self._pipes.pop(pipe, None)

    def tell(self, send: Callable[[Pipe], object]) -> None:
        """Call ``send(pipe)`` for every pipe (a subscription, a JOIN, in each pipe's
        form)."""
        for pipe in list(self._pipes):
            send(pipe)

    def pipes(self) -> list[Pipe]:
        """A snapshot of the pipes (XSUB sends its upstream messages to each)."""
        return list(self._pipes)
