"""mqsdk: brokerless messaging in pure Python, wire-compatible with ZeroMQ (ZMTP 3.1).

A small kernel plus plugins: transports, poller backends, socket patterns and security
mechanisms are separate distributions found through the ``mqsdk.plugins`` entry points.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# First: it decides whether the compiled kernel modules or their sources load.
from mqsdk._kernel_select import KernelInfo, kernel_info

# isort: split
from mqsdk._kernel.frame import Frame, MessageTracker
from mqsdk.constants import DONTWAIT, NOBLOCK, POLLERR, POLLIN, POLLOUT, SNDMORE, SocketType
from mqsdk.errors import (
    Again,
    ConfigError,
    ContextTerminated,
    EndpointError,
    MQError,
    PluginError,
    ProtocolError,
    UnsupportedTransport,
)
from mqsdk.z85 import curve_keypair, curve_public, z85_decode, z85_encode

if TYPE_CHECKING:
    from mqsdk._kernel.component import Availability, Component
    from mqsdk._kernel.context import Context
    from mqsdk._kernel.polling import Poller, select
    from mqsdk._kernel.proxy import proxy, proxy_steerable
    from mqsdk._kernel.socket import Socket
    from mqsdk.config import Config
    from mqsdk.hookspecs import hookimpl

# ``import mqsdk`` loads only what has no dependencies (constants, errors, Z85, Frame):
# the socket machinery, the configuration and option models (pydantic) and pluggy load
# on first use of a name that needs them, so a script that imports mqsdk to read a
# constant, or ``mqsdk --version``, does not pay for them.
_LAZY = {
    "Context": "mqsdk._kernel.context",
    "Socket": "mqsdk._kernel.socket",
    "Poller": "mqsdk._kernel.polling",
    "select": "mqsdk._kernel.polling",
    "proxy": "mqsdk._kernel.proxy",
    "proxy_steerable": "mqsdk._kernel.proxy",
    "Availability": "mqsdk._kernel.component",
    "Component": "mqsdk._kernel.component",
    "Config": "mqsdk.config",
    "hookimpl": "mqsdk.hookspecs",
}


def _option_constants() -> dict[str, int]:
    """``SUBSCRIBE``, ``SNDHWM``... as pyzmq spells them: libzmq's numbers of the options
    the kernel and the bundled plugins declare (their declarations are the one source)."""
    from mqsdk._kernel.options import OPTION_NUMBERS, all_option_numbers

    constants = {name.upper(): number for name, number in all_option_numbers().items()}
    constants["IDENTITY"] = OPTION_NUMBERS["routing_id"]
    return constants


def _pyzmq_name(name: str) -> Any:
    """One of pyzmq's top-level names that mqsdk does not define itself (``EAGAIN``,
    ``zmq_version``, ``SocketOption``...), from :mod:`mqsdk.compat`: code ported with
    ``import mqsdk as zmq`` finds them too."""
    if not name.startswith("_"):
        compat = importlib.import_module(f"{__name__}.compat")
        if name in compat.__all__ and name in vars(compat):
            value = vars(compat)[name]
            globals()[name] = value  # later lookups are plain module attributes
            return value
    raise AttributeError(f"module 'mqsdk' has no attribute {name!r}")


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name.isupper() and not name.startswith("_"):
        constants = _option_constants()
        if name not in constants:
            return _pyzmq_name(name)
        globals().update(constants)  # later lookups are plain module attributes
        return constants[name]
    else:
        # A submodule nobody imported yet (``mqsdk.asyncio`` after ``import mqsdk``),
        # as it would be had the whole package been imported eagerly.
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
        return _pyzmq_name(name)
    globals()[name] = value  # later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_option_constants()})


# Socket types as module constants, the way pyzmq spells them.
PAIR, PUB, SUB, REQ, REP = (
    SocketType.PAIR,
    SocketType.PUB,
    SocketType.SUB,
    SocketType.REQ,
    SocketType.REP,
)
DEALER, ROUTER, PULL, PUSH = SocketType.DEALER, SocketType.ROUTER, SocketType.PULL, SocketType.PUSH
XPUB, XSUB, STREAM = SocketType.XPUB, SocketType.XSUB, SocketType.STREAM
RADIO, DISH = SocketType.RADIO, SocketType.DISH
SCATTER, GATHER = SocketType.SCATTER, SocketType.GATHER
PEER, CHANNEL = SocketType.PEER, SocketType.CHANNEL

__version__ = "0.1.0"
"""This release of mqsdk (the distribution's version is read from here)."""

__all__ = [  # noqa: RUF022 - grouped by kind, not sorted
    "CHANNEL",
    "DEALER",
    "DISH",
    "GATHER",
    "PAIR",
    "PEER",
    "PUB",
    "PULL",
    "PUSH",
    "RADIO",
    "REP",
    "REQ",
    "ROUTER",
    "SCATTER",
    "STREAM",
    "SUB",
    "XPUB",
    "XSUB",
    "Frame",
    "MessageTracker",
    "Poller",
    "Socket",
    "proxy",
    "proxy_steerable",
    "select",
    "curve_keypair",
    "curve_public",
    "z85_decode",
    "z85_encode",
    "DONTWAIT",
    "NOBLOCK",
    "POLLERR",
    "POLLIN",
    "POLLOUT",
    "SNDMORE",
    "Again",
    "Availability",
    "Component",
    "Config",
    "ConfigError",
    "Context",
    "ContextTerminated",
    "EndpointError",
    "MQError",
    "PluginError",
    "ProtocolError",
    "SocketType",
    "UnsupportedTransport",
    "__version__",
    "hookimpl",
    "KernelInfo",
    "kernel_info",
]
