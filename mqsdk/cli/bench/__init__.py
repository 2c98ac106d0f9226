"""``mqsdk bench``: mqsdk, pyzmq and raw sockets measured side by side in one run.

Each measurement runs its two sides as separate processes (``worker.py``), or two threads of
one process for inproc. Within one repeat every library runs the same case back to back, so
the ratios compare runs that saw the same machine load; the table shows the median of the
per-repeat ratios and the spread of each library's values.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import queue
import shutil
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

from mqsdk.cli.output import progress

WORKER = Path(__file__).with_name("worker.py")
LIBS = ("mqsdk", "pyzmq", "raw")
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
    values: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

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
            Case("memory", "tcp", STALL_SIZE, max(20 * STALL_HWM, n(50_000)), ("mqsdk", "pyzmq"))
        )
    return cases


# -- running workers ----------------------------------------------------------------------


class WorkerError(Exception):
    pass


class Worker:
    """A worker process and the JSON lines it prints."""

    def __init__(self, role: str, timeout: float, **spec: Any) -> None:
        self.timeout = timeout
        self.role = role
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps({"role": role, **spec})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                continue
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
def workers() -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(role: str, timeout: float, **spec: Any) -> Worker:
        worker = Worker(role, timeout, **spec)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


def endpoint_for(transport: str, tmpdir: str, serial: int) -> str:
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    return f"ipc://{tmpdir}/b{serial}.sock"


def measure(case: Case, lib: str, tmpdir: str, serial: int, timeout: float) -> dict[str, Any]:
    """Run one measurement of ``case`` with ``lib``; returns the receiving side's result."""
    endpoint = endpoint_for(case.transport, tmpdir, serial)
    common = {"lib": lib, "size": case.size, "count": case.count}
    with workers() as start:
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


# -- targets (issue 8) --------------------------------------------------------------------


def target(case: Case) -> tuple[str, str, float] | None:
    """(ratio name, comparison, bound) that issue 8 sets for this row, if any."""
    if case.kind == "thr" and case.transport in ("tcp", "ipc"):
        return ("mqsdk/pyzmq", ">=", 0.7 if case.size == 16 else 1.0)
    if case.kind == "thr" and case.transport == "inproc" and case.size <= 1024:
        return ("mqsdk/pyzmq", ">=", 1.5)
    if case.kind == "lat":
        return ("mqsdk/pyzmq", "<=", 1.0)
    if case.kind == "async-thr":
        return ("mqsdk/pyzmq", ">=", 3.0)
    if case.kind == "async-lat":
        return ("mqsdk/pyzmq", "<=", 0.5)
    if case.kind == "memory":
        return ("growth/limit", "<", 1.0)
    return None


def verdict(row: Row) -> tuple[str, bool | None]:
    goal = target(row.case)
    if goal is None:
        return "", None
    _name, op, bound = goal
    extra = ""
    if row.case.kind == "memory":
        values = row.values.get("mqsdk", [])
        value = median(values) / (3 * STALL_HWM * STALL_SIZE) if values else None
    else:
        value = row.ratio("mqsdk", "pyzmq")
        if row.case.kind == "thr" and row.case.size >= 65536 and row.case.transport != "inproc":
            raw = row.ratio("mqsdk", "raw")
            extra = " and mqsdk/raw >= 0.8"
            if value is not None and raw is not None:
                value = value if raw >= 0.8 else min(value, 0.0)
    if value is None:
        return f"{op} {bound:g}{extra}", None
    met = value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound
    return f"{op} {bound:g}{extra}", met


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


def table_rows(rows: list[Row]) -> list[list[str]]:
    out = [["case", "mqsdk", "pyzmq", "raw", "mqsdk/pyzmq", "mqsdk/raw", "spread", "target"]]
    for row in rows:
        cells = [row.case.label]
        spreads = []
        for lib in LIBS:
            values = row.values.get(lib, [])
            if lib in row.errors and not values:
                cells.append("error")
            elif lib not in row.case.libs:
                cells.append("n/a")
            else:
                cells.append(fmt_value(row.case, median(values) if values else None))
            s = spread(values)
            if s is not None:
                spreads.append(f"{lib[0]}{s * 100:.0f}%")
        for base in ("pyzmq", "raw"):
            ratio = row.ratio("mqsdk", base)
            cells.append(f"{ratio:.2f}x" if ratio is not None else "-")
        cells.append(" ".join(spreads) or "-")
        text, met = verdict(row)
        cells.append(f"{text} {'met' if met else 'MISSED' if met is False else ''}".strip())
        out.append(cells)
    return out


