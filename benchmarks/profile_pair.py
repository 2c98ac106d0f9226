"""Run one throughput or latency pair with one side under a profiler.

    python benchmarks/profile_pair.py thr tcp 16 200000 --side recv --profiler py-spy
    python benchmarks/profile_pair.py lat ipc 16 20000 --side send --profiler pyinstrument

py-spy writes a speedscope/flamegraph file (``--out``); pyinstrument prints its tree.
Both sides are the same workers ``mqsdk bench`` uses (mqsdk/cli/bench/worker.py):
``--lib mqsdk`` is the kernel as installed (compiled where it is), ``--lib mqsdk-pure``
the same install's sources.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from mqsdk.cli.bench import LIBS, WORKER, Kernels, worker_environment, workers

ROLES = {
    "thr": ("thr_recv", "thr_send"),
    "lat": ("lat_server", "lat_client"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=ROLES)
    parser.add_argument("transport", choices=("tcp", "ipc"))
    parser.add_argument("size", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--lib", default="mqsdk", choices=LIBS)
    parser.add_argument("--side", default="recv", choices=("recv", "send"))
    parser.add_argument("--profiler", default="py-spy", choices=("py-spy", "pyinstrument"))
    parser.add_argument("--out", default="profile.svg", help="py-spy output file")
    parser.add_argument("--spy-args", default="", help="more py-spy options, one string")
    args = parser.parse_args()
    kernels = Kernels.here()
    print(kernels.describe() if args.lib.startswith("mqsdk") else f"library: {args.lib}")
    first, second = ROLES[args.kind]
    endpoint = "tcp://127.0.0.1:*" if args.transport == "tcp" else "ipc:///tmp/mqsdk-prof.sock"
    common = {"lib": args.lib, "size": args.size, "count": args.count}
    with workers() as start:
        server = start(first, 300, endpoint=endpoint, **common)
        bound = server.expect("ready")
        spec = json.dumps({"role": second, "endpoint": bound, **common})
        if args.side == "send":
            client = [sys.executable, str(WORKER), spec]
            if args.profiler == "py-spy":
                cmd = ["py-spy", "record", "-r", "500", "-o", args.out, "--", *client]
            else:
                cmd = [sys.executable, "-m", "pyinstrument", *client[1:]]
            profiled = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, text=True, env=worker_environment(args.lib)
            )
            result = server.expect("result") if args.kind == "thr" else None
            assert profiled.stdin is not None
            profiled.stdin.close()
            profiled.wait()
            print(result)
            return 0
        # Profile the first (binding, receiving) side: pid-attach py-spy to it.
        other = start(second, 300, endpoint=bound, **common)
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "-r",
                "500",
                "-p",
                str(server.proc.pid),
                "-o",
                args.out,
                *args.spy_args.split(),
            ]
        )
        waiting = other if args.kind == "lat" else server
        print(waiting.expect("result"))
        spy.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
