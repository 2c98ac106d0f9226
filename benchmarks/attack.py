"""Hostile peers against an mqsdk server and a libzmq (pyzmq) server, side by side.

    python benchmarks/attack.py                 # the full matrix (several minutes)
    python benchmarks/attack.py --quick         # tiny counts: does everything run?
    python benchmarks/attack.py --server pull --attack huge --mode pre --json

For each server kind (PULL over NULL, ROUTER over NULL, PULL over CURVE with a ZAP handler
that allows only the good client's key) and each library, a server process binds to
127.0.0.1 and counts the numbered messages a good pyzmq peer (PUSH, DEALER or CURVE PUSH,
another process) sends at a steady rate, while this process attacks it:

* ``huge``: N connections send a valid greeting (mode ``post`` adds a valid READY, so the
  declaration comes after the handshake; mode ``pre`` makes it the handshake's first
  command), then a long frame header declaring ``--huge-size`` bytes and a few body bytes,
  and stay open;
* ``garbage``: N connections send random bytes: some pure noise, some a valid greeting and
  then noise, some a truncated greeting, some a valid handshake and then noise; about half
  close at once, the others stay open until the attack ends.

Per run: good messages lost (sent by the peer, never received by the server: exact, the
server reports the numbers it got), the good peer's worst gap at the server, the server's
RSS before / peak (VmHWM, reset before the attack, and 20 Hz sampling) / after, its fds
and threads before / after, and its CPU seconds from the attack's start to the "after"
sample. Only 127.0.0.1 is ever a target; every phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import queue
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LIBS = ("mqsdk", "pyzmq")
SERVERS = ("pull", "router", "curve")
ATTACKS = ("huge", "garbage")
MODES = ("pre", "post")
HOST = "127.0.0.1"  # the only address this script ever connects to
SERVER_LABELS = {"pull": "PULL (NULL)", "router": "ROUTER (NULL)", "curve": "PULL (CURVE+ZAP)"}
PEER_TYPES = {"pull": b"PUSH", "router": b"DEALER", "curve": b"PUSH"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- ZMTP bytes, written by hand: the attacker must not borrow the codec it attacks --------


def greeting(mechanism: bytes) -> bytes:
    """ZMTP 3.1 greeting: signature, version 3.1, mechanism, as-server 0, filler."""
    return b"\xff" + bytes(8) + b"\x7f\x03\x01" + mechanism.ljust(20, b"\x00") + bytes(32)


def ready(socket_type: bytes) -> bytes:
    """NULL READY carrying the Socket-Type property."""
    body = b"\x05READY\x0bSocket-Type" + len(socket_type).to_bytes(4, "big") + socket_type
    return bytes((0x04, len(body))) + body


def long_header(size: int, *, command: bool) -> bytes:
    """A LONG frame header (8-byte size): a command before READY, a message after."""
    return bytes((0x06 if command else 0x02,)) + size.to_bytes(8, "big")


# -- helpers shared by the processes -------------------------------------------------------


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def emit(**message: Any) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def stdin_commands() -> queue.Queue[dict[str, Any]]:
    """Commands from the parent, one JSON object a line; EOF becomes ``quit``."""
    commands: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            with contextlib.suppress(ValueError):
                commands.put(json.loads(line))
        commands.put({"cmd": "quit"})

    threading.Thread(target=read, name="commands", daemon=True).start()
    return commands


def proc_status(pid: int | str) -> dict[str, int]:
    """VmRSS, VmHWM (KiB) and Threads from /proc/<pid>/status."""
    text = Path(f"/proc/{pid}/status").read_text()
    found = dict(re.findall(r"^(VmRSS|VmHWM|Threads):\s+(\d+)", text, re.MULTILINE))
    return {key: int(value) for key, value in found.items()}


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- the server process --------------------------------------------------------------------


def serve(spec: dict[str, Any]) -> None:
    """Bind, count the good peer's numbers, answer the parent's commands."""
    raise_fd_limit()
    kind = spec["server"]
    # Either library through one name: mqsdk's API has pyzmq's shape.
    lib: Any = importlib.import_module("mqsdk" if spec["lib"] == "mqsdk" else "zmq")
    auth_module = "mqsdk.auth" if spec["lib"] == "mqsdk" else "zmq.auth.thread"
    ThreadAuthenticator = importlib.import_module(auth_module).ThreadAuthenticator
    ctx = lib.Context()
    auth = None
    if kind == "curve":
        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=spec["allowed_dir"])
    sock = ctx.socket(lib.ROUTER if kind == "router" else lib.PULL)
    sock.linger = 0
    sock.rcvtimeo = 50
    if kind == "curve":
        sock.curve_server = True
        sock.curve_publickey = spec["server_public"].encode()
        sock.curve_secretkey = spec["server_secret"].encode()
    sock.bind(f"tcp://{HOST}:*")
    endpoint = sock.last_endpoint
    if spec["lib"] == "mqsdk":  # which kernel: compiled, or pure and why (MQSDK_PURE_PYTHON=1)
        emit(kernel=lib.kernel_info().detail)
    emit(ready=endpoint.decode() if isinstance(endpoint, bytes) else endpoint, pid=os.getpid())

    commands = stdin_commands()
    received: set[int] = set()
    duplicates = foreign = 0
    last_at: float | None = None
    worst_gap = 0.0
    while True:
        try:
            frames = sock.recv_multipart()
        except lib.Again:
            pass
        else:
            now = time.monotonic()
            try:
                number = int(frames[-1])
            except ValueError:
                foreign += 1
            else:
                if number in received:
                    duplicates += 1
                received.add(number)
                if last_at is not None:
                    worst_gap = max(worst_gap, now - last_at)
                last_at = now
        while not commands.empty():
            command = commands.get()
            if command["cmd"] == "count":
                emit(count=len(received))
            elif command["cmd"] == "mark":
                # Peak RSS from here on: writing 5 to clear_refs resets VmHWM to VmRSS.
                try:
                    Path("/proc/self/clear_refs").write_text("5")
                    emit(marked=True)
                except OSError:
                    emit(marked=False)
            elif command["cmd"] == "report":
                sent = int(command["sent"])
                got = sum(1 for n in received if n < sent)
                emit(
                    result={
                        "received": got,
                        "lost": sent - got,
                        "unexpected": len(received) - got,
                        "duplicates": duplicates,
                        "foreign": foreign,
                        "worst_gap_s": worst_gap,
                    }
                )
            elif command["cmd"] == "quit":
                if auth is not None:
                    auth.stop()
                sock.close(linger=0)
                ctx.term()
                return


# -- the good peer process -----------------------------------------------------------------


def good_peer(spec: dict[str, Any]) -> None:
    """Send numbers at ``rate`` per second (a number counts once pyzmq took it) until told
    to stop; a full queue is a stall, retried at the next tick, never a skipped number."""
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER if spec["server"] == "router" else zmq.PUSH)
    sock.linger = 0
    if spec["server"] == "curve":
        sock.curve_serverkey = spec["server_public"].encode()
        sock.curve_publickey = spec["client_public"].encode()
        sock.curve_secretkey = spec["client_secret"].encode()
    sock.connect(spec["endpoint"])
    emit(started=True)
    commands = stdin_commands()
    interval = 1.0 / spec["rate"]
    sent = stalls = 0
    next_at = time.monotonic()
    while commands.empty():
        try:
            sock.send(b"%d" % sent, zmq.NOBLOCK)
            sent += 1
        except zmq.Again:
            stalls += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_at = time.monotonic()  # late: keep the rate, do not burst to catch up
    emit(stopped={"sent": sent, "stalls": stalls})
    while commands.get()["cmd"] != "quit":
        pass
    sock.close(linger=0)
    ctx.term()


# -- the parent: child processes, sampling, attacks ----------------------------------------


class ChildError(Exception):
    pass


class Child:
    """A server or peer process of this script, talking JSON lines."""

    def __init__(self, role: str, spec: dict[str, Any], timeout: float) -> None:
        self.role = f"{spec.get('lib', 'pyzmq')} {role}"
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [sys.executable, __file__, f"_{role}", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self._lines.put(json.loads(line))
        self._lines.put(None)

    def say(self, cmd: str, **args: Any) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
            self.proc.stdin.flush()

    def expect(self, key: str, timeout: float | None = None) -> Any:
        try:
            message = self._lines.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise ChildError(
                f"{self.role}: no {key!r} within {timeout or self.timeout} s"
            ) from None
        if message is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            err = self.proc.stderr.read() if self.proc.stderr else ""
            tail = err.strip().splitlines()[-1:] or [f"exited with {self.proc.returncode}"]
            raise ChildError(f"{self.role}: {tail[0]}")
        if key not in message:
            raise ChildError(f"{self.role}: expected {key!r}, got {message}")
        return message[key]

    def ask(self, cmd: str, key: str, **args: Any) -> Any:
        self.say(cmd, **args)
        return self.expect(key)

    def stop(self) -> str:
        """Ask it to quit; kill it if it does not within 10 s. Returns how it ended."""
        self.say("quit")
        with contextlib.suppress(OSError):
            if self.proc.stdin:
                self.proc.stdin.close()
        try:
            self.proc.wait(10)
            ended = "exited" if self.proc.returncode == 0 else f"exit {self.proc.returncode}"
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            ended = "killed (did not quit within 10 s)"
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        return ended


@contextlib.contextmanager
def child(role: str, spec: dict[str, Any], timeout: float, ended: list[str]) -> Iterator[Child]:
    process = Child(role, spec, timeout)
    try:
        yield process
    finally:
        ended.append(process.stop())


class Sampler:
    """Samples a process's RSS, fds and threads at about 20 Hz in a thread, keeping the
    maxima; ``over_limit`` is set once RSS passes ``rss_limit_kib`` (the attack stops)."""

    def __init__(self, pid: int, rss_limit_kib: int) -> None:
        self.pid = pid
        self.rss_limit_kib = rss_limit_kib
        self.peak_rss_kib = self.peak_fds = self.peak_threads = 0
        self.over_limit = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            with contextlib.suppress(OSError):
                status = proc_status(self.pid)
                self.peak_rss_kib = max(self.peak_rss_kib, status["VmRSS"])
                self.peak_threads = max(self.peak_threads, status["Threads"])
                self.peak_fds = max(self.peak_fds, proc_fds(self.pid))
                if status["VmRSS"] > self.rss_limit_kib:
                    self.over_limit.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Scenario:
    server: str
    attack: str
    count: int
    mode: str = ""
    size: int = 0

    @property
    def label(self) -> str:
        where = SERVER_LABELS[self.server]
        if self.attack == "huge":
            stage = "before READY" if self.mode == "pre" else "after READY"
            if self.server == "curve":
                stage = "before HELLO"
            return f"{where}: {self.count} huge-frame declarations ({human(self.size)}, {stage})"
        return f"{where}: {self.count} garbage connections"


@dataclass
class Options:
    rate: float
    baseline: float
    hold: float
    settle: float
    connect_budget: float
    timeout: float
    rss_limit_kib: int
    seed: int


def connect(address: tuple[str, int]) -> socket.socket:
    if address[0] != HOST:  # never anything but loopback, whatever a server reported
        raise ValueError(f"refusing to attack {address[0]}: only {HOST} is a target")
    sock = socket.create_connection(address, timeout=5)
    sock.settimeout(2)
    return sock


def huge_frames(
    scenario: Scenario,
    address: tuple[str, int],
    deadline: float,
    stop: threading.Event,
    seed: int,
    held: list[socket.socket],
) -> dict[str, int]:
    """Open the huge-frame declarations, all kept in ``held``; returns counts. (No
    randomness: ``seed`` is there for :func:`garbage`'s signature.)"""
    mechanism = b"CURVE" if scenario.server == "curve" else b"NULL"
    prefix = greeting(mechanism)
    if scenario.mode == "post":
        prefix += ready(PEER_TYPES[scenario.server])
        tail = long_header(scenario.size, command=False) + b"first bytes of a huge body"
    else:  # the handshake's first command: a huge READY (NULL) or HELLO (CURVE)
        name = b"\x05HELLO" if scenario.server == "curve" else b"\x05READY"
        tail = long_header(scenario.size, command=True) + name + bytes(16)
    failed = 0
    for _ in range(scenario.count):
        if time.monotonic() > deadline or stop.is_set():
            break
        try:
            sock = connect(address)
        except OSError:
            failed += 1
            continue
        held.append(sock)
        with contextlib.suppress(OSError):
            sock.sendall(prefix + tail)
    return {"made": len(held), "connect_failed": failed}


def garbage(
    scenario: Scenario,
    address: tuple[str, int],
    deadline: float,
    stop: threading.Event,
    seed: int,
    held: list[socket.socket],
) -> dict[str, int]:
    """Open the garbage connections (seeded), the ones that stay open kept in ``held``;
    returns counts."""
    rng = random.Random(seed)
    mechanism = b"CURVE" if scenario.server == "curve" else b"NULL"
    valid = greeting(mechanism)
    handshake = valid + (ready(PEER_TYPES[scenario.server]) if mechanism == b"NULL" else b"")
    made = failed = 0
    for _ in range(scenario.count):
        if time.monotonic() > deadline or stop.is_set():
            break
        style = rng.random()
        if style < 0.35:
            data = rng.randbytes(rng.randint(1, 4096))
        elif style < 0.7:
            data = valid + rng.randbytes(rng.randint(1, 2048))
        elif style < 0.85:
            data = valid[: rng.randint(1, len(valid) - 1)]
        else:
            data = handshake + rng.randbytes(rng.randint(1, 2048))
        keep_open = rng.random() < 0.5
        try:
            sock = connect(address)
        except OSError:
            failed += 1
            continue
        made += 1
        with contextlib.suppress(OSError):
            sock.sendall(data)
        if keep_open:
            held.append(sock)
        else:
            sock.close()
    return {"made": made, "connect_failed": failed}


def closed_by_server(sock: socket.socket) -> bool:
    """True if the server closed this connection (read whatever it sent first)."""
    sock.setblocking(False)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def wait_for(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def run_one(lib: str, scenario: Scenario, keys: dict[str, str], opts: Options) -> dict[str, Any]:
    """One server of ``lib`` under ``scenario``; returns the figures (or an error)."""
    result: dict[str, Any] = {"lib": lib}
    ended: list[str] = []
    spec = {"lib": lib, "server": scenario.server, **keys}
    held: list[socket.socket] = []
    sampler: Sampler | None = None
    try:
        with child("server", spec, opts.timeout, ended) as server:
            if lib == "mqsdk":
                result["kernel"] = server.expect("kernel")
            endpoint = server.expect("ready")
            pid = server.proc.pid
            host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
            address = (host, int(port))
            peer_spec = {"server": scenario.server, "endpoint": endpoint, "rate": opts.rate}
            with child("peer", {**peer_spec, **keys}, opts.timeout, ended) as peer:
                peer.expect("started")
                if not wait_for(lambda: server.ask("count", "count") > 0, opts.timeout):
                    raise ChildError("the good peer's first message did not arrive")
                time.sleep(opts.baseline)  # steady state before the "before" figures
                result["hwm_reset"] = server.ask("mark", "marked")
                before = proc_status(pid)
                fds_before = proc_fds(pid)
                cpu_before = proc_cpu_seconds(pid)
                sampler = Sampler(pid, opts.rss_limit_kib)
                started = time.monotonic()
                deadline = started + opts.connect_budget
                attack = huge_frames if scenario.attack == "huge" else garbage
                counts = attack(scenario, address, deadline, sampler.over_limit, opts.seed, held)
                result.update(counts)
                result["connect_s"] = time.monotonic() - started
                sampler.over_limit.wait(opts.hold)
                result["held"] = len(held)
                result["dropped"] = sum(closed_by_server(sock) for sock in held)
                for sock in held:
                    sock.close()
                held.clear()
                result["fds_settled"] = wait_for(lambda: proc_fds(pid) <= fds_before, opts.settle)
                after = proc_status(pid)
                result["cpu_s"] = proc_cpu_seconds(pid) - cpu_before
                result["fds_after"] = proc_fds(pid)
                sampler.stop()
                result["aborted"] = sampler.over_limit.is_set()
                stopped = peer.ask("stop", "stopped")
                sent = stopped["sent"]
                wait_for(lambda: server.ask("count", "count") >= sent, opts.timeout, 0.1)
                report = server.ask("report", "result", sent=sent)
        result.update(
            sent=sent,
            stalls=stopped["stalls"],
            lost=report["lost"],
            received=report["received"],
            duplicates=report["duplicates"],
            worst_gap_s=report["worst_gap_s"],
            rss_before_kib=before["VmRSS"],
            # VmHWM covers the whole attack once reset; the samples are the fallback.
            rss_peak_kib=max(sampler.peak_rss_kib, after["VmHWM"] if result["hwm_reset"] else 0),
            rss_after_kib=after["VmRSS"],
            fds_before=fds_before,
            fds_peak=sampler.peak_fds,
            threads_before=before["Threads"],
            threads_peak=sampler.peak_threads,
            threads_after=after["Threads"],
        )
    except (ChildError, OSError) as exc:
        result["error"] = str(exc)
    finally:
        for sock in held:
            sock.close()
        if sampler is not None:
            sampler.stop()
    result["server_ended"] = ended[-1] if ended else None
    return result


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    out: list[Scenario] = []
    for server in args.server:
        for attack in args.attack:
            if attack == "garbage":
                out.append(Scenario(server, "garbage", args.garbage_n))
                continue
            # CURVE has no "after the handshake" for a peer without an allowed key.
            for mode in args.mode if server != "curve" else ["pre"]:
                for size in args.huge_size:
                    out.append(Scenario(server, "huge", args.huge_n, mode, size))
    return out


def make_keys(directory: str) -> dict[str, str]:
    """Server and good-client CURVE keys, and a directory holding only the client's
    public certificate (what both authenticators allow)."""
    import zmq

    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    allowed = Path(directory, "allowed")
    allowed.mkdir()
    (allowed / "good.key").write_text(
        f'metadata\ncurve\n    public-key = "{client_public.decode()}"\n'
    )
    return {
        "server_public": server_public.decode(),
        "server_secret": server_secret.decode(),
        "client_public": client_public.decode(),
        "client_secret": client_secret.decode(),
        "allowed_dir": str(allowed),
    }


# -- output --------------------------------------------------------------------------------


def human(size: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size:g} B"


def parse_size(text: str) -> int:
    """``2**40``, ``100MiB``, ``64KiB`` or plain bytes."""
    text = text.replace(" ", "")
    if "**" in text:
        base, power = text.split("**")
        return int(int(base) ** int(power))
    units = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    for unit, scale in units.items():
        if text.endswith(unit):
            return int(float(text.removesuffix(unit)) * scale)
    return int(text)


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


FIGURES: list[tuple[str, Any, bool]] = [
    # (name, cell from one lib's result, whether a mqsdk/pyzmq ratio means something)
    ("good messages lost", lambda r: f"{r['lost']} of {r['sent']}", False),
    ("good peer's worst gap", lambda r: f"{r['worst_gap_s'] * 1000:.0f} ms", True),
    ("good sends refused (queue full)", lambda r: str(r["stalls"]), False),
    ("server RSS before", lambda r: mib(r["rss_before_kib"]), True),
    ("server RSS peak", lambda r: mib(r["rss_peak_kib"]), True),
    ("server RSS after", lambda r: mib(r["rss_after_kib"]), True),
    ("RSS growth (peak - before)", lambda r: mib(r["rss_peak_kib"] - r["rss_before_kib"]), False),
    (
        "fds before / peak / after",
        lambda r: f"{r['fds_before']}/{r['fds_peak']}/{r['fds_after']}",
        False,
    ),
    (
        "threads before / after",
        lambda r: f"{r['threads_before']}/{r['threads_after']}",
        False,
    ),
    ("server CPU seconds", lambda r: f"{r['cpu_s']:.2f} s", True),
    ("attack connections made", lambda r: f"{r['made']} ({r['connect_s']:.1f} s)", False),
    ("held ones the server closed", lambda r: f"{r['dropped']} of {r['held']}", False),
]
RATIO_OF = {
    "good peer's worst gap": "worst_gap_s",
    "server RSS before": "rss_before_kib",
    "server RSS peak": "rss_peak_kib",
    "server RSS after": "rss_after_kib",
    "server CPU seconds": "cpu_s",
}


def ratio(runs: dict[str, dict[str, Any]], key: str) -> float | None:
    mine, theirs = runs.get("mqsdk", {}).get(key), runs.get("pyzmq", {}).get(key)
    if mine is None or not theirs:
        return None
    return float(mine) / float(theirs)


def render_table(results: list[dict[str, Any]], libs: tuple[str, ...]) -> str:
    rows: list[list[str]] = [["figure", *libs, "mqsdk/pyzmq"]]
    for entry in results:
        rows.append([f"== {entry['scenario']}"])
        for name, cell, has_ratio in FIGURES:
            cells = [f"  {name}"]
            for lib in libs:
                run = entry["runs"].get(lib, {})
                cells.append("error" if "error" in run else cell(run) if run else "-")
            value = ratio(entry["runs"], RATIO_OF[name]) if has_ratio else None
            cells.append(f"{value:.2f}x" if value is not None else "")
            rows.append(cells)
        for lib in libs:
            run = entry["runs"].get(lib, {})
            for note in notes_of(run):
                rows.append([f"  note ({lib}): {note}"])
    full = [r for r in rows if len(r) > 1]
    widths = [max(len(r[i]) for r in full) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        if len(r) == 1:
            lines.append(r[0])
            continue
        first = r[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def notes_of(run: dict[str, Any]) -> list[str]:
    notes = []
    if "error" in run:
        notes.append(f"error: {run['error']}")
    if run.get("aborted"):
        notes.append("attack stopped early: server RSS passed --rss-limit")
    if run.get("connect_failed"):
        notes.append(f"{run['connect_failed']} connects failed")
    if run and "error" not in run and not run.get("fds_settled"):
        notes.append("fds had not returned to the baseline when the 'after' figures were taken")
    if run.get("server_ended") not in (None, "exited"):
        notes.append(f"server {run['server_ended']}")
    return notes


def summary(results: list[dict[str, Any]], libs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Issue 14's headline figures: the worst over the runs of each kind. A row's
    ``ratio``, when set, is the worst ratio of one scenario (not worst over worst)."""

    def worst(attack: str, key: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for lib in libs:
            runs = [
                e["runs"][lib]
                for e in results
                if e["attack"] == attack and "error" not in e["runs"].get(lib, {"error": 1})
            ]
            values[lib] = max((key(r) for r in runs), default=None)
        return values

    lost = {
        lib: sum(e["runs"][lib].get("lost", 0) for e in results if lib in e["runs"]) for lib in libs
    }
    gap = {
        lib: max(
            (e["runs"][lib].get("worst_gap_s", 0) for e in results if lib in e["runs"]),
            default=None,
        )
        for lib in libs
    }
    return {
        "huge-frame RSS growth, worst (MiB)": {
            **worst("huge", lambda r: (r["rss_peak_kib"] - r["rss_before_kib"]) / 1024),
            "target": "mqsdk < 5",
        },
        "garbage RSS peak, worst (MiB)": {
            **worst("garbage", lambda r: r["rss_peak_kib"] / 1024),
            "target": "mqsdk < 100",
        },
        "garbage server CPU, worst (s)": {
            **worst("garbage", lambda r: r["cpu_s"]),
            "ratio": max(
                (
                    value
                    for e in results
                    if e["attack"] == "garbage" and (value := ratio(e["runs"], "cpu_s")) is not None
                ),
                default=None,
            ),
            "target": "mqsdk <= 3x pyzmq",
        },
        "good messages lost, all runs": {**lost, "target": "0"},
        "good peer's worst gap, all runs (ms)": {
            **{lib: None if v is None else v * 1000 for lib, v in gap.items()},
            "target": "",
        },
    }


def render_summary(table: dict[str, dict[str, Any]], libs: tuple[str, ...]) -> str:
    rows = [["headline (issue 14)", *libs, "mqsdk/pyzmq", "target"]]
    for name, values in table.items():
        cells = [name]
        for lib in libs:
            value = values.get(lib)
            cells.append(
                "-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)
            )
        mine, theirs = values.get("mqsdk"), values.get("pyzmq")
        worst_ratio = values.get("ratio", mine / theirs if mine is not None and theirs else None)
        cells.append(f"{worst_ratio:.2f}x" if worst_ratio is not None else "")
        cells.append(values["target"])
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
        ).rstrip()
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


# -- command -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts and short phases")
    parser.add_argument("--lib", action="append", choices=LIBS, help="default: both")
    parser.add_argument("--server", action="append", choices=SERVERS, help="default: all")
    parser.add_argument("--attack", action="append", choices=ATTACKS, help="default: both")
    parser.add_argument(
        "--mode", action="append", choices=MODES, help="huge frames before/after READY (both)"
    )
    parser.add_argument(
        "--huge-size", action="append", type=parse_size, help="declared size (2**40, 100MiB)"
    )
    parser.add_argument("--huge-n", type=int, help="huge-frame connections (20; quick 3)")
    parser.add_argument("--garbage-n", type=int, help="garbage connections (5000; quick 50)")
    parser.add_argument("--rate", type=float, default=200.0, help="good messages per second")
    parser.add_argument("--baseline", type=float, help="seconds of calm before (1; quick 0.3)")
    parser.add_argument("--hold", type=float, help="seconds held connections stay (2; quick 0.5)")
    parser.add_argument("--settle", type=float, default=5.0, help="max wait for fds to settle")
    parser.add_argument("--connect-budget", type=float, default=60.0, help="max connect seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="max wait for a process")
    parser.add_argument("--rss-limit", type=float, default=4096, help="MiB: stop the attack")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    args.lib = tuple(args.lib or LIBS)
    args.server = args.server or list(SERVERS)
    args.attack = args.attack or list(ATTACKS)
    args.mode = args.mode or list(MODES)
    args.huge_size = args.huge_size or ([2**40] if args.quick else [2**40, 100 * 2**20])
    args.huge_n = args.huge_n if args.huge_n is not None else 3 if args.quick else 20
    args.garbage_n = args.garbage_n if args.garbage_n is not None else 50 if args.quick else 5000
    opts = Options(
        rate=args.rate,
        baseline=args.baseline if args.baseline is not None else 0.3 if args.quick else 1.0,
        hold=args.hold if args.hold is not None else 0.5 if args.quick else 2.0,
        settle=args.settle,
        connect_budget=args.connect_budget,
        timeout=args.timeout,
        rss_limit_kib=int(args.rss_limit * 1024),
        seed=args.seed,
    )
    fd_limit = raise_fd_limit()
    if args.garbage_n + 100 > fd_limit:
        parser.error(f"--garbage-n {args.garbage_n} needs more fds than RLIMIT_NOFILE {fd_limit}")

    plan = scenarios(args)
    workdir = tempfile.mkdtemp(prefix="mqsdk-attack-")
    results: list[dict[str, Any]] = []
    try:
        keys = make_keys(workdir)
        for index, scenario in enumerate(plan, 1):
            entry: dict[str, Any] = {
                "scenario": scenario.label,
                "server": scenario.server,
                "attack": scenario.attack,
                "mode": scenario.mode or None,
                "size": scenario.size or None,
                "count": scenario.count,
                "runs": {},
            }
            for lib in args.lib:
                print(f"[{index}/{len(plan)}] {scenario.label}: {lib}", file=sys.stderr, flush=True)
                entry["runs"][lib] = run_one(lib, scenario, keys, opts)
            entry["ratios"] = {
                key: ratio(entry["runs"], key) for key in sorted(set(RATIO_OF.values()))
            }
            results.append(entry)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    headline = summary(results, args.lib)
    meta = {
        "command": " ".join(["python benchmarks/attack.py", *(argv or sys.argv[1:])]),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "rate": opts.rate,
        "hold_s": opts.hold,
        "seed": opts.seed,
    }
    if args.json:
        print(json.dumps({"meta": meta, "summary": headline, "results": results}, indent=2))
    else:
        kernels = {r["kernel"] for e in results for r in e["runs"].values() if "kernel" in r}
        print(f"mqsdk server kernel: {', '.join(sorted(kernels)) or '-'}")
        print(render_table(results, args.lib))
        print()
        print(render_summary(headline, args.lib))
    return 1 if any("error" in r for e in results for r in e["runs"].values()) else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("_server", "_peer"):
        (serve if sys.argv[1] == "_server" else good_peer)(json.loads(sys.argv[2]))
    else:
        sys.exit(main())
