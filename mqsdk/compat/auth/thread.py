"""``zmq.auth.thread``: an authenticator answering in a thread of its own."""

from __future__ import annotations

from mqsdk.auth import ThreadAuthenticator

__all__ = ["ThreadAuthenticator"]
