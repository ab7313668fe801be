"""How big the simulated shop is at each scale, and the birth rates that keep it that size.

Items and users are born every day and live for a random number of days (capped), so the
catalog and user base at a date only depend on the days just before it. The daily birth
rate is chosen so that the expected number alive equals the target size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from recsys.settings import Scale


@dataclass(frozen=True)
class ScaleSpec:
    """Target sizes and lifetimes of one scale."""

    items: int
    users: int
    item_mean_lifetime_days: float
    item_max_lifetime_days: int
    user_mean_lifetime_days: float
    user_max_lifetime_days: int
    visit_factor: float = 1.0  # multiplies every user's visit rate

    @property
    def items_per_day(self) -> float:
        """Expected new listings a day, so that about ``items`` are alive on any day."""
        return self.items / expected_alive_days(self.item_mean_lifetime_days, self.item_max_lifetime_days)

    @property
    def users_per_day(self) -> float:
        """Expected sign-ups a day, so that about ``users`` are in the user base."""
        return self.users / expected_alive_days(self.user_mean_lifetime_days, self.user_max_lifetime_days)


def expected_alive_days(mean_days: float, max_age_days: int) -> float:
    """Expected number of days an entity is alive when ``P(alive at age k) = exp(-k/mean)``.

    That is the survival curve of ``lifetime = 1 + floor(Exponential(mean))`` truncated at
    ``max_age_days``; the steady-state population is the birth rate times this number.
    """
    q = math.exp(-1.0 / mean_days)
    return (1.0 - q ** (max_age_days + 1)) / (1.0 - q)


# tiny turns over faster, so that a test spanning a few days sees births and departures, and
# its few users visit more often, so that its daily volume does not swing by half.
SCALES: dict[Scale, ScaleSpec] = {
    "tiny": ScaleSpec(120, 150, 40.0, 120, 60.0, 180, visit_factor=2.0),
    "small": ScaleSpec(1_000, 5_000, 120.0, 365, 300.0, 730),
    "medium": ScaleSpec(20_000, 100_000, 120.0, 365, 300.0, 730),
}


def scale_spec(scale: Scale) -> ScaleSpec:
    """The spec of ``scale``.

    Raises:
        ValueError: ``scale`` is not one of tiny, small, medium.
    """
    try:
        return SCALES[scale]
    except KeyError:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}") from None
