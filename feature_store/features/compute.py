"""Features of one partition day, from that day's events and the stored daily partials.

Cost: the day's events are read once (to build its partial and the sub-day windows); each
multi-day window rolls on from the previous day's stored state (``rolling.py``): plus the
day's partial, minus the partial of the day that left the window. So the cost does not grow
with the window's length, and a 30-day window never touches raw events of earlier days.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from feature_store.features import partials, rolling
from feature_store.features.aggregate import Aggregates, aggregate
from feature_store.features.definitions import (
    CTR_PRIOR,
    CTR_STRENGTH,
    CVR_PRIOR,
    CVR_STRENGTH,
    ENTITIES,
    EVENT_TYPES,
    LONGEST_DAYS,
    TRENDS,
    WINDOWS,
    Entity,
)

log = logging.getLogger(__name__)


@dataclass
class WindowSums:
    """Merged counters and distinct counts of one window, per entity."""

    tables: dict[str, pd.DataFrame]
    distinct: dict[str, pd.DataFrame]  # "user" -> user_id, distinct_items, sessions; "item" -> item_id, users


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def compute_features(lake_root: Path, day: date, history_start: date) -> dict[str, pd.DataFrame]:
    """All entity feature tables for ``day``; also stores the day's partials and window states.

    Days before ``history_start`` count as empty; every day from it to ``day`` needs its
    partials or its events partition.
    """
    inputs = partials.read_day(lake_root, day)
    today = partials.build(lake_root, day, inputs)
    end = day_end(day)

    sums: dict[str, WindowSums] = {}
    for window in WINDOWS:
        if window.sub_day:
            recent = inputs.events[inputs.events["event_time"] >= end - window.length]
            sums[window.name] = _from_aggregates([aggregate(recent, inputs.catalog, inputs.item_tags)])

    loaded: dict[int, Aggregates] = {0: today}

    def partial(age: int) -> Aggregates:
        if age not in loaded:
            loaded[age] = partials.load(lake_root, day - timedelta(days=age))
        return loaded[age]

    longest: rolling.WindowState | None = None
    for window in sorted((w for w in WINDOWS if not w.sub_day), key=lambda w: w.days):
        is_longest = window.days == LONGEST_DAYS
        state = _window_state(lake_root, window.name, window.days, day, history_start, partial, is_longest)
        sums[window.name] = _sums_of(state)
        if is_longest:
            longest = state
    assert longest is not None and longest.last_times is not None
    preferences = _preferences(longest)
    catalog_items = inputs.catalog["item_id"]
    categories = pd.Series(inputs.catalog["category"].unique())
    tags = pd.Series(inputs.item_tags["tag"].unique())
    out = {}
    for entity in ENTITIES:
        out[entity.name] = _assemble(entity, sums, longest.last_times, preferences.get(entity.name), end)
    out["item"] = _with_catalog(out["item"], catalog_items)
    out["category"] = _with_keys(out["category"], "category", categories)
    out["tag"] = _with_keys(out["tag"], "tag", tags)
    return out


def _window_state(
    lake_root: Path,
    name: str,
    days: int,
    day: date,
    history_start: date,
    partial: Callable[[int], Aggregates],
    longest: bool,
) -> rolling.WindowState:
    """The window rolled on from the previous day's stored state, else rebuilt from partials."""
    if days == 1:
        return rolling.from_days(day, 1, [partial(0)], history_start, longest)
    yesterday = day - timedelta(days=1)
    previous = None
    if yesterday >= history_start:
        previous = rolling.load(lake_root, name, yesterday, days, history_start, longest)
    if previous is not None:
        expired = partial(days) if day - timedelta(days=days) >= history_start else None
        state = rolling.roll(previous, partial(0), expired, history_start, longest)
    else:
        ages = [a for a in range(days) if day - timedelta(days=a) >= history_start]
        log.info(
            "window %s of %s: no state for %s, merging %d daily partials", name, day, yesterday, len(ages)
        )
        state = rolling.from_days(day, days, [partial(a) for a in ages], history_start, longest)
    rolling.save(lake_root, name, state, history_start)
    return state


def _from_aggregates(chunk: list[Aggregates]) -> WindowSums:
    """A sub-day window's sums straight from its aggregates."""
    tables: dict[str, pd.DataFrame] = {}
    for entity in ENTITIES:
        tables[entity.name] = _grouped([a.tables[entity.name] for a in chunk], list(entity.keys), "sum")
    user_items = _grouped([a.user_items for a in chunk], ["user_id", "item_id"], None)
    user_sessions = _grouped([a.user_sessions for a in chunk], ["user_id", "session_id"], None)
    return WindowSums(tables, _distinct(user_items, user_sessions))


def _sums_of(state: rolling.WindowState) -> WindowSums:
    return WindowSums(state.tables, _distinct(state.pairs["user_items"], state.pairs["user_sessions"]))


