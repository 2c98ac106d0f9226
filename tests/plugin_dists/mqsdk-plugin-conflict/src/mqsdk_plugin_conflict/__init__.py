"""Registers a second poller named "epoll" (a copy of the bundled one's name)."""

from __future__ import annotations

import select
from collections.abc import Sequence

from mqsdk.plugin import PollerBackend, hookimpl


class AnotherEpoll(PollerBackend):
    name = "epoll"
    priority = 1

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def register(self, fd: int, events: int) -> None:
        self._epoll.register(fd, events)

    def modify(self, fd: int, events: int) -> None:
        self._epoll.modify(fd, events)

    def unregister(self, fd: int) -> None:
        self._epoll.unregister(fd)

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        return self._epoll.poll(-1 if timeout is None else timeout)

    def close(self) -> None:
        self._epoll.close()


@hookimpl
def mqsdk_pollers() -> Sequence[type[PollerBackend]]:
    return [AnotherEpoll]
