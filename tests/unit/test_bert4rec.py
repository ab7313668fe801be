"""BERT4Rec: learns a planted order, saves/loads exactly, masks as documented, rejects bad input."""

from __future__ import annotations

from pathlib import Path

import keras  # type: ignore[import-untyped]
import numpy as np
import pytest

from models.bert4rec import (
    Bert4Rec,
    SequenceEmbedding,
    TiedItemScores,
    TrainConfig,
    TransformerBlock,
    _mask_batch,
    build_bert4rec,
    encode_histories,
    fit_bert4rec,
    training_windows,
)
from models.sequences import SequenceData, evaluate, evaluation_set, leave_one_out
from recsys.errors import SequenceInputError, TrainingError

N_ITEMS = 200


def _planted(users: int = 600, seed: int = 0) -> SequenceData:
    """Item i is always followed by item i + 1 (wrapping), from a random start."""
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(users):
        start, length = rng.integers(1, N_ITEMS + 1), rng.integers(5, 15)
        sequences.append(((start - 1 + np.arange(length)) % N_ITEMS + 1).astype(np.int64))
    names = [str(i) for i in range(1, N_ITEMS + 1)]
    return SequenceData(sequences, [f"u{i}" for i in range(users)], names, "user_per_line", "<planted>")


@pytest.fixture(scope="module")
def trained() -> tuple[Bert4Rec, SequenceData, dict[str, float], list[str]]:
    data = _planted()
    split = leave_one_out(data)
    model = build_bert4rec(N_ITEMS, seed=1, max_len=20, hidden=32, layers=1, heads=2)
    lines: list[str] = []
    config = TrainConfig(
        epochs=30, batch_size=64, learning_rate=3e-3, warmup_steps=20, mask_prob=0.3, validate_every=3, seed=1
    )
    fit_bert4rec(
        model, split.train, evaluation_set(data, split.validation, "full", seed=2), config, log=lines.append
    )
    tested = evaluate(model, evaluation_set(data, split.test, "full", seed=3))
    return model, data, tested, lines


def test_learns_the_planted_successor(
    trained: tuple[Bert4Rec, SequenceData, dict[str, float], list[str]],
) -> None:
    _, _, tested, lines = trained
    chance = 10 / N_ITEMS
    assert tested["hr@10"] > 10 * chance, tested
    assert len(lines) == 30 and "masked-item loss" in lines[0] and "elapsed" in lines[0]
    assert "val hr@10" in lines[2] and "val hr@10" not in lines[0]  # validated every 3rd epoch


def test_save_load_gives_equal_predictions(
    trained: tuple[Bert4Rec, SequenceData, dict[str, float], list[str]], tmp_path: Path
) -> None:
    model, data, _, _ = trained
    histories = [s[:-1] for s in data.sequences[:40]]
    candidates = np.stack([np.arange(1, 11) + i for i in range(40)])
    path = tmp_path / "bert4rec.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Bert4Rec) and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.score_all(histories), model.score_all(histories), rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        loaded.score_candidates(histories, candidates),
        model.score_candidates(histories, candidates),
        atol=1e-6,
    )


def test_candidate_scores_match_the_catalog_scores_and_ignore_batch_padding(
    trained: tuple[Bert4Rec, SequenceData, dict[str, float], list[str]],
) -> None:
    model, data, _, _ = trained
    short, long = data.sequences[0][:2], data.sequences[1]
    together = model.score_all([short, long])
    alone = model.score_all([short])  # a narrower batch: fewer padding columns
    np.testing.assert_allclose(together[0], alone[0], atol=1e-5)
    candidates = np.array([[3, 1, 200], [7, 8, 9]])
    np.testing.assert_allclose(
        model.score_candidates([short, long], candidates),
        np.take_along_axis(together, candidates, 1),
        atol=1e-4,
    )
    assert np.isneginf(together[:, 0]).all()
    top = model.top_k([long], k=5)
    assert top.shape == (1, 5) and not set(top[0].tolist()) & set(long.tolist())
    assert (np.diff(together[0][model.top_k([short], k=5, exclude_history=False)[0]]) <= 0).all()


