"""Run fuzz targets: per-input watchdog, memory peaks, crash reproducers, parallel jobs.

Every input is generated from its own seed, ``"{seed}/{target}/{index}"``, so any input
of any run can be regenerated alone, and a run split over processes gives the same
inputs as a run in one process.

Per input:

* **crash**: any exception but the target's documented error (and the harness's own
  :class:`~tests.fuzz.handshakes.InvariantViolation` for wrong results);
* **hang**: more than ``hang_seconds`` (1 s) of CPU time. A ``SIGPROF`` interval timer
  interrupts the input there when the run is in the main thread. CPU time, not wall
  time, so a busy shared machine does not fake hangs; ``SIGPROF`` rather than
  ``SIGALRM`` leaves pytest-timeout's alarm alone;
* **memory**: the ``tracemalloc`` peak during the input, above what was allocated when
  it started (the input itself is built before, and is not counted).

The first crash of each kind (type and place) is shrunk and saved as a reproducer.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import random
import signal
import sys
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TextIO

from .targets import TARGETS, expected_errors

HANG_SECONDS = 1.0
CHUNK = 2000  # inputs per work unit in a parallel run
REPRODUCERS_PER_KIND = 3
_REFUSALS = ("rejected", "refused", "closed", "message-before")
MINIMIZE_SECONDS = 20.0
REPO = Path(__file__).resolve().parents[2]


class Hang(BaseException):
    """Raised by the watchdog inside an input that ran out of CPU time. A BaseException,
    so that the code under test cannot swallow it with ``except Exception``."""


@dataclass
class Finding:
    """One kind of crash (exception type and the place it was raised)."""

    signature: str
    message: str
    count: int = 0
    first_index: int = -1
    reproducer: str = ""

    def merge(self, other: Finding) -> None:
        if other.first_index >= 0 and (
            self.first_index < 0 or other.first_index < self.first_index
        ):
            self.first_index, self.message = other.first_index, other.message
            self.reproducer = other.reproducer or self.reproducer
        self.reproducer = self.reproducer or other.reproducer
        self.count += other.count


@dataclass
class TargetStats:
    name: str
    inputs: int = 0
    rejected: int = 0
    crashes: int = 0
    hangs: int = 0
    worst_peak: int = 0
    worst_peak_index: int = -1
    worst_cpu: float = 0.0
    worst_cpu_index: int = -1
    worst_wall: float = 0.0
    cpu_seconds: float = 0.0
    skipped: str = ""
    outcomes: dict[str, int] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)

    def merge(self, other: TargetStats) -> None:
        self.inputs += other.inputs
        self.rejected += other.rejected
        self.crashes += other.crashes
        self.hangs += other.hangs
        if other.worst_peak > self.worst_peak:
            self.worst_peak, self.worst_peak_index = other.worst_peak, other.worst_peak_index
        if other.worst_cpu > self.worst_cpu:
            self.worst_cpu, self.worst_cpu_index = other.worst_cpu, other.worst_cpu_index
        self.worst_wall = max(self.worst_wall, other.worst_wall)
        self.cpu_seconds += other.cpu_seconds
        self.skipped = self.skipped or other.skipped
        for label, count in other.outcomes.items():
            self.outcomes[label] = self.outcomes.get(label, 0) + count
        for key, finding in other.findings.items():
            if key in self.findings:
                self.findings[key].merge(finding)
            else:
                self.findings[key] = finding

    def describe_findings(self) -> str:
        lines = []
        for finding in sorted(self.findings.values(), key=lambda f: f.first_index):
            where = f" -> {finding.reproducer}" if finding.reproducer else ""
            lines.append(
                f"  {self.name}: {finding.count} x {finding.signature} (first: input "
                f"{finding.first_index}){where}\n      {finding.message}"
            )
        return "\n".join(lines)


def input_rng(seed: int, name: str, index: int) -> random.Random:
    return random.Random(f"{seed}/{name}/{index}")


# -- one input -----------------------------------------------------------------------------


class Watchdog:
    """A CPU-time limit per input, by ``SIGPROF`` (main thread only; elsewhere the
    per-input CPU time still classifies the input afterwards)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = False
        self._previous: Any = None

    def __enter__(self) -> Watchdog:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self._previous = signal.signal(signal.SIGPROF, self._fire)
            self.active = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, self._previous)
            self.active = False

    def _fire(self, signum: int, frame: object) -> None:
        raise Hang(f"more than {self.seconds} s of CPU time")

    def arm(self) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_PROF, self.seconds)

    def disarm(self) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_PROF, 0)


@dataclass
class Outcome:
    status: str  # "ok", "rejected", "crash", "hang"
    label: str
    error: BaseException | None
    peak: int
    cpu: float
    wall: float


