"""The transport kit (mqsdk.testing) run against chaos+ipc:// with delayed writes and
partial I/O on both sides: every message must still arrive intact and in order, and
reconnection, monitor events and the high-water mark behave as over ipc itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mqsdk.testing.helpers import short_tmpdir
from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest

SERVER = "partial=1&delay_ms=1&seed=3"
CLIENT = "partial=1&delay_ms=1&seed=4"


@pytest.fixture(scope="module")
def mqsdk_transport() -> Iterator[TransportUnderTest]:
    with short_tmpdir("chaos") as directory:
        paths = iter(range(1_000_000))
        yield TransportUnderTest(
            "chaos+ipc",
            bind_endpoint=lambda: f"chaos+ipc://{directory}/s{next(paths)}?{SERVER}",
            connect_endpoint=lambda endpoint: f"{endpoint}?{CLIENT}",
            rebind_endpoint=lambda endpoint: f"{endpoint}?{SERVER}",
            # As ipc: a second bind replaces the socket file; paths are named, not chosen.
            capabilities=(DEFAULT_CAPABILITIES | {"stream"}) - {"exclusive_bind", "ephemeral_port"},
            bad_endpoints=[(f"chaos+ipc://{directory}/x?stall_ms=-1", True)],
        )


class TestChaosIpcConformance(TransportConformance):
    pass
