"""A poller backend on top of the standard library's ``selectors`` module."""

from __future__ import annotations

import selectors
from collections.abc import Sequence

from mqsdk.plugin import ERROR, READ, WRITE, PollerBackend, PollerError, check_events, hookimpl

_TO_SELECTORS = {READ: selectors.EVENT_READ, WRITE: selectors.EVENT_WRITE}


class SelectorsBackend(PollerBackend):
    name = "selectors"
    priority = 0

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    @staticmethod
    def _mask(events: int) -> int:
        check_events(events)
        return sum(flag for bit, flag in _TO_SELECTORS.items() if events & bit)

    def register(self, fd: int, events: int) -> None:
        try:
            self._selector.register(fd, self._mask(events))
        except (KeyError, ValueError, OSError) as exc:
            raise PollerError(f"cannot watch fd {fd}: {exc}") from None

    def modify(self, fd: int, events: int) -> None:
        try:
            self._selector.modify(fd, self._mask(events))
        except (KeyError, ValueError, OSError) as exc:
            raise PollerError(f"cannot modify fd {fd}: {exc}") from None

    def unregister(self, fd: int) -> None:
        try:
            self._selector.unregister(fd)
        except KeyError:
            raise PollerError(f"fd {fd} is not registered") from None
        except (ValueError, OSError):
            pass

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        try:
            ready = self._selector.select(timeout)
        except OSError:
            return []
        result = []
        for key, mask in ready:
            events = (READ if mask & selectors.EVENT_READ else 0) | (
                WRITE if mask & selectors.EVENT_WRITE else 0
            )
            result.append((key.fd, events or ERROR))
        return result

    def close(self) -> None:
        self._selector.close()


@hookimpl
def mqsdk_pollers() -> Sequence[type[PollerBackend]]:
    return [SelectorsBackend]
