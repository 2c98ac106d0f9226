"""Measure the ways io_uring can give mqsdk level-triggered polls, against epoll.

Run: ``python contrib/poller-io_uring/benchmarks/poll_modes.py`` (Linux, io_uring allowed).

Modes (only "oneshot" ships; the others exist here to be measured):

- ``epoll``: the bundled default.
- ``oneshot``: the plugin: a one-shot POLL_ADD per fd, re-armed with the next wait.
- ``multishot+probe``: POLL_ADD_MULTI stays armed; since it posts a completion only when
  the fd is woken, each fd reported last time gets a one-shot POLL_ADD as a probe in the
  same submission (it completes at once if the fd is still ready).
- ``multishot+poll2``: POLL_ADD_MULTI stays armed; fds reported last time are re-checked
  with poll(2) before waiting (one more system call when anything was reported).
- ``multishot-edge``: POLL_ADD_MULTI and nothing else: edge-triggered, which breaks the
  poller contract; the lower bound of what multishot could cost.

Scenarios, each timed per wait:

- ``pingpong``: 1 socket pair; write a byte, wait, read it: the latency path.
- ``10 of 100``: 100 socket pairs registered, 10 get a byte, wait, read them all.
- ``undrained``: 1 fd that stays readable, waited on again and again with a 1 s
  timeout (level-triggered; "n/a" where a mode stops reporting it).
"""

from __future__ import annotations

import os
import select
import socket
import statistics
import sys
import time
from collections.abc import Callable

from mqsdk_poller_epoll import EpollPoller
from mqsdk_poller_io_uring import _POLLOUT, _READ_BITS, _TO_POLL, IoUringPoller, _ring

from mqsdk.plugin import READ, WRITE, PollerBackend

_PROBE = 1 << 63
_CQE_F_MORE = 1 << 1


def _reap_with_flags(ring: _ring.Ring) -> list[tuple[int, int, int]]:
    words = ring._cq_words
    head, tail = words[ring._cq_head], words[ring._cq_tail]
    done = []
    while head != tail:
        slot = head & ring._cq_mask
        done.append(
            (ring._cqe_u64[2 * slot], ring._cqe_i32[4 * slot + 2], ring._cqe_i32[4 * slot + 3])
        )
        head = (head + 1) & 0xFFFFFFFF
    words[ring._cq_head] = head
    return done


def _events(result: int) -> int:
    return (READ if result & _READ_BITS else 0) | (WRITE if result & _POLLOUT else 0)


class _Multishot(IoUringPoller):
    """Multishot polls; the subclasses decide how level-triggering is recovered."""

    def __init__(self) -> None:
        super().__init__()
        self._reported: list[int] = []

    def _arm(self, ring: _ring.Ring) -> bool:
        for fd in self._to_arm:
            if fd in self._interest and fd not in self._armed:
                self._serial += 1
                user_data = (self._serial << 32) | fd
                ring.push(
                    _ring.OP_POLL_ADD,
                    0,
                    fd,
                    0,
                    _ring.POLL_ADD_MULTI,
                    _TO_POLL[self._interest[fd]],
                    user_data,
                )
                self._armed[fd] = user_data
        self._to_arm.clear()
        return True

    def _collect(self, ring: _ring.Ring, ready: dict[int, int]) -> None:
        for user_data, result, flags in _reap_with_flags(ring):
            fd = user_data & 0xFFFFFFFF
            if self._armed.get(fd) != user_data & ~_PROBE:
                continue
            if not user_data & _PROBE and not flags & _CQE_F_MORE:
                del self._armed[fd]  # the multishot poll ended: arm a new one
                self._to_arm.append(fd)
            if result > 0:
                ready[fd] = ready.get(fd, 0) | _events(result)


class MultishotProbe(_Multishot):
    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        ring = self._ring_or_raise()
        if self._to_arm:
            self._arm(ring)
        for fd in self._reported:
            user_data = self._armed.get(fd)
            if user_data is not None:
                ring.push(
                    _ring.OP_POLL_ADD, 0, fd, 0, 0, _TO_POLL[self._interest[fd]], user_data | _PROBE
                )
        if timeout == 0 or ring.cq_ready():
            ring.submit()
        else:
            self._wait(ring, timeout)
        ready: dict[int, int] = {}
        self._collect(ring, ready)
        self._reported = list(ready)
        return list(ready.items())


