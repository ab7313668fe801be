"""DeepFM: both variants learn a planted signal, save/load exactly, and reject bad specs and inputs."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from models import layers
from models.deepfm import (
    ITEM_TAGS,
    USER_TAG_PROFILE,
    FeatureSpec,
    SequenceField,
    TagFields,
    Variant,
    build_deepfm,
    check_inputs,
)
from models.metrics import auc
from models.training import FitResult, SharedRows, fit, make_dataset, predict
from recsys.errors import FeatureInputError, FeatureSpecError, TrainingError

USERS, ITEMS, CATEGORIES, TAGS, MAX_TAGS, HISTORY = 60, 80, 6, 12, 3, 4
SPEC = FeatureSpec(
    categorical={"user": USERS, "item": ITEMS, "category": CATEGORIES},
    numeric=("item_log_count",),
    sequences={"history": SequenceField(ITEMS, HISTORY, shared_with="item")},
    tags=TagFields(vocab_size=TAGS, max_tags=MAX_TAGS, profile_top_k=4, pair_buckets=32),
)


def synthetic(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Examples whose label depends on whether the item's category (and tags) suit the user."""
    rng = np.random.default_rng(seed)
    world = np.random.default_rng(0)  # users' tastes and the catalog are the same in every split
    taste = world.integers(1, CATEGORIES, USERS)
    item_category = world.integers(1, CATEGORIES, ITEMS)
    item_tags = np.zeros((ITEMS, MAX_TAGS), np.int64)
    item_tags[:, 0] = item_category  # tag k means "category k"; the others are noise tags
    item_tags[:, 1] = world.integers(CATEGORIES, TAGS, ITEMS)
    user = rng.integers(1, USERS, n)
    item = rng.integers(1, ITEMS, n)
    profile = np.zeros((n, TAGS), np.float32)
    profile[np.arange(n), taste[user]] = 1.0
    profile[:, 1:] += rng.random((n, TAGS - 1)).astype(np.float32) * 0.2
    arrays: dict[str, np.ndarray] = {
        "user": user,
        "item": item,
        "category": item_category[item],
        "item_log_count": rng.normal(size=n).astype(np.float32),
        "history": rng.integers(0, ITEMS, (n, HISTORY)),
        ITEM_TAGS: item_tags[item],
        USER_TAG_PROFILE: profile,
    }
    logit = 4.0 * (item_category[item] == taste[user]) - 2.0 + arrays["item_log_count"]
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    return arrays, labels


TRAIN = synthetic(4000, seed=1)
VALIDATION = synthetic(1000, seed=2)  # early stopping watches this one
HELD_OUT = synthetic(1000, seed=3)


def _inputs(arrays: dict[str, np.ndarray], variant: Variant) -> dict[str, np.ndarray]:
    return {name: arrays[name] for name in SPEC.input_names(variant)}


def _scores(model: keras.Model, arrays: dict[str, np.ndarray], variant: Variant) -> np.ndarray:
    return predict(model, make_dataset(_inputs(arrays, variant), None, 512, False, 0))


@pytest.fixture(scope="module", params=["baseline", "tags"])
def trained(request: pytest.FixtureRequest) -> tuple[Variant, keras.Model, FitResult]:
    variant: Variant = request.param
    keras.utils.set_random_seed(7)
    model = build_deepfm(SPEC, variant, embedding_dim=8, hidden=(32, 16), seed=7)
    train = make_dataset(_inputs(TRAIN[0], variant), TRAIN[1], 128, True, 7)
    validation = make_dataset(_inputs(VALIDATION[0], variant), VALIDATION[1], 512, False, 7)
    lines: list[str] = []
    result = fit(model, train, validation, epochs=4, patience=2, learning_rate=1e-2, seed=7, log=lines.append)
    assert len(lines) == result.epochs_run and "ex/s" in lines[0]
    return variant, model, result


def test_both_variants_learn_the_planted_signal(trained: tuple[Variant, keras.Model, FitResult]) -> None:
    variant, model, result = trained
    held_out_auc = auc(HELD_OUT[1], _scores(model, HELD_OUT[0], variant))
    assert held_out_auc >= 0.7, f"{variant}: held-out AUC {held_out_auc:.3f}"
    assert result.best_value == max(e.validation["val_auc"] for e in result.history)


def test_save_and_load_give_equal_predictions(
    trained: tuple[Variant, keras.Model, FitResult], tmp_path: Path
) -> None:
    variant, model, _ = trained
    path = tmp_path / f"deepfm_{variant}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    before = _scores(model, HELD_OUT[0], variant)
    np.testing.assert_allclose(_scores(loaded, HELD_OUT[0], variant), before, rtol=0, atol=1e-6)


def _seeded_build(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return build_deepfm(SPEC, "tags", embedding_dim=8, hidden=(16,), seed=seed)


def test_the_same_seed_builds_the_same_model() -> None:
    first, second = _seeded_build(3), _seeded_build(3)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


LAYERS: list[Any] = [
    layers.MaskedMean(name="bag"),
    layers.WeightedSum(),
    layers.StackFields(),
    layers.FMInteraction(),
    layers.NumericFields(8, l2=1e-5, seed=4),
    layers.ProfileTopTags(5),
    layers.TagAttention(num_heads=4, key_dim=2, dropout=0.1, seed=5),
    layers.TagPairHash(vocab_size=50, buckets=64),
    layers.TagCosine(),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: type(layer).__name__)
def test_layer_config_round_trips(layer: Any) -> None:
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"recsys>{type(layer).__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(layer) and restored.get_config() == config


def test_fm_interaction_equals_the_sum_over_field_pairs() -> None:
    fields = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32)
    brute = sum((fields[:, i] * fields[:, j]).sum(axis=1) for i in range(4) for j in range(i + 1, 4))
    got = keras.ops.convert_to_numpy(layers.FMInteraction()(fields))
    np.testing.assert_allclose(got[:, 0], brute, rtol=1e-5, atol=1e-5)


