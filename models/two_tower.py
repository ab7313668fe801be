"""Two-tower recall model: a user tower and an item tower into one unit-norm space.

The item tower sums a *content* vector (category, brand, price bucket, tag bag and hashed
title words through an MLP) and an *id* vector. The id vector is zero for id 0, which is
what every item unseen in training gets; training drops known ids to 0 at ``id_dropout``,
so the content path alone must place an item, and a new item is retrieved on its first day.
The user tower pools the user's recent engaged items (its own id table), and adds
standardised log counters and tag and category preference shares, through an MLP.

Training is in-batch softmax over the batch's items: user i's positive is item i, the
other items are its negatives. Popular items are negatives more often than their share of
the catalogue, so the log of each item's share of the training pairs is subtracted from
its logits (logQ correction, Yi et al. 2019); a duplicate of the positive item or another
positive of the same user-day in the batch is masked rather than counted as a negative.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import keras  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import tensorflow as tf  # type: ignore[import-untyped]
from keras import ops

from models import metrics
from models.index import BruteForceRetriever
from models.layers import MaskedMean
from models.recall_data import (
    HISTORY_DAYS,
    MAX_HISTORY,
    RecallEncoder,
    engaged_events,
    item_frame,
    relevant_rows,
    training_pairs,
    user_frame,
)
from recsys.errors import RecallDataError, RecallModelError

Tensor = Any  # keras ships no type information
USER_TOWER_FILE = "user_tower.keras"
ITEM_TOWER_FILE = "item_tower.keras"
ENCODER_FILE = "encoder.json"
MODEL_FILE = "two_tower.json"
FORMAT_VERSION = 1
_MASKED_LOGIT = -1e9  # a masked in-batch candidate: exp() of it is exactly 0 in float32


@keras.saving.register_keras_serializable(package="recsys")
class IdDropout(keras.layers.Layer):  # type: ignore[misc]
    """In training, replaces each id by 0 (unknown) with probability ``rate``; identity otherwise."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate <= 0:
            return ids
        keep = keras.random.uniform(ops.shape(ids), seed=self.seed_generator) >= self.rate
        return ops.where(keep, ids, ops.zeros_like(ids))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="recsys")
class KnownIdVectors(keras.layers.Layer):  # type: ignore[misc]
    """``[vectors (B, D), ids (B,)] -> (B, D)`` with rows of id 0 set to zero.

    Row 0 of an id table would otherwise learn an "average unknown item" that every new
    item shares; zeroing it leaves a new item's vector to its content alone.
    """

    def call(self, inputs: list[Tensor]) -> Tensor:
        vectors, ids = inputs
        return vectors * ops.expand_dims(ops.cast(ops.not_equal(ids, 0), vectors.dtype), -1)


