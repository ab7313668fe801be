"""Multi-stage candidate generation for a shard of users, after the recall channels.

    recall   channels merged by quota (models/channels.py)          candidates_recall_size
    filter   only active catalog items; never what the user bought; per settings, not what
             they viewed or clicked lately
    coarse   the champion DeepFM scores every pair                   candidates_coarse_size
    fine     BERT4Rec scores the user's coarse list after their sequence; the published
             score adds both stages' per-user z-scores (an item BERT4Rec cannot name gets
             its mean, 0), so neither stage's scale dominates
    rules    price-band fit (items far from the user's usual price move behind those that
             fit), at most N per category, top N; short lists are filled with popular items

Each output row says which channel found the item and which stage decided its place.
TensorFlow is only touched through the model objects passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = ["user_id", "rank", "item_id", "score", "channel", "stage"]


class PairScorer(Protocol):
    def __call__(self, pairs: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class Stages:
    """Stage sizes and business rules (from settings)."""

    recall: int
    coarse: int
    top_n: int
    max_per_category: int
    price_band: float

    def check(self) -> None:
        if not self.top_n <= self.coarse <= self.recall:
            raise ValueError(
                f"stage sizes must narrow: recall {self.recall} >= coarse {self.coarse} >= top_n {self.top_n}"
            )


@dataclass(frozen=True)
class SequenceScorer:
    """BERT4Rec over its own vocabulary: ``score(histories, candidates) -> (U, C)``."""

    score_candidates: Callable[[list[np.ndarray], np.ndarray], np.ndarray]
    vocabulary: dict[str, int]  # item_id -> model id (1..n)


def exclude(candidates: pd.DataFrame, excluded: pd.DataFrame) -> pd.DataFrame:
    """Candidates without the (user_id, item_id) pairs of ``excluded``."""
    if excluded.empty or candidates.empty:
        return candidates
    marked = candidates.merge(
        excluded[["user_id", "item_id"]].drop_duplicates().assign(_drop=True),
        on=["user_id", "item_id"],
        how="left",
    )
    kept: pd.DataFrame = marked[marked["_drop"].isna()].drop(columns="_drop")
    return kept.reset_index(drop=True)


def _top_per_user(frame: pd.DataFrame, score: str, k: int) -> pd.DataFrame:
    frame = frame.sort_values(["user_id", score, "item_id"], ascending=[True, False, True], kind="stable")
    top: pd.DataFrame = frame.groupby("user_id", sort=False).head(k).reset_index(drop=True)
    return top


def coarse_stage(
    candidates: pd.DataFrame, scorer: PairScorer, keep: int, chunk_pairs: int = 400_000
) -> pd.DataFrame:
    """Score every (user, item) with the coarse ranker and keep the ``keep`` best per user.

    Pairs are scored in chunks of whole users, so memory stays flat at any shard size.
    """
    if candidates.empty:
        return candidates.assign(coarse=pd.Series(dtype="float64"))
    users = candidates["user_id"].drop_duplicates().to_numpy()
    per_user = max(1, len(candidates) // len(users))
    step = max(1, chunk_pairs // per_user)
    kept = []
    for start in range(0, len(users), step):
        part = candidates[candidates["user_id"].isin(users[start : start + step])]
        scored = part.assign(coarse=np.asarray(scorer(part), dtype=np.float64))
        kept.append(_top_per_user(scored, "coarse", keep))
    return pd.concat(kept, ignore_index=True)


def _z(values: pd.Series, groups: pd.Series) -> pd.Series:
    mean = values.groupby(groups).transform("mean")
    std = values.groupby(groups).transform("std").fillna(0.0)
    z: pd.Series = (values - mean) / std.where(std > 1e-12, 1.0)
    return z


def fine_stage(
    coarse: pd.DataFrame, sequences: dict[str, np.ndarray], scorer: SequenceScorer | None
) -> pd.DataFrame:
    """Add ``fine`` (BERT4Rec's score, NaN where it cannot score) and the fused ``score``.

    ``sequences``: user_id -> the user's engaged items as model ids, oldest first.
    """
    out = coarse.copy()
    out["fine"] = np.nan
    if scorer is not None and not out.empty:
        model_ids = out["item_id"].map(scorer.vocabulary).fillna(0).to_numpy(dtype=np.int64)
        out["_model_id"] = model_ids
        users = [u for u in out["user_id"].drop_duplicates() if len(sequences.get(u, ())) > 0]
        if users:
            scored = out[out["user_id"].isin(users) & (out["_model_id"] > 0)]
            grouped = scored.groupby("user_id", sort=False)
            width = int(grouped.size().max()) if len(scored) else 0
            if width:
                names = [str(u) for u in grouped.groups]
                matrix = np.ones(
                    (len(names), width), dtype=np.int64
                )  # padding slots score id 1, dropped below
                slots = grouped.cumcount().to_numpy()
                row_of = {u: i for i, u in enumerate(names)}
                rows = scored["user_id"].map(row_of).to_numpy()
                matrix[rows, slots] = scored["_model_id"].to_numpy()
                scores = scorer.score_candidates([sequences[u] for u in names], matrix)
                out.loc[scored.index, "fine"] = scores[rows, slots].astype(np.float64)
        out = out.drop(columns="_model_id")
    coarse_z = _z(out["coarse"], out["user_id"])
    fine_z = _z(out["fine"], out["user_id"]).fillna(0.0)
    out["score"] = coarse_z + fine_z
    out["stage"] = np.where(out["fine"].notna(), "fine", "coarse")
    return out


def rules_stage(
    ranked: pd.DataFrame,
    items: pd.DataFrame,
    user_prices: pd.Series,
    stages: Stages,
    fallback: list[str],
) -> pd.DataFrame:
    """Price-band fit, the category cap and the top N; lists short of N are filled from ``fallback``.

    ``items``: item_id, category, price of the active catalog. ``user_prices``: user_id ->
    median price of what the user engaged with (users without one skip the price rule).
    """
    if ranked.empty:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    frame = ranked.merge(items[["item_id", "category", "price"]], on="item_id", how="left")
    typical = frame["user_id"].map(user_prices)
    ratio = frame["price"] / typical
    fits = typical.isna() | ((ratio <= stages.price_band) & (ratio >= 1.0 / stages.price_band))
    frame["_band"] = np.where(fits, 0, 1)
    frame = frame.sort_values(["user_id", "_band", "score", "item_id"], ascending=[True, True, False, True])
    in_category = frame.groupby(["user_id", "category"], sort=False, dropna=False).cumcount()
    frame = frame[in_category < stages.max_per_category]
    frame = frame.groupby("user_id", sort=False).head(stages.top_n)
    frame = _fill(frame, items, fallback, stages)
    frame["rank"] = frame.groupby("user_id", sort=False).cumcount() + 1
    out: pd.DataFrame = frame[OUTPUT_COLUMNS].reset_index(drop=True)
    return out


def _fill(frame: pd.DataFrame, items: pd.DataFrame, fallback: list[str], stages: Stages) -> pd.DataFrame:
    """Append popular items to each list shorter than top N, below its lowest score."""
    counts = frame.groupby("user_id", sort=False).size()
    short = counts[counts < stages.top_n]
    if short.empty or not fallback:
        return frame
    pool = pd.DataFrame({"item_id": fallback[: stages.top_n * 2]})
    pool["pool_rank"] = np.arange(len(pool))
    pool = pool.merge(items[["item_id", "category"]], on="item_id", how="inner")
    extra = pd.DataFrame({"user_id": np.repeat(short.index.to_numpy(), len(pool))})
    extra = pd.concat([extra, pd.concat([pool] * len(short), ignore_index=True)], axis=1)
    extra = extra.merge(
        frame[["user_id", "item_id"]].assign(_have=True), on=["user_id", "item_id"], how="left"
    )
    extra = extra[extra["_have"].isna()].drop(columns="_have")
    floor = frame.groupby("user_id")["score"].min()
    extra["score"] = extra["user_id"].map(floor).fillna(0.0) - 1.0 - extra["pool_rank"] / max(1, len(pool))
    extra = extra.assign(channel="fallback", stage="rules", _band=2)
    merged = pd.concat([frame, extra.drop(columns="pool_rank")], ignore_index=True)
    # The ranked rows passed the category cap already; the fill is exempt from it (band 2, last).
    merged = merged.sort_values(["user_id", "_band", "score"], ascending=[True, True, False], kind="stable")
    filled: pd.DataFrame = merged.groupby("user_id", sort=False).head(stages.top_n)
    return filled
