"""MkDocs hooks: show the Sphinx roles of mqsdk's docstrings as plain code, and put
the socket option tables generated from the components' declarations into the pages.

The docstrings cross-reference with ``:class:`~mqsdk.errors.Again```, which mkdocstrings
renders literally (":class:" and a code span). This keeps the code span and drops the
role, shortening ``~``-prefixed names to their last part, as Sphinx would.

A page's ``<!-- option-tables -->`` line becomes the merged option tables of the
plugins installed where the docs are built (:func:`mqsdk._kernel.options.render_reference`).
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|exc|data|obj|ref):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_code, html)


_OPTION_TABLES = "<!-- option-tables -->"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if _OPTION_TABLES not in markdown:
        return markdown
    from mqsdk._kernel.options import render_reference
    from mqsdk._kernel.registry import get_registry

    registry = get_registry()
    tables = {name: registry.option_table(cls) for name, cls in registry.patterns.items()}
    return markdown.replace(_OPTION_TABLES, render_reference(tables))
