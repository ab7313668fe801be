"""BERT4Rec: learns a planted order (full and sampled softmax), saves/loads exactly, masks as
documented, samples negatives as documented, rejects bad input."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import keras  # type: ignore[import-untyped]
import numpy as np
import pytest
import tensorflow as tf  # type: ignore[import-untyped]

from models.bert4rec import (
    Bert4Rec,
    Sampler,
    SequenceEmbedding,
    TiedItemScores,
    TrainConfig,
    TransformerBlock,
    _mask_batch,
    build_bert4rec,
    dense_gradients,
    draw_negatives,
    encode_histories,
    fit_bert4rec,
    refit_schedule,
    sampled_logits,
    sampled_softmax_loss,
    sampling_probabilities,
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


# The small model and schedule that learn _planted() in seconds.
PLANTED_MODEL: dict[str, Any] = {"max_len": 20, "hidden": 32, "layers": 1, "heads": 2}
PLANTED_TRAINING: dict[str, Any] = {
    "epochs": 30, "batch_size": 64, "learning_rate": 3e-3, "warmup_steps": 20, "mask_prob": 0.3, "seed": 1
}  # fmt: skip


@pytest.fixture(scope="module")
def trained() -> tuple[Bert4Rec, SequenceData, dict[str, float], list[str]]:
    data = _planted()
    split = leave_one_out(data)
    model = build_bert4rec(N_ITEMS, seed=1, **PLANTED_MODEL)
    lines: list[str] = []
    config = TrainConfig(**PLANTED_TRAINING, validate_every=3)
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


def _attributed(n_items: int = 6) -> tuple[Bert4Rec, np.ndarray]:
    # Items 1-3 share attribute 1; items 4-6 attribute 2; item 6 also has attribute 3.
    ids = np.zeros((n_items + 2, 2), dtype=np.int32)
    ids[1:4, 0], ids[4:7, 0], ids[6, 1] = 1, 2, 3
    return build_bert4rec(n_items, seed=3, item_attributes=ids, max_len=6, hidden=8, heads=2), ids


def test_item_vectors_add_the_mean_of_their_attributes() -> None:
    model, ids = _attributed()
    table = model.embedding.table.numpy()
    attributes = model.embedding.attributes.numpy()
    vectors = np.asarray(model.embedding.vectors())
    np.testing.assert_allclose(vectors[0], table[0], atol=1e-6)  # padding: no attributes
    np.testing.assert_allclose(vectors[2], table[2] + attributes[1], atol=1e-6)
    np.testing.assert_allclose(vectors[6], table[6] + (attributes[2] + attributes[3]) / 2, atol=1e-6)
    config = model.get_config()
    assert (config["n_attributes"], config["attribute_width"]) == (3, 2)
    with pytest.raises(SequenceInputError, match="attribute ids must be"):
        model.embedding.set_attributes(ids[:, :1])
    with pytest.raises(SequenceInputError, match=r"must lie in 0\.\.3"):
        model.embedding.set_attributes(ids + 3)
    with pytest.raises(TrainingError, match="item attributes need"):
        Bert4Rec(6, n_attributes=3, attribute_width=0)


def test_a_model_with_attributes_saves_and_loads_them(tmp_path: Path) -> None:
    model, ids = _attributed()
    histories = [np.array([1, 2]), np.array([4, 5, 6])]
    path = tmp_path / "attributed.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Bert4Rec) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.embedding.attribute_ids.numpy(), ids)
    np.testing.assert_allclose(loaded.score_all(histories), model.score_all(histories), atol=1e-6)


def test_attributes_let_the_model_learn_the_planted_successor() -> None:
    data = _planted()
    split = leave_one_out(data)
    # Every item's attribute: its id modulo 10, a hint shared across ten items each.
    attributes = np.zeros((N_ITEMS + 2, 1), dtype=np.int32)
    attributes[1 : N_ITEMS + 1, 0] = np.arange(N_ITEMS) % 10 + 1
    model = build_bert4rec(N_ITEMS, seed=1, item_attributes=attributes, **PLANTED_MODEL)
    fit_bert4rec(model, split.train, None, TrainConfig(**PLANTED_TRAINING))
    tested = evaluate(model, evaluation_set(data, split.test, "full", seed=3))
    assert tested["hr@10"] > 0.5  # chance is 10 / 200


def test_layer_configs_round_trip() -> None:
    layers: list[keras.layers.Layer] = [
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


def test_a_refit_replays_the_chosen_epochs_and_learning_rates() -> None:
    data = _planted(users=120, seed=4)
    split = leave_one_out(data)
    validation = evaluation_set(data, split.validation, "full", seed=2)
    model = build_bert4rec(N_ITEMS, seed=7, max_len=10, hidden=16, layers=1, heads=1)
    # Patience 1 and decay after every miss: the rate halves at the first epoch without gain.
    config = TrainConfig(epochs=12, batch_size=32, seed=7, warmup_steps=0, decay_patience=1, patience=3)
    summary = fit_bert4rec(model, split.train, validation, config, log=print)
    scales = [r.lr_scale for r in summary.history]
    assert scales[0] == 1.0 and all(b in (a, a / 2) for a, b in itertools.pairwise(scales))
    schedule = refit_schedule(summary)
    assert schedule == scales[: summary.best_epoch]

    lines: list[str] = []
    fresh = build_bert4rec(N_ITEMS, seed=7, max_len=10, hidden=16, layers=1, heads=1)
    refitted = fit_bert4rec(
        fresh, split.before_test, None, config, log=lines.append, schedule=[1.0, 0.5, 0.25]
    )
    assert [r.lr_scale for r in refitted.history] == [1.0, 0.5, 0.25]
    assert refitted.stop_reason == "reached 3 epochs" and len(lines) == 3 and "epoch   3/3" in lines[-1]
    assert "lr 0.00025" in lines[-1]
    for bad in ([], [1.0, 0.0]):
        with pytest.raises(TrainingError, match="one positive scale per epoch"):
            fit_bert4rec(fresh, split.before_test, None, config, schedule=bad)


def test_given_item_vectors_replace_the_random_start_of_the_items_only() -> None:
    vectors = np.random.default_rng(0).normal(size=(N_ITEMS + 1, 16)).astype(np.float32)
    model = build_bert4rec(N_ITEMS, seed=7, item_vectors=vectors, max_len=10, hidden=16, layers=1, heads=1)
    plain = build_bert4rec(N_ITEMS, seed=7, max_len=10, hidden=16, layers=1, heads=1)
    table, start = model.embedding.table.numpy(), plain.embedding.table.numpy()
    np.testing.assert_array_equal(table[1 : N_ITEMS + 1], vectors[1:])
    np.testing.assert_array_equal(table[[0, N_ITEMS + 1]], start[[0, N_ITEMS + 1]])  # padding, [MASK]
    with pytest.raises(SequenceInputError, match="item vectors must be finite"):
        model.embedding.set_item_vectors(vectors[:, :8])
    vectors[3, 0] = np.nan
    with pytest.raises(SequenceInputError, match="item vectors must be finite"):
        model.embedding.set_item_vectors(vectors)


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


# -- sampled softmax -------------------------------------------------------------------------


def test_sampled_softmax_learns_the_planted_successor() -> None:
    data = _planted()
    split = leave_one_out(data)
    model = build_bert4rec(N_ITEMS, seed=1, **PLANTED_MODEL)
    lines: list[str] = []
    summary = fit_bert4rec(
        model, split.train, None, TrainConfig(**PLANTED_TRAINING, negatives=32), log=lines.append
    )
    tested = evaluate(model, evaluation_set(data, split.test, "full", seed=3))
    chance = 10 / N_ITEMS
    assert tested["hr@10"] > 10 * chance, tested
    assert len(lines) == 30 and lines[0].endswith("sampled 32") and summary.best_epoch == 30


@pytest.mark.parametrize("sampler", ["uniform", "popularity"])
def test_sampled_steps_run_with_and_without_logq(sampler: Sampler) -> None:
    data = _planted(users=120, seed=4)
    split = leave_one_out(data)
    losses = {}
    for logq in (True, False):
        model = build_bert4rec(N_ITEMS, seed=7, max_len=10, hidden=16, layers=1, heads=1)
        config = TrainConfig(
            epochs=2, batch_size=32, seed=7, negatives=16, negative_sampler=sampler, logq_correction=logq
        )
        summary = fit_bert4rec(model, split.train, None, config, log=print)
        losses[logq] = [r.loss for r in summary.history]
    assert all(np.isfinite(v).all() and min(v) > 0 for v in losses.values()), losses
    if sampler == "uniform":  # log q is the same for every id: a shift the softmax ignores
        np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)
    else:
        assert losses[True] != losses[False]


def test_sampled_logits_subtract_log_q_and_mask_accidental_hits() -> None:
    positive = tf.constant([1.0, 2.0])
    sampled = tf.constant([[0.5, 0.25, 0.125], [3.0, 4.0, 5.0]])
    labels = tf.constant([3, 5])
    ids = tf.constant([3, 4, 5])
    log_q = tf.constant(np.log([1.0, 0.1, 0.2, 0.3, 0.2, 0.2, 1.0]), tf.float32)  # by token id, 0..6
    plain = sampled_logits(positive, sampled, labels, ids, None).numpy()
    assert plain.shape == (2, 4)
    np.testing.assert_allclose(plain[0], [1.0, -1e9, 0.25, 0.125])  # row 0's label 3 was drawn
    np.testing.assert_allclose(plain[1], [2.0, 3.0, 4.0, -1e9])  # row 1's label 5 was drawn
    corrected = sampled_logits(positive, sampled, labels, ids, log_q).numpy()
    np.testing.assert_allclose(
        corrected[0, [0, 2, 3]], [1.0 - np.log(0.3), 0.25 - np.log(0.2), 0.125 - np.log(0.2)]
    )
    np.testing.assert_allclose(corrected[1, :3], [2.0 - np.log(0.2), 3.0 - np.log(0.3), 4.0 - np.log(0.2)])
    assert corrected[0, 1] == corrected[1, 3] == -1e9  # a hit stays masked after the correction
    # The masked hit adds nothing: the loss is the cross-entropy over the remaining columns.
    expected = np.mean([np.log(np.exp(r[r > -1e8]).sum()) - r[0] for r in plain])
    np.testing.assert_allclose(float(sampled_softmax_loss(tf.constant(plain))), expected, rtol=1e-6)


def test_sampled_loss_over_every_item_once_is_the_full_softmax() -> None:
    model = build_bert4rec(9, seed=2, max_len=4, hidden=8, layers=1, heads=2)
    states = tf.random.stateless_normal((5, 8), seed=(1, 2))
    labels = tf.constant([1, 4, 9, 2, 4])
    table = model.embedding.table
    full = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels - 1, logits=model.scores([states, table])
    )
    ids = tf.range(1, 10)  # each row's label is among them, masked as a hit, and stands in column 0
    positive, sampled = model.scores.sampled(states, table, labels, ids)
    uniform = tf.constant(np.log(np.full(11, 1 / 9)), tf.float32)
    loss = sampled_softmax_loss(sampled_logits(positive, sampled, labels, ids, uniform))
    np.testing.assert_allclose(float(loss), float(tf.reduce_mean(full)), rtol=1e-5)
    np.testing.assert_allclose(sampled.numpy(), model.scores([states, table]).numpy(), atol=1e-5)


def test_sparse_gradients_are_summed_before_adam() -> None:
    table = tf.Variable(tf.zeros((3, 1)))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.gather(table, [0, 0, 1]) * tf.constant([[1.0], [1.0], [-1.0]]))
    sparse = tape.gradient(loss, [table])
    (dense,) = dense_gradients(sparse)
    assert isinstance(sparse[0], tf.IndexedSlices) and not isinstance(dense, tf.IndexedSlices)
    assert dense.numpy().ravel().tolist() == [2.0, -1.0, 0.0]  # row 0's two slices added up
    optimizer = keras.optimizers.Adam(learning_rate=0.1)
    optimizer.build([table])
    optimizer.apply_gradients([(dense, table)])
    # Adam's first step moves each touched row by lr against the sign of its summed gradient.
    np.testing.assert_allclose(table.numpy().ravel(), [-0.1, 0.1, 0.0], atol=1e-5)


def test_negatives_follow_the_sampler() -> None:
    windows = training_windows([np.array([1, 1, 1, 2]), np.array([1, 3]), np.array([2, 1])], max_len=4)
    popular = sampling_probabilities(windows, n_items=5, sampler="popularity")
    # Counts 5, 2, 1, 0, 0 plus one each over token ids 1..5; padding and [MASK] never drawn.
    np.testing.assert_allclose(popular, np.array([0, 6, 3, 2, 1, 1, 0]) / 13)
    uniform = sampling_probabilities(windows, n_items=5, sampler="uniform")
    np.testing.assert_allclose(uniform, [0, 0.2, 0.2, 0.2, 0.2, 0.2, 0])
    drawn = draw_negatives(np.cumsum(popular[1:6]), 20_000, np.random.default_rng(0))
    assert drawn.dtype == np.int32 and drawn.min() >= 1 and drawn.max() <= 5
    np.testing.assert_allclose(np.bincount(drawn, minlength=6)[1:] / len(drawn), popular[1:6], atol=0.01)
    assert (draw_negatives(np.cumsum(uniform[1:6]), 8, np.random.default_rng(3)) >= 1).all()


def test_bad_sampled_softmax_settings_are_refused() -> None:
    TrainConfig(negatives=64, negative_sampler="uniform", logq_correction=False).check()
    bad: list[tuple[dict[str, object], str]] = [
        ({"negatives": -1}, "negatives must be an int >= 0"),
        ({"negatives": 2.5}, "negatives must be an int >= 0"),
        ({"negatives": True}, "negatives must be an int >= 0"),
        ({"negative_sampler": "zipf"}, "negative_sampler must be uniform or popularity, got 'zipf'"),
        ({"logq_correction": "yes"}, "logq_correction must be True or False"),
    ]
    for settings, message in bad:
        with pytest.raises(TrainingError, match=message):
            TrainConfig(**settings).check()  # type: ignore[arg-type]
