"""Fixtures for the tests of the built documentation site.

``built_site`` is the directory of a site built with ``mkdocs build --strict``: the one
``$MQSDK_BUILT_SITE`` names (the tox ``docs`` env builds it once, then runs these tests
on it), or else one built here, once per session, so ``pytest tests/docs`` works alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Read at import: the suite's autouse fixture (tests/conftest.py) removes every MQSDK_*
# variable before each test, so a later lookup could miss the site tox built.
PREBUILT_SITE = os.environ.get("MQSDK_BUILT_SITE", "").strip()

# A cold build (mkdocstrings loads every module) takes seconds; on a loaded 2-core CI
# machine give it room, but never hang the run.
BUILD_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site's directory (holding ``index.html``, ``api/index.html``...)."""
    if PREBUILT_SITE:
        site = Path(PREBUILT_SITE)
        if not (site / "index.html").is_file():
            pytest.fail(f"MQSDK_BUILT_SITE={PREBUILT_SITE}: no index.html there; build it first")
        return site
    site = tmp_path_factory.mktemp("site")
    env = {name: value for name, value in os.environ.items() if not name.startswith("MQSDK_")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    try:
        build = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"mkdocs build did not finish within {BUILD_TIMEOUT_SECONDS} s")
    if build.returncode != 0:
        pytest.fail(
            f"mkdocs build --strict failed (exit {build.returncode}):\n"
            f"{build.stdout[-4000:]}\n{build.stderr[-8000:]}"
        )
    return site
