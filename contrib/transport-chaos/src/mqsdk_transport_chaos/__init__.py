"""mqsdk ``chaos+tcp://`` and ``chaos+ipc://`` transports: tcp and ipc with injected
faults (delays, short reads and writes, resets, stalls), for testing applications."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Transport, hookimpl

from .transport import (
    ChaosAddress,
    ChaosIpcTransport,
    ChaosSettings,
    ChaosSocket,
    ChaosTcpTransport,
    ChaosTransport,
    parse_settings,
)

__all__ = [
    "ChaosAddress",
    "ChaosIpcTransport",
    "ChaosSettings",
    "ChaosSocket",
    "ChaosTcpTransport",
    "ChaosTransport",
    "mqsdk_transports",
    "parse_settings",
]


@hookimpl
def mqsdk_transports() -> Sequence[type[Transport]]:
    return [ChaosTcpTransport, ChaosIpcTransport]
