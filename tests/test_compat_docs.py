"""docs/migrating.md's account of pyzmq's suite is the expected-results file's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_migrating_page_matches_the_expected_results() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "pyzmq_suite" / "migrating.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
