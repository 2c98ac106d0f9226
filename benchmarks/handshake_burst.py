"""Handshakes under a burst, and garbage connections: an mqsdk server next to a pyzmq one.

    python benchmarks/handshake_burst.py                       # both modes, both libraries
    python benchmarks/handshake_burst.py --mode burst --clients 1000 --repeat 3
    python benchmarks/handshake_burst.py --mode garbage --garbage 5000 --lib mqsdk
    python benchmarks/handshake_burst.py --mode burst --lib mqsdk --profile /tmp/burst.json

burst: a PULL server (this script again, in a child process) and N pyzmq PUSH clients
(``--client-procs`` processes, released together by a barrier) that all connect at once,
each send ``--messages`` numbered messages, close with ``--linger`` and terminate their
context. Reports the server's handshake failures (mqsdk: ``stats["handshake_failures"]``;
pyzmq: HANDSHAKE_FAILED_* monitor events), messages received, messages left unsent when
the clients' linger expired, and the server's CPU seconds (all its threads, and per
thread) per client.

garbage: N raw TCP connections, opened in waves of ``--wave`` at once, each sending
random bytes (a third of them after a valid ZMTP signature) and closing. Reports the
server's CPU per connection.

Both print Linux's ListenOverflows and TCPSynRetrans over the run: SYNs dropped because
the server's listen queue was full, and retried a second or more later. They are counted
machine-wide, so other processes' connections show up too. ``--load N`` spins N processes
meanwhile (a loaded CI machine); ``--backlog`` sets the server's BACKLOG option;
``--profile FILE`` runs the mqsdk server under ``py-spy record`` (speedscope format;
``--spy-args=--gil`` samples only the thread holding the GIL: CPU, not waiting).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import socket
import subprocess
import sys
import threading
import time
from typing import Any

SIGNATURE = b"\xff" + b"\x00" * 8 + b"\x7f"


def raise_fd_limit() -> int:
    """Lift the soft fd limit to the hard one: a thousand connections need a few thousand."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > 65536:
        hard = 65536
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def tcp_counters() -> dict[str, int]:
    """Linux's ListenOverflows (a SYN or ACK dropped: accept queue full) and TCPSynRetrans,
    machine-wide (so other processes' connections count too); empty elsewhere."""
    wanted = ("ListenOverflows", "TCPSynRetrans")
    try:
        with open("/proc/net/netstat") as stats:
            lines = stats.read().splitlines()
    except OSError:
        return {}
    counters: dict[str, int] = {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            pairs = zip(names.split()[1:], values.split()[1:], strict=False)
            counters.update({k: int(v) for k, v in pairs if k in wanted})
    return counters


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each of this process's threads by name (Linux; empty elsewhere):
    Python's name where it has one (``mqsdk-io-0``), else the OS's (``ZMQbg/IO/0``)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    seconds: dict[str, float] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return seconds
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        name = names.get(int(tid)) or text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        seconds[name] = seconds.get(name, 0.0) + used
    return seconds


# -- the server (child process) ---------------------------------------------------------


def serve(
    lib: str, expected_messages: int, expected_connections: int, read: str, backlog: int
) -> None:
    raise_fd_limit()
    stop = threading.Event()

    def wait_for_stop() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    if lib == "mqsdk":
        import mqsdk as zmq

        ctx: Any = zmq.Context()
    else:
        import zmq

        ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 100)  # wake now and then to see "stop"
    if backlog:
        pull.setsockopt(zmq.BACKLOG, backlog)
    pull.bind("tcp://127.0.0.1:*")
    endpoint = pull.last_endpoint.decode()
    events: dict[str, int] = {}
    monitor = None
    poller = None
    if lib == "pyzmq":
        # libzmq keeps no counters: its monitor events are the only account. Polled with
        # the PULL (in C), so that no event is dropped at the monitor's HWM.
        monitor = pull.get_monitor_socket()
        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
    elif read == "poll":
        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
    received: set[bytes] = set()
    duplicates = 0

    def take(message: bytes) -> None:
        nonlocal duplicates
        if message in received:
            duplicates += 1
        received.add(message)

    def ended() -> int:
        if monitor is None:
            return int(pull.stats["handshake_failures"])
        return events.get("DISCONNECTED", 0)

    def drain_monitor() -> None:
        from zmq.utils.monitor import parse_monitor_message

        assert monitor is not None
        while True:
            try:
                frames = monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            name = zmq.Event(parse_monitor_message(frames)["event"]).name
            events[name] = events.get(name, 0) + 1

    print(json.dumps({"ready": endpoint}), flush=True)
    cpu0 = cpu_last = time.process_time()
    threads0 = threads_last = thread_cpu()
    wall0 = wall_last = time.monotonic()
    seen = (0, 0)
    while True:
        if poller is None:
            # How most servers read: recv() blocks (here at most RCVTIMEO, to see "stop").
            with contextlib.suppress(zmq.Again):
                take(pull.recv())
        else:
            ready = dict(poller.poll(100))
            if monitor is not None and monitor in ready:
                drain_monitor()
        # Whatever is queued already (both read modes).
        while True:
            try:
                take(pull.recv(zmq.NOBLOCK))
            except zmq.Again:
                break
        now = time.monotonic()
        state = (len(received), ended())
        if state != seen:
            seen = state
            cpu_last = time.process_time()
            threads_last = thread_cpu()
            wall_last = now
        if not stop.is_set():
            continue
        if expected_messages and len(received) >= expected_messages:
            break
        if expected_connections and ended() >= expected_connections:
            break
        if now - wall_last > 3.0:
            break  # nothing more is coming (a SYN the server dropped is retried in 1 s, 3 s)
    if lib == "mqsdk":
        failures = int(pull.stats["handshake_failures"])
        kernel = zmq.kernel_info().detail  # compiled, or pure and why (MQSDK_PURE_PYTHON=1)
    else:
        failures = sum(v for k, v in events.items() if k.startswith("HANDSHAKE_FAILED"))
        kernel = None
    result = {
        "lib": lib,
        "kernel": kernel,
        "received": len(received),
        "duplicates": duplicates,
        "handshake_failures": failures,
        "ended_connections": ended(),
        "cpu_s": cpu_last - cpu0,
        "thread_cpu_s": {
            name: round(used - threads0.get(name, 0.0), 3)
            for name, used in threads_last.items()
            if used - threads0.get(name, 0.0) >= 0.01
        },
        "busy_wall_s": wall_last - wall0,
        "events": events,
    }
    if monitor is not None:
        monitor.close(0)
    pull.close(0)
    ctx.term()
    print(json.dumps({"result": result}), flush=True)


