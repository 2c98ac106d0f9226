"""One exception hierarchy for everything mqsdk raises.

Every exception is an :class:`MQError`. Where libzmq has an errno for the same
condition, the exception carries it in ``errno`` so code ported from pyzmq that
inspects ``e.errno`` keeps working. Messages say what happened and what to do.
"""

from __future__ import annotations

import errno as _errno

# libzmq defines its own errno values above ZMQ_HAUSNUMERO for conditions POSIX lacks.
ZMQ_HAUSNUMERO = 156384712
EFSM = ZMQ_HAUSNUMERO + 51
ENOCOMPATPROTO = ZMQ_HAUSNUMERO + 52
ETERM = ZMQ_HAUSNUMERO + 53
EMTHREAD = ZMQ_HAUSNUMERO + 54


class MQError(Exception):
    """Root of every mqsdk error. ``errno`` matches libzmq's where one exists."""

    default_errno: int | None = None

    def __init__(self, message: str = "", errno: int | None = None) -> None:
        super().__init__(message)
        self.errno: int | None = errno if errno is not None else self.default_errno

    @property
    def strerror(self) -> str:
        return str(self)


class Again(MQError):
    """The operation would block (NOBLOCK was given) or its timeout expired."""

    default_errno = _errno.EAGAIN


class ContextTerminated(MQError):
    """The context was terminated; the socket can only be closed now."""

    default_errno = ETERM


class ConfigError(MQError, ValueError):
    """A configuration value is invalid: the message names the setting, the value,
    where it came from (code, environment or file) and what is allowed."""

    default_errno = _errno.EINVAL


class PluginError(MQError):
    """A plugin could not be used. The message names the plugin and its distribution."""

    default_errno = _errno.EINVAL

    def __init__(
        self,
        message: str,
        *,
        plugin: str | None = None,
        distribution: str | None = None,
        errno: int | None = None,
    ) -> None:
        super().__init__(message, errno)
        self.plugin = plugin
        self.distribution = distribution


class PluginLoadError(PluginError):
    """Importing a plugin (or calling its registration hooks) raised."""


class PluginConflictError(PluginError):
    """Two plugins claim the same name (scheme, socket type, poller or mechanism)."""


class PluginInterfaceError(PluginError):
    """A plugin registered something that does not implement its interface."""


class UnknownPluginError(PluginError):
    """Configuration names a plugin that is not installed."""


class UnsupportedTransport(PluginError):
    """No usable transport for an endpoint's scheme, or it cannot run on this host."""

    default_errno = _errno.EPROTONOSUPPORT


class PollerError(MQError):
    """Misuse of a poller backend (an fd registered twice, modified while unknown...)."""

    default_errno = _errno.EINVAL


class EndpointError(MQError, ValueError):
    """An endpoint string is malformed or cannot be used for this operation."""

    default_errno = _errno.EINVAL


class ProtocolError(MQError):
    """A peer broke the wire protocol. ``code`` is libzmq's ZMQ_PROTOCOL_ERROR_* value."""

    default_errno = _errno.EPROTO

    def __init__(self, message: str, code: int = 0x10000000) -> None:
        super().__init__(message)
        self.code = code


__all__ = [
    "EFSM",
    "EMTHREAD",
    "ENOCOMPATPROTO",
    "ETERM",
    "ZMQ_HAUSNUMERO",
    "Again",
    "ConfigError",
    "ContextTerminated",
    "EndpointError",
    "MQError",
    "PluginConflictError",
    "PluginError",
    "PluginInterfaceError",
    "PluginLoadError",
    "PollerError",
    "ProtocolError",
    "UnknownPluginError",
    "UnsupportedTransport",
]
