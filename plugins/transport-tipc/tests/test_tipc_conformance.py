"""The transport kit (mqsdk.testing) run against tipc: bind a service range, connect by
service name. Skipped with the plugin's own reason where the host has no TIPC (no kernel
module); the VM kernel test (.ci/vm-kernel-tests) runs it where it has, and makes a skip
a failure there."""

from __future__ import annotations

import itertools
import os
import re

import pytest

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest

# Service types from the pid (well above TIPC_RESERVED_TYPES, apart from those of
# test_tipc_sockets.py), so parallel runs on one host do not share a service.
_service_types = itertools.count(0x10000 + os.getpid() % 0xFFFF + 1000)


def _range_type(endpoint: str) -> int:
    match = re.fullmatch(r"tipc://\{(\d+), ?0, ?3\}", endpoint)
    assert match, f"not a tipc://{{type, 0, 3}} range: {endpoint}"
    return int(match.group(1))


def _check_last_endpoint(bound: str, last_endpoint: str) -> None:
    assert last_endpoint == f"tipc://{{{_range_type(bound)}, 0, 3}}"


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "tipc",
        bind_endpoint=lambda: f"tipc://{{{next(_service_types)},0,3}}",
        connect_endpoint=lambda last: f"tipc://{{{_range_type(last)},2}}",
        # Overlapping service ranges share connections instead of failing to bind, and
        # every bind names its service (the random port id, tipc://<*>, disappears with
        # its socket, so it cannot be bound again: test_tipc_sockets.py tests it).
        capabilities=(DEFAULT_CAPABILITIES | {"stream"}) - {"exclusive_bind", "ephemeral_port"},
        check_last_endpoint=_check_last_endpoint,
        bad_endpoints=[
            ("tipc://{5560,1}", True),  # a service name is for connect
            ("tipc://{5560,0,3}", False),  # a range is for bind
            ("tipc://<*>", False),
            ("tipc://<1.0.0:1234>", True),
            ("tipc://{63,0,3}", True),  # reserved type
            ("tipc://{5560,4,3}", True),  # lower > upper
            ("tipc://{5560,1}@1.0", False),
            ("tipc://5560", False),
        ],
        wait=30.0,  # generous: this also runs in an emulated (TCG) VM
    )


class TestTipcConformance(TransportConformance):
    pass
