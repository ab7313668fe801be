"""Recall channels, stages and rules of candidate generation, on hand-made data."""

from __future__ import annotations

import zlib
from datetime import date

import numpy as np
import pandas as pd
import pytest

from models import channels
from models.candidates import SequenceScorer, Stages, coarse_stage, exclude, fine_stage, rules_stage
from models.precomputed import similar_items, target_precision, target_users
from tasks.publish import shard_of

DAY = date(2026, 11, 8)


def _engaged(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(user, day, item) rows, in time order."""
    frame = pd.DataFrame(rows, columns=["user_id", "day", "item_id"])
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame["event_time"] = pd.date_range("2026-11-01", periods=len(frame), freq="min", tz="UTC")
    frame["event_type"] = "view"
    return frame


def _channel(name: str, user: str, items: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": user, "item_id": items, "channel": name, "channel_rank": np.arange(1, len(items) + 1)}
    )


def test_covisitation_counts_same_user_day_pairs_and_decays_older_days() -> None:
    engaged = _engaged(
        [
            ("u1", "2026-11-08", "a"),
            ("u1", "2026-11-08", "b"),
            ("u2", "2026-11-08", "a"),
            ("u2", "2026-11-08", "b"),
            ("u2", "2026-11-08", "c"),
            ("u3", "2026-11-01", "a"),
            ("u3", "2026-11-01", "d"),
            ("u4", "2026-11-07", "a"),
            ("u4", "2026-11-08", "e"),
        ]  # different days: no pair
    )
    neighbours = channels.CoVisitation.from_engaged(engaged, DAY).neighbours
    of_a = neighbours[neighbours["item_id"] == "a"].set_index("neighbour_id")["weight"]
    assert of_a.index.tolist() == ["b", "c", "d"]  # strongest first
    assert of_a["b"] == pytest.approx(2.0)
    assert of_a["c"] == pytest.approx(1.0)
    assert of_a["d"] == pytest.approx(0.5)  # 7 days old: half
    assert "e" not in of_a.index


def test_covisit_channel_weighs_the_latest_history_item_most() -> None:
    covisit = channels.CoVisitation(
        pd.DataFrame({"item_id": ["a", "b"], "neighbour_id": ["x", "y"], "weight": [1.0, 1.0]})
    )
    histories = pd.Series({"u1": ["a", "b"]})  # b is the latest
    found = channels.covisit_channel(histories, covisit, k=5)
    assert found["item_id"].tolist() == ["y", "x"]
    assert found["channel_rank"].tolist() == [1, 2]
    assert set(found["channel"]) == {"covisit"}


def test_merge_interleaves_by_quota_keeps_the_first_channel_of_a_repeat_and_fills_short_channels() -> None:
    found = [
        _channel("faiss", "u1", [f"f{i}" for i in range(10)]),
        _channel("covisit", "u1", ["c0", "f0", "c1"]),  # f0 repeats faiss' first
        _channel("trending", "u1", ["t0"]),
    ]
    merged = channels.merge_channels(found, recall_size=8)
    assert len(merged) == 8
    assert merged["item_id"].is_unique
    assert merged.loc[merged["item_id"] == "f0", "channel"].item() == "faiss"
    # quotas for 8: faiss 4, covisit 2, tag 1, trending 1: c0 (1/2) comes before f2 (3/4)...
    order = merged["item_id"].tolist()
    assert order.index("c0") < order.index("f2")
    assert "t0" in order
    # ...and faiss fills the room the short channels leave: f0..f5 (places 1/4..6/4), c0, t0.
    assert order == ["f0", "f1", "c0", "f2", "f3", "t0", "f4", "f5"]


def test_exclude_drops_exactly_the_given_pairs() -> None:
    frame = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["a", "b", "a"], "x": [1, 2, 3]})
    kept = exclude(frame, pd.DataFrame({"user_id": ["u1"], "item_id": ["a"]}))
    assert kept[["user_id", "item_id"]].values.tolist() == [["u1", "b"], ["u2", "a"]]


def test_coarse_stage_keeps_the_best_per_user_in_chunks() -> None:
    frame = pd.DataFrame(
        {"user_id": np.repeat(["u1", "u2", "u3"], 5), "item_id": [f"i{i}" for i in range(15)]}
    )
    frame["value"] = np.arange(15.0)
    kept = coarse_stage(frame, lambda pairs: pairs["value"].to_numpy(), keep=2, chunk_pairs=5)
    assert kept.groupby("user_id")["item_id"].agg(list).to_dict() == {
        "u1": ["i4", "i3"],
        "u2": ["i9", "i8"],
        "u3": ["i14", "i13"],
    }


def test_fine_stage_fuses_z_scores_and_leaves_unknown_items_at_the_mean() -> None:
    coarse = pd.DataFrame(
        {
            "user_id": ["u1"] * 3 + ["u2"] * 2,
            "item_id": ["a", "b", "new", "a", "b"],
            "coarse": [3.0, 2.0, 1.0, 1.0, 2.0],
        }
    )
    vocabulary = {"a": 1, "b": 2}

    def score(histories: list[np.ndarray], candidates: np.ndarray) -> np.ndarray:
        return np.where(candidates == 2, 10.0, 0.0)  # BERT4Rec prefers b

    out = fine_stage(coarse, {"u1": np.array([1])}, SequenceScorer(score, vocabulary))
    u1 = out[out["user_id"] == "u1"].set_index("item_id")
    assert u1.loc["new", "stage"] == "coarse" and np.isnan(u1.loc["new", "fine"])
    assert u1.loc["a", "stage"] == "fine" and u1.loc["b", "fine"] == 10.0
    assert u1.loc["b", "score"] > u1.loc["a", "score"]  # the fine stage overturned the coarse order
    u2 = out[out["user_id"] == "u2"]  # no sequence: coarse only
    assert set(u2["stage"]) == {"coarse"}
    assert u2.sort_values("score")["item_id"].tolist() == ["a", "b"]


def test_rules_cap_categories_demote_price_misfits_and_fill_short_lists() -> None:
    items = pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d", "p1", "p2"],
            "category": ["tv", "tv", "tv", "audio", "audio", "camera"],
            "price": [100.0, 110.0, 120.0, 2000.0, 90.0, 95.0],
        }
    )
    ranked = pd.DataFrame(
        {
            "user_id": "u1",
            "item_id": ["a", "b", "c", "d"],
            "score": [4.0, 3.0, 2.0, 1.5],
            "channel": "faiss",
            "stage": "fine",
        }
    )
    ranked.loc[0, "score"] = 1.0  # a now ranks after b and c
    stages = Stages(recall=10, coarse=10, top_n=5, max_per_category=2, price_band=3.0)
    out = rules_stage(ranked, items, pd.Series({"u1": 100.0}), stages, fallback=["p1", "b", "p2"])
    assert out["item_id"].tolist() == ["b", "c", "d", "p1", "p2"]  # a: third tv, capped
    assert out["rank"].tolist() == [1, 2, 3, 4, 5]
    assert out.set_index("item_id").loc["d", "stage"] == "fine"  # 20x the usual price: after those that fit
    fill = out[out["channel"] == "fallback"]
    assert set(fill["stage"]) == {"rules"}
    assert (
        fill["score"].max() < out.loc[out["channel"] != "fallback", "score"].min()
    )  # below every ranked item


def test_rules_put_price_misfits_after_fitting_items() -> None:
    items = pd.DataFrame({"item_id": ["cheap", "dear"], "category": ["a", "b"], "price": [10.0, 1000.0]})
    ranked = pd.DataFrame(
        {
            "user_id": "u1",
            "item_id": ["dear", "cheap"],
            "score": [9.0, 1.0],
            "channel": "faiss",
            "stage": "fine",
        }
    )
    stages = Stages(recall=2, coarse=2, top_n=2, max_per_category=2, price_band=3.0)
    out = rules_stage(ranked, items, pd.Series({"u1": 12.0}), stages, fallback=[])
    assert out["item_id"].tolist() == ["cheap", "dear"]


def test_stage_sizes_must_narrow() -> None:
    with pytest.raises(ValueError, match="must narrow"):
        Stages(recall=10, coarse=20, top_n=5, max_per_category=3, price_band=2.0).check()


def test_similar_items_leave_the_item_out_and_put_co_visits_first() -> None:
    ids = np.array(["a", "b", "c"], dtype=object)
    rows = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0]])
    scores = np.array([[1.0, 0.9, 0.1], [1.0, 0.9, 0.2], [1.0, 0.5, 0.1]], dtype=np.float32)
    covisit = channels.CoVisitation(pd.DataFrame({"item_id": ["a"], "neighbour_id": ["c"], "weight": [3.0]}))
    out = similar_items(ids, rows, scores, covisit, k=2)
    of_a = out[out["key"] == "a"]
    assert of_a["item_id"].tolist() == ["c", "b"]
    assert (out["key"] != out["item_id"]).all()
    assert of_a["score"].is_monotonic_decreasing  # one scale along the list, whichever source
    assert out.groupby("key")["rank"].agg(list).to_dict() == {"a": [1, 2], "b": [1, 2], "c": [1, 2]}


def test_target_users_rank_users_by_their_vectors_and_precision_counts_next_day_hits() -> None:
    users = np.array(["u1", "u2", "u3"], dtype=object)
    user_vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]], dtype=np.float32)
    targets = target_users(
        np.array(["n1"], dtype=object), np.array([[1.0, 0.0]], dtype=np.float32), users, user_vectors, k=2
    )
    assert targets["user_id"].tolist() == ["u1", "u3"]
    next_day = pd.DataFrame({"user_id": ["u3", "u2"], "item_id": ["n1", "n1"]})
    figures = target_precision(targets, next_day, k=2)
    assert figures["precision@2"] == pytest.approx(0.5)
    assert figures["items_evaluated"] == 1


def test_shards_are_stable_and_cover_every_user() -> None:
    users = pd.Series([f"u{i:05d}" for i in range(4000)])
    shards = shard_of(users, 4)
    assert shards[0] == zlib.crc32(b"u00000") % 4  # a pure function of the id: any process agrees
    counts = np.bincount(shards, minlength=4)
    assert counts.sum() == 4000 and counts.min() > 900
