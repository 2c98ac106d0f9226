"""``zmq.log``: logging over mqsdk sockets (see :mod:`mqsdk.log`)."""
