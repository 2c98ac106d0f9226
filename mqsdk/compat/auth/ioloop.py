"""``zmq.auth.ioloop``: pyzmq's deprecated tornado authenticator, which is the asyncio
one (tornado runs on asyncio). Importing it warns, as pyzmq's does."""

from __future__ import annotations

import warnings
from typing import Any

from mqsdk.auth.asyncio import AsyncioAuthenticator

warnings.warn(
    "zmq.auth.ioloop.IOLoopAuthenticator is deprecated: use zmq.auth.asyncio.AsyncioAuthenticator",
    DeprecationWarning,
    stacklevel=2,
)


class IOLoopAuthenticator(AsyncioAuthenticator):
    """:class:`~mqsdk.auth.asyncio.AsyncioAuthenticator` under pyzmq's old name."""

    def __init__(
        self, context: Any = None, encoding: str = "utf-8", log: Any = None, io_loop: Any = None
    ) -> None:
        if io_loop is not None:
            warnings.warn(
                f"{type(self).__name__}(io_loop) is ignored: start() uses the running loop",
                DeprecationWarning,
                stacklevel=2,
            )
        super().__init__(context, encoding=encoding, log=log)


__all__ = ["IOLoopAuthenticator"]
