"""Every hook mqsdk calls, in one place.

A plugin is a module (or any object) whose functions are marked with
``@mqsdk.hookimpl`` and named like the specs below. It reaches mqsdk through an entry
point in the group ``mqsdk.plugins``:

    # pyproject.toml of your distribution
    [project.entry-points."mqsdk.plugins"]
    myname = "my_package.plugin"      # a module that defines hook implementations

The entry point's name is the plugin's name: it is what users write in
``MQSDK_DISABLE_PLUGINS``, ``MQSDK_PLUGINS`` and the ``disable_plugins`` / ``plugins``
settings.

Two families of hooks:

* **Registration hooks** return the classes the plugin provides. mqsdk calls each of them
  once per registry (normally once per process), validates what comes back, and from then
  on resolves a scheme, socket type, poller or mechanism name to a class through a plain
  dict. They are never called per message.
* **Lifecycle hooks** tell observers (monitoring, metrics, logging plugins) what happened
  to contexts, sockets and connections. They are called from the thread where the event
  happened (often the context's I/O thread), after the fact, off the per-message path.
  They must return quickly and must not block; an exception raised by one is logged and
  swallowed, it never breaks the socket. Their return value is ignored.

Implementations may accept any subset of a hook's parameters, by name (pluggy's rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from mqsdk._kernel.mechanism import Mechanism
    from mqsdk._kernel.pattern import Pattern
    from mqsdk._kernel.poller import PollerBackend
    from mqsdk._kernel.transport import Transport
    from mqsdk.config import Config

PROJECT = "mqsdk"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's function as the implementation of the hook it is named after
(``@mqsdk.hookimpl``, also ``mqsdk.plugin.hookimpl``). Pluggy's options apply:
``@hookimpl(tryfirst=True)`` runs it before the others, as for a
:func:`mqsdk_choose_poller` that must decide first."""


# --------------------------------------------------------------------------------------
# Registration hooks
# --------------------------------------------------------------------------------------


@hookspec
def mqsdk_pollers() -> Sequence[type[PollerBackend]]:
    """Return the poller backends this plugin provides.

    Each item is a concrete subclass of :class:`mqsdk._kernel.poller.PollerBackend` that sets
    ``name`` (a lowercase identifier such as ``"epoll"``, unique across all plugins) and
    ``priority`` (higher wins when the configuration says ``poller = "auto"``), and
    implements ``register``, ``modify``, ``unregister``, ``poll`` and ``close`` as the
    module docstring of :mod:`mqsdk._kernel.poller` specifies. Its ``available()`` classmethod
    says whether the OS API exists here (kqueue on Linux says no, with the reason).

    The class is instantiated with no arguments, once per reactor thread, and used only
    from that thread.

    :returns: a list of classes; an empty list if the plugin provides none.
    """
    raise NotImplementedError


@hookspec
def mqsdk_transports() -> Sequence[type[Transport]]:
    """Return the transports this plugin provides, one class per URL scheme.

    Each item is a concrete subclass of one of the two transport kinds, whose ``name``
    is the endpoint scheme, lowercase, e.g. ``"tcp"`` for ``tcp://host:port``:

    * :class:`mqsdk._kernel.transport.StreamTransport`: a byte stream the kernel runs
      ZMTP over (tcp, ipc, tipc, vmci, ws; tls and chaos in ``contrib/``);
    * :class:`mqsdk._kernel.transport.MessageTransport`: whole messages the transport
      moves itself, attaching its own pipes to the socket (inproc, udp, pgm/epgm).

    The registry refuses any other class, and a scheme claimed by two plugins.
    ``available()`` says whether the OS supports it here; binding or connecting an
    unavailable transport raises :class:`mqsdk.errors.UnsupportedTransport` carrying
    that reason. :attr:`~mqsdk._kernel.transport.Transport.loopback_endpoint` tells
    ``mqsdk demo`` and self-tests where it can bind on this one host.

    :returns: a list of classes; an empty list if the plugin provides none.
    """
    raise NotImplementedError


@hookspec
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    """Return the socket types (messaging patterns) this plugin provides.

    Each item is a concrete subclass of :class:`mqsdk._kernel.pattern.Pattern` that sets
    ``name`` (the ZMTP Socket-Type, uppercase, e.g. ``"PUSH"``), ``socket_type`` (libzmq's
    number, e.g. 8) and ``peer_types`` (the Socket-Type names it may talk to, as data:
    ``frozenset({"PULL"})``). Name and number must each be unique across all plugins.

    :returns: a list of classes; an empty list if the plugin provides none.
    """
    raise NotImplementedError


