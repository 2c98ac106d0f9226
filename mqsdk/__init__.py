"""mqsdk: brokerless messaging in pure Python, wire-compatible with ZeroMQ (ZMTP 3.1).

A small kernel plus plugins: transports, poller backends, socket patterns and security
mechanisms are separate distributions found through the ``mqsdk.plugins`` entry points.
"""

from __future__ import annotations

import logging

from mqsdk.component import Availability, Component
from mqsdk.config import Config
from mqsdk.constants import DONTWAIT, NOBLOCK, POLLERR, POLLIN, POLLOUT, SNDMORE, SocketType
from mqsdk.context import Context
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
from mqsdk.frame import Frame
from mqsdk.hookspecs import hookimpl
from mqsdk.options import OPTION_NUMBERS as _OPTION_NUMBERS
from mqsdk.options import PLUGIN_OPTION_NUMBERS as _PLUGIN_OPTION_NUMBERS
from mqsdk.polling import Poller, select
from mqsdk.proxy import proxy, proxy_steerable
from mqsdk.security import SECURITY_SPECS as _SECURITY_SPECS
from mqsdk.socket import Socket
from mqsdk.z85 import curve_keypair, curve_public, z85_decode, z85_encode

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
