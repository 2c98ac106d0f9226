"""pyzmq's public module layout on mqsdk.

``import mqsdk.compat as zmq`` gives pyzmq's top-level names (``Context``, ``Socket``,
``ZMQError``, ``EAGAIN``, ``zmq_version()``...), and its submodules mirror pyzmq's
(``mqsdk.compat.asyncio`` is ``zmq.asyncio``, ``mqsdk.compat.auth.thread`` is
``zmq.auth.thread``...). :func:`install` goes one step further: ``import zmq`` anywhere
in the process, third-party libraries included, then resolves to these modules.
The objects are mqsdk's own: ``mqsdk.compat.Socket is mqsdk.Socket``.
"""

from __future__ import annotations

from typing import Any

import mqsdk
from mqsdk import *  # noqa: F403
from mqsdk.compat._install import PyzmqAlreadyImported, install, installed, uninstall


def __getattr__(name: str) -> Any:
    # Option constants (``zmq.LINGER``...) and mqsdk's lazily imported names.
    try:
        return getattr(mqsdk, name)
    except AttributeError:
        raise AttributeError(f"module 'zmq' (mqsdk.compat) has no attribute {name!r}") from None


__all__ = [  # noqa: PLE0604
    *mqsdk.__all__,
    "PyzmqAlreadyImported",
    "install",
    "installed",
    "uninstall",
]