@dataclass(frozen=True)
class TwoTowerConfig:
    """Sizes and training settings of a two-tower model (saved with it)."""

    dim: int = 64
    hidden: int = 256
    field_dim: int = 32
    epochs: int = 12
    patience: int = 2
    batch_size: int = 512
    learning_rate: float = 1e-3
    temperature: float = 0.05
    id_dropout: float = 0.5
    logq: bool = True
    min_item_pairs: int = 1
    max_history: int = MAX_HISTORY
    history_days: int = HISTORY_DAYS
    seed: int = 0

    def check(self) -> None:
        """Raises RecallModelError naming the first bad setting."""
        for name in ("dim", "hidden", "field_dim", "epochs", "patience", "batch_size", "min_item_pairs",
                     "max_history", "history_days"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RecallModelError(f"two-tower setting {name} must be an integer >= 1, got {value!r}")
        if self.batch_size < 2:
            raise RecallModelError(f"in-batch negatives need batch_size >= 2, got {self.batch_size}")
        if not self.learning_rate > 0 or not self.temperature > 0:
            raise RecallModelError(
                f"learning_rate and temperature must be > 0, got {self.learning_rate} and {self.temperature}"
            )
        if not 0.0 <= self.id_dropout < 1.0:
            raise RecallModelError(f"id_dropout must lie in [0, 1), got {self.id_dropout}")


@dataclass(frozen=True)
class EpochLog:
    """One training epoch: mean in-batch softmax loss, validation recall (NaN without), speed."""

    epoch: int
    loss: float
    recall: float
    seconds: float
    pairs_per_s: float


@dataclass(frozen=True)
class TwoTowerFit:
    """What training did; the model holds the weights of ``best_epoch``.

    ``best_recall`` is the validation recall of that epoch (NaN without validation); after
    :func:`train_two_tower`'s epoch selection it is the selection run's, and
    ``train_seconds`` covers both runs and the building of their pairs.
    """

    pairs: int
    train_seconds: float
    best_epoch: int
    best_recall: float
    history: list[EpochLog] = field(default_factory=list)


@dataclass(frozen=True)
class RecallValidation:
    """A held-out day: its users as of the day before, its catalog and each user's engaged items.

    ``relevant[i]`` is the set of item ids user row ``i`` engaged with; recall@``k`` is
    micro-averaged (``models.metrics.recall_at``) over exact top-k from the whole catalog.
    """

    users: pd.DataFrame
    items: pd.DataFrame
    relevant: list[set[str]]
    k: int = 100

    def recall(self, model: TwoTower) -> float:
        retriever = BruteForceRetriever(np.arange(len(self.items)), model.encode_items(self.items))
        _, rows = retriever.search(model.encode_users(self.users), self.k)
        relevant = relevant_rows(self.items["item_id"].tolist(), self.relevant)
        return metrics.recall_at(rows.tolist(), relevant, self.k)


def validation_day(
    lake_root: Path,
    day: date,
    *,
    k: int = 100,
    max_history: int = MAX_HISTORY,
    history_days: int = HISTORY_DAYS,
) -> RecallValidation:
    """The :class:`RecallValidation` of ``day``: users who engaged on it, served as of ``day - 1``.

    Raises:
        RecallDataError: nobody engaged with anything on ``day``.
    """
    engaged = engaged_events(lake_root, day, day)[["user_id", "item_id"]].drop_duplicates()
    if engaged.empty:
        raise RecallDataError(f"no engaged event on {day.isoformat()} in {lake_root}: nothing to validate on")
    grouped = engaged.groupby("user_id")["item_id"].agg(set)
    users = user_frame(
        lake_root, day - timedelta(days=1), grouped.index.tolist(), max_history=max_history,
        history_days=history_days,
    )  # fmt: skip
    return RecallValidation(users, item_frame(lake_root, day), grouped.tolist(), k)


def _mlp(x: Tensor, hidden: int, dim: int, seed: int, name: str) -> Tensor:
    x = keras.layers.Dense(
        hidden,
        activation="relu",
        kernel_initializer=keras.initializers.GlorotUniform(seed),
        name=f"{name}.hidden",
    )(x)
    return keras.layers.Dense(
        dim, kernel_initializer=keras.initializers.GlorotUniform(seed + 1), name=f"{name}.out"
    )(x)


def _embedding(vocab: int, dim: int, seed: int, name: str) -> Any:
    return keras.layers.Embedding(
        vocab, dim, embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=seed), name=name
    )


def build_towers(sizes: Mapping[str, int], config: TwoTowerConfig) -> tuple[keras.Model, keras.Model]:
    """The (uncompiled) user and item towers for an encoder's ``sizes()``; outputs are unit vectors."""
    config.check()
    return _user_tower(sizes, config), _item_tower(sizes, config)


def _user_tower(sizes: Mapping[str, int], config: TwoTowerConfig) -> keras.Model:
    seed, fd = config.seed, config.field_dim
    history = keras.Input(shape=(sizes["max_history"],), dtype="int32", name="history")
    counters = keras.Input(shape=(sizes["counters"],), dtype="float32", name="user_counters")
    tag_profile = keras.Input(shape=(sizes["tags"],), dtype="float32", name="user_tag_profile")
    category_profile = keras.Input(
        shape=(sizes["categories"],), dtype="float32", name="user_category_profile"
    )
    pooled = MaskedMean(name="user.history_pool")(
        [_embedding(sizes["items"], fd, seed, "user.history_items")(history), history]
    )
    user_parts = keras.layers.Concatenate(name="user.fields")(
        [pooled, counters, tag_profile, category_profile]
    )
    user_vector = keras.layers.UnitNormalization(name="user.vector")(
        _mlp(user_parts, config.hidden, config.dim, seed + 1, "user.mlp")
    )
    return keras.Model(
        {"history": history, "user_counters": counters, "user_tag_profile": tag_profile,
         "user_category_profile": category_profile},
        user_vector, name="user_tower",
    )  # fmt: skip


