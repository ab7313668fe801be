"""Additive counters of one slice of events (a day, or its last hours), for every entity.

Everything derives from one table of counts per (user, item): users, items, categories and
tags are sums over it, so each event is touched once and the tag join happens on items,
not on events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from feature_store.features.definitions import ALL_COUNTS, COUNTS, ENGAGED_COUNTS, EVENT_TYPES


@dataclass
class Aggregates:
    """Counters per entity for one slice, plus the sets behind the distinct counts."""

    tables: dict[str, pd.DataFrame]  # entity name -> keys + additive counters
    user_items: pd.DataFrame  # distinct engaged (user_id, item_id)
    user_sessions: pd.DataFrame  # distinct (user_id, session_id)
    last_times: pd.DataFrame  # user_id + last_<type>_time


def aggregate(events: pd.DataFrame, catalog: pd.DataFrame, item_tags: pd.DataFrame) -> Aggregates:
    """Counters of ``events`` for every entity.

    Args:
        events: the slice's events (user_id, item_id, session_id, event_type, price, event_time).
        catalog: item_id -> category of the events' day.
        item_tags: item_id, tag pairs of the events' day.
    """
    pairs = _user_item_counts(events)
    categories = catalog[["item_id", "category"]].drop_duplicates("item_id")
    tags = item_tags[["item_id", "tag"]].drop_duplicates()
    counters = [*ALL_COUNTS, "paid"]

    user = _sum(pairs, ["user_id"], counters).rename(columns={"paid": "spend"})
    item = _sum(pairs, ["item_id"], counters).rename(columns={"paid": "revenue"})
    with_category = pairs.merge(categories, on="item_id", how="inner")
    user_category = _sum(with_category, ["user_id", "category"], list(ALL_COUNTS))
    category = _sum(item.merge(categories, on="item_id", how="inner"), ["category"], [*ALL_COUNTS, "revenue"])
    tag = _sum(item.merge(tags, on="item_id", how="inner"), ["tag"], [*ALL_COUNTS, "revenue"])
    engaged = pairs[pairs[list(ENGAGED_COUNTS)].sum(axis=1) > 0]
    user_tag = _sum(engaged.merge(tags, on="item_id", how="inner"), ["user_id", "tag"], list(ENGAGED_COUNTS))

    sessions = events[["user_id", "session_id"]].drop_duplicates().reset_index(drop=True)
    return Aggregates(
        tables={
            "user": user,
            "item": item,
            "category": category,
            "tag": tag,
            "user_category": user_category,
            "user_tag": user_tag,
        },
        user_items=engaged[["user_id", "item_id"]].reset_index(drop=True),
        user_sessions=sessions,
        last_times=_last_times(events),
    )


def _user_item_counts(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item): a count per event type and the price paid in purchases."""
    users, user_ids = pd.factorize(events["user_id"], sort=False)
    items, item_ids = pd.factorize(events["item_id"], sort=False)
    types = pd.Categorical(events["event_type"], categories=EVENT_TYPES).codes.astype(np.int64)
    pair = users.astype(np.int64) * max(len(item_ids), 1) + items
    codes, first = np.unique(pair, return_inverse=True)
    counts = np.zeros((len(codes), len(EVENT_TYPES)), dtype=np.int64)
    np.add.at(counts, (first, types), 1)
    paid = np.bincount(
        first, weights=np.where(types == EVENT_TYPES.index("purchase"), events["price"].to_numpy(), 0.0),
        minlength=len(codes),
    )  # fmt: skip
    table = pd.DataFrame(counts, columns=[COUNTS[t] for t in EVENT_TYPES])
    table.insert(0, "item_id", np.asarray(item_ids, dtype=object)[codes % max(len(item_ids), 1)])
    table.insert(0, "user_id", np.asarray(user_ids, dtype=object)[codes // max(len(item_ids), 1)])
    table["paid"] = paid
    return table.astype({"user_id": "str", "item_id": "str"})


def _sum(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(
            {**{k: pd.Series(dtype="str") for k in keys}, **{c: pd.Series(dtype=_dtype(c)) for c in columns}}
        )
    return frame.groupby(keys, sort=True, observed=True)[columns].sum().reset_index()


def _dtype(column: str) -> str:
    return "float64" if column in {"paid", "spend", "revenue"} else "int64"


def _last_times(events: pd.DataFrame) -> pd.DataFrame:
    """The time of each user's last event of each type."""
    columns = [f"last_{t}_time" for t in EVENT_TYPES]
    if events.empty:
        empty = {c: pd.Series(dtype="datetime64[us, UTC]") for c in columns}
        return pd.DataFrame({"user_id": pd.Series(dtype="str"), **empty})
    last = events.groupby(["user_id", "event_type"], observed=True)["event_time"].max().unstack("event_type")
    last = last.reindex(columns=list(EVENT_TYPES))
    last.columns = columns
    return last.reset_index()
