"""Two-tower recall: learns planted tastes, places new items by content, round-trips, rejects bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import keras  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import pytest

from models import metrics
from models.index import BruteForceRetriever
from models.recall_data import USER_COUNTERS, RecallEncoder, relevant_rows, token_bucket
from models.two_tower import (
    IdDropout,
    KnownIdVectors,
    TwoTower,
    TwoTowerConfig,
    fit_two_tower,
    in_batch_loss,
    load_two_tower,
)
from recsys.errors import RecallDataError, RecallModelError

CATEGORIES = ("cameras", "lenses", "laptops", "phones", "tvs", "speakers")
ITEMS_PER_CATEGORY = 20
NEW_PER_CATEGORY = 3
K = 20


def _items(rng: np.random.Generator) -> pd.DataFrame:
    """Items whose brand, tags, title words and price all follow their category; some are new."""
    rows = []
    for c, category in enumerate(CATEGORIES):
        for i in range(ITEMS_PER_CATEGORY + NEW_PER_CATEGORY):
            new = i >= ITEMS_PER_CATEGORY
            words = [f"{category}word{w}" for w in rng.choice(6, size=3, replace=False)]
            rows.append({
                "item_id": f"{'N' if new else 'I'}{c}-{i:02d}",
                "category": category,
                "brand": f"brand{c}{i % 2}",
                "price": float(100 * (c + 1) * rng.uniform(0.8, 1.25)),
                "tags": sorted({f"T{c}a", f"T{c}b", f"T{int(rng.integers(0, 40))}"}),
                "title": f"Brand{c}{i % 2} {' '.join(words)} model {i}",
                "new": new,
            })  # fmt: skip
    return pd.DataFrame(rows)


def _users(rng: np.random.Generator, items: pd.DataFrame, count: int) -> pd.DataFrame:
    """Users with one favourite category, shown in their history, counters and preferences."""
    known = items[~items["new"]]
    rows = []
    for u in range(count):
        c = int(rng.integers(len(CATEGORIES)))
        own = known.loc[known["category"] == CATEGORIES[c], "item_id"].tolist()
        row: dict[str, object] = {
            "user_id": f"U{u:04d}",
            "favourite": CATEGORIES[c],
            "history": rng.choice(own, size=int(rng.integers(0, 6)), replace=False).tolist(),
            "user_tags": [f"T{c}a", f"T{c}b"],
            "user_tag_weights": [0.5, 0.3],
            "user_categories": [CATEGORIES[c]],
            "user_category_weights": [0.8],
        }
        row.update({name: float(rng.integers(0, 20)) for name in USER_COUNTERS})
        rows.append(row)
    return pd.DataFrame(rows)


def _pairs(rng: np.random.Generator, users: pd.DataFrame, items: pd.DataFrame, per_user: int) -> pd.DataFrame:
    """Each user engages ``per_user`` distinct known items of their favourite category."""
    known = items[~items["new"]]
    rows = []
    for user in users.itertuples():
        own = known.loc[known["category"] == user.favourite, "item_id"].to_numpy()
        rows += [(user.user_id, item) for item in rng.choice(own, size=per_user, replace=False)]
    pairs = pd.DataFrame(rows, columns=["user_id", "item_id"])
    merged = pairs.merge(users, on="user_id").merge(items.drop(columns="new"), on="item_id")
    return merged.assign(label_day=date(2026, 11, 2))


@pytest.fixture(scope="module")
def planted() -> dict[str, object]:
    rng = np.random.default_rng(3)
    items = _items(rng)
    train_users = _users(rng, items, 400)
    test_users = _users(rng, items, 150)
    pairs = _pairs(rng, train_users, items, per_user=6)
    config = TwoTowerConfig(dim=16, hidden=64, field_dim=8, epochs=12, batch_size=128, learning_rate=3e-3,
                            temperature=0.1, seed=1)  # fmt: skip
    lines: list[str] = []
    model = fit_two_tower(pairs, config, log=lines.append)
    test_pairs = _pairs(rng, test_users, items, per_user=4)
    return {
        "items": items,
        "test_users": test_users,
        "test_pairs": test_pairs,
        "model": model,
        "lines": lines,
    }


def _recall(model: TwoTower, items: pd.DataFrame, users: pd.DataFrame, relevant: list[set[str]]) -> float:
    retriever = BruteForceRetriever(np.arange(len(items)), model.encode_items(items))
    _, rows = retriever.search(model.encode_users(users), K)
    return metrics.recall_at(rows.tolist(), relevant_rows(items["item_id"].tolist(), relevant), K)


def test_learns_the_planted_taste(planted: dict[str, object]) -> None:
    model, items, users, test_pairs = (planted[k] for k in ("model", "items", "test_users", "test_pairs"))
    assert isinstance(model, TwoTower) and isinstance(items, pd.DataFrame) and isinstance(users, pd.DataFrame)
    assert isinstance(test_pairs, pd.DataFrame)
    relevant = test_pairs.groupby("user_id")["item_id"].agg(set)
    recall = _recall(model, items, users, [relevant[u] for u in users["user_id"]])
    chance = K / len(items)
    # A user's category holds 23 items, so a perfect taste model reaches K / 23 of them at random inside it.
    assert recall > 4 * chance, f"recall@{K} {recall:.3f} vs chance {chance:.3f}"
    lines = planted["lines"]
    assert isinstance(lines, list) and len(lines) == 1 + model.config.epochs
    assert model.fitted is not None and model.fitted.history[-1].loss < model.fitted.history[0].loss


def test_new_items_sit_with_their_category_by_content_alone(planted: dict[str, object]) -> None:
    model, items = planted["model"], planted["items"]
    assert isinstance(model, TwoTower) and isinstance(items, pd.DataFrame)
    new = items[items["new"]]
    assert not set(new["item_id"]) & set(model.encoder.items)  # unseen ids: content path only
    known = items[~items["new"]]
    similarity = model.encode_items(new) @ model.encode_items(known).T
    same = new["category"].to_numpy()[:, None] == known["category"].to_numpy()[None, :]
    own = np.where(same, similarity, np.nan)
    other = np.where(~same, similarity, np.nan)
    assert (np.nanmean(own, axis=1) > np.nanmean(other, axis=1) + 0.2).all()
    nearest = known["category"].to_numpy()[similarity.argmax(axis=1)]
    assert (nearest == new["category"].to_numpy()).all()


def test_new_items_reach_the_users_of_their_category(planted: dict[str, object]) -> None:
    model, items, users = planted["model"], planted["items"], planted["test_users"]
    assert isinstance(model, TwoTower) and isinstance(items, pd.DataFrame) and isinstance(users, pd.DataFrame)
    new = items[items["new"]]
    relevant = [set(new.loc[new["category"] == f, "item_id"]) for f in users["favourite"]]
    recall = _recall(model, items, users, relevant)
    assert recall > 3 * K / len(items), f"new-item recall@{K} {recall:.3f}"


def test_save_load_gives_equal_vectors(planted: dict[str, object], tmp_path: Path) -> None:
    model, items, users = planted["model"], planted["items"], planted["test_users"]
    assert isinstance(model, TwoTower) and isinstance(items, pd.DataFrame) and isinstance(users, pd.DataFrame)
    model.save(tmp_path / "two_tower")
    loaded = load_two_tower(tmp_path / "two_tower")
    assert loaded.config == model.config and loaded.encoder == model.encoder
    np.testing.assert_array_equal(loaded.encode_items(items), model.encode_items(items))
    np.testing.assert_array_equal(loaded.encode_users(users), model.encode_users(users))
    norms = np.linalg.norm(loaded.encode_users(users), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_layers_round_trip_their_config() -> None:
    for layer in (IdDropout(0.3, seed=5, name="drop"), KnownIdVectors(name="known")):
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
        restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(restored) is type(layer) and restored.get_config() == config


def test_id_dropout_only_in_training() -> None:
    ids = np.arange(1, 20001, dtype=np.int32)
    layer = IdDropout(0.5, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(ids, training=False)), ids)
    dropped = np.asarray(layer(ids, training=True))
    assert set(np.unique(dropped[dropped != ids])) == {0}
    assert 0.45 < float((dropped == 0).mean()) < 0.55
    vectors = np.ones((3, 4), dtype=np.float32)
    known = np.asarray(KnownIdVectors()([vectors, np.array([0, 2, 0], dtype=np.int32)]))
    np.testing.assert_array_equal(known.sum(axis=1), [0.0, 4.0, 0.0])


def test_in_batch_loss_masks_duplicates_and_same_user_positives() -> None:
    rng = np.random.default_rng(0)
    users = rng.normal(size=(4, 8)).astype(np.float32)
    items = rng.normal(size=(4, 8)).astype(np.float32)
    items[3] = items[1]  # the same item twice: neither copy is the other's negative
    keys = np.array([0, 1, 2, 1], dtype=np.int32)
    user_keys = np.array([0, 1, 2, 3], dtype=np.int32)
    loss = float(in_batch_loss(users, items, keys, user_keys, None, 0.5))
    logits = users @ items.T / 0.5
    logits[1, 3] = logits[3, 1] = -np.inf
    expected = np.mean([np.log(np.exp(row).sum()) - row[i] for i, row in enumerate(logits)])
    assert loss == pytest.approx(float(expected), rel=1e-5)
    # Rows 0 and 2 are one user-day: each is masked from the other's softmax.
    same_user = float(
        in_batch_loss(users, items, np.arange(4, dtype=np.int32), np.array([0, 1, 0, 3]), None, 0.5)
    )
    logits = users @ items.T / 0.5
    logits[0, 2] = logits[2, 0] = -np.inf
    expected = np.mean([np.log(np.exp(row).sum()) - row[i] for i, row in enumerate(logits)])
    assert same_user == pytest.approx(float(expected), rel=1e-5)


def test_encoder_maps_unseen_values_to_zero_and_keeps_the_latest_history(planted: dict[str, object]) -> None:
    model = planted["model"]
    assert isinstance(model, TwoTower)
    encoder = model.encoder
    frame = pd.DataFrame([{
        "item_id": "never-seen", "category": "fridges", "brand": "nobody", "price": float("nan"),
        "tags": ["T999"], "title": "zzzunseen qqqword",
    }])  # fmt: skip
    arrays = encoder.encode_items(frame)
    for name in ("item_id", "category", "brand", "price_bucket"):
        assert arrays[name].tolist() == [0], name
    assert not arrays["item_tags"].any() and not arrays["title_tokens"].any()
    history = [f"I{c}-{i:02d}" for c in (0, 1) for i in range(ITEMS_PER_CATEGORY)] + ["never-seen"]
    users = pd.DataFrame([{
        "user_id": "u", "history": history, **dict.fromkeys(USER_COUNTERS, 1.0), "user_tags": [],
        "user_tag_weights": [], "user_categories": [], "user_category_weights": [],
    }])  # fmt: skip
    encoded = encoder.encode_users(users)["history"][0]
    wanted = [encoder.items.index(i) + 1 for i in history if i in encoder.items][-encoder.max_history :]
    assert len(wanted) == encoder.max_history  # more known items than fit: the latest are kept
    assert encoded[: len(wanted)].tolist() == wanted and not encoded[len(wanted) :].any()
    assert token_bucket("lens") == token_bucket("lens") and 1 <= token_bucket("lens") < encoder.title_buckets
    assert RecallEncoder.from_json(encoder.to_json()) == encoder


def test_bad_settings_and_inputs_raise(planted: dict[str, object], tmp_path: Path) -> None:
    for bad in ({"batch_size": 1}, {"id_dropout": 1.0}, {"temperature": 0.0}, {"epochs": 0}, {"dim": True}):
        with pytest.raises(RecallModelError):
            TwoTowerConfig(**bad).check()  # type: ignore[arg-type]
    test_pairs = planted["test_pairs"]
    assert isinstance(test_pairs, pd.DataFrame)
    with pytest.raises(RecallDataError, match="lacks column"):
        fit_two_tower(test_pairs.drop(columns="title"), TwoTowerConfig(epochs=1), log=lambda _: None)
    with pytest.raises(RecallModelError, match="at least 2 pairs"):
        fit_two_tower(test_pairs.iloc[:1], TwoTowerConfig(epochs=1), log=lambda _: None)
    with pytest.raises(RecallModelError, match="missing"):
        load_two_tower(tmp_path / "nothing-here")
    model = planted["model"]
    assert isinstance(model, TwoTower)
    model.save(tmp_path / "m")
    facts = json.loads((tmp_path / "m" / "two_tower.json").read_text())
    (tmp_path / "m" / "two_tower.json").write_text(json.dumps({**facts, "format": 99}))
    with pytest.raises(RecallModelError, match="format 99"):
        load_two_tower(tmp_path / "m")
    with pytest.raises(RecallDataError, match="malformed"):
        RecallEncoder.from_json('{"items": []}')