class MultishotPoll2(_Multishot):
    def __init__(self) -> None:
        super().__init__()
        self._recheck = select.poll()

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        ring = self._ring_or_raise()
        if self._to_arm:
            self._arm(ring)
        ready: dict[int, int] = {}
        if self._reported:
            recheck = select.poll()
            for fd in self._reported:
                recheck.register(fd, _TO_POLL[self._interest[fd]])
            for fd, result in recheck.poll(0):
                ready[fd] = _events(result)
            if ready:
                timeout = 0
        if timeout == 0 or ring.cq_ready():
            ring.submit()
        else:
            self._wait(ring, timeout)
        self._collect(ring, ready)
        self._reported = list(ready)
        return list(ready.items())


class MultishotEdge(_Multishot):
    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        ring = self._ring_or_raise()
        if self._to_arm:
            self._arm(ring)
        if timeout == 0 or ring.cq_ready():
            ring.submit()
        else:
            self._wait(ring, timeout)
        ready: dict[int, int] = {}
        self._collect(ring, ready)
        return list(ready.items())


MODES: dict[str, type[PollerBackend]] = {
    "epoll": EpollPoller,
    "oneshot": IoUringPoller,
    "multishot+probe": MultishotProbe,
    "multishot+poll2": MultishotPoll2,
    "multishot-edge": MultishotEdge,
}


def pingpong(poller: PollerBackend, n: int) -> float:
    a, b = socket.socketpair()
    poller.register(a.fileno(), READ)
    start = time.perf_counter()
    for _ in range(n):
        b.send(b"x")
        ready = poller.poll(None)
        assert ready, ready
        a.recv(16)
    elapsed = time.perf_counter() - start
    poller.unregister(a.fileno())
    a.close()
    b.close()
    return elapsed / n


def some_of_many(poller: PollerBackend, n: int) -> float:
    pairs = [socket.socketpair() for _ in range(100)]
    for a, _b in pairs:
        poller.register(a.fileno(), READ)
    poller.poll(0)
    chosen = pairs[::10]
    start = time.perf_counter()
    for _ in range(n):
        for _a, b in chosen:
            b.send(b"x")
        got = 0
        while got < len(chosen):
            for fd, _events in poller.poll(None):
                os.read(fd, 16)
                got += 1
    elapsed = time.perf_counter() - start
    for a, b in pairs:
        poller.unregister(a.fileno())
        a.close()
        b.close()
    return elapsed / n


def undrained(poller: PollerBackend, n: int) -> float:
    a, b = socket.socketpair()
    b.send(b"x")
    poller.register(a.fileno(), READ)
    start = time.perf_counter()
    for _ in range(n):
        if not poller.poll(1.0):  # a bound: edge-triggered modes never report it again
            raise AssertionError("a readable fd was not reported: not level-triggered")
    elapsed = time.perf_counter() - start
    poller.unregister(a.fileno())
    a.close()
    b.close()
    return elapsed / n


SCENARIOS: dict[str, tuple[Callable[[PollerBackend, int], float], int]] = {
    "pingpong": (pingpong, 20_000),
    "10 of 100": (some_of_many, 5_000),
    "undrained": (undrained, 20_000),
}


def main() -> None:
    # Modes take turns within each round, so a busy neighbour on a shared machine
    # slows them alike; the median and the best of the rounds are printed.
    rounds = 15
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for name, (scenario, n) in SCENARIOS.items():
            for mode, cls in MODES.items():
                with cls() as poller:
                    try:
                        value = scenario(poller, n) * 1e6
                    except AssertionError:
                        continue  # not level-triggered: stays "n/a"
                results.setdefault((mode, name), []).append(value)
    print(f"Linux {os.uname().release}, Python {sys.version.split()[0]}")
    print(f"microseconds per wait, median (best) of {rounds} rounds")
    print(f"{'mode':18}" + "".join(f"{name:>18}" for name in SCENARIOS))
    for mode in MODES:
        cells = []
        for name in SCENARIOS:
            runs = results.get((mode, name))
            cell = f"{statistics.median(runs):.2f} ({min(runs):.2f})" if runs else "n/a"
            cells.append(f"{cell:>18}")
        print(f"{mode:18}" + "".join(cells))


if __name__ == "__main__":
    main()
