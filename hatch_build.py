"""Build mqsdk's compiled kernel: the per-message modules compiled with mypyc.

Used two ways:

- by the build backend (hatchling loads this file as a build hook): a wheel built on a
  machine with a C compiler carries the compiled modules beside their ``.py`` sources;
  where compiling is impossible (no compiler, no Python headers) the wheel is pure
  Python and says why on the build log. Editable installs are always pure, so an edit
  to a ``.py`` file always takes effect. ``MQSDK_PURE_PYTHON=1`` at build time makes a
  pure wheel on purpose; ``MQSDK_REQUIRE_COMPILED=1`` turns "cannot compile" into an
  error (release builds and CI, so a broken compiler cannot slip through as a pure wheel).
- from the command line: ``python hatch_build.py --inplace DIR`` compiles DIR's
  ``mqsdk`` sources in place (DIR a copy of the checkout, as CI's compiled-kernel test
  run uses); ``--clean DIR`` removes compiled modules again; ``--check`` says whether a
  wheel built by this Python on this machine would carry the compiled kernel (exit 0)
  or not, and why (exit 1).

At run time the package prefers a compiled module where one is present;
``MQSDK_PURE_PYTHON=1`` makes it load the ``.py`` sources instead (see
``mqsdk/_kernel_select.py``), and ``mqsdk doctor`` / ``mqsdk bench`` say which kernel runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

# The per-message path: codec and sans-I/O connection, engines, pipes, the routing and
# subscription bricks patterns hand messages to, the I/O policy and the socket core.
# Compiled together, calls between them are native calls. Not here: modules that run
# once per socket or per connection (options, registry, endpoints, mechanisms), and
# socket.py, the pyzmq-style layer that builds per-option subclasses at run time.
COMPILED_MODULES = (
    "mqsdk/zmtp/frames.py",
    "mqsdk/zmtp/connection.py",
    "mqsdk/_kernel/engine.py",
    "mqsdk/_kernel/raw_engine.py",
    "mqsdk/_kernel/pipe.py",
    "mqsdk/_kernel/memory_pipe.py",
    "mqsdk/_kernel/routing.py",
    "mqsdk/_kernel/distributor.py",
    "mqsdk/_kernel/subscriptions.py",
    "mqsdk/_kernel/io_policy.py",
    "mqsdk/_kernel/core.py",
    "mqsdk/_kernel/handle.py",
    "mqsdk/_kernel/reactor.py",
)
# The shared library all compiled modules live in (mypyc appends "__mypyc"): inside the
# package, so nothing lands at the top of site-packages.
GROUP_NAME = "mqsdk._compiled"
# Written beside in-place builds only: the hash of each source compiled, so the package
# can notice a .py edited after the build and fall back to the sources (mqsdk/_kernel_select.py).
MANIFEST = "mqsdk/_compiled.json"


def cannot_compile_reason(*, need_mypyc: bool = True) -> str | None:
    """Why this machine cannot build C extensions for this Python, or None if it can.

    ``need_mypyc=False`` asks about the machine only (compiler and headers): a wheel
    build installs mypy and setuptools into its own build environment.
    """
    # The compiler setuptools will run: $CC wins over the one Python was built with.
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler!r} not found)"
    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        return f"no Python headers ({include}/Python.h missing)"
    if not need_mypyc:
        return None
    try:
        import mypyc  # noqa: F401
        import setuptools  # noqa: F401
    except ImportError as exc:
        return f"mypyc or setuptools missing ({exc.name})"
    return None


def compile_kernel(root: Path, build_dir: Path) -> list[tuple[Path, str]]:
    """Compile COMPILED_MODULES of the checkout at ``root``; the built extension
    modules are left under ``build_dir``. Returns (file, path inside the package tree)."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    previous = Path.cwd()
    os.chdir(root)  # mypyc names modules by their paths, relative to here
    try:
        extensions = mypycify(
            # Type checking is the lint job's (`mypy mqsdk`), not the build's: a `type:
            # ignore` that another Python version or mypy release finds unused must not
            # turn a user's install into a pure one.
            ["--no-warn-unused-ignores", *COMPILED_MODULES],
            opt_level="3",
            target_dir=str(build_dir / "c"),
            group_name=GROUP_NAME,
        )
        # A bare Distribution: setuptools must not read this project's pyproject.toml
        # (hatchling builds the wheel; setuptools only drives the C compiler here).
        command = Distribution({"name": "mqsdk", "ext_modules": extensions}).get_command_obj(
            "build_ext"
        )
        command.build_lib = str(build_dir / "lib")
        command.build_temp = str(build_dir / "temp")
        command.parallel = os.cpu_count() or 1
        command.ensure_finalized()
        command.run()
    finally:
        os.chdir(previous)
    lib = build_dir / "lib"
    return [(path, path.relative_to(lib).as_posix()) for path in sorted(lib.rglob("*.so"))]


