"""The import surface for plugin authors.

A plugin (transport, pattern, security mechanism, poller backend) imports what it needs
from here, and the wire codec from :mod:`mqsdk.zmtp` when it speaks ZMTP itself (a
mechanism), never from the kernel's other modules, so the kernel can move its internals
without breaking it:

    from mqsdk.plugin import MessageTransport, Pipe, SocketHandle, hookimpl

Everything in ``__all__`` is declared: it changes only with a new major
:data:`API_VERSION` (a new minor only adds). Anything else is internal, even if
importable, and a test keeps the bundled plugins and ``contrib/`` to this surface (no
kernel module but this one and :mod:`mqsdk.zmtp`, no ``_private`` member of a kernel
object).

What a plugin gets:

- **Components**: :class:`Transport`, :class:`StreamTransport` (``parse``, ``listen``,
  ``connect``, ``accepted``, ``wrap``, ``handshake``, ``close_listener``,
  ``peer_address``) with :func:`start_connect`, :class:`MessageTransport` (``bind``,
  ``connect``, ``close``), :class:`Pattern`, :class:`Mechanism` (with
  :class:`ZapRequest`/:class:`ZapReply`, and :class:`TrafficCodec` for one that protects
  the traffic), :class:`PollerBackend` (with :data:`READ`,
  :data:`WRITE`, :data:`ERROR`, :func:`check_events`), :class:`Component`,
  :class:`Availability`; the registration marker :data:`hookimpl` and the hooks of
  :mod:`mqsdk.hookspecs`.
- **The socket as plugins see it**: :class:`SocketHandle` (pipes attached and detached,
  readable/writable, commands delivered, traffic counted, monitor events, the I/O
  thread as :class:`IoThread`, waiting in the user's thread), never the user's socket.
- **Pipes**: :class:`Pipe`, the one contract between a pattern and a peer, which the
  kernel's ZMTP connections and every message transport implement; :data:`Message`
  (a list of frames), :data:`QueuedMessage` (what pipes queue: on the single-frame lane
  of patterns that declare ``receives_bytes``/``sends_bytes``, one frame as bare
  ``bytes``), :func:`as_frames` and :class:`PeerInfo`; :class:`MemoryPipe` and
  :func:`join_memory_pipes`, the two sides of an in-process connection (inproc's).
- **Routing bricks** patterns are made of: :class:`FairQueue`,
  :class:`FilteringFairQueue`, :class:`SingleFrameQueue` (the thread-safe types' fair
  queue: it drops multipart messages), :class:`RoutingIdTable` (SERVER's and PEER's
  peers by routing id), :class:`LoadBalancer`, :class:`Distributor`,
  :class:`Publisher`, :class:`SubscriptionTrie`, :class:`UpstreamPipes` (the pipes a
  subscriber tells about its interest). A pattern that is a plain composition
  sets ``self.sender`` (a :class:`Sender`) and ``self.receiver`` (a :class:`Receiver`) to
  bricks, and the socket drives them directly per message without calling the pattern.
- **Options**: :class:`OptionModel`, :func:`option` (a value; a security option also
  names the mechanism it selects), :func:`action` (write-only, handled by a pattern's
  ``on_<name>`` method) and the value types :data:`Flag`, :data:`Millis` and
  :data:`NonNegative`.
- **Errors and constants**: :class:`MQError`, :class:`EndpointError`,
  :class:`ProtocolError`, :class:`PollerError`, :data:`EFSM`, :data:`ENOCOMPATPROTO`,
  :data:`GROUP_MAX_LENGTH`; :func:`get_registry` and :class:`Registry` (a wrapping
  transport finds the transport it wraps with ``get_registry().transport(scheme)``);
  :func:`z85_encode`/:func:`z85_decode`.

Pinning the kernel range: :data:`API_VERSION` is ``(major, minor)``. A plugin declares
the kernel releases it was written for in its ``pyproject.toml`` dependencies, for
example ``dependencies = ["mqsdk>=0.1,<0.2"]`` (``mqsdk>=X,<Y``: the release it was
tested with, up to the next one that may change the interface), and may check
``mqsdk.plugin.API_VERSION[0]`` at import time to fail with a clear message.
"""

from __future__ import annotations

from mqsdk._kernel.component import Availability, Component
from mqsdk._kernel.distributor import Distributor, Publisher
from mqsdk._kernel.frame import GROUP_MAX_LENGTH
from mqsdk._kernel.handle import IoThread, SocketHandle, TimerHandle
from mqsdk._kernel.mechanism import Mechanism, TrafficCodec, ZapReply, ZapRequest
from mqsdk._kernel.memory_pipe import MemoryPipe, join_memory_pipes
from mqsdk._kernel.options import Flag, Millis, NonNegative, OptionModel, action, option
from mqsdk._kernel.pattern import Pattern
from mqsdk._kernel.pipe import Message, PeerInfo, Pipe, QueuedMessage, as_frames
from mqsdk._kernel.poller import ERROR, READ, WRITE, PollerBackend, check_events
from mqsdk._kernel.registry import Registry, get_registry
from mqsdk._kernel.routing import (
    FairQueue,
    FilteringFairQueue,
    LoadBalancer,
    Receiver,
    RoutingIdTable,
    Sender,
    SingleFrameQueue,
)
from mqsdk._kernel.subscriptions import SubscriptionTrie, UpstreamPipes
from mqsdk._kernel.transport import MessageTransport, StreamTransport, Transport, start_connect
from mqsdk.errors import EFSM, ENOCOMPATPROTO, EndpointError, MQError, PollerError, ProtocolError
from mqsdk.hookspecs import hookimpl
from mqsdk.z85 import z85_decode, z85_encode

API_VERSION: tuple[int, int] = (1, 1)
"""The version of this interface, ``(major, minor)``: a new minor adds names, a new
major removes or changes a stable one."""

__all__ = [
    "API_VERSION",
    "EFSM",
    "ENOCOMPATPROTO",
    "ERROR",
    "GROUP_MAX_LENGTH",
    "READ",
    "WRITE",
    "Availability",
    "Component",
    "Distributor",
    "EndpointError",
    "FairQueue",
    "FilteringFairQueue",
    "Flag",
    "IoThread",
    "LoadBalancer",
    "MQError",
    "Mechanism",
    "MemoryPipe",
    "Message",
    "MessageTransport",
    "Millis",
    "NonNegative",
    "OptionModel",
    "Pattern",
    "PeerInfo",
    "Pipe",
    "PollerBackend",
    "PollerError",
    "ProtocolError",
    "Publisher",
    "QueuedMessage",
    "Receiver",
    "Registry",
    "RoutingIdTable",
    "Sender",
    "SingleFrameQueue",
    "SocketHandle",
    "StreamTransport",
    "SubscriptionTrie",
    "TimerHandle",
    "TrafficCodec",
    "Transport",
    "UpstreamPipes",
    "ZapReply",
    "ZapRequest",
    "action",
    "as_frames",
    "check_events",
    "get_registry",
    "hookimpl",
    "join_memory_pipes",
    "option",
    "start_connect",
    "z85_decode",
    "z85_encode",
]
