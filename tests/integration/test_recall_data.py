"""The recall model's pairs from the tiny shop's lake: point-in-time, and a trained model that recalls."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feature_store import lake
from models import metrics
from models.index import BruteForceRetriever
from models.recall_data import (
    ENGAGED,
    engaged_events,
    item_frame,
    relevant_rows,
    training_pairs,
    user_frame,
)
from models.two_tower import TwoTowerConfig, train_two_tower
from recsys.errors import PartitionMissingError, RecallDataError

pytestmark = pytest.mark.integration
LAST_TRAIN_DAY = date(2026, 11, 7)
EVAL_DAY = date(2026, 11, 8)
K = 100


def test_pairs_are_engaged_on_their_day_with_the_user_side_from_before(tiny_shop_lake: Path) -> None:
    root = tiny_shop_lake / "lake"
    pairs = training_pairs(root, LAST_TRAIN_DAY, 2)
    assert set(pairs["label_day"]) == {LAST_TRAIN_DAY - timedelta(days=1), LAST_TRAIN_DAY}
    for day, part in pairs.groupby("label_day"):
        events = lake.read_partition(root, "events", day).to_pandas()
        engaged = events[events["event_type"].isin(ENGAGED)]
        expected = set(map(tuple, engaged[["user_id", "item_id"]].to_numpy()))
        catalog = set(lake.read_partition(root, "catalog", day).to_pandas()["item_id"])
        assert set(map(tuple, part[["user_id", "item_id"]].to_numpy())) == {
            p for p in expected if p[1] in catalog
        }
        # The history holds only items the user engaged with before the label day.
        before = engaged_events(root, day - timedelta(days=14), day - timedelta(days=1))
        earlier = before.groupby("user_id")["item_id"].agg(set)
        for user, history in part.drop_duplicates("user_id")[["user_id", "history"]].to_numpy():
            assert set(history) <= earlier.get(user, set())
        # Counters are those of features/user as of the day before.
        features = lake.read_partition(root, "features/user", day - timedelta(days=1)).to_pandas()
        clicks = features.set_index("user_id")["clicks_7d"]
        per_user = part.drop_duplicates("user_id").set_index("user_id")["clicks_7d"]
        np.testing.assert_array_equal(
            per_user.to_numpy(), clicks.reindex(per_user.index).fillna(0).to_numpy()
        )
    assert (pairs["history"].map(len) > 0).any()
    assert not pairs[["user_id", "item_id", "label_day"]].duplicated().any()


def test_trained_on_the_lake_it_recalls_the_next_day(tiny_shop_lake: Path) -> None:
    root = tiny_shop_lake / "lake"
    config = TwoTowerConfig(dim=32, hidden=128, epochs=6, batch_size=256, seed=0)
    model = train_two_tower(root, LAST_TRAIN_DAY, 5, config, log=lambda _: None)
    assert model.fitted is not None and 1 <= model.fitted.best_epoch <= config.epochs

    day = engaged_events(root, EVAL_DAY, EVAL_DAY)[["user_id", "item_id"]].drop_duplicates()
    relevant = day.groupby("user_id")["item_id"].agg(set)
    users = relevant.index.tolist()
    catalog = item_frame(root, EVAL_DAY)
    item_vectors = model.item_vectors(root, EVAL_DAY, catalog["item_id"].tolist())
    user_vectors = model.user_vectors(root, LAST_TRAIN_DAY, users)
    assert user_vectors.shape == (len(users), config.dim) and item_vectors.shape == (len(catalog), config.dim)
    np.testing.assert_allclose(np.linalg.norm(item_vectors, axis=1), 1.0, atol=1e-5)
    k = min(K, len(catalog) // 4)
    _, rows = BruteForceRetriever(np.arange(len(catalog)), item_vectors).search(user_vectors, k)
    wanted = relevant_rows(catalog["item_id"].tolist(), relevant.tolist())
    recall = metrics.recall_at(rows.tolist(), wanted, k)
    chance = k / len(catalog)
    assert recall > 2 * chance, f"recall@{k} {recall:.3f}, a random list {chance:.3f}"

    # A user the lake never saw still gets a unit vector (the popular part of the space).
    stranger = model.user_vectors(root, LAST_TRAIN_DAY, ["U-nobody"])
    assert np.isfinite(stranger).all() and abs(float(np.linalg.norm(stranger)) - 1.0) < 1e-5


def test_bad_requests_name_the_day_and_item(tiny_shop_lake: Path) -> None:
    root = tiny_shop_lake / "lake"
    with pytest.raises(RecallDataError, match="not in the catalog of 2026-11-08"):
        item_frame(root, EVAL_DAY, ["P-not-listed"])
    with pytest.raises(PartitionMissingError, match="dt=2026-11-09"):
        user_frame(root, date(2026, 11, 9), ["U1"])  # a day not ingested yet
    with pytest.raises(PartitionMissingError):
        training_pairs(root, date(2026, 11, 1), 1)  # the first day has no features of the day before
    with pytest.raises(RecallDataError, match="at least one label day"):
        training_pairs(root, LAST_TRAIN_DAY, 0)
    with pytest.raises(RecallDataError, match="no events partition"):
        engaged_events(root.parent / "empty", EVAL_DAY, EVAL_DAY)
    frame = item_frame(root, EVAL_DAY)
    assert isinstance(frame, pd.DataFrame) and frame["tags"].map(len).gt(0).any()
