"""``mqsdk bench`` runs end to end and its JSON has the libraries side by side: mqsdk on
each kernel there is (compiled and pure, or pure alone), pyzmq and raw sockets.

Tiny counts: this checks that every measurement runs and reports, never how fast. The
suite runs on both kernels, so each run checks its own kernel's columns.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from mqsdk.cli.bench import Case, WorkerError, measure, worker_environment

from .conftest import KERNEL, run_cli

pytest.importorskip("zmq")

# Where the compiled kernel runs, the pure one is measured beside it.
MQSDK_COLUMNS = {"mqsdk", "mqsdk-pure"} if KERNEL.compiled else {"mqsdk"}


def _check_row(row: dict[str, object]) -> None:
    libs = row["libs"]
    assert isinstance(libs, dict)
    assert set(libs) == {"mqsdk", "mqsdk-pure", "pyzmq", "raw"}
    assert libs["mqsdk"]["kernel"] == ("compiled" if KERNEL.compiled else "pure")
    assert libs["mqsdk-pure"]["measured"] is KERNEL.compiled
    for name, entry in libs.items():
        if not entry["measured"]:
            continue
        assert entry["error"] is None, f"{row['case']} {name}: {entry['error']}"
        assert len(entry["values"]) == 1, (row["case"], name, entry)
        assert entry["median"] > 0, (row["case"], name, entry)
    assert set(row["ratios"]) == {
        f"{lib}/{base}" for lib in MQSDK_COLUMNS for base in ("pyzmq", "raw")
    }


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
    assert set(data["meta"]["kernels"]) == MQSDK_COLUMNS
    assert data["meta"]["kernels"]["mqsdk"]["detail"] == KERNEL.detail
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
    if KERNEL.compiled:
        assert "| case | mqsdk (compiled) | mqsdk (pure) | pyzmq | raw |" in markdown
        assert "kernels: mqsdk compiled (compiled with mypyc) and mqsdk pure" in markdown
    else:
        assert "| case | mqsdk (pure) | pyzmq | raw |" in markdown
        assert f"kernel: mqsdk pure only ({KERNEL.detail})" in markdown
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


def test_bench_text_says_which_kernels_ran_and_takes_the_pure_one_by_name() -> None:
    result = run_cli(
        "bench",
        "--quick",
        "--plain",
        "--kind",
        "thr",
        "--transport",
        "inproc",
        "--size",
        "16",
        "--lib",
        "mqsdk-pure",
        "--lib",
        "pyzmq",
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    first, header = result.stdout.splitlines()[:2]
    if KERNEL.compiled:
        assert first.startswith("kernels: mqsdk compiled (compiled with mypyc) and mqsdk pure")
        assert header.split()[:7] == [
            "case",
            "mqsdk",
            "(compiled)",
            "mqsdk",
            "(pure)",
            "pyzmq",
            "raw",
        ]
        assert "error" not in result.stdout
    else:  # no column for a kernel that is not installed; the pure one is "mqsdk"
        assert first.startswith(f"kernel: mqsdk pure only ({KERNEL.detail})")
        assert header.split()[:5] == ["case", "mqsdk", "(pure)", "pyzmq", "raw"]
        assert "no compiled modules" in result.stderr or "MQSDK_PURE_PYTHON" in result.stderr


def test_a_column_never_measures_the_other_kernel() -> None:
    """Each mqsdk worker reports the kernel it loaded; one that loaded another than its
    column's is an error, not a number (a worker importing a different mqsdk than the
    bench, or MQSDK_PURE_PYTHON lost on the way)."""
    case = Case("thr", "inproc", 16, 20)
    with tempfile.TemporaryDirectory() as tmpdir:
        assert measure(case, "mqsdk", tmpdir, 0, 60, compiled=KERNEL.compiled)["rate"] > 0
        assert measure(case, "mqsdk-pure", tmpdir, 1, 60, compiled=False)["rate"] > 0
        with pytest.raises(WorkerError, match="kernel, not the"):
            measure(case, "mqsdk", tmpdir, 2, 60, compiled=not KERNEL.compiled)


def test_workers_import_the_mqsdk_the_bench_runs() -> None:
    import mqsdk

    here = str(Path(mqsdk.__file__).resolve().parent.parent)
    for lib in ("mqsdk", "mqsdk-pure", "pyzmq", "raw"):
        env = worker_environment(lib)
        assert env["PYTHONPATH"].split(":")[0] == here, lib
        assert (env.get("MQSDK_PURE_PYTHON") == "1") is (lib == "mqsdk-pure"), lib


def test_bench_runs_mqsdk_once_per_named_poller_beside_one_pyzmq(tmp_path: Path) -> None:
    """``--poller`` (repeatable) gives mqsdk a row per poller, each run on the poller its
    workers report, and both rows take their ratio from the same pyzmq measurement.
    Neither poller is the automatic choice, so rows on it cannot pass by default."""
    report = tmp_path / "bench.md"
    result = run_cli(
        "bench",
        "--quick",
        "--json",
        "--markdown",
        str(report),
        "--kind",
        "lat",
        "--transport",
        "tcp",
        "--size",
        "16",
        "--lib",
        "mqsdk",
        "--lib",
        "pyzmq",
        "--poller",
        "poll",
        "--poller",
        "select",
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["meta"]["pollers"] == {"requested": ["poll", "select"], "used": ["poll", "select"]}
    rows = {row["poller"]: row for row in data["results"]}
    assert set(rows) == {"poll", "select"}
    for poller, row in rows.items():
        assert row["case"] == f"REQ/REP rtt tcp 16 B [{poller}]"
        mine = row["libs"]["mqsdk"]
        assert mine["error"] is None, mine
        assert mine["poller"] == poller
        assert [d["poller"] for d in mine["details"]] == [poller]
        assert row["ratios"]["mqsdk/pyzmq"] == mine["median"] / row["libs"]["pyzmq"]["median"]
    assert rows["poll"]["libs"]["pyzmq"] == rows["select"]["libs"]["pyzmq"]
    markdown = report.read_text()
    assert "pollers: poll, select (--poller" in markdown
    assert "| REQ/REP rtt tcp 16 B [select] |" in markdown


def test_bench_refuses_a_named_poller_that_cannot_run_with_the_plugins_reason() -> None:
    """Refused before anything runs, with the plugin's reason; a worker asked for it
    refuses too (its error is the row's), rather than measuring another poller."""
    from mqsdk.plugin import get_registry

    kqueue = get_registry().find_component("poller", "kqueue")
    if kqueue is None or kqueue.availability.ok:
        pytest.skip("needs the kqueue poller installed on a host where it cannot run")
    reason = kqueue.availability.reason
    result = run_cli("bench", "--quick", "--poller", "epoll", "--poller", "kqueue", timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--poller: poller 'kqueue'" in result.stderr and reason in result.stderr
    missing = run_cli("bench", "--quick", "--poller", "no-such-poller", timeout=60)
    assert missing.returncode == 2
    assert "no poller named 'no-such-poller' is installed" in missing.stderr

    case = Case("lat", "tcp", 16, 20)
    with tempfile.TemporaryDirectory() as tmpdir:
        with pytest.raises(WorkerError, match="cannot run here") as refused:
            measure(case, "mqsdk", tmpdir, 0, 60, compiled=KERNEL.compiled, poller="kqueue")
        assert reason in str(refused.value)
        ran = measure(case, "mqsdk", tmpdir, 1, 60, compiled=KERNEL.compiled, poller="poll")
        assert ran["poller"] == "poll" and ran["p50_us"] > 0


def test_bench_text_says_which_poller_ran_by_default() -> None:
    result = run_cli(
        "bench",
        "--quick",
        "--plain",
        "--kind",
        "thr",
        "--transport",
        "inproc",
        "--size",
        "16",
        "--lib",
        "mqsdk",
        timeout=110,
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert re.search(r"; poller: [\w-]+ \(as configured\)$", first), first


def test_bench_names_the_poller_variable_as_the_configuration_does() -> None:
    """The bench spells MQSDK_POLLER itself (to stay light at import): keep it in step."""
    from mqsdk.cli import bench
    from mqsdk.config import ENV_POLLER

    assert bench.ENV_POLLER == ENV_POLLER
