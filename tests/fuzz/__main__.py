"""``python -m tests.fuzz``: the long fuzz run and its summary table.

Exit status: 0 when no input crashed or hung (and, with ``--max-memory``, none went
over it), 1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from .runner import HANG_SECONDS, replay, run, summary
from .targets import TARGETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs in all (default 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    parser.add_argument(
        "--target",
        action="append",
        choices=sorted(TARGETS),
        metavar="NAME",
        help="run only this target (repeatable); --list shows them",
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--out", default="fuzz-out", help="directory for crash reproducers (default ./fuzz-out)"
    )
    parser.add_argument(
        "--time-limit", type=float, help="stop starting inputs after this many seconds"
    )
    parser.add_argument(
        "--hang-seconds", type=float, default=HANG_SECONDS, help="CPU time that counts as a hang"
    )
    parser.add_argument(
        "--max-memory", type=int, help="fail if an input's memory peak exceeds this (bytes)"
    )
    parser.add_argument("--replay", metavar="FILE", help="run one reproducer file and exit")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, target in TARGETS.items():
            reason = target.unavailable()
            print(f"{name:<14} {target.about}" + (f"  [unavailable: {reason}]" if reason else ""))
        return 0
    if args.replay:
        return replay(args.replay)
    if args.inputs < 1 or args.jobs < 1:
        parser.error("--inputs and --jobs must be at least 1")
    names = args.target or list(TARGETS)
    print(
        f"fuzz: {args.inputs:,} inputs over {len(names)} targets, seed {args.seed}, "
        f"{args.jobs} job(s), Python {platform.python_version()}, pid {os.getpid()}",
        flush=True,
    )
    started = time.monotonic()
    results = run(
        names,
        args.inputs,
        args.seed,
        jobs=args.jobs,
        out_dir=args.out,
        time_limit=args.time_limit,
        hang_seconds=args.hang_seconds,
        progress=sys.stderr,
    )
    elapsed = time.monotonic() - started
    print(summary(results))
    done = sum(s.inputs for s in results.values())
    cut = (
        f" (stopped by --time-limit; {args.inputs - done:,} not run)" if done < args.inputs else ""
    )
    print(f"\n{done:,} inputs in {elapsed:.0f} s wall{cut}")
    failed = any(s.crashes or s.hangs for s in results.values())
    if args.max_memory is not None and any(
        s.worst_peak > args.max_memory for s in results.values()
    ):
        print(f"memory: an input's peak exceeded --max-memory {args.max_memory:,} bytes")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