def run_one(
    execute: Callable[[dict[str, Any]], str],
    expected: tuple[type[BaseException], ...],
    inp: dict[str, Any],
    watchdog: Watchdog,
) -> Outcome:
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    status, label = "ok", ""
    error: BaseException | None = None
    try:
        try:
            watchdog.arm()
            label = execute(inp)
        finally:
            watchdog.disarm()
    except Hang as exc:
        status, label, error = "hang", "hang", exc
    except expected:
        status, label = "rejected", "documented error"
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        status, label, error = "crash", "crash", exc
    cpu = time.process_time() - cpu_start
    wall = time.perf_counter() - wall_start
    peak = tracemalloc.get_traced_memory()[1] - base
    if status != "hang" and cpu > watchdog.seconds:
        status, label = "hang", "hang"
    return Outcome(status, label, error, peak, cpu, wall)


_HARNESS_FILES = ("runner.py", "targets.py", "handshakes.py", "mutate.py")


def _harness_frame(frame: traceback.FrameSummary) -> bool:
    path = Path(frame.filename)
    return path.parent == Path(__file__).parent and path.name in _HARNESS_FILES


def signature(error: BaseException | None) -> str:
    """The kind of a crash: its type and where it was raised (file:line, function).

    A hang is interrupted wherever the loop happened to be (often in a small helper
    it calls), so it is named by the deepest function of the component's first file
    on the stack, without a line: one looping function, one kind of hang.
    """
    if error is None:
        return "Hang (CPU time over the limit, not interrupted)"
    frames = traceback.extract_tb(error.__traceback__)
    if isinstance(error, Hang):
        component = [f for f in frames if not _harness_frame(f)]
        if component:
            first_file = component[0].filename
            loop = [f for f in component if f.filename == first_file][-1]
            path = Path(loop.filename)
            return f"Hang in {path.parent.name}/{path.name}: {loop.name}"
    where = "?"
    if frames:
        last = frames[-1]
        path = Path(last.filename)
        where = f"{path.parent.name}/{path.name}:{last.lineno} in {last.name}"
    kind = type(error).__name__
    if kind == "InvariantViolation":
        kind += f" ({str(error)[:50]})"
    return f"{kind} at {where}"


@contextlib.contextmanager
def traced() -> Iterator[None]:
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        yield
    finally:
        if started:
            tracemalloc.stop()


