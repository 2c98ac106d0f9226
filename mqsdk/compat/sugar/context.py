"""``zmq.sugar.context``: mqsdk's Context under pyzmq's module name."""

from __future__ import annotations

from mqsdk._kernel.context import Context

# pyzmq's name for the synchronous (non-asyncio) class; mqsdk has one class.
SyncContext = Context

__all__ = ["Context", "SyncContext"]
