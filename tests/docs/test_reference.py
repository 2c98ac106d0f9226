"""The built API reference documents every public name, and every socket option.

*Public names* are those of the modules users and plugin authors import: ``mqsdk``,
``mqsdk.asyncio``, ``mqsdk.auth``, ``mqsdk.auth.asyncio`` (``AsyncioAuthenticator``) and
``mqsdk.plugin``. A module's public names are its ``__all__`` (each of these has one);
for a module without ``__all__`` they would be the names not starting with ``_`` that
it defines or re-exports. For each public class, so are its members whose names do not
start with ``_``, its own and those it inherits from other mqsdk classes, except the
kernel plumbing listed in :data:`KERNEL_PLUMBING` (attributes and methods the I/O
engines and the plugin handle use, not applications).

*Documented* means: a page of the built site has mkdocstrings' heading anchor for it,
either under the name users import (``mqsdk.plugin.Pipe``) or under the place it is
defined (``mqsdk._kernel.pipe.Pipe``; that is how mkdocstrings names what it renders,
and griffe, which mkdocstrings uses, says which place that is). A socket type's own
methods (``pub.wait_for_subscribers``) and every declared socket option are generated
into the reference by docs/_hooks.py, with anchors ``socket-method-<name>`` and
``option-<name>``.
"""

from __future__ import annotations

import enum
import html
import importlib
import importlib.util
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import griffe
import pytest

from mqsdk._kernel.options import OptionSpec
from mqsdk._kernel.registry import get_registry

REPO = Path(__file__).resolve().parents[2]


def _docs_hooks() -> ModuleType:
    """docs/_hooks.py, the MkDocs hook that writes the option table (docs/ is no
    package): the test compares the table with its own type column."""
    path = REPO / "docs" / "_hooks.py"
    spec = importlib.util.spec_from_file_location("mqsdk_docs_hooks", path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


option_type = _docs_hooks().option_type

PUBLIC_MODULES = ("mqsdk", "mqsdk.asyncio", "mqsdk.auth", "mqsdk.auth.asyncio", "mqsdk.plugin")

KERNEL_PLUMBING: dict[str, frozenset[str]] = {
    # The kernel half of every socket. Its public-looking members are how the engines,
    # the SocketHandle and the security selection reach a socket's state; applications
    # use the Socket methods, options and SocketHandle (plugins) instead.
    "mqsdk._kernel.core.SocketCore": frozenset(
        {
            "as_server",
            "component_options",
            "engine_class",
            "handle",
            "handshake_metadata",
            "io_policy",
            "make_mechanism",
            "mechanism_name",
            "options",
            "pattern",
            "reactor",
            "security",
            "transport_options",
            "zap_client",
        }
    ),
}

_ANCHOR = re.compile(r'\sid="([^"]+)"')


def site_anchors(site: Path) -> set[str]:
    """Every element id on every page of the built site."""
    anchors: set[str] = set()
    for page in site.rglob("*.html"):
        anchors.update(html.unescape(a) for a in _ANCHOR.findall(page.read_text("utf-8")))
    return anchors


@cache
def griffe_modules() -> griffe.ModulesCollection:
    """mqsdk as mkdocstrings sees it (static analysis of the checkout's sources)."""
    loader = griffe.GriffeLoader(search_paths=[str(REPO)])
    loader.load("mqsdk")
    loader.resolve_aliases(implicit=False, external=False)
    return loader.modules_collection


def public_names(module: ModuleType) -> list[str]:
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return list(exported)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    ]


def _griffe_target(module_path: str, name: str) -> griffe.Object | None:
    """Where griffe (and so mkdocstrings) finds ``module_path.name`` defined."""
    try:
        found = griffe_modules()[module_path][name]
    except KeyError:  # assigned in a way static analysis does not follow (a, b = ...)
        return None
    if isinstance(found, griffe.Alias):
        try:
            return found.final_target
        except griffe.AliasResolutionError:
            return None
    return found


def _runtime_paths(value: Any) -> set[str]:
    """The defining place of a class, function or enum member, from the object itself."""
    if isinstance(value, enum.Enum):
        kind = type(value)
        return {f"{kind.__module__}.{kind.__qualname__}.{value.name}"}
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        module, qualname = getattr(value, "__module__", None), value.__qualname__
        return {f"{module}.{qualname}"} if isinstance(module, str) else set()
    return set()


def name_paths(module_path: str, name: str) -> set[str]:
    """The anchors under which the reference may document ``module_path.name``."""
    paths = {f"{module_path}.{name}"}
    target = _griffe_target(module_path, name)
    if target is not None:
        paths.add(target.path)
    paths |= _runtime_paths(getattr(importlib.import_module(module_path), name))
    return paths


