"""The bundled plugins and contrib/ keep to the declared plugin interface.

A plugin may import ``mqsdk`` (the public API), ``mqsdk.plugin`` (the authors' surface)
and ``mqsdk.zmtp`` (the wire codec), but not another plugin's package (a wrapping
transport finds the one it wraps through the registry). It may not touch a private
member of a kernel object: no ``x._name`` where ``_name`` is private in the kernel and
not the plugin's own, no ``getattr(x, "_name")``, no ``from mqsdk... import _name``.
What the kernel calls a private member is read from the kernel's source, so a new
private there is covered at once.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNEL = ROOT / "mqsdk"
ALLOWED_MODULES = ("mqsdk", "mqsdk.plugin", "mqsdk.zmtp")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_names(trees: list[ast.Module]) -> set[str]:
    """Every private name a body of code defines: functions, classes, slots, attributes
    assigned on any object, module and class variables."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
            ):
                names.update(
                    item.value
                    for item in ast.walk(node.value)
                    if isinstance(item, ast.Constant) and isinstance(item.value, str)
                )
    return {name for name in names if _is_private(name)}


def _parse(paths: list[Path]) -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in paths]


def _kernel_privates() -> set[str]:
    trees = [tree for _, tree in _parse(sorted(KERNEL.rglob("*.py")))]
    return _defined_names(trees)


def violations(
    files: list[tuple[Path, ast.Module]],
    kernel_privates: set[str],
    own_packages: frozenset[str] = frozenset(),
) -> list[str]:
    """What the plugin code in ``files`` (one distribution, whose top-level packages are
    ``own_packages``) does that it may not."""
    own = _defined_names([tree for _, tree in files])
    foreign = kernel_privates - own
    found: list[str] = []
    for path, tree in files:
        for node in ast.walk(tree):
            shown = path.relative_to(ROOT) if path.is_absolute() else path
            where = f"{shown}:{getattr(node, 'lineno', 0)}"
            imported = (
                [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for module in imported:
                top = module.partition(".")[0]
                if top.startswith("mqsdk_") and top not in own_packages:
                    found.append(f"{where}: imports another plugin's {module}")
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                module = node.module
                if module == "mqsdk" or module.startswith("mqsdk."):
                    if not (module in ALLOWED_MODULES or module.startswith("mqsdk.zmtp.")):
                        found.append(f"{where}: imports from {module} (use mqsdk.plugin)")
                    for alias in node.names:
                        if _is_private(alias.name):
                            found.append(f"{where}: imports private {module}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    module = alias.name
                    if module.startswith("mqsdk.") and not (
                        module in ALLOWED_MODULES or module.startswith("mqsdk.zmtp.")
                    ):
                        found.append(f"{where}: imports {module} (use mqsdk.plugin)")
            elif isinstance(node, ast.Attribute) and node.attr in foreign:
                target = node.value
                if isinstance(target, ast.Name) and target.id in ("self", "cls"):
                    continue
                found.append(f"{where}: touches the kernel's private .{node.attr}")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and node.args[1].value in foreign
            ):
                found.append(f"{where}: {node.func.id}(..., {node.args[1].value!r})")
    return found


DISTRIBUTIONS = [*ROOT.glob("plugins/*/src"), *ROOT.glob("contrib/*/src")]


def test_every_distribution_is_checked() -> None:
    names = {path.parent.name for path in DISTRIBUTIONS}
    assert {"transport-inproc", "transport-udp", "transport-pgm", "pattern-pubsub"} <= names
    assert {"transport-chaos", "transport-tls", "transport-template"} <= names


@pytest.mark.parametrize(
    "source",
    sorted(DISTRIBUTIONS),
    ids=lambda path: f"{path.parent.parent.name}/{path.parent.name}",
)
def test_plugin_keeps_to_the_declared_interface(source: Path) -> None:
    files = _parse(sorted(source.rglob("*.py")))
    assert files, f"no Python files under {source}"
    own = frozenset(path.name for path in source.iterdir() if path.is_dir())
    found = violations(files, _kernel_privates(), own)
    assert not found, "plugin code reaches past mqsdk.plugin:\n" + "\n".join(found)


def test_the_check_catches_what_plugins_did_before() -> None:
    """The forms plugins used before the handle existed are each reported."""
    source = """
from mqsdk._kernel.pipe import Pipe
from mqsdk.errors import _hidden
import mqsdk._kernel.socket
from mqsdk_transport_tcp import TcpTransport
import mqsdk_example.helpers

def attach(socket, pipe):
    socket._attach_pipe(pipe)
    pipe.owner._pipe_readable(pipe)
    getattr(socket, "_pipe_events")

class Mine:
    def __init__(self):
        self._own = 1

    def use(self, other):
        return other._own  # the plugin's own private: allowed
"""
    tree = ast.parse(source)
    found = violations(
        [(Path("example.py"), tree)],
        {"_attach_pipe", "_pipe_readable", "_pipe_events", "_own"},
        frozenset({"mqsdk_example"}),
    )
    text = "\n".join(found)
    assert "imports from mqsdk._kernel.pipe" in text
    assert "imports private mqsdk.errors._hidden" in text
    assert "imports mqsdk._kernel.socket" in text
    assert "._attach_pipe" in text
    assert "._pipe_readable" in text
    assert "'_pipe_events'" in text
    assert "_own" not in text
    assert "imports another plugin's mqsdk_transport_tcp" in text
    assert "mqsdk_example" not in text  # its own package
    assert len(found) == 8, text


def test_kernel_privates_are_found() -> None:
    privates = _kernel_privates()
    assert {"_attach", "_pipe_events", "_event", "_in_reactor"} <= privates


@pytest.mark.parametrize(
    "project",
    sorted([*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("contrib/*/pyproject.toml")]),
    ids=lambda path: path.parent.name,
)
def test_distribution_pins_the_kernel_range(project: Path) -> None:
    """Each plugin names the kernel releases it was written for: this one, and an upper
    bound before the next that may change the interface."""
    import tomllib

    from packaging.requirements import Requirement

    import mqsdk

    dependencies = tomllib.loads(project.read_text())["project"]["dependencies"]
    kernel = [Requirement(d) for d in dependencies if Requirement(d).name == "mqsdk"]
    assert len(kernel) == 1, f"{project}: depend on mqsdk once, with a version range"
    specifier = kernel[0].specifier
    assert specifier.contains(mqsdk.__version__), f"{project}: {specifier} excludes this kernel"
    assert any(spec.operator in ("<", "<=", "~=", "==") for spec in specifier), (
        f"{project}: {specifier} has no upper bound"
    )


def test_each_version_has_one_source() -> None:
    """The kernel's version is ``mqsdk.__version__`` (pyproject reads it); a plugin's is
    its pyproject's ``version`` (the registry reads the installed metadata), never also
    a ``__version__`` in its code that could drift from it."""
    import tomllib

    kernel = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in kernel.get("dynamic", []), "the kernel's version comes from mqsdk"
    for source in DISTRIBUTIONS:
        for path in sorted(source.rglob("*.py")):
            tree = ast.parse(path.read_text())
            assigned = {
                target.id
                for node in tree.body
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            assert "__version__" not in assigned, f"{path}: the version lives in pyproject.toml"
