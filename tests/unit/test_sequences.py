"""Sequence readers, leave-one-out splits and the three protocols on hand-made cases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from models.sequences import (
    EvaluationSet,
    SequenceData,
    evaluate,
    evaluation_ranks,
    evaluation_set,
    first_users,
    full_ranks,
    hold_out_last,
    item_attribute_ids,
    leave_one_out,
    read_sequences,
)
from recsys.errors import SequenceDataError, SequenceEvaluationError

SEQREC = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "seqrec"


def _data(sequences: list[list[int]], n_items: int) -> SequenceData:
    return SequenceData(
        [np.asarray(s, dtype=np.int64) for s in sequences],
        [f"u{i}" for i in range(len(sequences))],
        [str(i) for i in range(1, n_items + 1)],
        "user_per_line",
        "<test>",
    )


class _TableScorer:
    """Scores from a fixed ``(users, n_items + 1)`` table; ``score_all`` rows follow the call order."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table
        self.row = 0

    def score_candidates(self, sequences: Sequence[np.ndarray], candidates: np.ndarray) -> np.ndarray:
        rows = self.table[self.row : self.row + len(sequences)]
        self.row += len(sequences)
        return np.take_along_axis(rows, candidates, axis=1)

    def score_all(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        rows = self.table[self.row : self.row + len(sequences)]
        self.row += len(sequences)
        return rows


def test_reads_one_user_a_line_and_keeps_numeric_order(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("7 30 10 20\n3 10 40\n\n")
    data = read_sequences(path)
    assert data.layout == "user_per_line"
    assert data.users == ["7", "3"]
    assert data.items == ["10", "20", "30", "40"]  # numeric, not string, order: ids 1..4
    assert [s.tolist() for s in data.sequences] == [[3, 1, 2], [1, 4]]
    assert (data.n_users, data.n_items, data.n_interactions) == (2, 4, 5)


def test_item_attributes_keep_the_most_frequent_renumbered(tmp_path: Path) -> None:
    sequences = tmp_path / "lines.txt"
    sequences.write_text("1 10 20 30\n")
    data = read_sequences(sequences)  # items "10", "20", "30" are ids 1..3
    attributes = tmp_path / "attributes.json"
    # "10": attribute 7 twice, then 9 and 5 once each (9 seen first); "30" none; "99" unknown.
    attributes.write_text(json.dumps({"10": [9, 7, 5, 7], "20": [5], "99": [1]}))
    ids = item_attribute_ids(attributes, data, width=2)
    assert ids.shape == (5, 2) and ids.dtype == np.int32  # padding, three items, [MASK]
    # Attributes used are 5, 7, 9: renumbered 1, 2, 3. Item 1 keeps 7 (twice) and 9 (first seen).
    assert ids.tolist() == [[0, 0], [2, 3], [1, 0], [0, 0], [0, 0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected an object of item id"),
        ('{"10": [1, "red"]}', "item '10': expected a list of integer ids"),
        ('{"10": 3}', "item '10': expected a list of integer ids"),
        ("{not json", "not JSON"),
    ],
)
def test_bad_item_attribute_files_say_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    sequences = tmp_path / "lines.txt"
    sequences.write_text("1 10 20\n")
    attributes = tmp_path / "attributes.json"
    attributes.write_text(text)
    with pytest.raises(SequenceDataError, match=message):
        item_attribute_ids(attributes, read_sequences(sequences))
    with pytest.raises(SequenceDataError, match="does not exist"):
        item_attribute_ids(tmp_path / "none.json", read_sequences(sequences))


def test_reads_pairs_grouping_each_users_lines_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("1 5\n2 9\n1 2\n1 9\n2 5\n")
    data = read_sequences(path)
    assert data.layout == "pairs"
    assert data.items == ["2", "5", "9"]
    assert [s.tolist() for s in data.sequences] == [[2, 1, 3], [3, 2]]


def test_single_item_lines_read_the_same_in_both_layouts(tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    path.write_text("1 4\n2 8\n")
    data = read_sequences(path)
    assert [s.tolist() for s in data.sequences] == [[1], [2]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2 3\n4\n", ":2: expected"),
        ("1 2 3\n\n1 4 5\n", ":3: user '1' appears on two"),
        ("\n\n", "no interactions"),
    ],
)
def test_bad_files_say_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(SequenceDataError, match=message):
        read_sequences(path)
    with pytest.raises(SequenceDataError, match="does not exist"):
        read_sequences(tmp_path / "absent.txt")


def test_first_users_renumbers_the_items_they_use() -> None:
    data = _data([[5, 2], [2, 7], [1]], n_items=7)
    subset = first_users(data, 2)
    assert subset.items == ["2", "5", "7"]
    assert [s.tolist() for s in subset.sequences] == [[2, 1], [1, 3]]


def test_leave_one_out_and_short_histories() -> None:
    data = _data([[1, 2, 3, 4], [5, 6], [7]], n_items=7)
    split = leave_one_out(data)
    assert [s.tolist() for s in split.train] == [[1, 2], [5], [7]]
    # Validation needs an item before it: only the 4-item user has one.
    assert split.validation.users.tolist() == [0]
    assert split.validation.targets.tolist() == [3]
    assert split.validation.histories[0].tolist() == [1, 2]
    # Test: the 2-item user predicts item 6 from item 5; the 1-item user is training only.
    assert split.test.users.tolist() == [0, 1]
    assert split.test.targets.tolist() == [4, 6]
    assert [h.tolist() for h in split.test.histories] == [[1, 2, 3], [5]]
    # A refit trains on everything but the test items, validation items included.
    assert [s.tolist() for s in split.before_test] == [[1, 2, 3], [5], [7]]


def test_a_validation_sample_lets_the_other_users_train_on_their_second_to_last_item() -> None:
    data = _data([[1, 2, 3, 4], [5, 6, 7], [8, 9], [10, 11, 12]], n_items=12)
    split = leave_one_out(data, validation_users=1, seed=4)
    (chosen,) = split.validation.users.tolist()
    assert chosen in (0, 1, 3)  # the two-item user has no validation case to keep
    for user, train in enumerate(split.train):
        sequence = data.sequences[user]
        assert train.tolist() == (sequence[:-2] if user == chosen else sequence[:-1]).tolist()
    assert split.test.targets.tolist() == [4, 7, 9, 12]  # test items never train
    assert leave_one_out(data, validation_users=1, seed=4).validation.users.tolist() == [chosen]
    assert len(leave_one_out(data, validation_users=99).validation) == 3
    with pytest.raises(SequenceDataError, match="validation_users"):
        leave_one_out(data, validation_users=0)


def test_hold_out_last_keeps_every_other_users_whole_sequence_in_training() -> None:
    data = _data([[1, 2, 3, 4], [5, 6, 7], [8], [9, 10], [11, 12, 13]], n_items=13)
    train, held = hold_out_last(data, users=2, seed=5)
    assert len(held) == 2 and set(held.users.tolist()) <= {0, 1, 3, 4}  # the 1-item user can't be held out
    for user, sequence in enumerate(data.sequences):
        if user in held.users.tolist():
            row = held.users.tolist().index(user)
            assert train[user].tolist() == sequence[:-1].tolist()
            assert held.histories[row].tolist() == sequence[:-1].tolist()
            assert held.targets[row] == sequence[-1]
        else:
            assert train[user].tolist() == sequence.tolist()
    again = hold_out_last(data, users=2, seed=5)[1]
    assert again.users.tolist() == held.users.tolist()  # seeded
    assert len(hold_out_last(data, users=50)[1]) == 4  # more than there are: all eligible users
    with pytest.raises(SequenceDataError, match="positive count"):
        hold_out_last(data, users=0)


@pytest.mark.parametrize("protocol", ["pop100", "uniform99"])
def test_sampled_negatives_never_hold_the_target_or_the_users_items(protocol: str) -> None:
    rng = np.random.default_rng(3)
    n_items = 130  # barely more than the user's items plus the negatives: many rejections
    sequences = [rng.choice(np.arange(1, n_items + 1), size=25, replace=False).tolist() for _ in range(40)]
    data = _data(sequences, n_items)
    split = leave_one_out(data)
    evaluation = evaluation_set(data, split.test, protocol, seed=11)  # type: ignore[arg-type]
    assert evaluation.candidates is not None
    expected = 100 if protocol == "pop100" else 99
    assert evaluation.candidates.shape == (40, 1 + expected)
    assert (evaluation.candidates[:, 0] == split.test.targets).all()
    for row, user in enumerate(split.test.users):
        negatives = evaluation.candidates[row, 1:]
        assert len(set(negatives.tolist())) == expected
        assert not set(negatives.tolist()) & set(data.sequences[user].tolist())
        assert ((negatives >= 1) & (negatives <= n_items)).all()
    again = evaluation_set(data, split.test, protocol, seed=11)  # type: ignore[arg-type]
    assert again.candidates is not None
    np.testing.assert_array_equal(again.candidates, evaluation.candidates)


def test_pop100_draws_popular_items_more_often() -> None:
    # Item 1 is in 300 sequences, items 2..400 once each; the probe users never had item 1.
    busy = [[1, i] for i in range(2, 302)]
    probes = [[i, i + 1, i + 2] for i in range(302, 398, 3)]
    data = _data(busy + probes, n_items=400)
    split = leave_one_out(data)
    probe_cases = np.flatnonzero(split.test.users >= len(busy))
    held = split.test
    sub = type(held)(
        held.users[probe_cases], [held.histories[i] for i in probe_cases], held.targets[probe_cases]
    )
    pop = evaluation_set(data, sub, "pop100", seed=1).candidates
    uniform = evaluation_set(data, sub, "uniform99", seed=1).candidates
    assert pop is not None and uniform is not None
    assert (pop[:, 1:] == 1).any(axis=1).mean() > 0.9  # weight 301 of ~700 in total
    assert (uniform[:, 1:] == 1).any(axis=1).mean() < 0.5  # 99 of ~397 eligible items


def test_too_few_items_left_to_sample_is_an_error() -> None:
    data = _data([[1, 2, 3], [4, 5, 6]], n_items=100)
    with pytest.raises(SequenceEvaluationError, match="leaving 97 < 99 negatives"):
        evaluation_set(data, leave_one_out(data).test, "uniform99", seed=0)
    with pytest.raises(SequenceEvaluationError, match="unknown protocol"):
        evaluation_set(data, leave_one_out(data).test, "pop50", seed=0)  # type: ignore[arg-type]


def test_full_ranks_exclude_only_the_history_and_break_ties_pessimistically() -> None:
    scores = np.array(
        [
            [-np.inf, 9.0, 8.0, 5.0, 5.0, 1.0],  # target 3 ties with 4; items 1, 2 are history
            [-np.inf, 9.0, 8.0, 5.0, 5.0, 1.0],  # same scores, empty history
            [-np.inf, 1.0, 1.0, 1.0, 1.0, 1.0],  # constant scorer: last among the 5 items
            [-np.inf, 9.0, 2.0, 3.0, 4.0, 5.0],  # target 1 repeated in its history stays ranked
        ]
    )
    histories = [np.array([1, 2]), np.array([], dtype=np.int64), np.array([2]), np.array([1, 5])]
    targets = np.array([3, 3, 1, 1])
    assert full_ranks(scores, histories, targets).tolist() == [2, 4, 4, 1]


def test_full_ranks_reject_non_finite_target_scores() -> None:
    with pytest.raises(SequenceEvaluationError, match="NaN or infinite"):
        full_ranks(np.array([[-np.inf, np.nan, 1.0]]), [np.array([], dtype=np.int64)], np.array([1]))


def test_evaluation_through_a_scorer_for_every_protocol() -> None:
    data = _data([[1, 2, 3, 4], [5, 6, 7, 8]] + [[9 + i] for i in range(200)], n_items=208)
    split = leave_one_out(data)
    n = len(split.test)
    oracle = np.zeros((n, data.n_items + 1))
    oracle[:, 0] = -np.inf
    oracle[np.arange(n), split.test.targets] = 10.0
    constant = np.ones_like(oracle)
    constant[:, 0] = -np.inf
    for protocol, last in (("pop100", 101), ("uniform99", 100), ("full", 208 - 3)):
        evaluation = evaluation_set(data, split.test, protocol, seed=5)  # type: ignore[arg-type]
        assert evaluate(_TableScorer(oracle), evaluation, batch_users=1)["hr@1"] == 1.0
        ranks = evaluation_ranks(_TableScorer(constant), evaluation, batch_users=1)
        assert ranks.tolist() == [last, last]
    empty = EvaluationSet("full", [], np.zeros(0, dtype=np.int64), None, 3)
    with pytest.raises(SequenceEvaluationError, match="no held-out case"):
        evaluation_ranks(_TableScorer(oracle), empty)


def test_full_protocol_checks_the_score_width() -> None:
    data = _data([[1, 2, 3]], n_items=3)
    evaluation = evaluation_set(data, leave_one_out(data).test, "full", seed=0)
    with pytest.raises(SequenceEvaluationError, match="expected n_items \\+ 1 = 4"):
        evaluation_ranks(_TableScorer(np.zeros((1, 3))), evaluation)


@pytest.mark.parametrize(
    ("name", "layout", "users", "items", "interactions"),
    [
        ("Beauty.txt", "user_per_line", 22_363, 12_101, 198_502),
        ("beauty-bert4rec.txt", "pairs", 40_226, 54_542, 353_962),
        ("LastFM.txt", "user_per_line", 1_090, 3_646, 52_551),
    ],
)
def test_real_files_match_the_datasets_readme(
    name: str, layout: str, users: int, items: int, interactions: int
) -> None:
    path = SEQREC / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared/datasets not mounted)")
    data = read_sequences(path)
    assert (data.layout, data.n_users, data.n_items, data.n_interactions) == (
        layout,
        users,
        items,
        interactions,
    )
    split = leave_one_out(data)
    assert len(split.test) == users  # every user has at least 5 items
