"""Seeded randomness for the simulated shop: one generator per (seed, day, stream).

Nothing here keeps state. A day's draws come from ``numpy`` generators seeded with
``[seed, day ordinal, stream]``, so any day can be generated alone and in any order. Values
tied to one entity over time (a user's focus in a given week, an item's stock on a given
day) come from ``unit_hash`` instead, so they do not depend on which other entities exist.
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Stream(IntEnum):
    """Independent random streams; a new kind of draw gets a new number, never a reused one."""

    ITEMS = 1
    USERS = 2
    SESSIONS = 3
    BEHAVIOUR = 4
    TIMES = 5
    FOCUS = 6
    STOCK = 7
    SALE = 8
    DEVICE = 9


def day_rng(seed: int, day: date | int, stream: Stream) -> np.random.Generator:
    """The generator of one stream on one day (``day`` as a date or its ordinal)."""
    ordinal = day if isinstance(day, int) else day.toordinal()
    return np.random.default_rng([seed, ordinal, int(stream)])


_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # splitmix64 finaliser: cheap, well mixed, and identical on every platform and process.
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
    return x ^ (x >> np.uint64(31))


def unit_hash(seed: int, stream: Stream, *keys: npt.ArrayLike) -> FloatArray:
    """Uniform numbers in [0, 1) that depend only on (seed, stream, keys), element-wise.

    Keys are non-negative integers (scalars or arrays, broadcast together).
    """
    arrays = np.broadcast_arrays(*(np.asarray(k, dtype=np.int64) for k in keys))
    h = _splitmix(np.full(arrays[0].shape, seed, dtype=np.uint64))
    h = _splitmix(h ^ np.uint64(int(stream)))
    for key in arrays:
        h = _splitmix(h ^ key.astype(np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
