"""``zmq.utils``: pyzmq's helper modules (jsonapi, strtypes, z85, win32, monitor)."""
