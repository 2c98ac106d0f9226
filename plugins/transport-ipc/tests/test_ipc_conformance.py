"""The transport conformance kit (mqsdk.testing) run against ipc."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mqsdk.testing.helpers import ipc_endpoints, short_tmpdir
from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest


@pytest.fixture(scope="session")
def mqsdk_transport() -> Iterator[TransportUnderTest]:
    with short_tmpdir() as directory:
        yield TransportUnderTest(
            "ipc",
            bind_endpoint=ipc_endpoints(directory),
            # Like libzmq, a second bind replaces the socket file. ipc://* (a fresh
            # temporary path) is tested in test_ipc.py: the kit rebinds bound endpoints,
            # and that path goes with its socket.
            capabilities=(DEFAULT_CAPABILITIES | {"stream"}) - {"exclusive_bind", "ephemeral_port"},
            bad_endpoints=[("ipc://", True), ("ipc:///tmp/" + "x" * 120, True)],
        )


class TestIpcConformance(TransportConformance):
    pass
