"""The transport conformance kit itself: how it is found, what it costs when unused, the
one-option route, and its declarations. (The battery runs against every bundled
transport from each plugin's tests directory, and against contrib/transport-tls.)"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from mqsdk.testing.transports import CAPABILITIES, TransportUnderTest

TARGET = """
from mqsdk.testing import TransportUnderTest

UNDER_TEST = TransportUnderTest("tcp", bind_endpoint=lambda: "tcp://127.0.0.1:*")
"""


def _python(code: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_registered_as_a_pytest_plugin() -> None:
    (entry,) = [ep for ep in metadata.entry_points(group="pytest11") if ep.name == "mqsdk"]
    assert entry.value == "mqsdk.testing.pytest_plugin"
    assert entry.dist is not None and entry.dist.name == "mqsdk"


def test_importing_mqsdk_does_not_import_pytest() -> None:
    out = _python("import sys, mqsdk; print(sorted(m for m in sys.modules if 'pytest' in m))")
    assert out.strip() == "[]"


def test_the_plugin_module_loads_no_battery_when_unused() -> None:
    out = _python(
        "import sys, mqsdk.testing.pytest_plugin; "
        "print([m for m in ('mqsdk.testing.transports', 'mqsdk.testing.helpers', 'zmq') "
        "if m in sys.modules])"
    )
    assert out.strip() == "[]"


def test_one_option_collects_and_runs_the_battery(tmp_path: Path) -> None:
    (tmp_path / "kit_target.py").write_text(TARGET)
    (tmp_path / "test_own.py").write_text("def test_own() -> None:\n    pass\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    args = ["-p", "no:cacheprovider", "-q", "--mqsdk-transport=kit_target:UNDER_TEST"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-k", "own or (exchange and PUSH)"],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout, done.stdout


def test_a_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--mqsdk-transport=nocolon"],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    assert "expected MODULE:NAME" in done.stderr


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown capabilities"):
        TransportUnderTest("x", bind_endpoint=str, capabilities=frozenset({"teleport"}))
    with pytest.raises(ValueError, match="unknown patterns"):
        TransportUnderTest("x", bind_endpoint=str, patterns=frozenset({"PUSH/PUB"}))
    with pytest.raises(ValueError, match="wildcard_endpoint"):
        TransportUnderTest("x", bind_endpoint=str, capabilities=frozenset({"wildcard_bind"}))


def test_a_datagram_transport_declares_only_its_patterns() -> None:
    udp = TransportUnderTest(
        "udp",
        bind_endpoint=str,
        patterns=frozenset({"RADIO/DISH"}),
        capabilities=frozenset({"exclusive_bind"}),
        max_message_size=8192,
    )
    assert udp.primary == "RADIO/DISH"
    assert set(CAPABILITIES) >= udp.capabilities
