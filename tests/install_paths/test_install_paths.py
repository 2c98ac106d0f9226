"""Every install command the docs give, run in a brand-new venv from a clean copy of the
checkout, and what that install then allows (or the clear error it gives).

``test_every_documented_install_command_is_tested`` reads each ``pip install`` in the
README, CONTRIBUTING.md, docs/*.md and the plugins' READMEs, and fails on one that no test
here runs and no entry of ``NOT_RUN_HERE`` explains, so a new or changed command in the
docs cannot go unproven. Each other test is one install path: the documented command,
then a tiny real program (PUSH/PULL over tcp on 127.0.0.1) or the error the docs promise.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REPO, Venv

pytestmark = pytest.mark.timeout(900)  # installs may download wheels on a cold cache

# pip install ARGS as the docs write them -> the test that runs exactly that command.
TESTED = {
    ("-r", "requirements.txt"): "test_bundled_set",
    ("-r", "requirements-dev.txt"): "test_editable_bundled_set_and_contrib",
    ("-e", "contrib/transport-tls"): "test_editable_bundled_set_and_contrib",
    ("-e", "contrib/transport-chaos"): "test_editable_bundled_set_and_contrib",
    ("-e", "contrib/poller-io_uring"): "test_editable_bundled_set_and_contrib",
    ("-r", "requirements-test.txt"): "test_contributor_set",
    (".",): "test_kernel_alone",
    (".[cli]",): "test_kernel_alone_with_cli",
    (".[tornado]",): "test_tornado_extra",
    (
        ".",
        "plugins/poller-epoll",
        "plugins/transport-tcp",
        "plugins/pattern-pipeline",
    ): "test_chosen_set",
}

# Commands in the docs that are not an install path of mqsdk from this checkout, and why.
NOT_RUN_HERE = {
    ("tox", "tox-uv"): "the test runner (tox then runs everything, this test included)",
    ("-e", ".", "&&", "pytest", "tests"): (
        "contrib/transport-template's recipe for a renamed copy: "
        "tests/test_transport_template.py runs it"
    ),
    ("--target",): "docs/vm-tests.md: how .ci/vm-kernel-tests stages packages for the VM",
    ("--no-cache-dir", "--force-reinstall", "--no-deps", "--no-binary", "mqsdk", "mqsdk"): (
        "release.md, once mqsdk is on a package index: rebuilds the sdist with a compiler"
    ),
    ("--no-binary", "mqsdk", "mqsdk"): "release.md, once mqsdk is on a package index",
}

DOCUMENTS = [
    REPO / "README.md",
    REPO / "CONTRIBUTING.md",
    *sorted((REPO / "docs").rglob("*.md")),
    *sorted(REPO.glob("plugins/*/README.md")),
    *sorted(REPO.glob("contrib/*/README.md")),
]

# "pip install" and its arguments, up to the end of the code span, line or comment; a
# `&& next command` stays in, so the template's two-step recipe is seen whole.
PIP_INSTALL = re.compile(r"pip install ([^`\n#|;]+)")

# PUSH/PULL over tcp, bounded: a lost message fails after rcvtimeo instead of hanging.
PUSH_PULL = """
import json
import mqsdk

ctx = mqsdk.Context()
pull = ctx.socket(mqsdk.PULL)
pull.rcvtimeo = 30000
pull.bind("tcp://127.0.0.1:*")
push = ctx.socket(mqsdk.PUSH)
push.connect(pull.last_endpoint.decode())
push.send_multipart([b"task", b"1"])
frames = pull.recv_multipart()
print(json.dumps({
    "received": [f.decode() for f in frames],
    "compiled": mqsdk.kernel_info().compiled,
    "package": mqsdk.__file__,
}))
ctx.destroy(linger=0)
"""

# What a user of the kernel alone sees first.
FIRST_CONTEXT = """
import mqsdk

try:
    mqsdk.Context()
except mqsdk.ConfigError as exc:
    print(exc)
else:
    raise SystemExit("a Context was made with no poller installed")
"""

# With only PUSH/PULL and tcp installed: another socket type and another transport.
MISSING_PLUGINS = """
import json
import mqsdk

ctx = mqsdk.Context()
answers = {}
try:
    ctx.socket(mqsdk.REQ)
except mqsdk.PluginError as exc:
    answers["REQ"] = str(exc)
