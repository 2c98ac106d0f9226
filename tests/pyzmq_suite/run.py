"""Run pyzmq's own test suite against mqsdk and compare with the expected results.

    python tests/pyzmq_suite/run.py                # download, run, compare (CI)
    python tests/pyzmq_suite/run.py --list-new     # TOML lines for unlisted failures
    python tests/pyzmq_suite/run.py -k test_poll   # a subset (no comparison of the rest)
    python tests/pyzmq_suite/run.py --against pyzmq  # the same tests on real pyzmq

After a full run, real pyzmq programs run unchanged (``programs/``, where their libraries
are installed): a notebook client and kernel (jupyter_client, ipykernel), each on mqsdk
or on pyzmq, in all four pairings; and an ipyparallel cluster on mqsdk.

pyzmq's source distribution is downloaded from the package index at run time (into a
cache directory), never kept in this repository. Its ``tests/`` directory runs as it
is, under ``mqsdk run-as-zmq -m pytest``, so every ``import zmq`` in it resolves to
``mqsdk.compat``. Before the run, :mod:`patches` adapts the shared helpers that reach
into pyzmq's internals; each patch says why.

``expected.toml`` lists every test whose outcome is not a plain pass: excluded tests
(pyzmq's backends, build flags, integrations; not counted), tests that pyzmq itself
skips here, and tests still expected to fail on mqsdk, each with its reason. The run
fails if a test that should pass does not (a regression), if a listed failure now
passes (update the file), or if a test appears that the file does not know.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected.toml"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mqsdk-pyzmq-suite"


def load_expected() -> dict[str, object]:
    with EXPECTED.open("rb") as f:
        return tomllib.load(f)


def fetch_sdist(version: str, cache: Path) -> Path:
    """pyzmq's sdist from the package index (pip honours the machine's index settings)."""
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"pyzmq-{version}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                str(cache),
                f"pyzmq=={version}",
            ],
            check=True,
        )
    return sdist


def unpack_tests(sdist: Path, version: str, workdir: Path) -> Path:
    """Only ``tests/`` and ``pytest.ini`` of the sdist: pyzmq's own package must not be
    importable from the run directory."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    prefix = f"pyzmq-{version}/"
    with tarfile.open(sdist) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith(prefix + "tests/") or m.name == prefix + "pytest.ini"
        ]
        for m in members:
            m.name = m.name[len(prefix) :]
        tar.extractall(workdir, members=members, filter="data")
    return workdir


