"""``mqsdk bench`` runs end to end and its JSON has the three libraries side by side.

Tiny counts: this checks that every measurement runs and reports, never how fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import run_cli

pytest.importorskip("zmq")


def _check_row(row: dict[str, object]) -> None:
    libs = row["libs"]
    assert isinstance(libs, dict)
    assert set(libs) == {"mqsdk", "pyzmq", "raw"}
    for name, entry in libs.items():
        if not entry["measured"]:
            continue
        assert entry["error"] is None, f"{row['case']} {name}: {entry['error']}"
        assert len(entry["values"]) == 1, (row["case"], name, entry)
        assert entry["median"] > 0, (row["case"], name, entry)
    assert set(row["ratios"]) == {"mqsdk/pyzmq", "mqsdk/raw"}


@pytest.mark.slow
def test_bench_quick_json_has_all_three_columns(tmp_path: Path) -> None:
    report = tmp_path / "bench.md"
    result = run_cli(
        "bench",
        "--quick",
        "--scale",
        "0.1",
        "--json",
        "--markdown",
        str(report),
        "--kind",
        "thr",
        "--kind",
        "lat",
        "--size",
        "16",
        "--transport",
        "tcp",
        "--transport",
        "inproc",
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["meta"]["repeat"] == 1
    cases = {(r["kind"], r["transport"], r["size"]) for r in data["results"]}
    assert cases == {
        (kind, transport, size)
        for kind in ("thr", "lat")
        for transport in ("tcp", "inproc")
        for size in (16,)
    }
    for row in data["results"]:
        _check_row(row)
        assert row["libs"]["raw"]["measured"]
    markdown = report.read_text()
    assert "| case | mqsdk | pyzmq | raw |" in markdown
    assert "PUSH->PULL tcp 16 B" in markdown


@pytest.mark.slow
def test_bench_quick_pubsub_asyncio_and_memory_rows(tmp_path: Path) -> None:
    result = run_cli(
        "bench",
        "--quick",
        "--json",
        "--transport",
        "tcp",
        "--kind",
        "pubsub",
        "--kind",
        "async",
        "--kind",
        "memory",
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    rows = {r["kind"]: r for r in json.loads(result.stdout)["results"]}
    assert set(rows) == {"pubsub", "async-thr", "async-lat", "memory"}
    for row in rows.values():
        _check_row(row)
    memory = rows["memory"]
    assert not memory["libs"]["raw"]["measured"]
    details = memory["libs"]["mqsdk"]["details"][0]
    assert {"pub_growth", "sub_growth", "limit"} <= set(details)
