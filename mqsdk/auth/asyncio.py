"""An authenticator that answers ZAP requests in a task of the running asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

from mqsdk._kernel.mechanism import ZAP_ENDPOINT
from mqsdk._kernel.zap import clear_zap_handler_failure, mark_zap_handler_failed
from mqsdk.auth import Authenticator, _CurveQuestion


class AsyncioAuthenticator(Authenticator):
    """``start()`` from a coroutine (it needs the running loop); ``stop()`` when done.

    A credentials callback may be an ``async def``: its result is awaited. Requests are
    answered one at a time, so a slow callback delays the handshakes queued behind it.
    """

    awaits_callbacks: ClassVar[bool] = True
    """An ``async def`` credentials callback is awaited (in the running loop)."""

    def __init__(
        self, context: Any = None, loop: Any = None, encoding: str = "utf-8", log: Any = None
    ) -> None:
        """``loop`` is pyzmq's deprecated argument, ignored as there: the authenticator
        runs in the loop running when :meth:`start` is called."""
        super().__init__(context, encoding, log)
        if loop is not None:
            warnings.warn(
                f"{type(self).__name__}(loop) is ignored: start() uses the running loop",
                DeprecationWarning,
                stacklevel=2,
            )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Bind the ZAP socket and serve requests in a task of the running loop (call it
        from a coroutine); RuntimeError without a running loop."""
        import mqsdk
        import mqsdk.asyncio

        self._check_providers()
        # Before binding: without a loop, nothing must stay bound to the ZAP endpoint.
        loop = asyncio.get_running_loop()
        zap = mqsdk.asyncio.Socket(self.context, mqsdk.REP)
        zap.set("linger", 0)
        zap.bind(ZAP_ENDPOINT)
        # Bound: engines reach us from now on, so a predecessor's failure no longer applies.
        clear_zap_handler_failure(self.context)
        self.zap_socket = zap
        self._task = loop.create_task(self._serve(zap))

    async def handle_zap_message_async(self, msg: Sequence[bytes]) -> list[bytes]:
        """The reply to one ZAP request, awaiting the credentials callback if it returns
        an awaitable (as pyzmq does)."""
        step = self._examine(msg)
        if not isinstance(step, _CurveQuestion):
            return step
        verdict = step.ask()
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return self._curve_verdict(step, bool(verdict))

    async def _serve(self, zap: Any) -> None:
        try:
            while True:
                request = await zap.recv_multipart()
                try:
                    reply = await self.handle_zap_message_async(request)
                except Exception:
                    reply = self._refuse_after_error(request)
                await zap.send_multipart(reply)
        except BaseException as exc:
            # stop() forgets the socket before cancelling us; anything else ending this
            # task (an error, the loop cancelling its tasks at exit) leaves the endpoint
            # without an answer: fail closed before it unbinds.
            if self.zap_socket is zap and not self.context.closed:
                self.log.error(
                    "the ZAP handler task ended without stop(): refusing every client of "
                    "this context until an authenticator is started again",
                    exc_info=exc if isinstance(exc, Exception) else None,
                )
                mark_zap_handler_failed(self.context, self, f"{type(exc).__name__}: {exc}")
                with contextlib.suppress(Exception):
                    zap.close(linger=0)
                self.zap_socket = None
            if not isinstance(exc, Exception):  # cancellation, the coroutine closed, Ctrl-C
                raise
            # Logged above; re-raising would only add "exception never retrieved".

    def stop(self) -> None:
        """Cancel the task and close the ZAP socket."""
        zap, self.zap_socket = self.zap_socket, None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if zap is not None:
            with contextlib.suppress(Exception):
                zap.close(linger=0)
        # Stopped on purpose: no handler now means what it means in libzmq.
        clear_zap_handler_failure(self.context, self)


__all__ = ["AsyncioAuthenticator"]