def outcomes_from_junit(path: Path) -> dict[str, tuple[str, str]]:
    """{node id: (passed|failed|skipped, message)} from pytest's junit xml."""
    results: dict[str, tuple[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        classname = case.get("classname", "")
        name = case.get("name", "")
        if not classname:  # a whole module that failed (or was skipped) at collection
            classname, name = name, ""
        # classname is "tests.test_socket.TestSocket" or "tests.test_poll"
        parts = classname.split(".")
        module_parts: list[str] = []
        for i, part in enumerate(parts):
            module_parts.append(part)
            if part.startswith("test_"):
                rest = parts[i + 1 :]
                break
        else:
            rest = []
        node = "/".join(module_parts) + ".py"
        if rest or name:
            node += "::" + "::".join([*rest, name] if name else rest)
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                message = (
                    (child.get("message") or "").splitlines()[0][:200]
                    if child.get("message")
                    else child.tag
                )
                break
            if child.tag == "skipped":
                outcome, message = "skipped", (child.get("message") or "")[:200]
        if node in results and results[node][0] == "failed":
            continue  # a teardown error after a pass counts as a failure
        results[node] = (outcome, message)
    return results


def fail_tables() -> tuple[str, ...]:
    """The [fail...] tables that apply to this Python."""
    if sys.version_info < (3, 12):
        return ("fail", "fail_before_3_12")
    return ("fail",)


def expected_outcome(expected: dict[str, object], node: str) -> tuple[str, str]:
    """(category, reason) for a node id: excluded, skipped-on-pyzmq, fail or pass."""
    for category in ("excluded", "pyzmq_skips", *fail_tables()):
        table = expected.get(category, {})
        assert isinstance(table, dict)
        if node in table:
            return category, str(table[node])
        file_part = node.split("::", maxsplit=1)[0]
        if file_part in table:
            return category, str(table[file_part])
    return "pass", ""


def compare(expected: dict[str, object], results: dict[str, tuple[str, str]], subset: bool) -> int:
    problems: list[str] = []
    counted = passed = 0
    for node, (outcome, message) in sorted(results.items()):
        category, _ = expected_outcome(expected, node)
        if category == "excluded":
            continue
        if category == "pyzmq_skips":
            # Skipped on pyzmq too; whatever mqsdk does is not counted.
            continue
        if category.startswith("fail"):
            category = "fail"
        counted += 1
        if outcome == "passed":
            passed += 1
            if category == "fail":
                problems.append(f"NOW PASSES (remove it from [fail]): {node}")
        elif category == "pass":
            problems.append(f"REGRESSION ({outcome}): {node}: {message}")
    known = {
        n
        for cat in ("excluded", "pyzmq_skips", "fail")
        for n in expected.get(cat, {})  # type: ignore[union-attr]
    }
    missing = [n for n in known if "::" in n and n not in results and not subset]
    pyzmq = expected["pyzmq"]
    assert isinstance(pyzmq, dict)
    # Counted tests only: how an excluded file shows up (one collection entry, or its
    # tests one by one) depends on what is installed (mypy, Cython).
    should_count = (
        int(pyzmq["collected"])
        - int(pyzmq["excluded_tests"])
        - len(
            expected.get("pyzmq_skips", {})  # type: ignore[arg-type]
        )
    )
    if not subset and counted != should_count:
        problems.append(f"{counted} tests counted, expected.toml accounts for {should_count}")
    for node in missing:
        problems.append(f"LISTED BUT NOT RUN (stale entry?): {node}")
    print(
        f"\npyzmq suite on mqsdk, Python {sys.version.split()[0]}: {passed} of {counted} "
        "counted tests pass "
        f"({100.0 * passed / max(counted, 1):.1f} %)"
    )
    for p in problems:
        print(p)
    return 1 if problems else 0


def print_unlisted(results: dict[str, tuple[str, str]]) -> None:
    """Print TOML lines for failures expected.toml does not list yet, to be edited into
    real reasons and pasted into the right table."""
    expected = load_expected()
    for node, (outcome, message) in sorted(results.items()):
        category, _ = expected_outcome(expected, node)
        if category == "pass" and outcome != "passed":
            print(f"{_toml_key(node)} = {_toml_key(f'TODO: {outcome}: {message}')}")


def _toml_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


_toml_str = _toml_key


def run_programs() -> list[str]:
    """Real pyzmq programs, unchanged, on mqsdk and against pyzmq (programs/)."""
    import importlib.util

    missing = [m for m in ("jupyter_client", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"programs: skipped, {', '.join(missing)} not installed")
        return []
    problems: list[str] = []
    script = HERE / "programs" / "notebook.py"
    for client in ("mqsdk", "pyzmq"):
        for kernel in ("mqsdk", "pyzmq"):
            prefix = ["-m", "mqsdk", "run-as-zmq"] if client == "mqsdk" else []
            try:
                result = subprocess.run(
                    [sys.executable, *prefix, str(script), client, kernel],
                    capture_output=True,
                    text=True,
                    timeout=240,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                problems.append(f"PROGRAM TIMED OUT: notebook client={client} kernel={kernel}")
                continue
            lines = result.stdout.strip().splitlines()
            print(lines[-1] if lines else f"notebook client={client} kernel={kernel}: no output")
            if result.returncode != 0:
                problems.append(
                    f"PROGRAM FAILED: notebook client={client} kernel={kernel}:\n"
                    + result.stderr[-3000:]
                )
    if importlib.util.find_spec("ipyparallel") is None:
        print("programs: ipyparallel skipped, not installed")
        return problems
    script = HERE / "programs" / "parallel.py"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mqsdk", "run-as-zmq", str(script)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        problems.append("PROGRAM TIMED OUT: ipyparallel")
        return problems
    lines = result.stdout.strip().splitlines()
    print(lines[-1] if lines else "ipyparallel: no output")
    if result.returncode != 0:
        problems.append("PROGRAM FAILED: ipyparallel:\n" + result.stderr[-3000:])
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--list-new", action="store_true", help="print TOML lines for unlisted failures"
    )
    parser.add_argument("--against", choices=["mqsdk", "pyzmq"], default="mqsdk")
    parser.add_argument("-k", dest="keyword", help="only tests matching (pytest -k)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments")
    args = parser.parse_args()

    expected = load_expected()
    version = str(expected["pyzmq"]["version"])  # type: ignore[index]
    sdist = fetch_sdist(version, args.cache)
    workdir = unpack_tests(sdist, version, args.workdir or args.cache / f"run-{os.getpid()}")
    sys.path.insert(0, str(HERE))
    import patches

    if args.against == "mqsdk":
        patches.apply(workdir)
    junit = workdir / "results.xml"
    runner = (
        [sys.executable, "-m", "mqsdk", "run-as-zmq", "-m", "pytest"]
        if args.against == "mqsdk"
        else [sys.executable, "-m", "pytest"]
    )
    command = [
        *runner,
        "-p",
        "no:cacheprovider",
        "-q",
        "--timeout",
        "60",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        "-rfEs",
        *args.pytest_args,
    ]
    if args.keyword:
        command += ["-k", args.keyword]
    # pytest-timeout bounds each test; ZMQ_TEST_TIMEOUT is left unset (pyzmq's conftest
    # passes it to signal.alarm as a string).
    env = {k: v for k, v in os.environ.items() if k != "ZMQ_TEST_TIMEOUT"}
    started = time.monotonic()
    print("+", " ".join(command), f"(in {workdir})", flush=True)
    subprocess.run(command, check=False, cwd=workdir, env=env)
    print(f"pyzmq suite ran in {time.monotonic() - started:.0f} s")
    results = outcomes_from_junit(junit)
    if args.list_new:
        print_unlisted(results)
        return 0
    subset = bool(args.keyword or args.pytest_args)
    status = compare(expected, results, subset=subset)
    if args.against == "mqsdk" and not subset:
        problems = run_programs()
        for problem in problems:
            print(problem)
        status = status or (1 if problems else 0)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
