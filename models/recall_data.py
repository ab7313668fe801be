"""The recall model's inputs from the lake, point-in-time, and their encoding for the two towers.

A training pair is a (user, item) the user engaged with (click, view, cart or purchase) on
a label day L. The user side is what serving knows at the end of L-1: the last engaged
items before L (history), counters from ``features/user/dt=L-1``, tag and category
preference shares from ``features/user_tag`` and ``features/user_category`` of L-1. The
item side is L's catalog and item tags (title, category, brand, price, tags), which is
what serving has for the items it retrieves, new ones included.

No TensorFlow here: pairs are built and encoded by code that never loads a model.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feature_store import lake
from models.ranking_data import label_days
from recsys.errors import RecallDataError

ENGAGED = ("click", "view", "cart", "purchase")
USER_COUNTERS = (
    "clicks_7d", "views_7d", "carts_30d", "purchases_30d", "sessions_30d", "distinct_items_30d",
    "spend_30d", "recency_click_s",
)  # fmt: skip
NO_RECENCY_S = 31 * 86400.0  # "no click in the 30-day window" reads as just beyond it
USER_COLUMNS = (
    "user_id", "history", *USER_COUNTERS, "user_tags", "user_tag_weights", "user_categories",
    "user_category_weights",
)  # fmt: skip
ITEM_COLUMNS = ("item_id", "category", "brand", "price", "tags", "title")
MAX_HISTORY = 20
HISTORY_DAYS = 14
MAX_TAGS = 12
MAX_TITLE_TOKENS = 16
TITLE_BUCKETS = 4096
PRICE_BUCKETS = 16
_TOKEN = re.compile(r"[a-z0-9]+")


def engaged_events(lake_root: Path, first: date, last: date) -> pd.DataFrame:
    """Engaged events of the days ``first..last`` that the lake has, with a ``day`` column.

    Days before the lake's first events partition are before the data began and are skipped;
    a missing day after it raises, so a gap never silently shortens a history.

    Raises:
        RecallDataError: the lake has no events partition at all.
        PartitionMissingError: a day between the first partition and ``last`` is missing.
    """
    days = lake.list_partitions(lake_root, "events")
    if not days:
        raise RecallDataError(f"the lake at {lake_root} has no events partition")
    frames = []
    day = max(first, days[0])
    while day <= last:
        events = lake.read_partition(
            lake_root, "events", day, columns=["event_time", "user_id", "item_id", "event_type"]
        ).to_pandas()
        events = events[events["event_type"].isin(ENGAGED)]
        frames.append(events.assign(day=day))
        day += timedelta(days=1)
    if not frames:
        return pd.DataFrame(columns=["event_time", "user_id", "item_id", "event_type", "day"])
    engaged: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return engaged


def histories(engaged: pd.DataFrame, max_items: int = MAX_HISTORY) -> pd.Series:
    """Each user's last ``max_items`` distinct engaged items, oldest first (user_id -> list)."""
    if engaged.empty:
        return pd.Series(dtype=object, name="history")
    last = engaged.sort_values("event_time", kind="stable").drop_duplicates(
        ["user_id", "item_id"], keep="last"
    )
    last = last.groupby("user_id", sort=False).tail(max_items)
    return last.groupby("user_id")["item_id"].agg(list).rename("history")


def user_frame(
    lake_root: Path,
    as_of: date,
    user_ids: Sequence[str],
    *,
    engaged: pd.DataFrame | None = None,
    max_history: int = MAX_HISTORY,
    history_days: int = HISTORY_DAYS,
) -> pd.DataFrame:
    """One row per user of ``user_ids`` (in order): history and features as of the end of ``as_of``.

    ``engaged`` may pass events already read (any days; those after ``as_of`` or before the
    history window are ignored). Users the lake does not know get an empty history and zero
    counters, so they are served from the popular part of the space.

    Raises:
        PartitionMissingError: a features or events partition of the window is missing.
    """
    first = as_of - timedelta(days=history_days - 1)
    if engaged is None:
        engaged = engaged_events(lake_root, first, as_of)
    window = engaged[(engaged["day"] >= first) & (engaged["day"] <= as_of)]
    out = pd.DataFrame({"user_id": pd.Series(list(user_ids), dtype=object)})
    out = out.merge(histories(window, max_history), left_on="user_id", right_index=True, how="left")

    features = lake.read_partition(
        lake_root, "features/user", as_of, columns=["user_id", *USER_COUNTERS]
    ).to_pandas()
    out = out.merge(features, on="user_id", how="left")
    for column in USER_COUNTERS:
        fill = NO_RECENCY_S if column.endswith("_s") else 0.0
        out[column] = out[column].astype("float64").fillna(fill)
    for dataset, key, names in (
        ("features/user_tag", "tag", ("user_tags", "user_tag_weights")),
        ("features/user_category", "category", ("user_categories", "user_category_weights")),
    ):
        prefs = lake.read_partition(
            lake_root, dataset, as_of, columns=["user_id", key, "pref_share"]
        ).to_pandas()
        prefs = prefs[prefs["pref_share"] > 0]
        grouped = prefs.groupby("user_id")
        lists = pd.DataFrame({names[0]: grouped[key].agg(list), names[1]: grouped["pref_share"].agg(list)})
        out = out.merge(lists, left_on="user_id", right_index=True, how="left")
    for column in ("history", "user_tags", "user_tag_weights", "user_categories", "user_category_weights"):
        out[column] = _lists(out[column])
    return out[list(USER_COLUMNS)]