def _member_paths(cls: griffe.Class, documented_as: dict[str, set[str]]) -> dict[str, set[str]]:
    """Each public member of ``cls`` (own and inherited from mqsdk classes): the anchors
    that may document it, on the class or on any mqsdk class it derives from, under
    their defining or public names (``mqsdk.plugin.FilteringFairQueue.recv`` is
    documented as ``mqsdk.plugin.FairQueue.recv``). ``documented_as`` maps a class's
    defining path to the anchors it is documented under."""
    classes = [cls.path, *(base.path for base in cls.mro())]
    prefixes = {path for c in classes for path in {c, *documented_as.get(c, set())}}
    members: dict[str, set[str]] = {}
    for name, member in cls.all_members.items():
        if name.startswith("_"):
            continue
        defined_in = member.final_target.parent if isinstance(member, griffe.Alias) else cls
        defined_path = defined_in.path if defined_in is not None else cls.path
        if name in KERNEL_PLUMBING.get(defined_path, frozenset()):
            continue
        members[name] = {f"{prefix}.{name}" for prefix in prefixes}
    return members


def missing_from(anchors: set[str]) -> list[str]:
    """The public names and members no anchor documents, as ``module.name`` (or
    ``module.Class.member``)."""
    missing: list[str] = []
    classes: dict[str, tuple[str, griffe.Class]] = {}  # defining path -> public name, class
    documented_as: dict[str, set[str]] = {}
    for module_path in PUBLIC_MODULES:
        for name in public_names(importlib.import_module(module_path)):
            found = name_paths(module_path, name) & anchors
            if not found:
                missing.append(f"{module_path}.{name}")
                continue
            target = _griffe_target(module_path, name)
            if isinstance(target, griffe.Class):
                classes.setdefault(target.path, (f"{module_path}.{name}", target))
                documented_as.setdefault(target.path, set()).update(found)
    for public_name, cls in classes.values():
        for member, member_paths in _member_paths(cls, documented_as).items():
            if not member_paths & anchors:
                missing.append(f"{public_name}.{member}")
    return missing


def test_every_public_name_and_member_is_in_the_reference(built_site: Path) -> None:
    missing = missing_from(site_anchors(built_site))
    assert not missing, (
        f"{len(missing)} public name(s) absent from the built API reference "
        f"(no mkdocstrings anchor on any page of {built_site}): {', '.join(missing)}"
    )


def test_the_check_notices_a_name_missing(built_site: Path) -> None:
    """The completeness check is not vacuous: remove one class's anchors, one member's
    and one constant's, and it names each."""
    anchors = site_anchors(built_site)
    removed = {
        a
        for a in anchors
        if a == "mqsdk._kernel.socket.Socket.send_string"
        or a.startswith("mqsdk.auth.asyncio.AsyncioAuthenticator")
        or a.endswith(".SocketType.PUSH")
        or a == "mqsdk.PUSH"
    }
    missing = missing_from(anchors - removed)
    assert "mqsdk.Socket.send_string" in missing
    assert "mqsdk.auth.asyncio.AsyncioAuthenticator" in missing
    assert "mqsdk.PUSH" in missing


def undocumented() -> list[str]:
    """The public names and members (as in :func:`missing_from`) without a docstring.
    A class attribute that only gives a new value to one a base class documents
    (``Again.default_errno``, ``Pattern.kind``) needs none: the base says what it means,
    the reference shows the value."""
    found: list[str] = []
    seen: set[str] = set()
    for module_path in PUBLIC_MODULES:
        for name in public_names(importlib.import_module(module_path)):
            target = _griffe_target(module_path, name)
            if target is None or target.path in seen:
                continue
            seen.add(target.path)
            if not target.docstring:
                found.append(f"{module_path}.{name}")
            if not isinstance(target, griffe.Class):
                continue
            bases = target.mro()
            for member_name, member in target.all_members.items():
                if member_name.startswith("_"):
                    continue
                obj = member.final_target if isinstance(member, griffe.Alias) else member
                owner = obj.parent.path if obj.parent is not None else target.path
                if obj.path in seen or member_name in KERNEL_PLUMBING.get(owner, frozenset()):
                    continue
                seen.add(obj.path)
                if obj.docstring:
                    continue
                documented_in_base = any(
                    member_name in base.members and base.members[member_name].docstring
                    for base in bases
                )
                if not documented_in_base:
                    found.append(f"{module_path}.{name}.{member_name} ({obj.path})")
    return found


