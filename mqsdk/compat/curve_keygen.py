"""Generate a CURVE key pair: ``python -m zmq.curve_keygen`` (under ``mqsdk run-as-zmq``).

Prints the public and the secret key, Z85-encoded, in libzmq's curve_keygen layout,
or as a JSON object with ``--json``. ``--secret SECRET`` prints the public key that
belongs to an existing secret key instead of making a new pair.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from mqsdk.z85 import curve_keypair, curve_public


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m zmq.curve_keygen",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the keys as a JSON object")
    parser.add_argument("--secret", help="a secret key (Z85) to derive the public key of")
    options = parser.parse_args(_joined_secret(sys.argv[1:] if argv is None else list(argv)))
    if options.secret:
        secret = options.secret
        try:
            public = curve_public(secret.encode()).decode()
        except ValueError as exc:  # not a key: a usage error, not a traceback
            parser.error(f"--secret: {exc}")
    else:
        public_key, secret_key = curve_keypair()
        public, secret = public_key.decode(), secret_key.decode()
    if options.json:
        sys.stdout.write(json.dumps({"public": public, "secret": secret}, indent=1) + "\n")
    else:
        sys.stdout.write(f"== CURVE PUBLIC KEY ==\n{public}\n\n== CURVE SECRET KEY ==\n{secret}\n")
    return 0


def _joined_secret(args: list[str]) -> list[str]:
    """``--secret KEY`` as ``--secret=KEY``: a Z85 key may begin with "-" (one in 85
    does), which argparse would otherwise take for an option and refuse."""
    joined: list[str] = []
    rest = iter(args)
    for arg in rest:
        value = next(rest, None) if arg == "--secret" else None
        joined.append(arg if value is None else f"--secret={value}")
    return joined


if __name__ == "__main__":
    sys.exit(main())
