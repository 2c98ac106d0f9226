"""``zmq.asyncio``: mqsdk's asyncio Context, Socket and Poller."""

from __future__ import annotations

from mqsdk.asyncio import *  # noqa: F403
from mqsdk.asyncio import Context, Poller, Socket

__all__ = ["Context", "Poller", "Socket"]
