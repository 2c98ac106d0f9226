"""Shared fixtures: every test starts from a clean mqsdk configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqsdk._kernel import registry

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_mqsdk_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MQSDK_* variable from the outer shell leaks in, and no registry is reused."""
    for name in list(os.environ):
        if name.startswith("MQSDK_"):
            monkeypatch.delenv(name)
    registry.clear_cache()
    yield
    registry.clear_cache()


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
