"""The counting references of bench.seqrec, on hand-made sequences."""

from __future__ import annotations

import numpy as np
import pytest

from models.seq_baselines import CoOccurrence, Popularity, cooccurrence_vectors
from models.sequences import SequenceData, evaluate, evaluation_set, leave_one_out
from recsys.errors import SequenceInputError


def _seqs(*rows: list[int]) -> list[np.ndarray]:
    return [np.asarray(r, dtype=np.int64) for r in rows]


TRAIN = _seqs([1, 2, 3], [1, 2], [4, 5])


def test_popularity_counts_every_occurrence() -> None:
    popularity = Popularity(TRAIN, n_items=6)
    assert popularity.counts.tolist() == [0, 2, 2, 1, 1, 1, 0]
    assert popularity.score_all(_seqs([3], [])).shape == (2, 7)
    np.testing.assert_array_equal(popularity.score_candidates(_seqs([3]), np.array([[6, 1, 4]])), [[0, 2, 1]])


def test_co_occurrence_counts_neighbours_within_one_sequence_only() -> None:
    model = CoOccurrence(TRAIN, n_items=6, window=1, recent=1)
    counts = model.counts.toarray()
    assert counts[1, 2] == counts[2, 1] == 2  # two sequences hold 1 next to 2
    assert counts[2, 3] == counts[4, 5] == 1
    assert counts[3, 4] == 0 and counts[1, 3] == 0  # across sequences; two places apart
    assert CoOccurrence(TRAIN, n_items=6, window=2).counts.toarray()[1, 3] == 1


def test_latest_items_weigh_most_and_popularity_only_breaks_ties() -> None:
    model = CoOccurrence(TRAIN, n_items=6, window=1, recent=2, decay=0.5)
    (scores,) = model.score_all(_seqs([4, 1]))  # 1 is the latest item, 4 the one before
    assert scores[2] == pytest.approx(2.0, abs=1e-3)  # 1's neighbour, weight 1
    assert scores[5] == pytest.approx(0.5, abs=1e-3)  # 4's neighbour, weight 0.5
    assert scores[3] > scores[6]  # no counts for either: the more popular item first
    assert scores[3] < 1e-3
    candidates = np.array([[5, 2, 6, 3]])
    np.testing.assert_allclose(model.score_candidates(_seqs([4, 1]), candidates), scores[candidates])


def test_evaluates_through_the_shared_protocols() -> None:
    # Every user walks a ring of 12 items: the item after the latest is always the next one.
    sequences = [((start + np.arange(8)) % 12 + 1).astype(np.int64) for start in range(40)]
    data = SequenceData(
        sequences, [f"u{i}" for i in range(40)], [str(i) for i in range(1, 13)], "x", "<ring>"
    )
    split = leave_one_out(data)
    test = evaluation_set(data, split.test, "full", seed=0)
    figures = evaluate(CoOccurrence(split.before_test, 12, window=1, recent=1), test)
    # The latest item's two ring neighbours: the one before is in the history, so the target is first.
    assert figures["hr@1"] == 1.0


def test_bad_settings_and_ids_are_refused() -> None:
    with pytest.raises(SequenceInputError, match="window and recent"):
        CoOccurrence(TRAIN, n_items=6, window=0)
    with pytest.raises(SequenceInputError, match="decay"):
        CoOccurrence(TRAIN, n_items=6, decay=0.0)
    with pytest.raises(SequenceInputError, match=r"1\.\.4"):
        Popularity(TRAIN, n_items=4)


def test_cooccurrence_vectors_put_items_that_stand_together_close() -> None:
    # Two groups that never meet: items 1-5 and items 6-10, each shuffled within its group.
    rng = np.random.default_rng(0)
    train = [rng.permutation(np.arange(1, 6) + 5 * (u % 2)).astype(np.int64) for u in range(200)]
    vectors = cooccurrence_vectors(train, n_items=10, dim=4, window=2, scale=0.1, seed=1)
    assert vectors.shape == (11, 4) and vectors.dtype == np.float32
    assert not vectors[0].any()  # padding
    assert vectors[1:].std() == pytest.approx(0.1, rel=1e-4)
    unit = vectors[1:] / np.linalg.norm(vectors[1:], axis=1, keepdims=True)
    cosine = unit @ unit.T
    same = cosine[:5, :5][~np.eye(5, dtype=bool)].min(), cosine[5:, 5:][~np.eye(5, dtype=bool)].min()
    assert min(same) > cosine[:5, 5:].max()  # every pair within a group beats every pair across
    np.testing.assert_array_equal(vectors, cooccurrence_vectors(train, 10, 4, window=2, scale=0.1, seed=1))


def test_cooccurrence_vectors_refuse_what_they_cannot_factorise() -> None:
    with pytest.raises(SequenceInputError, match="dim must lie"):
        cooccurrence_vectors(TRAIN, n_items=6, dim=6)
    with pytest.raises(SequenceInputError, match="no two items co-occur"):
        cooccurrence_vectors(_seqs([1], [2]), n_items=6, dim=2)
