"""The Python examples of the README and of docs/*.md run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
EXAMPLES = [
    (f"{page.name}-{index}", code)
    for page in PAGES
    for index, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]
BLOCKS = [code for _, code in EXAMPLES]


def test_readme_has_examples() -> None:
    assert BLOCKS, "the README lost its Python examples"


@pytest.mark.parametrize("code", BLOCKS, ids=[name for name, _ in EXAMPLES])
def test_readme_example_runs(code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the example printed nothing"


def _tox_for_a_missing_python(
    tmp_path: Path, skip_setting: str | None
) -> subprocess.CompletedProcess[str]:
    """The README's tox run with an env whose Python no machine has (3.99).

    lint runs beside it (with --notest) because tox fails a run in which every env skipped.
    """
    # Nothing of an outer tox run (TOX_* settings) or of the caller's choice leaks in.
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "MQSDK_SKIP_MISSING_PYTHONS" and not k.startswith("TOX_")
    }
    if skip_setting is not None:
        env["MQSDK_SKIP_MISSING_PYTHONS"] = skip_setting
    flags = ["--notest", "--workdir", str(tmp_path / "tox")]
    return subprocess.run(
        [sys.executable, "-m", "tox", "-c", str(REPO / "tox.ini"), "-e", "lint,py399", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=REPO,
    )


def test_readme_tox_command_skips_a_python_this_machine_lacks(tmp_path: Path) -> None:
    pytest.importorskip("tox")
    result = _tox_for_a_missing_python(tmp_path, None)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"tox failed for a missing Python:\n{output[-3000:]}"
    assert re.search(r"py399: SKIP", output), f"tox did not say it skipped py399:\n{output}"


def test_ci_setting_makes_a_missing_python_fail(tmp_path: Path) -> None:
    pytest.importorskip("tox")
    result = _tox_for_a_missing_python(tmp_path, "false")
    assert result.returncode != 0, (
        "with MQSDK_SKIP_MISSING_PYTHONS=false a missing Python must fail"
    )
