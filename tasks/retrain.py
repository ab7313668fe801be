"""The nightly retrain of the coarse ranker: training set → train variants → evaluate → promote.

    build_ranking_set(ctx, history_days=7)         training/ranking/dt=D (train, valid, eval days)
    train_ranker_variant(ctx, "tags", epochs=8)    a signed registry version (a candidate)
    evaluate_rankers(ctx, [3, 4])                  every candidate and the champion on day D
    promote_best_ranker(ctx, evaluation)           the gate: the best candidate, if not worse

TensorFlow is imported inside the training and scoring steps only, so building and
validating the set stays light.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa

from feature_store import lake
from models.ranking_data import build_training_set, label_days
from models.registry import ModelRegistry, decide_promotion
from recsys.errors import PartitionMissingError
from tasks.context import RunContext

if TYPE_CHECKING:
    from models.deepfm import Variant

log = logging.getLogger(__name__)

VARIANTS = ("baseline", "tags")  # (models.deepfm.VARIANTS, without importing Keras to check a name)

RANKER = "coarse_ranker"  # the registry's model name; both variants are versions of it
TRAINING_SET = "training/ranking"
GATE_METRIC = "auc"


def day_is_ready(ctx: RunContext) -> bool:
    """Whether the evaluation day's events and the previous day's features are in the lake."""
    root, day = ctx.settings.lake_root, ctx.partition_date
    needed = {
        "events": day,
        "features/user": day - timedelta(days=1),
        "features/item": day - timedelta(days=1),
    }
    missing = [
        f"{name}/dt={dt.isoformat()}" for name, dt in needed.items() if not lake.has_partition(root, name, dt)
    ]
    if missing:
        log.info("waiting for %s (written by recsys_ingest)", ", ".join(missing))
    return not missing


def build_ranking_set(
    ctx: RunContext, history_days: int = 7, negative_share: float = 1.0, held_out_user_share: float = 1.0
) -> dict[str, Any]:
    """Write the examples of ``history_days`` label days ending at the partition day.

    Raises:
        PartitionMissingError: a label day's events or its previous day's features are missing.
    """
    settings = ctx.settings
    examples = build_training_set(
        settings.lake_root,
        ctx.partition_date,
        history_days,
        negative_share=negative_share,
        held_out_user_share=held_out_user_share,
        seed=settings.sim_seed,
    )
    days = label_days(ctx.partition_date, history_days)
    splits = examples.groupby("split")["label"].agg(["count", "mean"])
    meta = {
        "label_days": [d.isoformat() for d in days],
        "splits": {
            name: {"examples": int(r["count"]), "click_rate": float(r["mean"])}
            for name, r in splits.iterrows()
        },
        "negative_share": negative_share,
        "held_out_user_share": held_out_user_share,
    }
    table = pa.Table.from_pandas(examples, preserve_index=False)
    path = lake.write_partition(settings.lake_root, TRAINING_SET, ctx.partition_date, table, meta)
    log.info("ranking set %s: %s -> %s", ctx.ds, meta["splits"], path)
    return {"dt": ctx.ds, "path": str(path), **meta}


def _examples(ctx: RunContext) -> Any:
    return lake.read_partition(ctx.settings.lake_root, TRAINING_SET, ctx.partition_date).to_pandas()


def _tags() -> list[str]:
    from expectations.datasets import taxonomy_codes

    tags, _ = taxonomy_codes()
    return tags


def train_ranker_variant(
    ctx: RunContext, variant: str, epochs: int = 8, batch_size: int = 1024, learning_rate: float = 1e-3
) -> dict[str, Any]:
    """Train one DeepFM variant on the day's set and register it (a candidate, not promoted)."""
    from models.ranker import train_ranker

    if variant not in VARIANTS:
        raise ValueError(f"unknown DeepFM variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    examples = _examples(ctx)
    ranker = train_ranker(
        examples, cast("Variant", variant), _tags(), epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, seed=ctx.settings.sim_seed, log=log.info,
    )  # fmt: skip
    valid = ranker.evaluate(examples[examples["split"] == "valid"])
    assert ranker.fitted is not None
    fitted = ranker.fitted
    figures = {f"valid_{k}": v for k, v in valid.items()}
    figures |= {"train_s": fitted.train_seconds, "best_epoch": float(fitted.best_epoch)}
    figures["train_examples_per_s"] = (
        fitted.examples_per_epoch * fitted.epochs_run / max(fitted.train_seconds, 1e-9)
    )
    days = sorted(examples["label_day"].unique())
    registry = ModelRegistry.from_settings(ctx.settings)
    staging = Path(tempfile.mkdtemp(prefix=f"{RANKER}-{variant}-"))
    try:
        ranker.save(staging)
        version = registry.register(
            RANKER, staging, metrics=figures, data_range=(days[0], days[-1]),
            params={"variant": variant, **ranker.params, "trained_for": ctx.ds},
        )  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("registered %s v%d (%s): %s", RANKER, version.version, variant, figures)
    return {"version": version.version, "variant": variant, "metrics": figures}


def evaluate_rankers(ctx: RunContext, versions: list[int]) -> dict[str, Any]:
    """Score the candidates and the current champion on the same held-out day (``eval``)."""
    from models.ranker import load_ranker

    examples = _examples(ctx)
    held_out = examples[examples["split"] == "eval"]
    registry = ModelRegistry.from_settings(ctx.settings)
    champion = registry.champion(RANKER)
    results: dict[str, Any] = {"eval_day": ctx.ds, "examples": len(held_out), "champion": champion}
    scored = {}
    for version in sorted({*versions, *([champion] if champion is not None else [])}):
        with registry.open(RANKER, version) as opened:  # verifies the signature and files first
            ranker = load_ranker(opened.path)
        scored[str(version)] = {"variant": ranker.variant, **ranker.evaluate(held_out)}
        log.info("v%d (%s) on %s: %s", version, ranker.variant, ctx.ds, scored[str(version)])
    results["scores"] = scored
    results["candidates"] = sorted(versions)
    return results


def promote_best_ranker(ctx: RunContext, evaluation: dict[str, Any]) -> dict[str, Any]:
    """Promote the best candidate when it is at least as good as the champion on the same day."""
    registry = ModelRegistry.from_settings(ctx.settings)
    scores = evaluation["scores"]
    best = max(evaluation["candidates"], key=lambda v: (scores[str(v)][GATE_METRIC], scores[str(v)]["gauc"]))
    champion = evaluation["champion"]
    decision = decide_promotion(
        scores[str(best)],
        None if champion is None else scores[str(champion)],
        metric=GATE_METRIC,
        tolerance=ctx.settings.promotion_tolerance,
    )
    if decision.promote and best != champion:
        registry.promote(RANKER, best, reason=f"{ctx.ds}: {decision.reason}")
    serving = registry.champion(RANKER)
    log.info(
        "promotion of v%d (%s): %s; champion is v%s",
        best,
        scores[str(best)]["variant"],
        decision.reason,
        serving,
    )
    return {
        "model": RANKER,
        "candidate": best,
        "promoted": decision.promote and best != champion,
        "champion": serving,
        "reason": decision.reason,
        "eval_day": ctx.ds,
        "dt": ctx.ds,  # the day this champion was judged on: recsys_publish publishes from it
    }


# ------------------------------------------------------------------ recall model (two-tower)

RECALL = "recall"
RECALL_METRIC = "recall@100"
INDEX_DIR = "index"


def train_recall_model(ctx: RunContext, history_days: int = 7, epochs: int = 12) -> dict[str, Any]:
    """Train the two-tower recall model on the label days before D, gate it on D, register it.

    The registered version holds the model and the FAISS index of D's catalog (built and
    recall-checked against exact search), so the index is versioned with the model. The
    candidate is scored with the champion on D and promoted when not worse (same tolerance
    as the ranker). TensorFlow is imported here only.

    Raises:
        IndexRecallError: the index misses RECSYS_INDEX_MIN_RECALL; nothing is registered.
    """
    from models.index import save_index
    from models.recall_eval import next_day_recall
    from models.two_tower import TwoTowerConfig, load_two_tower, train_two_tower

    settings, day = ctx.settings, ctx.partition_date
    last_train = day - timedelta(days=1)
    # A label day needs the features of the day before it, so the first one is the day after
    # the history start: a young lake trains on the days it has.
    available = (last_train - settings.history_start).days
    if available < 1:
        raise PartitionMissingError(
            f"the recall model of {ctx.ds} needs a label day after {settings.history_start} "
            f"(RECSYS_HISTORY_START) and before {ctx.ds}; the lake has none yet"
        )
    if available < history_days:
        log.info(
            "recall: %d label days wanted, the lake has %d after its history start", history_days, available
        )
        history_days = available
    config = TwoTowerConfig(epochs=epochs, seed=settings.sim_seed)
    model = train_two_tower(settings.lake_root, last_train, history_days, config, log=log.info)
    result = next_day_recall(model, settings, day, model_version=f"{RECALL}-{ctx.ds}")
    figures = {k: float(v) for k, v in result.figures.items() if isinstance(v, int | float)}
    assert model.fitted is not None
    figures |= {"train_s": model.fitted.train_seconds, "epochs": float(model.fitted.best_epoch)}
    registry = ModelRegistry.from_settings(settings)
    staging = Path(tempfile.mkdtemp(prefix=f"{RECALL}-"))
    try:
        model.save(staging / "model")
        index_path = save_index(result.index, staging / INDEX_DIR)
        version = registry.register(
            RECALL, staging, metrics=figures, data_range=(day - timedelta(days=history_days), last_train),
            params={"history_days": history_days, "epochs": epochs, "trained_for": ctx.ds,
                    "index": str(index_path.relative_to(staging)), "index_kind": result.index.kind},
        )  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("registered %s v%d: %s", RECALL, version.version, figures)

    champion = registry.champion(RECALL)
    champion_figures = None
    if champion is not None:
        with registry.open(RECALL, champion) as opened:
            previous = load_two_tower(opened.path / "model")
        champion_figures = next_day_recall(
            previous, settings, day, model_version=f"champion-{ctx.ds}"
        ).figures
    decision = decide_promotion(
        figures, champion_figures, metric=RECALL_METRIC, tolerance=settings.promotion_tolerance
    )
    if decision.promote:
        registry.promote(RECALL, version.version, reason=f"{ctx.ds}: {decision.reason}")
    log.info("recall v%d: %s; champion is v%s", version.version, decision.reason, registry.champion(RECALL))
    return {
        "model": RECALL,
        "dt": ctx.ds,
        "version": version.version,
        "promoted": decision.promote,
        "champion": registry.champion(RECALL),
        "reason": decision.reason,
        "metrics": figures,
    }


# ------------------------------------------------------------------ fine ranker (BERT4Rec)

FINE_RANKER = "fine_ranker"
FINE_METRIC = "hr@10"


def _fine_ranks(model: Any, vocabulary: list[str], data: Any, held_out: Any) -> Any:
    """Full-ranking ranks of ``held_out``'s targets among ``data``'s items, for a BERT4Rec that
    knows the items of ``vocabulary``.

    The champion was trained on an older window: items it never saw score -inf, and a target
    it never saw ranks behind every item it knows, so it is judged by what it can do today.
    """
    import numpy as np

    from models.sequences import full_ranks

    ids = {item: i + 1 for i, item in enumerate(vocabulary)}
    mapping = np.asarray([ids.get(name, 0) for name in data.items], dtype=np.int64)  # data id - 1 -> model id
    known = mapping > 0
    parts = []
    for start in range(0, len(held_out), 512):
        histories = held_out.histories[start : start + 512]
        targets = held_out.targets[start : start + 512]
        own = [mapping[h - 1][mapping[h - 1] > 0] for h in histories]
        by_model = model.score_all(own).astype(np.float64)
        scores = np.full((len(targets), data.n_items + 1), -np.inf)
        scores[:, 1:][:, known] = by_model[:, mapping[known]]
        rows = np.arange(len(targets))
        unseen = ~np.isfinite(scores[rows, targets])
        scores[rows[unseen], targets[unseen]] = -1e30
        parts.append(full_ranks(scores, histories, targets))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def train_fine_ranker(
    ctx: RunContext,
    history_days: int = 14,
    epochs: int = 30,
    max_minutes: float = 20.0,
    validation_users: int = 2000,
) -> dict[str, Any]:
    """Train BERT4Rec on the engaged sequences up to D-1, gate it on D against the champion, register it.

    Early stopping watches the last item of ``validation_users`` sampled users, held out of
    their training sequences (models.sequences.hold_out_last); the gate ranks
    each user's first engaged item of D among every item of the window (full ranking, the
    history left out; HR@10), for the candidate and the re-scored champion alike.
    """
    import keras

    from models.bert4rec import TrainConfig, build_bert4rec, fit_bert4rec
    from models.metrics import ranking_report
    from models.sequences import evaluation_set, hold_out_last
    from models.shop_sequences import next_day_held_out, shop_sequences

    settings, day = ctx.settings, ctx.partition_date
    data = shop_sequences(settings.lake_root, day - timedelta(days=1), history_days)
    # A sample of users' last items picks the epoch; everyone else trains on their whole
    # history up to D-1, whose most recent items say most about D. The day D cases judge.
    train, held = hold_out_last(data, validation_users, seed=settings.sim_seed)
    validation = evaluation_set(data, held, "full", settings.sim_seed)
    model = build_bert4rec(data.n_items, seed=settings.sim_seed, max_len=50, hidden=64, layers=2, heads=2)
    config = TrainConfig(epochs=epochs, max_seconds=max_minutes * 60, seed=settings.sim_seed, patience=5)
    summary = fit_bert4rec(model, train, validation, config, log=log.info)
    held_out = next_day_held_out(settings.lake_root, day, data)
    figures = ranking_report(_fine_ranks(model, data.items, data, held_out))
    figures |= {"cases": float(len(held_out)), "items": float(data.n_items), "train_s": summary.train_seconds,
                "epochs": float(summary.epochs_run), "best_epoch": float(summary.best_epoch)}  # fmt: skip
    registry = ModelRegistry.from_settings(settings)
    staging = Path(tempfile.mkdtemp(prefix=f"{FINE_RANKER}-"))
    try:
        model.save(staging / "model.keras")
        (staging / "items.json").write_text(json.dumps(data.items))
        first = max(day - timedelta(days=history_days), settings.history_start)  # (the lake starts there)
        version = registry.register(
            FINE_RANKER, staging, metrics=figures, data_range=(first, day - timedelta(days=1)),
            params={"history_days": history_days, "epochs": epochs, "trained_for": ctx.ds,
                    "protocol": "full", "validation_users": len(held)},
        )  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    champion = registry.champion(FINE_RANKER)
    champion_figures = None
    if champion is not None:
        with registry.open(FINE_RANKER, champion) as opened:
            previous = keras.saving.load_model(opened.file("model.keras"))
            vocabulary = json.loads(opened.file("items.json").read_text())
        champion_figures = ranking_report(_fine_ranks(previous, vocabulary, data, held_out))
    decision = decide_promotion(
        figures, champion_figures, metric=FINE_METRIC, tolerance=settings.promotion_tolerance
    )
    if decision.promote:
        registry.promote(FINE_RANKER, version.version, reason=f"{ctx.ds}: {decision.reason}")
    log.info("fine ranker v%d on %s: %s; %s", version.version, ctx.ds, figures, decision.reason)
    return {
        "model": FINE_RANKER,
        "dt": ctx.ds,
        "version": version.version,
        "promoted": decision.promote,
        "champion": registry.champion(FINE_RANKER),
        "reason": decision.reason,
        "metrics": figures,
    }
