"""MkDocs hook: ship mermaid with the site, so its diagrams render with no network.

The Material theme draws a page's ``mermaid`` blocks with the global ``mermaid`` object
when one exists, and otherwise loads the library from unpkg.com; offline or locked-down
readers then see the diagrams' source text. This hook makes sure the global exists:

- mermaid's npm tarball (one pinned version) is fetched from the npm registry the first
  time the site is built and kept under ``$XDG_CACHE_HOME/mqsdk`` (``~/.cache/mqsdk``);
  its sha512 is checked against the registry's ``integrity`` value on every build, so a
  changed or truncated tarball stops the build instead of reaching readers;
- ``dist/mermaid.min.js`` and mermaid's LICENSE (MIT, which asks for the notice to travel
  with the code) become files of the site;
- every page that has a diagram loads that script before the theme's own bundle, and
  only those pages: the library is 3.5 MB. Building offline works once the tarball is in
  the cache (``npm pack mermaid@VERSION`` there gives the same file).

Nothing of mermaid is kept in the repository.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.client
import io
import os
import re
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.utils import get_relative_url

# Material 9.x expects mermaid 11 (it would load "mermaid@11" from unpkg). To move to a
# newer release: `npm view mermaid@<version> dist.integrity` gives the value to pin.
MERMAID_VERSION = "11.17.2"
MERMAID_INTEGRITY = (
    "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7"
    "LoaRQxULMa80/qt5gHO73aCleBBg=="
)
TARBALL_URL = f"https://registry.npmjs.org/mermaid/-/mermaid-{MERMAID_VERSION}.tgz"

# The version is in the names so that a reader's browser never runs a cached older copy.
SCRIPT_PATH = f"assets/javascripts/mermaid-{MERMAID_VERSION}.min.js"
LICENSE_PATH = f"assets/javascripts/mermaid-{MERMAID_VERSION}.LICENSE.txt"

_TARBALL_MEMBERS = {"package/dist/mermaid.min.js": SCRIPT_PATH, "package/LICENSE": LICENSE_PATH}
# What superfences' mermaid fence produces, and what the theme looks for.
_DIAGRAM = re.compile(r'<pre class="mermaid"')
_THEME_BUNDLE = re.compile(r'<script src="[^"]*assets/javascripts/bundle\.[0-9a-f]+\.min\.js"')


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mqsdk"


def _integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _download() -> bytes:
    try:
        with urllib.request.urlopen(TARBALL_URL, timeout=120) as response:
            data: bytes = response.read()
    except (OSError, http.client.HTTPException) as exc:  # IncompleteRead is the latter
        raise PluginError(
            f"cannot fetch mermaid {MERMAID_VERSION} from {TARBALL_URL} ({exc}); to build "
            f"offline, put that tarball at {cache_dir() / Path(TARBALL_URL).name} "
            f"(`npm pack mermaid@{MERMAID_VERSION}` makes it)"
        ) from exc
    return data


def _verified_tarball() -> bytes:
    cached = cache_dir() / Path(TARBALL_URL).name
    if cached.is_file():
        data = cached.read_bytes()
        if _integrity_of(data) == MERMAID_INTEGRITY:
            return data
        # A partial or altered copy is replaced by a fresh download, which is checked too.
    data = _download()
    found = _integrity_of(data)
    if found != MERMAID_INTEGRITY:
        raise PluginError(
            f"mermaid tarball from {TARBALL_URL} has integrity {found}, "
            f"expected {MERMAID_INTEGRITY}: not using it"
        )
    _store(data, cached)
    return data


def _store(data: bytes, cached: Path) -> None:
    """Keep the verified tarball for the next builds. Written aside and renamed, so two
    builds at once never read a half-written file; a cache that cannot be written (a
    read-only home, a full disk) only costs the next build a download."""
    partial: str | None = None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=cached.parent, prefix=f".{cached.name}.", delete=False
        ) as stream:
            partial = stream.name
            stream.write(data)
        os.chmod(partial, 0o644)  # a cache others may read, not the temporary file's 0600
        os.replace(partial, cached)
    except OSError:
        if partial is not None:
            with contextlib.suppress(OSError):
                os.unlink(partial)


@functools.cache
def mermaid_files() -> dict[str, bytes]:
    """Site path -> content of the files shipped from the verified tarball (read once per
    process, so `mkdocs serve` does not unpack it on every rebuild)."""
    wanted = dict(_TARBALL_MEMBERS)
    found: dict[str, bytes] = {}
    # Read as a stream, stopping at the last file needed: unpacking all of it takes longer.
    with tarfile.open(fileobj=io.BytesIO(_verified_tarball()), mode="r|gz") as archive:
        for member in archive:
            site_path = wanted.pop(member.name, None)
            if site_path is None:
                continue
            content = archive.extractfile(member)
            assert content is not None, f"{member.name} is not a regular file"
            found[site_path] = content.read()
            if not wanted:
                break
    if wanted:
        raise PluginError(f"mermaid {MERMAID_VERSION}'s tarball lacks {', '.join(wanted)}")
    return found


def on_files(files: Files, *, config: Any) -> Files:
    for site_path, content in mermaid_files().items():
        files.append(File.generated(config, site_path, content=content))
    return files


def on_post_page(output: str, *, page: Any, config: Any) -> str:
    if not _DIAGRAM.search(output):
        return output
    bundle = _THEME_BUNDLE.search(output)
    if bundle is None:
        # Without the script before the bundle, the theme would fetch mermaid from unpkg:
        # fail the build rather than publish a page that needs the network.
        raise PluginError(
            f"{page.file.src_uri}: the theme's bundle script was not found, so mermaid "
            "cannot be loaded before it"
        )
    script = f'<script src="{get_relative_url(SCRIPT_PATH, page.url)}"></script>\n'
    return output[: bundle.start()] + script + output[bundle.start() :]
