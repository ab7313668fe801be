"""Small date helpers shared by the catalog, the users and the events."""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

DAY_MS = 86_400_000


def iso_dates(ordinals: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """``YYYY-MM-DD`` strings of day ordinals (each distinct day formatted once)."""
    unique, inverse = np.unique(ordinals, return_inverse=True)
    names = np.array([date.fromordinal(int(o)).isoformat() for o in unique], dtype=object)
    return np.asarray(names[inverse], dtype=object)


def compact(day: date) -> str:
    """``YYYYMMDD``, the day part of item, user, session and event ids."""
    return f"{day:%Y%m%d}"
