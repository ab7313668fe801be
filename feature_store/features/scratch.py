"""The from-scratch reference: every feature straight from raw events, window by window.

Deliberately simple and independent of the incremental path (no partials, no cumulative
merge): the tests check that both agree, and the benchmark measures what incrementality saves.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from feature_store import lake
from feature_store.features.compute import day_end
from feature_store.features.definitions import (
    COUNTS,
    CTR_PRIOR,
    CTR_STRENGTH,
    CVR_PRIOR,
    CVR_STRENGTH,
    ENGAGED_TYPES,
    EVENT_TYPES,
    LONGEST_DAYS,
    PREFERENCE_WEIGHTS,
    TRENDS,
    WINDOWS,
    decay,
)
from feature_store.features.partials import EVENT_COLUMNS


def load_history(lake_root: Path, day: date, history_start: date) -> pd.DataFrame:
    """The raw events of the longest window, each with its day's category and tags."""
    frames = []
    for age in range(LONGEST_DAYS):
        d = day - timedelta(days=age)
        if d < history_start:
            break
        events = lake.read_partition(lake_root, "events", d, columns=EVENT_COLUMNS).to_pandas()
        catalog = lake.read_partition(lake_root, "catalog", d, columns=["item_id", "category"]).to_pandas()
        tags = lake.read_partition(lake_root, "item_tags", d, columns=["item_id", "tag"]).to_pandas()
        events = events.merge(catalog, on="item_id", how="left")
        events["age"] = age
        events["tags"] = events["item_id"].map(tags.groupby("item_id")["tag"].apply(list))
        frames.append(events)
    history: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return history


def from_scratch(lake_root: Path, day: date, history_start: date) -> dict[str, pd.DataFrame]:
    """Feature tables for ``day`` over raw events (same columns as the incremental path)."""
    events = load_history(lake_root, day, history_start)
    end = day_end(day)
    catalog = lake.read_partition(lake_root, "catalog", day, columns=["item_id", "category"]).to_pandas()
    day_tags = lake.read_partition(lake_root, "item_tags", day, columns=["tag"]).to_pandas()
    per_window = {w.name: events[events["event_time"] >= end - w.length] for w in WINDOWS}
    tagged = {name: _explode_tags(frame) for name, frame in per_window.items()}

    user = _entity(
        per_window, ["user_id"], "spend", distinct={"distinct_items": "item_id", "sessions": "session_id"}
    )
    last = events.groupby(["user_id", "event_type"])["event_time"].max().unstack()
    for t in EVENT_TYPES:
        column = last[t] if t in last else pd.Series(pd.NaT, index=last.index)
        user[f"recency_{t}_s"] = user["user_id"].map((end - column).dt.total_seconds()).astype("float64")
    item = _entity(per_window, ["item_id"], "revenue", distinct={"users": "user_id"})
    for name, short, long in TRENDS:
        s, lg = max(int(short[:-1]), 1), int(long[:-1])
        item[name] = ((item[f"views_{short}"] + s) / s) / ((item[f"views_{long}"] + lg) / lg)
    all_items = pd.DataFrame({"item_id": sorted(set(catalog["item_id"]) | set(item["item_id"]))})
    item = all_items.merge(item, on="item_id", how="left")
    item.insert(1, "in_catalog", item["item_id"].isin(set(catalog["item_id"])))
    category = _entity(
        {k: v.dropna(subset=["category"]) for k, v in per_window.items()}, ["category"], "revenue"
    )
    category = pd.DataFrame({"category": sorted(set(catalog["category"]) | set(category["category"]))}).merge(
        category, on="category", how="left"
    )
    tag = _entity(tagged, ["tag"], "revenue")
    tag = pd.DataFrame({"tag": sorted(set(day_tags["tag"]) | set(tag["tag"]))}).merge(
        tag, on="tag", how="left"
    )
    with_category = {k: v.dropna(subset=["category"]) for k, v in per_window.items()}
    user_category = _entity(with_category, ["user_id", "category"], None, rates=False)
    engaged = {k: v[v["event_type"].isin(ENGAGED_TYPES)] for k, v in tagged.items()}
    user_tag = _entity(engaged, ["user_id", "tag"], None, rates=False, types=ENGAGED_TYPES)
    user_category = _with_preference(user_category, with_category["30d"], "category")
    user_tag = _with_preference(user_tag, engaged["30d"], "tag")
    out = {
        "user": user,
        "item": item,
        "category": category,
        "tag": tag,
        "user_category": user_category,
        "user_tag": user_tag,
    }
    for name, frame in out.items():
        out[name] = _fill_empty_rows(frame)
    return out