def _item_tower(sizes: Mapping[str, int], config: TwoTowerConfig) -> keras.Model:
    seed, fd = config.seed, config.field_dim
    item_id = keras.Input(shape=(), dtype="int32", name="item_id")
    category = keras.Input(shape=(), dtype="int32", name="category")
    brand = keras.Input(shape=(), dtype="int32", name="brand")
    price = keras.Input(shape=(), dtype="int32", name="price_bucket")
    tags = keras.Input(shape=(sizes["max_tags"],), dtype="int32", name="item_tags")
    title = keras.Input(shape=(sizes["max_title_tokens"],), dtype="int32", name="title_tokens")
    content = keras.layers.Concatenate(name="item.fields")([
        _embedding(sizes["categories"], fd, seed + 3, "item.category")(category),
        _embedding(sizes["brands"], fd, seed + 4, "item.brand")(brand),
        _embedding(sizes["price_buckets"], fd, seed + 5, "item.price")(price),
        MaskedMean(name="item.tag_pool")([_embedding(sizes["tags"], fd, seed + 6, "item.tags")(tags), tags]),
        MaskedMean(name="item.title_pool")(
            [_embedding(sizes["title_buckets"], fd, seed + 7, "item.title")(title), title]
        ),
    ])  # fmt: skip
    content_vector = _mlp(content, config.hidden, config.dim, seed + 8, "item.mlp")
    kept_id = IdDropout(config.id_dropout, seed=seed + 10, name="item.id_dropout")(item_id)
    id_vector = KnownIdVectors(name="item.known_id")(
        [_embedding(sizes["items"], config.dim, seed + 11, "item.id")(kept_id), kept_id]
    )
    item_vector = keras.layers.UnitNormalization(name="item.vector")(
        keras.layers.Add(name="item.content_plus_id")([content_vector, id_vector])
    )
    return keras.Model(
        {"item_id": item_id, "category": category, "brand": brand, "price_bucket": price,
         "item_tags": tags, "title_tokens": title},
        item_vector, name="item_tower",
    )  # fmt: skip


def in_batch_loss(
    users: Tensor,
    items: Tensor,
    item_keys: Tensor,
    user_keys: Tensor,
    log_q: Tensor | None,
    temperature: float,
) -> Tensor:
    """Mean softmax cross-entropy of each user's positive against the batch's other items.

    ``item_keys`` / ``user_keys`` identify the item and the user-day of each row: a column
    holding the row's own item, or another positive of the same user-day, is masked.
    """
    logits = ops.matmul(users, ops.transpose(items)) / temperature
    if log_q is not None:
        logits = logits - ops.expand_dims(log_q, 0)
    size = ops.shape(logits)[0]
    diagonal = ops.eye(size, dtype="bool")
    same = ops.logical_or(
        ops.equal(ops.expand_dims(item_keys, 1), ops.expand_dims(item_keys, 0)),
        ops.equal(ops.expand_dims(user_keys, 1), ops.expand_dims(user_keys, 0)),
    )
    logits = ops.where(ops.logical_and(same, ops.logical_not(diagonal)), _MASKED_LOGIT, logits)
    labels = ops.arange(size)
    return ops.mean(ops.sparse_categorical_crossentropy(labels, logits, from_logits=True))


