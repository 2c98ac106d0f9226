"""How mqsdk is built and installed: the compiled kernel where the machine can build it,
pure Python otherwise, and never a compiled leftover where it does not belong.

Wheels are built by pip through the real backend (hatchling and hatch_build.py) from a
copy of the sources, and checked with the same functions the release script uses
(.ci/release_build.py). Only one test compiles (~30-50 s of one core, marked slow); the
others make pure wheels in a few seconds.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import KERNEL, REPO, run_cli

HATCH_BUILD = REPO / "hatch_build.py"
# Read now: the autouse fixture clears MQSDK_* before each test. CI sets it, so that a
# machine that cannot compile fails the compiled wheel test instead of skipping it.
REQUIRE_COMPILED = os.environ.get("MQSDK_REQUIRE_COMPILED", "").strip().lower() in {
    "1",
    "true",
    "yes",
    "on",
}


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


release = _load(REPO / ".ci" / "release_build.py", "mqsdk_release_build")


def _build_env(**extra: str) -> dict[str, str]:
    """The environment without mqsdk's switches or an import path pointing into a checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MQSDK_") and k not in {"PYTHONPATH", "CC"}
    }
    return {**env, **extra}


def _source_tree(destination: Path, *, leftovers: bool = False) -> Path:
    """What a build needs of the checkout, copied to ``destination`` (no .gitignore, so
    pyproject.toml's excludes alone must keep compiled files out). ``leftovers`` adds what
    an in-place build leaves beside the sources."""
    destination.mkdir()
    for name in ("pyproject.toml", "hatch_build.py", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, destination / name)
    shutil.copytree(
        REPO / "mqsdk", destination / "mqsdk", ignore=shutil.ignore_patterns("__pycache__")
    )
    if leftovers:
        tag = f"cpython-{sys.version_info[0]}{sys.version_info[1]}-x86_64-linux-gnu"
        (destination / "mqsdk" / f"_compiled__mypyc.{tag}.so").write_bytes(b"\x7fELF leftover")
        (destination / "mqsdk" / "_kernel" / f"core.{tag}.so").write_bytes(b"\x7fELF leftover")
        (destination / "mqsdk" / "_compiled.json").write_text("{}\n")
    return destination