# -- the clients (this process) ----------------------------------------------------------


def _client_group(
    endpoint: str,
    first: int,
    count: int,
    messages: int,
    linger_s: float,
    io_threads: int,
    barrier: Any,
    results: Any,
) -> None:
    import zmq

    raise_fd_limit()
    ctx = zmq.Context(io_threads)
    ctx.setsockopt(zmq.MAX_SOCKETS, count + 64)
    pushes = []
    for _ in range(count):
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, int(linger_s * 1000))
        pushes.append(push)
    barrier.wait()  # every group starts connecting at the same moment
    start = time.monotonic()
    for push in pushes:  # connect is asynchronous: all of them are under way at once
        push.connect(endpoint)
    for offset, push in enumerate(pushes):
        for seq in range(messages):
            push.send(b"%d:%d" % (first + offset, seq))
    for push in pushes:
        push.close()
    ctx.term()  # returns once every message is out, or the linger expired
    results.put(time.monotonic() - start)


def burst_clients(
    endpoint: str, clients: int, messages: int, linger_s: float, procs: int, io_threads: int
) -> dict[str, Any]:
    """``clients`` pyzmq PUSH sockets in ``procs`` processes, connecting at the same time."""
    import multiprocessing

    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(procs)
    results = mp.Queue()
    workers = []
    for group in range(procs):
        first = clients * group // procs
        count = clients * (group + 1) // procs - first
        args = (endpoint, first, count, messages, linger_s, io_threads, barrier, results)
        worker = mp.Process(target=_client_group, args=args)
        worker.start()
        workers.append(worker)
    walls = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    return {"clients_wall_s": max(walls)}


