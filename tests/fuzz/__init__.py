"""A fuzz harness for everything that parses bytes from a peer.

Targets (``tests/fuzz/targets.py``): the ZMTP frame decoder, the greeting parser, the
command parsers and builders, SUBSCRIBE/CANCEL into the subscription trie, every
security mechanism's ``on_command`` (NULL, PLAIN and CURVE, as server and as client,
driven like the engine drives them, with an honest peer in the loop and ZAP verdicts),
CURVE's post-handshake ``decode_items``, the udp datagram reader, and the PGM packet
decoder, stream unpacker and receiver/source state machines.

Inputs are random, or valid ones mutated: bit flips, byte inserts and deletes,
truncations, huge declared sizes (2**62, 2**40, 100 MiB, ...), random splits of a valid
stream. Each input is counted as a crash (anything but the component's documented
error, or a wrong result found by an oracle), a hang (over 1 s of CPU time) and by its
memory peak (tracemalloc).

Long run, from the repository root::

    python -m tests.fuzz --inputs 1000000 --jobs 2

CI runs a seeded slice through pytest (``tests/fuzz/test_fuzz.py``); set
``MQSDK_FUZZ_INPUTS`` (and ``MQSDK_FUZZ_SEED``) to make that run bigger.
"""

from __future__ import annotations

from .runner import TargetStats, run, run_range, summary
from .targets import TARGETS

__all__ = ["TARGETS", "TargetStats", "run", "run_range", "summary"]
