"""One exception hierarchy for everything mqsdk raises.

Every exception is an :class:`MQError`. Where libzmq has an errno for the same
condition, the exception carries it in ``errno`` so code ported from pyzmq that
inspects ``e.errno`` keeps working. Messages say what happened and what to do.
"""

from __future__ import annotations

import errno as _errno
import os

# libzmq defines its own errno values above ZMQ_HAUSNUMERO for conditions POSIX lacks.
ZMQ_HAUSNUMERO = 156384712
EFSM = ZMQ_HAUSNUMERO + 51
"""libzmq's errno for an operation the socket's state forbids now (REQ sending twice)."""
ENOCOMPATPROTO = ZMQ_HAUSNUMERO + 52
"""libzmq's errno for a transport this socket type cannot use (STREAM over ws)."""
ETERM = ZMQ_HAUSNUMERO + 53
EMTHREAD = ZMQ_HAUSNUMERO + 54

# libzmq's texts for its own numbers (zmq_strerror); the rest are the system's.
_LIBZMQ_MESSAGES = {
    EFSM: "Operation cannot be accomplished in current state",
    ENOCOMPATPROTO: "The protocol is not compatible with the socket type",
    ETERM: "Context was terminated",
    EMTHREAD: "No thread available",
}


def strerror(errno: int) -> str:
    """The text libzmq's ``zmq_strerror`` gives for an errno (pyzmq's ``zmq.strerror``)."""
    return _LIBZMQ_MESSAGES.get(errno) or os.strerror(errno)


class ZMQBaseError(Exception):
    """pyzmq's root exception, kept so ``except zmq.ZMQBaseError`` catches mqsdk's errors
    too (every mqsdk error derives from it)."""


class ZMQError(ZMQBaseError):
    """An error with a libzmq errno: pyzmq's ``ZMQError(errno, msg=None)``.

    ``str(ZMQError(zmq.EAGAIN))`` is the errno's text, as in pyzmq. mqsdk's own errors
    (:class:`MQError` and below) are ZMQErrors, so ``except zmq.ZMQError`` catches them.
    """

    errno: int | None = None
    """libzmq's (or the system's) errno for the condition, if it has one."""
    strerror: str
    """The message: what happened and what to do, or the errno's text."""

    def __init__(self, errno: int | None = None, msg: str | None = None) -> None:
        super().__init__(*(() if errno is None else (errno,)), *(() if msg is None else (msg,)))
        self.errno = errno
        if msg is not None:
            self.strerror = msg
        elif errno is not None:
            self.strerror = strerror(errno)
        else:
            # pyzmq reads libzmq's thread-local errno here; mqsdk has none to read.
            self.strerror = "unknown error"

    def __str__(self) -> str:
        return self.strerror

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class MQError(ZMQError):
    """Root of every mqsdk error. ``errno`` matches libzmq's where one exists.

    Constructed mqsdk's way, ``MQError(message, errno)``; a number first is taken the
    way pyzmq code writes it (``Again(zmq.EAGAIN)``, ``ContextTerminated(zmq.ETERM)``).
    Without a message, ``str()`` is the errno's text.
    """

    default_errno: int | None = None
    """The ``errno`` of this class's errors when the raiser gives none (``Again``:
    EAGAIN)."""

    def __init__(self, message: str | int = "", errno: int | None = None) -> None:
        if isinstance(message, int):
            if errno is None:
                errno = message
            message = ""
        # Not ZMQError.__init__: its arguments come the other way round.
        Exception.__init__(self, message)
        number = errno if errno is not None else self.default_errno
        self.errno = number
        """libzmq's errno for the condition (else :attr:`default_errno`)."""
        self.strerror = message or (strerror(number) if number is not None else "")
        """The message, or the errno's text when there is none (what ``str()`` gives)."""


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


class OptionTypeError(MQError, TypeError):
    """A socket option was given a value of the wrong type (a str where bytes are
    expected, bytes for an integer option). Both an MQError with EINVAL, as mqsdk
    reports every refused option value, and a TypeError, as pyzmq raises here."""

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
        """The plugin's name (its entry point), when known."""
        self.distribution = distribution
        """The distribution that installed it (``mqsdk-transport-tcp``), when known."""


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
        """libzmq's ZMQ_PROTOCOL_ERROR_* value (what the monitor reports)."""


# pyzmq's other exception classes, here so mqsdk's code can raise them and code
# ported from pyzmq catches them by pyzmq's names.


class ZMQBindError(ZMQBaseError):
    """``bind_to_random_port`` found no free port in its range after its tries."""


class NotDone(ZMQBaseError):
    """Waiting for a message to be sent (``MessageTracker.wait``) timed out."""


# OSError types strerror as optional; here it is always set (type: ignore[misc]).
class InterruptedSystemCall(ZMQError, InterruptedError):  # type: ignore[misc]
    """A call was interrupted by a signal (EINTR). pyzmq retries these internally; the
    class exists so ``except zmq.InterruptedSystemCall`` still names something."""

    def __init__(self, errno: int | str = _errno.EINTR, msg: str | None = None) -> None:
        ZMQError.__init__(self, _errno.EINTR)


class ZMQVersionError(NotImplementedError):
    """A feature needs a newer libzmq than the one emulated (see ``zmq_version()``)."""

    def __init__(self, min_version: str, msg: str = "Feature") -> None:
        from mqsdk.constants import LIBZMQ_VERSION_INFO

        super().__init__(min_version, msg)
        self.min_version = min_version
        self.msg = msg
        self.version = ".".join(map(str, LIBZMQ_VERSION_INFO))

    def __str__(self) -> str:
        return f"{self.msg} requires libzmq >= {self.min_version}, have {self.version}"

    def __repr__(self) -> str:
        return f"ZMQVersionError({str(self)!r})"


class DraftFDWarning(RuntimeWarning):
    """pyzmq warns with this when ``FD`` is read on a thread-safe (draft) socket."""


__all__ = [
    "EFSM",
    "EMTHREAD",
    "ENOCOMPATPROTO",
    "ETERM",
    "ZMQ_HAUSNUMERO",
    "Again",
    "ConfigError",
    "ContextTerminated",
    "DraftFDWarning",
    "EndpointError",
    "InterruptedSystemCall",
    "MQError",
    "NotDone",
    "OptionTypeError",
    "PluginConflictError",
    "PluginError",
    "PluginInterfaceError",
    "PluginLoadError",
    "PollerError",
    "ProtocolError",
    "UnknownPluginError",
    "UnsupportedTransport",
    "ZMQBaseError",
    "ZMQBindError",
    "ZMQError",
    "ZMQVersionError",
    "strerror",
]
