"""``zmq.devices.monitoredqueuedevice``."""

from mqsdk.devices import MonitoredQueue, ProcessMonitoredQueue, ThreadMonitoredQueue

__all__ = ["MonitoredQueue", "ProcessMonitoredQueue", "ThreadMonitoredQueue"]