def test_layer_configs_round_trip() -> None:
    layers = [
        SequenceEmbedding(n_items=9, max_len=6, hidden=8, dropout=0.2),
        TransformerBlock(hidden=8, heads=2, ffn=16, dropout=0.1, attention_dropout=0.3),
        TiedItemScores(n_items=9, hidden=8),
    ]
    for layer in layers:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    model = Bert4Rec(9, max_len=6, hidden=8, layers=3, heads=4, dropout=0.2)
    assert Bert4Rec.from_config(model.get_config()).get_config() == model.get_config()
    assert model.get_config()["layers"] == 3 and model.get_config()["ffn"] == 32


def test_encode_histories_right_aligns_and_truncates() -> None:
    ids = encode_histories([np.array([1, 2, 3, 4, 5]), np.array([7]), np.array([], dtype=np.int64)], 4, 99)
    assert ids.tolist() == [[3, 4, 5, 99], [0, 0, 7, 99], [0, 0, 0, 99]]
    assert encode_histories([np.array([5])], 4, 99).tolist() == [[5, 99]]  # cut to the batch's longest


def test_training_windows_cover_long_sequences() -> None:
    rows = training_windows([np.arange(1, 11), np.array([4]), np.array([], dtype=np.int64)], max_len=6)
    # 10 items, windows of 6 ending at 10, 7 and 4 (stride 3), then the one-item user.
    assert rows[:, -1].tolist() == [10, 7, 4, 4]
    assert rows[2].tolist() == [0, 0, 1, 2, 3, 4]
    assert rows[3].tolist() == [0, 0, 0, 0, 0, 4]


def test_masking_hides_only_real_items_and_labels_them() -> None:
    rng = np.random.default_rng(0)
    rows = training_windows([np.arange(1, 1 + n) for n in rng.integers(1, 9, size=500)], max_len=8)
    inputs, positions, labels = _mask_batch(rows, mask_id=50, mask_prob=0.4, last_share=0.0, rng=rng)
    width = inputs.shape[1]
    flat_rows = rows[:, -width:].reshape(-1)
    assert (labels == flat_rows[positions]).all() and (labels > 0).all()  # never a padding position
    assert (inputs.reshape(-1)[positions] == 50).all()
    assert np.count_nonzero(inputs == 50) == len(positions)
    assert len(np.unique(positions // width)) == len(rows)  # every row predicts something
    share = len(positions) / np.count_nonzero(rows)
    assert 0.35 < share < 0.5  # mask_prob plus the rows forced to one mask
    inputs, positions, _ = _mask_batch(rows, mask_id=50, mask_prob=0.4, last_share=1.0, rng=rng)
    assert (positions % width == width - 1).all() and len(positions) == len(rows)


def test_training_is_seeded() -> None:
    data = _planted(users=120, seed=4)
    split = leave_one_out(data)
    losses = []
    for _ in range(2):
        model = build_bert4rec(N_ITEMS, seed=7, max_len=10, hidden=16, layers=1, heads=1)
        summary = fit_bert4rec(
            model, split.train, None, TrainConfig(epochs=2, batch_size=32, seed=7), log=print
        )
        losses.append([r.loss for r in summary.history])
        assert summary.best_epoch == 2 and summary.stop_reason == "reached 2 epochs"
    assert losses[0] == losses[1]


def test_bad_settings_and_inputs_are_refused() -> None:
    with pytest.raises(TrainingError, match="mask_prob"):
        TrainConfig(mask_prob=0.0).check()
    with pytest.raises(TrainingError, match="n_items"):
        Bert4Rec(0)
    with pytest.raises(ValueError, match="not divisible"):
        TransformerBlock(hidden=10, heads=3, ffn=8, dropout=0.0, attention_dropout=0.0)
    model = build_bert4rec(5, max_len=4, hidden=8, layers=1, heads=2)
    with pytest.raises(SequenceInputError, match=r"candidate ids must lie in 1\.\.5"):
        model.score_candidates([np.array([1])], np.array([[6]]))
    with pytest.raises(SequenceInputError, match=r"history item ids must lie in 1\.\.5"):
        model.score_all([np.array([1, 6])])
    with pytest.raises(SequenceInputError, match="candidates must be"):
        model.score_candidates([np.array([1])], np.array([1, 2]))
    with pytest.raises(TrainingError, match="nothing to learn"):
        fit_bert4rec(model, [np.array([], dtype=np.int64)], None, TrainConfig(epochs=1))