def _source_hashes(root: Path) -> dict[str, str]:
    return {
        module: hashlib.sha256((root / module).read_bytes()).hexdigest()
        for module in COMPILED_MODULES
    }


def build_in_place(root: Path) -> list[Path]:
    """Compile ``root``'s sources and put the extension modules beside them."""
    clean_in_place(root)
    with tempfile.TemporaryDirectory(prefix="mqsdk-mypyc-") as scratch:
        built = compile_kernel(root, Path(scratch))
        placed = []
        for path, relative in built:
            target = root / relative
            shutil.copy2(path, target)
            placed.append(target)
    (root / MANIFEST).write_text(json.dumps(_source_hashes(root), indent=1) + "\n")
    return placed


def clean_in_place(root: Path) -> list[Path]:
    """Remove compiled modules (and the manifest) from ``root``'s package tree."""
    removed = [*sorted((root / "mqsdk").rglob("*.so")), *sorted((root / "mqsdk").rglob("*.pyd"))]
    for path in removed:
        path.unlink()
    (root / MANIFEST).unlink(missing_ok=True)
    return removed


def _mypy_version() -> str:
    from mypy.version import __version__

    return __version__


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script, without hatchling
    BuildHookInterface = object  # type: ignore[assignment,misc]


class CompiledKernelHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    """hatchling build hook: add the compiled kernel to wheels where it can be built."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        if version == "editable":
            self._say("editable install: the kernel stays pure Python, so edits take effect")
            return
        if _flag("MQSDK_PURE_PYTHON"):
            self._say("MQSDK_PURE_PYTHON=1: building a pure-Python wheel")
            return
        reason = cannot_compile_reason()
        if reason is None:
            build_dir = Path(self.directory) / f".mqsdk-mypyc-{os.getpid()}"
            self._build_dir = build_dir
            started = time.monotonic()
            try:
                built = compile_kernel(Path(self.root), build_dir)
            # mypyc reports type errors with sys.exit; the compiler's own error is above
            # on the log either way.
            except (Exception, SystemExit) as exc:
                reason = f"compiling failed: {type(exc).__name__}: {exc}"
            else:
                for path, relative in built:
                    build_data["force_include"][str(path)] = relative
                build_data["pure_python"] = False
                build_data["infer_tag"] = True
                self._say(
                    f"compiled kernel: {len(built)} extension modules "
                    f"in {time.monotonic() - started:.0f} s (mypyc {_mypy_version()})"
                )
                return
        if _flag("MQSDK_REQUIRE_COMPILED"):
            raise RuntimeError(f"MQSDK_REQUIRE_COMPILED=1 but the kernel cannot compile: {reason}")
        self._say(f"cannot compile the kernel ({reason}): building a pure-Python wheel")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        build_dir = getattr(self, "_build_dir", None)
        if build_dir is not None:
            shutil.rmtree(build_dir, ignore_errors=True)

    def _say(self, text: str) -> None:
        print(f"mqsdk build: {text}", file=sys.stderr)


def main(argv: list[str]) -> int:
    usage = "usage: python hatch_build.py (--inplace | --clean | --check) [DIR]"
    if not argv or argv[0] not in {"--inplace", "--clean", "--check"} or len(argv) > 2:
        print(usage, file=sys.stderr)
        return 2
    root = Path(argv[1] if len(argv) == 2 else Path(__file__).parent).resolve()
    if argv[0] == "--check":
        # What a wheel build of this Python would do here (pip brings mypyc itself).
        reason = cannot_compile_reason(need_mypyc=False)
        print(reason or "this machine can compile the kernel")
        return 1 if reason else 0
    if argv[0] == "--clean":
        removed = clean_in_place(root)
        print(f"removed {len(removed)} compiled modules from {root}")
        return 0
    reason = cannot_compile_reason()
    if reason is not None:
        print(f"cannot compile the kernel: {reason}", file=sys.stderr)
        return 1
    started = time.monotonic()
    placed = build_in_place(root)
    print(f"compiled {len(placed)} modules in place in {root} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
