"""An authenticator that answers ZAP requests in a task of the running asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from mqsdk.auth import Authenticator
from mqsdk.mechanism import ZAP_ENDPOINT


class AsyncioAuthenticator(Authenticator):
    """``start()`` from a coroutine (it needs the running loop); ``stop()`` when done."""

    def __init__(self, context: Any = None, encoding: str = "utf-8", log: Any = None) -> None:
        super().__init__(context, encoding, log)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        import mqsdk
        import mqsdk.asyncio

        zap = mqsdk.asyncio.Socket(self.context, mqsdk.REP)
        zap.set("linger", 0)
        zap.bind(ZAP_ENDPOINT)
        self.zap_socket = zap
        self._task = asyncio.get_running_loop().create_task(self._serve(zap))

    async def _serve(self, zap: Any) -> None:
        while True:
            request = await zap.recv_multipart()
            await zap.send_multipart(self.handle_zap_message(request))

    def stop(self) -> None:
        """Cancel the task and close the ZAP socket."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.zap_socket is not None:
            with contextlib.suppress(Exception):
                self.zap_socket.close(linger=0)
            self.zap_socket = None


__all__ = ["AsyncioAuthenticator"]
