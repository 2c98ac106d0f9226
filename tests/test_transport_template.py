"""contrib/transport-template is a valid starting point: copied and renamed the way its
README says, installed into a temporary folder, found through its entry point, and its
tests (the conformance kit) pass, in a subprocess. Nothing is installed into this
environment, so no test scheme is registered here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

TEMPLATE = REPO / "contrib" / "transport-template"


def rename(folder: Path, scheme: str) -> None:
    """Step 2 of the template's README: template -> scheme, Template -> Scheme, in every
    file's text and in file and folder names."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and path.suffix in (".py", ".toml", ".md", ".typed"):
            text = path.read_text()
            path.write_text(text.replace("template", scheme).replace("Template", scheme.title()))
        if "template" in path.name:
            path.rename(path.with_name(path.name.replace("template", scheme)))


@pytest.mark.slow
def test_the_template_copied_renamed_installed_passes_its_tests(tmp_path: Path) -> None:
    copy = tmp_path / "mqsdk-transport-demo"
    shutil.copytree(TEMPLATE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    rename(copy, "demo")
    assert (copy / "src" / "mqsdk_transport_demo" / "py.typed").exists()
    assert "template" not in (copy / "pyproject.toml").read_text()
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(copy)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("MQSDK_")}
    env["PYTHONPATH"] = str(target)
    found = subprocess.run(
        [sys.executable, "-m", "mqsdk", "plugins"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert "mqsdk-transport-demo" in found.stdout, found.stdout + found.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         str(copy / "tests")],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout, tests.stdout[-3000:]


def test_the_template_is_not_installed_here() -> None:
    from importlib import metadata

    names = {ep.name for ep in metadata.entry_points(group="mqsdk.plugins")}
    assert "template" not in names
