"""udp multicast, in a network namespace the test makes (never on a real network).

The namespace (``unshare -n``) has only a loopback; the test brings it up with multicast
on and a route for 224.0.0.0/4, then runs udp_multicast_child.py there: one RADIO sends
to 239.192.7.1, two DISHes bound to the group (by interface name and by ``*``) receive
the groups each joined. A second namespace gets a veth pair (a wire between two
interfaces of the namespace) for what loopback cannot show: IPv6 multicast (Linux has no
IPv6 multicast on lo) and ``multicast_loop=0``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mqsdk.testing.helpers import network_namespace_refusal

CHILD = Path(__file__).with_name("udp_multicast_child.py")
SETUP = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
# A wire between two interfaces of the namespace; no DAD, so v0's IPv6 address is usable
# at once; v0 gets an IPv4 address to send multicast from.
VETH = (
    "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0"
    " && ip link set lo up && ip link add v0 type veth peer name v1"
    " && ip link set v0 up && ip link set v1 up && ip addr add 10.9.0.1/24 dev v0"
)


def _run_in_namespace(setup: str, mode: str) -> dict[str, Any]:
    refusal = network_namespace_refusal(setup, ("unshare", "ip", "sysctl"))
    if refusal is not None:
        pytest.skip(refusal)
    script = f'{setup} && exec "$0" "$1" "$2"'
    result = subprocess.run(
        ["unshare", "-n", "sh", "-c", script, sys.executable, str(CHILD), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"child failed:\n{result.stdout}\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_one_radio_two_dishes_on_a_multicast_group() -> None:
    report = _run_in_namespace(SETUP, "lo")
    assert report["first"] == [["a", "a1"], ["a", "end"]]
    assert report["second"] == [["a", "a1"], ["b", "b1"], ["a", "end"], ["b", "end"]]
    assert report["endpoints"] == ["udp://lo;239.192.7.1:5555", "udp://*;239.192.7.1:5555"]
    assert (report["ttl"], report["loop"]) == (2, 1)  # multicast_hops and multicast_loop


def test_ipv6_multicast_and_multicast_loop_off_over_a_veth_pair() -> None:
    report = _run_in_namespace(VETH, "veth")
    assert report["v6"] == "over IPv6"
    assert report["quiet_sent"] == 1  # sent on the wire...
    assert report["v4"] == "looped"  # ...but with multicast_loop=0 no local copy
