"""``zmq.decorators``: mqsdk's :mod:`mqsdk.decorators`."""

from mqsdk.decorators import context, socket

__all__ = ["context", "socket"]
