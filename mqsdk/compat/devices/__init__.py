"""``zmq.devices``: mqsdk's :mod:`mqsdk.devices`, in pyzmq's submodule layout."""

# The submodules are attributes of the package, as in pyzmq (``zmq.devices.monitoredqueue``
# is the module; its function is ``monitored_queue``).
from mqsdk.compat.devices import basedevice as basedevice
from mqsdk.compat.devices import monitoredqueue as monitoredqueue
from mqsdk.compat.devices import monitoredqueuedevice as monitoredqueuedevice
from mqsdk.compat.devices import proxydevice as proxydevice
from mqsdk.compat.devices import proxysteerabledevice as proxysteerabledevice
from mqsdk.devices import (
    BackgroundDevice,
    Device,
    MonitoredQueue,
    ProcessDevice,
    ProcessMonitoredQueue,
    ProcessProxy,
    ProcessProxySteerable,
    Proxy,
    ProxySteerable,
    ThreadDevice,
    ThreadMonitoredQueue,
    ThreadProxy,
    ThreadProxySteerable,
    monitored_queue,
)

__all__ = [
    "BackgroundDevice",
    "Device",
    "MonitoredQueue",
    "ProcessDevice",
    "ProcessMonitoredQueue",
    "ProcessProxy",
    "ProcessProxySteerable",
    "Proxy",
    "ProxySteerable",
    "ThreadDevice",
    "ThreadMonitoredQueue",
    "ThreadProxy",
    "ThreadProxySteerable",
    "monitored_queue",
]
