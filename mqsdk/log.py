"""Publish log records on a PUB socket (pyzmq's ``zmq.log.handlers``).

Each record goes out as two frames, ``[topic, text]``. The topic is
``root_topic.LEVEL`` (just ``LEVEL`` without a root topic), followed by ``.subtopic``
when the message starts with ``"subtopic::"``; subscribers filter on it::

    handler = PUBHandler("tcp://127.0.0.1:5555")
    handler.root_topic = "myapp"
    logging.getLogger().addHandler(handler)
    logging.warning("db::connection lost")   # topic b"myapp.WARNING.db"
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from mqsdk._kernel.context import Context
from mqsdk._kernel.socket import Socket
from mqsdk.constants import SocketType

__all__ = ["TOPIC_DELIM", "PUBHandler", "TopicLogger"]

TOPIC_DELIM = "::"
"""Separates a subtopic from the message text: ``log.info("disk::almost full")``."""

_WHERE = "%(levelname)s %(filename)s:%(lineno)d - %(message)s"


class PUBHandler(logging.Handler):
    """A :class:`logging.Handler` that publishes records on a PUB socket.

    ``interface_or_socket`` is either a PUB socket (used as it is) or an address the
    handler binds a new PUB socket to, made from ``context`` (a new Context if None).
    """

    def __init__(
        self,
        interface_or_socket: str | Socket,
        context: Context | None = None,
        root_topic: str = "",
    ) -> None:
        super().__init__()
        self.root_topic = root_topic
        # Per level, as pyzmq's: INFO is the bare message; the others say where it
        # was logged, and ERROR the exception too.
        self.formatters: dict[int, logging.Formatter | None] = {
            logging.DEBUG: logging.Formatter(_WHERE + "\n"),
            logging.INFO: logging.Formatter("%(message)s\n"),
            logging.WARNING: logging.Formatter(_WHERE + "\n"),
            logging.ERROR: logging.Formatter(_WHERE + " - %(exc_info)s\n"),
            logging.CRITICAL: logging.Formatter(_WHERE + "\n"),
        }
        # What the handler makes itself is its to release in close(); a socket or
        # context it is given stays the caller's.
        self._owns_socket = self._owns_context = False
        if isinstance(interface_or_socket, Socket):
            self.socket = interface_or_socket
            self.ctx: Context = interface_or_socket.context
            return
        self._owns_socket, self._owns_context = True, context is None
        self.ctx = Context() if context is None else context
        self.socket = self.ctx.socket(SocketType.PUB)
        try:
            self.socket.bind(interface_or_socket)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._owns_socket:
            self.socket.close()
        if self._owns_context:
            self.ctx.term()

    def close(self) -> None:
        """Close the socket and terminate the context if the handler made them (with the
        socket's linger: set ``handler.socket.linger`` to bound how long unsent records
        may hold this up)."""
        try:
            self._release()
        finally:
            super().close()

    @property
    def root_topic(self) -> str:
        """The first part of every topic ('' for none); bytes are taken as UTF-8."""
        return self._root_topic

    @root_topic.setter
    def root_topic(self, value: str | bytes) -> None:
        self.setRootTopic(value)

    def setRootTopic(self, root_topic: str | bytes) -> None:
        """Set :attr:`root_topic`."""
        self._root_topic = root_topic.decode() if isinstance(root_topic, bytes) else root_topic

    def setFormatter(self, fmt: logging.Formatter | None, level: int = logging.NOTSET) -> None:
        """Use ``fmt`` for records of ``level``, or for every level if NOTSET."""
        levels = list(self.formatters) if level == logging.NOTSET else [level]
        self.formatters.update(dict.fromkeys(levels, fmt))

    def format(self, record: logging.LogRecord) -> str:
        formatter = self.formatters.get(record.levelno)
        return (formatter or logging.Formatter()).format(record)

    def emit(self, record: logging.LogRecord) -> None:
        subtopic, delimiter, text = str(record.msg).partition(TOPIC_DELIM)
        if delimiter:
            record = copy.copy(record)  # the record is shared with the other handlers
            record.msg = text
        else:
            subtopic = ""
        try:
            body = self.format(record).encode()
        except Exception:
            self.handleError(record)
            return
        parts = [part for part in (self.root_topic, record.levelname, subtopic) if part]
        try:
            self.socket.send_multipart([".".join(parts).encode("utf8", "replace"), body])
        except Exception:
            # As every stdlib handler: a handler that cannot publish (its socket closed,
            # its context terminated) reports it through logging, never into the code
            # that logged.
            self.handleError(record)


class TopicLogger(logging.Logger):
    """A Logger whose ``log(level, topic, msg, ...)`` takes a subtopic before the
    message (sent as ``"topic::msg"``, which :class:`PUBHandler` splits again)."""

    def log(  # type: ignore[override]
        self, level: int, topic: str, msg: str, *args: Any, **kwargs: Any
    ) -> None:
        super().log(level, f"{topic}{TOPIC_DELIM}{msg}", *args, **kwargs)
