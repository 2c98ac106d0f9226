"""MkDocs hooks: show the Sphinx roles of mqsdk's docstrings as plain code, and put
the socket option tables generated from the components' declarations into the pages.

The docstrings cross-reference with ``:class:`~mqsdk.errors.Again```, which mkdocstrings
renders literally (":class:" and a code span). This keeps the code span and drops the
role, shortening ``~``-prefixed names to their last part, as Sphinx would; and it drops
the ``::`` that introduces a literal block, as Sphinx does.

A page's ``<!-- option-tables -->`` line becomes the option table of the plugins
installed where the docs are built (:func:`render_reference`, from the options'
declarations; kept here, not in the kernel, since only the docs need it), and
its ``<!-- socket-methods -->`` line the methods their patterns offer on the socket itself
(``pub.wait_for_subscribers``), documented from the pattern's own docstring; its
``<!-- connection-states -->`` line a mermaid state diagram drawn from
``mqsdk.zmtp.connection.TRANSITIONS``, so it cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mqsdk._kernel.options import OptionModel, OptionSpec, OptionTable

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|exc|data|obj|ref):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


# A Sphinx literal block: "text::" (or a paragraph "::" alone) before an indented block,
# which Markdown already made a code block. Sphinx shows "text:" and nothing for "::".
_LITERAL_MARKER = re.compile(r"(?:<p>::</p>\s*|::</p>)(?=\s*<div class=\"highlight\">)")


def _literal_marker(match: re.Match[str]) -> str:
    return "" if match.group(0).startswith("<p>") else ":</p>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return _LITERAL_MARKER.sub(_literal_marker, _ROLE.sub(_code, html))


_OPTION_TABLES = "<!-- option-tables -->"


_SOCKET_METHODS = "<!-- socket-methods -->"

_CONNECTION_STATES = "<!-- connection-states -->"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if _OPTION_TABLES in markdown:
        markdown = markdown.replace(_OPTION_TABLES, _option_table())
    if _SOCKET_METHODS in markdown:
        markdown = markdown.replace(_SOCKET_METHODS, _socket_methods())
    if _CONNECTION_STATES in markdown:
        markdown = markdown.replace(_CONNECTION_STATES, connection_state_diagram())
    return markdown


def _option_table() -> str:
    from mqsdk._kernel.registry import get_registry

    registry = get_registry()
    tables = {name: registry.option_table(cls) for name, cls in registry.patterns.items()}
    # Every transport and mechanism declaring a model (ws and wss share one).
    declared_by: dict[type[OptionModel], list[str]] = {}
    for kind in ("transport", "mechanism"):
        for component in registry.components(kind):
            model = component.cls.option_model
            if model is not None:
                declared_by.setdefault(model, []).append(component.name)
    return render_reference(tables, {model: sorted(names) for model, names in declared_by.items()})


def _socket_methods() -> str:
    """A mkdocstrings block per method a pattern offers on its sockets, so the method is
    documented from its own docstring, with the socket types that have it."""
    from mqsdk._kernel.registry import get_registry

    offered: dict[str, tuple[str, list[str]]] = {}  # method -> (defining path, socket types)
    for socket_type, pattern in sorted(get_registry().patterns.items()):
        for method in sorted(pattern.socket_methods):
            owner = next(k for k in pattern.__mro__ if method in vars(k))
            path = f"{owner.__module__}.{owner.__qualname__}.{method}"
            offered.setdefault(method, (path, []))[1].append(socket_type)
    blocks = []
    for method, (path, socket_types) in sorted(offered.items()):
        blocks.append(
            f'<a id="socket-method-{method}"></a>\n\n'
            f"::: {path}\n"
            "    options:\n"
            "      show_root_full_path: false\n"
            "      heading_level: 4\n\n"
            f"On {', '.join(socket_types)} sockets: `sock.{method}(...)`.\n"
        )
    return "\n".join(blocks)


# int32's and int64's largest values: a declared upper bound that only says "fits the
# C type" is left out of the reference's type column.
_C_INT_LIMITS = frozenset({2**31 - 1, 2**63 - 1})


def option_type(spec: OptionSpec) -> str:
    """The option's value type as the reference shows it, with the range its
    declaration allows: ``int``, ``bytes``, ``int 0 to 1``, ``int ≥ -1``."""
    if spec.model is None:
        return spec.value_type
    field_info = spec.model.model_fields[spec.name]
    annotation = field_info.annotation
    text = getattr(annotation, "__name__", str(annotation))
    low = high = None
    for constraint in field_info.metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    if high in _C_INT_LIMITS:
        high = None
    if low is not None and high is not None:
        return f"{text} {low} to {high}"
    if low is not None:
        return f"{text} ≥ {low}"
    if high is not None:
        return f"{text} ≤ {high}"
    return text


_APPLIES_TO: Mapping[str, str] = {
    "kernel": "every socket",
    "security": "every socket",
    "read-only": "every socket (read-only)",
    "unsupported": "every socket (only libzmq's default)",
}


def render_reference(
    tables: Mapping[str, OptionTable],
    declared_by: Mapping[type[OptionModel], Sequence[str]] | None = None,
) -> str:
    """Markdown for the docs: one table of every option the socket types of ``tables``
    (socket type name -> its merged table) have, with its type, default, libzmq number,
    where it applies (every socket; the socket types whose pattern declares it; the
    transports or mechanism declaring it) and description. The name cell carries the
    anchor ``option-<name>``. ``declared_by`` maps an option model to every component
    declaring it (ws and wss share one), which a merged spec, keeping the first owner
    only, cannot tell."""
    holders: dict[str, list[tuple[str, OptionSpec]]] = {}
    for socket_type, table in sorted(tables.items()):
        for spec in table.specs.values():
            holders.setdefault(spec.name, []).append((socket_type, spec))
    lines = [
        "| option | type | default | libzmq number | applies to | description |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(holders):
        spec = holders[name][0][1]
        own = [(socket_type, s) for socket_type, s in holders[name] if s.kind == "pattern"]
        number = "" if spec.number is None else str(spec.number)
        lines.append(
            f'| <code id="option-{name}">{name}</code> | {option_type(spec)} '
            f"| {_default_cell(spec, own)} | {number} "
            f"| {_applies_to(spec, own, declared_by or {})} "
            f"| {_description_cell(spec, own)} |"
        )
    from mqsdk._kernel.options import ALIASES

    aliases = ", ".join(f"`{a}` sets {' and '.join(t)}" for a, t in ALIASES.items())
    return "\n".join(lines) + f"\n\nAliases, as in pyzmq: {aliases}.\n"


def _description_cell(spec: OptionSpec, own: list[tuple[str, OptionSpec]]) -> str:
    by_doc: dict[str, list[str]] = {}
    for socket_type, held in own or [("", spec)]:
        by_doc.setdefault(" ".join(held.doc.split()), []).append(socket_type)
    if len(by_doc) == 1:
        text = next(iter(by_doc))
    else:  # socket types whose patterns give the same name different meanings
        text = " ".join(f"{', '.join(types)}: {doc}" for doc, types in by_doc.items())
    return text.replace("|", "\\|")


def _default_cell(spec: OptionSpec, own: list[tuple[str, OptionSpec]]) -> str:
    if spec.write_only:
        return "(write-only)"
    if spec.model is None and spec.default is None:
        return ""
    defaults = {repr(s.default) for _, s in own} or {repr(spec.default)}
    if len(defaults) == 1:
        return f"`{defaults.pop()}`"
    # Socket types whose patterns declare the same name with different defaults.
    return "; ".join(f"{socket_type}: `{s.default!r}`" for socket_type, s in own)


def _applies_to(
    spec: OptionSpec,
    own: list[tuple[str, OptionSpec]],
    declared_by: Mapping[type[OptionModel], Sequence[str]],
) -> str:
    if own:
        return ", ".join(socket_type for socket_type, _ in own)
    owners = ", ".join(declared_by.get(spec.model, [spec.owner]) if spec.model else [spec.owner])
    if spec.kind == "transport":
        return f"{owners} endpoints"
    if spec.kind == "mechanism":
        return f"{owners} security"
    return _APPLIES_TO.get(spec.kind, spec.kind)


def connection_state_diagram() -> str:
    """The connection's moves as a mermaid state diagram: one arrow per pair of states
    with the inputs that make that move; inputs that keep the state are left out, and
    those that end the connection from every state are said once, in a note."""
    from mqsdk.zmtp.connection import TRANSITIONS, State

    moves: dict[tuple[State, State], list[str]] = {}
    for (state, happening), target in TRANSITIONS.items():
        if target is not state:
            moves.setdefault((state, target), []).append(happening.value)
    closed = State.CLOSED
    live = [state for state in State if state is not closed]
    endings = [
        happening
        for happening in moves.get((live[0], closed), [])
        if all(happening in moves.get((state, closed), []) for state in live)
    ]
    lines = ["```mermaid", "stateDiagram-v2", f"    [*] --> {State.GREETING.name}"]
    for (state, target), happenings in moves.items():
        shown = [h for h in happenings if not (target is closed and h in endings)]
        if shown:
            lines.append(f"    {state.name} --> {target.name}: {', '.join(shown)}")
    if endings:
        lines += [
            f"    note right of {closed.name}",
            f"        from any state: {', '.join(endings)}",
            "    end note",
        ]
    lines += [f"    {closed.name} --> [*]", "```"]
    return "\n".join(lines)
