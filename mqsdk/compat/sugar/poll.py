"""``zmq.sugar.poll``: mqsdk's Poller and select under pyzmq's module name."""

from __future__ import annotations

from mqsdk._kernel.polling import Poller, select

__all__ = ["Poller", "select"]