@contextlib.contextmanager
def quiet_logging() -> Iterator[None]:
    """No log records up to WARNING while fuzzing: components log the bad input they
    drop (pgm's data-loss warnings), and a million inputs would flood the terminal."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


# -- shrinking -----------------------------------------------------------------------------


def _shrinkable(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Paths to every bytes or list value inside ``value``, outermost first."""
    if isinstance(value, bytes | list) and len(value):
        yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _shrinkable(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _shrinkable(item, (*path, index))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        copy[head] = _replace(value[head], rest, new)
        return copy
    items = list(value)
    items[head] = _replace(value[head], rest, new)
    return tuple(items) if isinstance(value, tuple) else items


def minimize(
    name: str, inp: dict[str, Any], wanted: str, seconds: float = MINIMIZE_SECONDS
) -> dict[str, Any]:
    """Remove chunks of bytes and list items while the input still fails the same way."""
    target = TARGETS[name]
    expected = expected_errors(name)
    deadline = time.monotonic() + seconds
    current = inp
    with traced(), Watchdog(HANG_SECONDS) as watchdog:

        def fails(candidate: dict[str, Any]) -> bool:
            outcome = run_one(target.execute, expected, candidate, watchdog)
            return outcome.status in ("crash", "hang") and signature(outcome.error) == wanted

        improved = True
        while improved and time.monotonic() < deadline:
            improved = False
            for path, found in list(_shrinkable(current)):
                value = found
                step = len(value) // 2 or 1
                while step >= 1 and time.monotonic() < deadline:
                    shrunk = False
                    for start in range(0, len(value), step):
                        smaller = value[:start] + value[start + step :]
                        candidate = _replace(current, path, smaller)
                        if fails(candidate):
                            current, value, shrunk, improved = candidate, smaller, True, True
                            break
                    if not shrunk:
                        step //= 2
                if improved:
                    break  # paths changed: list them again
    return current


# -- reproducers ---------------------------------------------------------------------------


def write_reproducer(
    out_dir: Path,
    name: str,
    seed: int,
    index: int,
    inp: dict[str, Any],
    error: BaseException | None,
    kind: str,
    shrunk: dict[str, Any] | None,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-seed{seed}-input{index}.py"
    trace = "".join(traceback.format_exception(error)) if error is not None else "(CPU time)\n"
    quoted = "\n".join("# " + line for line in trace.rstrip().splitlines())
    original = f"ORIGINAL = {inp!r}\n" if shrunk is not None and shrunk != inp else ""
    path.write_text(
        f'"""Fuzz reproducer: target {name}, seed {seed}, input {index}.\n\n'
        f"{kind}\n\n"
        "Replay from the repository root: python -m tests.fuzz --replay THIS_FILE\n"
        '"""\n\n'
        f"{quoted}\n\n"
        f"TARGET = {name!r}\n"
        f"INPUT = {shrunk if shrunk is not None else inp!r}\n"
        f"{original}\n"
        'if __name__ == "__main__":\n'
        "    import sys\n\n"
        f"    sys.path.insert(0, {str(REPO)!r})\n"
        "    from tests.fuzz.runner import replay\n\n"
        "    raise SystemExit(replay(__file__))\n",
        encoding="utf-8",
    )
    return path


def replay(path: str | Path) -> int:
    """Run a reproducer's INPUT once, letting any exception through; 0 if it passes."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    name = values["TARGET"]
    target = TARGETS[name]
    started = time.process_time()
    try:
        label = target.execute(values["INPUT"])
    except expected_errors(name) as exc:
        label = f"documented error: {type(exc).__name__}: {exc}"
    print(f"{name}: {label} ({time.process_time() - started:.3f} s CPU)")
    return 0


# -- a range of inputs ---------------------------------------------------------------------


def run_range(
    name: str,
    seed: int,
    start: int,
    count: int,
    out_dir: str | None = None,
    hang_seconds: float = HANG_SECONDS,
    deadline: float | None = None,
    shrink: bool = True,
    stop_after: int | None = None,
) -> TargetStats:
    """Run inputs ``start .. start+count-1`` of target ``name``. ``deadline`` is a
    ``time.time()`` after which no further input starts; ``stop_after`` ends the range
    once that many inputs crashed or hung (a CI run needs one to fail, not fifty)."""
    stats = TargetStats(name)
    target = TARGETS[name]
    reason = target.unavailable()
    if reason:
        stats.skipped = reason
        return stats
    expected = expected_errors(name)
    cpu_start = time.process_time()
    with traced(), quiet_logging(), Watchdog(hang_seconds) as watchdog:
        # One unmeasured input first: a process's first input pays for lazy imports and
        # caches (1.5 MiB for CURVE), which would be charged to whichever input came first.
        run_one(target.execute, expected, target.generate(input_rng(seed, name, start)), watchdog)
        for index in range(start, start + count):
            if deadline is not None and time.time() > deadline:
                break
            if stop_after is not None and stats.crashes + stats.hangs >= stop_after:
                break
            inp = target.generate(input_rng(seed, name, index))
            outcome = run_one(target.execute, expected, inp, watchdog)
            stats.inputs += 1
            if outcome.peak > stats.worst_peak:
                stats.worst_peak, stats.worst_peak_index = outcome.peak, index
            if outcome.cpu > stats.worst_cpu:
                stats.worst_cpu, stats.worst_cpu_index = outcome.cpu, index
            stats.worst_wall = max(stats.worst_wall, outcome.wall)
            label = outcome.label.split(" ")[0] if outcome.status == "ok" else outcome.label
            stats.outcomes[label] = stats.outcomes.get(label, 0) + 1
            # Handshake drivers catch the mechanisms' documented errors themselves and
            # say so in their label.
            if outcome.status == "rejected" or label.startswith(_REFUSALS):
                stats.rejected += 1
            elif outcome.status in ("crash", "hang"):
                if outcome.status == "crash":
                    stats.crashes += 1
                else:
                    stats.hangs += 1
                _record(stats, name, seed, index, inp, outcome, out_dir, shrink)
    stats.cpu_seconds = time.process_time() - cpu_start
    return stats


def _record(
    stats: TargetStats,
    name: str,
    seed: int,
    index: int,
    inp: dict[str, Any],
    outcome: Outcome,
    out_dir: str | None,
    shrink: bool,
) -> None:
    kind = signature(outcome.error)
    message = (
        f"{type(outcome.error).__name__}: {str(outcome.error)[:300]}"
        if outcome.error is not None
        else f"{outcome.cpu:.2f} s CPU"
    )
    finding = stats.findings.get(kind)
    if finding is None:
        finding = stats.findings[kind] = Finding(kind, message, first_index=index)
    finding.count += 1
    if out_dir is not None and finding.count <= REPRODUCERS_PER_KIND:
        shrunk = minimize(name, inp, kind) if shrink and finding.count == 1 else None
        path = write_reproducer(Path(out_dir), name, seed, index, inp, outcome.error, kind, shrunk)
        if finding.count == 1:
            finding.reproducer = str(path)


# -- a whole run ---------------------------------------------------------------------------


def split_inputs(names: list[str], total: int, chunk: int = CHUNK) -> list[tuple[str, int, int]]:
    """Work units (target, start, count): ``total`` shared evenly between the targets,
    interleaved so that a run cut short by a time limit still covers every target."""
    per_target = {
        name: total // len(names) + (i < total % len(names)) for i, name in enumerate(names)
    }
    queues = {
        name: [(name, start, min(chunk, count - start)) for start in range(0, count, chunk)]
        for name, count in per_target.items()
    }
    units: list[tuple[str, int, int]] = []
    while any(queues.values()):
        for name in names:
            if queues[name]:
                units.append(queues[name].pop(0))
    return units


def run(
    names: list[str],
    inputs: int,
    seed: int,
    *,
    jobs: int = 1,
    out_dir: str | None = None,
    time_limit: float | None = None,
    hang_seconds: float = HANG_SECONDS,
    progress: TextIO | None = None,
) -> dict[str, TargetStats]:
    results = {name: TargetStats(name) for name in names}
    deadline = None if time_limit is None else time.time() + time_limit
    units = split_inputs(names, inputs)
    started = time.monotonic()
    last_report = started

    def report(force: bool = False) -> None:
        nonlocal last_report
        now = time.monotonic()
        if progress is None or (not force and now - last_report < 30):
            return
        last_report = now
        done = sum(s.inputs for s in results.values())
        crashes = sum(s.crashes for s in results.values())
        hangs = sum(s.hangs for s in results.values())
        print(
            f"[{now - started:7.0f} s] {done:,} of {inputs:,} inputs, {crashes} crashes, "
            f"{hangs} hangs",
            file=progress,
            flush=True,
        )

    if jobs <= 1:
        for name, start, count in units:
            if deadline is not None and time.time() > deadline:
                break
            results[name].merge(
                run_range(name, seed, start, count, out_dir, hang_seconds, deadline)
            )
            report()
        return results
    context = get_context("spawn")  # fresh interpreters: no inherited threads or locks
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: set[Future[TargetStats]] = set()
        queue = list(units)
        while queue or pending:
            while (
                queue and len(pending) < 2 * jobs and (deadline is None or time.time() < deadline)
            ):
                name, start, count = queue.pop(0)
                pending.add(
                    pool.submit(
                        run_range, name, seed, start, count, out_dir, hang_seconds, deadline
                    )
                )
            if deadline is not None and time.time() >= deadline:
                queue.clear()
            if not pending:
                break
            finished, pending = wait(pending, timeout=30, return_when=FIRST_COMPLETED)
            for future in finished:
                stats = future.result()
                results[stats.name].merge(stats)
            report()
    return results


# -- the summary ---------------------------------------------------------------------------


def human_bytes(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MiB"
    return f"{size / 1024:.1f} KiB"


def summary(results: dict[str, TargetStats]) -> str:
    header = (
        f"{'target':<14} {'inputs':>10} {'rejected':>9} {'crashes':>8} {'hangs':>6} "
        f"{'worst memory (input)':>24} {'worst CPU':>10}"
    )
    lines = [header, "-" * len(header)]
    total = TargetStats("total")
    worst_target = ""
    for name, stats in results.items():
        if stats.skipped:
            lines.append(f"{name:<14} skipped: {stats.skipped}")
            continue
        memory = f"{human_bytes(stats.worst_peak)} (#{stats.worst_peak_index})"
        lines.append(
            f"{name:<14} {stats.inputs:>10,} {stats.rejected:>9,} {stats.crashes:>8} "
            f"{stats.hangs:>6} {memory:>24} {stats.worst_cpu:>8.3f} s"
        )
        if stats.worst_peak > total.worst_peak:
            worst_target = name
        total.merge(stats)
    lines.append("-" * len(header))
    memory = f"{human_bytes(total.worst_peak)} ({worst_target})"
    lines.append(
        f"{'total':<14} {total.inputs:>10,} {total.rejected:>9,} {total.crashes:>8} "
        f"{total.hangs:>6} {memory:>24} {total.worst_cpu:>8.3f} s"
    )
    findings = "\n".join(s.describe_findings() for s in results.values() if s.findings)
    if findings:
        lines += ["", "findings:", findings]
    return "\n".join(lines)


__all__ = [
    "HANG_SECONDS",
    "Finding",
    "Hang",
    "TargetStats",
    "minimize",
    "replay",
    "run",
    "run_range",
    "summary",
]


if __name__ == "__main__":  # pragma: no cover - use python -m tests.fuzz
    sys.exit("run: python -m tests.fuzz --help")
