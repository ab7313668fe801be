"""Recall channels: where a user's candidates come from, before any ranker looks at them.

    faiss        the two-tower model's user vector against the FAISS index of the day's items
    covisit      items engaged by the same user on the same day as the user's recent items
    tag_popular  the most popular items of the user's preferred tags
    trending     items whose views rise fastest (one list for everyone)

Each channel returns a long frame ``(user_id, item_id, channel, channel_rank)`` (rank 1 =
the channel's best). :func:`merge_channels` interleaves them by quota, so every channel gets
its share of the recall size and a short channel's room goes to the others. Items are
indexed by the rows of one day's *active catalog*; nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CHANNEL_QUOTAS = {"faiss": 0.5, "covisit": 0.25, "tag_popular": 0.15, "trending": 0.10}
CANDIDATE_COLUMNS = ["user_id", "item_id", "channel", "channel_rank"]
COVISIT_NEIGHBOURS = 50  # neighbours kept per item: more only adds the tail of rare pairs
COVISIT_ITEMS_PER_DAY = 30  # a user-day's last items: a bot's 500-item day must not make n² pairs
TAGS_PER_USER = 3


def empty_candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "channel_rank" else object) for c in CANDIDATE_COLUMNS}
    )


@dataclass(frozen=True)
class CoVisitation:
    """For each item, the items engaged by the same user on the same day, strongest first."""

    neighbours: pd.DataFrame  # item_id, neighbour_id, weight (sorted by item, then weight desc)

    @classmethod
    def from_engaged(
        cls, engaged: pd.DataFrame, last_day: object, half_life_days: float = 7.0
    ) -> CoVisitation:
        """Pairs of distinct items of each (user, day), a day ``a`` days old weighted ``0.5^(a/h)``."""
        if engaged.empty:
            return cls(pd.DataFrame(columns=["item_id", "neighbour_id", "weight"]))
        visits = engaged.sort_values("event_time", kind="stable").drop_duplicates(
            ["user_id", "day", "item_id"], keep="last"
        )
        visits = visits.groupby(["user_id", "day"], sort=False).tail(COVISIT_ITEMS_PER_DAY)
        visits = visits[["user_id", "day", "item_id"]]
        pairs = visits.merge(visits, on=["user_id", "day"], suffixes=("", "_other"))
        pairs = pairs[pairs["item_id"] != pairs["item_id_other"]]
        age = (pd.Timestamp(last_day) - pd.to_datetime(pairs["day"])).dt.days.to_numpy()  # type: ignore[arg-type]
        pairs = pairs.assign(weight=0.5 ** (age / half_life_days))
        summed = (
            pairs.groupby(["item_id", "item_id_other"], sort=False)["weight"]
            .sum()
            .reset_index()
            .rename(columns={"item_id_other": "neighbour_id"})
        )
        summed = summed.sort_values(["item_id", "weight", "neighbour_id"], ascending=[True, False, True])
        top = summed.groupby("item_id", sort=False).head(COVISIT_NEIGHBOURS).reset_index(drop=True)
        return cls(top)

    def restricted_to(self, item_ids: pd.Index) -> CoVisitation:
        """Only pairs whose neighbour is in ``item_ids`` (e.g. the active catalog)."""
        return CoVisitation(self.neighbours[self.neighbours["neighbour_id"].isin(item_ids)])


def _ranked(frame: pd.DataFrame, score: str, k: int, channel: str) -> pd.DataFrame:
    """The ``k`` best-scored items per user, as a candidates frame."""
    frame = frame.sort_values(["user_id", score, "item_id"], ascending=[True, False, True], kind="stable")
    frame = frame.groupby("user_id", sort=False).head(k)
    ranks = frame.groupby("user_id", sort=False).cumcount() + 1
    return pd.DataFrame(
        {
            "user_id": frame["user_id"].to_numpy(),
            "item_id": frame["item_id"].to_numpy(),
            "channel": channel,
            "channel_rank": ranks.to_numpy(dtype=np.int64),
        }
    )


def covisit_channel(histories: pd.Series, covisit: CoVisitation, k: int) -> pd.DataFrame:
    """Neighbours of each user's history items (user_id -> list, oldest first), the latest weighing most."""
    if k <= 0 or histories.empty or covisit.neighbours.empty:
        return empty_candidates()
    exploded = histories.rename("item_id").explode().dropna().reset_index()
    exploded.columns = pd.Index(["user_id", "item_id"])
    # The last history item weighs 1, the one before 0.9, ...: what was seen last says most.
    position = exploded.groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()
    exploded["recency"] = 0.9**position
    joined = exploded.merge(covisit.neighbours, on="item_id")
    joined["score"] = joined["recency"] * joined["weight"]
    scored = joined.groupby(["user_id", "neighbour_id"], sort=False)["score"].sum().reset_index()
    scored = scored.rename(columns={"neighbour_id": "item_id"})
    return _ranked(scored, "score", k, "covisit")


