"""MkDocs hook: a code span naming a file or folder of the repository links to it.

Pages name repository files as inline code (``benchmarks/RESULTS.md``,
``plugins/transport-tcp/``). On the site a reader wants to open them, so each such span
becomes a link to the file on the main branch (``blob/main/...``; ``tree/main/...`` for a
folder). Only paths that exist in the checkout the site is built from are linked, and
only under the repository's top-level folders or among a few top-level files that cannot
mean anything else (``tox.ini``), so an endpoint or an option name is never taken for a
path; ``tests/test_docs_citations.py`` makes sure the cited paths exist and
``tests/docs/test_links.py`` that every repository link of the built site resolves.
Code blocks and spans that are already links are left as they are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BRANCH = "main"

# Paths inside the repository's top-level folders, and the top-level files that only ever
# mean this repository's. `pyproject.toml` or `README.md` alone often means the reader's
# own file or a plugin's, so pages link those by hand.
_TOP_LEVEL_FOLDERS = ("mqsdk", "plugins", "contrib", "benchmarks", "tests", "docs", ".ci")
_TOP_LEVEL_FILES = (
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "tox.ini",
    "mkdocs.yml",
    "hatch_build.py",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-test.txt",
)
_PATH = re.compile(
    "|".join(re.escape(name) for name in _TOP_LEVEL_FILES)
    + "|(?:"
    + "|".join(re.escape(name) for name in _TOP_LEVEL_FOLDERS)
    + r")/(?:[\w.-]+/)*[\w.-]*"
)
# Blocks and links are copied as they are; only the text between them is rewritten.
_KEEP = re.compile(r"<pre\b.*?</pre>|<a\b.*?</a>", re.S)
_CODE = re.compile(r"<code>([^<]+)</code>")


def repository_link(path: str, repo_url: str) -> str:
    """The address of ``path`` (relative to the repository's root) on the main branch of
    the repository at ``repo_url`` (mkdocs.yml's ``repo_url``)."""
    kind = "tree" if path.endswith("/") else "blob"
    return f"{repo_url.rstrip('/')}/{kind}/{BRANCH}/{path.rstrip('/')}"


def _linked(match: re.Match[str], root: Path, repo_url: str) -> str:
    text = match.group(1)
    if not _PATH.fullmatch(text) or {"..", "__pycache__"} & set(text.split("/")):
        return match.group(0)
    target = root / text
    if target.is_dir():
        path = text.rstrip("/") + "/"
    elif target.is_file():
        path = text
    else:
        return match.group(0)
    return f'<a href="{repository_link(path, repo_url)}"><code>{text}</code></a>'


def link_repository_paths(html: str, root: Path, repo_url: str) -> str:
    """``html`` with each ``<code>`` naming an existing repository path made a link."""

    def link(match: re.Match[str]) -> str:
        return _linked(match, root, repo_url)

    pieces: list[str] = []
    position = 0
    for kept in _KEEP.finditer(html):
        pieces.append(_CODE.sub(link, html[position : kept.start()]))
        pieces.append(kept.group(0))
        position = kept.end()
    pieces.append(_CODE.sub(link, html[position:]))
    return "".join(pieces)


def on_page_content(html: str, *, config: Any, **kwargs: Any) -> str:
    root = Path(config["config_file_path"]).resolve().parent
    return link_repository_paths(html, root, config["repo_url"])
