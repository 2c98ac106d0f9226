"""Fixtures for the install-path tests: a clean copy of the checkout and brand-new venvs.

Self-contained on purpose: this directory runs where mqsdk itself is not installed
(``tox -e install-paths`` installs only pytest), so nothing here imports mqsdk; every
check runs inside the venv it made. tests/conftest.py (which imports mqsdk) is left out
with ``--confcutdir=tests/install_paths``, and collects this directory only when
``MQSDK_INSTALL_PATH_TESTS=1``.

Installer: ``uv venv`` + ``uv pip install`` when uv is found (its cache makes the whole
directory take well under a minute once the third-party wheels are cached), else, or with
``MQSDK_INSTALL_PATH_INSTALLER=pip``, ``python -m venv`` + ``pip`` (several times slower).
The arguments after ``pip install`` are the documented ones either way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Bounds for the slow steps, so a stuck resolver or program fails with a message instead of
# hanging: the first run may download third-party wheels (pydantic, pynacl, pyzmq...).
INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 120


def _uv() -> list[str] | None:
    """How to call uv here, or None: on PATH, or as a module of this Python (tox-uv).
    ``MQSDK_INSTALL_PATH_INSTALLER=pip`` runs pip itself, to check the slow path too."""
    if os.environ.get("MQSDK_INSTALL_PATH_INSTALLER") == "pip":
        return None
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run(
        [sys.executable, "-m", "uv", "--version"], capture_output=True, check=False
    )
    return [sys.executable, "-m", "uv"] if probe.returncode == 0 else None


UV = _uv()
INSTALLER = " ".join(UV) if UV else "python -m venv + pip"


def pytest_report_header(config: pytest.Config) -> str:
    return f"install paths: venvs and installs by {INSTALLER}"


def newcomer_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: none of mqsdk's switches or a venv of ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MQSDK_") and key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(extra)
    return env


def _run(
    command: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``command``; a timeout, or a failure when ``check``, fails the test with its
    output."""
    try:
        done = subprocess.run(
            list(command),
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(command)} (in {cwd}) did not finish within {timeout} s: {exc}")
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} (in {cwd}) failed with status {done.returncode}\n"
            f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
        )
    return done


@pytest.fixture(scope="session")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the checkout's tracked (and new, unignored) files: nothing built, no
    compiled leftovers, no venv, as a newcomer's fresh clone (the same rule as
    .ci/quickstart)."""
    listing = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        env=dict(os.environ),
        timeout=60,
    ).stdout
    copy = tmp_path_factory.mktemp("checkout")
    for name in filter(None, listing.split("\0")):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree, not yet in git
            continue
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # copy, not copy2: fresh modification times. uv keys the wheels it builds from a
        # directory on the path and its pyproject.toml's mtime; pytest's temporary paths
        # come back (pytest-0 after /tmp is cleared) while ~/.cache/uv stays, so the
        # checkout's mtimes could bring back a wheel built from older sources.
        shutil.copy(source, target)
    return copy


@dataclass
class Venv:
    """A brand-new virtual environment, and the checkout copy its installs run from."""

    path: Path
    source: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def env(self) -> dict[str, str]:
        return newcomer_env(
            PATH=f"{self.path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            VIRTUAL_ENV=str(self.path),
        )

    def pip_install(self, *args: str) -> None:
        """``pip install ARGS`` as the docs give it, run in the checkout copy. Installs
        build the kernel pure (MQSDK_PURE_PYTHON=1): compiling it takes 30-75 s per
        install and is what .ci/quickstart and .ci/release_build.py prove; here it is
        what each install brings that counts."""
        env = newcomer_env(MQSDK_PURE_PYTHON="1", VIRTUAL_ENV=str(self.path))
        if UV:
            command = [*UV, "pip", "install", "--quiet", "--python", str(self.python), *args]
        else:
            command = [str(self.python), "-m", "pip", "install", "--quiet", *args]
        _run(command, cwd=self.source, env=env, timeout=INSTALL_TIMEOUT)

    def run(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command of this venv (``python -P ...``, ``mqsdk ...``) in ``cwd``."""
        command = [str(self.path / "bin" / args[0]), *args[1:]]
        return _run(command, cwd=cwd, env=self.env(), timeout=RUN_TIMEOUT, check=check)


@pytest.fixture(scope="module")
def make_venv(
    tmp_path_factory: pytest.TempPathFactory, source_tree: Path
) -> Iterator[Callable[[str], Venv]]:
    """A factory of brand-new venvs; each test module's are removed when it ends."""
    made: list[Path] = []

    def create(name: str) -> Venv:
        path = tmp_path_factory.mktemp(f"venv-{name}")
        shutil.rmtree(path)
        if UV:
            command = [*UV, "venv", "--quiet", "--python", sys.executable, str(path)]
        else:
            command = [sys.executable, "-m", "venv", str(path)]
        _run(command, cwd=source_tree, env=newcomer_env(), timeout=120)
        made.append(path)
        return Venv(path, source_tree)

    yield create
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    """Where programs run (with ``python -P``): no checkout ``mqsdk/`` folder to shadow
    the installed package."""
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder
