"""User tag preferences: what each user's clicks, carts and purchases say about the tags they like.

A user's weight for a tag is the sum, over their events on items carrying that tag, of
``event weight x 0.5 ** (age in days / half-life) x tag confidence``. Events after ``as_of``
are ignored (a step never looks into the future), and so are event types without a weight
(impressions, views by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from tagging.errors import TaggingError

DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = {"click": 1.0, "cart": 3.0, "purchase": 5.0}

_EVENT_COLUMNS = ("user_id", "item_id", "event_type", "event_time")
_TAG_COLUMNS = ("item_id", "tag", "confidence")


class PreferenceInputError(TaggingError):
    """Events or item tags lack a column the preference computation needs."""


def user_tag_preferences(
    events: pd.DataFrame,
    item_tags: pd.DataFrame,
    as_of: datetime,
    half_life_days: float,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Time-decayed tag weights per user, sorted by user_id then tag.

    Args:
        events: user_id, item_id, event_type, event_time (tz-aware or UTC-naive).
        item_tags: item_id, tag, confidence (the ``item_tags`` dataset).
        as_of: the moment the weights are for, usually the end of the data interval.
        half_life_days: after this many days an event counts half; must be > 0.
        weights: weight per event type; default click 1, cart 3, purchase 5.

    Returns:
        DataFrame with user_id, tag, weight (float64); users without weighted events are absent.

    Raises:
        PreferenceInputError: a required column is missing.
        ValueError: ``half_life_days`` is not positive.
    """
    if not half_life_days > 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    _require(events, _EVENT_COLUMNS, "events")
    _require(item_tags, _TAG_COLUMNS, "item_tags")
    weights = dict(DEFAULT_EVENT_WEIGHTS if weights is None else weights)
    empty = pd.DataFrame({"user_id": pd.Series(dtype="str"), "tag": pd.Series(dtype="str"), "weight": []})
    if events.empty or item_tags.empty:
        return empty
    ref = pd.Timestamp(as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)).tz_convert("UTC")
    times = pd.to_datetime(events["event_time"], utc=True)
    base = events["event_type"].map(weights)
    keep = base.notna().to_numpy() & (times <= ref).to_numpy()
    if not keep.any():
        return empty
    age_days = (ref - times[keep]).dt.total_seconds().to_numpy() / 86_400.0
    scored = pd.DataFrame(
        {
            "user_id": events["user_id"].astype(str).to_numpy()[keep],
            "item_id": events["item_id"].astype(str).to_numpy()[keep],
            "w": base.to_numpy(dtype=np.float64)[keep] * np.power(0.5, age_days / half_life_days),
        }
    )
    tags = item_tags.loc[:, list(_TAG_COLUMNS)].assign(item_id=lambda f: f["item_id"].astype(str))
    joined = scored.merge(tags, on="item_id", how="inner")
    joined["weight"] = joined["w"] * joined["confidence"].astype(np.float64)
    out = joined.groupby(["user_id", "tag"], sort=True)["weight"].sum().reset_index()
    return out


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PreferenceInputError(
            f"{name} lacks column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}"
        )
