"""models.metrics: hand-computed cases, ties, short lists, and agreement with scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from models import metrics


def test_auc_of_a_small_case_by_hand() -> None:
    # positives score 0.8, 0.4; negatives 0.6, 0.2. Pairs (pos > neg): 0.8>0.6, 0.8>0.2,
    # 0.4>0.2 win, 0.4<0.6 loses: 3 of 4 pairs -> 0.75.
    assert metrics.auc([1, 0, 1, 0], [0.8, 0.6, 0.4, 0.2]) == pytest.approx(0.75)


def test_auc_counts_ties_as_half() -> None:
    # pos 0.5 vs neg 0.5 tie (1/2), pos 0.5 vs neg 0.1 win (1), pos 0.9 beats both (2):
    # (0.5 + 1 + 2) / 4 pairs = 0.875.
    assert metrics.auc([1, 1, 0, 0], [0.5, 0.9, 0.5, 0.1]) == pytest.approx(0.875)
    # A constant scorer is a coin flip, never perfect.
    assert metrics.auc([1, 0, 1, 0, 0], [0.3] * 5) == pytest.approx(0.5)


def test_auc_extremes_and_bool_labels() -> None:
    assert metrics.auc([True, False], [0.9, 0.1]) == 1.0
    assert metrics.auc([True, False], [0.1, 0.9]) == 0.0


def test_auc_refuses_one_class_mismatched_lengths_and_bad_input() -> None:
    with pytest.raises(ValueError, match=r"both classes.*all 3 labels are positive"):
        metrics.auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"3 labels, 2 scores"):
        metrics.auc([1, 0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"must be 0 or 1, found \[2.0\]"):
        metrics.auc([1, 0, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"NaN"):
        metrics.auc([1, 0], [0.1, float("nan")])
    with pytest.raises(ValueError, match=r"empty"):
        metrics.auc([], [])


def test_auc_and_logloss_agree_with_scikit_learn_on_random_data() -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, size=5_000)
    # Rounded scores make many ties, the case where naive implementations go wrong.
    scores = np.round(rng.normal(size=5_000) + labels * 0.7, 1)
    assert metrics.auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    probabilities = rng.uniform(0.01, 0.99, size=5_000)
    assert metrics.logloss(labels, probabilities) == pytest.approx(log_loss(labels, probabilities), rel=1e-12)


def test_logloss_by_hand_and_clipping() -> None:
    # -(ln 0.8 + ln(1 - 0.4)) / 2 = -(−0.22314 − 0.51083) / 2 = 0.366985
    assert metrics.logloss([1, 0], [0.8, 0.4]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    # A confident miss costs -ln(eps) instead of infinity.
    assert metrics.logloss([1], [0.0], eps=1e-7) == pytest.approx(-math.log(1e-7))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.logloss([1, 0], [1.2, 0.1])


def test_group_auc_weights_groups_by_their_size_and_skips_one_class_groups() -> None:
    groups = ["u1", "u1", "u1", "u1", "u2", "u2", "u3", "u3"]
    labels = [1, 0, 1, 0, 1, 0, 1, 1]
    scores = [0.8, 0.6, 0.4, 0.2, 0.1, 0.9, 0.5, 0.5]
    # u1: 0.75 (the hand case above) over 4 rows; u2: 0.0 over 2 rows; u3 has no negative.
    # (0.75 * 4 + 0.0 * 2) / 6 = 0.5
    assert metrics.group_auc(groups, labels, scores) == pytest.approx(0.5)


def test_group_auc_ranks_ties_within_each_group_only() -> None:
    # Same scores across groups must not leak ranks: each group alone is perfect.
    groups = [1, 1, 2, 2]
    assert metrics.group_auc(groups, [1, 0, 1, 0], [0.9, 0.5, 0.9, 0.5]) == pytest.approx(1.0)


def test_group_auc_matches_a_per_group_loop_on_random_data() -> None:
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 40, size=2_000)
    labels = rng.integers(0, 2, size=2_000)
    scores = np.round(rng.normal(size=2_000) + labels * 0.5, 1)
    total = weighted = 0.0
    for g in np.unique(groups):
        mask = groups == g
        if 0 < labels[mask].sum() < mask.sum():
            weighted += roc_auc_score(labels[mask], scores[mask]) * mask.sum()
            total += mask.sum()
    assert metrics.group_auc(groups, labels, scores) == pytest.approx(weighted / total, abs=1e-12)


def test_group_auc_refuses_when_no_group_has_both_classes() -> None:
    with pytest.raises(ValueError, match=r"none of 2 groups"):
        metrics.group_auc(["a", "b"], [1, 0], [0.3, 0.4])
    with pytest.raises(ValueError, match=r"one entry per label"):
        metrics.group_auc(["a"], [1, 0], [0.3, 0.4])


def test_calibration_and_its_table() -> None:
    labels = [1, 0, 0, 0, 1, 1]
    probabilities = [0.05, 0.05, 0.15, 0.95, 0.95, 1.0]
    # mean predicted = 3.15 / 6 = 0.525; observed = 3 / 6 = 0.5; ratio 1.05
    assert metrics.calibration(labels, probabilities) == pytest.approx(1.05)
    table = metrics.calibration_table(labels, probabilities, bins=10)
    # Non-empty bins: [0, 0.1) holds 0.05, 0.05; [0.1, 0.2) holds 0.15; [0.9, 1.0] holds 0.95, 0.95, 1.0.
    assert [(row["low"], row["high"], row["count"]) for row in table] == [
        (0.0, 0.1, 2.0),
        (0.1, 0.2, 1.0),
        (0.9, 1.0, 3.0),
    ]
    assert table[0]["mean_predicted"] == pytest.approx(0.05)
    assert table[0]["observed_rate"] == pytest.approx(0.5)
    assert table[2]["mean_predicted"] == pytest.approx((0.95 + 0.95 + 1.0) / 3)
    assert table[2]["observed_rate"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"at least one positive"):
        metrics.calibration([0, 0], [0.1, 0.2])


def test_target_ranks_are_pessimistic_on_ties() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.2, 0.3],  # target above all negatives -> 1
            [0.5, 0.6, 0.5, 0.1],  # 0.6 above, 0.5 tied (counts against) -> 1 + 2 = 3
            [0.2, 0.2, 0.2, 0.2],  # constant scorer -> last: 1 + 3 = 4
            [0.0, 0.1, 0.2, 0.3],  # target below all -> 4
        ]
    )
    assert metrics.target_ranks(scores).tolist() == [1, 3, 4, 4]
    # No negatives: the target is trivially first.
    assert metrics.target_ranks(np.array([[0.3]])).tolist() == [1]
    with pytest.raises(ValueError, match=r"shape"):
        metrics.target_ranks(np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"NaN"):
        metrics.target_ranks(np.array([[np.nan, 0.2]]))


def test_ranks_from_lists_with_absent_targets_and_short_lists() -> None:
    ranked = [[5, 3, 9], [1], [], [7, 8, 7]]
    ranks = metrics.ranks_from_lists(ranked, [9, 2, 4, 7])
    # 9 at position 2 -> 3; 2 absent -> inf; empty list -> inf; first copy of 7 -> 1
    assert ranks.tolist() == [3.0, math.inf, math.inf, 1.0]
    with pytest.raises(ValueError, match=r"2 lists, 1 targets"):
        metrics.ranks_from_lists([[1], [2]], [1])


def test_hit_rate_ndcg_mrr_by_hand() -> None:
    ranks = np.array([1, 3, 6, math.inf])
    # hr@5: ranks 1 and 3 -> 2/4
    assert metrics.hit_rate_at(ranks, 5) == pytest.approx(0.5)
    assert metrics.hit_rate_at(ranks, 1) == pytest.approx(0.25)
    # ndcg@5: (1/log2(2) + 1/log2(4)) / 4 = (1 + 0.5) / 4 = 0.375
    assert metrics.ndcg_at(ranks, 5) == pytest.approx(0.375)
    # ndcg@10 adds 1/log2(7) = 0.356207 -> (1.5 + 0.356207) / 4
    assert metrics.ndcg_at(ranks, 10) == pytest.approx((1.5 + 1 / math.log2(7)) / 4)
    # mrr: (1 + 1/3 + 1/6 + 0) / 4 = 1.5 / 4 = 0.375
    assert metrics.mrr(ranks) == pytest.approx(0.375)
    with pytest.raises(ValueError, match=r"1-based"):
        metrics.mrr([0, 1])
    with pytest.raises(ValueError, match=r"k must be at least 1"):
        metrics.hit_rate_at([1], 0)


def test_ranking_report_keys_and_values() -> None:
    report = metrics.ranking_report([1, 3, 6, math.inf])
    assert list(report) == ["hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr"]
    assert report["hr@10"] == pytest.approx(0.75)
    assert report["ndcg@5"] == pytest.approx(0.375)
    assert list(metrics.ranking_report([2], ks=(1, 20))) == ["hr@1", "hr@20", "ndcg@20", "mrr"]


def test_sampled_ranking_of_a_constant_scorer_reports_nothing_good() -> None:
    ranks = metrics.target_ranks(np.zeros((50, 100)))
    report = metrics.ranking_report(ranks)
    assert report["hr@10"] == 0.0
    assert report["mrr"] == pytest.approx(1 / 100)


def test_binary_report_keys() -> None:
    labels = [1, 0, 1, 0]
    probabilities = [0.8, 0.6, 0.4, 0.2]
    report = metrics.binary_report(labels, probabilities)
    assert set(report) == {"auc", "logloss", "calibration"}
    assert report["auc"] == pytest.approx(0.75)
    # mean predicted 0.5, observed 0.5
    assert report["calibration"] == pytest.approx(1.0)
    grouped = metrics.binary_report(labels, probabilities, groups=["a", "a", "b", "b"])
    # a: pos 0.8 > neg 0.6 -> 1; b: pos 0.4 > neg 0.2 -> 1
    assert grouped["gauc"] == pytest.approx(1.0)


def test_recall_at_is_micro_averaged_over_users_with_relevant_items() -> None:
    retrieved = [[1, 2, 3, 4], [5, 6], [7, 8]]
    relevant: list[set[int]] = [{2, 4, 9}, {6}, set()]
    # k=2: user 1 finds {2} of 3, user 2 finds {6} of 1, user 3 has none -> (1 + 1) / (3 + 1)
    assert metrics.recall_at(retrieved, relevant, 2) == pytest.approx(0.5)
    # k=4: user 1 finds {2, 4} -> (2 + 1) / 4
    assert metrics.recall_at(retrieved, relevant, 4) == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"at least one relevant item; none of 1 users"):
        metrics.recall_at([[1]], [set()], 5)
    with pytest.raises(ValueError, match=r"2 lists, 1 sets"):
        metrics.recall_at([[1], [2]], [{1}], 5)
