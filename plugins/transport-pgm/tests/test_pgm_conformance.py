"""The transport kit against pgm and epgm, run by pytest (pgm_kit.py) inside a network
namespace this test creates (``unshare -n``: only loopback, brought up with multicast and
a 224.0.0.0/4 route), so that nothing reaches a real network. Skipped, saying why, where
network namespaces cannot be made; a failure inside fails this test with the inner
pytest's report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mqsdk.testing.helpers import network_namespace_refusal

KIT = Path(__file__).with_name("pgm_kit.py")
SETUP = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"


def test_the_kit_passes_over_pgm_and_epgm_in_a_network_namespace() -> None:
    refusal = network_namespace_refusal(SETUP)
    if refusal is not None:
        pytest.skip(refusal)
    pytest_args = ["-q", "-rfEsp", "-p", "no:cacheprovider", "-p", "no:randomly", str(KIT)]
    in_namespace = ["unshare", "-n", "sh", "-c", f'{SETUP} && exec "$@"', "sh"]
    done = subprocess.run(
        [*in_namespace, sys.executable, "-m", "pytest", *pytest_args],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    report = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, f"the kit failed over pgm/epgm:\n{report}"
    passed = [line for line in done.stdout.splitlines() if line.startswith("PASSED")]
    for scheme in ("Pgm", "Epgm"):  # both ran, multicast fan-out included
        for check in (
            "test_exchange[PUB/SUB-first-binds]",
            "test_huge_message",
            "test_every_receiver_on_the_endpoint_gets_each_message",
        ):
            test = f"{KIT.name}::Test{scheme}Conformance::{check}"
            assert any(line.endswith(test) for line in passed), f"{test} did not pass:\n{report}"
