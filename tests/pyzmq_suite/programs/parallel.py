"""An ipyparallel cluster (controller, two engines, a client: ipyparallel unchanged) on
mqsdk, run under ``mqsdk run-as-zmq``: its controller's relays are pyzmq's devices
(monitored queues in processes of their own), its streams ZMQStream on tornado, its
messages jupyter's, whose buffers are received without a copy and read through
``memoryview``. The engines report which ``zmq`` they run.
"""

from __future__ import annotations

import ipyparallel
import zmq

assert zmq.__name__ == "mqsdk.compat", f"the client runs {zmq.__name__}"

with ipyparallel.Cluster(n=2, log_level=40) as client:
    view = client[:]
    engines = view.apply_sync(lambda: __import__("zmq").__name__)
    assert engines == ["mqsdk.compat", "mqsdk.compat"], engines
    total = sum(view.map_sync(lambda x: x * x, range(100)))
    assert total == 328350, total
print(f"ipyparallel: client and 2 engines on {zmq.__name__}, map over the cluster: ok")
