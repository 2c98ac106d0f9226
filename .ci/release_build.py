#!/usr/bin/env python3
"""Build mqsdk's release artifacts into dist/ and check each one in a fresh venv.

    python3 .ci/release_build.py [--dist DIR] [--python PYTHON ...]

What it makes (docs/release.md says why each exists):

1. the sdist, with the standard frontend (``python -m build --sdist``, in a throwaway
   venv): the fallback for any platform without a wheel;
2. from that sdist, one compiled wheel per CPython (3.11, 3.12 and 3.13 by default, found
   on PATH or under pyenv), with ``MQSDK_REQUIRE_COMPILED=1`` so a broken compiler fails
   the release instead of shipping a pure wheel under a CPython tag;
3. from that sdist, the pure wheel (``MQSDK_PURE_PYTHON=1``, tag ``py3-none-any``).

Then it checks the files (the compiled modules present in each compiled wheel and
nothing compiled in the pure wheel or the sdist) and installs each artifact in a new venv
with three plugins (a poller, tcp, PUSH/PULL) to run a message through it: a compiled
wheel must report the compiled kernel and, with ``MQSDK_PURE_PYTHON=1``, the pure one;
the pure wheel the pure one; the sdist, installed where no C compiler exists
(``CC=/nonexistent``), a working pure install. Exit status 0 only if every check passed.

Builds from the sdist use ``--no-cache-dir``: pip caches a wheel built from a named sdist
and would hand a compiled wheel to the "no compiler" install (and the reverse).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
CPYTHONS = ("3.11", "3.12", "3.13")
# Enough to move a message over a real socket: a poller, a transport, a pattern.
SMOKE_PLUGINS = ("plugins/poller-select", "plugins/transport-tcp", "plugins/pattern-pipeline")
# Run in each check venv with -P from an empty folder, so only the installed mqsdk counts.
SMOKE = """
import json, mqsdk
from mqsdk._kernel import core
info = mqsdk.kernel_info()
ctx = mqsdk.Context()
pull, push = ctx.socket(mqsdk.PULL), ctx.socket(mqsdk.PUSH)
pull.rcvtimeo = push.sndtimeo = 30000
pull.bind("tcp://127.0.0.1:*")
push.connect(pull.last_endpoint.decode())
push.send_multipart([b"release", b"check"])
assert pull.recv_multipart() == [b"release", b"check"]
ctx.destroy(linger=0)
print(json.dumps({"compiled": info.compiled, "detail": info.detail, "core": core.__file__}))
"""


def load_hatch_build(root: Path = REPO) -> ModuleType:
    """The build hook's module (COMPILED_MODULES, MANIFEST), without installing anything."""
    spec = importlib.util.spec_from_file_location("mqsdk_hatch_build", root / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_compiled_file(name: str) -> bool:
    return name.endswith((".so", ".pyd"))


def compiled_wheel_problems(wheel: Path, python_tag: str, root: Path = REPO) -> list[str]:
    """What is wrong with a compiled wheel for CPython ``python_tag`` (e.g. ``cp312``)."""
    hatch_build = load_hatch_build(root)
    names = set(zipfile.ZipFile(wheel).namelist())
    problems = []
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    if not wheel.name.endswith(f"-{python_tag}-{python_tag}-{platform}.whl"):
        problems.append(f"{wheel.name}: expected the tag {python_tag}-{python_tag}-{platform}")
    suffix = re.compile(rf"\.cpython-{python_tag[2:]}-[^/]*\.so$")
    group = hatch_build.GROUP_NAME.replace(".", "/") + "__mypyc"
    for module in (*hatch_build.COMPILED_MODULES, group + ".py"):
        stem = module.removesuffix(".py")
        if not any(n.startswith(stem + ".") and suffix.search(n) for n in names):
            problems.append(f"{wheel.name}: no compiled {stem} for {python_tag}")
    problems += _common_problems(wheel.name, names, hatch_build)
    return problems


def pure_wheel_problems(wheel: Path, root: Path = REPO) -> list[str]:
    """What is wrong with the pure wheel: anything compiled, or a tag other than py3."""
    names = set(zipfile.ZipFile(wheel).namelist())
    problems = [f"{wheel.name}: compiled file {n}" for n in sorted(names) if _is_compiled_file(n)]
    if not wheel.name.endswith("-py3-none-any.whl"):
        problems.append(f"{wheel.name}: expected the tag py3-none-any")
    return problems + _common_problems(wheel.name, names, load_hatch_build(root))


def sdist_problems(sdist: Path, root: Path = REPO) -> list[str]:
    """What is wrong with the sdist: it must build the kernel (hook, sources) and carry
    nothing compiled."""
    with tarfile.open(sdist) as archive:
        top = sdist.name.removesuffix(".tar.gz")
        names = {n.removeprefix(top + "/") for n in archive.getnames()}
    problems = [f"{sdist.name}: compiled file {n}" for n in sorted(names) if _is_compiled_file(n)]
    for needed in ("hatch_build.py", "pyproject.toml", "README.md"):
        if needed not in names:
            problems.append(f"{sdist.name}: {needed} missing")
    return problems + _common_problems(sdist.name, names, load_hatch_build(root))


def _common_problems(artifact: str, names: set[str], hatch_build: ModuleType) -> list[str]:
    problems = []
    if hatch_build.MANIFEST in names:  # an in-place build's leftover: wheels never carry it
        problems.append(f"{artifact}: {hatch_build.MANIFEST} is an in-place build's")
    for module in hatch_build.COMPILED_MODULES:  # the pure fallback needs every source
        if module not in names:
            problems.append(f"{artifact}: source {module} missing")
    return problems


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # artifact, check, result
    failed: int = 0

    def add(self, artifact: str, check: str, problems: list[str]) -> None:
        self.rows.append((artifact, check, "ok" if not problems else "; ".join(problems)))
        self.failed += bool(problems)
        print(f"  {'ok  ' if not problems else 'FAIL'} {artifact}: {check}", flush=True)
        for problem in problems:
            print(f"       {problem}", flush=True)


def find_python(minor: str) -> str | None:
    """A working ``python3.X``: from PATH, else the newest pyenv install of that version
    (pyenv's shim for a version not selected is on PATH but fails, hence the test run)."""
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    installs = glob.glob(f"{pyenv_root}/versions/{minor}.*/bin/python{minor}")
    installs = [c for c in installs if re.search(rf"/{re.escape(minor)}\.\d+/bin/", c)]
    installs.sort(key=lambda c: int(c.split("/versions/")[1].split("/")[0].split(".")[2]))
    for candidate in [shutil.which(f"python{minor}"), *reversed(installs)]:
        if not candidate:
            continue
        if subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def python_tag(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def run(command: list[str], *, log: Path, env: dict[str, str] | None = None) -> float:
    """Run a build or install step, its output to ``log``; seconds taken."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        result = subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False, cwd=log.parent
        )
    if result.returncode != 0:
        raise RuntimeError(f"failed ({result.returncode}): {' '.join(command)}; see {log}")
    return time.monotonic() - started


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without mqsdk's build and kernel switches, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MQSDK_PURE_PYTHON", "MQSDK_REQUIRE_COMPILED", "PYTHONPATH", "VIRTUAL_ENV"}
    }
    return {**env, **extra}


def check_install(
    python: str,
    requirements: list[Path],
    scratch: Path,
    *,
    install_env: dict[str, str] | None = None,
    run_envs: tuple[dict[str, str], ...] = (),
) -> list[dict[str, object]]:
    """Install ``requirements`` into a new venv of ``python`` and run SMOKE there once per
    environment in ``run_envs`` (default: one run, no switches); what each printed
    (compiled, detail, core)."""
    venv = Path(tempfile.mkdtemp(prefix="venv-", dir=scratch))
    log = scratch / "install.log"
    run([python, "-m", "venv", str(venv)], log=log)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir", "-q"]
    run([*pip, *map(str, requirements)], log=log, env=install_env or clean_env())
    empty = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
    answers = []
    for env in run_envs or (clean_env(),):
        result = subprocess.run(
            [str(venv / "bin" / "python"), "-P", "-c", SMOKE],
            capture_output=True,
            text=True,
            cwd=empty,
            env=env,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"the smoke run failed:\n{result.stderr[-2000:]}")
        answers.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return answers


def expect_kernel(answer: dict[str, object], compiled: bool) -> list[str]:
    core = str(answer["core"])
    if bool(answer["compiled"]) != compiled or core.endswith(".py") == compiled:
        want = "compiled" if compiled else "pure"
        return [f"expected the {want} kernel, got {answer['detail']!r} ({core})"]
    return []


def build(pythons: list[str], dist: Path, scratch: Path, timings: dict[str, float]) -> list[Path]:
    """The sdist, then from it a compiled wheel per Python and the pure wheel, in ``dist``:
    [sdist, wheel per Python in order, pure wheel]."""
    log = scratch / "build.log"
    print("release: sdist", flush=True)
    tools = scratch / "tools"
    run([pythons[0], "-m", "venv", str(tools)], log=log)
    run([str(tools / "bin/python"), "-m", "pip", "install", "-q", "build"], log=log)
    frontend = [str(tools / "bin/python"), "-m", "build", "--sdist", "--outdir", str(dist)]
    timings["sdist"] = run([*frontend, str(REPO)], log=log, env=clean_env())
    (sdist,) = dist.glob("mqsdk-*.tar.gz")
    artifacts = [sdist]
    builds = [(p, python_tag(p), {"MQSDK_REQUIRE_COMPILED": "1"}) for p in pythons]
    builds.append((pythons[0], "py3", {"MQSDK_PURE_PYTHON": "1"}))
    for python, tag, switches in builds:
        print(f"release: {tag} wheel ({python})", flush=True)
        out = scratch / f"wheel-{tag}"
        # -v: pip shows the build hook's lines ("mqsdk build: ...", the mypyc version).
        pip_wheel = [python, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir"]
        wheel_log = scratch / f"wheel-{tag}.log"
        timings[tag] = run(
            [*pip_wheel, "-w", str(out), str(sdist)], log=wheel_log, env=clean_env(**switches)
        )
        for line in wheel_log.read_text().splitlines():
            if "mqsdk build:" in line:
                print(f"  {line.strip()}", flush=True)
        (wheel,) = out.glob("mqsdk-*.whl")
        artifacts.append(Path(shutil.move(wheel, dist / wheel.name)))
    return artifacts


def check(
    pythons: list[str], artifacts: list[Path], scratch: Path, timings: dict[str, float]
) -> Report:
    """Every check of docs/release.md on the artifacts ``build`` made."""
    sdist, *compiled, pure = artifacts
    report = Report()
    report.add(sdist.name, "contents", sdist_problems(sdist))
    for python, wheel in zip(pythons, compiled, strict=True):
        report.add(wheel.name, "contents", compiled_wheel_problems(wheel, python_tag(python)))
    report.add(pure.name, "contents", pure_wheel_problems(pure))
    plugins = scratch / "plugins"
    run(
        [pythons[0], "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(plugins)]
        + [str(REPO / p) for p in SMOKE_PLUGINS],
        log=scratch / "build.log",
    )
    plugin_wheels = sorted(plugins.glob("*.whl"))
    for python, wheel in zip(pythons, compiled, strict=True):
        print(f"release: installing {wheel.name}", flush=True)
        plain, forced_pure = check_install(
            python,
            [wheel, *plugin_wheels],
            scratch,
            run_envs=(clean_env(), clean_env(MQSDK_PURE_PYTHON="1")),
        )
        report.add(wheel.name, "installed: compiled kernel", expect_kernel(plain, True))
        report.add(wheel.name, "MQSDK_PURE_PYTHON=1: pure", expect_kernel(forced_pure, False))
    print("release: installing the pure wheel, then the sdist without a compiler", flush=True)
    (answer,) = check_install(pythons[0], [pure, *plugin_wheels], scratch)
    report.add(pure.name, "installed: pure kernel", expect_kernel(answer, False))
    started = time.monotonic()
    (answer,) = check_install(
        pythons[0], [sdist, *plugin_wheels], scratch, install_env=clean_env(CC="/nonexistent/cc")
    )
    timings["sdist install without a compiler"] = time.monotonic() - started
    report.add(sdist.name, "installed, no C compiler: pure", expect_kernel(answer, False))
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="output (default dist/)")
    parser.add_argument(
        "--python",
        action="append",
        metavar="PYTHON",
        help="a CPython to build a compiled wheel for (repeatable; default 3.11, 3.12, 3.13); "
        "the first also builds the sdist and the pure wheel",
    )
    args = parser.parse_args(argv)
    pythons = args.python or [find_python(minor) or f"python{minor}" for minor in CPYTHONS]
    missing = [p for p in pythons if shutil.which(p) is None]
    if missing:
        print(f"release: Python not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    status = ["git", "status", "--porcelain", "--untracked-files=no"]
    if subprocess.run(status, cwd=REPO, capture_output=True, text=True, check=False).stdout:
        print("release: WARNING: the checkout has uncommitted changes; they are in the build")
    dist: Path = args.dist.resolve()
    dist.mkdir(parents=True, exist_ok=True)
    for old in [*dist.glob("mqsdk-*"), *dist.glob("release-*.log"), dist / "SHA256SUMS"]:
        old.unlink(missing_ok=True)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mqsdk-release-") as scratch_name:
        scratch = Path(scratch_name)
        try:
            artifacts = build(pythons, dist, scratch, timings)
            report = check(pythons, artifacts, scratch, timings)
        except (RuntimeError, ValueError) as exc:  # a step failed: say which, keep the logs
            for log in scratch.glob("*.log"):
                shutil.copy(log, dist / f"release-{log.name}")
            print(f"release: {exc}\nrelease: logs kept in {dist}/release-*.log", file=sys.stderr)
            return 1
    sums = []
    print(f"\nrelease: artifacts in {dist}")
    for artifact in artifacts:
        digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
        sums.append(f"{digest}  {artifact.name}")
        print(f"  {artifact.name:50} {artifact.stat().st_size / 1024:8.0f} KiB")
    (dist / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    print("release: build times: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    print(f"release: {len(report.rows) - report.failed} checks passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
