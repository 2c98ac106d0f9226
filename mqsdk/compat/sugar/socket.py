"""``zmq.sugar.socket``: mqsdk's Socket under pyzmq's module name."""

from __future__ import annotations

from mqsdk._kernel.socket import Socket

# pyzmq's name for the synchronous (non-asyncio) class; mqsdk has one class.
SyncSocket = Socket

__all__ = ["Socket", "SyncSocket"]
