"""``zmq.auth.asyncio``: an authenticator answering in a task of the running loop."""

from __future__ import annotations

from mqsdk.auth.asyncio import AsyncioAuthenticator

__all__ = ["AsyncioAuthenticator"]
