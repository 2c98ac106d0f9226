"""``zmq.devices.proxysteerabledevice``."""

from mqsdk.devices import ProcessProxySteerable, ProxySteerable, ThreadProxySteerable

__all__ = ["ProcessProxySteerable", "ProxySteerable", "ThreadProxySteerable"]