@dataclass
class TwoTower:
    """A trained recall model: both towers, the encoder of their inputs, its settings."""

    user_tower: keras.Model
    item_tower: keras.Model
    encoder: RecallEncoder
    config: TwoTowerConfig
    fitted: TwoTowerFit | None = None

    @property
    def dim(self) -> int:
        return self.config.dim

    def encode_users(self, frame: pd.DataFrame, batch_size: int = 4096) -> np.ndarray:
        """Unit vectors ``(len(frame), dim)`` float32 of user rows (``recall_data.user_frame``)."""
        return _predict(self.user_tower, self.encoder.encode_users(frame), batch_size, self.dim)

    def encode_items(self, frame: pd.DataFrame, batch_size: int = 4096) -> np.ndarray:
        """Unit vectors ``(len(frame), dim)`` float32 of item rows (``recall_data.item_frame``)."""
        return _predict(self.item_tower, self.encoder.encode_items(frame), batch_size, self.dim)

    def user_vectors(self, lake_root: Path, as_of_day: date, user_ids: Sequence[str]) -> np.ndarray:
        """Vectors to serve ``user_ids`` on the day after ``as_of_day`` (data up to its end only)."""
        frame = user_frame(
            lake_root, as_of_day, user_ids,
            max_history=self.config.max_history, history_days=self.config.history_days,
        )  # fmt: skip
        return self.encode_users(frame)

    def item_vectors(self, lake_root: Path, day: date, item_ids: Sequence[str]) -> np.ndarray:
        """Vectors of ``item_ids`` from ``day``'s catalog (RecallDataError if one is not in it)."""
        return self.encode_items(item_frame(lake_root, day, item_ids))

    def save(self, directory: Path) -> None:
        """Write both towers, the encoder and the settings into ``directory`` (created if missing)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.user_tower.save(directory / USER_TOWER_FILE)
        self.item_tower.save(directory / ITEM_TOWER_FILE)
        (directory / ENCODER_FILE).write_text(self.encoder.to_json())
        facts = {"format": FORMAT_VERSION, "config": asdict(self.config)}
        (directory / MODEL_FILE).write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")


def load_two_tower(directory: Path) -> TwoTower:
    """A model written by :meth:`TwoTower.save`.

    Raises:
        RecallModelError: a file is missing, or the settings are of another format.
    """
    directory = Path(directory)
    files = (USER_TOWER_FILE, ITEM_TOWER_FILE, ENCODER_FILE, MODEL_FILE)
    missing = [name for name in files if not (directory / name).is_file()]
    if missing:
        raise RecallModelError(f"no two-tower model at {directory}: {missing} missing")
    try:
        facts = json.loads((directory / MODEL_FILE).read_text())
        if facts.get("format") != FORMAT_VERSION:
            raise RecallModelError(
                f"{directory / MODEL_FILE} has format {facts.get('format')!r}; "
                f"this code reads {FORMAT_VERSION}"
            )
        config = TwoTowerConfig(**facts["config"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RecallModelError(f"{directory / MODEL_FILE} is not a two-tower settings file: {exc}") from exc
    encoder = RecallEncoder.from_json((directory / ENCODER_FILE).read_text())
    user_tower = keras.saving.load_model(directory / USER_TOWER_FILE)
    item_tower = keras.saving.load_model(directory / ITEM_TOWER_FILE)
    return TwoTower(user_tower, item_tower, encoder, config)


def _predict(tower: keras.Model, arrays: dict[str, np.ndarray], batch_size: int, dim: int) -> np.ndarray:
    n = len(next(iter(arrays.values())))
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return np.asarray(tower.predict(arrays, batch_size=batch_size, verbose=0), dtype=np.float32)


def fit_two_tower(
    pairs: pd.DataFrame,
    config: TwoTowerConfig | None = None,
    validation: RecallValidation | None = None,
    log: Callable[[str], None] = print,
) -> TwoTower:
    """Train on engaged pairs (``recall_data.training_pairs`` rows): fit the encoder, build, train.

    Rows need the user and item columns of ``recall_data``; ``label_day`` (optional) tells
    apart a user's days, so only positives of the same user-day mask one another. With
    ``validation``, recall@k is measured after each epoch, training stops after
    ``config.patience`` epochs without a gain and the model keeps its best epoch's weights.

    Raises:
        RecallModelError: bad settings, or fewer pairs than two (no in-batch negative).
        RecallDataError: the pairs lack a column.
    """
    config = config or TwoTowerConfig()
    config.check()
    if len(pairs) < 2:
        raise RecallModelError(f"in-batch training needs at least 2 pairs, got {len(pairs)}")
    encoder = RecallEncoder.fit(pairs, min_item_pairs=config.min_item_pairs, max_history=config.max_history)
    keras.utils.set_random_seed(config.seed)
    user_tower, item_tower = build_towers(encoder.sizes(), config)
    model = TwoTower(user_tower, item_tower, encoder, config)
    users = encoder.encode_users(pairs)
    items = encoder.encode_items(pairs)
    item_keys = pd.factorize(pairs["item_id"])[0].astype(np.int32)
    day = pairs["label_day"].astype(str) if "label_day" in pairs.columns else ""
    user_keys = pd.factorize(pairs["user_id"].astype(str) + "|" + day)[0].astype(np.int32)
    # Each item's share of the pairs is its chance of being any batch row: log Q of the correction.
    log_q = np.log(np.bincount(item_keys)[item_keys] / len(pairs)).astype(np.float32)

    optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
    variables = user_tower.trainable_variables + item_tower.trainable_variables
    optimizer.build(variables)

    @tf.function(reduce_retracing=True)  # type: ignore[untyped-decorator]
    def step(user_batch: Tensor, item_batch: Tensor, ik: Tensor, uk: Tensor, lq: Tensor) -> Tensor:
        with tf.GradientTape() as tape:
            loss = in_batch_loss(
                user_tower(user_batch, training=True), item_tower(item_batch, training=True), ik, uk,
                lq if config.logq else None, config.temperature,
            )  # fmt: skip
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    rng = np.random.default_rng(config.seed)
    history: list[EpochLog] = []
    best_recall, best_epoch, best_weights, waited = -math.inf, 0, None, 0
    started = time.perf_counter()
    log(
        f"training two-tower on {len(pairs):,} pairs, {len(encoder.items):,} item ids, "
        f"id dropout {config.id_dropout}, logQ {'on' if config.logq else 'off'}"
        + (f", validating recall@{validation.k} on {len(validation.users):,} users" if validation else "")
    )
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        order = rng.permutation(len(pairs))
        # A last batch of a few rows has almost no negatives: spread the rest over the batches.
        total = 0.0
        for rows in np.array_split(order, max(1, len(pairs) // config.batch_size)):
            loss = step(
                {k: v[rows] for k, v in users.items()}, {k: v[rows] for k, v in items.items()},
                item_keys[rows], user_keys[rows], log_q[rows],
            )  # fmt: skip
            total += float(loss) * len(rows)
        seconds = time.perf_counter() - epoch_start
        mean_loss = total / len(pairs)
        if not math.isfinite(mean_loss):
            raise RecallModelError(f"two-tower loss became {mean_loss} in epoch {epoch}: lower learning_rate")
        recall = validation.recall(model) if validation is not None else math.nan
        improved = validation is not None and recall > best_recall
        if improved:
            best_recall, best_epoch, waited = recall, epoch, 0
            best_weights = (user_tower.get_weights(), item_tower.get_weights())
        else:
            waited += 1
        history.append(EpochLog(epoch, mean_loss, recall, seconds, len(pairs) / max(seconds, 1e-9)))
        shown = f"  val recall@{validation.k} {recall:.4f}" if validation is not None else ""
        log(
            f"epoch {epoch:>3}/{config.epochs}  in-batch loss {mean_loss:.4f}{shown}  "
            f"{history[-1].pairs_per_s:,.0f} pairs/s  {seconds:.1f} s{'  *best*' if improved else ''}"
        )
        if validation is not None and waited >= config.patience:
            break
    if best_weights is not None:
        user_tower.set_weights(best_weights[0])
        item_tower.set_weights(best_weights[1])
    else:
        best_epoch, best_recall = len(history), math.nan
    model.fitted = TwoTowerFit(len(pairs), time.perf_counter() - started, best_epoch, best_recall, history)
    return model


def train_two_tower(
    lake_root: Path,
    last_train_day: date,
    days: int,
    config: TwoTowerConfig | None = None,
    *,
    validate: bool = True,
    log: Callable[[str], None] = print,
) -> TwoTower:
    """Train on the engaged pairs of the ``days`` label days ending at ``last_train_day``.

    With ``validate`` (and ``days`` >= 2) the number of epochs is chosen first: a model is
    trained on the days before ``last_train_day`` and early-stopped on recall@100 of
    ``last_train_day`` (users as of the day before, its whole catalog); then the returned
    model is trained on all ``days`` for the best epoch count, so it knows the latest items.
    Without, it trains ``config.epochs`` epochs on all days.

    Raises:
        RecallDataError: no engaged event in those days.
        PartitionMissingError: a partition a label day needs is missing.
        RecallModelError: bad settings.
    """
    config = config or TwoTowerConfig()
    config.check()
    started = time.perf_counter()
    history = {"max_history": config.max_history, "history_days": config.history_days}
    selected: TwoTowerFit | None = None
    if validate and days >= 2:
        pairs = training_pairs(lake_root, last_train_day - timedelta(days=1), days - 1, **history)
        check = validation_day(lake_root, last_train_day, **history)
        log(f"choosing epochs: training on {days - 1} days, validating on {last_train_day}")
        selected = fit_two_tower(pairs, config, check, log).fitted
        assert selected is not None
        config = replace(config, epochs=selected.best_epoch)
    pairs = training_pairs(lake_root, last_train_day, days, **history)
    model = fit_two_tower(pairs, config, None, log)
    if selected is not None and model.fitted is not None:
        model.fitted = replace(
            model.fitted, best_recall=selected.best_recall, train_seconds=time.perf_counter() - started
        )
    return model
