"""Generic training for the Keras rankers: a tf.data input and a fit loop with early stopping.

:func:`make_dataset` gathers whole batches from in-memory arrays (one vectorised gather
per batch, not one Python element per example). Features many examples share, such as the
user context of a positive and its sampled negatives, can be stored once as
:class:`SharedRows`. :func:`fit` trains with Adam and binary cross-entropy, logs one line
per epoch, stops when the monitored validation figure has not improved for ``patience``
epochs and leaves the model with the weights of its best epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import keras  # type: ignore[import-untyped]
import numpy as np
import tensorflow as tf  # type: ignore[import-untyped]

from recsys.errors import TrainingError

Evaluate = Callable[[keras.Model], Mapping[str, float]]


@dataclass(frozen=True)
class SharedRows:
    """A feature stored once per distinct row: example ``i`` gets ``rows[index[i]]``."""

    rows: np.ndarray
    index: np.ndarray


@dataclass(frozen=True)
class EpochLog:
    """What one epoch did: training loss, validation figures, speed."""

    epoch: int
    loss: float
    validation: dict[str, float]
    seconds: float
    examples_per_s: float


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`; the model holds the weights of ``best_epoch``."""

    monitor: str
    best_epoch: int
    best_value: float
    epochs_run: int
    stopped_early: bool
    train_seconds: float
    examples_per_epoch: int
    history: list[EpochLog] = field(default_factory=list)


def _length(name: str, value: np.ndarray | SharedRows) -> int:
    if isinstance(value, SharedRows):
        index = np.asarray(value.index)
        if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise TrainingError(f"shared rows {name!r}: index must be a 1-D integer array, got {index.shape}")
        rows = len(value.rows)
        if index.size and (int(index.min()) < 0 or int(index.max()) >= rows):
            raise TrainingError(f"shared rows {name!r}: index points outside its {rows} rows")
        return int(index.shape[0])
    array = np.asarray(value)
    if array.ndim == 0:
        raise TrainingError(f"input {name!r} is a scalar; give one value (or row) per example")
    return int(array.shape[0])


def _tensor(array: np.ndarray) -> tf.Tensor:
    """int32 ids and float32 values, the dtypes the models' inputs declare."""
    a = np.asarray(array)
    if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        return tf.constant(a.astype(np.int32, copy=False))
    return tf.constant(a.astype(np.float32, copy=False))


