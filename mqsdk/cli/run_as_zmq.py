"""``mqsdk run-as-zmq``: run a pyzmq program on mqsdk, unchanged.

    mqsdk run-as-zmq server.py --port 5555     # a script, with its arguments
    mqsdk run-as-zmq -m jupyter_client ...     # a module, as ``python -m`` would

Before the program starts, :func:`mqsdk.compat.install` makes every ``import zmq`` in
the process (the program's and its libraries') resolve to mqsdk, and in the Python
processes it starts (through PYTHONPATH, and sys.path for multiprocessing's spawn and
forkserver children). ``sys.argv`` is what the program would see
under ``python``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import runpy
import sys
from typing import Any


def run(argv: list[str]) -> int:
    """``[-m MODULE | SCRIPT] ARGS...``, as ``python`` takes them."""
    from mqsdk.compat import install

    if argv[:1] == ["-m"] and len(argv) > 1:
        module, program_args = argv[1], argv[2:]
    elif argv and argv[0].startswith("-m") and len(argv[0]) > 2:
        module, program_args = argv[0][2:], argv[1:]
    elif argv and not argv[0].startswith("-"):
        module, program_args = None, argv[1:]
    else:
        print("usage: mqsdk run-as-zmq [-m MODULE | SCRIPT] [ARGS...]", file=sys.stderr)
        return 2
    if module is None:
        # Say it as ``python`` does, before anything runs (runpy's traceback says it badly).
        problem = _unopenable(argv[0])
        if problem:
            print(f"mqsdk run-as-zmq: can't open file {problem}", file=sys.stderr)
            return 2
    install()
    _children_too()
    if module is not None:
        # Looked up only after install(): ``-m zmq.x`` must find mqsdk's zmq, and looking
        # first would import real pyzmq's ``zmq`` package (install() then refuses).
        _set_path_head(os.getcwd())  # as ``python -m``: the current directory comes first
        problem = _unfindable(module)
        if problem:
            print(f"mqsdk run-as-zmq: {problem}", file=sys.stderr)
            return 1
        sys.argv = [module, *program_args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    script = argv[0]
    sys.argv = [script, *program_args]
    # As ``python script.py`` does: the script's directory comes first on sys.path.
    _set_path_head(os.path.dirname(os.path.abspath(script)))
    runpy.run_path(script, run_name="__main__")
    return 0


def _set_path_head(directory: str) -> None:
    """Put ``directory`` where ``python`` would have put the program's: in place of
    ``sys.path[0]``, which is ours (the ``mqsdk`` script's folder, or the current one
    under ``python -m mqsdk``), not the program's."""
    if sys.path:
        sys.path[0] = directory
    else:
        sys.path.insert(0, directory)


def _unopenable(script: str) -> str | None:
    """Why ``python`` would refuse to open ``script``, or None. A directory or zip with a
    ``__main__.py`` is runnable, so only a missing path or an unreadable file counts."""
    path = os.path.abspath(script)
    if os.path.isdir(path):
        return None
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return f"{path!r}: [Errno {exc.errno}] {exc.strerror}"


def _unfindable(module: str) -> str | None:
    """Why ``python -m module`` would stop before running anything, or None."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError as exc:  # a missing parent package, or a zmq.X mqsdk lacks
        return str(exc)
    except (ImportError, ValueError) as exc:
        # A parent package that fails to import or is not a package, or a relative name.
        return f"error while finding module {module!r} ({type(exc).__name__}: {exc})"
    return None if spec is not None else f"No module named {module!r}"


def _children_too() -> None:
    """Python processes the program starts (``sys.executable -m ...``) resolve ``import
    zmq`` to mqsdk as well: their PYTHONPATH starts with a directory whose ``zmq``
    package installs mqsdk.compat (and steps aside in a Python without mqsdk)."""
    import mqsdk.compat._subprocess as bootstrap

    directory = os.path.dirname(os.path.abspath(bootstrap.__file__ or ""))
    current = os.environ.get("PYTHONPATH", "")
    if directory not in current.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [directory, current]))
    # multiprocessing's spawn and forkserver children replace their sys.path with this
    # process's, dropping what PYTHONPATH gave them: the directory must be here as well.
    # Here it changes nothing (install()'s finder answers ``import zmq`` before any path
    # entry); it goes after sys.path[0] so that stays the program's own directory.
    if directory not in sys.path:
        sys.path.insert(1 if sys.path else 0, directory)


def cmd_run_as_zmq(args: argparse.Namespace) -> int:  # reached only for --help
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run-as-zmq",
        help="run a pyzmq program with `import zmq` resolving to mqsdk",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a module, as python -m")
    parser.add_argument("script", nargs="?", help="the script to run")
    parser.add_argument("args", nargs="*", help="the program's arguments")
    parser.set_defaults(func=cmd_run_as_zmq)
