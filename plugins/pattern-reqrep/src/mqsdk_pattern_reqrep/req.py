"""REQ: the client side of request-reply (RFC 28 "REQ-REP"; libzmq's req.cpp)."""

from __future__ import annotations

import random
import sys
from typing import ClassVar

from mqsdk.plugin import EFSM, LoadBalancer, Message, MQError, Pattern, Pipe, SocketHandle
from mqsdk_pattern_reqrep._common import PROBE, Inbox, Verdict
from mqsdk_pattern_reqrep.options import ReqOptions


class Req(Pattern):
    """Sends a request, then receives its reply, then the next request, and so on.

    * Each request goes round-robin to the next peer with room (blocking, or
      :class:`~mqsdk.Again`, when none has: no peer yet, or all at SNDHWM). It is
      prefixed with an empty delimiter frame, and with ``req_correlate`` by a 4-byte
      request id (host byte order, random start, +1 per request) before it.
    * The reply is taken only from the peer the request went to; whatever the other
      peers send is dropped. A reply that does not start with the delimiter (and, with
      ``req_correlate``, with the current request id) is dropped silently, as libzmq
      does. Messages already queued when a new request is sent are discarded. If the
      peer the request went to is gone (its pipe detached), a well-formed reply from
      any peer is accepted, as in libzmq.
    * ``send`` twice without a reply in between, or ``recv`` without a request, raises
      :class:`~mqsdk.MQError` with errno ``EFSM``; ``req_relaxed = 1`` allows a new
      request at any time, abandoning the previous one.

    **A peer that dies mid-request.** The reply will never come and, like libzmq's,
    this REQ does not resend. So that the socket is not stuck forever: set ``rcvtimeo``
    (``recv`` then raises :class:`~mqsdk.Again` after that many ms) and ``req_relaxed``
    (the next ``send`` is then allowed and goes to the next peer, or to the same
    endpoint once it reconnects). Add ``req_correlate`` so that a late reply to the
    abandoned request cannot be taken for the reply to the new one.
    """

    name: ClassVar[str] = "REQ"
    socket_type: ClassVar[int] = 3
    peer_types: ClassVar[frozenset[str]] = frozenset({"REP", "ROUTER"})
    sends_identity: ClassVar[bool] = True
    option_model = ReqOptions

    def __init__(self, socket: SocketHandle) -> None:
        super().__init__(socket)
        self.options: ReqOptions = socket.component_options(ReqOptions)
        self.lb = LoadBalancer()
        self.inbox: Inbox[Message] = Inbox()
        self.receiving = False  # a request went out; its reply is due
        self.reply_pipe: Pipe | None = None  # where it went (None once that pipe is gone)
        self.request_id = random.getrandbits(32)

    # -- pipes ------------------------------------------------------------------------

    def attach(self, pipe: Pipe) -> bool:
        self.lb.attach(pipe)
        return True

    def detach(self, pipe: Pipe) -> None:
        self.lb.detach(pipe)
        if pipe is self.reply_pipe:
            self.reply_pipe = None

    def pipe_readable(self, pipe: Pipe) -> None:
        self.inbox.activate(pipe)

    def greet(self, pipe: Pipe, zmtp_minor: int) -> list[bytes]:
        return [PROBE] if self.options.probe_router else []

    # -- sending and receiving ------------------------------------------------------------

    def send(self, message: Message) -> bool:
        if self.receiving and not self.options.req_relaxed:
            raise MQError(
                "cannot send: this REQ socket is waiting for the reply to its previous "
                "request (REQ strictly alternates send and recv; receive the reply first, "
                "or set req_relaxed = 1 to allow a new request)",
                EFSM,
            )
        if not self.lb.can_send():
            return False
        # Replies still queued belong to earlier requests: drop them before this one goes.
        self.inbox.discard_all()
        if self.options.req_correlate:
            request_id = (self.request_id + 1) & 0xFFFFFFFF
            frames = [request_id.to_bytes(4, sys.byteorder), b"", *message]
        else:
            request_id = self.request_id
            frames = [b"", *message]
        pipe = self.lb.send(frames)
        if pipe is None:  # pragma: no cover - can_send said a pipe has room
            return False
        self.request_id = request_id
        self.receiving = True
        self.reply_pipe = pipe
        return True

    def _check(self, pipe: Pipe, message: Message) -> Message | Verdict:
        reply_pipe = self.reply_pipe
        if reply_pipe is not None and pipe is not reply_pipe:
            return Verdict.DROP
        if self.options.req_correlate:
            if (
                len(message) < 3
                or message[1] != b""
                or message[0] != self.request_id.to_bytes(4, sys.byteorder)
            ):
                return Verdict.DROP
            return message[2:]
        if len(message) < 2 or message[0] != b"":
            return Verdict.DROP
        return message[1:]

    def recv(self) -> Message | None:
        if not self.receiving:
            raise MQError(
                "cannot recv: this REQ socket has no request awaiting a reply (REQ strictly "
                "alternates send and recv; send a request first)",
                EFSM,
            )
        found = self.inbox.next(self._check, True)
        if found is None:
            return None
        pipe, _, body = found
        self.receiving = False
        self.reply_pipe = None
        self.last_pipe = pipe
        return body

    def can_send(self) -> bool:
        if self.receiving and not self.options.req_relaxed:
            return False
        return self.lb.can_send()

    def can_recv(self) -> bool:
        return self.receiving and self.inbox.next(self._check, False) is not None
