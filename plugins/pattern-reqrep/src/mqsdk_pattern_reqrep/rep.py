"""REP: the service side of request-reply (RFC 28 "REQ-REP"; libzmq's rep.cpp)."""

from __future__ import annotations

from typing import ClassVar

from mqsdk.plugin import EFSM, Message, MQError, Pattern, Pipe, SocketHandle
from mqsdk_pattern_reqrep._common import Inbox, Verdict

_GONE = "reqrep.gone"  # pipe.state key: the pipe was detached


class Rep(Pattern):
    """Receives a request, then sends its reply, then the next request, and so on.

    * Requests are fair-queued over the peers. Each must carry an envelope: every
      frame up to and including the first empty frame (the delimiter), followed by at
      least one body frame. ``recv`` hands over only the body and remembers the
      envelope and the pipe; a message without a delimiter is dropped silently.
    * ``send`` puts that envelope back in front of the reply and queues it on the pipe
      the request came from. If that peer is gone, or its queue is at SNDHWM, the reply
      is dropped silently (libzmq's REP replies through a non-mandatory ROUTER), so
      ``send`` never blocks.
    * ``recv`` twice without a reply in between, or ``send`` without a request,
      raises :class:`~mqsdk.MQError` with errno ``EFSM``.
    """

    name: ClassVar[str] = "REP"
    socket_type: ClassVar[int] = 4
    peer_types: ClassVar[frozenset[str]] = frozenset({"REQ", "DEALER"})

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.inbox: Inbox[int] = Inbox()
        self.sending = False  # a request was received; its reply is due
        self.reply_pipe: Pipe | None = None
        self.envelope: Message = []

    def attach(self, pipe: Pipe) -> bool:
        return True

    def detach(self, pipe: Pipe) -> None:
        pipe.state[_GONE] = True
        if pipe is self.reply_pipe:
            self.reply_pipe = None

    def pipe_readable(self, pipe: Pipe) -> None:
        self.inbox.activate(pipe)

    @staticmethod
    def _check(pipe: Pipe, message: Message) -> int | Verdict:
        """The envelope's length (up to and including the delimiter), or DROP."""
        last = len(message) - 1
        for index, frame in enumerate(message):
            if index == last:
                break
            if not frame:
                return index + 1
        return Verdict.DROP

    def recv(self) -> Message | None:
        if self.sending:
            raise MQError(
                "cannot recv: this REP socket must first send the reply to the request it "
                "received (REP strictly alternates recv and send)",
                EFSM,
            )
        found = self.inbox.next(self._check, True)
        if found is None:
            return None
        pipe, message, split = found
        self.envelope = message[:split]
        self.reply_pipe = None if pipe.state.get(_GONE) else pipe
        self.sending = True
        self.last_pipe = pipe
        return message[split:]

    def send(self, message: Message) -> bool:
        if not self.sending:
            raise MQError(
                "cannot send: this REP socket has no request to reply to (REP strictly "
                "alternates recv and send; receive a request first)",
                EFSM,
            )
        pipe = self.reply_pipe
        envelope = self.envelope
        self.sending = False
        self.reply_pipe = None
        self.envelope = []
        if pipe is not None and pipe.writable():
            pipe.write(envelope + message)
        return True

    def can_send(self) -> bool:
        return self.sending

    def can_recv(self) -> bool:
        return not self.sending and self.inbox.next(self._check, False) is not None