def test_bags_and_tag_features_ignore_padding() -> None:
    values = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    ids = np.array([[7, 0, 3]])
    mean = keras.ops.convert_to_numpy(layers.MaskedMean()([values, ids]))
    np.testing.assert_allclose(mean[0], (values[0, 0] + values[0, 2]) / 2)

    profile = np.array([[9.0, 0.0, 3.0, 4.0]], np.float32)  # index 0 is padding: ignored
    tags = np.array([[2, 3, 0]])
    cosine = float(keras.ops.convert_to_numpy(layers.TagCosine()([profile, tags]))[0, 0])
    assert cosine == pytest.approx((3.0 + 4.0) / (5.0 * np.sqrt(2.0)), rel=1e-5)

    pairs = keras.ops.convert_to_numpy(
        layers.TagPairHash(vocab_size=4, buckets=64)(np.array([[2, 3, 0], [3, 2, 0]]))
    )
    assert pairs.shape == (2, 3)
    assert pairs[0, 0] == pairs[1, 0] > 0 and (pairs[:, 1:] == 0).all()  # {2,3} = {3,2}; padding pairs 0


def test_a_missing_input_array_is_named() -> None:
    arrays = {k: v for k, v in TRAIN[0].items() if k != "history"}
    with pytest.raises(FeatureInputError, match="history"):
        check_inputs(SPEC, "baseline", arrays)
    with pytest.raises(FeatureInputError, match=USER_TAG_PROFILE):
        check_inputs(SPEC, "tags", {k: v for k, v in TRAIN[0].items() if k != USER_TAG_PROFILE})


def test_malformed_inputs_are_named() -> None:
    arrays = dict(TRAIN[0])
    with pytest.raises(FeatureInputError, match=r"'item'.*outside its vocabulary \[0, 80\)"):
        check_inputs(SPEC, "baseline", arrays | {"item": arrays["item"] + ITEMS})
    with pytest.raises(FeatureInputError, match=r"'history' has shape .* expected \(n, 4\)"):
        check_inputs(SPEC, "baseline", arrays | {"history": arrays["history"][:, :2]})
    with pytest.raises(FeatureInputError, match="'category' holds ids and must be integer"):
        check_inputs(SPEC, "baseline", arrays | {"category": arrays["category"].astype(float)})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"categorical": {}, "sequences": {}}, "no categorical or sequence field"),
        ({"categorical": {"user": 1, "item": ITEMS}}, "'user' must be an integer >= 2"),
        ({"sequences": {"history": SequenceField(ITEMS, HISTORY, shared_with="shop")}}, "'shop'"),
        ({"sequences": {"history": SequenceField(ITEMS + 1, HISTORY, shared_with="item")}}, "vocabulary 81"),
        ({"numeric": ("user",)}, "'user' is used twice"),
        ({"numeric": ("item_tags",)}, "'item_tags' is used twice or reserved"),
        ({"tags": TagFields(TAGS, 0, 4, 32)}, "tags.max_tags"),
    ],
)
def test_bad_specs_are_rejected(change: dict[str, Any], message: str) -> None:
    fields = {"categorical": SPEC.categorical, "numeric": SPEC.numeric, "sequences": SPEC.sequences}
    with pytest.raises(FeatureSpecError, match=message):
        FeatureSpec(**(fields | change))


def test_tags_variant_needs_tag_fields_and_variants_are_checked() -> None:
    plain = FeatureSpec(categorical={"user": USERS, "item": ITEMS})
    with pytest.raises(FeatureSpecError, match=r"needs FeatureSpec\.tags"):
        build_deepfm(plain, "tags")
    with pytest.raises(FeatureSpecError, match="unknown DeepFM variant 'wide'"):
        build_deepfm(plain, "wide")  # type: ignore[arg-type]


def test_spec_json_round_trips_and_rejects_unknown_keys() -> None:
    assert FeatureSpec.from_json(SPEC.to_json()) == SPEC
    with pytest.raises(FeatureSpecError, match="keys"):
        FeatureSpec.from_json('{"categorical": {"item": 5}, "colour": 1}')


def test_make_dataset_names_arrays_of_different_lengths_and_gathers_shared_rows() -> None:
    with pytest.raises(TrainingError, match="'item': 3"):
        make_dataset({"user": np.zeros(4, int), "item": np.zeros(3, int)}, None, 2, False, 0)
    rows = np.array([[1.0, 2.0], [3.0, 4.0]])
    dataset = make_dataset({"pair": SharedRows(rows, np.array([1, 1, 0]))}, np.array([1, 0, 1]), 8, False, 0)
    features, labels = next(iter(dataset))
    np.testing.assert_array_equal(features["pair"].numpy(), rows[[1, 1, 0]])
    np.testing.assert_array_equal(labels.numpy(), [1, 0, 1])


def test_fit_names_a_monitor_it_never_computes() -> None:
    model = build_deepfm(SPEC, "baseline", embedding_dim=4, hidden=(8,))
    train = make_dataset(_inputs(TRAIN[0], "baseline"), TRAIN[1], 1024, False, 0)
    with pytest.raises(TrainingError, match=r"'val_ndcg@10'.*available"):
        fit(
            model,
            train,
            None,
            epochs=1,
            patience=1,
            learning_rate=1e-3,
            monitor="val_ndcg@10",
            log=lambda _: None,
        )
