"""CPU per message of the user-side receive chain alone (``Socket.recv`` on a PULL).

No I/O: one pipe holds a full RCVHWM of 16 B messages and is marked ``read_paused``, as
after a read that went over the HWM; a stub engine resumes reading like the real one.
Prints the best of 300 rounds of 1000 messages (process CPU time), which is far steadier
on a loaded machine than the end-to-end ``mqsdk bench`` numbers. Where the kernel runs
compiled, it then runs again with ``MQSDK_PURE_PYTHON=1`` and prints the pure kernel's.

    .venv/bin/python benchmarks/recv_chain.py
"""

from __future__ import annotations

import time

from both_kernels import kernel_line, then_pure

import mqsdk
from mqsdk._kernel.engine import StreamEngine
from mqsdk._kernel.pipe import StreamPipe

HWM = 1000
ROUNDS = 300


class StubEngine(StreamEngine):
    """No connection (no super().__init__): a subclass, since the compiled kernel checks
    that a StreamPipe's engine is a StreamEngine."""

    def __init__(self, pipe: StreamPipe) -> None:
        self.pipe = pipe

    def resume_reading(self) -> None:
        self.pipe.read_paused = False  # what StreamEngine.resume_reading does to the pipe


def main() -> None:
    ctx = mqsdk.Context()
    sock = ctx.socket(mqsdk.PULL)
    pipe = StreamPipe(sock.handle, "stub://", HWM, HWM)
    pipe.engine = StubEngine(pipe)
    pipe.attached = True
    payload = b"x" * 16
    best = float("inf")
    recv = sock.recv
    for _ in range(ROUNDS):
        pipe.inq.extend([[payload] for _ in range(HWM)])
        pipe.read_paused = True
        sock.pattern.pipe_readable(pipe)
        start = time.process_time_ns()
        for _ in range(HWM):
            recv()
        best = min(best, (time.process_time_ns() - start) / HWM)
    print(kernel_line())
    print(f"recv chain: {best:.0f} ns/msg (best of {ROUNDS} x {HWM})")
    sock.close()
    ctx.term()
    then_pure(__file__)


if __name__ == "__main__":
    main()
