"""Fan-out with per-pipe drop at SNDHWM (mqsdk._kernel.distributor)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mqsdk
from mqsdk._kernel.distributor import Distributor
from mqsdk._kernel.handle import SocketHandle
from mqsdk._kernel.pipe import Pipe
from mqsdk._kernel.subscriptions import SubscriptionTrie


@pytest.fixture(scope="module")
def owner() -> Iterator[SocketHandle]:
    """A real socket's handle: the compiled kernel checks a pipe's owner's type."""
    ctx = mqsdk.Context()
    try:
        yield ctx.socket(mqsdk.PUB).handle
    finally:
        ctx.destroy(linger=0)


def _pipe(owner: SocketHandle, sndhwm: int = 2, name: str = "p") -> Pipe:
    return Pipe(owner=owner, endpoint=f"test://{name}", sndhwm=sndhwm, rcvhwm=0)


def test_send_to_all_attached_pipes(owner: SocketHandle) -> None:
    dist = Distributor()
    pipes = [_pipe(owner, name=str(i)) for i in range(3)]
    for pipe in pipes:
        dist.attach(pipe)
    dist.attach(pipes[0])  # attaching twice keeps one entry
    assert len(dist) == 3
    message = [b"topic", b"body"]
    assert dist.send(message) == 0
    for pipe in pipes:
        assert list(pipe.outq) == [message]


def test_send_only_to_the_given_pipes(owner: SocketHandle) -> None:
    dist = Distributor()
    a, b = _pipe(owner, name="a"), _pipe(owner, name="b")
    dist.attach(a)
    dist.attach(b)
    assert dist.send([b"x"], [b]) == 0
    assert not a.outq
    assert list(b.outq) == [[b"x"]]
    assert dist.send([b"y"], []) == 0


def test_full_pipe_drops_without_blocking_others(owner: SocketHandle) -> None:
    dist = Distributor()
    slow, fast = (
        _pipe(owner, sndhwm=1, name="slow"),
        _pipe(owner, sndhwm=0, name="fast"),
    )  # 0 = no limit
    dist.attach(slow)
    dist.attach(fast)
    dropped = sum(dist.send([str(i).encode()]) for i in range(5))
    assert dropped == 4
    assert len(slow.outq) == 1
    assert len(fast.outq) == 5
    assert not dist.can_send_all()
    assert Distributor.all_writable([fast])
    assert not Distributor.all_writable([slow, fast])


def test_detach(owner: SocketHandle) -> None:
    dist = Distributor()
    pipe = _pipe(owner)
    dist.attach(pipe)
    dist.detach(pipe)
    dist.detach(pipe)  # unknown pipe: no error
    assert dist.send([b"m"]) == 0
    assert not pipe.outq
    assert dist.can_send_all()


def test_with_trie_fans_out_to_matching_pipes(owner: SocketHandle) -> None:
    dist = Distributor()
    trie: SubscriptionTrie[Pipe] = SubscriptionTrie()
    a, b, c = _pipe(owner, name="a"), _pipe(owner, name="b"), _pipe(owner, name="c")
    for pipe in (a, b, c):
        dist.attach(pipe)
    trie.add(b"news", a)
    trie.add(b"", b)
    for message in ([b"news.1"], [b"weather"]):
        dist.send(message, trie.match(message[0]))
    assert list(a.outq) == [[b"news.1"]]
    assert list(b.outq) == [[b"news.1"], [b"weather"]]
    assert not c.outq


@settings(max_examples=100, deadline=None)
@given(
    hwms=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=5),
    sends=st.lists(st.sets(st.integers(min_value=0, max_value=4)), max_size=20),
)
def test_drop_accounting_model(owner: SocketHandle, hwms: list[int], sends: list[set[int]]) -> None:
    dist = Distributor()
    pipes = [_pipe(owner, sndhwm=h, name=str(i)) for i, h in enumerate(hwms)]
    for pipe in pipes:
        dist.attach(pipe)
    model: list[list[Any]] = [[] for _ in pipes]
    for number, targets in enumerate(sends):
        chosen = [i for i in sorted(targets) if i < len(pipes)]
        message = [str(number).encode()]
        expected_drops = 0
        for i in chosen:
            if hwms[i] and len(model[i]) >= hwms[i]:
                expected_drops += 1
            else:
                model[i].append(message)
        assert dist.send(message, [pipes[i] for i in chosen]) == expected_drops
    for pipe, expected in zip(pipes, model, strict=True):
        assert list(pipe.outq) == expected
