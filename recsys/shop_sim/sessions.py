"""Who visits on a day, on which device, and when their sessions start.

Regular users visit more often than occasional ones, weekends are busier, and a user who
signs up today has at least one session today. Start times follow a diurnal curve with a
morning bump, a lunch bump and an evening peak whose hour depends on the persona.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from recsys.shop_sim.days import DAY_MS
from recsys.shop_sim.personas import PERSONAS
from recsys.shop_sim.randomness import IntArray, Stream, day_rng
from recsys.shop_sim.users import UserBase
from recsys.shop_sim.vocabulary import DEVICES

WEEKDAY_FACTOR = (0.95, 0.95, 0.95, 0.97, 1.03, 1.15, 1.15)  # Monday .. Sunday
OTHER_DEVICE = 0.15  # share of sessions not on the user's usual device
# Diurnal mixture: (weight, mean hour, spread in hours); the evening hour is per persona and
# the remaining 10% of sessions start at any hour.
MORNING, LUNCH, EVENING = (0.15, 8.5, 1.5), (0.2, 12.5, 1.3), (0.55, 0.0, 2.0)
# Room for items in a slate, by device (inclusive range).
SLATE_SIZE = {"desktop": (10, 12), "mobile": (8, 9), "tablet": (9, 11), "app": (8, 10)}


@dataclass(frozen=True)
class SessionPlan:
    """The day's sessions before behaviour: whose, on which device, wished start time."""

    user: IntArray  # index into the day's UserBase
    device: IntArray
    start_ms: IntArray  # milliseconds after midnight UTC
    slate_size: IntArray

    def __len__(self) -> int:
        return len(self.user)


def plan_sessions(users: UserBase, day: date, seed: int, visit_factor: float = 1.0) -> SessionPlan:
    """Draw the sessions of ``day`` for the users in the user base."""
    rng = day_rng(seed, day, Stream.SESSIONS)
    counts = rng.poisson(users.visit_rate * visit_factor * WEEKDAY_FACTOR[day.weekday()])
    counts = np.where(users.signup == day.toordinal(), np.maximum(counts, 1), counts)
    user = np.repeat(np.arange(len(users)), counts)
    n = len(user)
    switch = rng.random(n) < OTHER_DEVICE
    device = np.where(switch, rng.integers(0, len(DEVICES), n), users.device[user])
    evening = np.array([p.evening_hour for p in PERSONAS])[users.persona[user]]
    component = rng.random(n)
    hour = np.where(
        component < MORNING[0],
        rng.normal(MORNING[1], MORNING[2], n),
        np.where(
            component < MORNING[0] + LUNCH[0],
            rng.normal(LUNCH[1], LUNCH[2], n),
            np.where(
                component < MORNING[0] + LUNCH[0] + EVENING[0],
                evening + rng.normal(0.0, EVENING[2], n),
                rng.uniform(0.0, 24.0, n),
            ),
        ),
    )
    start_ms = (np.mod(hour, 24.0) * 3_600_000).astype(np.int64) % DAY_MS
    low = np.array([SLATE_SIZE[d][0] for d in DEVICES])[device]
    high = np.array([SLATE_SIZE[d][1] for d in DEVICES])[device]
    size = rng.integers(low, high + 1)
    return SessionPlan(user.astype(np.int64), device.astype(np.int64), start_ms, size.astype(np.int64))
