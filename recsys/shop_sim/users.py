"""The user base on a day: sign-ups of earlier days that have not churned yet.

Users who signed up on day ``d`` come from ``day_rng(seed, d, USERS)`` with their lifetime
(days until they churn), persona, price sensitivity, budget, visit rate and usual device.
Each user also has a current focus category that changes weekly; it is a function of
(seed, user, week), so the last days' behaviour predicts the next day's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys.settings import Scale
from recsys.shop_sim.days import iso_dates
from recsys.shop_sim.personas import PERSONA_NAMES, PERSONAS, category_weights, persona_shares
from recsys.shop_sim.randomness import FloatArray, IntArray, Stream, day_rng, unit_hash
from recsys.shop_sim.scales import ScaleSpec, scale_spec
from recsys.shop_sim.vocabulary import CATEGORIES, DEVICES

KEY_BASE = 10_000  # user key = sign-up ordinal * KEY_BASE + index of the day
REGULAR_SHARE = 0.25
REGULAR_VISITS, OCCASIONAL_VISITS = 0.6, 0.13  # median sessions a day
TASTE_SPREAD = 0.5  # personal offsets on the persona's category affinities


@dataclass(frozen=True)
class UserBase:
    """The users of one day as arrays (sorted by user id)."""

    day: date
    key: IntArray
    user_id: npt.NDArray[np.object_]
    signup: IntArray  # ordinal
    last_day: IntArray  # ordinal of the last day before churn
    persona: IntArray
    price_sensitivity: FloatArray
    budget_level: FloatArray  # log of budget relative to a category's typical price
    regular: npt.NDArray[np.bool_]
    visit_rate: FloatArray  # expected sessions a day
    device: IntArray  # usual device
    taste: FloatArray  # (users, categories) personal offsets
    focus: IntArray  # current focus category

    def __len__(self) -> int:
        return len(self.key)


def _signed_up_on(seed: int, ordinal: int, spec: ScaleSpec) -> dict[str, np.ndarray]:
    rng = day_rng(seed, ordinal, Stream.USERS)
    rate = spec.users_per_day
    # At least one sign-up a day: there is always a brand-new user (cold start).
    n = 1 + int(rng.poisson(rate - 1)) if rate >= 1 else int(rng.poisson(rate))
    lifetime = 1 + np.floor(rng.exponential(spec.user_mean_lifetime_days, n)).astype(np.int64)
    persona = rng.choice(len(PERSONAS), size=n, p=persona_shares())
    sensitivity = np.array([p.price_sensitivity for p in PERSONAS])[persona] * rng.lognormal(0.0, 0.35, n)
    budget = np.array([p.budget_level for p in PERSONAS])[persona] + rng.normal(0.0, 0.35, n)
    regular = rng.random(n) < REGULAR_SHARE
    visits = np.where(
        regular,
        REGULAR_VISITS * rng.lognormal(0.0, 0.3, n),
        OCCASIONAL_VISITS * rng.lognormal(0.0, 0.5, n),
    )
    device_cdf = np.cumsum(np.array([p.devices for p in PERSONAS]), axis=1)[persona]
    device = np.minimum((rng.random(n)[:, None] > device_cdf).sum(axis=1), len(DEVICES) - 1)
    return {
        "index": np.arange(n, dtype=np.int64),
        "lifetime": np.minimum(lifetime, spec.user_max_lifetime_days + 1),
        "persona": persona.astype(np.int64),
        "price_sensitivity": sensitivity,
        "budget_level": budget,
        "regular": regular,
        "visit_rate": visits,
        "device": device.astype(np.int64),
        "taste": rng.normal(0.0, TASTE_SPREAD, (n, len(CATEGORIES))),
    }


def focus_category(seed: int, key: IntArray, persona: IntArray, taste: FloatArray, ordinal: int) -> IntArray:
    """Each user's focus category on a day: drawn from their tastes, redrawn once a week.

    The week turns on a different weekday per user, so focus changes are spread out.
    """
    week = (ordinal + key % 7) // 7
    logits = category_weights()[persona] + taste
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = unit_hash(seed, Stream.FOCUS, key, week)
    return np.asarray(np.minimum((u[:, None] > cdf).sum(axis=1), len(CATEGORIES) - 1), dtype=np.int64)


def build_users(day: date, *, seed: int, scale: Scale) -> UserBase:
    """The user base of ``day`` as arrays."""
    spec = scale_spec(scale)
    today = day.toordinal()
    blocks = []
    for ordinal in range(today - spec.user_max_lifetime_days, today + 1):
        born = _signed_up_on(seed, ordinal, spec)
        alive = today - ordinal < born["lifetime"]
        prefix = f"U{date.fromordinal(ordinal):%Y%m%d}-"
        ids = np.array([f"{prefix}{i:04d}" for i in born["index"][alive].tolist()], dtype=object)
        blocks.append(
            {k: v[alive] for k, v in born.items()} | {"signup": np.full(alive.sum(), ordinal), "id": ids}
        )
    cols = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    signup = cols["signup"].astype(np.int64)
    key = signup * KEY_BASE + cols["index"]
    user_id = cols["id"]
    return UserBase(
        day=day,
        key=key,
        user_id=user_id,
        signup=signup,
        last_day=signup + cols["lifetime"] - 1,
        persona=cols["persona"],
        price_sensitivity=cols["price_sensitivity"],
        budget_level=cols["budget_level"],
        regular=cols["regular"],
        visit_rate=cols["visit_rate"],
        device=cols["device"],
        taste=cols["taste"],
        focus=focus_category(seed, key, cols["persona"], cols["taste"], today),
    )


def users_frame(users: UserBase) -> pd.DataFrame:
    """One row per user: id, sign-up date and ``truth_*`` columns (hidden ground truth)."""
    frame = pd.DataFrame(
        {
            "user_id": users.user_id,
            "signup_date": iso_dates(users.signup),
            "truth_persona": [PERSONA_NAMES[p] for p in users.persona],
            "truth_price_sensitivity": users.price_sensitivity,
            "truth_budget_level": users.budget_level,
            "truth_segment": np.where(users.regular, "regular", "occasional"),
            "truth_visit_rate": users.visit_rate,
            "truth_device": [DEVICES[d] for d in users.device],
            "truth_focus_category": [CATEGORIES[c] for c in users.focus],
            "truth_last_day": iso_dates(users.last_day),
        }
    )
    for c, name in enumerate(CATEGORIES):
        frame[f"truth_taste_{name}"] = users.taste[:, c]
    return frame


def users_on(day: date, *, seed: int, scale: Scale) -> pd.DataFrame:
    """The user base on ``day`` with hidden ``truth_*`` columns, sorted by user id."""
    return users_frame(build_users(day, seed=seed, scale=scale))
