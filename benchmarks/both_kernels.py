"""Which kernel a benchmark script runs, and running the script again on the pure one.

The scripts here measure in their own process with whatever ``import mqsdk`` loaded:
the compiled kernel where it is installed. Each prints :func:`kernel_line`; those that
compare numbers call :func:`then_pure` at the end, which runs the script once more with
``MQSDK_PURE_PYTHON=1`` (the same mqsdk: its folder goes first on ``PYTHONPATH``), so a
compiled install reports both kernels one after the other. ``mqsdk bench`` runs both in
one table by itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mqsdk
from mqsdk.cli.bench import worker_environment


def kernel_line() -> str:
    info = mqsdk.kernel_info()
    where = Path(mqsdk.__file__).parent
    return f"kernel: {'compiled' if info.compiled else 'pure'} ({info.detail}; {where})"


def then_pure(script: str) -> None:
    """Run ``script`` (with this run's arguments) on the pure kernel if this run was
    compiled; a failure there fails this run."""
    if mqsdk.kernel_info().compiled:
        sys.stdout.flush()
        command = [sys.executable, script, *sys.argv[1:]]
        subprocess.run(command, env=worker_environment("mqsdk-pure"), check=True)
