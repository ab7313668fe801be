"""Next-day recall of a recall model: what the nightly gate and bench.recall_sim both measure.

For day D: every user with an engaged event on D, their vector as of D-1, the top ``k`` of
D's whole catalog through the FAISS index built (and recall-gated) for it; relevant items
are the user's distinct engaged items of D, micro-averaged. New items are those in D's
catalog and not in D-1's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models import metrics
from models.index import BuiltIndex, build_index
from models.recall_data import engaged_events, item_frame, relevant_rows, user_frame
from recsys.settings import Settings

if TYPE_CHECKING:
    from models.two_tower import TwoTower


@dataclass
class NextDayRecall:
    """The figures, plus what they were computed on (for extra baselines)."""

    figures: dict[str, Any]
    index: BuiltIndex
    catalog: pd.DataFrame
    users: np.ndarray  # user vectors, one row per evaluated user
    relevant: list[set[int]]  # catalog rows each user engaged with on the day
    retrieved: list[list[int]]
    new_rows: set[int]


def next_day_recall(
    model: TwoTower, settings: Settings, day: date, *, k: int = 100, model_version: str = "eval"
) -> NextDayRecall:
    """Recall@k of ``model`` on ``day``'s engagement, overall and for items first listed that day.

    Raises:
        IndexRecallError: the index built for the catalog misses the recall gate.
        PartitionMissingError: the day's events or catalog, or the previous day's, are missing.
    """
    root, before = settings.lake_root, day - timedelta(days=1)
    engaged = engaged_events(root, day, day)[["user_id", "item_id"]].drop_duplicates()
    grouped = engaged.groupby("user_id")["item_id"].agg(set)
    catalog = item_frame(root, day)
    new_items = set(catalog["item_id"]) - set(item_frame(root, before)["item_id"])
    relevant = relevant_rows(catalog["item_id"].tolist(), grouped.tolist())
    new_rows = set(np.flatnonzero(catalog["item_id"].isin(new_items)).tolist())
    relevant_new = [wanted & new_rows for wanted in relevant]
    history = model.config.max_history
    users = model.encode_users(user_frame(root, before, grouped.index.tolist(), max_history=history))
    items = model.encode_items(catalog)
    built = build_index(
        np.arange(len(catalog)),
        items,
        settings=settings,
        model_version=model_version,
        sample_queries=users,
        k=k,
    )
    _, found = built.retriever.search(users, k)
    retrieved = found.tolist()
    new_pairs = sum(len(w) for w in relevant_new)
    figures: dict[str, Any] = {
        f"recall@{k}": metrics.recall_at(retrieved, relevant, k),
        f"recall@{k}_new_items": metrics.recall_at(retrieved, relevant_new, k) if new_pairs else float("nan"),
        f"random_recall@{k}": min(k, len(catalog)) / len(catalog),  # what k random items would reach
        "users_evaluated": len(relevant),
        "relevant_pairs": sum(len(w) for w in relevant),
        "catalog_items": len(catalog),
        "new_items": len(new_items),
        "new_item_pairs": new_pairs,
        "index_kind": built.kind,
        "index_recall": built.recall_at_k,
    }
    return NextDayRecall(figures, built, catalog, users, relevant, retrieved, new_rows)
