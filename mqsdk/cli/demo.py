"""``mqsdk demo``: every pattern over every transport this host has, as a table.

Each cell (pattern x transport) gets a fresh context, binds one socket on a loopback
endpoint of that transport, connects its peer to the bound ``last_endpoint``, moves
``--count`` messages and checks every one arrived, in order and unchanged. A cell has a
deadline (``--timeout``): its sockets time out by then, and a cell still running 2 s after
it (time to close; a transport stuck in ``bind`` takes longer) is abandoned in its daemon
thread and reported as failed.

The rows are the seed patterns, RADIO/DISH, and libzmq's draft socket types
(CLIENT/SERVER, SCATTER/GATHER, CHANNEL, PEER): a row whose pattern plugin is not
installed is ``unavailable`` with that reason.

Most transports bind their plugin's ``loopback_endpoint``. A few need more, which the
demo sets up itself (:class:`Setups`, listed under the table): ``tls`` and ``wss`` get a
throw-away self-signed certificate in the demo's temporary folder; ``chaos+tcp``/``chaos+ipc`` get
fault settings that slow and fragment traffic without losing it; ``pgm``/``epgm`` run in
a network namespace the demo creates (``unshare -n``), whose loopback carries multicast,
so nothing reaches a real network.

Outcomes: ``ok``; ``failed`` (should have worked and did not: exit status 1);
``unavailable`` (the transport or pattern cannot run on this host, with the reason);
``n/a`` (the transport cannot carry this pattern, e.g. a datagram transport).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mqsdk import kernel_info
from mqsdk.errors import ENOCOMPATPROTO, MQError, UnsupportedTransport

# The seed patterns: (label, binding type, connecting type).
PATTERNS: list[tuple[str, str, str]] = [
    ("REQ/REP", "REP", "REQ"),
    ("PUB/SUB", "PUB", "SUB"),
    ("PUSH/PULL", "PULL", "PUSH"),
    ("PAIR", "PAIR", "PAIR"),
]

# Rows beyond the seed set, from plugins that may or may not be installed: RADIO/DISH and
# libzmq's draft socket types. A row runs when its types' plugin is there.
MORE_PATTERNS: list[tuple[str, str, str]] = [
    ("RADIO/DISH", "DISH", "RADIO"),
    ("CLIENT/SERVER", "SERVER", "CLIENT"),
    ("SCATTER/GATHER", "GATHER", "SCATTER"),
    ("CHANNEL", "CHANNEL", "CHANNEL"),
    ("PEER", "PEER", "PEER"),
]

ALL_PATTERNS = PATTERNS + MORE_PATTERNS

DEMO_GROUP = b"demo"  # the RADIO/DISH group the row's messages go to
RADIO_WINDOW = 100  # RADIO/DISH messages in flight at once (see _exchange)

# Faults for chaos+tcp/chaos+ipc that a correct stack rides out without losing a message:
# every read and write cut short, writes held back a millisecond, reading paused now and
# then. (drop and reset_after lose messages by design, so a cell could not check them.)
CHAOS_FAULTS = "partial=1&delay_ms=1&stall_ms=2&stall_every=4096"

# pgm/epgm in the namespace: a group on the namespace's own loopback, one port per cell;
# a rate that moves a cell's messages in well under a second (the default is 100 kbit/s).
MULTICAST_GROUP = "239.192.77.1"
MULTICAST_PORT = 17000
PGM_RATE_KBITS = 10000
NAMESPACE_SCHEMES = frozenset({"pgm", "epgm"})


@dataclass
class Cell:
    pattern: str
    transport: str
    outcome: str = "ok"  # ok | failed | unavailable | n/a
    reason: str = ""
    sent: int = 0
    received: int = 0
    seconds: float = 0.0
    setup: str = ""  # what the demo set up for this transport (see Setups), if anything

    @property
    def status(self) -> str:
        return self.outcome if not self.reason else f"{self.outcome}: {self.reason}"


# -- what a transport needs to run here -----------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """How one transport runs in the demo: where to bind, how the peer connects to the
    bound ``last_endpoint``, socket options for each side, and a note for the table."""

    bind: str  # a template: {tmp} is a private folder, {n} a number unique to the cell
    connect: Callable[[str], str]
    note: str = ""
    bind_options: Mapping[str, Any] = field(default_factory=dict)
    connect_options: Mapping[str, Any] = field(default_factory=dict)
    namespace: bool = False  # runs in a network namespace of its own (multicast)


class SetupUnavailable(Exception):
    """This host lacks what the demo needs to set the transport up (the reason)."""


@dataclass(frozen=True)
class Certificate:
    cert: Path  # PEM certificate, which the connecting side also trusts (self-signed)
    key: Path
    tool: str  # what made it, for the note


CERTIFICATE_NAMES = ("localhost", "127.0.0.1", "::1")


def make_certificate(folder: Path, tool: str | None = None) -> Certificate:
    """A throw-away self-signed certificate (EC P-256, valid one day) for localhost,
    127.0.0.1 and ::1, written to ``folder``.

    Made with the ``cryptography`` package when it is installed: in-process, and the same
    certificate whatever the system's OpenSSL configuration says. Otherwise with the
    ``openssl`` command, which most hosts without the package still have. ``tool`` picks
    one ("cryptography" or "openssl"); SetupUnavailable when neither can run.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if tool in (None, "cryptography"):
        try:
            package = importlib.import_module("cryptography")
        except ImportError:
            if tool is not None:
                raise SetupUnavailable("the cryptography package is not installed") from None
        else:
            return _certificate_with_cryptography(folder, str(package.__version__))
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SetupUnavailable(
            "a throw-away certificate needs the cryptography package or the openssl command"
        )
    return _certificate_with_openssl(folder, openssl)