def item_frame(lake_root: Path, day: date, item_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Content of ``day``'s catalog items (all, or ``item_ids`` in that order) with their tags.

    Raises:
        RecallDataError: an item of ``item_ids`` is not in that day's catalog.
        PartitionMissingError: the catalog or item_tags partition of ``day`` is missing.
    """
    catalog = lake.read_partition(
        lake_root, "catalog", day, columns=["item_id", "title", "brand", "category", "price"]
    ).to_pandas()
    catalog = catalog.drop_duplicates("item_id")
    tags = lake.read_partition(lake_root, "item_tags", day, columns=["item_id", "tag"]).to_pandas()
    bags = tags.groupby("item_id")["tag"].agg(lambda s: sorted(set(s))).rename("tags")
    catalog = catalog.merge(bags, left_on="item_id", right_index=True, how="left")
    catalog["tags"] = _lists(catalog["tags"])
    if item_ids is not None:
        wanted = pd.Index(list(item_ids))
        rows = pd.Index(catalog["item_id"]).get_indexer(wanted)
        if (rows < 0).any():
            missing = wanted[rows < 0][:5].tolist()
            raise RecallDataError(
                f"{int((rows < 0).sum())} item(s) are not in the catalog of {day.isoformat()}, e.g. {missing}"
            )
        catalog = catalog.iloc[rows]
    items: pd.DataFrame = catalog[list(ITEM_COLUMNS)].reset_index(drop=True)
    return items


def training_pairs(
    lake_root: Path,
    last_day: date,
    days: int,
    *,
    max_history: int = MAX_HISTORY,
    history_days: int = HISTORY_DAYS,
) -> pd.DataFrame:
    """Distinct engaged (user, item) pairs of the ``days`` label days ending at ``last_day``.

    Each row holds the user's side as of the day before its ``label_day`` and the item's
    side from the label day's catalog (see the module docstring). Engaged items missing
    from that day's catalog (delisted during the day) are dropped.

    Raises:
        RecallDataError: ``days`` < 1, or no label day has an engaged event.
        PartitionMissingError: a partition a label day needs is missing.
    """
    if days < 1:
        raise RecallDataError(f"training needs at least one label day, got days={days}")
    wanted = label_days(last_day, days)
    engaged = engaged_events(lake_root, wanted[0] - timedelta(days=history_days), last_day)
    frames = []
    for day in wanted:
        pairs = engaged.loc[engaged["day"] == day, ["user_id", "item_id"]].drop_duplicates()
        if pairs.empty:
            continue
        items = item_frame(lake_root, day)
        pairs = pairs[pairs["item_id"].isin(items["item_id"])]
        users = user_frame(
            lake_root, day - timedelta(days=1), pairs["user_id"].unique().tolist(),
            engaged=engaged, max_history=max_history, history_days=history_days,
        )  # fmt: skip
        frame = pairs.merge(users, on="user_id", how="left").merge(items, on="item_id", how="left")
        frames.append(frame.assign(label_day=day))
    if not frames:
        raise RecallDataError(
            f"no engaged event ({', '.join(ENGAGED)}) on any label day "
            f"{wanted[0]}..{wanted[-1]} in {lake_root}"
        )
    return pd.concat(frames, ignore_index=True)


def relevant_rows(catalog_ids: Sequence[str], relevant: Sequence[set[str]]) -> list[set[int]]:
    """Each set of item ids as catalog row numbers (what a retriever over the catalog returns).

    An item outside the catalog gets a negative number of its own: it still counts as
    relevant, and no retrieved row can match it.
    """
    rows = {item: r for r, item in enumerate(catalog_ids)}
    outside: dict[str, int] = {}
    return [{rows.get(i, outside.setdefault(i, -1 - len(outside))) for i in wanted} for wanted in relevant]


def _lists(column: pd.Series) -> pd.Series:
    return column.apply(lambda v: list(v) if isinstance(v, list | np.ndarray) else [])


def title_tokens(title: object) -> list[str]:
    """Distinct lower-case word tokens of a title, in order of appearance."""
    if not isinstance(title, str):
        return []
    return list(dict.fromkeys(_TOKEN.findall(title.lower())))


def token_bucket(token: str, buckets: int = TITLE_BUCKETS) -> int:
    """A stable hash of ``token`` into ``1..buckets-1`` (0 pads); crc32, not Python's salted hash."""
    return 1 + zlib.crc32(token.encode("utf-8")) % (buckets - 1)


@dataclass(frozen=True)
class RecallEncoder:
    """Vocabularies and scales fitted on the training pairs; encodes user and item frames.

    Id 0 means unknown or padding everywhere. Only what the training pairs' items carry is
    in a vocabulary (a category, tag or title word no positive ever had would keep its
    random start), so an item first seen later is encoded from content the model learned.
    """

    items: list[str]
    categories: list[str]
    brands: list[str]
    tags: list[str]
    price_edges: list[float]
    title_buckets: int
    title_seen: list[int]
    counter_mean: list[float]
    counter_std: list[float]
    max_history: int = MAX_HISTORY

    @classmethod
    def fit(
        cls, pairs: pd.DataFrame, *, min_item_pairs: int = 1, max_history: int = MAX_HISTORY
    ) -> RecallEncoder:
        """Fit on pairs from :func:`training_pairs`; items with fewer pairs keep id 0 (content only).

        Raises:
            RecallDataError: no pairs, missing columns or ``min_item_pairs`` < 1.
        """
        _require(pairs, (*USER_COLUMNS, *ITEM_COLUMNS), "training pairs")
        if pairs.empty:
            raise RecallDataError("cannot fit the recall encoder on zero training pairs")
        if min_item_pairs < 1:
            raise RecallDataError(f"min_item_pairs must be >= 1, got {min_item_pairs}")
        counts = pairs["item_id"].value_counts()
        items = sorted(counts[counts >= min_item_pairs].index.astype(str))
        items_once = pairs.drop_duplicates("item_id")
        prices = np.log1p(items_once["price"].dropna().to_numpy(dtype=np.float64))
        quantiles = np.quantile(prices, np.linspace(0, 1, PRICE_BUCKETS + 1)[1:-1]) if len(prices) else []
        seen = {token_bucket(t) for title in items_once["title"] for t in title_tokens(title)}
        # One row per user and day: a user with many pairs would otherwise weigh more.
        user_days = [c for c in ("user_id", "label_day") if c in pairs.columns]
        counters = _scaled_counters(pairs.drop_duplicates(user_days))
        return cls(
            items=items,
            categories=sorted(items_once["category"].dropna().astype(str).unique()),
            brands=sorted(items_once["brand"].dropna().astype(str).unique()),
            tags=sorted({t for bag in items_once["tags"] for t in bag}),
            price_edges=sorted(set(np.round(quantiles, 6).tolist())),
            title_buckets=TITLE_BUCKETS,
            title_seen=sorted(seen),
            counter_mean=counters.mean(axis=0).round(6).tolist(),
            counter_std=np.maximum(counters.std(axis=0), 1e-6).round(6).tolist(),
            max_history=max_history,
        )

    def sizes(self) -> dict[str, int]:
        """Vocabulary sizes (with id 0) and input widths the towers are built for."""
        return {
            "items": len(self.items) + 1,
            "categories": len(self.categories) + 1,
            "brands": len(self.brands) + 1,
            "price_buckets": len(self.price_edges) + 2,
            "tags": len(self.tags) + 1,
            "title_buckets": self.title_buckets,
            "counters": len(USER_COUNTERS),
            "max_history": self.max_history,
            "max_tags": MAX_TAGS,
            "max_title_tokens": MAX_TITLE_TOKENS,
        }

    def encode_users(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """User-tower inputs for rows built by :func:`user_frame` (or training pairs)."""
        _require(frame, USER_COLUMNS, "user frame")
        counters = (_scaled_counters(frame) - np.asarray(self.counter_mean)) / np.asarray(self.counter_std)
        return {
            "history": _bag(frame["history"], pd.Index(self.items), self.max_history, keep="last"),
            "user_counters": counters.astype(np.float32),
            "user_tag_profile": _profile(frame["user_tags"], frame["user_tag_weights"], pd.Index(self.tags)),
            "user_category_profile": _profile(
                frame["user_categories"], frame["user_category_weights"], pd.Index(self.categories)
            ),
        }

    def encode_items(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Item-tower inputs for rows built by :func:`item_frame` (or training pairs)."""
        _require(frame, ITEM_COLUMNS, "item frame")
        prices = np.log1p(frame["price"].to_numpy(dtype=np.float64))
        bucket = np.searchsorted(np.asarray(self.price_edges), prices) + 1
        seen = np.zeros(self.title_buckets, dtype=bool)
        seen[np.asarray(self.title_seen, dtype=np.int64)] = True
        tokens = frame["title"].map(
            lambda t: [b for b in (token_bucket(w, self.title_buckets) for w in title_tokens(t)) if seen[b]]
        )
        title = np.zeros((len(frame), MAX_TITLE_TOKENS), dtype=np.int32)
        for row, ids in enumerate(tokens):
            ids = list(dict.fromkeys(ids))[:MAX_TITLE_TOKENS]  # hash collisions would count a bucket twice
            title[row, : len(ids)] = ids
        return {
            "item_id": _codes(frame["item_id"], pd.Index(self.items)),
            "category": _codes(frame["category"], pd.Index(self.categories)),
            "brand": _codes(frame["brand"], pd.Index(self.brands)),
            "price_bucket": np.where(np.isnan(prices), 0, bucket).astype(np.int32),
            "item_tags": _bag(frame["tags"], pd.Index(self.tags), MAX_TAGS, keep="first"),
            "title_tokens": title,
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RecallEncoder:
        """Parse :meth:`to_json` output.

        Raises:
            RecallDataError: the text is not a recall encoder's JSON.
        """
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise RecallDataError(f"recall encoder JSON is malformed: {exc}") from exc


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RecallDataError(f"{what} lacks column(s) {missing}; got {sorted(map(str, frame.columns))}")


def _scaled_counters(frame: pd.DataFrame) -> np.ndarray:
    """log1p of the counters: counts, money and seconds span decades."""
    values = frame[list(USER_COUNTERS)].to_numpy(dtype=np.float64)
    scaled: np.ndarray = np.log1p(np.maximum(np.nan_to_num(values, nan=0.0), 0.0))
    return scaled


def _codes(values: pd.Series, vocabulary: pd.Index) -> np.ndarray:
    return (vocabulary.get_indexer(pd.Index(values.astype(str))) + 1).astype(np.int32)  # unknown -1 -> 0


def _bag(lists: pd.Series, vocabulary: pd.Index, width: int, *, keep: str) -> np.ndarray:
    """Known ids of each row's list, padded with 0 to ``width``; the first or last ``width`` kept."""
    out = np.zeros((len(lists), width), dtype=np.int32)
    flat = lists.reset_index(drop=True).explode()
    codes = vocabulary.get_indexer(pd.Index(flat.astype(str))) + 1
    known = (codes > 0) & flat.notna().to_numpy()
    rows = flat.index.to_numpy()[known]
    codes = codes[known]
    if rows.size == 0:
        return out
    position = pd.Series(rows).groupby(rows).cumcount().to_numpy()
    if keep == "last":
        surplus = np.maximum(np.bincount(rows, minlength=len(lists)) - width, 0)
        position = position - surplus[rows]
    inside = (position >= 0) & (position < width)
    out[rows[inside], position[inside]] = codes[inside]
    return out


def _profile(keys: pd.Series, weights: pd.Series, vocabulary: pd.Index) -> np.ndarray:
    """Dense ``(n, len(vocabulary) + 1)`` preference shares; index 0 (unknown) stays 0."""
    out = np.zeros((len(keys), len(vocabulary) + 1), dtype=np.float32)
    flat_keys = keys.reset_index(drop=True).explode()
    flat_weights = weights.reset_index(drop=True).explode()
    present = flat_keys.notna().to_numpy()
    if not present.any():
        return out
    codes = vocabulary.get_indexer(pd.Index(flat_keys[present].astype(str))) + 1
    rows = flat_keys.index.to_numpy()[present]
    values = flat_weights[present].to_numpy(dtype=np.float64)
    np.add.at(out, (rows[codes > 0], codes[codes > 0]), values[codes > 0])
    return out
