"""udp multicast, in a network namespace the test makes (never on a real network).

The namespace (``unshare -n``) has only a loopback; the test brings it up with multicast
on and a route for 224.0.0.0/4, then runs udp_multicast_child.py there: one RADIO sends
to 239.192.7.1, two DISHes bound to the group (by interface name and by ``*``) receive
the groups each joined.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("udp_multicast_child.py")
SETUP = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"


def _namespace_refusal() -> str | None:
    """Why a network namespace cannot be made here, or None if it can."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(
        ["unshare", "-n", "sh", "-c", SETUP],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot set up a network namespace: {probe.stderr.strip()}"
    return None


def test_one_radio_two_dishes_on_a_multicast_group() -> None:
    refusal = _namespace_refusal()
    if refusal is not None:
        pytest.skip(refusal)
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'{SETUP} && exec "$0" "$1"', sys.executable, str(CHILD)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"child failed:\n{result.stdout}\n{result.stderr}"
    report = json.loads(result.stdout)
    assert report["first"] == [["a", "a1"], ["a", "end"]]
    assert report["second"] == [["a", "a1"], ["b", "b1"], ["a", "end"], ["b", "end"]]
    assert report["endpoints"] == ["udp://lo;239.192.7.1:5555", "udp://*;239.192.7.1:5555"]
    assert (report["ttl"], report["loop"]) == (2, 1)  # multicast_hops and multicast_loop
