"""Numbers shared with libzmq, so code written against pyzmq's constants keeps working."""

from __future__ import annotations

from mqsdk.zmtp.constants import SocketType

# Socket types with libzmq's numbers: one definition, shared with the codec.
__all__ = ["DONTWAIT", "NOBLOCK", "POLLERR", "POLLIN", "POLLOUT", "SNDMORE", "SocketType"]

# send/recv flags
NOBLOCK = 1
DONTWAIT = NOBLOCK
SNDMORE = 2

# poll events (the same bits as mqsdk._kernel.poller.READ / WRITE / ERROR)
POLLIN = 1
POLLOUT = 2
POLLERR = 4
