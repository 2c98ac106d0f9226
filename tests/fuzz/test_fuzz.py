"""The CI slice of the fuzz harness, and checks that the harness itself counts right.

Each target runs a few hundred seeded inputs (4,850 in all) and must show no
crash, no hang and no input whose memory peak reaches :data:`MEMORY_BOUND`. A failure
names the reproducer files; ``python -m tests.fuzz --target NAME --seed SEED --inputs
N`` reruns exactly the inputs of the slice (and shrinks what fails).

Bigger runs through pytest: ``MQSDK_FUZZ_INPUTS=200000 pytest tests/fuzz`` shares that
many inputs between the targets (``MQSDK_FUZZ_SEED`` picks another seed). Both are
read when this module is imported, before the suite's fixtures clear ``MQSDK_*``.
"""

from __future__ import annotations

import ast
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz import runner, targets
from tests.fuzz.runner import run_range, summary
from tests.fuzz.targets import TARGETS, Target

SEED = int(os.environ.get("MQSDK_FUZZ_SEED", "20240614"))
SCALED_INPUTS = int(os.environ.get("MQSDK_FUZZ_INPUTS", "0"))

MEMORY_BOUND = 2 * 1024 * 1024
"""Per input. A stream may declare frames of 2**62 bytes but carries at most ~100 KiB;
the decoder must allocate for the bytes received, not for the sizes declared (a frame's
final buffer at most FrameDecoder.growth_factor times what arrived of it)."""

CI_INPUTS = {
    "decoder": 500,
    "greeting": 400,
    "commands": 600,
    "subscriptions": 300,
    "null": 400,
    "plain_server": 400,
    "plain_client": 400,
    "curve_server": 300,
    "curve_client": 300,
    "curve_traffic": 250,
    "udp_datagram": 300,
    "pgm_packet": 400,
    "pgm_stream": 150,
    "pgm_session": 150,
}


def inputs_for(name: str) -> int:
    if SCALED_INPUTS > 0:
        return max(1, SCALED_INPUTS // len(TARGETS))
    return CI_INPUTS[name]


@pytest.fixture(autouse=True)
def close_what_targets_share() -> Iterator[None]:
    """Any test here may generate inputs; the udp target's socket (and its I/O thread)
    must not outlive the test."""
    yield
    targets.close_shared()


def test_every_target_has_a_ci_share() -> None:
    assert set(CI_INPUTS) == set(TARGETS)


@pytest.mark.parametrize("name", list(TARGETS))
def test_fuzz_slice(name: str, tmp_path: Path) -> None:
    reason = TARGETS[name].unavailable()
    if reason:
        pytest.skip(reason)
    count = inputs_for(name)
    stats = run_range(name, SEED, 0, count, str(tmp_path), shrink=False, stop_after=3)
    rerun = f"rerun: python -m tests.fuzz --target {name} --seed {SEED} --inputs {count}"
    details = f"\n{summary({name: stats})}\n{rerun}"
    assert stats.crashes == 0, details
    assert stats.hangs == 0, details
    assert stats.worst_peak < MEMORY_BOUND, details
    assert stats.inputs == count


# -- the harness counts what it should --------------------------------------------------


def _broken_execute(inp: dict[str, Any]) -> str:
    kind = inp["kind"]
    if kind == "crash":
        raise KeyError("a crash")
    if kind == "documented":
        raise ValueError("the documented error")
    if kind == "hang":
        while True:
            pass
    if kind == "memory":
        block = bytearray(3 * 1024 * 1024)
        del block
    return "fine"


def _broken_generate(rng: random.Random) -> dict[str, Any]:
    return {"kind": rng.choice(("crash", "documented", "hang", "memory", "fine"))}


def test_harness_counts_crashes_hangs_and_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = Target("broken", "test", _broken_generate, _broken_execute, (ValueError,))
    monkeypatch.setitem(TARGETS, "broken", broken)
    kinds = [_broken_generate(runner.input_rng(1, "broken", i))["kind"] for i in range(12)]
    stats = run_range("broken", 1, 0, 12, str(tmp_path), hang_seconds=0.2)
    assert stats.inputs == 12
    assert stats.crashes == kinds.count("crash") > 0
    assert stats.hangs == kinds.count("hang") > 0
    assert stats.rejected == kinds.count("documented") > 0
    assert stats.worst_peak >= 3 * 1024 * 1024
    assert kinds[stats.worst_peak_index] == "memory"
    signatures = sorted(stats.findings)
    assert signatures[0].startswith("Hang in fuzz/test_fuzz.py: _broken_execute"), signatures
    assert signatures[1].startswith("KeyError at fuzz/test_fuzz.py:"), signatures
    # The crash's reproducer replays it, shrunk to what still fails.
    crash = stats.findings[signatures[1]]
    source = Path(crash.reproducer).read_text()
    assert "INPUT = {'kind': 'crash'}" in source
    with pytest.raises(KeyError):
        runner.replay(crash.reproducer)


def test_decoder_oracle_catches_a_split_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mqsdk.zmtp.frames import FrameDecoder

    class LosesSmallReads(FrameDecoder):
        """Drops what a read of fewer than 4 bytes completes: only splits show it."""

        def commit(self, nbytes: int) -> list[Any]:
            items = super().commit(nbytes)
            return [] if nbytes < 4 else items

    monkeypatch.setattr(targets, "FrameDecoder", LosesSmallReads)
    stats = run_range("decoder", 1, 0, 200, str(tmp_path), shrink=False)
    assert stats.crashes > 0
    assert all(key.startswith("InvariantViolation (split decode differs") for key in stats.findings)


@pytest.mark.parametrize("name", list(TARGETS))
def test_inputs_are_deterministic_and_fit_a_reproducer(name: str) -> None:
    target = TARGETS[name]
    if target.unavailable():
        pytest.skip(target.unavailable())
    for index in range(5):
        first = target.generate(runner.input_rng(7, name, index))
        again = target.generate(runner.input_rng(7, name, index))
        assert first == again
        assert ast.literal_eval(repr(first)) == first


def test_shrinking_keeps_the_failure() -> None:
    def execute(inp: dict[str, Any]) -> str:
        if b"\xde\xad" in inp["data"] and len(inp["items"]) > 1:
            raise KeyError("found")
        return "fine"

    shrunk_target = Target("shrink", "test", _broken_generate, execute)
    original = {"data": b"x" * 300 + b"\xde\xad" + b"y" * 300, "items": list(range(40))}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(TARGETS, "shrink", shrunk_target)
        outcome = runner.run_one(execute, (), original, runner.Watchdog(1.0))
        shrunk = runner.minimize("shrink", original, runner.signature(outcome.error), seconds=10)
    assert shrunk["data"] == b"\xde\xad"
    assert len(shrunk["items"]) == 2
