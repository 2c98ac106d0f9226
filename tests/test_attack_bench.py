"""``benchmarks/attack.py`` runs end to end and reports mqsdk and pyzmq side by side.

Tiny counts and short phases: this checks that every phase runs and every figure is
reported for both libraries, never what the figures are.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from types import ModuleType

import pytest

from .conftest import REPO

pytest.importorskip("zmq")

SCRIPT = REPO / "benchmarks" / "attack.py"
FIGURES_PER_RUN = {
    "sent",
    "lost",
    "worst_gap_s",
    "stalls",
    "rss_before_kib",
    "rss_peak_kib",
    "rss_after_kib",
    "fds_before",
    "fds_after",
    "threads_before",
    "threads_after",
    "cpu_s",
    "made",
    "dropped",
}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("attack_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.mark.slow
@pytest.mark.interop
def test_quick_attack_reports_both_libraries() -> None:
    command = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--json",
        "--server",
        "pull",
        "--mode",
        "pre",
        "--huge-n",
        "2",
        "--garbage-n",
        "10",
        "--baseline",
        "0.1",
        "--hold",
        "0.2",
        "--settle",
        "2",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=100, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(result.stdout)
    scenarios = [(e["server"], e["attack"], e["mode"]) for e in data["results"]]
    assert scenarios == [("pull", "huge", "pre"), ("pull", "garbage", None)]
    for entry in data["results"]:
        assert set(entry["runs"]) == {"mqsdk", "pyzmq"}
        for lib, run in entry["runs"].items():
            assert "error" not in run, (entry["scenario"], lib, run["error"])
            missing = FIGURES_PER_RUN - set(run)
            assert not missing, (entry["scenario"], lib, missing)
            assert run["made"] == entry["count"], (entry["scenario"], lib, run)
        assert "cpu_s" in entry["ratios"]
    assert set(data["summary"]["good messages lost, all runs"]) >= {"mqsdk", "pyzmq"}

    # The text tables, rendered from the same results by the script's own code.
    attack = load_script()
    table = attack.render_table(data["results"], ("mqsdk", "pyzmq"))
    header = table.splitlines()[0].split()
    assert header == ["figure", "mqsdk", "pyzmq", "mqsdk/pyzmq"]
    for entry in data["results"]:
        assert f"== {entry['scenario']}" in table
    lost_rows = [line for line in table.splitlines() if "good messages lost" in line]
    assert len(lost_rows) == len(data["results"])
    assert all(line.count(" of ") == 2 for line in lost_rows), lost_rows  # both columns
    headline = attack.render_summary(data["summary"], ("mqsdk", "pyzmq"))
    assert headline.splitlines()[0].split()[-4:] == ["mqsdk", "pyzmq", "mqsdk/pyzmq", "target"]
