"""DeepFM ranking on a public sequential dataset, S3-Rec protocol: baseline vs tag variant.

    python -m bench.ranking --data ../shared/datasets/seqrec/Beauty.txt \\
        --attributes ../shared/datasets/seqrec/Beauty_item2attributes.json
    python -m bench.ranking ... --max-users 3000 --epochs 3      # a quick run

Protocol (S3-Rec, CIKM 2020): leave-one-out per user, the last item is the test target,
the second-to-last the validation target, the earlier ones train. A held-out item is
ranked among 99 items sampled uniformly (seeded) from the items the user never interacted
with. Training: every position of a user's training prefix is a positive, with
``--negatives`` items sampled uniformly from outside that prefix. Features at a position
come only from what came before it: the user, the last item, a bag of the last
``--history`` items, the history length, the item's popularity in the training prefixes,
and for the tag variant the item's attributes as tags and the user's step-decayed
attribute profile. Early stopping watches NDCG@10 on the validation position of a seeded
sample of ``--monitor-users`` users; the test position is scored once, with the restored
best weights. ``train_s`` is the wall time of the whole fit (training plus the per-epoch
validation ranking). "PopRec (this run)" ranks the test lists by training-prefix
popularity, a check of the protocol against the published PopRec row. On Beauty it gives
HR@10 .28 on the test position but .34 (the paper's .3386) on the validation one: test
items are the newest, so the training prefixes, which never count validation or test
items, undercount them (our reading; the paper does not say what its counts include).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras  # type: ignore[import-untyped]
import numpy as np

from bench.report import finish, peak_rss_mb
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
from models.metrics import ranking_report, target_ranks
from models.training import SharedRows, fit, make_dataset, predict

REPO = Path(__file__).resolve().parents[1]
SEQREC = REPO.parent / "shared" / "datasets" / "seqrec"
# S3-Rec paper (CIKM 2020), Beauty, 99 uniform negatives: the anchors to beat.
PUBLISHED = {
    "PopRec": {"hr@10": 0.3386, "ndcg@10": 0.1803},
    "FM": {"hr@10": 0.2311, "ndcg@10": 0.1207},
    "AutoInt": {"hr@10": 0.2872, "ndcg@10": 0.1440},
}
METRICS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr")
EVAL_NEGATIVES = 99


@dataclass(frozen=True)
class Interactions:
    """Users' item sequences (ids 1..n_items) and each item's tag ids (1..n_tags, 0 pads)."""

    sequences: list[np.ndarray]
    item_tags: np.ndarray  # (n_items + 1, max_tags) int32
    n_items: int
    n_tags: int
    skipped_users: int


@dataclass(frozen=True)
class Contexts:
    """Per-position user features, one row per (user, position); examples index into them."""

    user: np.ndarray
    last_item: np.ndarray
    history: np.ndarray  # (rows, history) int32, most recent last, padded with 0
    history_log_length: np.ndarray
    profile: np.ndarray  # (rows, n_tags + 1) float32


@dataclass(frozen=True)
class Examples:
    """Candidates to score: which context row, which item, and the label."""

    context: np.ndarray
    item: np.ndarray
    label: np.ndarray

    def of_users(self, users: np.ndarray) -> Examples:
        """The ranking lists of some users (examples laid out user by user, 100 each)."""
        width = 1 + EVAL_NEGATIVES
        pick = (users[:, None] * width + np.arange(width)).reshape(-1)
        return Examples(self.context[pick], self.item[pick], self.label[pick])


def load(data: Path, attributes: Path, max_tags: int, max_users: int, seed: int) -> Interactions:
    """Read ``user item item ...`` lines and ``{item: [attribute, ...]}``; renumber both from 1."""
    rows = [line.split() for line in data.read_text().splitlines() if line.strip()]
    users_total = len(rows)
    rows = [r for r in rows if len(r) >= 4]  # a user needs >= 3 items: train, validation, test
    skipped = users_total - len(rows)
    if max_users and len(rows) > max_users:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_users, replace=False))
        rows = [rows[i] for i in keep]
    item_ids: dict[str, int] = {}
    for r in rows:
        for token in r[1:]:
            item_ids.setdefault(token, len(item_ids) + 1)
    sequences = [np.array([item_ids[t] for t in r[1:]], dtype=np.int64) for r in rows]
    raw = json.loads(attributes.read_text())
    tag_ids: dict[str, int] = {}
    item_tags = np.zeros((len(item_ids) + 1, max_tags), dtype=np.int32)
    for token, item in item_ids.items():
        distinct = list(dict.fromkeys(str(a) for a in raw.get(token, [])))[:max_tags]
        for slot, tag in enumerate(distinct):
            item_tags[item, slot] = tag_ids.setdefault(tag, len(tag_ids) + 1)
    return Interactions(sequences, item_tags, len(item_ids), len(tag_ids), skipped)


def build_contexts(data: Interactions, history: int, decay: float) -> tuple[Contexts, dict[str, np.ndarray]]:
    """Context rows of every training position, then each user's validation and test rows.

    Returns the contexts and, per split, the context row of each example position and its
    target: ``train_*`` (one per training position), ``val_*`` and ``test_*`` (one per user).
    """
    n_tags = data.n_tags + 1
    multi_hot = np.zeros((data.n_items + 1, n_tags), dtype=np.float32)
    rows_of_items = np.repeat(np.arange(data.n_items + 1), data.item_tags.shape[1])
    multi_hot[rows_of_items, data.item_tags.reshape(-1)] = 1.0
    multi_hot[:, 0] = 0.0
    total = sum(len(s) for s in data.sequences)  # train positions + validation + test = len(seq)
    user = np.zeros(total, np.int32)
    last = np.zeros(total, np.int32)
    bag = np.zeros((total, history), np.int32)
    length = np.zeros(total, np.float32)
    profile = np.zeros((total, n_tags), np.float32)
    split: dict[str, list[int]] = {
        k: [] for k in ("train_row", "train_target", "train_user", "val_row", "test_row")
    }
    row = 0
    for u, seq in enumerate(data.sequences):
        running = np.zeros(n_tags, np.float32)
        for t in range(len(seq)):  # position t: history seq[:t], target seq[t]
            user[row] = u + 1
            if t:
                last[row] = seq[t - 1]
                recent = seq[max(0, t - history) : t]
                bag[row, history - len(recent) :] = recent
            length[row] = np.log1p(t)
            profile[row] = running
            running = decay * running + multi_hot[seq[t]]
            if t < len(seq) - 2:
                split["train_row"].append(row)
                split["train_target"].append(seq[t])
                split["train_user"].append(u)
            elif t == len(seq) - 2:
                split["val_row"].append(row)
            else:
                split["test_row"].append(row)
            row += 1
    contexts = Contexts(user, last, bag, length, profile)
    return contexts, {k: np.asarray(v, dtype=np.int64) for k, v in split.items()}


def _sample_outside(
    rng: np.random.Generator, n_items: int, count: int, exclude: np.ndarray, distinct: bool
) -> np.ndarray:
    """``count`` items from 1..n_items, none in ``exclude`` (and all different if ``distinct``)."""
    picked = np.empty(0, np.int64)
    while len(picked) < count:
        draw = rng.integers(1, n_items + 1, size=2 * (count - len(picked)) + 8)
        draw = draw[~np.isin(draw, exclude)]
        picked = np.concatenate([picked, draw])
        if distinct:
            _, first = np.unique(picked, return_index=True)
            picked = picked[np.sort(first)]
    return picked[:count]


def training_examples(
    data: Interactions, split: dict[str, np.ndarray], negatives: int, seed: int
) -> Examples:
    """Each training position as a positive plus ``negatives`` items from outside the prefix."""
    rng = np.random.default_rng(seed)
    rows, targets, users = split["train_row"], split["train_target"], split["train_user"]
    context = [rows]
    items = [targets]
    by_user = np.split(np.arange(len(users)), np.flatnonzero(np.diff(users)) + 1)
    negative_items = np.empty((len(rows), negatives), np.int64)
    for positions in by_user:
        prefix = data.sequences[users[positions[0]]][:-2]
        negative_items[positions] = _sample_outside(
            rng, data.n_items, len(positions) * negatives, prefix, distinct=False
        ).reshape(len(positions), negatives)
    context.append(np.repeat(rows, negatives))
    items.append(negative_items.reshape(-1))
    labels = np.concatenate([np.ones(len(rows)), np.zeros(len(rows) * negatives)]).astype(np.float32)
    return Examples(np.concatenate(context), np.concatenate(items), labels)


def ranking_examples(data: Interactions, rows: np.ndarray, which: int, seed: int) -> Examples:
    """Per user: the target (``seq[which]``) then 99 distinct never-interacted items."""
    rng = np.random.default_rng(seed)
    items = np.empty((len(data.sequences), 1 + EVAL_NEGATIVES), np.int64)
    for i, seq in enumerate(data.sequences):
        items[i, 0] = seq[which]
        items[i, 1:] = _sample_outside(rng, data.n_items, EVAL_NEGATIVES, seq, distinct=True)
    labels = np.zeros(items.shape, np.float32)
    labels[:, 0] = 1.0
    context = np.repeat(rows, 1 + EVAL_NEGATIVES)
    return Examples(context, items.reshape(-1), labels.reshape(-1))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    data = load(Path(args.data), Path(args.attributes), args.max_tags, args.max_users, args.seed)
    contexts, split = build_contexts(data, args.history, args.tag_decay)
    train = training_examples(data, split, args.negatives, args.seed)
    n_users = len(data.sequences)
    val = ranking_examples(data, split["val_row"], -2, args.seed + 2)
    monitor_users = np.random.default_rng(args.seed + 1).permutation(n_users)[: args.monitor_users or n_users]
    val_monitor = val.of_users(np.sort(monitor_users))
    test = ranking_examples(data, split["test_row"], -1, args.seed + 3)
    popularity = np.bincount(split["train_target"], minlength=data.n_items + 1)
    print(
        f"{n_users:,} users ({data.skipped_users} with < 3 items skipped), {data.n_items:,} items, "
        f"{data.n_tags:,} tags; {len(train.label):,} training examples; "
        f"prepared in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    # Popularity alone on this run's test lists: checks the protocol against published PopRec.
    poprec = ranking_report(target_ranks(popularity[test.item].reshape(-1, 1 + EVAL_NEGATIVES)))
    features = Features(data, contexts, np.log1p(popularity).astype(np.float32), args)
    results: dict[str, Any] = {}
    for variant in args.variants:
        results[variant] = run_variant(variant, features, train, val_monitor, val, test, args)
    rows = _rows(results, poprec, data)
    figures: dict[str, Any] = {v: results[v]["test"] | {"train_s": results[v]["train_s"]} for v in results}
    figures["validation"] = {v: results[v]["validation"] for v in results}
    figures["poprec"] = {k: round(poprec[k], 4) for k in METRICS}
    figures["setup"] = {
        "data": Path(args.data).name,
        "users": n_users,
        "items": data.n_items,
        "tags": data.n_tags,
        "training_examples": len(train.label),
        "epochs_run": {v: results[v]["epochs_run"] for v in results},
        "best_epoch": {v: results[v]["best_epoch"] for v in results},
        "published": PUBLISHED,
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(peak_rss_mb()),
    }
    finish(
        "ranking", figures, rows, f"DeepFM ranking on {Path(args.data).name}, S3-Rec protocol (99 negatives)"
    )
    return 0


class Features:
    """Turns examples into model inputs for a variant (shared context and item rows, not copies)."""

    def __init__(self, data: Interactions, contexts: Contexts, item_log_count: np.ndarray, args: Any) -> None:
        self.data, self.contexts, self.item_log_count = data, contexts, item_log_count
        n_items = data.n_items + 1
        pairs = _distinct_tag_pairs(data.item_tags)
        self.spec = FeatureSpec(
            categorical={"user": len(data.sequences) + 1, "item": n_items, "last_item": n_items},
            numeric=("item_log_count", "history_log_length"),
            sequences={"history": SequenceField(n_items, args.history, shared_with="item")},
            tags=TagFields(
                vocab_size=data.n_tags + 1,
                max_tags=data.item_tags.shape[1],
                profile_top_k=args.profile_top_k,
                # about two buckets per distinct pair: few collisions, a table sized by the data
                pair_buckets=max(2, int(2 ** np.ceil(np.log2(2 * max(pairs, 1))))),
            ),
        )

    def arrays(self, examples: Examples, variant: Variant) -> dict[str, np.ndarray | SharedRows]:
        """Model inputs of ``examples``: the context rows they use (only those), item rows by id."""
        used, at = np.unique(examples.context, return_inverse=True)
        c = self.contexts
        context_side: dict[str, np.ndarray] = {
            "user": c.user,
            "last_item": c.last_item,
            "history": c.history,
            "history_log_length": c.history_log_length,
            USER_TAG_PROFILE: c.profile,
        }
        item_side: dict[str, np.ndarray] = {
            "item_log_count": self.item_log_count,
            ITEM_TAGS: self.data.item_tags,
        }
        names = self.spec.input_names(variant)
        tables = {k: v[used] for k, v in context_side.items() if k in names} | item_side
        check_inputs(self.spec, variant, tables | {"item": examples.item})
        inputs: dict[str, np.ndarray | SharedRows] = {"item": examples.item}
        for name in names:
            if name in context_side:
                inputs[name] = SharedRows(tables[name], at)
            elif name in item_side:
                inputs[name] = SharedRows(tables[name], examples.item)
        return inputs


def _distinct_tag_pairs(item_tags: np.ndarray) -> int:
    first, second = np.triu_indices(item_tags.shape[1], k=1)
    a, b = item_tags[:, first], item_tags[:, second]
    valid = (a > 0) & (b > 0)
    keys = np.minimum(a, b)[valid].astype(np.int64) * (int(item_tags.max()) + 1) + np.maximum(a, b)[valid]
    return int(np.unique(keys).size)


def run_variant(
    variant: Variant,
    features: Features,
    train: Examples,
    monitor: Examples,
    val: Examples,
    test: Examples,
    args: Any,
) -> dict[str, Any]:
    """Build, fit with early stopping on validation NDCG@10, then rank validation and test."""

    def ranker(examples: Examples) -> Callable[[keras.Model], dict[str, float]]:
        dataset = make_dataset(features.arrays(examples, variant), None, args.eval_batch, False, args.seed)

        def rank(model: keras.Model) -> dict[str, float]:
            scores = predict(model, dataset).reshape(-1, 1 + EVAL_NEGATIVES)
            return ranking_report(target_ranks(scores))

        return rank

    print(f"--- {variant}", flush=True)
    keras.utils.set_random_seed(args.seed)
    model = build_deepfm(
        features.spec,
        variant,
        embedding_dim=args.dim,
        hidden=tuple(args.hidden),
        dropout=args.dropout,
        l2=args.l2,
        seed=args.seed,
    )
    train_ds = make_dataset(features.arrays(train, variant), train.label, args.batch, True, args.seed)
    result = fit(
        model,
        train_ds,
        None,
        epochs=args.epochs,
        patience=args.patience,
        learning_rate=args.lr,
        monitor="val_ndcg@10",
        evaluate=ranker(monitor),
        seed=args.seed,
        log=lambda line: print(line, flush=True),
    )
    validation, tested = ranker(val)(model), ranker(test)(model)
    print(
        f"{variant}: best epoch {result.best_epoch}, validation {_short(validation)}, test {_short(tested)}"
    )
    return {
        "test": {k: round(tested[k], 4) for k in METRICS},
        "validation": {k: round(validation[k], 4) for k in METRICS},
        "train_s": round(result.train_seconds, 1),
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "params": int(model.count_params()),
    }


def _short(report: dict[str, float]) -> str:
    return f"HR@10 {report['hr@10']:.4f} NDCG@10 {report['ndcg@10']:.4f}"


def _rows(results: dict[str, Any], poprec: dict[str, float], data: Interactions) -> list[tuple[str, str]]:
    header = "  ".join(f"{m:>7}" for m in METRICS) + f"  {'train_s':>7}"
    rows = [("model (test position)", header)]
    for name, figures in PUBLISHED.items():
        cells = [f"{figures[m]:>7.4f}" if m in figures else f"{'-':>7}" for m in METRICS]
        rows.append((f"{name} (S3-Rec paper, Beauty)", "  ".join(cells) + f"  {'-':>7}"))
    rows.append(("PopRec (this run)", "  ".join(f"{poprec[m]:>7.4f}" for m in METRICS) + f"  {'-':>7}"))
    for variant, result in results.items():
        cells = [f"{result['test'][m]:>7.4f}" for m in METRICS]
        rows.append((f"DeepFM {variant}", "  ".join(cells) + f"  {result['train_s']:>7.1f}"))
    for variant, result in results.items():
        rows.append((f"  validation {variant}", _short(result["validation"])))
        rows.append((f"  epochs {variant}", f"{result['epochs_run']} run, best {result['best_epoch']}"))
    rows.append(("setup", f"{len(data.sequences):,} users, {data.n_items:,} items, {data.n_tags:,} tags"))
    return rows


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.ranking", description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(SEQREC / "Beauty.txt"), help="one user a line: user item item ...")
    p.add_argument("--attributes", default=str(SEQREC / "Beauty_item2attributes.json"), help="item -> [ids]")
    p.add_argument("--max-users", type=int, default=0, help="a seeded sample of this many users (0: all)")
    p.add_argument("--variants", nargs="+", default=["baseline", "tags"], choices=["baseline", "tags"])
    p.add_argument("--negatives", type=int, default=4, help="sampled negatives per training positive")
    p.add_argument("--history", type=int, default=20, help="items in the history bag")
    p.add_argument("--max-tags", type=int, default=8, help="tags kept per item (first ones, distinct)")
    p.add_argument("--tag-decay", type=float, default=0.9, help="profile weight kept per later item")
    p.add_argument("--profile-top-k", type=int, default=16, help="user tags that query the item's tags")
    p.add_argument("--dim", type=int, default=16, help="embedding size")
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 128], help="MLP widths")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--l2", type=float, default=1e-5, help="L2 on embedding tables (tuned on validation)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--eval-batch", type=int, default=8192)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=2)
    p.add_argument(
        "--monitor-users", type=int, default=0, help="validation users for early stopping (0: all)"
    )
    p.add_argument("--seed", type=int, default=20261203)
    return p


if __name__ == "__main__":
    raise SystemExit(main())