def _distinct(user_items: pd.DataFrame, user_sessions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Distinct items and sessions per user, distinct users per item, from the pair sets."""
    distinct_items = user_items.groupby("user_id").size().rename("distinct_items")
    user_session_counts = user_sessions.groupby("user_id").size().rename("sessions")
    users = pd.concat([distinct_items, user_session_counts], axis=1).fillna(0).astype("int64")
    users = users.rename_axis("user_id").reset_index()
    items = user_items.groupby("item_id").size().rename("users").rename_axis("item_id").reset_index()
    return {"user": users, "item": items}


def _grouped(frames: list[pd.DataFrame], keys: list[str], how: str | None) -> pd.DataFrame:
    """Concatenate ``frames`` and aggregate every other column by ``keys`` (``None``: distinct keys).

    Unsorted: sorting millions of string keys costs more than the aggregation itself, and
    the assembled tables are sorted once at the end.
    """
    kept = [f for f in frames if not f.empty] or frames[:1]
    combined = pd.concat(kept, ignore_index=True)
    if how is None:
        return combined.drop_duplicates(ignore_index=True)
    grouped: pd.DataFrame = combined.groupby(keys, sort=False, observed=True).agg(how).reset_index()
    return grouped


def _preferences(state: rolling.WindowState) -> dict[str, pd.DataFrame]:
    """Decayed engagement per user x category and user x tag, with each user's shares."""
    out: dict[str, pd.DataFrame] = {}
    for name, frame in state.preferences.items():
        key = rolling.PREFERENCES[name]
        pref = frame.drop(columns="days").sort_values(["user_id", key], ignore_index=True)
        total = pref.groupby("user_id")["pref"].transform("sum")
        pref["pref_share"] = np.where(total > 0, pref["pref"] / total.where(total > 0, 1.0), 0.0)
        out[name] = pref
    return out


def _assemble(
    entity: Entity,
    sums: dict[str, WindowSums],
    last: pd.DataFrame,
    preferences: pd.DataFrame | None,
    end: datetime,
) -> pd.DataFrame:
    keys = list(entity.keys)
    base = sums["30d"].tables[entity.name][keys]
    out = base.copy()
    for window in WINDOWS:
        counters = sums[window.name].tables[entity.name]
        if entity.distinct:
            counters = counters.merge(sums[window.name].distinct[entity.name], on=keys, how="outer")
        renamed = counters.rename(
            columns={c: f"{c}_{window.name}" for c in counters.columns if c not in keys}
        )
        out = out.merge(renamed, on=keys, how="left")
    value_columns = [c for c in out.columns if c not in keys]
    out[value_columns] = out[value_columns].fillna(0)
    for column in value_columns:
        if not column.startswith(("spend_", "revenue_")):
            out[column] = out[column].astype("int64")
    if entity.rates:
        for window in WINDOWS:
            w = window.name
            out[f"ctr_{w}"] = (out[f"clicks_{w}"] + CTR_PRIOR * CTR_STRENGTH) / (
                out[f"impressions_{w}"] + CTR_STRENGTH
            )
            out[f"cvr_{w}"] = (out[f"purchases_{w}"] + CVR_PRIOR * CVR_STRENGTH) / (
                out[f"clicks_{w}"] + CVR_STRENGTH
            )
    if entity.trends:
        for name, short, long in TRENDS:
            short_days = max(int(short[:-1]), 1)
            long_days = int(long[:-1])
            short_rate = (out[f"views_{short}"] + short_days) / short_days
            long_rate = (out[f"views_{long}"] + long_days) / long_days
            out[name] = short_rate / long_rate
    if entity.recency:
        last_times = out[keys].merge(last, on="user_id", how="left")
        for event_type in EVENT_TYPES:
            seconds = (end - last_times[f"last_{event_type}_time"]).dt.total_seconds()
            out[f"recency_{event_type}_s"] = seconds.astype("float64")
    if entity.preference and preferences is not None:
        out = out.merge(preferences, on=keys, how="left")
        out[["pref", "pref_share"]] = out[["pref", "pref_share"]].fillna(0.0)
    return out.sort_values(keys, ignore_index=True)


def _with_catalog(items: pd.DataFrame, catalog_items: pd.Series) -> pd.DataFrame:
    """Every catalog item gets a row (zeros when it had no events); items gone from the
    catalog keep theirs while they have events in the window."""
    out = _with_keys(items, "item_id", catalog_items)
    out.insert(1, "in_catalog", out["item_id"].isin(set(catalog_items)))
    return out


def _with_keys(frame: pd.DataFrame, key: str, keys: pd.Series) -> pd.DataFrame:
    missing = pd.DataFrame({key: sorted(set(keys) - set(frame[key]))})
    if missing.empty:
        return frame
    out = pd.concat([frame, missing], ignore_index=True)
    numeric = [c for c in out.columns if c != key and not c.startswith("recency_")]
    out[numeric] = out[numeric].fillna(0)
    for name, dtype in frame.dtypes.items():
        if name in numeric:
            out[name] = out[name].astype(dtype)
    rates = [c for c in out.columns if c.startswith(("ctr_", "cvr_", "trend_"))]
    out.loc[out.index >= len(frame), rates] = _prior_rates(rates)
    return out.sort_values(key, ignore_index=True)


def _prior_rates(columns: list[str]) -> list[float]:
    """What a rate is for an entity with no events: the smoothed value of zero counts."""
    values = []
    for column in columns:
        if column.startswith("ctr_"):
            values.append(CTR_PRIOR)
        elif column.startswith("cvr_"):
            values.append(CVR_PRIOR)
        else:
            values.append(1.0)  # trend of an item with no views: equal rates
    return values
