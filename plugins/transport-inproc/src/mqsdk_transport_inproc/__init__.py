"""inproc://: messages between sockets of one context, handed over by reference."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl
from mqsdk_transport_inproc.transport import InprocTransport

__all__ = ["InprocTransport", "mqsdk_transports"]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [InprocTransport]
