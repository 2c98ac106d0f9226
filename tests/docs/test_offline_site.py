"""The built site works with no network: nothing it loads comes from outside, and its
mermaid diagrams become drawings from the copy of mermaid shipped with it
(docs/_mermaid.py).

Two tests:

- the plain one reads every built HTML and CSS file and fails on a resource fetched from
  another origin (a script, stylesheet, font, image, frame, preconnect...; links to
  other sites and the canonical URL are fine), and on a page with a diagram that does not
  load the shipped mermaid before the theme's bundle (the theme would then load it from
  unpkg.com);
- the browser one serves the site on 127.0.0.1 and opens every page with diagrams in
  headless chromium whose every request to another host goes to a proxy that is a trap
  on loopback (it records the request and refuses it, so nothing leaves the machine),
  with host names other than 127.0.0.1 unresolvable besides. It drives chromium over its
  DevTools pipe: each diagram must become an ``<svg>`` (the theme draws it in a closed
  shadow root, which only DevTools can look into), the architecture page's holding the
  architecture's labels; every request the pages made must have gone to the site; and a
  request to unpkg.com made from a page must fail at the trap, which shows the blocking
  is real.

The browser test is skipped, saying why, where chromium is not installed, unless
``MQSDK_REQUIRE_BROWSER=1`` (CI), which makes that a failure.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from mkdocs.exceptions import PluginError

from mqsdk.testing.browser import HEADLESS_FLAGS, find_browser, serve_directory, stop_process_group
from mqsdk.testing.helpers import WAIT

# A cold browser start and parsing 3.5 MB of mermaid on a loaded 2-core machine is slow.
BROWSER_WAIT = 6 * WAIT

DIAGRAM_PAGE = "architecture/index.html"
# Labels of that page's diagram: found in the drawing, they show it is the diagram that
# was drawn (mermaid draws a "Syntax error" picture for a diagram it cannot read).
DIAGRAM_LABELS = ("tipc", "vmci", "io_uring", "RADIO/DISH", "PEER/CHANNEL", "chaos+tcp")
# Where the theme would fetch mermaid from: the canary request that must fail.
OUTSIDE_CANARY = "https://unpkg.com/mermaid@11/dist/mermaid.min.js"

# Another origin: "https://...", "//host/..." (data: and relative URLs are the page's own).
_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
# <link rel=...> values that make the browser fetch the target (canonical, alternate,
# author... only name a page).
_FETCHING_RELS = {
    "stylesheet",
    "preload",
    "modulepreload",
    "prefetch",
    "preconnect",
    "dns-prefetch",
    "icon",
    "apple-touch-icon",
    "manifest",
}
_SOURCE_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "audio": ("src",),
    "video": ("src", "poster"),
    "track": ("src",),
}
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)


def _is_external(url: str) -> bool:
    return bool(_EXTERNAL.match(url))


class _LoadedResources(HTMLParser):
    """The URLs a page makes the browser fetch, and its scripts in order."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[tuple[str, str]] = []  # (what, url)
        self.scripts: list[str] = []
        self.diagrams = 0
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "link" and set(values.get("rel", "").lower().split()) & _FETCHING_RELS:
            self.fetched.append((f"<link rel={values['rel']}>", values.get("href", "")))
        for attribute in _SOURCE_ATTRIBUTES.get(tag, ()):
            if attribute in values:
                for url in values[attribute].split(","):
                    self.fetched.append((f"<{tag} {attribute}>", url.strip().split(" ")[0]))
        if tag == "script" and "src" in values:
            self.scripts.append(values["src"])
        if tag == "pre" and "mermaid" in values.get("class", "").split():
            self.diagrams += 1
        if "style" in values:
            self._css(f"<{tag} style>", values["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css("<style>", data)

    def _css(self, where: str, css: str) -> None:
        for match in _CSS_URL.finditer(css):
            self.fetched.append((where, match.group(1) or match.group(2)))


def test_built_pages_load_nothing_from_outside(built_site: Path) -> None:
    outside: list[str] = []
    pages_with_diagrams = 0
    for page in sorted(built_site.rglob("*.html")):
        name = page.relative_to(built_site).as_posix()
        parser = _LoadedResources()
        parser.feed(page.read_text(encoding="utf-8"))
        outside += [f"{name}: {what} {url}" for what, url in parser.fetched if _is_external(url)]
        if not parser.diagrams:
            continue
        pages_with_diagrams += 1
        mermaid = [i for i, src in enumerate(parser.scripts) if "/mermaid-" in f"/{src}"]
        bundle = [i for i, src in enumerate(parser.scripts) if "javascripts/bundle." in src]
        assert mermaid and bundle and mermaid[0] < bundle[0], (
            f"{name} has {parser.diagrams} mermaid diagram(s) but does not load the shipped "
            f"mermaid before the theme's bundle (scripts: {parser.scripts}); the theme would "
            "fetch it from unpkg.com"
        )
        shipped = (page.parent / parser.scripts[mermaid[0]]).resolve()
        assert shipped.is_file() and shipped.stat().st_size > 100_000, (
            f"{name} loads {parser.scripts[mermaid[0]]}, which is not in the built site"
        )
    for stylesheet in sorted(built_site.rglob("*.css")):
        name = stylesheet.relative_to(built_site).as_posix()
        for match in _CSS_URL.finditer(stylesheet.read_text(encoding="utf-8")):
            url = match.group(1) or match.group(2)
            if _is_external(url):
                outside.append(f"{name}: {url}")
    assert not outside, "the built site loads from outside:\n" + "\n".join(outside)
    assert pages_with_diagrams, "no page of the built site has a mermaid diagram"


def _mermaid_hook() -> Any:
    """docs/_mermaid.py, the MkDocs hook, loaded as a module (docs/ is no package)."""
    path = Path(__file__).resolve().parents[2] / "docs" / "_mermaid.py"
    spec = importlib.util.spec_from_file_location("mqsdk_docs_mermaid_hook", path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_mermaid_tarball_failing_its_integrity_check_stops_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged cached copy is not used, and a download that does not match the pinned
    sha512 stops the build, naming both values, and is not cached. No network: the
    download is replaced."""
    hook = _mermaid_hook()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = tmp_path / "mqsdk" / Path(hook.TARBALL_URL).name
    cached.parent.mkdir()
    cached.write_bytes(b"a truncated tarball")
    downloads: list[str] = []

    def altered_download() -> bytes:
        downloads.append(hook.TARBALL_URL)
        return b"a tarball altered on its way"

    monkeypatch.setattr(hook, "_download", altered_download)
    with pytest.raises(PluginError, match=re.escape(hook.MERMAID_INTEGRITY)):
        hook._verified_tarball()
    assert downloads == [hook.TARBALL_URL], "the damaged cached copy was used"
    assert cached.read_bytes() == b"a truncated tarball", "an unverified download was cached"


def test_a_verified_download_is_cached_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verified tarball is kept (and only it: no temporary file is left); a cache that
    cannot be written does not stop the build. No network: the download is replaced."""
    hook = _mermaid_hook()
    tarball = b"a tarball that passes the check"
    monkeypatch.setattr(hook, "MERMAID_INTEGRITY", hook._integrity_of(tarball))
    monkeypatch.setattr(hook, "_download", lambda: tarball)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert hook._verified_tarball() == tarball
    assert [p.name for p in (tmp_path / "mqsdk").iterdir()] == [Path(hook.TARBALL_URL).name]
    assert (tmp_path / "mqsdk" / Path(hook.TARBALL_URL).name).read_bytes() == tarball

    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_bytes(b"")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_folder))
    assert hook._verified_tarball() == tarball


# ---------------------------------------------------------------- the browser test


@pytest.fixture
def site_url(built_site: Path) -> Iterator[str]:
    """The built site over http on loopback, as a reader's browser would get it."""
    with serve_directory(built_site, "site http") as base:
        yield base


class _TrapProxy:
    """An HTTP proxy on loopback that forwards nothing: it records each request's first
    line (``CONNECT unpkg.com:443 HTTP/1.1``) and answers 403."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="trap proxy", daemon=True)
        self._thread.start()

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.requests)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._closing:  # the connection close() makes to wake this accept()
                connection.close()
                return
            with connection:
                connection.settimeout(WAIT)
                head = b""
                try:
                    while b"\r\n\r\n" not in head and len(head) < 65536:
                        chunk = connection.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                    with self._lock:
                        self.requests.append(head.split(b"\r\n", 1)[0].decode(errors="replace"))
                    connection.sendall(
                        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                except OSError:
                    pass

    def close(self) -> None:
        # Closing the listener does not wake a thread blocked in accept() on Linux (the
        # join would wait WAIT seconds, and the thread stay blocked): a connection does.
        self._closing = True
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=WAIT).close()
        self._thread.join(WAIT)
        self._listener.close()
        assert not self._thread.is_alive(), f"the trap proxy did not stop within {WAIT} s"


@pytest.fixture
def trap_proxy() -> Iterator[_TrapProxy]:
    proxy = _TrapProxy()
    try:
        yield proxy
    finally:
        proxy.close()


class _DevTools:
    """Chromium's DevTools protocol over ``--remote-debugging-pipe``: JSON messages ended
    by a NUL byte, commands written to the browser's fd 3, answers and events read from
    its fd 4."""

    def __init__(self, to_browser: int, from_browser: io.BufferedReader) -> None:
        self._to_browser = to_browser
        self._from_browser = from_browser
        self._cond = threading.Condition()
        self._answers: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._next_id = 0
        self._ended = False
        self._reader = threading.Thread(target=self._read, name="devtools pipe", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = b""
        while True:
            chunk = self._from_browser.read1(1 << 16)
            if not chunk:
                break
            pending += chunk
            *messages, pending = pending.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._answers[message["id"]] = message
                    else:
                        self._events.append(message)
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def call(
        self, method: str, session: str | None = None, timeout: float = BROWSER_WAIT, **params: Any
    ) -> dict[str, Any]:
        with self._cond:
            self._next_id += 1
            call_id = self._next_id
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        try:
            # Unbuffered: a browser gone mid-test fails this call, never a later close.
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise AssertionError(f"chromium closed its DevTools pipe before {method}") from None
        with self._cond:
            if not self._cond.wait_for(
                lambda: call_id in self._answers or self._ended, timeout=timeout
            ):
                raise AssertionError(f"chromium did not answer {method} within {timeout} s")
            if call_id not in self._answers:
                raise AssertionError(f"chromium closed its DevTools pipe during {method}")
            answer = self._answers.pop(call_id)
        if "error" in answer:
            raise AssertionError(f"{method} failed: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    def wait_event(
        self, method: str, session: str, seen: int, timeout: float = BROWSER_WAIT
    ) -> None:
        """Wait for the session's event ``method`` beyond the ``seen`` first ones."""

        def arrived() -> bool:
            return self._ended or len(self.events(method, session)) > seen

        with self._cond:
            if not self._cond.wait_for(arrived, timeout=timeout) or self._ended:
                raise AssertionError(f"no {method} from chromium within {timeout} s")

    def events(self, method: str, session: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [
                event
                for event in self._events
                if event["method"] == method and session in (None, event.get("sessionId"))
            ]


_MOVE_PIPE_AND_EXEC = """
import os, sys
commands, answers = int(sys.argv[1]), int(sys.argv[2])
os.dup2(commands, 3)
os.dup2(answers, 4)
os.close(commands)
os.close(answers)
os.execvp(sys.argv[3], sys.argv[3:])
"""


def _pipe_above_4() -> tuple[int, int]:
    """A pipe whose ends are not fds 3 or 4, where the trampoline moves them (a pipe end
    numbered 3 would be overwritten by the first move, then closed)."""
    ends = []
    for end in os.pipe():
        ends.append(fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(end)
    return ends[0], ends[1]


@pytest.fixture
def devtools(trap_proxy: _TrapProxy) -> Iterator[tuple[_DevTools, Path]]:
    """Headless chromium cut off from everything but loopback, and its DevTools pipe;
    with the path of its log, for failure messages."""
    browser = find_browser()
    commands_read, commands_write = _pipe_above_4()
    answers_read, answers_write = _pipe_above_4()
    # ignore_cleanup_errors: a helper process chromium started outside its process group
    # could still be writing the profile; that must not turn a pass into a failure.
    with tempfile.TemporaryDirectory(
        prefix="mqsdk-docs-browser-", ignore_cleanup_errors=True
    ) as profile:
        log_path = Path(profile) / "browser.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    # The pipe must be chromium's fds 3 and 4: a Python trampoline moves
                    # it there (sh cannot name fds above 9) and becomes chromium.
                    sys.executable,
                    "-c",
                    _MOVE_PIPE_AND_EXEC,
                    str(commands_read),
                    str(answers_write),
                    browser,
                    *HEADLESS_FLAGS,
                    "--remote-debugging-pipe",
                    # Every request not to loopback goes to the trap (loopback bypasses a
                    # proxy in chromium), and no other name resolves should one go direct.
                    f"--proxy-server=http://127.0.0.1:{trap_proxy.port}",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    f"--user-data-dir={profile}/data",
                    "about:blank",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(commands_read, answers_write),
                # Its own process group, all of it stopped before the profile is removed.
                start_new_session=True,
            )
        os.close(commands_read)
        os.close(answers_write)
        with open(answers_read, "rb") as from_browser:
            try:
                yield _DevTools(commands_write, from_browser), log_path
            finally:
                stop_process_group(process)
                os.close(commands_write)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A DOM.getDocument tree, shadow roots included, depth first."""
    yield node
    for key in ("shadowRoots", "children"):
        for child in node.get(key, ()):
            yield from _nodes(child)


def _drawn_diagrams(document: dict[str, Any]) -> list[str]:
    """The text of every mermaid drawing: an <svg> in the shadow root the theme puts in a
    ``div.mermaid`` in place of the diagram's source."""
    drawings = []
    for node in _nodes(document):
        attributes = node.get("attributes", [])
        classes = dict(zip(attributes[::2], attributes[1::2], strict=True)).get("class", "")
        if node.get("nodeName") != "DIV" or "mermaid" not in classes.split():
            continue
        for root in node.get("shadowRoots", ()):
            for svg in (n for n in _nodes(root) if n.get("nodeName", "").lower() == "svg"):
                drawings.append(" ".join(n.get("nodeValue", "") for n in _nodes(svg)))
    return drawings


# Resolves once the theme replaced every diagram's source (pre.mermaid) with its drawing
# (a div.mermaid): from a MutationObserver, so nothing polls.
_ALL_DRAWN = """
new Promise((resolve) => {
  const done = () => document.querySelectorAll("div.mermaid").length >= %d;
  if (done()) { resolve(true); return; }
  new MutationObserver((_, observer) => {
    if (done()) { observer.disconnect(); resolve(true); }
  }).observe(document.body, {childList: true, subtree: true});
})
"""


# Each wait inside is bounded (BROWSER_WAIT) with its own message; the suite-wide 120 s
# timeout would cut a slow CI run short before those messages could say what hung.
@pytest.mark.timeout(600)
def test_diagrams_render_with_the_network_cut_off(
    built_site: Path,
    site_url: str,
    trap_proxy: _TrapProxy,
    devtools: tuple[_DevTools, Path],
) -> None:
    tools, log_path = devtools
    diagrams = {
        page.relative_to(built_site).as_posix(): count
        for page in sorted(built_site.rglob("*.html"))
        if (count := page.read_text(encoding="utf-8").count('<pre class="mermaid"'))
    }
    assert diagrams.get(DIAGRAM_PAGE), f"{DIAGRAM_PAGE} has no mermaid diagram to draw"

    target = tools.call("Target.createTarget", url="about:blank")["targetId"]
    session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    tools.call("Network.enable", session)
    tools.call("Page.enable", session)
    tools.call("Runtime.enable", session)

    def diagnosis() -> str:
        requests = [
            e["params"]["request"]["url"] for e in tools.events("Network.requestWillBeSent")
        ]
        console = [
            " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in e["params"]["args"]
            )
            for e in tools.events("Runtime.consoleAPICalled")
        ]
        errors = [e["params"]["exceptionDetails"] for e in tools.events("Runtime.exceptionThrown")]
        return (
            f"\nrequests: {requests}\ntrap proxy saw: {trap_proxy.seen()}\nconsole: {console}"
            f"\nexceptions: {errors}\nbrowser log:\n" + log_path.read_text(errors="replace")[-3000:]
        )

    # Every page with diagrams: each diagram must be drawn (one mermaid cannot read stays
    # text); the architecture page's must be the architecture.
    for page, expected in diagrams.items():
        loads = len(tools.events("Page.loadEventFired", session))
        tools.call("Page.navigate", session, url=site_url + page)
        tools.wait_event("Page.loadEventFired", session, seen=loads)
        try:
            tools.call(
                "Runtime.evaluate",
                session,
                expression=_ALL_DRAWN % expected,
                awaitPromise=True,
                timeout=BROWSER_WAIT,
            )
        except AssertionError as exc:
            pytest.fail(f"the diagrams of {page} were not drawn: {exc}{diagnosis()}")
        document = tools.call("DOM.getDocument", session, depth=-1, pierce=True)["root"]
        drawings = _drawn_diagrams(document)
        assert len(drawings) == expected, (
            f"{page}: {len(drawings)} of {expected} diagrams drawn as svg{diagnosis()}"
        )
        if page == DIAGRAM_PAGE:
            assert any(all(label in text for label in DIAGRAM_LABELS) for text in drawings), (
                f"no drawing has all of {DIAGRAM_LABELS}; their text: "
                f"{[text[-2000:] for text in drawings]}{diagnosis()}"
            )

    site_origin = site_url.rstrip("/")
    outside = [
        url
        for url in (
            e["params"]["request"]["url"] for e in tools.events("Network.requestWillBeSent")
        )
        if re.match(r"^(https?|wss?)://", url) and not url.startswith(site_origin + "/")
    ]
    assert not outside, f"the pages asked for resources outside the site: {outside}{diagnosis()}"

    # The cut-off is real: a request to the outside, made from the page, ends at the trap.
    canary = tools.call(
        "Runtime.evaluate",
        session,
        expression=f"fetch({json.dumps(OUTSIDE_CANARY)}).then(() => 'loaded', (e) => 'failed')",
        awaitPromise=True,
    )["result"]["value"]
    assert canary == "failed", f"{OUTSIDE_CANARY} was fetched: the network is not cut off"
    assert any("unpkg.com" in line for line in trap_proxy.seen()), (
        f"the request to {OUTSIDE_CANARY} failed without reaching the trap proxy, so the "
        f"test cannot tell where other requests went{diagnosis()}"
    )