def tag_popular_channel(user_tags: pd.DataFrame, tag_popular: pd.DataFrame, k: int) -> pd.DataFrame:
    """Popular items of each user's top tags, a tag's items weighted by the user's preference for it.

    ``user_tags``: user_id, tag, pref_share. ``tag_popular``: tag, item_id, popularity (> 0).
    """
    if k <= 0 or user_tags.empty or tag_popular.empty:
        return empty_candidates()
    top = user_tags.sort_values(["user_id", "pref_share"], ascending=[True, False], kind="stable")
    top = top.groupby("user_id", sort=False).head(TAGS_PER_USER)
    per_tag = tag_popular.sort_values(["tag", "popularity"], ascending=[True, False], kind="stable")
    per_tag = per_tag.groupby("tag", sort=False).head(k)
    joined = top.merge(per_tag, on="tag")
    joined["score"] = joined["pref_share"] * np.log1p(joined["popularity"])
    scored = joined.groupby(["user_id", "item_id"], sort=False)["score"].max().reset_index()
    return _ranked(scored, "score", k, "tag_popular")


def trending_channel(user_ids: pd.Index, trending: list[str], k: int) -> pd.DataFrame:
    """The same ``k`` trending items for every user."""
    items = trending[:k]
    if not items or user_ids.empty:
        return empty_candidates()
    n = len(items)
    return pd.DataFrame(
        {
            "user_id": np.repeat(user_ids.to_numpy(dtype=object), n),
            "item_id": np.tile(np.asarray(items, dtype=object), len(user_ids)),
            "channel": "trending",
            "channel_rank": np.tile(np.arange(1, n + 1, dtype=np.int64), len(user_ids)),
        }
    )


def faiss_channel(user_ids: pd.Index, found_rows: np.ndarray, catalog_ids: np.ndarray) -> pd.DataFrame:
    """The index's answer ``(users, k)`` of catalog rows (-1 = nothing) as a candidates frame."""
    if found_rows.size == 0:
        return empty_candidates()
    users, k = found_rows.shape
    rank = np.tile(np.arange(1, k + 1, dtype=np.int64), users)
    rows = found_rows.reshape(-1)
    keep = rows >= 0
    return pd.DataFrame(
        {
            "user_id": np.repeat(user_ids.to_numpy(dtype=object), k)[keep],
            "item_id": catalog_ids[rows[keep]],
            "channel": "faiss",
            "channel_rank": rank[keep],
        }
    )


def quotas(recall_size: int) -> dict[str, int]:
    """Each channel's share of ``recall_size`` (at least one item each)."""
    return {name: max(1, round(recall_size * share)) for name, share in CHANNEL_QUOTAS.items()}


def merge_channels(candidates: list[pd.DataFrame], recall_size: int) -> pd.DataFrame:
    """Interleave the channels by quota, drop repeats (the first channel to name an item keeps it),
    and keep ``recall_size`` per user.

    A candidate's place is ``channel_rank / quota``: with quotas 500 and 250, the faiss item
    of rank 2 and the covisit item of rank 1 come out level, so each channel fills its share,
    and when one runs short the others' next items move up.
    """
    frames = [c for c in candidates if not c.empty]
    if not frames:
        return empty_candidates().assign(place=pd.Series(dtype="float64"))
    merged = pd.concat(frames, ignore_index=True)
    shares = quotas(recall_size)
    merged["place"] = merged["channel_rank"] / merged["channel"].map(shares).astype("float64")
    priority = {name: i for i, name in enumerate(CHANNEL_QUOTAS)}
    merged["priority"] = merged["channel"].map(priority)
    merged = merged.sort_values(["user_id", "place", "priority"], kind="stable")
    merged = merged.drop_duplicates(["user_id", "item_id"], keep="first")
    merged = merged.groupby("user_id", sort=False).head(recall_size)
    return merged.drop(columns="priority").reset_index(drop=True)
