"""``mqsdk bench``: mqsdk, pyzmq and raw sockets measured side by side in one run.

Each measurement runs its two sides as separate processes (``worker.py``), or two threads of
one process for inproc. Within one repeat every library runs the same case back to back, so
the ratios compare runs that saw the same machine load; the table shows the median of the
per-repeat ratios and the spread of each library's values.

mqsdk runs twice where the compiled kernel is installed: as installed ("mqsdk", compiled)
and with ``MQSDK_PURE_PYTHON=1`` ("mqsdk-pure"), each measured against pyzmq. Where only
the pure kernel exists, "mqsdk" is that kernel and the table says so.

mqsdk runs on the poller backend its configuration chooses (``auto``: the best available);
``--poller NAME``, repeatable, runs mqsdk's measurements once per named poller instead
(``MQSDK_POLLER`` in its workers), each row labelled with its poller and its ratios taken
against the same repeat's pyzmq. Every mqsdk worker reports the poller it runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import queue
import shutil
import site
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import mqsdk
from mqsdk.cli.output import progress

# Imported where used, not here: `mqsdk --version` and `mqsdk --help` load this module and
# must not pay for the configuration models or the plugin machinery (test_import_edges).
ENV_POLLER = "MQSDK_POLLER"  # mqsdk.config.ENV_POLLER

WORKER = Path(__file__).with_name("worker.py")
# "mqsdk" is the kernel as installed (compiled where it is), "mqsdk-pure" the same
# install with MQSDK_PURE_PYTHON=1: measured only where the two differ.
LIBS = ("mqsdk", "mqsdk-pure", "pyzmq", "raw")
MQSDK_LIBS = ("mqsdk", "mqsdk-pure")
SIZES = (16, 1024, 65536, 1048576)
TRANSPORTS = ("tcp", "ipc", "inproc")
KINDS = ("thr", "lat", "pubsub", "async", "memory")
STALL_HWM = 1000
STALL_SIZE = 1024


@dataclass(frozen=True)
class Case:
    """One row of the table: what is measured, and how many messages per measurement."""

    kind: str  # thr | lat | pubsub | async-thr | async-lat | memory
    transport: str
    size: int
    count: int
    libs: tuple[str, ...] = LIBS

    @property
    def label(self) -> str:
        names = {
            "thr": "PUSH->PULL",
            "lat": "REQ/REP rtt",
            "pubsub": "PUB->4 SUB",
            "async-thr": "asyncio PUSH->PULL",
            "async-lat": "asyncio REQ/REP rtt",
            "memory": f"PUB->stalled SUB, HWM {STALL_HWM}",
        }
        return f"{names[self.kind]} {self.transport} {human_size(self.size)}"

    @property
    def latency(self) -> bool:
        return self.kind in ("lat", "async-lat")


@dataclass
class Row:
    case: Case
    poller: str | None = None  # the poller asked for (--poller), None: the configured one
    values: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.case.label} [{self.poller}]" if self.poller else self.case.label

    def pollers_used(self, lib: str) -> list[str]:
        """The pollers ``lib``'s workers reported on this row (one, unless a run mixed)."""
        reported = (d.get("poller") for d in self.details.get(lib, []))
        return sorted({name for name in reported if name})

    def ratio(self, lib: str, base: str) -> float | None:
        """Median over repeats of lib/base, each taken from the same repeat."""
        a, b = self.values.get(lib, []), self.values.get(base, [])
        pairs = [x / y for x, y in zip(a, b, strict=False) if y]
        return median(pairs) if pairs else None


def human_size(n: int) -> str:
    if n >= 1048576:
        return f"{n // 1048576} MiB"
    if n >= 1024:
        return f"{n // 1024} KiB"
    return f"{n} B"


# -- the matrix ---------------------------------------------------------------------------

# Messages per measurement, aiming at roughly a second for the slowest library here.
_THR_COUNT = {16: 200_000, 1024: 100_000, 65536: 20_000, 1048576: 1_500}
_LAT_COUNT = {16: 5_000, 1024: 5_000, 65536: 1_000, 1048576: 100}


