"""The mqsdk command, run as a user would (a fresh interpreter per call)."""

from __future__ import annotations

import json
import select
import sys
from pathlib import Path

import pytest

import mqsdk

from .conftest import KERNEL, REPO, run_cli

BUNDLED_POLLERS = {"epoll", "kqueue", "poll", "select"}


def _pollers(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(r["name"]): r for r in rows if r["kind"] == "poller"}


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mqsdk {mqsdk.__version__}"


def test_plugins_json_lists_the_four_pollers_with_required_keys() -> None:
    result = run_cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    for row in rows:
        assert {"kind", "name", "distribution", "version", "available", "reason", "enabled"} <= set(
            row
        )
    pollers = _pollers(rows)
    assert set(pollers) >= BUNDLED_POLLERS
    for name in BUNDLED_POLLERS:
        assert pollers[name]["distribution"] == f"mqsdk-poller-{name}"
        assert pollers[name]["version"] == "0.1.0"
        assert pollers[name]["enabled"] is True
    null = next(r for r in rows if r["kind"] == "mechanism" and r["name"] == "NULL")
    assert null["distribution"] == "mqsdk"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux facts")
def test_kqueue_is_unavailable_on_linux_with_a_reason() -> None:
    kqueue = _pollers(json.loads(run_cli("plugins", "--json").stdout))["kqueue"]
    assert kqueue["available"] is False
    assert "kqueue" in str(kqueue["reason"]) and "linux" in str(kqueue["reason"]).lower()
    table = run_cli("plugins").stdout
    line = next(
        line for line in table.splitlines() if line.startswith("poller") and " kqueue " in line
    )
    assert " no " in line


def test_plugins_table_has_headers() -> None:
    result = run_cli("plugins")
    assert result.returncode == 0
    header = result.stdout.splitlines()[0]
    for column in ("KIND", "NAME", "DISTRIBUTION", "VERSION", "AVAILABLE", "ENABLED", "REASON"):
        assert column in header


def test_disable_by_environment_shows_disabled() -> None:
    result = run_cli("plugins", "--json", env={"MQSDK_DISABLE_PLUGINS": "poll"})
    assert result.returncode == 0, result.stderr
    poll = _pollers(json.loads(result.stdout))["poll"]
    assert poll["enabled"] is False
    assert poll["status"] == "disabled"
    assert "MQSDK_DISABLE_PLUGINS" in str(poll["reason"])
    assert poll["available"] is True  # disabled, not broken


def test_doctor_reports_the_poller_from_environment() -> None:
    result = run_cli("doctor", env={"MQSDK_POLLER": "select"})
    assert result.returncode == 0, result.stderr
    assert (
        "poller: select (setting poller='select' from environment variable MQSDK_POLLER"
        in result.stdout
    )
    data = json.loads(run_cli("doctor", "--json", env={"MQSDK_POLLER": "select"}).stdout)
    assert data["poller"]["selected"] == "select"
    assert data["poller"]["from"] == "environment variable MQSDK_POLLER"


def test_doctor_auto_picks_the_best_available() -> None:
    data = json.loads(run_cli("doctor", "--json").stdout)
    expected = (
        "epoll" if hasattr(select, "epoll") else "kqueue" if hasattr(select, "kqueue") else "poll"
    )
    assert data["poller"]["selected"] == expected
    assert data["poller"]["auto_would_pick"] == expected
    assert data["host"]["eventfd"] is hasattr(__import__("os"), "eventfd")


def test_doctor_says_which_kernel_runs_and_why() -> None:
    """The same kernel as this run (the suite runs on both), and MQSDK_PURE_PYTHON=1 makes
    any install run the sources."""
    data = json.loads(run_cli("doctor", "--json").stdout)
    assert data["kernel"]["compiled"] is KERNEL.compiled
    assert data["kernel"]["detail"] == KERNEL.detail
    assert Path(data["kernel"]["path"]) == REPO / "mqsdk"
    text = run_cli("doctor", env={"MQSDK_PURE_PYTHON": "1"}).stdout
    kernel_line = next(line for line in text.splitlines() if line.startswith("kernel: "))
    assert kernel_line.startswith("kernel: pure Python: "), kernel_line
    if KERNEL.compiled:
        assert "MQSDK_PURE_PYTHON" in kernel_line


def test_doctor_with_an_unknown_poller_fails_clearly() -> None:
    result = run_cli("doctor", env={"MQSDK_POLLER": "devpoll"})
    assert result.returncode == 1
    assert "no poller named 'devpoll' is installed" in result.stdout


def test_bad_configuration_is_exit_status_2_with_the_message() -> None:
    result = run_cli("plugins", env={"MQSDK_IO_THREADS": "many"})
    assert result.returncode == 2
    assert "io_threads='many'" in result.stderr


def test_toml_configuration_reaches_the_cli(tmp_path: Path) -> None:
    (tmp_path / "mqsdk.toml").write_text('poller = "poll"\n')
    data = json.loads(run_cli("doctor", "--json", cwd=tmp_path).stdout)
    assert data["poller"]["selected"] == "poll"
    assert data["config_file"] == str(tmp_path / "mqsdk.toml")


def test_python_dash_m_and_console_script_agree() -> None:
    import shutil
    import subprocess

    script = shutil.which("mqsdk", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("console script not installed next to this interpreter")
    out = subprocess.run(
        [script, "--version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout == run_cli("--version").stdout
