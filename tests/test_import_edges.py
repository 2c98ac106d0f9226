"""Kernel modules that must not pull in the layers above them (fresh interpreters)."""

from __future__ import annotations

import ast
import subprocess
import sys


def _loaded_after(statement: str, watched: list[str]) -> list[str]:
    code = f"import sys; {statement}; print(sorted(m for m in {watched!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return list(ast.literal_eval(result.stdout))


def test_z85_does_not_load_the_registry() -> None:
    # Z85 is text encoding; only curve_keypair/curve_public need the CURVE plugin, and
    # they look it up when called.
    watched = ["mqsdk._kernel.registry", "mqsdk._kernel.context"]
    assert _loaded_after("import mqsdk.z85", watched) == []


def test_the_engine_imports_neither_the_zap_client_nor_the_socket() -> None:
    # The socket hands its engines the ZAP client (which is built on a socket).
    watched = [
        "mqsdk._kernel.zap",
        "mqsdk._kernel.socket",
        "mqsdk._kernel.context",
        "mqsdk._kernel.registry",
    ]
    assert _loaded_after("import mqsdk._kernel.engine", watched) == []


def test_the_public_names_are_there_when_used() -> None:
    loaded = _loaded_after(
        "import mqsdk; assert mqsdk.Socket.__name__ == 'Socket' and mqsdk.Context",
        ["mqsdk._kernel.socket", "mqsdk._kernel.context"],
    )
    assert loaded == ["mqsdk._kernel.context", "mqsdk._kernel.socket"]
