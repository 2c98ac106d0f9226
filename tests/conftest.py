"""Shared fixtures: every test starts from a clean mqsdk configuration.

The suite runs on either kernel: the compiled one (mypyc, ``hatch_build.py``) or the
``.py`` sources. ``MQSDK_EXPECT_KERNEL=compiled|pure`` (tox sets it) makes the run fail at
once when the other kernel was imported, so a compiled run cannot quietly test the
sources. Tests that only the sources allow (replacing a kernel method, reading a
module's source file) say so with :func:`requires_pure_kernel`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import mqsdk
from mqsdk._kernel import registry

REPO = Path(__file__).resolve().parent.parent
KERNEL = mqsdk.kernel_info()
"""The kernel this run imported (read once: the MQSDK_ variables are cleared per test)."""

# Suites with their own tox envs, collected only where they can run: tests/docs needs
# MkDocs (tox -e docs builds the site and then runs them), tests/install_paths makes
# fresh virtual environments and installs into them (tox -e install-paths).
collect_ignore = []
if importlib.util.find_spec("mkdocs") is None:
    collect_ignore.append("docs")
if os.environ.get("MQSDK_INSTALL_PATH_TESTS") != "1":
    collect_ignore.append("install_paths")


def pytest_configure(config: pytest.Config) -> None:
    expected = os.environ.get("MQSDK_EXPECT_KERNEL", "").strip().lower()
    if not expected:
        return
    if expected not in ("compiled", "pure"):
        raise pytest.UsageError(f"MQSDK_EXPECT_KERNEL={expected!r}: use 'compiled' or 'pure'")
    actual = "compiled" if KERNEL.compiled else "pure"
    if actual != expected:
        raise pytest.UsageError(
            f"MQSDK_EXPECT_KERNEL={expected} but this run imported the {actual} kernel "
            f"({KERNEL.detail}) from {Path(mqsdk.__file__).parent}"
        )


def pytest_report_header(config: pytest.Config) -> str:
    return f"mqsdk kernel: {KERNEL.detail}, from {Path(mqsdk.__file__).parent}"


def requires_pure_kernel(reason: str) -> pytest.MarkDecorator:
    """Skip a white-box test on the compiled kernel, saying why: ``reason`` names what it
    does that compiled code does not allow (compiled calls bypass a method replaced on
    the class or an instance; a compiled module has no source file). It still runs on
    the pure kernel, which CI tests too."""
    return pytest.mark.skipif(KERNEL.compiled, reason=f"pure-Python kernel only: {reason}")


@pytest.fixture(autouse=True)
def clean_mqsdk_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MQSDK_* variable from the outer shell leaks in, and no registry is reused."""
    for name in list(os.environ):
        if name.startswith("MQSDK_"):
            monkeypatch.delenv(name)
    registry.clear_cache()
    yield
    registry.clear_cache()


@pytest.fixture
def ctx() -> Iterator[mqsdk.Context]:
    """A context of the test's own, destroyed (linger 0) at the end so a failing test
    leaves no socket open. A module that needs another teardown defines its own."""
    context = mqsdk.Context()
    yield context
    context.destroy(linger=0)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mqsdk ARGS`` in a fresh interpreter with a clean MQSDK_ environment."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("MQSDK_")}
    child_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mqsdk", *args],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=cwd or REPO,
        timeout=timeout,
        check=False,
    )


def bundled_pollers() -> list[type]:
    """Every poller backend class that the installed plugins provide, available or not."""
    from mqsdk.config import load_config

    reg = registry.Registry(load_config(environ={}))
    return [component.cls for component in reg.components("poller")]


def open_fds() -> set[int]:
    """The fds this process has open now (Linux: /proc/self/fd)."""
    return {int(name) for name in os.listdir("/proc/self/fd")}
