"""``import zmq`` in a Python process started under ``mqsdk run-as-zmq``.

This package is found first because run-as-zmq put its directory on PYTHONPATH. It
installs mqsdk.compat as ``zmq`` and replaces itself with it; a Python without mqsdk
gets whatever ``zmq`` comes next on its path instead.
"""

from __future__ import annotations

import os
import sys

_here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
del sys.modules[__name__]
try:
    import mqsdk.compat
except ImportError:
    # Another interpreter (no mqsdk): step aside for the next ``zmq`` on the path.
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _here]
    # The next one, now that this directory is off the path (maybe none: then the
    # ImportError is the program's, as without run-as-zmq).
    import zmq  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
else:
    mqsdk.compat.install()
    # The import system hands back whatever sys.modules holds once this module ran.
    sys.modules[__name__] = mqsdk.compat
