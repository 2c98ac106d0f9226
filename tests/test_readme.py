"""The Python examples of the README and of docs/*.md run as written."""

from __future__ import annotations

import re
import subprocess
import sys

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
