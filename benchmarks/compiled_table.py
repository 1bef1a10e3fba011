"""The categorical values of an ingest, interned: one growing hash table over all fields
(``compiled_kernels``), each distinct value stored once with its code and training count.

Memory grows with the number of distinct values (64 bytes of table at the worst load factor plus
the value's bytes each), never with the number of rows.
"""

from __future__ import annotations

from typing import NamedTuple

import compiled_kernels as kernels
import numpy as np
import pyarrow as pa

_MIN_SLOTS = 1 << 12
_MAX_LOAD = 0.7  # linear probing stays short; a lower load costs memory and cache
MAX_CODES = 2**31 - 1  # codes are stored as Int32: distinct values over all fields


class Entries(NamedTuple):
    """Every interned value in code order (code ``i + 1`` is row ``i``)."""

    fields: np.ndarray  # int16: the field's index
    counts: np.ndarray  # int64: training rows holding the value
    values: pa.Array  # large_string


class InternTable:
    """Codes 1.. in order of first appearance over all fields (0 = missing), training counts."""

    def __init__(self, n_fields: int) -> None:
        if n_fields > kernels.MAX_FIELDS:
            raise ValueError(f"at most {kernels.MAX_FIELDS} categorical fields, got {n_fields}")
        self.slots = np.zeros((_MIN_SLOTS, kernels.SLOT_WORDS), dtype=np.int64)
        self.arena = np.zeros(1 << 16, dtype=np.uint8)
        self.state = np.zeros(2, dtype=np.int64)  # entries used, arena bytes used

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What a kernel takes after its own arguments."""
        return self.slots, self.arena, self.state

    @property
    def size(self) -> int:
        return int(self.state[0])

    def reserve(self, values: int, value_bytes: int) -> None:
        """Room for ``values`` more distinct values of ``value_bytes`` bytes in all, at a load
        factor of at most ``_MAX_LOAD`` (the kernels never grow the arrays themselves)."""
        needed = int((self.size + values) / _MAX_LOAD) + 1
        if needed > len(self.slots):
            slots = np.zeros((_grow(len(self.slots), needed), kernels.SLOT_WORDS), np.int64)
            kernels.rehash(self.slots, self.arena, slots)
            self.slots = slots
        used = int(self.state[1])
        if used + value_bytes > len(self.arena):
            arena = np.zeros(_grow(len(self.arena), used + value_bytes), dtype=np.uint8)
            arena[:used] = self.arena[:used]
            self.arena = arena

    def check_size(self) -> None:
        """Int32 codes: more than ``MAX_CODES`` distinct values is an error, not a wrap."""
        if self.size > MAX_CODES:
            raise ValueError(f"more than {MAX_CODES} distinct categorical values")

    def entries(self) -> Entries:
        fields, counts, offsets, data = kernels.entries(self.slots, self.arena, self.size)
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        return Entries(fields, counts, pa.Array.from_buffers(pa.large_string(), self.size, buffers))


def _grow(size: int, needed: int) -> int:
    while size < needed:
        size *= 2
    return size
