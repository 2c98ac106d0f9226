"""``zmq.devices.monitoredqueue``."""

from mqsdk.devices import monitored_queue

__all__ = ["monitored_queue"]
