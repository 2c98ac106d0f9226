"""Numbers shared with libzmq, so code written against pyzmq's constants keeps working."""

from __future__ import annotations

from mqsdk.zmtp.constants import SocketType

# Socket types with libzmq's numbers: one definition, shared with the codec.
__all__ = [
    "DONTWAIT",
    "LIBZMQ_VERSION_INFO",
    "NOBLOCK",
    "POLLERR",
    "POLLIN",
    "POLLOUT",
    "SNDMORE",
    "SocketType",
]

LIBZMQ_VERSION_INFO = (4, 3, 5)
"""The libzmq release whose wire protocol and socket behaviour mqsdk matches: what
``zmq.zmq_version_info()`` reports for code that checks for features by version."""

# send/recv flags
NOBLOCK = 1
DONTWAIT = NOBLOCK
SNDMORE = 2

# poll events (the same bits as mqsdk._kernel.poller.READ / WRITE / ERROR)
POLLIN = 1
POLLOUT = 2
POLLERR = 4
