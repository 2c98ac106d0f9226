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


HEAVY = ["pydantic", "pluggy", "mqsdk._kernel.registry", "mqsdk._kernel.options", "mqsdk.config"]


def test_import_mqsdk_loads_no_models_and_no_plugin_machinery() -> None:
    # `import mqsdk` (and reading a socket-type constant) must stay cheap: pydantic's
    # model building alone took about 230 ms when the option models loaded eagerly.
    assert _loaded_after("import mqsdk; mqsdk.PUSH; mqsdk.MQError", HEAVY) == []


def test_option_constants_load_on_first_use_and_match_the_declarations() -> None:
    code = (
        "import mqsdk; "
        "from mqsdk._kernel.options import OPTION_NUMBERS; "
        "assert mqsdk.SUBSCRIBE == 6 and mqsdk.IDENTITY == OPTION_NUMBERS['routing_id']; "
        "assert all(getattr(mqsdk, n.upper()) == v for n, v in OPTION_NUMBERS.items()); "
        "assert 'SNDHWM' in dir(mqsdk) and 'SNDHWM' in vars(mqsdk)"
    )
    assert _loaded_after(code, ["pydantic"]) == ["pydantic"]


def test_mqsdk_version_loads_no_models_and_no_plugin_machinery() -> None:
    code = (
        "import sys, runpy; sys.argv = ['mqsdk', '--version']\n"
        "try:\n    runpy.run_module('mqsdk', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    version_line, loaded = result.stdout.strip().splitlines()
    assert version_line.startswith("mqsdk ")
    assert ast.literal_eval(loaded) == []
