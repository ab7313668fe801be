"""The coarse ranker: DeepFM trained on the lake's examples, saved, loaded and scored.

One ranker is a Keras model plus the :class:`RankingEncoder` that turns example rows into
its inputs; both are saved side by side so a registry version scores on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from models import metrics
from models.deepfm import Variant, build_deepfm, check_inputs
from models.ranking_data import RankingEncoder
from models.training import FitResult, fit, make_dataset, predict

MODEL_FILE = "model.keras"
ENCODER_FILE = "encoder.json"
RANKER_FILE = "ranker.json"


@dataclass
class Ranker:
    """A trained coarse ranker: the model, its encoder, its variant and how it was trained."""

    model: keras.Model
    encoder: RankingEncoder
    variant: Variant
    params: dict[str, Any]
    fitted: FitResult | None = None

    def score(self, frame: pd.DataFrame, batch_size: int = 4096) -> np.ndarray:
        """Click probability of every row of ``frame`` (rows as built by ``examples_for_day``)."""
        if frame.empty:
            return np.zeros(0, dtype=np.float64)
        arrays = self.encoder.encode(frame, self.variant)
        check_inputs(self.encoder.spec(), self.variant, arrays)  # a clear error naming the field, not Keras'
        return predict(self.model, make_dataset(arrays, None, batch_size, False, 0))

    def score_arrays(self, arrays: dict[str, np.ndarray], batch_size: int = 8192) -> np.ndarray:
        """Click probability of already encoded inputs (e.g. ``PairInputs.arrays``)."""
        check_inputs(self.encoder.spec(), self.variant, arrays)
        return predict(self.model, make_dataset(arrays, None, batch_size, False, 0))

    def evaluate(self, frame: pd.DataFrame) -> dict[str, float]:
        """AUC, logloss, calibration and per-user group AUC of the clicks in ``frame``."""
        probabilities = self.score(frame)
        report = metrics.binary_report(frame["label"].to_numpy(), probabilities, frame["user_id"].to_numpy())
        report["examples"] = float(len(frame))
        return report

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(directory / MODEL_FILE)
        (directory / ENCODER_FILE).write_text(self.encoder.to_json())
        (directory / RANKER_FILE).write_text(json.dumps({"variant": self.variant, "params": self.params}))


def load_ranker(directory: Path) -> Ranker:
    """A ranker saved by :meth:`Ranker.save` (verify a registry version before loading it)."""
    facts = json.loads((directory / RANKER_FILE).read_text())
    encoder = RankingEncoder.from_json((directory / ENCODER_FILE).read_text())
    model = keras.saving.load_model(directory / MODEL_FILE)
    return Ranker(model, encoder, facts["variant"], facts["params"])


def train_ranker(
    examples: pd.DataFrame,
    variant: Variant,
    tags: list[str],
    *,
    epochs: int = 8,
    patience: int = 2,
    batch_size: int = 1024,
    learning_rate: float = 1e-3,
    embedding_dim: int = 16,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> Ranker:
    """Train ``variant`` on the ``train`` split, early-stopping on ``valid`` (group AUC is logged).

    Raises:
        ValueError: the train or valid split is empty or has a single label class.
    """
    train = examples[examples["split"] == "train"]
    valid = examples[examples["split"] == "valid"]
    for name, part in (("train", train), ("valid", valid)):
        if part.empty or part["label"].nunique() < 2:
            raise ValueError(
                f"the {name} split needs clicked and unclicked impressions, got {len(part)} rows"
            )
    encoder = RankingEncoder.fit(train, tags)
    params = {
        "epochs": epochs, "patience": patience, "batch_size": batch_size,
        "learning_rate": learning_rate, "embedding_dim": embedding_dim, "seed": seed,
    }  # fmt: skip
    keras.utils.set_random_seed(seed)
    labels = {n: p["label"].to_numpy(dtype=np.float32) for n, p in (("train", train), ("valid", valid))}
    spec = encoder.spec()
    train_arrays = encoder.encode(train, variant)
    check_inputs(spec, variant, train_arrays)
    train_ds = make_dataset(train_arrays, labels["train"], batch_size, True, seed)
    valid_ds = make_dataset(encoder.encode(valid, variant), labels["valid"], batch_size, False, seed)
    model = build_deepfm(spec, variant, embedding_dim=embedding_dim, seed=seed)
    ranker = Ranker(model, encoder, variant, params)

    def group_auc(_: keras.Model) -> dict[str, float]:
        return {"gauc": metrics.group_auc(valid["user_id"].to_numpy(), labels["valid"], ranker.score(valid))}

    log(f"training DeepFM ({variant}) on {len(train):,} examples, validating on {len(valid):,}")
    ranker.fitted = fit(
        model, train_ds, valid_ds, epochs=epochs, patience=patience, learning_rate=learning_rate,
        evaluate=group_auc, seed=seed, log=log,
    )  # fmt: skip
    return ranker
