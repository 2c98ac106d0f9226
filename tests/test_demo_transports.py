"""``mqsdk demo`` beyond plain loopback endpoints: tls with a throw-away certificate,
chaos transports with faults, pgm/epgm in a network namespace the demo creates, the
RADIO/DISH row (udp included) and the draft patterns' rows, whether or not their plugins
are installed. Real sockets throughout; cells run as the demo runs them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from mqsdk._kernel.registry import Registry
from mqsdk.cli import demo
from mqsdk.config import load_config

from .conftest import run_cli

SEEDS = demo.PATTERNS
RADIO_DISH = next(p for p in demo.MORE_PATTERNS if p[0] == "RADIO/DISH")
DRAFTS = [p for p in demo.MORE_PATTERNS if p != RADIO_DISH]
COUNT = 30
TIMEOUT = 30.0  # per cell: generous for a loaded 2-core machine; no test asserts on time


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(load_config(environ={}), strict=False)


@pytest.fixture
def setups(tmp_path: Path) -> demo.Setups:
    return demo.Setups(str(tmp_path))


def installed(registry: Registry, *schemes: str) -> None:
    for scheme in schemes:
        if registry.find_component("transport", scheme) is None:
            pytest.skip(f"the {scheme} transport plugin is not installed")


def run(
    registry: Registry, setups: demo.Setups, pattern: tuple[str, str, str], scheme: str, n: int = 0
) -> demo.Cell:
    return demo.run_cell(pattern, scheme, registry, COUNT, TIMEOUT, setups.tmp, n, setups)


def assert_ok(cell: demo.Cell) -> None:
    assert cell.outcome == "ok", cell
    expected = COUNT * 2 if cell.pattern in ("PAIR", "CHANNEL") else COUNT
    assert cell.sent == cell.received == expected, cell


# -- tls --------------------------------------------------------------------------------------


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext, name: str) -> None:
    """A TLS handshake over a socket pair; raises what either side raised."""
    near, far = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server.wrap_socket(near, server_side=True):
                pass
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(far, server_hostname=name) as tls:
            assert tls.getpeercert()
    finally:
        thread.join(30)
    assert not errors, f"{name}: {errors}"


@pytest.mark.parametrize("tool", ["cryptography", "openssl"])
def test_certificate_verifies_strictly_for_every_loopback_name(tool: str, tmp_path: Path) -> None:
    if tool == "cryptography":
        pytest.importorskip("cryptography")
    elif shutil.which("openssl") is None:
        pytest.skip("no openssl command here")
    cert = demo.make_certificate(tmp_path / "certificate", tool)
    assert tool in cert.tool
    assert cert.key.stat().st_mode & 0o077 == 0, "the private key is readable by others"
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert.cert, cert.key)
    client = ssl.create_default_context(cafile=str(cert.cert))  # trusts this one only
    client.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default
    for name in demo.CERTIFICATE_NAMES:
        _handshake(server, client, name)
    with pytest.raises(ssl.SSLCertVerificationError):  # and it names nothing else
        _handshake(server, client, "example.org")


def test_an_unknown_certificate_tool_is_unavailable_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(demo.SetupUnavailable, match="openssl"):
        demo.make_certificate(tmp_path, "openssl")


def test_tls_runs_every_pattern_with_the_certificate(registry: Registry, tmp_path: Path) -> None:
    installed(registry, "tls")
    try:
        cert = demo.make_certificate(tmp_path / "certificate")
    except demo.SetupUnavailable as exc:
        pytest.skip(str(exc))
    setups = demo.Setups(str(tmp_path), certificate=cert)
    for n, pattern in enumerate([*SEEDS, RADIO_DISH]):
        cell = run(registry, setups, pattern, "tls", n)
        if pattern == RADIO_DISH and "DISH" not in registry.patterns:
            continue
        assert_ok(cell)
        assert cert.tool in cell.setup and "self-signed" in cell.setup


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_websocket_transports_run_every_pattern(
    scheme: str, registry: Registry, setups: demo.Setups
) -> None:
    installed(registry, scheme)
    for n, pattern in enumerate([*SEEDS, RADIO_DISH]):
        if pattern == RADIO_DISH and "DISH" not in registry.patterns:
            continue
        cell = run(registry, setups, pattern, scheme, n)
        if scheme == "wss" and cell.outcome == "unavailable":  # no way to make a certificate
            assert "certificate" in cell.reason, cell
            continue
        assert_ok(cell)
        if scheme == "wss":
            assert "wss_trust_pem" in cell.setup


def test_demo_command_shows_tls_and_removes_the_certificate(tmp_path: Path) -> None:
    # The demo's temporary folder (certificate and key in it) lives under TMPDIR.
    if "tls" not in Registry(load_config(environ={}), strict=False).transports:
        pytest.skip("the tls transport plugin is not installed")
    env = {"TMPDIR": str(tmp_path)}
    only = ["--transport", "tls", "--pattern", "REQ/REP", "--pattern", "PUB/SUB"]
    result = run_cli("demo", *only, "--count", "20", env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["REQ/REP", "tls", "20"] and "ok" in line for line in lines)
    assert any(line.startswith("set up: tls: a throw-away self-signed") for line in lines)
    assert list(tmp_path.iterdir()) == [], "the certificate outlived the demo"


# -- chaos --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["chaos+tcp", "chaos+ipc"])
def test_chaos_transports_run_every_pattern_with_faults_on(
    scheme: str, registry: Registry, setups: demo.Setups, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed(registry, scheme)
    chaos = pytest.importorskip("mqsdk_transport_chaos.transport")
    wrapped: list[Any] = []  # every connected socket that got the faults
    original = chaos.ChaosSocket.__init__

    def counting(self: Any, sock: Any, settings: Any, rng: Any) -> None:
        wrapped.append(settings)
        original(self, sock, settings, rng)

    monkeypatch.setattr(chaos.ChaosSocket, "__init__", counting)
    for n, pattern in enumerate([*SEEDS, RADIO_DISH]):
        if pattern == RADIO_DISH and "DISH" not in registry.patterns:
            continue
        before = len(wrapped)
        cell = run(registry, setups, pattern, scheme, n)
        assert_ok(cell)
        assert demo.CHAOS_FAULTS in cell.setup
        # Both ends of the connection ran with the faults, not just one.
        assert len(wrapped) - before >= 2, f"{pattern[0]}: {len(wrapped) - before} sockets"
        assert all(s.partial and s.delay_ms > 0 for s in wrapped[before:])


# -- pgm / epgm in a network namespace ---------------------------------------------------------


@pytest.mark.parametrize("scheme", ["epgm", "pgm"])
def test_pgm_runs_pub_sub_in_a_namespace_or_says_why_not(
    scheme: str, registry: Registry, setups: demo.Setups
) -> None:
    installed(registry, scheme)
    pub_sub = next(p for p in SEEDS if p[0] == "PUB/SUB")
    cells = demo.run_in_namespace(
        [(pub_sub, scheme, 0), (SEEDS[0], scheme, 1)], COUNT, TIMEOUT
    )  # one child for both, as the command runs them
    blocker = demo.namespace_blocker()
    if blocker:
        assert [(c.outcome, c.reason) for c in cells] == [("unavailable", blocker)] * 2
        return
    assert_ok(cells[0])
    assert "network namespace" in cells[0].setup
    # REQ/REP cannot go over multicast: the transport's own answer, from the namespace.
    assert cells[1].outcome == "n/a" and "PUB/XPUB to SUB/XSUB" in cells[1].reason, cells[1]


def test_without_unshare_the_namespace_cells_say_why(
    registry: Registry, setups: demo.Setups, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed(registry, "epgm")
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if name == "unshare" else real_which(name)
    )
    demo.namespace_blocker.cache_clear()
    try:
        cell = run(registry, setups, SEEDS[1], "epgm")
    finally:
        demo.namespace_blocker.cache_clear()
    assert cell.outcome == "unavailable", cell
    assert "unshare" in cell.reason and "util-linux" in cell.reason


def test_a_broken_namespace_child_fails_its_cells_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The child's python exits without a result (here: a module that does not exist).
    if demo.namespace_blocker():
        pytest.skip(demo.namespace_blocker())
    monkeypatch.setattr(demo.sys, "executable", "/bin/false")
    cells = demo.run_in_namespace([(SEEDS[1], "epgm", 0)], COUNT, TIMEOUT)
    assert cells[0].outcome == "failed"
    assert "gave no result (exit status 1)" in cells[0].reason


def test_a_namespace_refusing_multicast_routes_makes_the_cells_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sandbox may let the demo create the namespace but not configure it: the cells
    # then say so (not "failed", which would fail the demo on such a host).
    if demo.namespace_blocker():  # probed (and cached) with the real ip command
        pytest.skip(demo.namespace_blocker())
    refusing = tmp_path / "ip"
    refusing.write_text(
        "#!/bin/sh\necho 'RTNETLINK answers: Operation not permitted' >&2\nexit 2\n"
    )
    refusing.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    cells = demo.run_in_namespace([(SEEDS[1], "epgm", 0)], COUNT, TIMEOUT)
    assert cells[0].outcome == "unavailable", cells[0]
    assert "ip link set lo up" in cells[0].reason
    assert "RTNETLINK answers: Operation not permitted" in cells[0].reason


def _logging_command(folder: Path, name: str, log: Path) -> None:
    """A stand-in for ``name`` that only logs how and in which namespace it ran, so a
    test that goes wrong cannot change this host's loopback or routes."""
    stand_in = folder / name
    stand_in.write_text(
        f'#!/bin/sh\necho "{name} $* ($(readlink /proc/self/ns/net))" >> {log}\nexit 0\n'
    )
    stand_in.chmod(0o755)


