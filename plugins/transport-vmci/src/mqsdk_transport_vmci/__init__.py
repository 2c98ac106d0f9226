"""mqsdk ``vmci://`` transport: VM sockets (Linux ``AF_VSOCK``), in libzmq's endpoint forms."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .address import VmciAddress
from .transport import VmciTransport

__all__ = ["VmciAddress", "VmciTransport", "mqsdk_transports"]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [VmciTransport]
