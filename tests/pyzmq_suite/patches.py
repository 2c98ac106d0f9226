"""The patch step: small, documented edits to pyzmq's test helpers before a run.

pyzmq's test files run unchanged. Only shared helpers that reach into pyzmq's internals
(its Cython/CFFI backend modules) are adapted here, each with the reason.
"""

from __future__ import annotations

from pathlib import Path

# (file, text as shipped, replacement, why)
PATCHES: list[tuple[str, str, str, str]] = []


def apply(workdir: Path) -> None:
    for name, old, new, why in PATCHES:
        path = workdir / name
        text = path.read_text()
        if old not in text:
            raise SystemExit(f"patch for {name} no longer applies ({why}): pyzmq changed it")
        path.write_text(text.replace(old, new))
