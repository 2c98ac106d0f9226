"""``zmq.devices.proxydevice``."""

from mqsdk.devices import ProcessProxy, Proxy, ThreadProxy

__all__ = ["ProcessProxy", "Proxy", "ThreadProxy"]
