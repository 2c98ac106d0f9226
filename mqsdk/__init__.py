"""mqsdk: brokerless messaging in pure Python, wire-compatible with ZeroMQ (ZMTP 3.1).

A small kernel plus plugins: transports, poller backends, socket patterns and security
mechanisms are separate distributions found through the ``mqsdk.plugins`` entry points.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from mqsdk._kernel.component import Availability, Component
from mqsdk._kernel.frame import Frame
from mqsdk._kernel.options import OPTION_NUMBERS as _OPTION_NUMBERS
from mqsdk._kernel.options import PLUGIN_OPTION_NUMBERS as _PLUGIN_OPTION_NUMBERS
from mqsdk._kernel.security import SECURITY_SPECS as _SECURITY_SPECS
from mqsdk.config import Config
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
from mqsdk.hookspecs import hookimpl
from mqsdk.z85 import curve_keypair, curve_public, z85_decode, z85_encode

if TYPE_CHECKING:
    from mqsdk._kernel.context import Context
    from mqsdk._kernel.polling import Poller, select
    from mqsdk._kernel.proxy import proxy, proxy_steerable
    from mqsdk._kernel.socket import Socket

# The socket machinery (context, registry, reactor, engines) is imported on first use,
# so that importing a light module such as mqsdk.z85 or mqsdk.errors does not load it.
_LAZY = {
    "Context": "mqsdk._kernel.context",
    "Socket": "mqsdk._kernel.socket",
    "Poller": "mqsdk._kernel.polling",
    "select": "mqsdk._kernel.polling",
    "proxy": "mqsdk._kernel.proxy",
    "proxy_steerable": "mqsdk._kernel.proxy",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        # A submodule nobody imported yet (``mqsdk._kernel.registry`` after ``import mqsdk``),
        # as it would be had the whole kernel been imported eagerly.
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'mqsdk' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


# Socket types and option numbers as module constants, the way pyzmq spells them.
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
globals().update(
    {
        name.upper(): number
        for name, number in {
            **_PLUGIN_OPTION_NUMBERS,
            **{spec.name: spec.number for spec in _SECURITY_SPECS},
            **_OPTION_NUMBERS,
        }.items()
    }
)
IDENTITY = _OPTION_NUMBERS["routing_id"]

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [  # noqa: RUF022 - grouped by kind, not sorted
    "DEALER",
    "DISH",
    "PAIR",
    "PUB",
    "PULL",
    "PUSH",
    "RADIO",
    "REP",
    "REQ",
    "ROUTER",
    "STREAM",
    "SUB",
    "XPUB",
    "XSUB",
    "Frame",
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
]
