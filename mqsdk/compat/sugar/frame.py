"""``zmq.sugar.frame``: mqsdk's Frame, and ``Message``, pyzmq's other name for it."""

from __future__ import annotations

from mqsdk._kernel.frame import Frame

Message = Frame

__all__ = ["Frame", "Message"]
