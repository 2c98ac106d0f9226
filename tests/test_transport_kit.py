"""The transport kit itself: how it is found, what it costs when unused, the one-option
route, its declarations, and that it runs on every transport installed here. (The kit
runs from each plugin's tests directory: tests/ of every transport plugin and of
contrib/transport-chaos, -tls and -template; pgm's inside a network namespace.)"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest

from mqsdk._kernel import registry
from mqsdk.config import load_config
from mqsdk.testing.transports import CAPABILITIES, TransportUnderTest
from tests.conftest import REPO

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
    with pytest.raises(ValueError, match="max_message_size"):
        TransportUnderTest("x", bind_endpoint=str, capabilities=frozenset({"datagram"}))
    with pytest.raises(ValueError, match="reliable or datagram"):
        TransportUnderTest(
            "x",
            bind_endpoint=str,
            capabilities=frozenset({"datagram", "reliable"}),
            max_message_size=100,
        )


def test_a_datagram_transport_declares_only_its_patterns() -> None:
    udp = TransportUnderTest(
        "udp",
        bind_endpoint=str,
        patterns=frozenset({"RADIO/DISH"}),
        capabilities=frozenset({"datagram", "exclusive_bind"}),
        max_message_size=8192,
    )
    assert udp.primary == "RADIO/DISH"
    assert set(CAPABILITIES) >= udp.capabilities


# -- the kit runs on every transport --------------------------------------------------


def kit_modules() -> list[Path]:
    """The test modules of every plugin and contrib distribution in this repository."""
    return sorted(REPO.glob("plugins/*/tests/*.py")) + sorted(REPO.glob("contrib/*/tests/*.py"))


def schemes_run_by_the_kit(modules: Iterable[Path]) -> dict[str, Path]:
    """Scheme -> module, for each module that subclasses TransportConformance, from the
    declarations it makes: the scheme given to ``TransportUnderTest(...)``, or to a call
    in the body of the kit's subclass (a fixture returning ``declaration("pgm")``). A
    module pytest does not collect by itself (pgm_kit.py, run in a namespace) counts
    when a test module beside it names it."""
    found: dict[str, Path] = {}
    for path in modules:
        tree = ast.parse(path.read_text(), str(path))
        kits = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(getattr(base, "id", None) == "TransportConformance" for base in node.bases)
        ]
        if not kits:
            continue
        for kit in kits:  # a kit skipped wholesale runs nothing (tipc and vmci once did)
            marks = [ast.unparse(decorator) for decorator in kit.decorator_list]
            assert not [m for m in marks if ".skip" in m], f"{path}: {kit.name} is {marks}"
        if not path.name.startswith("test_"):
            runners = [p for p in path.parent.glob("test_*.py") if path.name in p.read_text()]
            assert runners, f"{path} runs the kit but no test module beside it runs {path.name}"
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _names_kit(n)]
        calls += [n for kit in kits for n in ast.walk(kit) if isinstance(n, ast.Call)]
        for call in calls:
            first = call.args[0] if call.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, path)
    return found


def _names_kit(call: ast.Call) -> bool:
    return getattr(call.func, "id", None) == "TransportUnderTest"


def registered_transports() -> set[str]:
    reg = registry.Registry(load_config(environ={}))
    return {component.name for component in reg.components("transport")}


def test_every_registered_transport_is_run_by_the_kit() -> None:
    """Every transport installed here (bundled plugins and the contrib ones the suite
    installs, available on this host or not) has a kit run in its distribution's tests."""
    registered = registered_transports()
    covered = schemes_run_by_the_kit(kit_modules())
    assert {"tcp", "udp", "pgm", "epgm", "tipc", "vmci", "chaos+tcp"} <= registered
    missing = registered - set(covered)
    assert not missing, (
        f"registered transports the kit does not run on: {sorted(missing)}; declare each in "
        "a TransportUnderTest and subclass TransportConformance in the plugin's tests"
    )


def test_the_census_notices_a_transport_without_a_kit_run() -> None:
    """What the test above guards against: drop udp's kit module and udp is missing."""
    modules = [p for p in kit_modules() if p.name != "test_udp_conformance.py"]
    assert "udp" not in schemes_run_by_the_kit(modules)
    assert "udp" in schemes_run_by_the_kit(kit_modules())