def _pip_wheel(
    source: Path, out: Path, env: dict[str, str], *, isolated: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``pip wheel`` as a user's pip runs it; -v shows the build hook's lines. Without
    isolation the test environment's hatchling builds (fast: no build venv to make)."""
    command = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir"]
    if not isolated:
        command.append("--no-build-isolation")
    return subprocess.run(
        [*command, "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def _built_wheel(result: subprocess.CompletedProcess[str], out: Path) -> Path:
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    (wheel,) = out.glob("mqsdk-*.whl")
    return wheel


def _hook_says(result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(
        line.strip()
        for line in (result.stdout + result.stderr).splitlines()
        if "mqsdk build:" in line
    )


def _requirement_lines(name: str) -> list[str]:
    lines = (REPO / name).read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


# -- requirements and the README's first command -------------------------------------------


def test_requirements_install_what_requirements_dev_installs_editable() -> None:
    # The README's install is not editable (editable installs are never compiled); the
    # developers' list is the same distributions, editable.
    user = _requirement_lines("requirements.txt")
    dev = _requirement_lines("requirements-dev.txt")
    assert not [line for line in user if line.startswith("-e")], "requirements.txt: no -e"
    assert ".[cli]" in user
    assert [line.removeprefix("-e ") for line in dev] == user
    local = {line for line in user if line.startswith(("plugins/", "."))}
    assert {f"-e {line}" for line in local} <= set(dev)
    bundled = {f"plugins/{p.name}" for p in (REPO / "plugins").iterdir() if p.is_dir()}
    assert bundled - local == set(), "a bundled plugin is missing from requirements.txt"
    assert "-r requirements-dev.txt" in _requirement_lines("requirements-test.txt")


def test_readme_first_command_runs_the_installed_package() -> None:
    # Run from the checkout, `python3 -m mqsdk` imports the checkout's own (pure) mqsdk/
    # before the installed one; -P (or the console script) does not.
    readme = (REPO / "README.md").read_text()
    first = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert first is not None
    command = first.group(1).strip()
    assert "-r requirements.txt" in command
    assert re.search(r"(python3 -P -m mqsdk|&& mqsdk) demo", command), command


def test_demo_says_which_kernel_runs() -> None:
    result = run_cli("demo", "--count", "2", "--transport", "inproc", "--pattern", "PAIR")
    assert result.returncode == 0, result.stdout + result.stderr
    expected = "kernel: compiled" if KERNEL.compiled else "kernel: pure Python"
    assert any(line.startswith(expected) for line in result.stdout.splitlines()), result.stdout
    forced = run_cli(
        "demo", "--count", "2", "--transport", "inproc", "--pattern", "PAIR",
        env={"MQSDK_PURE_PYTHON": "1"},
    )  # fmt: skip
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "kernel: pure Python" in forced.stdout, forced.stdout


# -- git and in-place leftovers ----------------------------------------------------------


def test_gitignore_keeps_compiled_files_out_of_git(tmp_path: Path) -> None:
    # A scratch repository with the project's .gitignore: works in a copy without .git too.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shutil.copy2(REPO / ".gitignore", tmp_path / ".gitignore")
    built = [
        "mqsdk/_compiled__mypyc.cpython-311-x86_64-linux-gnu.so",
        "mqsdk/zmtp/frames.cpython-313-x86_64-linux-gnu.so",
        "mqsdk/_kernel/core.cp312-win_amd64.pyd",
        "mqsdk/_compiled.json",
        "dist/mqsdk-0.1.0-cp311-cp311-linux_x86_64.whl",
    ]
    result = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "--no-index", *built],
        capture_output=True,
        text=True,
        check=False,
    )
    assert sorted(result.stdout.split()) == sorted(built)
    if (REPO / ".git").exists():
        tracked = subprocess.run(
            ["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert [name for name in tracked if name.endswith((".so", ".pyd"))] == []


def test_pure_wheel_without_a_compiler_leaves_in_place_leftovers_out(tmp_path: Path) -> None:
    tree = _source_tree(tmp_path / "src", leftovers=True)
    result = _pip_wheel(tree, tmp_path / "out", _build_env(CC="/nonexistent/cc"))
    wheel = _built_wheel(result, tmp_path / "out")
    assert "cannot compile the kernel (no C compiler" in _hook_says(result)
    assert release.pure_wheel_problems(wheel) == []


def test_pure_python_at_build_time_makes_a_pure_wheel(tmp_path: Path) -> None:
    tree = _source_tree(tmp_path / "src")
    result = _pip_wheel(tree, tmp_path / "out", _build_env(MQSDK_PURE_PYTHON="1"))
    wheel = _built_wheel(result, tmp_path / "out")
    assert "MQSDK_PURE_PYTHON=1: building a pure-Python wheel" in _hook_says(result)
    assert release.pure_wheel_problems(wheel) == []


def test_require_compiled_fails_where_the_kernel_cannot_compile(tmp_path: Path) -> None:
    tree = _source_tree(tmp_path / "src")
    env = _build_env(CC="/nonexistent/cc", MQSDK_REQUIRE_COMPILED="1")
    result = _pip_wheel(tree, tmp_path / "out", env)
    assert result.returncode != 0
    assert "MQSDK_REQUIRE_COMPILED=1 but the kernel cannot compile: no C compiler" in (
        result.stdout + result.stderr
    )
    assert list((tmp_path / "out").glob("*.whl")) == []


def test_sdist_builds_the_kernel_and_installs_pure_without_a_compiler(tmp_path: Path) -> None:
    tree = _source_tree(tmp_path / "src", leftovers=True)
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", str(tmp_path / "sd")],
        cwd=tree,
        capture_output=True,
        env=_build_env(),
        check=True,
        timeout=120,
    )
    (sdist,) = (tmp_path / "sd").glob("mqsdk-*.tar.gz")
    assert release.sdist_problems(sdist) == []
    result = _pip_wheel(sdist, tmp_path / "out", _build_env(CC="/nonexistent/cc"))
    assert release.pure_wheel_problems(_built_wheel(result, tmp_path / "out")) == []


def test_check_asks_for_a_compiler_and_honours_cc() -> None:
    # --check answers for a wheel build (pip installs mypyc there), so it needs no mypyc;
    # $CC is the compiler setuptools would run, so it is the one checked.
    result = subprocess.run(
        [sys.executable, str(HATCH_BUILD), "--check"],
        capture_output=True,
        text=True,
        env=_build_env(CC="/nonexistent/cc"),
        check=False,
    )
    assert result.returncode == 1
    assert "no C compiler ('/nonexistent/cc' not found)" in result.stdout


# -- the compiled wheel, through the real backend in pip's isolated build environment --------


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    KERNEL.compiled,
    reason="the compiled-kernel runs compile in place; this wheel build runs in the pure runs",
)
def test_compiled_wheel_through_the_real_backend(tmp_path: Path) -> None:
    check = subprocess.run(
        [sys.executable, str(HATCH_BUILD), "--check"],
        capture_output=True,
        text=True,
        env=_build_env(),
        check=False,
    )
    if check.returncode != 0 and not REQUIRE_COMPILED:
        pytest.skip(f"this machine cannot compile the kernel: {check.stdout.strip()}")
    # The in-place leftovers of another Python must not reach the wheel either.
    tree = _source_tree(tmp_path / "src", leftovers=True)
    env = _build_env(MQSDK_REQUIRE_COMPILED="1")
    result = _pip_wheel(tree, tmp_path / "out", env, isolated=True, timeout=840)
    wheel = _built_wheel(result, tmp_path / "out")
    assert "compiled kernel: " in _hook_says(result)
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert release.compiled_wheel_problems(wheel, tag) == []
    # Unpacked first on the import path: it runs compiled, and pure when asked.
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        "import mqsdk; from mqsdk._kernel import core; "
        "print(mqsdk.kernel_info().compiled, core.__file__)"
    )
    for switches, compiled in (({}, True), ({"MQSDK_PURE_PYTHON": "1"}, False)):
        run = subprocess.run(
            [sys.executable, "-P", "-c", probe],
            capture_output=True,
            text=True,
            env=_build_env(PYTHONPATH=str(unpacked), **switches),
            cwd=tmp_path,
            check=False,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        reported, core = run.stdout.split()
        assert reported == str(compiled), (switches, run.stdout)
        assert core.startswith(str(unpacked)), core
        assert core.endswith(".py") != compiled, core