def garbage_clients(host: str, port: int, count: int, wave: int, seed: int) -> dict[str, Any]:
    """``count`` connections in waves of ``wave`` started together (non-blocking: a SYN
    the server's full accept queue dropped delays its wave by the retry, not the run by
    the sum of them); each sends random bytes once connected, then closes."""
    import selectors

    rng = random.Random(seed)
    start = time.monotonic()
    failed = 0
    done = 0
    with selectors.DefaultSelector() as selector:
        while done < count:
            size = min(wave, count - done)
            for _ in range(size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.connect_ex((host, port))
                selector.register(sock, selectors.EVENT_WRITE)
            deadline = time.monotonic() + 60
            while selector.get_map() and time.monotonic() < deadline:
                for key, _events in selector.select(1.0):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    selector.unregister(sock)
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        failed += 1
                    else:
                        body = rng.randbytes(rng.randint(1, 300))
                        if rng.random() < 1 / 3:
                            body = SIGNATURE + body
                        try:
                            sock.send(body)
                        except OSError:
                            failed += 1
                    sock.close()
            for key in list(selector.get_map().values()):
                failed += 1
                selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
            done += size
    return {"clients_wall_s": time.monotonic() - start, "connect_failed": failed}


# -- orchestration -------------------------------------------------------------------------


def _spin() -> None:
    while True:
        pass


class BusyLoad:
    """``count`` processes spinning on the CPU while a run lasts: a loaded CI machine."""

    def __init__(self, count: int) -> None:
        import multiprocessing

        self._processes = [
            multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
            for _ in range(count)
        ]

    def __enter__(self) -> BusyLoad:
        for process in self._processes:
            process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self._processes:
            process.terminate()
            process.join()


def run_clients(args: argparse.Namespace, mode: str, endpoint: str) -> dict[str, Any]:
    if mode == "burst":
        return burst_clients(
            endpoint,
            args.clients,
            args.messages,
            args.linger,
            args.client_procs,
            args.client_io_threads,
        )
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    return garbage_clients(host, int(port), args.garbage, args.wave, args.seed)


def run_one(args: argparse.Namespace, lib: str, mode: str) -> dict[str, Any]:
    expected_messages = args.clients * args.messages if mode == "burst" else 0
    expected_connections = args.garbage if mode == "garbage" else 0
    server_cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--serve",
        lib,
        "--expect-messages",
        str(expected_messages),
        "--expect-connections",
        str(expected_connections),
        "--read",
        args.read,
        "--backlog",
        str(args.backlog),
    ]
    if args.profile and lib == "mqsdk":
        root, ext = os.path.splitext(args.profile)
        out = f"{root}-{mode}{ext or '.json'}"
        spy = ["py-spy", "record", "-r", "1000", "--format", "speedscope", "-o", out]
        server_cmd = [*spy, *args.spy_args.split(), "--", *server_cmd]
    server = subprocess.Popen(server_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdin is not None and server.stdout is not None

    def expect(key: str) -> Any:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith("{"):
                record = json.loads(line)
                if key in record:
                    return record[key]
        raise RuntimeError(f"the {lib} server ended without reporting {key!r}")

    try:
        endpoint = expect("ready")
        before = tcp_counters()
        with BusyLoad(args.load):
            client = run_clients(args, mode, endpoint)
        server.stdin.write("stop\n")
        server.stdin.flush()
        result: dict[str, Any] = expect("result")
        after = tcp_counters()
    finally:
        server.stdin.close()
        server.wait(60)
    result.update(client)
    result["tcp"] = {k: after[k] - before.get(k, 0) for k in after}
    result["mode"] = mode
    if mode == "burst":
        result["unsent"] = expected_messages - result["received"]
        result["cpu_ms_per_client"] = 1000 * result["cpu_s"] / args.clients
    else:
        result["cpu_ms_per_connection"] = 1000 * result["cpu_s"] / args.garbage
    return result


def report(result: dict[str, Any]) -> str:
    tcp = " ".join(f"{k}={v}" for k, v in result["tcp"].items())
    tcp += " threads: " + " ".join(f"{k}={v}" for k, v in result["thread_cpu_s"].items())
    if result.get("kernel"):
        tcp += f" kernel: {result['kernel']}"
    if result["mode"] == "burst":
        return (
            f"burst   {result['lib']:6} failures={result['handshake_failures']:4} "
            f"received={result['received']:6} unsent={result['unsent']:5} "
            f"cpu={result['cpu_s']:6.2f}s ({result['cpu_ms_per_client']:.3f} ms/client) "
            f"server_busy={result['busy_wall_s']:5.2f}s clients={result['clients_wall_s']:5.2f}s "
            f"{tcp}"
        )
    return (
        f"garbage {result['lib']:6} ended={result['ended_connections']:5} "
        f"connect_failed={result['connect_failed']} "
        f"cpu={result['cpu_s']:6.2f}s ({result['cpu_ms_per_connection']:.3f} ms/conn) "
        f"server_busy={result['busy_wall_s']:5.2f}s clients={result['clients_wall_s']:5.2f}s {tcp}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--mode", choices=("burst", "garbage", "both"), default="both")
    parser.add_argument("--lib", choices=("mqsdk", "pyzmq", "both"), default="both")
    parser.add_argument("--clients", type=int, default=1000, help="burst: PUSH clients")
    parser.add_argument("--client-procs", type=int, default=4, help="burst: client processes")
    parser.add_argument(
        "--client-io-threads", type=int, default=1, help="burst: I/O threads per client process"
    )
    parser.add_argument("--messages", type=int, default=8, help="burst: messages per client")
    parser.add_argument("--linger", type=float, default=5.0, help="burst: clients' linger, s")
    parser.add_argument("--garbage", type=int, default=5000, help="garbage: connections")
    parser.add_argument("--wave", type=int, default=200, help="garbage: connections per wave")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--read",
        choices=("recv", "poll"),
        default="recv",
        help="how the mqsdk server reads: blocking recv() (default) or a Poller",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--load", type=int, default=0, help="processes spinning on the CPU during each run"
    )
    parser.add_argument(
        "--backlog", type=int, default=0, help="the server's BACKLOG option (0: the default)"
    )
    parser.add_argument("--profile", help="py-spy speedscope output for the mqsdk server")
    parser.add_argument(
        "--spy-args", default="", help='more py-spy options, one string ("--gil": CPU only)'
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line per run")
    parser.add_argument("--serve", choices=("mqsdk", "pyzmq"), help=argparse.SUPPRESS)
    parser.add_argument("--expect-messages", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--expect-connections", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.expect_messages, args.expect_connections, args.read, args.backlog)
        return 0
    limit = raise_fd_limit()
    if limit < 3 * args.clients + 100:
        print(f"warning: fd limit {limit} is low for {args.clients} clients", file=sys.stderr)
    modes = ("burst", "garbage") if args.mode == "both" else (args.mode,)
    libs = ("mqsdk", "pyzmq") if args.lib == "both" else (args.lib,)
    for _ in range(args.repeat):
        for mode in modes:
            for lib in libs:
                result = run_one(args, lib, mode)
                print(json.dumps(result) if args.json else report(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