def render_text(rows: list[Row]) -> str:
    cells = table_rows(rows)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"error: {label}, {lib}: {err}" for label, lib, err in errors_of(rows)]
    return "\n".join(lines)


def errors_of(rows: list[Row]) -> list[tuple[str, str, str]]:
    return [(row.case.label, lib, err) for row in rows for lib, err in row.errors.items()]


def render_markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    cells = table_rows(rows)
    lines = [
        "# mqsdk benchmark",
        "",
        f"`{meta['command']}`: {meta['python']} on {meta['platform']}, {meta['cpus']} CPUs, "
        f"{meta['repeat']} repeat(s). Throughput is messages/s (MB/s for big messages) on the "
        "receiver from first to last message; round trips are p50. Ratios are medians of "
        "per-repeat ratios; spread is (max-min)/median per library (m, p, r).",
        "",
        "| " + " | ".join(cells[0]) + " |",
        "| " + " | ".join("---" for _ in cells[0]) + " |",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    errors = errors_of(rows)
    if errors:
        lines += ["", "Errors:", ""] + [f"- {label}, {lib}: {err}" for label, lib, err in errors]
    return "\n".join(lines) + "\n"


def to_json(rows: list[Row], meta: dict[str, Any]) -> dict[str, Any]:
    results = []
    for row in rows:
        text, met = verdict(row)
        libs: dict[str, Any] = {}
        for lib in LIBS:
            values = row.values.get(lib, [])
            libs[lib] = {
                "median": median(values) if values else None,
                "values": values,
                "spread": spread(values),
                "details": row.details.get(lib, []),
                "error": row.errors.get(lib),
                "measured": lib in row.case.libs,
            }
        results.append(
            {
                "case": row.case.label,
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
                    "mqsdk/pyzmq": row.ratio("mqsdk", "pyzmq"),
                    "mqsdk/raw": row.ratio("mqsdk", "raw"),
                },
                "target": text or None,
                "met": met,
            }
        )
    return {"meta": meta, "results": results}


# -- command ------------------------------------------------------------------------------


def register(sub: Any) -> None:
    """Register ``mqsdk bench`` on the CLI's subparsers."""
    bench = sub.add_parser(
        "bench",
        help="throughput and latency of mqsdk, pyzmq and raw sockets side by side",
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
        "--lib", action="append", choices=LIBS, help="only these libraries (default all three)"
    )
    bench.add_argument("--timeout", type=float, default=120.0, help="seconds per measurement")
    bench.add_argument("--json", action="store_true", help="print JSON instead of the table")
    bench.add_argument("--markdown", metavar="FILE", help="also write a markdown report")
    bench.add_argument("--plain", action="store_true", help="no progress bar, plain lines")
    bench.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    scale = args.scale * (0.01 if args.quick else 1.0)
    repeat = 1 if args.quick and args.repeat == 3 else max(1, args.repeat)
    cases = build_cases(args.kind or KINDS, args.transport or TRANSPORTS, args.size or SIZES, scale)
    missing = available_libs()
    wanted = tuple(args.lib or LIBS)
    plan = [
        (r, case, lib)
        for r in range(repeat)
        for case in cases
        for lib in case.libs
        if lib in wanted and lib not in missing
    ]
    rows = {case: Row(case) for case in cases}
    for case in cases:
        for lib, reason in missing.items():
            if lib in case.libs:
                rows[case].errors[lib] = reason
    # A rich bar on a terminal (cli_output); plain lines on stderr otherwise.
    use_bar = not (args.plain or args.json) and sys.stdout.isatty()
    tmpdir = tempfile.mkdtemp(prefix="mqsdk-bench-")
    try:
        with progress("bench", len(plan)) if use_bar else nullcontext() as bar:
            for serial, (r, case, lib) in enumerate(plan):
                text = f"{case.label} {lib} ({r + 1}/{repeat})"
                if bar is not None:
                    bar.describe(text)
                else:
                    print(f"[{serial + 1}/{len(plan)}] {text}", file=sys.stderr, flush=True)
                row = rows[case]
                try:
                    result = measure(case, lib, tmpdir, serial, args.timeout)
                except WorkerError as exc:
                    row.errors[lib] = str(exc)
                else:
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
    }
    ordered = [rows[c] for c in cases]
    if args.json:
        print(json.dumps(to_json(ordered, meta), indent=2))
    else:
        print(render_text(ordered))
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(ordered, meta))
    return 0
