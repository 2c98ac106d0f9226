"""Same as ``mqsdk bench``, runnable from a checkout: ``python benchmarks/bench.py --quick``."""

from __future__ import annotations

import sys

from mqsdk.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
