"""``zmq.sugar.version``: the versions code ported from pyzmq checks.

``pyzmq_version()`` is the pyzmq release whose API :mod:`mqsdk.compat` follows (its test
suite is the measure), so feature checks written against pyzmq's version keep choosing
the same code path. ``zmq_version()`` is the libzmq release whose wire protocol and
socket behaviour mqsdk matches. mqsdk's own version is ``mqsdk.__version__``.
"""

from __future__ import annotations

from mqsdk.constants import LIBZMQ_VERSION_INFO

__version__ = "27.2.0"
__revision__ = ""
VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = (int(part) for part in __version__.split("."))
VERSION_EXTRA = ""
version_info: tuple[int, int, int] = (VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH)


def pyzmq_version() -> str:
    """The pyzmq version whose API this follows, as a string."""
    return __version__


def pyzmq_version_info() -> tuple[int, int, int]:
    """The pyzmq version whose API this follows, as a tuple of ints."""
    return version_info


def zmq_version_info() -> tuple[int, int, int]:
    """The libzmq version mqsdk behaves as, as a tuple of ints."""
    return LIBZMQ_VERSION_INFO


def zmq_version() -> str:
    """The libzmq version mqsdk behaves as, as a string."""
    return ".".join(str(part) for part in LIBZMQ_VERSION_INFO)


__all__ = [
    "__revision__",
    "__version__",
    "pyzmq_version",
    "pyzmq_version_info",
    "zmq_version",
    "zmq_version_info",
]
