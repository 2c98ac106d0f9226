"""``zmq.backend``: what pyzmq's compiled layer exposes, here answered by mqsdk itself.

pyzmq picks a Cython or CFFI binding of libzmq here; mqsdk has neither, so
``zmq.backend.Socket is zmq.Socket`` and the functions below answer from mqsdk's own
state (its plugin registry for :func:`has`).
"""

from __future__ import annotations

import sys
from typing import Any

from mqsdk._kernel.context import Context
from mqsdk._kernel.frame import Frame
from mqsdk._kernel.polling import Poller
from mqsdk._kernel.proxy import proxy, proxy_steerable
from mqsdk._kernel.socket import Socket
from mqsdk.compat.sugar.version import zmq_version_info
from mqsdk.errors import strerror
from mqsdk.z85 import curve_keypair, curve_public

Message = Frame

# The longest ipc:// path the platform's sockaddr_un takes (without its NUL).
IPC_PATH_MAX_LEN = 103 if sys.platform == "darwin" or "bsd" in sys.platform else 107

# mqsdk implements no libzmq draft socket type pyzmq's draft tests need (CLIENT, SERVER...),
# so it reports the draft API as absent, as a libzmq built without drafts does.
PYZMQ_DRAFT_API = False

# libzmq capability name -> (registry kind, component name) that provides it.
_CAPABILITIES = {
    "ipc": ("transport", "ipc"),
    "pgm": ("transport", "pgm"),
    "tipc": ("transport", "tipc"),
    "norm": ("transport", "norm"),
    "curve": ("mechanism", "CURVE"),
    "gssapi": ("mechanism", "GSSAPI"),
}


def has(capability: str) -> bool:
    """Whether mqsdk can do what libzmq's ``zmq_has(capability)`` asks: a transport or
    security mechanism whose plugin is installed and can run here, or ``"draft"``."""
    if capability == "draft":
        return PYZMQ_DRAFT_API
    wanted = _CAPABILITIES.get(capability)
    if wanted is None:
        return False
    from mqsdk._kernel.registry import get_registry

    registry = get_registry()
    kind, name = wanted
    available = registry.transports if kind == "transport" else registry.mechanisms
    return name in available


def zmq_errno() -> int:
    """libzmq's thread-local errno. mqsdk reports errors only as exceptions (whose
    ``errno`` says it), so there is never a pending one: 0."""
    return 0


def zmq_poll(sockets: list[tuple[Any, int]], timeout: float | None = -1) -> list[tuple[Any, int]]:
    """Poll ``(socket or fd, events)`` pairs for up to ``timeout`` ms (negative or None:
    forever); the ready ones come back as ``(socket or fd, events)``."""
    poller = Poller()
    for item, events in sockets:
        poller.register(item, events)
    return poller.poll(timeout)


def __getattr__(name: str) -> Any:
    if name == "monitored_queue":  # pyzmq's private backend name, used by zmq.devices
        from mqsdk.compat.devices import monitored_queue

        return monitored_queue
    raise AttributeError(f"module 'zmq.backend' (mqsdk.compat) has no attribute {name!r}")


__all__ = [
    "IPC_PATH_MAX_LEN",
    "PYZMQ_DRAFT_API",
    "Context",
    "Frame",
    "Message",
    "Socket",
    "curve_keypair",
    "curve_public",
    "has",
    "proxy",
    "proxy_steerable",
    "strerror",
    "zmq_errno",
    "zmq_poll",
    "zmq_version_info",
]
