"""The coarse ranker's training set: labels of day L, features as of L-1, and its gate."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from expectations.errors import ValidationFailedError
from feature_store import lake
from models.ranking_data import NO_RECENCY_S, NUMERIC, RankingEncoder, build_training_set, examples_for_day
from recsys.errors import PartitionMissingError
from recsys.settings import load_settings
from tasks.context import RunContext
from tasks.retrain import build_ranking_set
from tasks.validate import validate_partition

pytestmark = pytest.mark.integration
LABEL_DAY = date(2026, 11, 6)


def test_labels_come_from_the_label_day_and_features_from_the_day_before(tiny_shop_lake: Path) -> None:
    root = tiny_shop_lake / "lake"
    examples = examples_for_day(root, LABEL_DAY)
    events = lake.read_partition(root, "events", LABEL_DAY).to_pandas()
    impressions = events[events["event_type"] == "impression"]
    assert len(examples) == len(impressions)
    clicks = set(map(tuple, events.loc[events["event_type"] == "click", ["user_id", "item_id"]].to_numpy()))
    expected = [int((u, i) in clicks) for u, i in examples[["user_id", "item_id"]].to_numpy()]
    assert examples["label"].tolist() == expected
    assert 0.01 < examples["label"].mean() < 0.6
    assert (examples["features_as_of"] == LABEL_DAY - timedelta(days=1)).all()

    # A user's one-day click counter is the previous day's clicks, never the label day's.
    before = lake.read_partition(root, "events", LABEL_DAY - timedelta(days=1)).to_pandas()
    clicks_before = before[before["event_type"] == "click"].groupby("user_id").size()
    per_user = examples.drop_duplicates("user_id").set_index("user_id")["u_clicks_1d"]
    assert np.array_equal(per_user.to_numpy(), clicks_before.reindex(per_user.index).fillna(0).to_numpy())
    assert (per_user > 0).any()
    # Features are filled: no NaN reaches the model; a missing recency reads "beyond the window".
    assert np.isfinite(examples[list(NUMERIC)].to_numpy()).all()
    assert (examples["u_recency_purchase_s"] <= NO_RECENCY_S).all()


def test_the_encoder_maps_unseen_ids_to_zero_and_keeps_tags(tiny_shop_lake: Path) -> None:
    examples = build_training_set(tiny_shop_lake / "lake", LABEL_DAY, 3)
    train = examples[examples["split"] == "train"]
    encoder = RankingEncoder.fit(train, ["AU001", "AU002", "BR001"])
    held_out = examples[examples["split"] == "eval"]
    arrays = encoder.encode(held_out, "tags")
    unseen = ~held_out["user_id"].isin(set(train["user_id"])).to_numpy()
    assert unseen.any(), "the tiny shop has new users every day"
    assert (arrays["user_id"][unseen] == 0).all() and (arrays["user_id"][~unseen] > 0).all()
    assert arrays["item_tags"].shape == (len(held_out), 12)
    assert arrays["user_tag_profile"].shape == (len(held_out), 4)
    assert RankingEncoder.from_json(encoder.to_json()) == encoder
    assert set(arrays) >= set(encoder.spec().input_names("tags"))


def test_the_gate_passes_a_good_set_and_refuses_one_with_future_features(
    tiny_shop_lake: Path, tmp_path: Path
) -> None:
    settings = load_settings(lake_root=tiny_shop_lake / "lake")
    ctx = RunContext(LABEL_DAY, settings)
    build_ranking_set(ctx, history_days=3)
    assert validate_partition(ctx, "training/ranking")["success"]

    # Copy the day's set into a scratch lake with one example whose features are too new.
    scratch = load_settings(lake_root=tmp_path / "lake")
    table = lake.read_partition(settings.lake_root, "training/ranking", LABEL_DAY)
    frame: pd.DataFrame = table.to_pandas()
    frame.loc[0, "features_as_of"] = frame.loc[0, "label_day"]
    lake.write_partition(scratch.lake_root, "training/ranking", LABEL_DAY, pa.Table.from_pandas(frame))
    with pytest.raises(ValidationFailedError, match="rows_with_future_features"):
        validate_partition(RunContext(LABEL_DAY, scratch), "training/ranking")


def test_a_missing_day_is_named(tiny_shop_lake: Path) -> None:
    with pytest.raises(PartitionMissingError, match="2026-10-31"):
        build_training_set(tiny_shop_lake / "lake", date(2026, 11, 2), 3)


def test_sampling_keeps_every_click_and_whole_held_out_users(tiny_shop_lake: Path) -> None:
    root = tiny_shop_lake / "lake"
    full = build_training_set(root, LABEL_DAY, 4, seed=1)
    sampled = build_training_set(root, LABEL_DAY, 4, negative_share=0.2, held_out_user_share=0.5, seed=1)
    train, sampled_train = full[full["split"] == "train"], sampled[sampled["split"] == "train"]
    assert sampled_train["label"].sum() == train["label"].sum()  # every click kept
    kept_negatives = (sampled_train["label"] == 0).sum() / (train["label"] == 0).sum()
    assert 0.1 < kept_negatives < 0.3
    for split in ("valid", "eval"):
        whole, part = full[full["split"] == split], sampled[sampled["split"] == split]
        users = set(part["user_id"])
        assert 0.3 < len(users) / whole["user_id"].nunique() < 0.7
        # Whole users: every impression of a kept user, none of the others.
        assert len(part) == whole["user_id"].isin(users).sum()
    again = build_training_set(root, LABEL_DAY, 4, negative_share=0.2, held_out_user_share=0.5, seed=2)
    assert set(again.loc[again["split"] == "eval", "user_id"]) == set(
        sampled.loc[sampled["split"] == "eval", "user_id"]
    )  # the same users whatever the seed: chosen by id
