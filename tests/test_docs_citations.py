"""Every repository file or folder the README and docs/*.md cite exists.

A citation is a path under one of the repository's top-level folders (``mqsdk/_kernel/socket.py``,
``plugins/transport-tcp/``, ``benchmarks/recv_chain.py``...) in inline code or a code
block, or the target of a relative markdown link. URLs (``tcp://...``, ``https://...``),
option names and dotted Python names are not paths and are never matched.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# The top-level folders of the repository: a token that starts with one of them followed
# by "/" is a citation. Anything else (a URL, an endpoint, an option) cannot match.
TOP_LEVEL = ("mqsdk", "plugins", "contrib", "benchmarks", "tests", "docs", ".ci")
PATH = re.compile(rf"(?:{'|'.join(re.escape(name) for name in TOP_LEVEL)})/[\w.*/-]*")
# A token ends at whitespace, quotes, brackets and the separators code and prose put
# around a path; the path must be the whole token, so "udp://x/tests/y" never matches.
TOKEN_SPLIT = re.compile(r"[\s`'\"()\[\]{}<>,;=|]+")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def _path_tokens(text: str) -> list[str]:
    found = []
    for raw in TOKEN_SPLIT.split(text):
        token = raw.removesuffix("/...").rstrip(".:")  # "pattern-pubsub/..." or a full stop
        if PATH.fullmatch(token):
            found.append(token)
    return found


def citations(page: Path) -> list[tuple[str, Path]]:
    """(as written, path in the repository) for each citation on ``page``."""
    text = page.read_text()
    code_blocks = FENCE.findall(text)
    prose = FENCE.sub("", text)
    cited: list[tuple[str, Path]] = []
    for chunk in [*code_blocks, *INLINE_CODE.findall(prose)]:
        cited += [(token, REPO / token) for token in _path_tokens(chunk)]
    for target in LINK.findall(prose):
        if SCHEME.match(target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        relative = target.split("#", 1)[0]
        cited.append((target, page.parent / relative))
    return cited


def _exists(path: Path) -> bool:
    if "*" in path.name or "*" in str(path.parent):
        return any(REPO.glob(str(path.relative_to(REPO))))
    return path.exists()


def test_pages_cite_repository_paths() -> None:
    """The extraction finds the citations it is meant to (so the test below checks some)."""
    architecture = {written for written, _ in citations(REPO / "docs" / "architecture.md")}
    assert "mqsdk/_kernel/socket.py" in architecture
    assert not any("://" in written for page in PAGES for written, _ in citations(page))


def test_extraction_ignores_what_is_not_a_path() -> None:
    chunk = (
        "tcp://127.0.0.1:5555 udp://eth0;239.1.2.3:5555 mqsdk.plugin router_mandatory "
        "https://example.com/docs/x.md MQSDK_CONFIG=/path/file.toml a/b"
    )
    assert _path_tokens(chunk) == []
    assert _path_tokens("see `plugins/pattern-pubsub/...` and mqsdk/zmtp/, then") == [
        "plugins/pattern-pubsub",
        "mqsdk/zmtp/",
    ]


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_cited_paths_exist(page: Path) -> None:
    missing = sorted({written for written, path in citations(page) if not _exists(path)})
    assert not missing, f"{page.relative_to(REPO)} cites paths that do not exist: {missing}"
