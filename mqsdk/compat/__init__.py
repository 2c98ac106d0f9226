"""pyzmq's public module layout on mqsdk.

``import mqsdk.compat as zmq`` gives pyzmq's top-level names (``Context``, ``Socket``,
``ZMQError``, ``EAGAIN``, ``zmq_version()``...), and its submodules mirror pyzmq's
(``mqsdk.compat.asyncio`` is ``zmq.asyncio``, ``mqsdk.compat.auth.thread`` is
``zmq.auth.thread``...). :func:`install` goes one step further: ``import zmq`` anywhere
in the process, third-party libraries included, then resolves to these modules.
The objects are mqsdk's own: ``mqsdk.compat.Socket is mqsdk.Socket``.
"""

from __future__ import annotations

import importlib
from typing import Any

import mqsdk
from mqsdk import *  # noqa: F403

# isort: split
# pyzmq's names come after mqsdk's and win where both exist: ``zmq.POLLIN`` is the
# PollEvent member (equal to mqsdk.POLLIN), ``zmq.__version__`` is pyzmq's API version.
from mqsdk._kernel.frame import COPY_THRESHOLD
from mqsdk.compat import backend, constants, sugar
from mqsdk.compat import error as error
from mqsdk.compat._install import PyzmqAlreadyImported as PyzmqAlreadyImported
from mqsdk.compat._install import install as install
from mqsdk.compat._install import installed as installed
from mqsdk.compat._install import uninstall as uninstall
from mqsdk.compat.backend import *  # noqa: F403
from mqsdk.compat.constants import *  # noqa: F403
from mqsdk.compat.sugar import *  # noqa: F403

DRAFT_API = backend.PYZMQ_DRAFT_API


def get_includes() -> list[str]:
    """pyzmq's C headers for Cython extensions: mqsdk is pure Python and has none."""
    raise NotImplementedError(
        "zmq.get_includes(): mqsdk is pure Python, with no C headers or libzmq to "
        "compile against; a Cython extension built on pyzmq's C API needs real pyzmq"
    )


def get_library_dirs() -> list[str]:
    """pyzmq's bundled libzmq for Cython extensions: mqsdk is pure Python and has none."""
    raise NotImplementedError(
        "zmq.get_library_dirs(): mqsdk is pure Python, with no libzmq to link against; "
        "a Cython extension built on pyzmq's C API needs real pyzmq"
    )


def __getattr__(name: str) -> Any:
    # A pyzmq submodule not imported yet (``from zmq import devices``) is compat's own,
    # never the mqsdk module of the same name (mqsdk.devices has no ``monitoredqueue``).
    if name.islower() and not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    # Option constants (``zmq.LINGER``...) and mqsdk's lazily imported names.
    try:
        return getattr(mqsdk, name)
    except AttributeError:
        raise AttributeError(f"module 'zmq' (mqsdk.compat) has no attribute {name!r}") from None


# pyzmq's list, so ``from zmq import *`` brings what it brings with pyzmq (install() and
# mqsdk's own names stay reachable as attributes, but are not star-exported).
__all__ = [  # noqa: PLE0604
    "COPY_THRESHOLD",
    "DRAFT_API",
    *constants.__all__,
    *sugar.__all__,
    *backend.__all__,
]
