"""``zmq.devices``: mqsdk's :mod:`mqsdk.devices`, in pyzmq's submodule layout."""

# The submodules are attributes of the package, as in pyzmq (``zmq.devices.monitoredqueue``
# is the module; its function is ``monitored_queue``).
from mqsdk.compat.devices import basedevice as basedevice
from mqsdk.compat.devices import monitoredqueue as monitoredqueue
from mqsdk.compat.devices import monitoredqueuedevice as monitoredqueuedevice
from mqsdk.compat.devices import proxydevice as proxydevice
from mqsdk.compat.devices import proxysteerabledevice as proxysteerabledevice
from mqsdk.compat.devices.basedevice import *  # noqa: F403
from mqsdk.compat.devices.monitoredqueue import *  # noqa: F403
from mqsdk.compat.devices.monitoredqueuedevice import *  # noqa: F403
from mqsdk.compat.devices.proxydevice import *  # noqa: F403
from mqsdk.compat.devices.proxysteerabledevice import *  # noqa: F403

# The union of the submodules' lists, as in pyzmq: each name is listed once, where it lives.
__all__ = [  # noqa: PLE0604
    *basedevice.__all__,
    *proxydevice.__all__,
    *proxysteerabledevice.__all__,
    *monitoredqueuedevice.__all__,
    *monitoredqueue.__all__,
]
