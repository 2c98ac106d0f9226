"""``zmq.eventloop``: tornado integration (needs tornado: ``pip install mqsdk[tornado]``).

As in pyzmq 17 and later, tornado's own IOLoop is used as it is: it runs on asyncio,
and mqsdk sockets need nothing special from it.
"""

from tornado.ioloop import IOLoop

__all__ = ["IOLoop"]
