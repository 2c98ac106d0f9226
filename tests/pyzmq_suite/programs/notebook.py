"""A notebook client and its kernel (jupyter_client and ipykernel, unchanged), on mqsdk.

    python notebook.py CLIENT KERNEL     # each "mqsdk" or "pyzmq"

The client runs in this process: under ``mqsdk run-as-zmq`` for "mqsdk", plain Python
for "pyzmq". The kernel is a child process that jupyter_client starts, on the library
asked for. The client runs code in the kernel and checks the result and which ``zmq``
each side ran: five ZeroMQ channels (ROUTER/DEALER shell and control, PUB/SUB iopub,
REQ/REP stdin and heartbeat) with signed Jupyter messages, between mqsdk and libzmq in
either direction or mqsdk on both ends.
"""

from __future__ import annotations

import os
import sys

import zmq
from jupyter_client.manager import KernelManager

client_lib, kernel_lib = sys.argv[1], sys.argv[2]
expected_client = "mqsdk.compat" if client_lib == "mqsdk" else "zmq"
assert zmq.__name__ == expected_client, f"client runs {zmq.__name__}, wanted {client_lib}"

kernel_env = dict(os.environ)
if kernel_lib == "mqsdk":
    argv = [sys.executable, "-m", "mqsdk", "run-as-zmq", "-m", "ipykernel_launcher"]
else:
    argv = [sys.executable, "-m", "ipykernel_launcher"]
    # run-as-zmq's children import mqsdk as zmq through PYTHONPATH: not this one.
    kernel_env.pop("PYTHONPATH", None)

manager = KernelManager(kernel_name="python3")
manager.kernel_spec.argv = [*argv, "-f", "{connection_file}"]
manager.start_kernel(env=kernel_env)
client = manager.client()
client.start_channels()
try:
    client.wait_for_ready(timeout=60)
    outputs: list[str] = []
    reply = client.execute_interactive(
        "import zmq; print(zmq.__name__); 6 * 7",
        timeout=60,
        output_hook=lambda msg: outputs.append(str(msg["content"].get("text", ""))),
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    kernel_zmq = "".join(outputs).strip()
    expected_kernel = "mqsdk.compat" if kernel_lib == "mqsdk" else "zmq"
    assert kernel_zmq == expected_kernel, f"kernel runs {kernel_zmq!r}, wanted {kernel_lib}"
    print(f"notebook: client on {zmq.__name__}, kernel on {kernel_zmq}: ok")
finally:
    client.stop_channels()
    manager.shutdown_kernel(now=True)
