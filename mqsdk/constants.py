"""Numbers shared with libzmq, so code written against pyzmq's constants keeps working."""

from __future__ import annotations

from enum import IntEnum


class SocketType(IntEnum):
    """Socket types with libzmq's numbers (include/zmq.h)."""

    PAIR = 0
    PUB = 1
    SUB = 2
    REQ = 3
    REP = 4
    DEALER = 5
    ROUTER = 6
    PULL = 7
    PUSH = 8
    XPUB = 9
    XSUB = 10
    STREAM = 11


# send/recv flags
NOBLOCK = 1
DONTWAIT = NOBLOCK
SNDMORE = 2

# poll events (the same bits as mqsdk.poller.READ / WRITE / ERROR)
POLLIN = 1
POLLOUT = 2
POLLERR = 4
