"""The engine's side of ZAP (RFC 27): requests to the handler at inproc://zeromq.zap.01.

libzmq gives each session its own pipe to the handler. Here each I/O thread has one
internal DEALER connected to :data:`~mqsdk._kernel.mechanism.ZAP_ENDPOINT`, used only by that
thread, so nothing blocks: a request is sent without waiting, the DEALER's ``fileno()``
is watched by the reactor, and each reply is routed back by its request id (a counter
per client; handlers echo it, as RFC 27 requires). Whether a handler is bound is read
from the DEALER's pipe: a connect to an unbound inproc name stays pending, and the
mechanism is then told "no handler" (NULL and CURVE accept, PLAIN refuses, as libzmq).

"No handler" admits everyone to NULL and CURVE, so it must mean that nobody installed
one, never that the installed one crashed: an authenticator whose serving thread or task
dies calls :func:`mark_zap_handler_failed` before its socket unbinds, and from then on
every request, including those already sent to it, is refused with status 500 until a
handler binds again (:func:`clear_zap_handler_failure`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from mqsdk._kernel.mechanism import ZAP_ENDPOINT, ZapReply, ZapRequest
from mqsdk.constants import NOBLOCK, POLLIN
from mqsdk.errors import Again, MQError, ProtocolError

if TYPE_CHECKING:
    from mqsdk._kernel.context import Context
    from mqsdk._kernel.reactor import Reactor
    from mqsdk._kernel.socket import Socket

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
            from mqsdk._kernel.socket import Socket

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
        None if no handler is bound, or a refusal if the handler failed. Returns the
        request id to :meth:`cancel` with."""
        failure = zap_handler_failure(self.context)
        if failure is not None:
            log.error(
                "refusing %s client %s: the ZAP handler failed (%s)",
                request.mechanism.decode("ascii", "replace"),
                address.decode("utf-8", "replace"),
                failure,
            )
            callback(_HANDLER_FAILED)
            return None
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

    def _refuse_waiting(self) -> None:
        """Refuse every request sent to a handler that has since failed (I/O thread):
        its reply will never come, and waiting would hold each handshake until
        ``handshake_ivl`` for nothing."""
        waiting, self._waiting = self._waiting, {}
        for callback in waiting.values():
            callback(_HANDLER_FAILED)

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


_FAILURE_KEY = "zap-handler-failed"
_HANDLER_FAILED = ZapReply(b"500", b"ZAP handler failed")


def mark_zap_handler_failed(context: Context, handler: object, reason: str) -> None:
    """Refuse every ZAP request in ``context`` from now on (any thread): ``handler``, the
    bound ZAP handler, has stopped answering without being stopped. Call it *before* its
    socket unbinds, so that no request ever sees "no handler" in between."""
    with context.shared_lock:
        context.shared[_FAILURE_KEY] = (handler, reason)
        clients = [c for c in context.shared.values() if isinstance(c, ZapClient)]
    for client in clients:
        client.reactor.call_soon(client._refuse_waiting)


def clear_zap_handler_failure(context: Context, handler: object | None = None) -> None:
    """Forget a failure marked by ``handler`` (any handler's if None): a new handler is
    bound, or the failed one was deliberately stopped."""
    with context.shared_lock:
        marked = context.shared.get(_FAILURE_KEY)
        if marked is not None and (handler is None or marked[0] is handler):
            del context.shared[_FAILURE_KEY]


def zap_handler_failure(context: Context) -> str | None:
    """Why ZAP requests in ``context`` are being refused, or None if they are not."""
    with context.shared_lock:
        marked = context.shared.get(_FAILURE_KEY)
    return None if marked is None else str(marked[1])


def zap_client(context: Context, reactor: Reactor) -> ZapClient:
    """The ZAP client of ``reactor``'s I/O thread in ``context`` (made on first use)."""
    key = f"zap:{id(reactor)}"
    with context.shared_lock:
        client = context.shared.get(key)
        if client is None:
            client = context.shared[key] = ZapClient(context, reactor)
        assert isinstance(client, ZapClient)
        return client


__all__ = [
    "ZapCallback",
    "ZapClient",
    "clear_zap_handler_failure",
    "mark_zap_handler_failed",
    "zap_client",
    "zap_handler_failure",
]
