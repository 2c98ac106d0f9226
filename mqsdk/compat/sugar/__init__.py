"""``zmq.sugar``: pyzmq's Python layer (Context, Socket, Frame, Poller, errors, versions)."""

from __future__ import annotations

from typing import Any

from mqsdk._kernel.proxy import proxy
from mqsdk.compat import error
from mqsdk.compat.error import *  # noqa: F403
from mqsdk.compat.sugar.context import Context, SyncContext
from mqsdk.compat.sugar.frame import Frame, Message
from mqsdk.compat.sugar.poll import Poller, select
from mqsdk.compat.sugar.socket import Socket, SyncSocket
from mqsdk.compat.sugar.stopwatch import Stopwatch
from mqsdk.compat.sugar.tracker import _FINISHED_TRACKER, MessageTracker
from mqsdk.compat.sugar.version import (
    __revision__,
    __version__,
    pyzmq_version,
    pyzmq_version_info,
    zmq_version,
    zmq_version_info,
)


def device(device_type: int, frontend: Any, backend: Any) -> None:
    """pyzmq's deprecated spelling of :func:`zmq.proxy` (the device type is unused, as
    there: a queue, forwarder and streamer all relay both ways)."""
    proxy(frontend, backend)


__all__ = [  # noqa: PLE0604
    *error.__all__,
    "_FINISHED_TRACKER",
    "Context",
    "Frame",
    "Message",
    "MessageTracker",
    "Poller",
    "Socket",
    "Stopwatch",
    "SyncContext",
    "SyncSocket",
    "__revision__",
    "__version__",
    "device",
    "pyzmq_version",
    "pyzmq_version_info",
    "select",
    "zmq_version",
    "zmq_version_info",
]
