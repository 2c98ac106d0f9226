"""``zmq.sugar.tracker``: MessageTracker, which tells when a ``track=True`` send is done."""

from __future__ import annotations

from mqsdk._kernel.frame import FINISHED_TRACKER as _FINISHED_TRACKER
from mqsdk._kernel.frame import MessageTracker

__all__ = ["_FINISHED_TRACKER", "MessageTracker"]
