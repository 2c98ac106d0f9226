"""``install()``: make ``import zmq`` resolve to :mod:`mqsdk.compat` in this process.

A finder placed first on ``sys.meta_path`` answers for ``zmq`` and every ``zmq.<name>``
by importing ``mqsdk.compat.<name>`` and handing back that very module object, so
``zmq.asyncio is mqsdk.compat.asyncio`` and a class checked with ``isinstance`` against
``zmq.Socket`` is mqsdk's own. A name pyzmq has and mqsdk does not (``zmq.green``,
``zmq.backend.cython``) fails as any missing module does, with ModuleNotFoundError.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import CodeType, ModuleType

from mqsdk.errors import MQError

_ALIAS = "zmq"
_TARGET = "mqsdk.compat"


class PyzmqAlreadyImported(MQError):
    """Real pyzmq was imported before ``install()``: two ``zmq`` in one process would mix
    objects of both libraries, so the install is refused."""


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: ModuleType) -> None:
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a placeholder; exec_module swaps the real module in

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns whatever sys.modules holds under the name once the
        # loader is done, so the alias is the mqsdk module itself, not a copy.
        sys.modules[module.__name__] = self._target

    def get_code(self, fullname: str) -> CodeType | None:
        # ``python -m zmq.curve_keygen`` (runpy) runs the target module's code afresh
        # as __main__, so hand over the code of mqsdk's module.
        spec = self._target.__spec__
        get_code = getattr(spec.loader, "get_code", None) if spec is not None else None
        return None if get_code is None else get_code(self._target.__name__)


class _ZmqFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _ALIAS and not fullname.startswith(_ALIAS + "."):
            return None
        target_name = _TARGET + fullname[len(_ALIAS) :]
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as exc:
            if exc.name != target_name:
                raise
            # Never fall through to real pyzmq's module of that name: the two would mix.
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (mqsdk.compat, which `zmq` resolves to "
                "in this process, does not provide it)",
                name=fullname,
            ) from None
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(module), is_package=is_package)


_finder = _ZmqFinder()


def _is_ours(module: ModuleType) -> bool:
    return module.__name__ == _TARGET or module.__name__.startswith(_TARGET + ".")


def install() -> None:
    """Make ``import zmq`` (and ``zmq.asyncio``, ``zmq.auth.thread``...) resolve to
    mqsdk for the rest of this process, third-party libraries included.

    Call it before anything imports ``zmq``. Raises :class:`PyzmqAlreadyImported` if real
    pyzmq is already loaded. Calling it again is harmless.
    """
    loaded = sys.modules.get(_ALIAS)
    if loaded is not None and not _is_ours(loaded):
        raise PyzmqAlreadyImported(
            f"pyzmq is already imported in this process (from {getattr(loaded, '__file__', '?')}); "
            "call mqsdk.compat.install() before anything imports zmq, "
            "or run the program with `mqsdk run-as-zmq`"
        )
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def installed() -> bool:
    """Whether ``import zmq`` resolves to mqsdk in this process."""
    return _finder in sys.meta_path


def uninstall() -> None:
    """Undo :func:`install`: later ``import zmq`` finds real pyzmq again (modules already
    imported keep the names they were given)."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    for name in [n for n in sys.modules if n == _ALIAS or n.startswith(_ALIAS + ".")]:
        if _is_ours(sys.modules[name]):
            del sys.modules[name]
