"""The engine's side of ZAP (RFC 27): requests to the handler at inproc://zeromq.zap.01.

libzmq gives each session its own pipe to the handler. Here each I/O thread has one
internal DEALER connected to :data:`~mqsdk.mechanism.ZAP_ENDPOINT`, used only by that
thread, so nothing blocks: a request is sent without waiting, the DEALER's ``fileno()``
is watched by the reactor, and each reply is routed back by its request id (a counter
per client; handlers echo it, as RFC 27 requires). Whether a handler is bound is read
from the DEALER's pipe: a connect to an unbound inproc name stays pending, and the
mechanism is then told "no handler" (NULL and CURVE accept, PLAIN refuses, as libzmq).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from mqsdk.constants import NOBLOCK, POLLIN
from mqsdk.errors import Again, MQError, ProtocolError
from mqsdk.mechanism import ZAP_ENDPOINT, ZapReply, ZapRequest

if TYPE_CHECKING:
    from mqsdk.context import Context
    from mqsdk.reactor import Reactor
    from mqsdk.socket import Socket

log = logging.getLogger(__name__)

ZapCallback = Callable[[ZapReply | ProtocolError | None], None]
"""Called in the I/O thread with the parsed reply, the reply's protocol error, or None
when no ZAP handler is bound."""


class ZapClient:
    """One I/O thread's ZAP requester. Use :func:`zap_client` to get it."""

    def __init__(self, context: Context, reactor: Reactor) -> None:
        self.context = context
        self.reactor = reactor
        self._ids = itertools.count(1)
        self._waiting: dict[bytes, ZapCallback] = {}
        self._dealer: Socket | None = None

    def _connected_dealer(self) -> Socket | None:
        """The DEALER, (re)connected; None when no handler is bound right now."""
        dealer = self._dealer
        if dealer is None or dealer.closed:
            from mqsdk.socket import Socket

            dealer = Socket(self.context, self.context.registry.pattern("DEALER").socket_type)
            dealer.set("linger", 0)
            dealer.set("sndhwm", 0)  # libzmq's ZAP pipe has no HWM
            dealer.set("rcvhwm", 0)
            dealer.connect(ZAP_ENDPOINT)
            self._dealer = dealer
            self.reactor.add_reader(dealer.fileno(), self._on_readable)
        if not any(pipe.connected for pipe in dealer._pipes):
            # A handler that went away leaves our connect detached: connect again, which
            # attaches at once if a new handler is bound, else stays pending.
            with contextlib.suppress(MQError):
                dealer.disconnect(ZAP_ENDPOINT)
            dealer.connect(ZAP_ENDPOINT)
            if not any(pipe.connected for pipe in dealer._pipes):
                return None
        return dealer

    def request(
        self,
        request: ZapRequest,
        *,
        domain: bytes,
        address: bytes,
        identity: bytes,
        callback: ZapCallback,
    ) -> bytes | None:
        """Send a request (I/O thread); ``callback`` gets the answer later, or now with
        None if no handler is bound. Returns the request id to :meth:`cancel` with."""
        try:
            dealer = self._connected_dealer()
        except MQError as exc:
            log.warning("cannot reach the ZAP handler: %s", exc)
            dealer = None
        if dealer is None:
            callback(None)
            return None
        request_id = str(next(self._ids)).encode()
        self._waiting[request_id] = callback
        frames = request.frames(
            domain=domain, address=address, identity=identity, request_id=request_id
        )
        try:
            dealer.send_multipart(frames, NOBLOCK)
        except MQError as exc:
            del self._waiting[request_id]
            log.warning("cannot send to the ZAP handler: %s", exc)
            callback(None)
            return None
        return request_id

    def cancel(self, request_id: bytes | None) -> None:
        """Forget a request whose connection ended (its reply, if any, is dropped)."""
        if request_id is not None:
            self._waiting.pop(request_id, None)

    def _on_readable(self) -> None:
        dealer = self._dealer
        if dealer is None or dealer.closed:
            return
        # poll_events() also drains the readiness fd once nothing is left (it is
        # level-triggered and state changes signal it too): without it this would spin.
        while dealer.poll_events() & POLLIN:
            try:
                frames = dealer.recv_multipart(NOBLOCK)
            except (Again, MQError):
                return
            request_id = frames[2] if len(frames) > 2 else b""
            callback = self._waiting.pop(request_id, None)
            if callback is None:
                log.warning("dropping a ZAP reply with unknown request id %r", request_id)
                continue
            answer: ZapReply | ProtocolError
            try:
                answer = ZapReply.parse(frames, request_id)
            except ProtocolError as exc:
                answer = exc
            callback(answer)


def zap_client(context: Context, reactor: Reactor) -> ZapClient:
    """The ZAP client of ``reactor``'s I/O thread in ``context`` (made on first use)."""
    key = f"zap:{id(reactor)}"
    with context.shared_lock:
        client = context.shared.get(key)
        if client is None:
            client = context.shared[key] = ZapClient(context, reactor)
        assert isinstance(client, ZapClient)
        return client


__all__ = ["ZapCallback", "ZapClient", "zap_client"]
