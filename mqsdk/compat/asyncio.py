"""``zmq.asyncio``: mqsdk's asyncio Context, Socket and Poller, plus pyzmq's deprecated
event-loop names (no special loop has been needed since pyzmq 17, nor ever by mqsdk)."""

from __future__ import annotations

import asyncio
import warnings

from mqsdk.asyncio import *  # noqa: F403
from mqsdk.asyncio import Context, Poller, Socket


class ProactorSelectorThreadWarning(RuntimeWarning):
    """pyzmq warns with it on Windows' proactor loop; mqsdk needs the selector loop
    there (``add_reader``), so nothing raises it."""


def _deprecated(what: str) -> None:
    warnings.warn(
        f"{what} is deprecated (pyzmq 17): any asyncio event loop works as it is",
        DeprecationWarning,
        stacklevel=3,
    )


class ZMQEventLoop(asyncio.SelectorEventLoop):
    """pyzmq's deprecated event loop: the plain selector loop."""

    def __init__(self, selector: object = None) -> None:
        _deprecated("zmq.asyncio.ZMQEventLoop")
        super().__init__(selector)  # type: ignore[arg-type]


def install() -> None:
    """pyzmq's deprecated ``zmq.asyncio.install()``: nothing to install."""
    _deprecated("zmq.asyncio.install()")


__all__ = [
    "Context",
    "Poller",
    "ProactorSelectorThreadWarning",
    "Socket",
    "ZMQEventLoop",
    "install",
]