push = ctx.socket(mqsdk.PUSH)
try:
    push.connect("ipc:///nonexistent/mqsdk-install-path-test")
except mqsdk.UnsupportedTransport as exc:
    answers["ipc"] = str(exc)
print(json.dumps(answers))
ctx.destroy(linger=0)
"""


def documented_commands() -> dict[tuple[str, ...], list[str]]:
    """Each distinct ``pip install`` argument list in the docs -> where it appears."""
    found: dict[tuple[str, ...], list[str]] = {}
    for document in DOCUMENTS:
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
            for match in PIP_INSTALL.finditer(line):
                # Code spans end at the backtick, so no prose punctuation is taken in.
                text = match.group(1).strip()
                # `... && python3 -P -m mqsdk demo` runs the install, then the program.
                args = shlex.split(text.split(" && python")[0])
                found.setdefault(tuple(args), []).append(f"{document.relative_to(REPO)}:{number}")
    return found


def bundled_distributions(source: Path) -> set[str]:
    return {
        tomllib.loads(path.read_text())["project"]["name"]
        for path in source.glob("plugins/*/pyproject.toml")
    }


def installed_distributions(venv: Venv, cwd: Path) -> set[str]:
    rows = json.loads(venv.run("mqsdk", "plugins", "--json", cwd=cwd).stdout)
    return {row["distribution"] for row in rows}


def push_pull(venv: Venv, cwd: Path) -> dict[str, object]:
    script = cwd / "push_pull.py"
    script.write_text(PUSH_PULL)
    answer: dict[str, object] = json.loads(venv.run("python", "-P", str(script), cwd=cwd).stdout)
    assert answer["received"] == ["task", "1"]
    return answer


def has_module(venv: Venv, module: str, cwd: Path) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return venv.run("python", "-P", "-c", probe, cwd=cwd, check=False).returncode == 0


def test_every_documented_install_command_is_tested() -> None:
    found = documented_commands()
    unproven = {
        " ".join(args): places
        for args, places in found.items()
        if args not in TESTED and args not in NOT_RUN_HERE
    }
    assert not unproven, (
        "install commands in the docs that no install-path test runs (add a test to "
        f"TESTED, or a reason to NOT_RUN_HERE): {unproven}"
    )
    gone = sorted(" ".join(args) for args in TESTED if args not in found)
    assert not gone, f"tested commands that no document gives any more: {gone}"


def test_bundled_set(make_venv: Callable[[str], Venv], empty_dir: Path) -> None:
    """README command one: the kernel, every bundled plugin and rich; the demo runs."""
    venv = make_venv("bundled")
    venv.pip_install("-r", "requirements.txt")
    assert installed_distributions(venv, empty_dir) == {
        "mqsdk",
        *bundled_distributions(venv.source),
    }
    answer = push_pull(venv, empty_dir)
    assert str(answer["package"]).startswith(str(venv.path)), "not the installed package"
    assert has_module(venv, "rich", empty_dir), "requirements.txt installs .[cli]"
    demo = venv.run(
        "python", "-P", "-m", "mqsdk", "demo", "--transport", "tcp", "--count", "20",
        cwd=empty_dir,
    )  # fmt: skip
    assert " 0 failed" in demo.stdout, demo.stdout


def test_editable_bundled_set_and_contrib(
    make_venv: Callable[[str], Venv], empty_dir: Path
) -> None:
    """requirements-dev.txt: the same set, editable (the copy's sources run), always pure;
    then each contrib plugin's documented command on top of it."""
    venv = make_venv("dev")
    venv.pip_install("-r", "requirements-dev.txt")
    assert installed_distributions(venv, empty_dir) == {
        "mqsdk",
        *bundled_distributions(venv.source),
    }
    answer = push_pull(venv, empty_dir)
    assert str(answer["package"]).startswith(str(venv.source)), "not editable"
    assert answer["compiled"] is False, "an editable install is always pure"

    for contrib in ("transport-tls", "transport-chaos", "poller-io_uring"):
        venv.pip_install("-e", f"contrib/{contrib}")
    rows = json.loads(venv.run("mqsdk", "plugins", "--json", cwd=empty_dir).stdout)
    names = {(row["kind"], row["name"]) for row in rows}
    assert {("transport", "tls"), ("poller", "io_uring")} <= names, names
    assert any(kind == "transport" and name.startswith("chaos") for kind, name in names), names
    cells = json.loads(
        venv.run(
            "python", "-P", "-m", "mqsdk", "demo", "--transport", "tls", "--transport",
            "chaos+tcp", "--pattern", "PUSH/PULL", "--count", "20", "--json",
            cwd=empty_dir,
        ).stdout
    )  # fmt: skip
    outcomes = {cell["transport"]: cell["outcome"] for cell in cells}
    assert outcomes == {"tls": "ok", "chaos+tcp": "ok"}, cells


def test_contributor_set(make_venv: Callable[[str], Venv], empty_dir: Path) -> None:
    """CONTRIBUTING.md's command: everything editable, the contrib plugins CI tests, the
    example plugin and the test tools."""
    venv = make_venv("test")
    venv.pip_install("-r", "requirements-test.txt")
    distributions = installed_distributions(venv, empty_dir)
    assert bundled_distributions(venv.source) <= distributions
    assert {
        "mqsdk-transport-tls",
        "mqsdk-transport-chaos",
        "mqsdk-poller-io-uring",
    } <= {d.replace("_", "-") for d in distributions}, distributions
    push_pull(venv, empty_dir)
    for tool in ("pytest", "zmq", "hypothesis", "tox"):
        assert has_module(venv, tool, empty_dir), f"requirements-test.txt lacks {tool}"


def test_kernel_alone(make_venv: Callable[[str], Venv], empty_dir: Path) -> None:
    """``pip install .`` is the kernel only: the first Context says what to install, and
    so does ``mqsdk plugins``; without rich, plain text."""
    venv = make_venv("kernel")
    venv.pip_install(".")
    assert installed_distributions(venv, empty_dir) == {"mqsdk"}
    assert not has_module(venv, "rich", empty_dir)
    script = empty_dir / "first_context.py"
    script.write_text(FIRST_CONTEXT)
    message = venv.run("python", "-P", str(script), cwd=empty_dir).stdout
    assert "no poller backend can run" in message
    for advice in ("mqsdk-poller-epoll", "mqsdk-poller-select", "requirements.txt"):
        assert advice in message, f"{advice!r} not in the error: {message}"
    listing = venv.run("mqsdk", "plugins", cwd=empty_dir)
    for advice in ("no usable poller", "requirements.txt", "plugins/poller-epoll"):
        assert advice in listing.stderr, f"{advice!r} not in mqsdk plugins: {listing.stderr}"


def test_kernel_alone_with_cli(make_venv: Callable[[str], Venv], empty_dir: Path) -> None:
    """``pip install .[cli]``: the kernel alone, with rich for the tables."""
    venv = make_venv("kernel-cli")
    venv.pip_install(".[cli]")
    assert installed_distributions(venv, empty_dir) == {"mqsdk"}
    assert has_module(venv, "rich", empty_dir)


def test_tornado_extra(make_venv: Callable[[str], Venv], empty_dir: Path) -> None:
    """``pip install .[tornado]``: what mqsdk.zmqstream (zmq.eventloop) needs."""
    venv = make_venv("tornado")
    venv.pip_install(".[tornado]")
    venv.run("python", "-P", "-c", "import mqsdk.zmqstream", cwd=empty_dir)


def test_chosen_set(make_venv: Callable[[str], Venv], empty_dir: Path) -> None:
    """The kernel, a poller, a transport and a pattern by name: PUSH/PULL over tcp works;
    a socket type or transport not installed names the distribution to add."""
    venv = make_venv("chosen")
    venv.pip_install(
        ".", "plugins/poller-epoll", "plugins/transport-tcp", "plugins/pattern-pipeline"
    )
    assert installed_distributions(venv, empty_dir) == {
        "mqsdk",
        "mqsdk-poller-epoll",
        "mqsdk-transport-tcp",
        "mqsdk-pattern-pipeline",
    }
    push_pull(venv, empty_dir)
    script = empty_dir / "missing.py"
    script.write_text(MISSING_PLUGINS)
    answers = json.loads(venv.run("python", "-P", str(script), cwd=empty_dir).stdout)
    assert "mqsdk-pattern-reqrep" in answers.get("REQ", ""), answers
    assert "plugins/pattern-reqrep" in answers["REQ"], answers
    assert "mqsdk-transport-ipc" in answers.get("ipc", ""), answers