NAMESPACE_CHILD = (
    "import sys; from mqsdk.cli.demo import namespace_child; sys.exit(namespace_child())"
)


def test_the_namespace_child_refuses_the_hosts_namespace_whatever_it_is_told(
    tmp_path: Path,
) -> None:
    # Started without unshare, and told (falsely) that its parent is elsewhere: it must
    # check for itself, and leave this namespace's loopback and routes alone.
    log = tmp_path / "ip.log"
    _logging_command(tmp_path, "ip", log)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"}
    request = {"cells": [], "count": 1, "timeout": 1.0, "unshare": "unshare -n"}
    request["parent_namespace"] = "net:[1]"  # what an older demo sent; never believed
    child = subprocess.run(
        [sys.executable, "-c", NAMESPACE_CHILD],
        input=json.dumps(request), capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip
    assert not log.exists(), f"ran in this namespace: {log.read_text()}"
    assert child.returncode == 1, child.stdout + child.stderr
    assert "not in a new network namespace" in child.stderr
    assert "shares its parent's network namespace" in child.stderr


def test_a_namespace_in_use_is_refused_even_where_the_parent_cannot_be_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As another user (unshare -r -n) the kernel hides the parent's namespace from the
    # child; this namespace (loopback up: the tests talk over it) must still be refused.
    if not sys.platform.startswith("linux"):
        pytest.skip("network namespaces are Linux's")
    own = demo._network_namespace()

    def hidden(pid: str = "self") -> str:
        return own if pid == "self" else "unknown: [Errno 13] Permission denied"

    monkeypatch.setattr(demo, "_network_namespace", hidden)
    refusal = demo._not_a_new_namespace()
    assert refusal.startswith(f"{own} is in use already:") and "lo" in refusal, refusal


def test_an_unshare_that_makes_no_namespace_is_found_out_by_a_read_only_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shim named unshare that just runs its command: the probe must notice, change
    # nothing, and the cells must say why they did not run.
    if not sys.platform.startswith("linux") or shutil.which("ip") is None:
        pytest.skip("needs Linux and the ip command (the probe looks for it first)")
    log = tmp_path / "ip.log"
    _logging_command(tmp_path, "ip", log)
    shim = tmp_path / "unshare"
    shim.write_text('#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    demo.namespace_blocker.cache_clear()
    try:
        blocker = demo.namespace_blocker()
        cells = demo.run_in_namespace([(SEEDS[1], "epgm", 0)], COUNT, TIMEOUT)
    finally:
        demo.namespace_blocker.cache_clear()
    assert not log.exists(), f"ran in this namespace: {log.read_text()}"
    assert "did not give its command a new network namespace" in blocker, blocker
    assert (cells[0].outcome, cells[0].reason) == ("unavailable", blocker)


def test_a_cell_stuck_past_its_deadline_says_how_long_it_was_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def stuck(*args: object) -> None:  # a transport that never returns from bind
        release.wait(60)

    monkeypatch.setattr(demo, "_exchange", stuck)
    setup = demo.Setup(bind="tcp://127.0.0.1:0", connect=lambda endpoint: endpoint)
    cell = demo.Cell(SEEDS[0][0], "tcp")
    try:
        cell = demo._run_prepared(cell, SEEDS[0], setup, 1, 0.25, str(tmp_path), 0)
    finally:
        release.set()
    waited = 0.25 + demo.CLEANUP_GRACE
    assert (cell.outcome, cell.reason) == ("failed", f"still running after {waited:g} s")


# -- RADIO/DISH and the draft rows --------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["udp", "tcp", "ipc", "inproc"])
def test_radio_dish_row_runs(scheme: str, registry: Registry, setups: demo.Setups) -> None:
    installed(registry, scheme)
    if "DISH" not in registry.patterns:
        pytest.skip("the RADIO/DISH pattern plugin is not installed")
    assert_ok(run(registry, setups, RADIO_DISH, scheme))


def test_radio_dish_over_udp_loses_nothing_in_a_long_run(
    registry: Registry, setups: demo.Setups
) -> None:
    # Sent in one burst, most of 20000 datagrams overflow the DISH's socket buffer (a
    # RADIO never waits); the demo moves them in windows, so a cell checks delivery.
    installed(registry, "udp")
    if "DISH" not in registry.patterns:
        pytest.skip("the RADIO/DISH pattern plugin is not installed")
    cell = demo.run_cell(RADIO_DISH, "udp", registry, 20000, TIMEOUT, setups.tmp, 0, setups)
    assert cell.outcome == "ok", cell
    assert cell.sent == cell.received == 20000


@pytest.mark.parametrize("pattern", DRAFTS, ids=[p[0] for p in DRAFTS])
@pytest.mark.parametrize("scheme", ["tcp", "ipc", "inproc"])
def test_draft_rows_run_when_installed_and_say_why_not_otherwise(
    pattern: tuple[str, str, str], scheme: str, registry: Registry, setups: demo.Setups
) -> None:
    cell = run(registry, setups, pattern, scheme)
    missing = [t for t in pattern[1:] if t not in registry.patterns]  # the bound one first
    if missing:
        assert cell.outcome == "unavailable", cell
        assert cell.reason == f"no pattern plugin for {missing[0]}"
    else:
        assert_ok(cell)


def test_draft_rows_without_their_plugins_are_unavailable_not_failed(tmp_path: Path) -> None:
    # The demo must work whether or not the draft pattern plugins are installed.
    registry = Registry(load_config(environ={}), strict=False)
    for pattern in DRAFTS:
        for type_name in pattern[1:]:
            registry.patterns.pop(type_name, None)
    setups = demo.Setups(str(tmp_path))
    for pattern in DRAFTS:
        cell = run(registry, setups, pattern, "tcp")
        assert (cell.outcome, cell.reason) == ("unavailable", f"no pattern plugin for {pattern[1]}")


def test_tls_settings_survive_a_temporary_folder_with_query_characters(
    registry: Registry, tmp_path: Path
) -> None:
    installed(registry, "tls")
    odd = tmp_path / "a&b=c%d e"
    odd.mkdir()
    setups = demo.Setups(str(odd))
    try:
        setups.certificate()
    except demo.SetupUnavailable as exc:
        pytest.skip(str(exc))
    assert_ok(run(registry, setups, SEEDS[2], "tls"))


def test_draft_rows_over_udp_are_not_applicable(registry: Registry, setups: demo.Setups) -> None:
    installed(registry, "udp")
    for pattern in DRAFTS:
        cell = run(registry, setups, pattern, "udp")
        assert cell.outcome in ("n/a", "unavailable"), cell
        assert cell.reason


def test_json_cells_say_what_was_set_up() -> None:
    result = run_cli("demo", "--json", "--count", "5", "--pattern", "PUSH/PULL", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    cells = {c["transport"]: c for c in json.loads(result.stdout)}
    assert cells["tcp"]["setup"] == ""  # a plain loopback endpoint needs nothing
    for scheme in ("chaos+tcp", "chaos+ipc"):
        if scheme in cells:
            assert demo.CHAOS_FAULTS in cells[scheme]["setup"], cells[scheme]


def test_a_transport_refusing_each_socket_type_gets_one_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mqsdk.cli.output import print_table

    cells = [
        demo.Cell(p[0], "epgm", "n/a", f"epgm:// carries PUB only; a {p[1]} socket cannot use it")
        for p in (SEEDS[0], SEEDS[2], SEEDS[3])
    ]
    demo._print_results(cells, print_table)
    out = capsys.readouterr().out
    assert out.count("n/a [1]") == 3 and "[2]" not in out, out
    assert "[1] epgm:// carries PUB only; a socket of another type cannot use it" in out
