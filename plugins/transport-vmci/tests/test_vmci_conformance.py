"""The transport kit (mqsdk.testing) run against vmci: bind any CID and port, connect to
the local CID. Skipped with the reason where the host has no vsock loopback (vmci can
talk to other machines there, not to itself); the VM kernel test (.ci/vm-kernel-tests)
runs it where it has, and makes a skip a failure there."""

from __future__ import annotations

import re

import pytest
from mqsdk_transport_vmci.address import PORT_ANY
from mqsdk_transport_vmci.transport import loopback

from mqsdk.testing.transports import DEFAULT_CAPABILITIES, TransportConformance, TransportUnderTest


def _port(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2])


def _check_last_endpoint(bound: str, last_endpoint: str) -> None:
    assert re.fullmatch(r"vmci://\*:\d+", last_endpoint), last_endpoint
    assert _port(last_endpoint) != PORT_ANY


def _no_loopback() -> str:
    availability = loopback()
    return "" if availability else availability.reason


@pytest.fixture(scope="session")
def mqsdk_transport() -> TransportUnderTest:
    return TransportUnderTest(
        "vmci",
        bind_endpoint=lambda: "vmci://*:*",
        connect_endpoint=lambda last: f"vmci://@:{_port(last)}",
        capabilities=DEFAULT_CAPABILITIES | {"stream"},
        check_last_endpoint=_check_last_endpoint,
        bad_endpoints=[
            ("vmci://*:5555", False),  # any CID is for bind
            ("vmci://@:*", False),  # any port is for bind
            ("vmci://3", True),
            ("vmci://x:5555", True),
            ("vmci://3:http", False),
            (f"vmci://{2**32 - 1}:5555", True),
        ],
        unavailable=_no_loopback,
        wait=30.0,  # generous: this also runs in an emulated (TCG) VM
    )


class TestVmciConformance(TransportConformance):
    pass