def test_every_public_name_has_a_docstring() -> None:
    missing = undocumented()
    assert not missing, f"{len(missing)} public name(s) without a docstring: {missing}"


def _declared_options() -> dict[str, list[tuple[str, OptionSpec]]]:
    """Every option any socket type has here, with the socket types that have it."""
    registry = get_registry()
    options: dict[str, list[tuple[str, OptionSpec]]] = {}
    for socket_type, pattern in sorted(registry.patterns.items()):
        for spec in registry.option_table(pattern).specs.values():
            options.setdefault(spec.name, []).append((socket_type, spec))
    return options


def _option_rows(built_site: Path) -> dict[str, list[str]]:
    """The cells of each option table row of the API page, by option anchor."""
    page = (built_site / "api" / "index.html").read_text("utf-8")
    rows: dict[str, list[str]] = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        anchor = re.search(r'id="option-([^"]+)"', row)
        if anchor is None:
            continue
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows[anchor.group(1)] = [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells
        ]
    return rows


def test_every_declared_option_is_in_the_option_table(built_site: Path) -> None:
    """Generated from the declarations: a row per option, with its type, default,
    libzmq number and the socket types (pattern options) or transports (transport
    options) it belongs to."""
    rows = _option_rows(built_site)
    declared = _declared_options()
    missing = sorted(set(declared) - set(rows))
    assert not missing, f"options declared but not in the built option table: {missing}"
    for name, holders in declared.items():
        option, kind, default, number, applies_to, _description = rows[name]
        spec = holders[0][1]
        assert option == name
        assert kind == option_type(spec), (name, kind)
        assert number == ("" if spec.number is None else str(spec.number)), (name, number)
        if spec.model is not None and not spec.write_only:
            assert repr(spec.default) in default, (name, default)
        if spec.kind == "pattern":
            for socket_type, held in holders:
                if held.kind == "pattern":
                    assert socket_type in applies_to.replace(",", " ").split(), (
                        name,
                        socket_type,
                        applies_to,
                    )
        elif spec.kind == "transport":
            assert spec.owner in applies_to, (name, applies_to)


def test_socket_type_methods_are_in_the_reference(built_site: Path) -> None:
    """Methods a pattern offers on the socket itself (``pub.wait_for_subscribers``)."""
    anchors = site_anchors(built_site)
    offered = {
        name for pattern in get_registry().patterns.values() for name in pattern.socket_methods
    }
    assert offered, "no pattern offers a socket method: is mqsdk-pattern-pubsub installed?"
    missing = sorted(name for name in offered if f"socket-method-{name}" not in anchors)
    assert not missing, f"socket methods absent from the built reference: {missing}"


def test_the_hook_reference_has_every_hook(built_site: Path) -> None:
    """Every hook mqsdk.hookspecs declares is on the hook reference page (its member
    list is written out in docs/hookspecs.md), and so is what a transport declares
    (``loopback_endpoint``, on the Transport base)."""
    import mqsdk.hookspecs

    anchors = site_anchors(built_site / "hookspecs")
    hooks = [name for name in vars(mqsdk.hookspecs) if name.startswith("mqsdk_")]
    missing = [name for name in hooks if f"mqsdk.hookspecs.{name}" not in anchors]
    assert hooks and not missing, f"hooks absent from the hook reference: {missing}"
    assert "mqsdk._kernel.transport.Transport.loopback_endpoint" in anchors


def test_the_transports_hook_names_every_transport_kind() -> None:
    """``mqsdk_transports`` takes a subclass of any of the kernel's transport kinds."""
    import mqsdk.hookspecs
    from mqsdk._kernel.transport import Transport

    kinds = [k.__name__ for k in Transport.__subclasses__() if k.__module__ == Transport.__module__]
    doc = mqsdk.hookspecs.mqsdk_transports.__doc__ or ""
    assert kinds and all(kind in doc for kind in kinds), (kinds, doc)


@pytest.mark.parametrize("page", ["api/index.html", "hookspecs/index.html"])
def test_no_sphinx_markup_is_left_in_the_reference(built_site: Path, page: str) -> None:
    """``::`` (a Sphinx literal block) and ``:class:`` roles are rendered, not shown."""
    text = re.sub(r"<[^>]+>", "", (built_site / page).read_text("utf-8"))
    text = html.unescape(text)
    leftovers = sorted(set(re.findall(r"\S*::(?:\s|$)|:(?:class|meth|func|mod|data):", text)))
    assert not leftovers, f"{page}: Sphinx markup shown literally: {leftovers}"
