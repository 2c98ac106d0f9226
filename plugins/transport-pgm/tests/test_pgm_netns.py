"""pgm and epgm end to end, with real sockets, in network namespaces these tests create.

Each scenario runs in a child process under ``unshare -n`` (a fresh network namespace:
only loopback, brought up with multicast and a 224.0.0.0/4 route), so nothing reaches a
real network. The child prints a JSON result; a failed check there fails the test here.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).with_name("netns_scenarios.py")
SCHEMES = ["epgm", "pgm"]


@functools.cache
def _namespaces() -> str:
    """Empty if this host lets us create network namespaces, else why not."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs the unshare and ip commands (util-linux, iproute2)"
    probe = subprocess.run(
        ["unshare", "-n", "ip", "link", "set", "lo", "up"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode:
        return f"cannot create a network namespace here: {probe.stderr.strip()}"
    return ""


def run(name: str, **params: Any) -> dict[str, Any]:
    reason = _namespaces()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, str(SCRIPT), name, json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"{name}: no result (exit {proc.returncode}); stderr:\n{proc.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    assert proc.returncode == 0 and "failed" not in result, (
        f"{name} {params}: {result.get('failed')}\nstderr:\n{proc.stderr[-3000:]}"
    )
    return result


@pytest.mark.parametrize("scheme", SCHEMES)
def test_one_publisher_three_subscribers_exactly_once_in_order(scheme: str) -> None:
    result = run("fanout", scheme=scheme, subscribers=3, messages=3000)
    assert result["received"] == [3000, 3000, 3000]
    assert all(s["pgm_lost"] == 0 for s in result["subs"])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_five_percent_loss_is_repaired(scheme: str) -> None:
    result = run("fanout", scheme=scheme, subscribers=3, messages=3000, loss=0.05)
    assert result["received"] == [3000, 3000, 3000]
    # The repair path really ran: NAKs went out, NCFs and RDATA came back.
    assert result["pub"]["pgm_naks_received"] > 0
    assert result["pub"]["pgm_rdata_sent"] > 0
    for sub in result["subs"]:
        assert sub["pgm_naks_sent"] + sub["pgm_ncf_received"] > 0, sub
        assert sub["pgm_rdata_received"] > 0, sub
        assert sub["pgm_lost"] == 0, sub


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sequence_numbers_wrap_around_under_loss(scheme: str) -> None:
    # Starts 300 packets before 2**32: the stream (~480 packets) and its repairs cross 0.
    result = run(
        "fanout", scheme=scheme, subscribers=3, messages=3000, loss=0.05, first_sqn=2**32 - 300
    )
    assert result["received"] == [3000, 3000, 3000]
    assert result["pub"]["pgm_odata_sent"] > 300
    assert result["pub"]["pgm_rdata_sent"] > 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_subscribers_filter_locally(scheme: str) -> None:
    result = run("filtering", scheme=scheme)
    assert (result["a"], result["b"]) == (100, 100)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_late_joiner_gets_whole_messages_only(scheme: str) -> None:
    result = run("late_join", scheme=scheme)
    assert result["late_count"] >= 1
    assert result["late"]["pgm_lost"] == 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_publisher_restart_is_survived(scheme: str) -> None:
    assert run("restart", scheme=scheme)["sources"] == [2, 2, 2]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_malformed_packets_on_the_group_are_dropped(scheme: str) -> None:
    assert run("malformed", scheme=scheme)["sub"]["pgm_malformed"] > 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_unrecoverable_loss_is_reported_and_resynced(scheme: str) -> None:
    result = run("unrecoverable", scheme=scheme)
    assert result["missing"] >= 1
    assert result["sub"]["pgm_lost"] >= 1 and result["sub"]["pgm_resyncs"] >= 1


@pytest.mark.parametrize("scheme", SCHEMES)
def test_xpub_and_xsub(scheme: str) -> None:
    assert run("xpub_xsub", scheme=scheme)["xsub"] == 50


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rcvhwm_pauses_and_resumes_reading(scheme: str) -> None:
    assert run("slow_reader", scheme=scheme)["sub"]["pgm_read_pauses"] > 0
