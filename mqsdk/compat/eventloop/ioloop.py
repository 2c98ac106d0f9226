"""``zmq.eventloop.ioloop``: deprecated since pyzmq 17; tornado's IOLoop under the old
names (``ZMQIOLoop``, ``install()``)."""

import warnings

from tornado.ioloop import *  # noqa: F403 - the module re-exports tornado's, as pyzmq's does
from tornado.ioloop import IOLoop


def _deprecated() -> None:
    warnings.warn(
        "zmq.eventloop.ioloop is deprecated: use tornado.ioloop.IOLoop (or asyncio) "
        "directly; mqsdk sockets need no special event loop",
        DeprecationWarning,
        stacklevel=3,
    )


_deprecated()

ZMQIOLoop = IOLoop


def install() -> None:
    """Does nothing but warn: no special IOLoop is needed (deprecated)."""
    _deprecated()
