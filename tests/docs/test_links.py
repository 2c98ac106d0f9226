"""The built site's links into the repository resolve, and the site knows where it lives.

Pages link repository files as ``https://github.com/mqsdk/mqsdk/blob/main/<path>`` (a
folder: ``tree/main/<path>``), by hand or through the ``docs/_repo_links.py`` hook, which
links every code span naming a repository path. Nothing public exists at that address
yet, so "resolves" means: the path exists in this checkout, the one the site is built
from. A file moved or deleted without its links fails here instead of rotting on the
site.
"""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

from .conftest import REPO

REPO_URL = "https://github.com/mqsdk/mqsdk"
SITE_URL = "https://mqsdk.github.io/mqsdk/"
# Addresses under the repository that are not files: the repository itself and its issues.
NOT_FILES = {REPO_URL, f"{REPO_URL}/", f"{REPO_URL}/issues"}
FILE_LINK = re.compile(rf"{re.escape(REPO_URL)}/(blob|tree|edit|raw)/main/([^#?]+)")
HREF = re.compile(r"""href=["']([^"']+)["']""")
# A file's name mentioned in prose: the block saying it must link it (or its folder).
MENTIONED_FILES = re.compile(r"\bREADMEs?\b|\bRESULTS\.md\b|\bCHANGELOG\b|\bCONTRIBUTING\b")


def repository_links(site: Path) -> list[tuple[str, str]]:
    """(page, address) for every link of the built site into the repository."""
    found = []
    for page in sorted(site.rglob("*.html")):
        for address in HREF.findall(page.read_text(encoding="utf-8")):
            if address == REPO_URL or address.startswith(f"{REPO_URL}/"):
                found.append((str(page.relative_to(site)), address))
    return found


def broken(links: list[tuple[str, str]], checkout: Path) -> list[str]:
    """The links of ``links`` that name no file or folder of ``checkout``, or are of an
    unknown form, each as "page: address (why)"."""
    bad = []
    for page, address in links:
        if address.split("#", 1)[0] in NOT_FILES:
            continue
        match = FILE_LINK.fullmatch(address.split("#", 1)[0])
        if match is None:
            bad.append(f"{page}: {address} (not a blob/tree/edit/raw link on main)")
            continue
        kind, path = match.groups()
        target = checkout / path.rstrip("/")
        if ".." in path.split("/"):
            bad.append(f"{page}: {address} (leaves the repository)")
        elif kind == "tree" and not target.is_dir():
            bad.append(f"{page}: {address} (no such folder)")
        elif kind != "tree" and not target.is_file():
            bad.append(f"{page}: {address} (no such file)")
    return bad


def test_every_repository_link_names_a_file_of_the_checkout(built_site: Path) -> None:
    links = repository_links(built_site)
    file_links = [address for _, address in links if FILE_LINK.match(address)]
    # The pages name dozens of repository files; a handful means the linking broke.
    assert len(set(file_links)) >= 30, f"only {len(set(file_links))} repository file links"
    bad = broken(links, REPO)
    assert not bad, "links to repository files that do not exist:\n" + "\n".join(bad)


def test_a_link_to_a_missing_file_is_reported(tmp_path: Path) -> None:
    """The check itself fails for a file, a folder or a form that is not there."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("x")
    links = [
        ("a.html", f"{REPO_URL}/blob/main/docs/index.md#top"),
        ("a.html", f"{REPO_URL}/tree/main/docs"),
        ("a.html", REPO_URL),
        ("b.html", f"{REPO_URL}/blob/main/docs/gone.md"),
        ("b.html", f"{REPO_URL}/tree/main/docs/index.md"),
        ("b.html", f"{REPO_URL}/blob/master/docs/index.md"),
        ("b.html", f"{REPO_URL}/blob/main/docs/../../etc/passwd"),
    ]
    assert [line.split(":", 1)[0] for line in broken(links, tmp_path)] == ["b.html"] * 4


class _Blocks(HTMLParser):
    """Text and link targets of each innermost paragraph, list item and table cell,
    outside code blocks."""

    BLOCKS = frozenset({"p", "li", "td", "th", "dd"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[list[str], list[str]]] = []
        self.done: list[tuple[str, list[str]]] = []
        self.in_pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pre":
            self.in_pre += 1
        elif tag in self.BLOCKS:
            self.stack.append(([], []))
        elif tag == "a" and self.stack:
            self.stack[-1][1].append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.in_pre -= 1
        elif tag in self.BLOCKS and self.stack:
            text, hrefs = self.stack.pop()
            self.done.append(("".join(text), hrefs))

    def handle_data(self, data: str) -> None:
        if self.stack and not self.in_pre:
            self.stack[-1][0].append(data)


def unlinked_mentions(html: str) -> list[str]:
    """The blocks of ``html`` that name a repository file (README, RESULTS.md...) in
    words without linking into the repository."""
    parser = _Blocks()
    parser.feed(html)
    return [
        " ".join(text.split())[:160]
        for text, hrefs in parser.done
        if MENTIONED_FILES.search(text) and not any(h.startswith(REPO_URL) for h in hrefs)
    ]


def test_pages_that_name_a_repository_file_link_it(built_site: Path) -> None:
    """ "The README has..." comes with a link to it, on every page."""
    pages = sorted(built_site.rglob("*.html"))
    found = {
        str(page.relative_to(built_site)): unlinked_mentions(page.read_text(encoding="utf-8"))
        for page in pages
    }
    missing = {page: blocks for page, blocks in found.items() if blocks}
    assert not missing, f"blocks naming a repository file without a link: {missing}"


def test_the_mention_check_sees_an_unlinked_readme() -> None:
    html = (
        '<p>The <a href="https://github.com/mqsdk/mqsdk/blob/main/README.md">README</a></p>'
        "<ul><li>The README has more<ul><li>nested</li></ul></li></ul>"
        "<pre><code>README.md</code></pre>"
    )
    assert unlinked_mentions(html) == ["The README has more"]


def test_code_spans_naming_repository_paths_are_links(built_site: Path) -> None:
    """The hook ran: the architecture page's module table links its files."""
    architecture = (built_site / "architecture" / "index.html").read_text(encoding="utf-8")
    assert f'href="{REPO_URL}/blob/main/mqsdk/_kernel/socket.py"' in architecture
    performance = (built_site / "performance" / "index.html").read_text(encoding="utf-8")
    assert f'href="{REPO_URL}/blob/main/benchmarks/RESULTS.md"' in performance


def test_site_and_package_name_the_same_addresses(built_site: Path) -> None:
    """site_url fills the sitemap (empty without it); repo_url matches the package's."""
    config = (REPO / "mkdocs.yml").read_text()
    assert re.search(rf"^site_url: {re.escape(SITE_URL)}$", config, re.M), "site_url"
    assert re.search(rf"^repo_url: {re.escape(REPO_URL)}$", config, re.M), "repo_url"
    urls = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Source"] == REPO_URL
    assert urls["Documentation"] == SITE_URL
    sitemap = (built_site / "sitemap.xml").read_text(encoding="utf-8")
    listed = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    expected = {
        SITE_URL if page.stem == "index" else f"{SITE_URL}{page.stem}/"
        for page in (REPO / "docs").glob("*.md")
    }
    assert expected <= listed, f"pages missing from the sitemap: {sorted(expected - listed)}"
