"""Compiled (numba) kernels of a coded ingest, for ``compiled_floor.py``: one pass over a block's
raw bytes that finds the fields, parses labels and integers, and interns each categorical value
into one hash table, so no value is ever a string column.

Why: a pipeline that turns every field into a string column (a CSV reader, a parquet round trip
of the strings, group-by counts, lookups) costs 7.6 CPU-s per million Criteo rows before any
validation (docs/DATASETS.md, "The floor"); here each value is read and hashed once. Measured, it
is not enough for 500k rows/s on 2 cores (docs/DATASETS.md, "What is left").

One open-addressing table (linear probing) serves all fields: the field is part of the key, and
each value's code (``1 +`` its entry number, in order of first appearance over all fields; 0 =
missing) is unique across fields, so one ``np.take`` maps any field's codes to ids. A slot is
``[first 8 bytes, entry << 32 | field << 20 | length, arena offset, training count]``, 32 bytes:
a lookup of a value of up to 8 bytes (Criteo's hex ids) touches one cache line; the probes, not
the parsing, bound this pass. ``slot[1] == 0`` is empty (entry 0 of
field 0 has a non-empty value, so its length is not 0). Longer values are compared against their
bytes in ``arena``; one of ``LONG`` bytes or more stores ``LONG`` as its length and its true
length in the 8 bytes before its bytes. ``state`` holds ``[entries used, arena bytes used]``.
The caller grows the arrays before a block (``InternTable.reserve``), so a kernel never runs out
of room.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SKIP, LABEL, NUMERIC, CATEGORICAL = 0, 1, 2, 3  # role of an input column
SLOT_WORDS = 4
MAX_FIELDS = 4096  # 12 bits of a slot
LONG = (1 << 20) - 1  # 20 bits of a slot; a longer value carries its length in the arena
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_K = np.uint64(0x9E3779B97F4A7C15)
_S33 = np.uint64(33)
_S8 = np.uint64(8)
_MAX_DIGITS = 18  # an integer of up to 18 digits is exact in int64; longer -> general path
_NEWLINE, _CR, _MINUS, _ZERO, _ONE = 10, 13, 45, 48, 49
_LINES = 2048  # rows interned field by field while their bytes stay in the cache
_PLAIN, _SEPARATOR, _END, _SPECIAL = 0, 1, 2, 3  # byte classes of scan_block


@njit(inline="always")
def _mix(h: np.uint64) -> np.uint64:
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    return h ^ (h >> _S33)


@njit(inline="always")
def _word(data: np.ndarray, start: int, stop: int) -> np.uint64:
    """Up to 8 bytes from ``start`` as a little-endian integer."""
    w = np.uint64(0)
    shift = np.uint64(0)
    for i in range(start, min(stop, start + 8)):
        w |= np.uint64(data[i]) << shift
        shift += _S8
    return w


@njit(inline="always")
def _hash(data: np.ndarray, start: int, stop: int, field: int, first: np.int64) -> np.uint64:
    """Of the field, the length and the bytes; ``first`` is ``_word(data, start, stop)``."""
    h = _mix(np.uint64(field) * _K ^ np.uint64(stop - start) ^ np.uint64(first))
    for i in range(start + 8, stop, 8):
        h = _mix(h ^ _word(data, i, stop))
    return h


@njit(inline="always")
def _meta(field: int, length: int) -> np.int64:
    return np.int64(field) << 20 | min(length, LONG)


@njit(inline="always")
def _bytes_at(arena: np.ndarray, offset: int, meta: np.int64) -> tuple[int, int]:
    """Start and stop in ``arena`` of the value stored at ``offset``."""
    length = meta & LONG
    if length == LONG:
        return offset + 8, offset + 8 + np.int64(_word(arena, offset, offset + 8))
    return offset, offset + length


@njit(inline="always")
def _equal(data: np.ndarray, start: int, stop: int, arena: np.ndarray, offset: int) -> bool:
    """``data[start:stop]`` (longer than 8 bytes) against the value stored at ``offset`` whose
    first 8 bytes and length field matched."""
    length = stop - start
    if length >= LONG:
        if np.int64(_word(arena, offset, offset + 8)) != length:
            return False
        offset += 8
    for i in range(start + 8, stop):  # noqa: SIM110 (a plain loop compiles to a plain loop)
        if data[i] != arena[offset + i - start]:
            return False
    return True


@njit(nogil=True, cache=True)
def intern_values(
    data: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    fields: np.ndarray,
    train: np.ndarray,
    codes: np.ndarray,
    slots: np.ndarray,
    arena: np.ndarray,
    state: np.ndarray,
) -> None:
    """``codes[r, i]``: the code of ``data[starts[r, i]:stops[r, i]]`` in field ``fields[r]``
    (0 when empty), added when new; a row with ``train[i]`` adds 1 to its values' counts.

    Rows are taken ``_LINES`` at a time, field by field, so that their raw bytes stay in the
    cache across the fields. The probe is written out here, not in a helper: numba's inlined
    helper (an early ``return`` inside the probe loop) ran 2-3x slower. Hashing a batch of values
    ahead and loading their slots first, to overlap the cache misses, gained nothing on the large
    fields and cost 11 ns per value on the small ones, so it is not done.
    """
    mask = len(slots) - 1
    n = codes.shape[1]
    for chunk in range(0, n, _LINES):
        for r in range(len(fields)):
            field = fields[r]
            for i in range(chunk, min(n, chunk + _LINES)):
                start = starts[r, i]
                stop = stops[r, i]
                length = stop - start
                if length == 0:
                    codes[r, i] = 0
                    continue
                count = np.int64(train[i])
                meta = _meta(field, length)
                word = np.int64(_word(data, start, stop))
                s = np.int64(_hash(data, start, stop, field, word) & np.uint64(mask))
                code = -1
                while True:
                    packed = slots[s, 1]
                    if packed == 0:
                        break
                    if (
                        (packed & 0xFFFFFFFF) == meta
                        and slots[s, 0] == word
                        and (length <= 8 or _equal(data, start, stop, arena, slots[s, 2]))
                    ):
                        slots[s, 3] += count
                        code = (packed >> 32) + 1
                        break
                    s = (s + 1) & mask
                if code < 0:
                    code = _insert(data, start, stop, meta, word, count, s, slots, arena, state)
                codes[r, i] = code


@njit(inline="always")
def _insert(data, start, stop, meta, word, count, s, slots, arena, state) -> int:  # noqa: ANN001
    """Store a new value in the empty slot ``s``; its code."""
    length = stop - start
    e = state[0]
    offset = state[1]
    at = offset
    if length >= LONG:
        for j in range(8):
            arena[at + j] = (length >> (8 * j)) & 0xFF
        at += 8
    for j in range(start, stop):
        arena[at + j - start] = data[j]
    slots[s, 0] = word
    slots[s, 1] = e << 32 | meta
    slots[s, 2] = offset
    slots[s, 3] = count
    state[0] = e + 1
    state[1] = at + length
    return e + 1


@njit(inline="always")
def _integer(data: np.ndarray, start: int, stop: int) -> tuple[bool, float]:
    """``-?[0-9]{1,18}`` as a float (exactly what a decimal parse gives); False otherwise."""
    negative = data[start] == _MINUS
    i = start + negative
    if i == stop or stop - i > _MAX_DIGITS:
        return False, 0.0
    v = np.int64(0)
    for j in range(i, stop):
        d = np.int64(data[j]) - _ZERO
        if d < 0 or d > 9:
            return False, 0.0
        v = v * 10 + d
    x = float(v)
    return True, -x if negative else x


@njit(nogil=True, cache=True)
def scan_block(
    data: np.ndarray,
    roles: np.ndarray,
    slot: np.ndarray,
    separator: int,
    quote: int,
    labels: np.ndarray,
    numbers: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    general: np.ndarray,
) -> int:
    """Parse the ``len(general)`` lines of ``data``: ``labels[:, i]`` (0/1), ``numbers[:, i]``
    (NaN = empty) and each categorical value's bytes ``data[starts[:, i]:stops[:, i]]`` (empty
    = missing); the number of lines marked ``general[i] = 1`` (their values all empty).

    A line is left to the general path unless it has exactly ``len(roles)`` fields, only ASCII
    bytes, no ``\\r`` and no ``quote`` byte, every label is ``0`` or ``1`` and every numeric
    field is empty or ``-?[0-9]{1,18}``: the general path then keeps it (a float, a non-ASCII
    value) or names its problem, exactly as before.
    """
    n_columns = len(roles)
    classes = np.zeros(256, dtype=np.uint8)
    classes[128:] = _SPECIAL
    classes[_CR] = _SPECIAL
    if quote < 256:
        classes[quote] = _SPECIAL
    classes[separator] = _SEPARATOR
    classes[_NEWLINE] = _END
    begin = np.empty(n_columns, dtype=np.int64)
    end = np.empty(n_columns, dtype=np.int64)
    n_bad = 0
    pos = 0
    for line in range(len(general)):
        fields = 0
        plain = True
        field_start = pos
        i = pos
        while True:  # field boundaries and byte checks of one line
            while classes[data[i]] == _PLAIN:  # data ends in a newline: the loop stops there
                i += 1
            kind = classes[data[i]]
            if kind == _SPECIAL:
                plain = False
                i += 1
                continue
            if fields < n_columns:
                begin[fields] = field_start
                end[fields] = i
            fields += 1
            field_start = i + 1
            if kind == _END:
                break
            i += 1
        pos = i + 1
        ok = plain and fields == n_columns
        for c in range(n_columns):
            if not ok:
                break
            role = roles[c]
            a, z = begin[c], end[c]
            if role == LABEL:
                if z - a != 1 or (data[a] != _ZERO and data[a] != _ONE):
                    ok = False
                else:
                    labels[slot[c], line] = data[a] - _ZERO
            elif role == NUMERIC:
                if z == a:
                    numbers[slot[c], line] = np.nan
                else:
                    parsed, x = _integer(data, a, z)
                    ok = parsed
                    numbers[slot[c], line] = x
            elif role == CATEGORICAL:
                starts[slot[c], line] = a
                stops[slot[c], line] = z
        general[line] = not ok
        if not ok:
            n_bad += 1
            for c in range(n_columns):
                if roles[c] == CATEGORICAL:
                    starts[slot[c], line] = 0
                    stops[slot[c], line] = 0
    return n_bad


@njit(nogil=True, cache=True)
def rehash(old: np.ndarray, arena: np.ndarray, slots: np.ndarray) -> None:
    """Move every value of ``old`` into the empty, larger ``slots``."""
    mask = len(slots) - 1
    for o in range(len(old)):
        if old[o, 1] == 0:
            continue
        start, stop = _bytes_at(arena, old[o, 2], old[o, 1])
        field = (old[o, 1] >> 20) & (MAX_FIELDS - 1)
        first = np.int64(_word(arena, start, stop))
        s = np.int64(_hash(arena, start, stop, field, first) & np.uint64(mask))
        while slots[s, 1] != 0:
            s = (s + 1) & mask
        for w in range(SLOT_WORDS):
            slots[s, w] = old[o, w]


@njit(nogil=True, cache=True)
def entries(
    slots: np.ndarray, arena: np.ndarray, n_entries: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every value in code order: its field, training count, and its bytes as arrow string
    buffers (``offsets`` into ``data``)."""
    fields = np.empty(n_entries, dtype=np.int16)
    counts = np.empty(n_entries, dtype=np.int64)
    starts = np.empty(n_entries, dtype=np.int64)
    lengths = np.empty(n_entries, dtype=np.int64)
    for s in range(len(slots)):
        packed = slots[s, 1]
        if packed == 0:
            continue
        e = packed >> 32
        start, stop = _bytes_at(arena, slots[s, 2], packed)
        fields[e] = (packed >> 20) & (MAX_FIELDS - 1)
        counts[e] = slots[s, 3]
        starts[e] = start
        lengths[e] = stop - start
    offsets = np.zeros(n_entries + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)
    data = np.empty(offsets[-1], dtype=np.uint8)
    for e in range(n_entries):
        data[offsets[e] : offsets[e + 1]] = arena[starts[e] : starts[e] + lengths[e]]
    return fields, counts, offsets, data
