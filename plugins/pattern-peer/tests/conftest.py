"""Fixtures of the PEER and CHANNEL tests: mqsdk.testing.fixtures' context and sockets made with
linger 0 and bounded send and receive timeouts."""

from mqsdk.testing.fixtures import ctx, endpoint, lib_ctx, make

__all__ = ["ctx", "endpoint", "lib_ctx", "make"]
