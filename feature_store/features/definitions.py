"""Every feature's name, window and formula, declared once.

docs/features.md is generated from this module (``python -m feature_store.features.docs``),
and both the incremental computation and the from-scratch reference read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

EVENT_TYPES = ("impression", "click", "view", "cart", "purchase")
ENGAGED_TYPES = ("click", "view", "cart", "purchase")
# Plural column names of the per-type counters, in EVENT_TYPES order.
COUNTS = {
    "impression": "impressions",
    "click": "clicks",
    "view": "views",
    "cart": "carts",
    "purchase": "purchases",
}


@dataclass(frozen=True)
class Window:
    """A window ending at the end of the partition day."""

    name: str
    length: timedelta

    @property
    def days(self) -> int:
        """Whole days the window spans (0 for a sub-day window)."""
        return self.length.days

    @property
    def sub_day(self) -> bool:
        return self.length < timedelta(days=1)


WINDOWS = (
    Window("1h", timedelta(hours=1)),
    Window("6h", timedelta(hours=6)),
    Window("1d", timedelta(days=1)),
    Window("3d", timedelta(days=3)),
    Window("7d", timedelta(days=7)),
    Window("30d", timedelta(days=30)),
)
LONGEST_DAYS = max(w.days for w in WINDOWS)

# Smoothing: a Beta prior with the given mean and strength, so a new entity starts at the
# prior and counts never divide by zero.
CTR_PRIOR, CTR_STRENGTH = 0.05, 20.0  # ctr = (clicks + 1) / (impressions + 20)
CVR_PRIOR, CVR_STRENGTH = 0.02, 10.0  # cvr = (purchases + 0.2) / (clicks + 10)
# Preferences: each day's engagement, weighted by action and halved every HALF_LIFE_DAYS.
PREFERENCE_WEIGHTS = {"click": 1.0, "view": 0.5, "cart": 3.0, "purchase": 5.0}
HALF_LIFE_DAYS = 7.0
# Trends: short window rate over long window rate, per day, each smoothed by +1 per day.
TRENDS = (("trend_1d_7d", "1d", "7d"), ("trend_3d_30d", "3d", "30d"))


@dataclass(frozen=True)
class Entity:
    """A feature table: its key, its additive counters, what else it carries."""

    name: str
    keys: tuple[str, ...]
    counters: tuple[str, ...]
    distinct: tuple[str, ...] = ()  # exact distinct counts, merged as unions of daily sets
    rates: bool = True  # ctr and cvr per window
    preference: bool = False  # decayed preference and its share within the user
    trends: bool = False
    recency: bool = False
    description: str = ""


ALL_COUNTS = tuple(COUNTS[t] for t in EVENT_TYPES)
ENGAGED_COUNTS = tuple(COUNTS[t] for t in ENGAGED_TYPES)

ENTITIES = (
    Entity(
        "user",
        ("user_id",),
        (*ALL_COUNTS, "spend"),
        distinct=("distinct_items", "sessions"),
        recency=True,
        description="user with any event in the last 30 days",
    ),
    Entity(
        "item",
        ("item_id",),
        (*ALL_COUNTS, "revenue"),
        distinct=("users",),
        trends=True,
        description="item in the day's catalog or with events in the last 30 days (`in_catalog` tells which)",
    ),
    Entity("category", ("category",), (*ALL_COUNTS, "revenue"), description="category of the day's catalog"),
    Entity(
        "tag",
        ("tag",),
        (*ALL_COUNTS, "revenue"),
        description="tag of the day's item tags; an event counts for every tag of its item",
    ),
    Entity(
        "user_category",
        ("user_id", "category"),
        ALL_COUNTS,
        rates=False,
        preference=True,
        description="user and category the user had events in (the category of each event's item)",
    ),
    Entity(
        "user_tag",
        ("user_id", "tag"),
        ENGAGED_COUNTS,
        rates=False,
        preference=True,
        description="user and tag, from engaged events only (impressions x tags would be most of the cost)",
    ),
)
ENTITY = {e.name: e for e in ENTITIES}

FORMULAS = {
    "impressions/clicks/views/carts/purchases": "number of events of that type in the window",
    "spend": "sum of `price` over the user's purchases",
    "revenue": "sum of `price` over the purchases",
    "distinct_items": "distinct items the user clicked, viewed, carted or bought",
    "sessions": "distinct session ids of the user",
    "users": "distinct users who clicked, viewed, carted or bought the item (popularity)",
    "ctr": f"(clicks + {CTR_PRIOR * CTR_STRENGTH:g}) / (impressions + {CTR_STRENGTH:g})",
    "cvr": f"(purchases + {CVR_PRIOR * CVR_STRENGTH:g}) / (clicks + {CVR_STRENGTH:g})",
    "trend_1d_7d": "(views_1d + 1) / ((views_7d + 7) / 7): the last day against the week's daily mean",
    "trend_3d_30d": "((views_3d + 3) / 3) / ((views_30d + 30) / 30)",
    "recency_<type>_s": "seconds from the last event of that type to the end of the day, "
    "within the last 30 days (null if none)",
    "pref": f"sum over the last 30 days of 0.5^(age_days / {HALF_LIFE_DAYS:g}) x "
    + " + ".join(f"{w:g}·{COUNTS[t]}" for t, w in PREFERENCE_WEIGHTS.items()),
    "pref_share": "pref / the user's total pref over all categories (or tags)",
}


def window(name: str) -> Window:
    """The window called ``name``."""
    return next(w for w in WINDOWS if w.name == name)


def decay(age_days: int) -> float:
    """The preference weight of a day ``age_days`` before the partition day."""
    return float(0.5 ** (age_days / HALF_LIFE_DAYS))
