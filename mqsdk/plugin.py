"""The import surface for plugin authors (first version).

A plugin (transport, pattern, security mechanism, poller backend) should import what it
needs from here rather than from the kernel's modules, so the kernel can move its
internals without breaking it::

    from mqsdk.plugin import StreamTransport, hookimpl, start_connect

**Stable** (changes only with a new major :data:`API_VERSION`):

- the component bases and their documented methods: :class:`Transport`,
  :class:`StreamTransport` (``parse``, ``listen``, ``connect``, ``accepted``, ``wrap``,
  ``handshake``, ``close_listener``, ``peer_address``), :func:`start_connect`,
  :class:`Pattern`, :class:`Mechanism`, :class:`PollerBackend` with :data:`READ`,
  :data:`WRITE`, :data:`ERROR`, :class:`Component`, :class:`Availability`;
- the registration marker :data:`hookimpl` and the hooks of :mod:`mqsdk.hookspecs`;
- the option declaration API: :class:`OptionModel` and :func:`option`;
- the errors a plugin raises (:class:`EndpointError`, :class:`MQError`,
  :class:`ProtocolError`).

**Not yet declared** (re-exported because bundled plugins use them today; their
signatures may change in a minor version while the plugin interface is being declared):

- :class:`MessageTransport`, whose methods still receive the socket as ``Any`` and
  reach into its private members;
- :class:`Pipe`, :data:`Message` and :class:`PeerInfo`;
- the routing bricks :class:`FairQueue`, :class:`LoadBalancer`, :class:`Distributor`
  and :class:`SubscriptionTrie`;
- :func:`get_registry` and :class:`Registry` (a wrapping transport finds the transport
  it wraps with ``get_registry().transport(scheme)``).

Anything not named in ``__all__`` is internal, even if importable.

Pinning the kernel range: :data:`API_VERSION` is ``(major, minor)``. A plugin declares
the kernel releases it was written for in its ``pyproject.toml`` dependencies, for
example ``dependencies = ["mqsdk>=0.1,<0.2"]`` (``mqsdk>=X,<Y``: the release it was
tested with, up to the next one that may change the interface), and may check
``mqsdk.plugin.API_VERSION[0]`` at import time to fail with a clear message.
"""

from __future__ import annotations

from mqsdk.component import Availability, Component
from mqsdk.distributor import Distributor
from mqsdk.errors import EndpointError, MQError, ProtocolError
from mqsdk.hookspecs import hookimpl
from mqsdk.mechanism import Mechanism
from mqsdk.options import OptionModel, option
from mqsdk.pattern import Pattern
from mqsdk.pipe import Message, PeerInfo, Pipe
from mqsdk.poller import ERROR, READ, WRITE, PollerBackend
from mqsdk.registry import Registry, get_registry
from mqsdk.routing import FairQueue, LoadBalancer
from mqsdk.subscriptions import SubscriptionTrie
from mqsdk.transport import MessageTransport, StreamTransport, Transport, start_connect

API_VERSION: tuple[int, int] = (1, 0)
"""The version of this interface, ``(major, minor)``: a new minor adds names, a new
major removes or changes a stable one."""

__all__ = [  # noqa: RUF022 - grouped as the docstring describes them
    "API_VERSION",
    # stable
    "Availability",
    "Component",
    "ERROR",
    "EndpointError",
    "MQError",
    "Mechanism",
    "OptionModel",
    "Pattern",
    "PollerBackend",
    "ProtocolError",
    "READ",
    "StreamTransport",
    "Transport",
    "WRITE",
    "hookimpl",
    "option",
    "start_connect",
    # not yet declared
    "Distributor",
    "FairQueue",
    "LoadBalancer",
    "Message",
    "MessageTransport",
    "PeerInfo",
    "Pipe",
    "Registry",
    "SubscriptionTrie",
    "get_registry",
]