@hookspec
def mqsdk_mechanisms() -> Sequence[type[Mechanism]]:
    """Return the ZMTP security mechanisms this plugin provides.

    Each item is a concrete subclass of :class:`mqsdk._kernel.mechanism.Mechanism` whose ``name``
    is the mechanism as written in the ZMTP greeting (``"PLAIN"``, ``"CURVE"``; at most 20
    ASCII characters), unique across all plugins. ``NULL`` is built into the kernel and
    cannot be replaced or disabled.

    :returns: a list of classes; an empty list if the plugin provides none.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def mqsdk_choose_poller(
    candidates: Sequence[type[PollerBackend]],
) -> type[PollerBackend] | None:
    """Pick the poller backend when the configuration says ``poller = "auto"``.

    Called once per context, with every *available* and enabled backend, highest
    ``priority`` first. The first implementation that returns a class wins; return
    ``None`` to leave the choice to others. The kernel's own implementation runs last
    and returns ``candidates[0]``.

    :param candidates: available backends, best first (never empty).
    :returns: one of ``candidates``, or ``None``.
    """
    raise NotImplementedError


# --------------------------------------------------------------------------------------
# Lifecycle hooks (observers; called off the per-message path)
# --------------------------------------------------------------------------------------


@hookspec
def mqsdk_context_created(context: Any, config: Config) -> None:
    """A :class:`mqsdk.Context` was created with this (validated) configuration.

    Called in the thread that created the context, before any socket exists.

    :param context: the new context.
    :param config: its effective configuration (code > environment > file > defaults).
    """


@hookspec
def mqsdk_context_terminated(context: Any) -> None:
    """A context finished terminating: its I/O threads have stopped.

    Called in the thread that called ``term()`` or ``destroy()``.

    :param context: the context, now unusable.
    """


@hookspec
def mqsdk_socket_created(socket: Any) -> None:
    """A socket was created by ``Context.socket()``, in the creating thread.

    :param socket: the new :class:`mqsdk.Socket`; ``socket.type`` is its type number.
    """


@hookspec
def mqsdk_socket_closed(socket: Any) -> None:
    """A socket was closed (after its linger, if any, was decided).

    :param socket: the socket, now closed.
    """


@hookspec
def mqsdk_peer_connected(socket: Any, endpoint: str, peer: Any) -> None:
    """A connection to a peer completed its handshake and carries messages now.

    :param socket: the local socket.
    :param endpoint: the endpoint the connection belongs to, as the user wrote it for
        ``connect`` or as ``last_endpoint`` reports it for ``bind``.
    :param peer: a read-only description of the peer: at least ``address`` (str),
        ``socket_type`` (str) and ``routing_id`` (bytes).
    """


@hookspec
def mqsdk_peer_disconnected(socket: Any, endpoint: str, peer: Any, reason: str) -> None:
    """A connection that had completed its handshake ended.

    :param socket: the local socket.
    :param endpoint: as for :func:`mqsdk_peer_connected`.
    :param peer: as for :func:`mqsdk_peer_connected`.
    :param reason: why, for people: ``"closed by peer"``, ``"heartbeat timeout"``,
        ``"protocol error: ..."``, ``"closed locally"``...
    """


@hookspec
def mqsdk_handshake_failed(socket: Any, endpoint: str, error: Exception) -> None:
    """A connection was dropped before or during its handshake.

    :param socket: the local socket.
    :param endpoint: as for :func:`mqsdk_peer_connected`.
    :param error: usually a :class:`mqsdk.errors.ProtocolError` whose ``code`` is
        libzmq's ZMQ_PROTOCOL_ERROR_* value (mechanism mismatch, malformed command...),
        a :class:`mqsdk._kernel.mechanism.AuthenticationFailed` whose ``status`` is the ZAP
        handler's refusal (300, 400, 500), or an OSError for a connection that broke
        mid-handshake.
    """


@hookspec
def mqsdk_socket_event(socket: Any, event: Any) -> None:
    """Any lifecycle event of any socket, as libzmq's monitor reports them.

    Called for every event that ``sock.get_monitor_socket()`` would deliver: connected,
    connect_delayed, connect_retried, listening, bind_failed, accepted, accept_failed,
    closed, close_failed, disconnected, handshake_succeeded, handshake_failed_no_detail,
    handshake_failed_protocol and handshake_failed_auth. Usually called in the I/O thread.

    :param socket: the socket concerned.
    :param event: a :class:`mqsdk.monitor.MonitorEvent` (``event``, ``value``, ``endpoint``).
    """


@hookspec
def mqsdk_messages_dropped(socket: Any, reason: str, count: int) -> None:
    """Messages were discarded where the pattern allows it, as libzmq does silently.

    The drops are counted where they happen (one integer in ``socket.stats`` per
    message dropped) and reported here in batches, never once per message: the I/O
    thread reports what accumulated since the previous report about once a second
    (:data:`mqsdk._kernel.drops.REPORT_INTERVAL`) for sockets created while an implementation
    of this hook was registered, and every socket reports what is left when it closes,
    after its linger and before :func:`mqsdk_socket_closed`. A socket that dropped
    nothing never calls it. Called in the I/O thread, or in the thread closing the socket.

    Reasons, and the ``socket.stats`` counters they sum:

    * ``"hwm"``: a PUB, XPUB or RADIO skipped a peer at its SNDHWM (``dropped_hwm``;
      with udp, also datagrams the OS send buffer refused and, on a DISH, datagrams
      that arrived while RCVHWM messages were waiting); a ROUTER, without
      ``router_mandatory``, dropped a message for a peer at its SNDHWM (``hwm_dropped``).
    * ``"unroutable"``: a ROUTER, without ``router_mandatory``, got a message for a
      routing id that no connected peer has (``unroutable``).
    * ``"malformed"``: a udp DISH received a datagram that is not a valid message
      (``dropped_malformed``).

    Not reported: messages still queued on a connection when the linger ends or the
    connection is lost, as in libzmq.

    :param socket: the socket that dropped them.
    :param reason: ``"hwm"``, ``"unroutable"`` or ``"malformed"``.
    :param count: how many messages, for this reason, since the previous report for it
        (always > 0).
    """
