"""Input primitives shared by the fuzz targets: random bytes, mutations, random splits.

Mutations are plain data (tuples of ints and bytes) so an input that holds them can be
written to a reproducer file and read back with ``ast.literal_eval``. Positions are raw
random integers taken modulo the length of the data they are applied to, which keeps a
mutation meaningful after the data was shrunk by the minimiser.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

MiB = 1024 * 1024

Op = tuple[Any, ...]

HUGE_SIZES = (
    2**62,
    MiB - 1,  # a big message's usual size: its final buffer comes only with its bytes
    MiB,
    MiB + 1,
    2**40,
    100 * MiB,
    64 * MiB + 1,
    64 * MiB,
    16 * MiB,
    2**31,
    2**32 - 1,
    2**63 - 1,  # ZMTP's largest legal size
    2**63,  # one over: refused on the header alone
    2**64 - 1,
)
"""Declared sizes that must never turn into an allocation before the bytes arrive."""

INTERESTING_INTS = (
    0,
    1,
    2,
    0x7F,
    0x80,
    0xFE,
    0xFF,
    0x100,
    0x3FFF,
    0x4000,
    0x7FFF,
    0xFFFF,
    0x10000,
    2**31 - 1,
    2**31,
    2**32 - 1,
    *HUGE_SIZES,
)


def skewed_length(rng: random.Random, limit: int) -> int:
    """A length in ``0..limit``, mostly small (parsers break on edges, not on bulk)."""
    roll = rng.random()
    if roll < 0.45:
        return rng.randint(0, min(limit, 16))
    if roll < 0.8:
        return rng.randint(0, min(limit, 300))
    return rng.randint(0, limit)


def random_bytes(rng: random.Random, limit: int) -> bytes:
    """Random bytes of a skewed length; sometimes from a tiny alphabet, so that
    lengths, flags and names collide with protocol values more often."""
    size = skewed_length(rng, limit)
    roll = rng.random()
    if roll < 0.6:
        return rng.randbytes(size)
    if roll < 0.8:
        alphabet = bytes((0, 1, 2, 3, 4, 5, 6, 7, 0x7F, 0xFF))
        return bytes(rng.choice(alphabet) for _ in range(size))
    return bytes(size)


def random_op(rng: random.Random) -> Op:
    """One mutation: a bit flip, a byte set, an insert, a delete, a truncation, a
    duplicated slice, an interesting big-endian integer written over, or an append."""
    pos = rng.getrandbits(31)
    kind = rng.random()
    if kind < 0.22:
        return ("flip", pos, rng.randrange(8))
    if kind < 0.34:
        return ("byte", pos, rng.choice((0, 1, 2, 3, 4, 6, 0x7F, 0x80, 0xFF, rng.randrange(256))))
    if kind < 0.46:
        return ("insert", pos, rng.randbytes(rng.choice((1, 1, 2, 4, 8, rng.randint(1, 64)))))
    if kind < 0.60:
        return ("delete", pos, rng.choice((1, 1, 2, 4, 8, rng.randint(1, 64))))
    if kind < 0.70:
        return ("truncate", pos)
    if kind < 0.78:
        return ("dup", pos, rng.randint(1, 64))
    if kind < 0.93:
        return ("int", pos, rng.choice((1, 2, 4, 8)), rng.choice(INTERESTING_INTS))
    return ("append", rng.randbytes(rng.randint(1, 32)))


def random_ops(rng: random.Random, most: int = 4) -> list[Op]:
    return [random_op(rng) for _ in range(rng.randint(1, most))]


def apply_op(data: bytes, op: Op) -> bytes:
    kind = op[0]
    size = len(data)
    if kind == "append":
        return data + bytes(op[1])
    if kind == "insert":
        pos = op[1] % (size + 1)
        return data[:pos] + bytes(op[2]) + data[pos:]
    if kind == "truncate":
        return data[: op[1] % (size + 1)]
    if not size:
        return data
    pos = op[1] % size
    if kind == "flip":
        return data[:pos] + bytes((data[pos] ^ (1 << op[2]),)) + data[pos + 1 :]
    if kind == "byte":
        return data[:pos] + bytes((op[2],)) + data[pos + 1 :]
    if kind == "delete":
        return data[:pos] + data[pos + op[2] :]
    if kind == "dup":
        return data[: pos + op[2]] + data[pos:]
    if kind == "int":
        width: int = op[2]
        value: int = op[3]
        raw = (value % (1 << (8 * width))).to_bytes(width, "big")
        return data[:pos] + raw + data[pos + width :]
    raise ValueError(f"unknown mutation {op!r}")


def apply_ops(data: bytes, ops: list[Op] | tuple[Op, ...]) -> bytes:
    for op in ops:
        data = apply_op(data, op)
    return data


def mutate(rng: random.Random, data: bytes, most: int = 4) -> bytes:
    return apply_ops(data, random_ops(rng, most))


def random_splits(rng: random.Random, size: int) -> list[int]:
    """Chunk sizes for delivering ``size`` bytes: whole, byte by byte, random cuts, or a
    repeating read size. Consumers cycle through the list until the data is used up,
    so a list that no longer sums to the size (after shrinking) still works."""
    if size <= 0:
        return [1]
    roll = rng.random()
    if roll < 0.2:
        return [size]
    if roll < 0.3 and size <= 600:
        return [1]  # byte by byte
    if roll < 0.7:
        count = min(size - 1, rng.randint(1, 12))
        edges = [0, *sorted(rng.sample(range(1, size), count)), size]
        return [b - a for a, b in itertools.pairwise(edges)]
    # A repeating read size, but never more than ~20,000 reads: slowness from sheer
    # call count is not what the hang watchdog is for.
    sizes = [n for n in (1, 2, 3, 7, 9, 10, 11, 53, 64, 255, 1024, 4096) if n * 20_000 >= size]
    return [rng.choice(sizes or [size])]


def chunks(data: bytes, sizes: list[int]) -> Iterator[memoryview]:
    """``data`` cut by ``sizes``, cycling through them (see :func:`random_splits`).

    Views, made one at a time: 100 KiB cut into 9-byte ``bytes`` would cost ~600 KiB
    of the harness's own memory, measured as the input's.
    """
    view = memoryview(data)
    pos = 0
    turn = 0
    while pos < len(data):
        step = max(1, sizes[turn % len(sizes)] if sizes else len(data))
        turn += 1
        yield view[pos : pos + step]
        pos += step