def build_cases(
    kinds: Sequence[str], transports: Sequence[str], sizes: Sequence[int], scale: float
) -> list[Case]:
    def n(base: int) -> int:
        return max(20, int(base * scale))

    cases: list[Case] = []
    for transport in transports:
        for size in sizes:
            if "thr" in kinds:
                cases.append(Case("thr", transport, size, n(_THR_COUNT.get(size, 10_000))))
            if "lat" in kinds:
                cases.append(Case("lat", transport, size, n(_LAT_COUNT.get(size, 1_000))))
    if "pubsub" in kinds:
        for transport in (t for t in transports if t != "inproc"):
            cases.append(Case("pubsub", transport, 16, n(50_000)))
    if "async" in kinds and "tcp" in transports:
        cases.append(Case("async-thr", "tcp", 16, n(50_000)))
        cases.append(Case("async-lat", "tcp", 16, n(3_000)))
    if "memory" in kinds and "tcp" in transports:
        # Enough to fill the subscriber's queue, the kernel buffers and the publisher's queue.
        cases.append(
            Case(
                "memory",
                "tcp",
                STALL_SIZE,
                max(20 * STALL_HWM, n(50_000)),
                (*MQSDK_LIBS, "pyzmq"),
            )
        )
    return cases


# -- running workers ----------------------------------------------------------------------


class WorkerError(Exception):
    pass


def worker_environment(lib: str, poller: str | None = None) -> dict[str, str]:
    """The environment of a worker for ``lib``: it imports the mqsdk this process runs
    (``worker.py`` is run as a script, so its import path starts in its own folder: a
    checkout or a copy of one run as ``python -m mqsdk`` from its top would otherwise
    lose to an installed mqsdk), "mqsdk-pure" runs the sources, and an mqsdk worker
    given a ``poller`` runs on that one."""
    env = dict(os.environ)
    root = str(Path(mqsdk.__file__).resolve().parent.parent)
    site_dirs = [*site.getsitepackages(), site.getusersitepackages()]
    # Never site-packages itself: PYTHONPATH goes ahead of the standard library.
    if root not in {str(Path(d).resolve()) for d in site_dirs}:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    if lib == "mqsdk-pure":
        env["MQSDK_PURE_PYTHON"] = "1"
    if poller is not None and lib in MQSDK_LIBS:
        # The environment outranks a configuration file, so a file's poller cannot win.
        env[ENV_POLLER] = poller
    return env


