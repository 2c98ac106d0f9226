"""Real plugin distributions, installed with pip, found through their entry points.

``mqsdk-plugin-example`` is installed in the test environment itself. The broken and
conflicting ones would break every context in this environment, so each is installed
with ``pip install --target`` into a temporary directory that only child processes see.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, run_cli

DISTS = REPO / "tests" / "plugin_dists"


def _rows(stdout: str) -> list[dict[str, object]]:
    return list(json.loads(stdout))


def _example_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [r for r in rows if r["plugin"] == "example"]


@pytest.fixture(scope="module")
def installed_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """pip-install the broken and conflicting plugins into their own target dirs."""
    targets = {}
    for dist in ("mqsdk-plugin-broken", "mqsdk-plugin-conflict"):
        target = tmp_path_factory.mktemp(dist)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--disable-pip-version-check",
                "--target",
                str(target),
                str(DISTS / dist),
            ],
            check=True,
            timeout=300,
        )
        targets[dist] = target
    return targets


def test_example_plugin_is_discovered_with_its_distribution() -> None:
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = _example_rows(_rows(result.stdout))
    assert row["kind"] == "poller"
    assert row["name"] == "selectors"
    assert row["distribution"] == "mqsdk-plugin-example"
    assert row["version"] == "0.3.1"
    assert row["enabled"] is True and row["available"] is True


def test_example_plugin_disabled_by_environment() -> None:
    result = run_cli("plugins", "--json", env={"MQSDK_DISABLE_PLUGINS": "example"})
    (row,) = _example_rows(_rows(result.stdout))
    assert row["enabled"] is False and row["status"] == "disabled"
    assert row["name"] == "selectors"  # still described, though not loaded


def test_example_plugin_disabled_by_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.mqsdk]\ndisable_plugins = ["example"]\n')
    result = run_cli("plugins", "--json", cwd=tmp_path)
    (row,) = _example_rows(_rows(result.stdout))
    assert row["enabled"] is False
    assert str(tmp_path / "pyproject.toml") in str(row["reason"])


def test_example_plugin_loaded_alone_with_autoload_off() -> None:
    env = {"MQSDK_DISABLE_PLUGIN_AUTOLOAD": "1", "MQSDK_PLUGINS": "example"}
    rows = _rows(run_cli("plugins", "--json", env=env).stdout)
    enabled = {(r["plugin"], r["name"]) for r in rows if r["enabled"]}
    assert enabled == {("example", "selectors"), ("null", "NULL")}
    assert all(r["status"] == "not selected" for r in rows if r["plugin"] in {"epoll", "poll"})
    # With only the example loaded, auto falls back to its priority-0 backend.
    doctor = json.loads(run_cli("doctor", "--json", env=env).stdout)
    assert doctor["poller"]["selected"] == "selectors"


def test_example_backend_drives_a_real_context() -> None:
    code = (
        "import threading, mqsdk\n"
        "ctx = mqsdk.Context(config={'poller': 'selectors'})\n"
        "done = threading.Event()\n"
        "ctx.reactor().call_later(0.01, done.set)\n"
        "assert done.wait(10)\n"
        "print(ctx.poller_class.__module__)\n"
        "ctx.term()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "mqsdk_plugin_example"


def _with_path(target: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(target)}


def test_broken_plugin_gives_the_documented_error(installed_elsewhere: dict[str, Path]) -> None:
    env = _with_path(installed_elsewhere["mqsdk-plugin-broken"])
    result = run_cli("plugins", "--json", env=env)
    assert result.returncode == 1
    assert "plugin 'broken' from mqsdk-plugin-broken 0.0.1 failed to import" in result.stderr
    assert "mqsdk_plugin_broken_missing_dependency" in result.stderr
    (row,) = [r for r in _rows(result.stdout) if r["plugin"] == "broken"]
    assert row["enabled"] is False and row["available"] is False
    # An application creating a context gets the same error as an exception.
    code = (
        "import mqsdk\n"
        "try:\n"
        "    mqsdk.Context()\n"
        "except mqsdk.PluginError as e:\n"
        "    print(type(e).__name__, e.plugin, e.distribution)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env={**_clean_env(), **env},
        timeout=60,
    )
    assert out.stdout.strip() == "PluginLoadError broken mqsdk-plugin-broken", out.stderr


def test_broken_plugin_can_be_disabled(installed_elsewhere: dict[str, Path]) -> None:
    env = {
        **_with_path(installed_elsewhere["mqsdk-plugin-broken"]),
        "MQSDK_DISABLE_PLUGINS": "broken",
    }
    result = run_cli("doctor", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_conflicting_plugin_names_both_sides(installed_elsewhere: dict[str, Path]) -> None:
    env = _with_path(installed_elsewhere["mqsdk-plugin-conflict"])
    result = run_cli("plugins", "--json", env=env)
    assert result.returncode == 1
    assert "poller 'epoll' is claimed by two plugins" in result.stderr
    assert "mqsdk-poller-epoll 0.1.0" in result.stderr
    assert "mqsdk-plugin-conflict 0.0.1" in result.stderr


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("MQSDK_")}
