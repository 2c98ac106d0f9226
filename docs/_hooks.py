"""MkDocs hook: show the Sphinx roles of mqsdk's docstrings as plain code.

The docstrings cross-reference with ``:class:`~mqsdk.errors.Again```, which mkdocstrings
renders literally (":class:" and a code span). This keeps the code span and drops the
role, shortening ``~``-prefixed names to their last part, as Sphinx would.
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