def _explode_tags(events: pd.DataFrame) -> pd.DataFrame:
    tagged = events.dropna(subset=["tags"]).explode("tags").rename(columns={"tags": "tag"})
    return tagged.dropna(subset=["tag"])


def _entity(
    per_window: dict[str, pd.DataFrame],
    keys: list[str],
    money: str | None,
    distinct: dict[str, str] | None = None,
    rates: bool = True,
    types: tuple[str, ...] = EVENT_TYPES,
) -> pd.DataFrame:
    out = per_window["30d"][keys].drop_duplicates().sort_values(keys, ignore_index=True)
    for w, frame in per_window.items():
        counts = frame.groupby([*keys, "event_type"]).size().unstack(fill_value=0)
        counts = counts.reindex(columns=list(types), fill_value=0)
        counts.columns = [f"{COUNTS[t]}_{w}" for t in types]
        parts: list[pd.DataFrame | pd.Series] = [counts]
        if money:
            bought = frame[frame["event_type"] == "purchase"].groupby(keys)["price"].sum()
            parts.append(bought.rename(f"{money}_{w}"))
        for name, column in (distinct or {}).items():
            source = frame[frame["event_type"].isin(ENGAGED_TYPES)] if name != "sessions" else frame
            parts.append(source.groupby(keys)[column].nunique().rename(f"{name}_{w}"))
        table = pd.concat(parts, axis=1).reset_index()
        out = out.merge(table, on=keys, how="left")
        if rates:
            clicks, impressions, purchases = (
                out[f"clicks_{w}"],
                out[f"impressions_{w}"],
                out[f"purchases_{w}"],
            )
            out[f"ctr_{w}"] = (clicks.fillna(0) + CTR_PRIOR * CTR_STRENGTH) / (
                impressions.fillna(0) + CTR_STRENGTH
            )
            out[f"cvr_{w}"] = (purchases.fillna(0) + CVR_PRIOR * CVR_STRENGTH) / (
                clicks.fillna(0) + CVR_STRENGTH
            )
    return out


def _with_preference(table: pd.DataFrame, events: pd.DataFrame, key: str) -> pd.DataFrame:
    weight = events["event_type"].map(PREFERENCE_WEIGHTS).fillna(0.0) * events["age"].map(decay)
    pref = weight.groupby([events["user_id"], events[key]]).sum().rename("pref").reset_index()
    total = pref.groupby("user_id")["pref"].transform("sum")
    pref["pref_share"] = np.where(total > 0, pref["pref"] / total.where(total > 0, 1.0), 0.0)
    out = table.merge(pref, on=["user_id", key], how="left")
    out[["pref", "pref_share"]] = out[["pref", "pref_share"]].fillna(0.0)
    return out


def _fill_empty_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Zero counts where a key had no events; rates then take their prior."""
    out = frame.copy()
    for column in out.columns:
        if column.startswith("recency_") or out[column].dtype == object or column == "in_catalog":
            continue
        if column.startswith("ctr_"):
            out[column] = out[column].fillna(CTR_PRIOR)
        elif column.startswith("cvr_"):
            out[column] = out[column].fillna(CVR_PRIOR)
        elif column.startswith("trend_"):
            out[column] = out[column].fillna(1.0)
        elif pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].fillna(0)
    return out
