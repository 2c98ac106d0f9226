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
"""A ``send``/``recv`` flag: do not wait; raise :class:`~mqsdk.errors.Again` instead."""
DONTWAIT = NOBLOCK
"""libzmq's name for :data:`NOBLOCK`."""
SNDMORE = 2
"""A ``send`` flag: more frames of this message follow."""

# poll events (the same bits as mqsdk._kernel.poller.READ / WRITE / ERROR)
POLLIN = 1
"""Poll event: a message can be received now."""
POLLOUT = 2
"""Poll event: a message can be sent now."""
POLLERR = 4
"""Poll event: an error on a registered file descriptor (a file, a ``socket.socket``)."""
