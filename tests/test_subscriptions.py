"""The prefix subscription trie (mqsdk._kernel.subscriptions): matching, counting, removal."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqsdk._kernel.subscriptions import SubscriptionTrie


def test_empty_trie_matches_nothing() -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    assert not trie
    assert len(trie) == 0
    assert trie.match(b"anything") == set()
    assert not trie.matches(b"")
    assert trie.keys() == []


def test_prefix_matching_on_bytes() -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    trie.add(b"weather.", "p1")
    trie.add(b"weather.paris", "p2")
    trie.add(b"news", "p3")
    assert trie.match(b"weather.paris.rain") == {"p1", "p2"}
    assert trie.match(b"weather.london") == {"p1"}
    assert trie.match(b"weather") == set()  # shorter than the topic
    assert trie.match(b"newsflash") == {"p3"}
    assert trie.match(b"new") == set()
    assert trie.match(b"") == set()
    assert trie.matches(b"weather.x")
    assert not trie.matches(b"sports")


def test_empty_prefix_matches_everything() -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    trie.add(b"", "all")
    trie.add(b"a", "a")
    assert trie.match(b"") == {"all"}
    assert trie.match(b"zzz") == {"all"}
    assert trie.match(b"abc") == {"all", "a"}
    assert trie.matches(b"\x00\xff")
    assert b"" in trie


def test_binary_topics_and_memoryview_data() -> None:
    trie: SubscriptionTrie[int] = SubscriptionTrie()
    trie.add(b"\x00\x01", 1)
    trie.add(bytearray(b"\xff"), 2)
    assert trie.match(memoryview(b"\x00\x01\x02")) == {1}
    assert trie.match(bytearray(b"\xff\x00")) == {2}
    assert trie.matches(memoryview(b"\xff"))
    assert not trie.matches(memoryview(b"\x00"))


def test_counted_subscriptions_need_as_many_cancels() -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    assert trie.add(b"A", "k") == 1
    assert trie.add(b"A", "k") == 2
    assert trie.count(b"A", "k") == 2
    assert trie.remove(b"A", "k") == 1
    assert trie.match(b"A1") == {"k"}  # still there after one cancel
    assert trie.remove(b"A", "k") == 0
    assert trie.match(b"A1") == set()
    assert trie.remove(b"A", "k") == -1  # nothing left to cancel
    assert not trie


def test_remove_every_and_unknown() -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    trie.add(b"A", "k")
    trie.add(b"A", "k")
    assert trie.remove(b"B", "k") == -1
    assert trie.remove(b"A", "other") == -1
    assert trie.remove(b"A", "k", every=True) == 0
    assert trie.count(b"A", "k") == 0
    assert len(trie) == 0


def test_subscribers_per_topic_and_keys() -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    trie.add(b"A", "p1")
    trie.add(b"A", "p1")
    trie.add(b"A", "p2")
    trie.add(b"AB", "p3")
    assert trie.subscribers(b"A") == 2
    assert trie.subscribers(b"AB") == 1
    assert trie.subscribers(b"ABC") == 0
    assert sorted(trie.keys()) == ["p1", "p2", "p3"]
    assert len(trie) == 3  # distinct (topic, key) pairs
    assert trie.all_topics() == {b"A": 2, b"AB": 1}
    assert trie.topics("p1") == {b"A": 2}
    assert trie.topics("nobody") == {}


def test_remove_key_forgets_a_pipe() -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    trie.add(b"A", "gone")
    trie.add(b"B", "gone")
    trie.add(b"B", "gone")
    trie.add(b"B", "stays")
    assert trie.remove_key("gone") == {b"A": 1, b"B": 2}
    assert trie.match(b"A") == set()
    assert trie.match(b"B") == {"stays"}
    assert trie.keys() == ["stays"]
    assert trie.remove_key("gone") == {}


def test_edges_split_and_merge_back() -> None:
    trie: SubscriptionTrie[int] = SubscriptionTrie()
    trie.add(b"abcdef", 1)
    trie.add(b"abcxyz", 2)  # splits the edge at "abc"
    trie.add(b"abc", 3)  # lands on the split node
    assert trie.match(b"abcdefg") == {1, 3}
    assert trie.match(b"abcxyz") == {2, 3}
    assert trie.remove(b"abc", 3) == 0
    assert trie.remove(b"abcxyz", 2) == 0  # the split node merges back
    assert trie.match(b"abcdef") == {1}
    assert trie.match(b"abc") == set()
    assert trie.all_topics() == {b"abcdef": 1}
    assert trie.remove(b"abcdef", 1) == 0
    assert trie.all_topics() == {}


def test_many_topics() -> None:
    trie: SubscriptionTrie[int] = SubscriptionTrie()
    topics = [f"topic.{i}.{i * 7 % 13}".encode() for i in range(2000)]
    for index, topic in enumerate(topics):
        trie.add(topic, index % 10)
    assert len(trie) == 2000
    for index, topic in enumerate(topics):
        assert index % 10 in trie.match(topic + b".tail")
    for index, topic in enumerate(topics[::2]):
        assert trie.remove(topic, (index * 2) % 10) == 0
    assert len(trie) == 1000
    assert trie.match(topics[0]) == set()
    assert trie.match(topics[1]) == {1}


def test_clear_and_repr() -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    trie.add(b"x", "k")
    assert "1 subscriptions" in repr(trie)
    trie.clear()
    assert not trie
    assert trie.match(b"x") == set()


# -- property test against a brute-force model -------------------------------------------

_topics = st.binary(max_size=4, min_size=0).map(lambda b: bytes(x % 3 + 97 for x in b))
_keys = st.integers(min_value=0, max_value=3)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), _topics, _keys),
        st.tuples(st.just("remove"), _topics, _keys),
        st.tuples(st.just("remove_every"), _topics, _keys),
        st.tuples(st.just("remove_key"), st.just(b""), _keys),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ops=_ops, probes=st.lists(_topics, min_size=1, max_size=8))
def test_matches_brute_force_model(ops: list[tuple[str, bytes, int]], probes: list[bytes]) -> None:
    trie: SubscriptionTrie[int] = SubscriptionTrie()
    model: Counter[tuple[bytes, int]] = Counter()
    for op, topic, key in ops:
        if op == "add":
            model[topic, key] += 1
            assert trie.add(topic, key) == model[topic, key]
        elif op == "remove":
            expected = model[topic, key] - 1 if model[topic, key] else -1
            if model[topic, key]:
                model[topic, key] -= 1
            assert trie.remove(topic, key) == expected
        elif op == "remove_every":
            expected = 0 if model[topic, key] else -1
            model[topic, key] = 0
            assert trie.remove(topic, key, every=True) == expected
        else:
            had = {t: c for (t, k), c in model.items() if k == key and c}
            for t in had:
                model[t, key] = 0
            assert trie.remove_key(key) == had
        model = +model  # drop zero counts
    live = {pair for pair, count in model.items() if count}
    assert len(trie) == len(live)
    assert sorted(trie.keys()) == sorted({k for _, k in live})
    for topic, key in live:
        assert trie.count(topic, key) == model[topic, key]
    for data in [*probes, b"", b"abcabc"]:
        expected_keys = {k for t, k in live if data.startswith(t)}
        assert trie.match(data) == expected_keys
        assert trie.matches(data) == bool(expected_keys)
    distinct: Counter[bytes] = Counter(t for t, _ in live)
    assert trie.all_topics() == dict(distinct)
    for topic in distinct:
        assert trie.subscribers(topic) == distinct[topic]


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc"])
def test_topic_equal_to_data(data: bytes) -> None:
    trie: SubscriptionTrie[str] = SubscriptionTrie()
    trie.add(data, "k")
    assert trie.match(data) == {"k"}
    assert trie.matches(data)
    assert data in trie
