"""mqsdk ``ipc://`` transport: Unix domain stream sockets, with libzmq's endpoint forms."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .address import IpcAddress
from .transport import IpcTransport

__all__ = ["IpcAddress", "IpcTransport", "mqsdk_transports"]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [IpcTransport]
