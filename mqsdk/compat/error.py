"""``zmq.error``: pyzmq's exception classes, which are mqsdk's own.

``zmq.ZMQError`` is :class:`mqsdk.errors.ZMQError`, the base of every mqsdk error, so
``except zmq.ZMQError`` catches what mqsdk raises; ``zmq.Again`` is :class:`mqsdk.Again`.
"""

from __future__ import annotations

from mqsdk.constants import LIBZMQ_VERSION_INFO
from mqsdk.errors import (
    Again,
    ContextTerminated,
    DraftFDWarning,
    InterruptedSystemCall,
    NotDone,
    ZMQBaseError,
    ZMQBindError,
    ZMQError,
    ZMQVersionError,
)


def _check_version(min_version_info: tuple[int, ...], msg: str = "Feature") -> None:
    """pyzmq's guard for a feature of a newer libzmq: ZMQVersionError if the libzmq
    version mqsdk behaves as (``zmq.zmq_version_info()``) is older."""
    if min_version_info > LIBZMQ_VERSION_INFO:
        raise ZMQVersionError(".".join(str(part) for part in min_version_info), msg)


__all__ = [
    "Again",
    "ContextTerminated",
    "DraftFDWarning",
    "InterruptedSystemCall",
    "NotDone",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "ZMQVersionError",
]
