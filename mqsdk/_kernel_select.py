"""Which kernel runs: the compiled modules (mypyc) where installed, else the sources.

Wheels built on a machine with a C compiler carry the per-message modules compiled
(see hatch_build.py at the repository's top) beside their ``.py`` files, and Python's
import system prefers an extension module to a source file of the same name. This
module, imported first by ``mqsdk/__init__.py``, turns that preference off when:

- ``MQSDK_PURE_PYTHON=1`` is set (to compare, or to rule the compiled code out), or
- the compiled modules are stale: an in-place development build
  (``python hatch_build.py --inplace``) whose ``.py`` sources changed since, so an
  edit always takes effect. Wheels carry no manifest and are never stale.

It costs ``import mqsdk`` one ``listdir`` of the package directory (and nothing it does
not need: ``importlib.abc`` alone would cost more than the rest of ``import mqsdk``).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import warnings
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

_PACKAGE_DIR = os.path.dirname(__file__)
_GROUP_LIBRARY = "_compiled__mypyc"  # the shared library mypyc builds (hatch_build.py)
_MANIFEST = "_compiled.json"


class KernelInfo(NamedTuple):
    """What :func:`mqsdk.kernel_info` reports."""

    compiled: bool
    """The per-message modules run as compiled code."""
    detail: str
    """Why: what was found installed, or what made the package load the sources."""


class _SourcesFirst:
    """Loads mqsdk's modules from their ``.py`` files even where compiled ones exist (a
    meta path finder: ``find_spec`` is the whole protocol)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("mqsdk.") or not path:
            return None
        leaf = fullname.rpartition(".")[2]
        for directory in path:
            source = os.path.join(directory, leaf + ".py")
            if os.path.isfile(source):
                loader = importlib.machinery.SourceFileLoader(fullname, source)
                spec = importlib.machinery.ModuleSpec(fullname, loader, origin=source)
                spec.has_location = True  # __file__ is set, as for any source module
                return spec
        return None  # a package, or not ours: the normal finders handle it


def _compiled_present() -> bool:
    try:
        names = os.listdir(_PACKAGE_DIR)
    except OSError:
        return False
    return any(name.startswith(_GROUP_LIBRARY) for name in names)


def _stale_sources() -> list[str]:
    """Sources edited since an in-place build (empty for wheels: they have no manifest)."""
    manifest = os.path.join(_PACKAGE_DIR, _MANIFEST)
    if not os.path.exists(manifest):
        return []
    import hashlib
    import json

    try:
        with open(manifest, encoding="utf-8") as file:
            expected: dict[str, str] = json.load(file)
    except (OSError, ValueError):
        return []
    root = os.path.dirname(_PACKAGE_DIR)
    stale = []
    for relative, digest in expected.items():
        try:
            with open(os.path.join(root, relative), "rb") as file:
                if hashlib.sha256(file.read()).hexdigest() != digest:
                    stale.append(relative)
        except OSError:
            stale.append(relative)
    return stale


def _choose() -> KernelInfo:
    if not _compiled_present():
        return KernelInfo(False, "pure Python: no compiled modules are installed")
    if os.environ.get("MQSDK_PURE_PYTHON", "").strip().lower() in {"1", "true", "yes", "on"}:
        sys.meta_path.insert(0, _SourcesFirst())
        return KernelInfo(False, "pure Python: MQSDK_PURE_PYTHON is set")
    stale = _stale_sources()
    if stale:
        sys.meta_path.insert(0, _SourcesFirst())
        warnings.warn(
            f"mqsdk: the compiled kernel is older than its sources ({', '.join(stale)}); "
            "running the sources. Rebuild with `python hatch_build.py --inplace` or remove "
            "it with `python hatch_build.py --clean`.",
            RuntimeWarning,
            stacklevel=3,
        )
        return KernelInfo(False, f"pure Python: compiled modules are stale ({len(stale)})")
    return KernelInfo(True, "compiled with mypyc")


CHOICE = _choose()


def kernel_info() -> KernelInfo:
    """Which kernel this process runs, and why (``mqsdk doctor`` and ``mqsdk bench``
    print it). Checked against the modules actually loaded."""
    from mqsdk._kernel import core

    loaded_compiled = isinstance(
        getattr(core, "__loader__", None), importlib.machinery.ExtensionFileLoader
    )
    if loaded_compiled != CHOICE.compiled:  # someone imported around this module
        return KernelInfo(loaded_compiled, f"{'compiled' if loaded_compiled else 'pure'} (loaded)")
    return CHOICE