class Worker:
    """A worker process and the JSON lines it prints."""

    def __init__(self, role: str, timeout: float, poller: str | None = None, **spec: Any) -> None:
        self.timeout = timeout
        self.role = role
        self.kernel: dict[str, Any] | None = None  # what an mqsdk worker reported it runs
        self.kernel_known = threading.Event()  # set once read, or at the end of output
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps({"role": role, **spec})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=worker_environment(spec.get("lib", ""), poller),
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and set(message) == {"kernel"}:
                self.kernel = message["kernel"]  # printed first, before any other line
                self.kernel_known.set()
            else:
                self.lines.put(message)
        self.kernel_known.set()
        self.lines.put(None)

    def expect(self, key: str) -> Any:
        try:
            message = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            raise WorkerError(f"{self.role}: no {key!r} within {self.timeout:.0f} s") from None
        if message is None:
            self.proc.wait(5)
            err = self.proc.stderr.read() if self.proc.stderr else ""
            tail = err.strip().splitlines()[-1:] or ["exited"]
            raise WorkerError(f"{self.role}: {tail[0]}")
        if key not in message:
            raise WorkerError(f"{self.role}: expected {key!r}, got {message}")
        return message[key]

    def say(self, line: str = "go") -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except OSError:
            pass

    def stop(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


@contextmanager
def workers(
    compiled: bool | None = None, poller: str | None = None
) -> Iterator[Callable[..., Worker]]:
    """Start workers; with ``compiled`` given (mqsdk's), check on the way out that each
    ran that kernel, and ``poller`` where one is named, so a column never silently
    measures another kernel nor a row another poller."""
    started: list[Worker] = []

    def start(role: str, timeout: float, **spec: Any) -> Worker:
        worker = Worker(role, timeout, poller, **spec)
        started.append(worker)
        return worker

    try:
        yield start
        checked = compiled is not None or poller is not None
        for worker in started if checked else ():
            # A sender's lines are never waited for: its first may still be in the pipe.
            worker.kernel_known.wait(worker.timeout)
            ran = worker.kernel
            if ran is None or (compiled is not None and ran["compiled"] is not compiled):
                wanted = "compiled" if compiled else "pure"
                raise WorkerError(
                    f"{worker.role}: ran {ran['detail'] if ran else 'an unknown'} kernel, "
                    f"not the {wanted} one"
                )
            used = ran.get("poller") or {}
            if poller is not None and used.get("name") != poller:
                raise WorkerError(
                    f"{worker.role}: ran poller {used.get('name')!r} "
                    f"({used.get('class')}), not {poller!r}"
                )
    finally:
        for worker in started:
            worker.stop()


def endpoint_for(transport: str, tmpdir: str, serial: int) -> str:
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    return f"ipc://{tmpdir}/b{serial}.sock"


def measure(
    case: Case,
    lib: str,
    tmpdir: str,
    serial: int,
    timeout: float,
    compiled: bool | None = None,
    poller: str | None = None,
) -> dict[str, Any]:
    """Run one measurement of ``case`` with ``lib``; returns the receiving side's result,
    with the poller an mqsdk lib's workers reported under ``"poller"``.
    ``compiled``: the kernel an mqsdk lib's workers must report (None: not checked);
    ``poller``: the poller backend they must run (None: the configured one)."""
    mine = lib in MQSDK_LIBS
    started: list[Worker] = []
    with workers(compiled if mine else None, poller if mine else None) as start:

        def start_tracked(role: str, timeout: float, **spec: Any) -> Worker:
            worker = start(role, timeout, **spec)
            started.append(worker)
            return worker

        result = _measure(case, lib, tmpdir, serial, timeout, start_tracked)
    if mine:
        # Read once the workers are done: each one's first line has then been seen.
        ran = {(w.kernel or {}).get("poller", {}).get("name") for w in started}
        result["poller"] = ", ".join(sorted(name for name in ran if name)) or None
    return result


def _measure(
    case: Case, lib: str, tmpdir: str, serial: int, timeout: float, start: Callable[..., Worker]
) -> dict[str, Any]:
    endpoint = endpoint_for(case.transport, tmpdir, serial)
    common = {"lib": lib, "size": case.size, "count": case.count}
    if case.kind in ("thr", "lat") and case.transport == "inproc":
        role = "inproc_thr" if case.kind == "thr" else "inproc_lat"
        return dict(start(role, timeout, **common).expect("result"))
    if case.kind in ("thr", "async-thr"):
        prefix = "async_" if case.kind == "async-thr" else ""
        receiver = start(f"{prefix}thr_recv", timeout, endpoint=endpoint, **common)
        bound = receiver.expect("ready")
        start(f"{prefix}thr_send", timeout, endpoint=bound, **common)
        return dict(receiver.expect("result"))
    if case.kind in ("lat", "async-lat"):
        prefix = "async_" if case.kind == "async-lat" else ""
        server = start(f"{prefix}lat_server", timeout, endpoint=endpoint, **common)
        bound = server.expect("ready")
        client = start(f"{prefix}lat_client", timeout, endpoint=bound, **common)
        return dict(client.expect("result"))
    if case.kind == "pubsub":
        pub = start("pub_send", timeout, endpoint=endpoint, **common)
        bound = pub.expect("ready")
        subs = [start("sub_recv", timeout, endpoint=bound, **common) for _ in range(4)]
        for sub in subs:
            sub.expect("synced")
        pub.say("go")
        results = [sub.expect("result") for sub in subs]
        pub.say("done")
        span = max(r["last"] for r in results) - min(r["first"] for r in results)
        received = min(r["received"] for r in results)
        rate = (received - 1) / span if span > 0 else 0.0
        return {"rate": rate, "received": received, "count": case.count}
    if case.kind == "memory":
        spec = {**common, "hwm": STALL_HWM}
        pub = start("stalled_pub", timeout, endpoint=endpoint, **spec)
        bound = pub.expect("ready")
        sub = start("stalled_sub", timeout, endpoint=bound, **spec)
        sub.expect("synced")
        pub.say("go")
        sent = pub.expect("result")
        sub.say("report")
        held = sub.expect("result")
        pub.say("done")
        sub.say("done")
        limit = 3 * STALL_HWM * STALL_SIZE
        growth = max(sent["growth"], held["growth"])
        return {
            "growth": growth,
            "pub_growth": sent["growth"],
            "sub_growth": held["growth"],
            "limit": limit,
        }
    raise ValueError(f"unknown case kind {case.kind}")


def headline(case: Case, result: dict[str, Any]) -> float:
    if case.latency:
        return float(result["p50_us"])
    if case.kind == "memory":
        return float(result["growth"])
    return float(result["rate"])


def available_libs() -> dict[str, str]:
    """Libraries that cannot run here, with the reason."""
    missing: dict[str, str] = {}
    # Found, not imported: pyzmq is no dependency of the kernel (the workers import it).
    if importlib.util.find_spec("zmq") is None:
        missing["pyzmq"] = "pyzmq is not installed (pip install pyzmq)"
    return missing


@dataclass(frozen=True)
class Kernels:
    """Which mqsdk kernels a run measures: the installed one ("mqsdk") and, where that
    one is compiled, the pure one beside it ("mqsdk-pure")."""

    compiled: bool
    """"mqsdk" is the compiled kernel, and "mqsdk-pure" runs too."""
    detail: str
    """Why this process runs the kernel it runs (:func:`mqsdk.kernel_info`)."""

    @classmethod
    def here(cls) -> Kernels:
        info = mqsdk.kernel_info()
        return cls(info.compiled, info.detail)

    @property
    def libs(self) -> tuple[str, ...]:
        """The columns: no "mqsdk-pure" where "mqsdk" already is the pure kernel."""
        return LIBS if self.compiled else tuple(lib for lib in LIBS if lib != "mqsdk-pure")

    def kernel_of(self, lib: str) -> str:
        """ "compiled" or "pure" for an mqsdk lib, else ``lib``."""
        if lib == "mqsdk":
            return "compiled" if self.compiled else "pure"
        return "pure" if lib == "mqsdk-pure" else lib

    def title(self, lib: str) -> str:
        return f"mqsdk ({self.kernel_of(lib)})" if lib in MQSDK_LIBS else lib

    def code(self, lib: str) -> str:
        """One letter per library for the spread column."""
        return {"compiled": "c", "pure": "m"}.get(self.kernel_of(lib), lib[0])

    def describe(self) -> str:
        if self.compiled:
            return (
                f"kernels: mqsdk compiled ({self.detail}) and mqsdk pure "
                "(the same install run with MQSDK_PURE_PYTHON=1)"
            )
        return f"kernel: mqsdk pure only ({self.detail})"

    def meta(self) -> dict[str, Any]:
        return {
            lib: {"kernel": self.kernel_of(lib), "detail": self.detail}
            if lib == "mqsdk"
            else {"kernel": "pure", "detail": "MQSDK_PURE_PYTHON=1"}
            for lib in self.libs
            if lib in MQSDK_LIBS
        }


# -- targets (issue 16: one per kernel) ---------------------------------------------------


def targets(case: Case) -> dict[str, tuple[str, float]]:
    """The bound each kernel has for this row, as (comparison, bound): on the ratio to
    pyzmq, or for the memory row on growth / limit. Empty where none is set."""

    def both(op: str, compiled: float, pure: float) -> dict[str, tuple[str, float]]:
        return {"compiled": (op, compiled), "pure": (op, pure)}

    wire = case.transport in ("tcp", "ipc")
    if case.kind == "thr" and wire:
        if case.size <= 16:
            return both(">=", 1.3, 0.7)
        if case.size <= 1024:
            return both(">=", 1.3, 1.0)
        return both(">=", 1.2, 1.0)
    if case.kind == "thr" and case.transport == "inproc" and case.size <= 1024:
        return both(">=", 1.2, 0.8)
    if case.kind == "pubsub" and case.transport == "tcp":
        return both(">=", 1.0, 0.5)
    if case.kind == "lat" and wire and case.size <= 1024:
        return both("<=", 0.75, 1.0)
    if case.kind == "lat" and case.transport == "inproc":
        return both("<=", 1.5, 2.0)
    if case.kind == "async-lat":
        return both("<=", 0.6, 0.8)
    if case.kind == "async-thr":
        return both(">=", 8.0, 6.0)
    if case.kind == "memory":
        return both("<", 1.0, 1.0)
    return {}


@dataclass(frozen=True)
class Verdict:
    lib: str
    kernel: str
    op: str
    bound: float
    value: float | None
    met: bool | None


def verdicts(row: Row, kernels: Kernels) -> list[Verdict]:
    goals = targets(row.case)
    out = []
    for lib in kernels.libs:
        kernel = kernels.kernel_of(lib)
        if lib not in MQSDK_LIBS or kernel not in goals:
            continue
        op, bound = goals[kernel]
        if row.case.kind == "memory":
            values = row.values.get(lib, [])
            value = median(values) / (3 * STALL_HWM * STALL_SIZE) if values else None
        else:
            value = row.ratio(lib, "pyzmq")
        met = None
        if value is not None:
            met = value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound
        out.append(Verdict(lib, kernel, op, bound, value, met))
    return out


def verdict_text(row: Row, kernels: Kernels) -> str:
    parts = []
    for v in verdicts(row, kernels):
        outcome = "met" if v.met else "MISSED" if v.met is False else "-"
        parts.append(f"{kernels.code(v.lib)} {v.op} {v.bound:g} {outcome}")
    return ", ".join(parts)


# -- output -------------------------------------------------------------------------------


def fmt_value(case: Case, value: float | None) -> str:
    if value is None:
        return "-"
    if case.latency:
        return f"{value:.1f} us"
    if case.kind == "memory":
        return f"{value / 1048576:.2f} MiB"
    if case.size >= 65536:
        return f"{value * case.size / 1e6:.0f} MB/s"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M/s"
    return f"{value / 1e3:.0f} k/s"


def spread(values: list[float]) -> float | None:
    """(max - min) / median, as a fraction."""
    if len(values) < 2 or not median(values):
        return None
    return (max(values) - min(values)) / median(values)


def ratio_columns(kernels: Kernels) -> list[tuple[str, str, str]]:
    """(title, lib, base) of each ratio column: every kernel against pyzmq, then raw."""
    mine = [lib for lib in kernels.libs if lib in MQSDK_LIBS]
    return [
        (f"{kernels.kernel_of(lib)}/{base}", lib, base) for base in ("pyzmq", "raw") for lib in mine
    ]


def table_rows(rows: list[Row], kernels: Kernels) -> list[list[str]]:
    ratios = ratio_columns(kernels)
    header = ["case", *(kernels.title(lib) for lib in kernels.libs)]
    out = [[*header, *(title for title, _, _ in ratios), "spread", "target"]]
    for row in rows:
        cells = [row.label]
        spreads = []
        for lib in kernels.libs:
            values = row.values.get(lib, [])
            if lib in row.errors and not values:
                cells.append("error")
            elif lib not in row.case.libs:
                cells.append("n/a")
            else:
                cells.append(fmt_value(row.case, median(values) if values else None))
            s = spread(values)
            if s is not None:
                spreads.append(f"{kernels.code(lib)}{s * 100:.0f}%")
        for _title, lib, base in ratios:
            ratio = row.ratio(lib, base)
            cells.append(f"{ratio:.2f}x" if ratio is not None else "-")
        cells.append(" ".join(spreads) or "-")
        cells.append(verdict_text(row, kernels))
        out.append(cells)
    return out


def pollers_text(rows: list[Row]) -> str:
    """Which pollers mqsdk's workers reported, for the first line after the kernels."""
    used = sorted({p for row in rows for lib in MQSDK_LIBS for p in row.pollers_used(lib)})
    if any(row.poller for row in rows):
        return (
            f"pollers: {', '.join(used) or 'no mqsdk worker ran'} (--poller: one row per poller, "
            "pyzmq and raw measured once per repeat and shown on each)"
        )
    return f"poller: {', '.join(used) or 'no mqsdk worker ran'} (as configured)"


def render_text(rows: list[Row], kernels: Kernels) -> str:
    cells = table_rows(rows, kernels)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(0, f"{kernels.describe()}; {pollers_text(rows)}")
    lines += [f"error: {label}, {lib}: {err}" for label, lib, err in errors_of(rows)]
    return "\n".join(lines)


def errors_of(rows: list[Row]) -> list[tuple[str, str, str]]:
    return [(row.label, lib, err) for row in rows for lib, err in row.errors.items()]


def render_markdown(rows: list[Row], meta: dict[str, Any], kernels: Kernels) -> str:
    cells = table_rows(rows, kernels)
    codes = ", ".join(f"{kernels.code(lib)} {kernels.title(lib)}" for lib in kernels.libs)
    lines = [
        "# mqsdk benchmark",
        "",
        f"`{meta['command']}`: {meta['python']} on {meta['platform']}, {meta['cpus']} CPUs, "
        f"{meta['repeat']} repeat(s); {kernels.describe()}; {pollers_text(rows)}. "
        "Throughput is messages/s "
        "(MB/s for big messages) on the receiver from first to last message; round trips "
        "are p50. Ratios are medians of per-repeat ratios; spread is (max-min)/median per "
        f"library ({codes}); targets are issue 16's, per kernel.",
        "",
        "| " + " | ".join(cells[0]) + " |",
        "| " + " | ".join("---" for _ in cells[0]) + " |",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    errors = errors_of(rows)
    if errors:
        lines += ["", "Errors:", ""] + [f"- {label}, {lib}: {err}" for label, lib, err in errors]
    return "\n".join(lines) + "\n"


def to_json(rows: list[Row], meta: dict[str, Any], kernels: Kernels) -> dict[str, Any]:
    results = []
    for row in rows:
        libs: dict[str, Any] = {}
        for lib in LIBS:
            values = row.values.get(lib, [])
            libs[lib] = {
                "median": median(values) if values else None,
                "values": values,
                "spread": spread(values),
                "details": row.details.get(lib, []),
                "error": row.errors.get(lib),
                "measured": lib in row.case.libs and lib in kernels.libs,
                "kernel": kernels.kernel_of(lib) if lib in kernels.libs else None,
                # What the workers reported: checked against the row's poller where named.
                "poller": ", ".join(row.pollers_used(lib)) or None if lib in MQSDK_LIBS else None,
            }
        found = verdicts(row, kernels)
        results.append(
            {
                "case": row.label,
                "poller": row.poller,
                "kind": row.case.kind,
                "transport": row.case.transport,
                "size": row.case.size,
                "count": row.case.count,
                "unit": "us p50"
                if row.case.latency
                else "bytes"
                if row.case.kind == "memory"
                else "msg/s",
                "libs": libs,
                "ratios": {
                    f"{lib}/{base}": row.ratio(lib, base)
                    for _title, lib, base in ratio_columns(kernels)
                },
                "targets": [
                    {
                        "lib": v.lib,
                        "kernel": v.kernel,
                        "measure": "growth/limit"
                        if row.case.kind == "memory"
                        else f"{v.lib}/pyzmq",
                        "op": v.op,
                        "bound": v.bound,
                        "value": v.value,
                        "met": v.met,
                    }
                    for v in found
                ],
                "met": None
                if not found or any(v.met is None for v in found)
                else all(v.met for v in found),
            }
        )
    return {"meta": meta, "results": results}


# -- command ------------------------------------------------------------------------------


def register(sub: Any) -> None:
    """Register ``mqsdk bench`` on the CLI's subparsers."""
    bench = sub.add_parser(
        "bench",
        help="throughput and latency of mqsdk (both kernels), pyzmq and raw sockets side by side",
        description=__doc__,
    )
    bench.add_argument("--repeat", type=int, default=3, help="runs per case (default 3)")
    bench.add_argument("--quick", action="store_true", help="tiny counts, one repeat: a smoke run")
    bench.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    bench.add_argument(
        "--kind", action="append", choices=KINDS, help="only these measurements (repeatable)"
    )
    bench.add_argument("--transport", action="append", choices=TRANSPORTS, help="only these")
    bench.add_argument("--size", action="append", type=int, help="only these sizes in bytes")
    bench.add_argument(
        "--lib",
        action="append",
        choices=LIBS,
        help="only these libraries (default all); mqsdk is the kernel as installed, "
        "mqsdk-pure the pure one beside a compiled install",
    )
    bench.add_argument(
        "--poller",
        action="append",
        metavar="NAME",
        help="run mqsdk once per named poller backend, a row each (repeatable; default: "
        "the configured one); `mqsdk plugins` lists them",
    )
    bench.add_argument("--timeout", type=float, default=120.0, help="seconds per measurement")
    bench.add_argument("--json", action="store_true", help="print JSON instead of the table")
    bench.add_argument("--markdown", metavar="FILE", help="also write a markdown report")
    bench.add_argument("--plain", action="store_true", help="no progress bar, plain lines")
    bench.set_defaults(func=cmd_bench)


def unusable_pollers(names: Sequence[str]) -> dict[str, str]:
    """Named pollers that cannot run here, with the reason (the plugin's, where one is
    installed): checked before anything runs, as each worker checks again."""
    from mqsdk.plugin import get_registry

    registry = get_registry()
    why: dict[str, str] = {}
    for name in names:
        found = registry.find_component("poller", name)
        if found is None:
            installed = ", ".join(sorted(c.name for c in registry.components("poller")))
            why[name] = f"no poller named {name!r} is installed (installed: {installed or 'none'})"
        elif not found.availability.ok:
            why[name] = (
                f"poller {name!r} (plugin {found.plugin.name!r} from {found.plugin.origin}) "
                f"cannot run here: {found.availability.reason}"
            )
    return why


def cmd_bench(args: argparse.Namespace) -> int:
    pollers: tuple[str | None, ...] = tuple(dict.fromkeys(args.poller or [None]))
    unusable = unusable_pollers([p for p in pollers if p is not None])
    if unusable:
        for reason in unusable.values():
            print(f"mqsdk bench: --poller: {reason}", file=sys.stderr)
        return 2
    scale = args.scale * (0.01 if args.quick else 1.0)
    repeat = 1 if args.quick and args.repeat == 3 else max(1, args.repeat)
    cases = build_cases(args.kind or KINDS, args.transport or TRANSPORTS, args.size or SIZES, scale)
    missing = available_libs()
    kernels = Kernels.here()
    wanted = tuple(args.lib or kernels.libs)
    if "mqsdk-pure" in wanted and not kernels.compiled:
        # Asked for the pure kernel where it is the only one: that is the mqsdk column.
        print(f"mqsdk bench: {kernels.describe()}", file=sys.stderr)
        wanted = tuple(dict.fromkeys("mqsdk" if lib == "mqsdk-pure" else lib for lib in wanted))
    # mqsdk's libs run once per poller, the others once: every row of a case shares the
    # repeat's pyzmq and raw values, so each poller's ratio compares the same repeat.
    plan = [
        (r, case, lib, poller)
        for r in range(repeat)
        for case in cases
        for lib in case.libs
        if lib in wanted and lib in kernels.libs and lib not in missing
        for poller in (pollers if lib in MQSDK_LIBS else (None,))
    ]
    rows = {(case, poller): Row(case, poller) for case in cases for poller in pollers}
    for (case, _poller), row in rows.items():
        for lib, reason in missing.items():
            if lib in case.libs:
                row.errors[lib] = reason
    # A rich bar on a terminal (cli_output); plain lines on stderr otherwise.
    use_bar = not (args.plain or args.json) and sys.stdout.isatty()
    tmpdir = tempfile.mkdtemp(prefix="mqsdk-bench-")
    try:
        with progress("bench", len(plan)) if use_bar else nullcontext() as bar:
            for serial, (r, case, lib, poller) in enumerate(plan):
                on = f" on {poller}" if poller else ""
                text = f"{case.label} {lib}{on} ({r + 1}/{repeat})"
                if bar is not None:
                    bar.describe(text)
                else:
                    print(f"[{serial + 1}/{len(plan)}] {text}", file=sys.stderr, flush=True)
                into = (
                    [rows[case, poller]] if lib in MQSDK_LIBS else [rows[case, p] for p in pollers]
                )
                compiled = kernels.kernel_of(lib) == "compiled" if lib in MQSDK_LIBS else None
                try:
                    result = measure(case, lib, tmpdir, serial, args.timeout, compiled, poller)
                except WorkerError as exc:
                    for row in into:
                        row.errors[lib] = str(exc)
                else:
                    for row in into:
                        row.values.setdefault(lib, []).append(headline(case, result))
                        row.details.setdefault(lib, []).append(result)
                if bar is not None:
                    bar.advance()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    meta = {
        "command": "mqsdk bench " + " ".join(sys.argv[2:] if len(sys.argv) > 2 else []),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "repeat": repeat,
        "scale": scale,
        "kernels": kernels.meta(),
        "pollers": {
            "requested": [p for p in pollers if p is not None] or None,
            "used": sorted(
                {p for row in rows.values() for lib in MQSDK_LIBS for p in row.pollers_used(lib)}
            ),
        },
        "mqsdk_path": str(Path(mqsdk.__file__).parent),
    }
    ordered = [rows[c, p] for c in cases for p in pollers]
    if args.json:
        print(json.dumps(to_json(ordered, meta, kernels), indent=2))
    else:
        print(render_text(ordered, kernels))
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(ordered, meta, kernels))
    return 0
