"""``zmq.devices.basedevice``."""

from mqsdk.devices import BackgroundDevice, Device, ProcessDevice, ThreadDevice

__all__ = ["BackgroundDevice", "Device", "ProcessDevice", "ThreadDevice"]
