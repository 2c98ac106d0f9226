"""``zmq.eventloop.zmqstream``: mqsdk's :mod:`mqsdk.zmqstream`."""

from mqsdk.zmqstream import ZMQStream, gen_log

__all__ = ["ZMQStream", "gen_log"]