def _certificate_with_cryptography(folder: Path, version: str) -> Certificate:
    # Imported by name: cryptography is optional, and mypy runs where it is not installed.
    x509: Any = importlib.import_module("cryptography.x509")
    hashes: Any = importlib.import_module("cryptography.hazmat.primitives.hashes")
    serialization: Any = importlib.import_module("cryptography.hazmat.primitives.serialization")
    ec: Any = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")
    oid: Any = importlib.import_module("cryptography.x509.oid")

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, "mqsdk demo")])
    now = datetime.datetime.now(datetime.UTC)
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    alt_names = [x509.DNSName(CERTIFICATE_NAMES[0])]
    alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in CERTIFICATE_NAMES[1:]]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks disagree a little
        .not_valid_after(now + datetime.timedelta(days=1))
        # The extensions a strict verifier (Python 3.13's default) wants of a
        # self-signed end-entity certificate that is also its own trust anchor.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(key_id, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "demo-cert.pem", folder / "demo-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(key_path, key_bytes)
    return Certificate(cert_path, key_path, f"the cryptography package {version}")


def _certificate_with_openssl(folder: Path, openssl: str) -> Certificate:
    cert_path, key_path = folder / "demo-cert.pem", folder / "demo-key.pem"
    alt_names = ",".join(
        [f"DNS:{CERTIFICATE_NAMES[0]}", *(f"IP:{a}" for a in CERTIFICATE_NAMES[1:])]
    )
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key_path), "-out", str(cert_path), "-days", "1",
        "-subj", "/CN=mqsdk demo",
        "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", f"subjectAltName={alt_names}",
        "-addext", "keyUsage=critical,digitalSignature",
        "-addext", "extendedKeyUsage=serverAuth",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupUnavailable(f"openssl could not make a certificate: {exc}") from None
    if done.returncode:
        raise SetupUnavailable(
            f"openssl could not make a certificate: {done.stderr.strip()[-300:]}"
        )
    key_path.chmod(0o600)
    version = subprocess.run(
        [openssl, "version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.split()[:2]  # "OpenSSL 3.0.19 27 Jan 2026 (Library: ...)": name and number
    return Certificate(cert_path, key_path, f"the openssl command ({' '.join(version) or openssl})")


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only, from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


class Setups:
    """What the demo sets up per transport, made once per run and on first use."""

    def __init__(
        self,
        tmp: str,
        *,
        in_namespace: bool = False,
        certificate: Certificate | None = None,
        namespace_command: str = "",
    ) -> None:
        self.tmp = tmp
        self.in_namespace = in_namespace
        # Inside the namespace everyone is root: the parent says how it made it.
        self.namespace_command = namespace_command or " ".join(_unshare())
        self._certificate: Certificate | str | None = certificate  # str: why none

    def certificate(self) -> Certificate:
        if self._certificate is None:
            try:
                self._certificate = make_certificate(Path(self.tmp) / "certificate")
            except SetupUnavailable as exc:
                self._certificate = str(exc)
        if isinstance(self._certificate, str):
            raise SetupUnavailable(self._certificate)
        return self._certificate

    def for_transport(self, transport: type[Any]) -> Setup | None:
        """How to run ``transport`` here; None when it declares no way to run on one host
        and the demo knows none either. SetupUnavailable when this host lacks something."""
        scheme = str(transport.name)
        if scheme == "tls":
            cert = self.certificate()
            # Quoted: the settings are a query string, and TMPDIR may hold & or %.
            cert_path, key_path = quote(str(cert.cert)), quote(str(cert.key))
            return Setup(
                bind=f"tls://127.0.0.1:*?cert={cert_path}&key={key_path}",
                connect=lambda bound: f"{bound}?ca={cert_path}",
                note=f"a throw-away self-signed certificate for {', '.join(CERTIFICATE_NAMES)} "
                f"made with {cert.tool} in the demo's temporary folder (removed at the end); "
                "the connecting side trusts that certificate only",
            )
        if scheme == "wss":  # the same certificate, in libzmq's wss_* options (PEM bytes)
            cert = self.certificate()
            pem = cert.cert.read_bytes()
            return Setup(
                bind=transport.loopback_endpoint or "wss://127.0.0.1:*",
                connect=transport.loopback_connect_endpoint,
                note=f"a throw-away self-signed certificate (as for tls) made with {cert.tool}, "
                "given as wss_cert_pem/wss_key_pem to the bound side and as wss_trust_pem "
                "(with wss_hostname=localhost) to the connecting side",
                bind_options={"wss_cert_pem": pem, "wss_key_pem": cert.key.read_bytes()},
                connect_options={"wss_trust_pem": pem, "wss_hostname": b"localhost"},
            )
        if scheme in ("chaos+tcp", "chaos+ipc"):
            inner = "127.0.0.1:*" if scheme == "chaos+tcp" else "{tmp}/demo-{n}.sock"
            return Setup(
                bind=f"{scheme}://{inner}?{CHAOS_FAULTS}&seed={{n}}",
                # The faults stay out of last_endpoint: the connecting side asks for its own.
                connect=lambda bound: f"{bound}?{CHAOS_FAULTS}",
                note=f"faults on both sides: {CHAOS_FAULTS} (seeded per cell)",
            )
        if scheme in NAMESPACE_SCHEMES:
            return Setup(
                bind=f"{scheme}://lo;{MULTICAST_GROUP}:{{port}}",
                connect=lambda bound: bound,
                note=f"in a network namespace the demo creates ({self.namespace_command}), "
                f"whose loopback carries multicast ({MULTICAST_GROUP}); "
                f"rate={PGM_RATE_KBITS} kbit/s",
                bind_options={"rate": PGM_RATE_KBITS},
                connect_options={"rate": PGM_RATE_KBITS},
                namespace=True,
            )
        template = transport.loopback_endpoint
        if template is None:
            return None
        return Setup(bind=template, connect=transport.loopback_connect_endpoint)


# -- network namespaces (pgm, epgm) ------------------------------------------------------------


@functools.cache
def namespace_blocker() -> str:
    """Empty when the demo can run cells in a network namespace of their own, else why
    not. Root gets one with ``unshare -n``; another user with ``unshare -r -n`` where the
    kernel allows unprivileged user namespaces (that user is root inside only)."""
    if not sys.platform.startswith("linux"):
        return "multicast needs a network namespace of its own, which only Linux has"
    for command, package in (("unshare", "util-linux"), ("ip", "iproute2")):
        if shutil.which(command) is None:
            return (
                f"multicast runs in a network namespace, which needs the {command} "
                f"command ({package})"
            )
    # Read-only: the probe only says which namespace it landed in. Changing anything here
    # would change the host's own loopback if ``unshare`` turned out not to make one.
    report_namespace = "import os; print(os.readlink('/proc/self/ns/net'))"
    try:
        probe = subprocess.run(
            [*_unshare(), sys.executable, "-I", "-S", "-c", report_namespace],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create a network namespace for multicast: {exc}"
    if probe.returncode:
        who = "as root" if os.geteuid() == 0 else "without root"
        return (
            f"cannot create a network namespace for multicast {who}: "
            f"{probe.stderr.strip() or f'exit status {probe.returncode}'}"
        )
    ours = _network_namespace()
    if probe.stdout.strip() in (ours, "") or ours.startswith("unknown"):
        return (
            f"{' '.join(_unshare())} did not give its command a new network namespace "
            f"(it ran in {probe.stdout.strip() or 'an unknown one'}; this process is in {ours})"
        )
    return ""


def _network_namespace(pid: str = "self") -> str:
    """Which network namespace a process is in (``net:[inode]``), or ``unknown: why``."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError as exc:
        return f"unknown: {exc}"


def _interfaces_up() -> list[str]:
    """The interfaces that are up in this process's network namespace (read-only)."""
    import fcntl
    import socket
    import struct

    get_flags, up = 0x8913, 0x1  # SIOCGIFFLAGS, IFF_UP (linux/sockios.h, linux/if.h)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        names = [name for _, name in socket.if_nameindex()]
        request = [struct.pack("16sH22x", name.encode()[:15], 0) for name in names]
        flags = [struct.unpack("16sH22x", fcntl.ioctl(probe, get_flags, r))[1] for r in request]
    return [name for name, flag in zip(names, flags, strict=True) if flag & up]


def _not_a_new_namespace() -> str:
    """Empty when this process is in a network namespace just made for it, else why not.

    Decided only from what the kernel tells this process, never from what its caller
    says, so nothing a caller passes makes the host's namespace pass for a new one:
    its namespace must differ from its parent's (the demo: ``unshare`` execs the child
    in place) and init's, where those can be read, and nothing in it may be up yet (a
    namespace is born with every interface down; a namespace in use has loopback up).
    As another user (``unshare -r -n``) the child is in a user namespace of its own,
    from which the kernel does not show it its parent's namespace: the second test
    then decides alone."""
    own = _network_namespace()
    if own.startswith("unknown"):
        return f"cannot tell which network namespace this process is in ({own})"
    if own == _network_namespace(str(os.getppid())):
        return f"it shares its parent's network namespace ({own})"
    if own == _network_namespace("1"):
        return f"it is in init's network namespace ({own})"
    try:
        up = _interfaces_up()
    except OSError as exc:
        return f"cannot tell which interfaces are up in {own}: {exc}"
    if up:
        return f"{own} is in use already: {', '.join(up)} up"
    return ""


def _unshare() -> list[str]:
    return ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]


def run_in_namespace(
    cells: list[tuple[tuple[str, str, str], str, int]], count: int, timeout: float
) -> list[Cell]:
    """Run ``(pattern, scheme, n)`` cells in one child process in a new network
    namespace (nothing there reaches a real network); unavailable cells, with the reason,
    when the host cannot make one."""
    if not cells:
        return []
    blocker = namespace_blocker()
    if blocker:
        return [Cell(p[0], scheme, "unavailable", blocker) for p, scheme, _ in cells]
    request = {
        "cells": [[list(p), scheme, n] for p, scheme, n in cells],
        "count": count,
        "timeout": timeout,
        "unshare": " ".join(_unshare()),
    }
    limit = len(cells) * (timeout + 3.0) + 30.0  # every cell's own bound, and start-up
    code = "import sys; from mqsdk.cli.demo import namespace_child; sys.exit(namespace_child())"
    try:
        child = subprocess.run(
            [*_unshare(), sys.executable, *_interpreter_flags(), "-c", code],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        reason = f"the namespace's process was still running after {limit:g} s"
        return [Cell(p[0], scheme, "failed", reason) for p, scheme, _ in cells]
    lines = child.stdout.strip().splitlines()
    try:
        results = json.loads(lines[-1])
        return [Cell(**result) for result in results]
    except (IndexError, ValueError, TypeError):
        reason = (
            f"the namespace's process gave no result (exit status {child.returncode}): "
            f"{child.stderr.strip()[-500:]}"
        )
        return [Cell(p[0], scheme, "failed", reason) for p, scheme, _ in cells]


def _interpreter_flags() -> list[str]:
    """The flags that decide where this interpreter imports mqsdk from, so that the child
    runs the same mqsdk (``python -P -m mqsdk demo`` in a checkout runs the installed one)."""
    flags = sys.flags
    chosen = [("-I", flags.isolated), ("-P", flags.safe_path), ("-E", flags.ignore_environment)]
    chosen.append(("-s", flags.no_user_site))
    return [flag for flag, on in chosen if on]


MULTICAST_LOOPBACK = (
    "ip link set lo up",
    "ip link set lo multicast on",
    "ip route add 224.0.0.0/4 dev lo",
)


def _multicast_loopback() -> str:
    """Make this namespace's loopback carry multicast; empty, or why it could not."""
    for command in MULTICAST_LOOPBACK:
        try:
            done = subprocess.run(
                command.split(), capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"cannot set up multicast on the namespace's loopback ({command}): {exc}"
        if done.returncode:
            return (
                f"cannot set up multicast on the namespace's loopback ({command}): "
                f"{done.stderr.strip() or f'exit status {done.returncode}'}"
            )
    return ""


def namespace_child() -> int:
    """In the new namespace: bring loopback up for multicast, run the cells asked for on
    stdin, print them as JSON (the last line). Never run outside a namespace of its own:
    it changes the routes."""
    from mqsdk._kernel.registry import Registry
    from mqsdk.config import load_config

    refusal = _not_a_new_namespace()
    if refusal:  # the routes below would be someone else's, perhaps the host's
        error = f"not in a new network namespace: {refusal}"
        print(json.dumps({"error": error}), file=sys.stderr)
        return 1
    request = json.loads(sys.stdin.read())
    cells = []
    refused = _multicast_loopback()
    if refused:  # a sandbox may allow the namespace but not its routes
        for pattern, scheme, _ in request["cells"]:
            cells.append(asdict(Cell(pattern[0], scheme, "unavailable", refused)))
        print(json.dumps(cells), flush=True)
        return 0
    registry = Registry(load_config(), strict=False)
    with tempfile.TemporaryDirectory(prefix="mqsdk-demo-") as tmp:
        setups = Setups(tmp, in_namespace=True, namespace_command=request["unshare"])
        for pattern, scheme, n in request["cells"]:
            cell = run_cell(
                (pattern[0], pattern[1], pattern[2]),  # a JSON list of three names
                scheme,
                registry,
                request["count"],
                request["timeout"],
                tmp,
                n,
                setups,
            )
            cells.append(asdict(cell))
    print(json.dumps(cells), flush=True)
    # A cell abandoned in its daemon thread must not keep the process (and the demo) alive.
    os._exit(0)


# -- one cell -------------------------------------------------------------------------------


def _host_blocker(transport_cls: type[Any]) -> str:
    """Why this host cannot talk to itself over a transport that is otherwise available.

    A transport module may offer ``loopback() -> Availability`` for that (vmci does: a
    guest can reach its host without being able to reach itself).
    """
    probe = getattr(sys.modules.get(transport_cls.__module__), "loopback", None)
    if callable(probe):
        try:
            answer = probe()
        except Exception as exc:  # a probe must not take the demo down
            return f"loopback probe failed: {exc}"
        if hasattr(answer, "ok") and not answer.ok:
            return str(answer.reason)
    return ""


def _exchange(
    cell: Cell,
    bind_type: str,
    connect_type: str,
    setup: Setup,
    endpoint: str,
    count: int,
    deadline: float,
) -> None:
    import mqsdk

    ctx = mqsdk.Context()
    try:
        millis = max(1, int((deadline - time.monotonic()) * 1000))
        server, client = ctx.socket(bind_type), ctx.socket(connect_type)
        for sock, options in ((server, setup.bind_options), (client, setup.connect_options)):
            sock.set("linger", 0)
            sock.set("rcvtimeo", millis)
            sock.set("sndtimeo", millis)
            if cell.pattern in ("PUB/SUB", "RADIO/DISH"):  # these drop above the HWM
                sock.set("sndhwm", count + 10)
                sock.set("rcvhwm", count + 10)
            for name, value in options.items():
                sock.set(name, value)
        peer_id: Any = None  # PEER: the routing id connect_peer returned
        try:
            server.bind(endpoint)
            if connect_type == "SUB":
                client.subscribe(b"")
            if bind_type == "DISH":
                server.join(DEMO_GROUP)
            target = setup.connect(server.last_endpoint.decode())
            if cell.pattern == "PEER":
                peer_id = client.connect_peer(target)
            else:
                client.connect(target)
        except MQError as exc:
            if exc.errno == ENOCOMPATPROTO:  # the endpoint differs per cell: keep one note
                cell.outcome, cell.reason = (
                    "n/a",
                    str(exc).replace(endpoint, f"{cell.transport}://"),
                )
                return
            raise
        messages = [b"demo %d" % n for n in range(count)]
        if cell.pattern == "PUB/SUB" and not server.wait_for_subscribers(
            1, timeout=max(0.0, deadline - time.monotonic())
        ):
            raise MQError("no subscriber arrived before the timeout")
        if cell.pattern == "RADIO/DISH":
            _until_joined(client, server, deadline)
        start = time.perf_counter()
        got: list[bytes] = []
        if cell.pattern == "REQ/REP":
            for message in messages:
                client.send(message)
                cell.sent += 1
                server.send(server.recv())
                got.append(client.recv())
                cell.received += 1
        elif cell.pattern in ("CLIENT/SERVER", "PEER"):
            got = _by_routing_id(cell, client, server, messages, peer_id)
        elif cell.pattern in ("PAIR", "CHANNEL"):  # both directions, count messages each way
            got = _one_way(cell, client, server, messages) + _one_way(
                cell, server, client, messages
            )
            messages = messages * 2
        elif cell.pattern == "PUB/SUB":
            got = _one_way(cell, server, client, messages)
        elif cell.pattern == "RADIO/DISH":
            # A RADIO never waits for a slow DISH, and over udp the OS drops datagrams
            # beyond the socket's buffer (libzmq does the same): in windows, a cell
            # checks delivery, not how large a burst the buffers hold.
            for first in range(0, count, RADIO_WINDOW):
                window = messages[first : first + RADIO_WINDOW]
                got += _one_way(cell, client, server, window, group=DEMO_GROUP)
        else:  # PUSH/PULL, SCATTER/GATHER
            got = _one_way(cell, client, server, messages)
        cell.seconds = time.perf_counter() - start
        if got != messages:
            raise MQError("messages arrived changed or out of order")
    finally:
        ctx.destroy(linger=0)


def _one_way(
    cell: Cell, sender: Any, receiver: Any, messages: list[bytes], group: bytes | None = None
) -> list[bytes]:
    """Send every message, then receive as many; counted in the cell as they go."""
    for message in messages:
        if group is None:
            sender.send(message)
        else:
            sender.send(message, group=group)
        cell.sent += 1
    got = []
    for _ in messages:
        got.append(receiver.recv())
        cell.received += 1
    return got


def _until_joined(radio: Any, dish: Any, deadline: float) -> None:
    """Return once the DISH's JOIN has reached the RADIO (it travels on its own, and a
    RADIO drops what no DISH joined): send markers until one arrives, then one last
    marker, read up to it, so the demo's messages start on a clean queue."""
    while not dish.poll(20):
        if time.monotonic() > deadline:
            raise MQError("the DISH's JOIN never reached the RADIO before the timeout")
        radio.send(b"marker", group=DEMO_GROUP)
    radio.send(b"last marker", group=DEMO_GROUP)
    while dish.recv() != b"last marker":
        pass


def _by_routing_id(
    cell: Cell, client: Any, server: Any, messages: list[bytes], peer_id: Any
) -> list[bytes]:
    """CLIENT/SERVER and PEER: each request goes out (to ``peer_id`` for a PEER), and the
    bound side answers to the routing id its request arrived with."""
    import mqsdk

    got = []
    for message in messages:
        if peer_id is None:
            client.send(message)
        else:
            request = mqsdk.Frame(message)
            request.routing_id = peer_id
            client.send(request)
        cell.sent += 1
        received = server.recv(copy=False)
        reply = mqsdk.Frame(received.bytes)
        reply.routing_id = received.routing_id
        server.send(reply)
        got.append(client.recv())
        cell.received += 1
    return got


def prepare_cell(
    pattern: tuple[str, str, str], scheme: str, registry: Any, setups: Setups
) -> tuple[Cell, Setup | None]:
    """The cell, and how to run it; no Setup when its outcome is known without running
    (unavailable or n/a, with the reason)."""
    label, bind_type, connect_type = pattern
    cell = Cell(label, scheme)
    component = registry.find_component("transport", scheme)
    if component is None:
        cell.outcome, cell.reason = "unavailable", f"no {scheme} transport plugin is loaded"
        return cell, None
    if not component.availability.ok:
        cell.outcome, cell.reason = "unavailable", component.availability.reason
        return cell, None
    transport = component.cls
    for type_name in dict.fromkeys((bind_type, connect_type)):  # in order: the same note
        if type_name not in registry.patterns:
            cell.outcome, cell.reason = "unavailable", f"no pattern plugin for {type_name}"
            return cell, None
    types = getattr(transport, "socket_types", None)  # a transport may declare what it carries
    if types is not None and not {bind_type, connect_type} <= {str(t).upper() for t in types}:
        cell.outcome = "n/a"
        cell.reason = f"{scheme} carries {', '.join(sorted(map(str, types)))} only"
        return cell, None
    try:
        setup = setups.for_transport(transport)
    except SetupUnavailable as exc:
        cell.outcome, cell.reason = "unavailable", str(exc)
        return cell, None
    if setup is None:
        cell.outcome = "n/a"
        cell.reason = (
            f"{scheme}:// declares no loopback_endpoint (it needs a network, such as "
            "multicast, or settings the demo lacks); its own plugin tests it"
        )
        return cell, None
    blocker = _host_blocker(transport)
    if blocker:
        cell.outcome, cell.reason = "unavailable", blocker
        return cell, None
    cell.setup = setup.note
    return cell, setup


def run_cell(
    pattern: tuple[str, str, str],
    scheme: str,
    registry: Any,
    count: int,
    timeout: float,
    tmp: str,
    n: int,
    setups: Setups | None = None,
) -> Cell:
    setups = setups if setups is not None else Setups(tmp)
    cell, setup = prepare_cell(pattern, scheme, registry, setups)
    if setup is None:
        return cell
    if setup.namespace and not setups.in_namespace:
        return run_in_namespace([(pattern, scheme, n)], count, timeout)[0]
    return _run_prepared(cell, pattern, setup, count, timeout, tmp, n)


# A cell's sockets time out at its deadline; closing them and the context may take a
# little longer, which is no reason to call the cell stuck.
CLEANUP_GRACE = 2.0


def _run_prepared(
    cell: Cell,
    pattern: tuple[str, str, str],
    setup: Setup,
    count: int,
    timeout: float,
    tmp: str,
    n: int,
) -> Cell:
    label, bind_type, connect_type = pattern
    endpoint = setup.bind.format(tmp=tmp, n=n, port=MULTICAST_PORT + n)
    deadline = time.monotonic() + timeout
    failure: list[str] = []

    def work() -> None:
        try:
            _exchange(cell, bind_type, connect_type, setup, endpoint, count, deadline)
        except UnsupportedTransport as exc:
            failure.append(f"unavailable:{exc}")
        except Exception as exc:  # reported in the table, never a traceback
            failure.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=work, name=f"demo {label} {cell.transport}", daemon=True)
    worker.start()
    waited = timeout + CLEANUP_GRACE
    worker.join(waited)
    if worker.is_alive():
        cell.outcome, cell.reason = "failed", f"still running after {waited:g} s"
    elif failure:
        reason = failure[0]
        if reason.startswith("unavailable:"):
            cell.outcome, cell.reason = "unavailable", reason.removeprefix("unavailable:")
        else:
            cell.outcome, cell.reason = "failed", reason
    return cell


# -- the command ----------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from mqsdk._kernel.registry import Registry
    from mqsdk.cli.output import print_table, progress
    from mqsdk.config import load_config

    registry = Registry(load_config(), strict=False)
    schemes = sorted(c.name for c in registry.components("transport"))
    patterns = ALL_PATTERNS
    if args.transport:
        unknown = sorted(set(args.transport) - set(schemes))
        if unknown:
            print(
                f"mqsdk demo: no transport named {', '.join(unknown)}; installed: "
                f"{', '.join(schemes)}",
                file=sys.stderr,
            )
            return 2
        schemes = [s for s in schemes if s in args.transport]
    if args.pattern:
        wanted = {p.upper() for p in args.pattern}
        patterns = [p for p in patterns if p[0] in wanted or p[1] in wanted or p[2] in wanted]
    cells: list[Cell] = []
    in_namespace: list[tuple[int, tuple[str, str, str], str]] = []  # run together, at the end
    with (
        tempfile.TemporaryDirectory(prefix="mqsdk-demo-") as tmp,
        progress("demo", len(patterns) * len(schemes)) as bar,
    ):
        setups = Setups(tmp)
        for pattern in patterns:
            for scheme in schemes:
                bar.describe(f"{pattern[0]} over {scheme}")
                n = len(cells)
                cell, setup = prepare_cell(pattern, scheme, registry, setups)
                if setup is not None and setup.namespace:
                    in_namespace.append((n, pattern, scheme))
                elif setup is not None:
                    cell = _run_prepared(cell, pattern, setup, args.count, args.timeout, tmp, n)
                cells.append(cell)
                bar.advance()
        if in_namespace:
            bar.describe(f"{len(in_namespace)} cells in a network namespace")
            done = run_in_namespace(
                [(p, s, n) for n, p, s in in_namespace], args.count, args.timeout
            )
            for (n, _, _), cell in zip(in_namespace, done, strict=True):
                cells[n] = cell
    failed = [c for c in cells if c.outcome == "failed"]
    if args.json:
        print(json.dumps([{**asdict(c), "status": c.status} for c in cells], indent=2))
    else:
        _print_results(cells, print_table)
        ok = sum(c.outcome == "ok" for c in cells)
        skipped = len(cells) - ok - len(failed)
        # Whether the install carries the compiled kernel is the first thing to know
        # about the numbers above (and what .ci/quickstart checks).
        print(f"kernel: {kernel_info().detail}")
        print(f"{ok} ok, {len(failed)} failed, {skipped} not run here (n/a or unavailable)")
    for error in registry.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if failed or registry.errors else 0


def _print_results(cells: list[Cell], print_table: Callable[..., None]) -> None:
    notes: list[str] = []  # a reason shared by many cells is printed once, below
    types = {label: (bind_type, connect_type) for label, bind_type, connect_type in ALL_PATTERNS}

    def result(c: Cell) -> str:
        if c.outcome in ("ok", "failed"):
            return c.status
        # A transport refuses each socket type in the same words but for the type's name
        # ("a REP socket cannot use pgm://"): one note per transport says it for all.
        note = c.reason
        for type_name in types.get(c.pattern, ()):
            note = note.replace(f"a {type_name} socket", "a socket of another type")
        if note not in notes:
            notes.append(note)
        return f"{c.outcome} [{notes.index(note) + 1}]"

    rows = [
        {
            "pattern": c.pattern,
            "transport": c.transport,
            "sent": c.sent if c.outcome in ("ok", "failed") else "-",
            "received": c.received if c.outcome in ("ok", "failed") else "-",
            "time": f"{c.seconds * 1000:.1f} ms" if c.outcome == "ok" else "",
            "result": result(c),
        }
        for c in cells
    ]
    print_table(
        rows,
        ["pattern", "transport", "sent", "received", "time", "result"],
        styles={"ok": "green", "failed": "bold red", "n/a": "dim", "unavailable": "yellow"},
    )
    for number, note in enumerate(notes, 1):
        print(f"[{number}] {note}")
    setups: dict[str, str] = {}  # what the demo set up, for the transports that ran
    for c in cells:
        if c.setup and c.outcome in ("ok", "failed"):
            setups.setdefault(c.transport, c.setup)
    for scheme, note in setups.items():
        print(f"set up: {scheme}: {note}")


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run every pattern over every transport this host has",
        description="Run each pattern installed (REQ/REP, PUB/SUB, PUSH/PULL, PAIR, RADIO/DISH "
        "and the draft CLIENT/SERVER, SCATTER/GATHER, CHANNEL, PEER) over every transport "
        "installed and show pattern, transport, messages sent and received, time, and ok or "
        "why not. tls gets a throw-away certificate, chaos transports fault settings, pgm and "
        "epgm a network namespace where the host allows one. Exit status 1 if anything that "
        "should work did not.",
    )
    demo.add_argument("--count", type=int, default=200, help="messages per cell (default 200)")
    demo.add_argument(
        "--timeout", type=float, default=10.0, help="seconds per cell before it fails (default 10)"
    )
    demo.add_argument(
        "--transport", action="append", metavar="SCHEME", help="only this transport (repeatable)"
    )
    demo.add_argument(
        "--pattern", action="append", metavar="NAME", help="only this pattern, e.g. PUB/SUB or REQ"
    )
    demo.add_argument("--json", action="store_true", help="print a JSON list of cells")
    demo.set_defaults(func=cmd_demo)
