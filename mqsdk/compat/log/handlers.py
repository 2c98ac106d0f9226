"""``zmq.log.handlers``: mqsdk's :mod:`mqsdk.log`."""

from mqsdk.log import TOPIC_DELIM, PUBHandler, TopicLogger

__all__ = ["TOPIC_DELIM", "PUBHandler", "TopicLogger"]