def make_dataset(
    arrays: Mapping[str, np.ndarray | SharedRows],
    labels: np.ndarray | None,
    batch_size: int,
    shuffle: bool,
    seed: int,
) -> tf.data.Dataset:
    """Batches of ``({name: features}, labels)``, or of features alone when ``labels`` is None.

    With ``shuffle`` the order changes every epoch, repeatably for a given ``seed``.

    Raises:
        TrainingError: no arrays, arrays of different lengths (naming them), bad batch size.
    """
    if not arrays:
        raise TrainingError("make_dataset needs at least one input array")
    if batch_size < 1:
        raise TrainingError(f"batch_size must be >= 1, got {batch_size}")
    lengths = {name: _length(name, value) for name, value in arrays.items()}
    if labels is not None:
        lengths["<labels>"] = _length("<labels>", labels)
    if len(set(lengths.values())) != 1:
        raise TrainingError(f"input arrays differ in length (examples per field): {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise TrainingError("input arrays are empty: no example to train or predict on")

    direct = {k: _tensor(v) for k, v in arrays.items() if not isinstance(v, SharedRows)}
    shared = {
        k: (_tensor(v.rows), tf.constant(v.index, tf.int64))
        for k, v in arrays.items()
        if isinstance(v, SharedRows)
    }
    target = None if labels is None else tf.constant(np.asarray(labels, dtype=np.float32))

    def gather(index: tf.Tensor) -> Any:
        features = {k: tf.gather(t, index) for k, t in direct.items()}
        features.update({k: tf.gather(rows, tf.gather(at, index)) for k, (rows, at) in shared.items()})
        return features if target is None else (features, tf.gather(target, index))

    dataset = tf.data.Dataset.range(n)
    if shuffle:
        dataset = dataset.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def predict(model: keras.Model, dataset: tf.data.Dataset) -> np.ndarray:
    """The model's scores for a features-only dataset, as one flat float64 array."""
    return np.asarray(model.predict(dataset, verbose=0), dtype=np.float64).reshape(-1)


def _count_examples(dataset: tf.data.Dataset) -> int:
    sizes = dataset.map(lambda features, labels: tf.shape(labels, out_type=tf.int64)[0])
    return int(sizes.reduce(tf.constant(0, tf.int64), lambda total, size: total + size).numpy())


def _higher_is_better(monitor: str) -> bool:
    return not monitor.endswith("loss")


class _EpochWatch(keras.callbacks.Callback):  # type: ignore[misc]
    """Adds the extra validation figures, logs the epoch, keeps the best weights, stops early."""

    def __init__(
        self,
        monitor: str,
        patience: int,
        evaluate: Evaluate | None,
        examples: int,
        log: Callable[[str], None],
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.evaluate = evaluate
        self.examples = examples
        self.log = log
        self.maximise = _higher_is_better(monitor)
        self.best_value = -math.inf if self.maximise else math.inf
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] | None = None
        self.waited = 0
        self.history: list[EpochLog] = []
        self.epoch_start = self.train_end = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch_start = self.train_end = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.train_end = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        figures = {k: float(v) for k, v in (logs or {}).items()}
        if self.evaluate is not None:
            figures.update({f"val_{k}": float(v) for k, v in self.evaluate(self.model).items()})
        if self.monitor not in figures:
            raise TrainingError(
                f"early stopping monitors {self.monitor!r}, which this run does not compute; "
                f"available: {sorted(figures)}"
            )
        value = figures[self.monitor]
        improved = value > self.best_value if self.maximise else value < self.best_value
        if improved:
            self.best_value, self.best_epoch, self.waited = value, epoch + 1, 0
            self.best_weights = [w.copy() for w in self.model.get_weights()]
        else:
            self.waited += 1
        train_seconds = max(self.train_end - self.epoch_start, 1e-9)
        entry = EpochLog(
            epoch=epoch + 1,
            loss=figures.get("loss", math.nan),
            validation={k: v for k, v in figures.items() if k.startswith("val_")},
            seconds=time.perf_counter() - self.epoch_start,
            examples_per_s=self.examples / train_seconds,
        )
        self.history.append(entry)
        shown = "  ".join(f"{k} {v:.4f}" for k, v in sorted(entry.validation.items()))
        self.log(
            f"epoch {entry.epoch:>3}  loss {entry.loss:.4f}  {shown}  "
            f"{entry.examples_per_s:,.0f} ex/s  {entry.seconds:.1f} s{'  *best*' if improved else ''}"
        )
        if self.waited >= self.patience:
            self.model.stop_training = True


def fit(
    model: keras.Model,
    train: tf.data.Dataset,
    validation: tf.data.Dataset | None,
    *,
    epochs: int,
    patience: int,
    learning_rate: float,
    monitor: str = "val_auc",
    evaluate: Evaluate | None = None,
    seed: int | None = None,
    log: Callable[[str], None] = print,
) -> FitResult:
    """Train with Adam on binary cross-entropy; early-stop on ``monitor``, restore the best epoch.

    Args:
        model: an uncompiled (or to be recompiled) Keras model with a probability output.
        train: ``(features, labels)`` batches from :func:`make_dataset`.
        validation: ``(features, labels)`` batches giving ``val_loss`` and ``val_auc``; or None.
        epochs: the most epochs to run.
        patience: epochs without improvement of ``monitor`` before stopping.
        learning_rate: Adam's step size.
        monitor: ``val_auc``, ``val_loss`` or ``val_<key>`` of ``evaluate``'s figures; names
            ending in ``loss`` are minimised, the rest maximised.
        evaluate: extra validation figures computed after each epoch (e.g. ranking HR/NDCG).
        seed: when given, seeds Python, NumPy and TensorFlow first (dropout, shuffles).
        log: receives one line per epoch.

    Raises:
        TrainingError: bad epochs/patience/learning rate, or ``monitor`` is never computed.
    """
    if epochs < 1 or patience < 1 or not learning_rate > 0:
        raise TrainingError(
            "epochs and patience must be >= 1 and learning_rate > 0, "
            f"got {epochs}, {patience}, {learning_rate}"
        )
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="auc")],
    )
    examples = _count_examples(train)
    watch = _EpochWatch(monitor, patience, evaluate, examples, log)
    started = time.perf_counter()
    # shuffle=False: the dataset shuffles itself (make_dataset); Keras cannot shuffle a tf.data input.
    model.fit(train, validation_data=validation, epochs=epochs, callbacks=[watch], shuffle=False, verbose=0)
    seconds = time.perf_counter() - started
    if watch.best_weights is not None:
        model.set_weights(watch.best_weights)
    return FitResult(
        monitor=monitor,
        best_epoch=watch.best_epoch,
        best_value=watch.best_value,
        epochs_run=len(watch.history),
        stopped_early=len(watch.history) < epochs,
        train_seconds=seconds,
        examples_per_epoch=examples,
        history=watch.history,
    )
