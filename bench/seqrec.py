"""BERT4Rec on a public sequence file under one of three leave-one-out protocols.

    python -m bench.seqrec --data ../shared/datasets/seqrec/beauty-bert4rec.txt --protocol pop100
    python -m bench.seqrec --data ../shared/datasets/seqrec/Beauty.txt --protocol full
    python -m bench.seqrec --data ../shared/datasets/seqrec/Beauty.txt --protocol uniform99
    python -m bench.seqrec --data ... --max-users 3000 --epochs 5       # a quick run
    python -m bench.seqrec --data ... --negatives 2048                  # sampled softmax

Either file layout works (models/sequences.py). Each user's last item is the test target,
never trained on. The second-to-last item is the validation target of ``--validation-users``
users (a seeded sample; 0: all), whose training stops before it; the other users train on
it as well. Early stopping and the learning-rate decay watch ``--monitor`` on the
validation targets under the same protocol (their own seeded negatives); the test targets
are scored once, with the best epoch's weights. With ``--refit`` they are scored instead by
a fresh model (same seed) trained on every user's items before the test item, validation
items included, for the epochs and learning rates early stopping chose (a second fit;
``train_s`` covers both). ``--init-cooccurrence STD`` starts the item vectors from the
training items' co-occurrence (models/seq_baselines.py) instead of at random; the
validation and test items never enter those counts (a refit's counts include the
validation items it trains on).
``--negatives N`` trains with a sampled softmax over the true item and N item ids drawn
per batch (``--negative-sampler``, log-q corrected unless ``--no-logq-correction``) instead
of the full softmax over the catalog, several times faster per epoch on a large one;
scoring is the same either way.
``train_s`` is the wall time of the whole fit, per-epoch validation included; the
machine is shared, so it is noisy.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import finish, peak_rss_mb
from models.sequences import (
    PROTOCOLS,
    IntArray,
    SequenceData,
    evaluation_set,
    first_users,
    item_attribute_ids,
    leave_one_out,
    read_sequences,
)

REPO = Path(__file__).resolve().parents[1]
SEQREC = REPO.parent / "shared" / "datasets" / "seqrec"
COOC_WINDOW, COOC_RECENT = 5, 5  # the co-occurrence reference: pairs within 5 places, the last 5 items
METRICS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr")

# Published anchors (../shared/datasets/README.md), by (file name, protocol).
PUBLISHED: dict[tuple[str, str], dict[str, dict[str, float]]] = {
    ("beauty-bert4rec.txt", "pop100"): {
        "BERT4Rec (Sun et al. 2019)": {
            "hr@1": 0.0953,
            "hr@5": 0.2207,
            "hr@10": 0.3025,
            "ndcg@5": 0.1599,
            "ndcg@10": 0.1862,
            "mrr": 0.1701,
        },
        "SASRec (same table)": {"hr@10": 0.2653, "ndcg@10": 0.1633},
    },
    ("Beauty.txt", "uniform99"): {
        "BERT4Rec (S3-Rec paper)": {"hr@10": 0.4739, "ndcg@10": 0.2975},
        "SASRec (S3-Rec paper)": {"hr@10": 0.4696, "ndcg@10": 0.3156},
        "S3-Rec": {"hr@10": 0.5506, "ndcg@10": 0.3732},
    },
    ("Beauty.txt", "full"): {
        "BERT4Rec (S3-Rec paper)": {"hr@10": 0.0347, "ndcg@10": 0.0170},
        "SASRec (S3-Rec paper)": {"hr@10": 0.0605, "ndcg@10": 0.0318},
        "S3-Rec": {"hr@10": 0.0647, "ndcg@10": 0.0327},
    },
    ("LastFM.txt", "uniform99"): {
        "BERT4Rec (S3-Rec paper)": {"hr@10": 0.4991, "ndcg@10": 0.2871},
        "SASRec (S3-Rec paper)": {"hr@10": 0.4706, "ndcg@10": 0.2755},
        "S3-Rec": {"hr@10": 0.5835, "ndcg@10": 0.3583},
    },
    ("LastFM.txt", "full"): {
        "BERT4Rec (S3-Rec paper)": {"hr@10": 0.0633, "ndcg@10": 0.0337},
        "SASRec (S3-Rec paper)": {"hr@10": 0.0688, "ndcg@10": 0.0390},
        "S3-Rec": {"hr@10": 0.0743, "ndcg@10": 0.0427},
    },
}


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    keys = [
        *("max_len", "hidden", "layers", "heads", "dropout", "attention_dropout", "mask_prob", "last_share"),
        *("batch_size", "lr", "weight_decay", "warmup_steps", "decay_patience", "decay_factor"),
        *("negatives", "negative_sampler", "logq_correction"),
        *("epochs", "patience", "monitor"),
        *("validate_every", "validation_users", "max_minutes", "max_users", "seed"),
        *("attributes", "attribute_width", "refit", "init_cooccurrence"),
    ]
    return {k: getattr(args, k) for k in keys}


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    """The report's metrics of ``figures`` to four decimals (those it holds)."""
    return {k: round(figures[k], 4) for k in METRICS if k in figures}


def _row(figures: dict[str, float]) -> str:
    return "  ".join(f"{figures[m]:>7.4f}" if m in figures else f"{'-':>7}" for m in METRICS)


def _rows(
    data: SequenceData, args: argparse.Namespace, tested: dict[str, float], figures: dict[str, Any]
) -> list[tuple[str, str]]:
    name = Path(args.data).name
    rows = [("model (test position)", "  ".join(f"{m:>7}" for m in METRICS))]
    for model, published in PUBLISHED.get((name, args.protocol), {}).items():
        rows.append((f"{model}, published", _row(published)))
    for baseline, measured in figures["baselines"].items():
        rows.append((f"{baseline}, this run", _row(measured)))
    if figures["before_refit"]:
        rows.append(("BERT4Rec, this run, before refit", _row(figures["before_refit"])))
    rows.append(("BERT4Rec, this run", _row(tested)))
    rows.append(("validation (best epoch)", _row(figures["validation"])))
    rows.append(
        (
            "dataset",
            f"{name} ({data.layout}): {data.n_users:,} users, {data.n_items:,} items, "
            f"{data.n_interactions:,} interactions",
        )
    )
    rows.append(("cases", f"{figures['validation_users']:,} validation, {figures['test_users']:,} test"))
    rows.append(
        (
            "training",
            f"{figures['epochs']} epochs (best {figures['best_epoch']}), {figures['train_s']:.0f} s, "
            f"stopped: {figures['stop_reason']}"
            + (f"; tested after a refit of {figures['best_epoch']} epochs" if figures["refit"] else ""),
        )
    )
    rows.append(("model", f"{figures['params']:,} parameters; test scoring {figures['eval_s']:.1f} s"))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # TensorFlow loads only after the arguments parse, so --help and typos answer at once.
    from models.bert4rec import TrainConfig, build_bert4rec, fit_bert4rec, refit_schedule
    from models.seq_baselines import CoOccurrence, Popularity, cooccurrence_vectors
    from models.sequences import Scorer, evaluate

    data = read_sequences(args.data)
    if args.max_users:
        data = first_users(data, args.max_users)
    split = leave_one_out(data, validation_users=args.validation_users or None, seed=args.seed)
    validation = evaluation_set(data, split.validation, args.protocol, seed=args.seed + 1)
    test = evaluation_set(data, split.test, args.protocol, seed=args.seed + 2)
    print(
        f"{Path(args.data).name}: {data.n_users:,} users, {data.n_items:,} items ({data.layout}); "
        f"protocol {args.protocol}: {len(validation):,} validation and {len(test):,} test cases"
    )
    attributes = item_attribute_ids(args.attributes, data, args.attribute_width) if args.attributes else None
    if attributes is not None:
        covered = int((attributes[1 : data.n_items + 1] != 0).any(axis=1).sum())
        print(
            f"item attributes from {Path(args.attributes).name}: {int(attributes.max()):,} attributes, "
            f"up to {args.attribute_width} per item; {covered:,} of {data.n_items:,} items have one"
        )
    architecture = {
        "max_len": args.max_len,
        "hidden": args.hidden,
        "layers": args.layers,
        "heads": args.heads,
        "dropout": args.dropout,
        "attention_dropout": args.attention_dropout,
    }

    def start_vectors(train: list[IntArray]) -> np.ndarray | None:
        """Item vectors factorised from ``train``'s co-occurrence (``--init-cooccurrence``), or None."""
        if not args.init_cooccurrence:
            return None
        return cooccurrence_vectors(
            train, data.n_items, args.hidden, window=COOC_WINDOW, scale=args.init_cooccurrence, seed=args.seed
        )

    model = build_bert4rec(data.n_items, args.seed, attributes, start_vectors(split.train), **architecture)
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps,
        decay_patience=args.decay_patience,
        decay_factor=args.decay_factor,
        mask_prob=args.mask_prob,
        last_share=args.last_share,
        patience=args.patience,
        monitor=args.monitor,
        validate_every=args.validate_every,
        max_seconds=args.max_minutes * 60 if args.max_minutes else None,
        seed=args.seed,
        negatives=args.negatives,
        negative_sampler=args.negative_sampler,
        logq_correction=args.logq_correction,
    )
    fitted = fit_bert4rec(model, split.train, validation, config)
    train_seconds = fitted.train_seconds
    before_refit: dict[str, float] = {}
    if args.refit:
        before_refit = evaluate(model, test)  # the early-stopped model, for the same run's comparison
        schedule = refit_schedule(fitted)
        print(f"refit: a fresh model on every item before the test item, {len(schedule)} epochs as chosen")
        model = build_bert4rec(
            data.n_items, args.seed, attributes, start_vectors(split.before_test), **architecture
        )
        refitted = fit_bert4rec(
            model, split.before_test, None, replace(config, max_seconds=None), schedule=schedule
        )
        train_seconds += refitted.train_seconds
    # Counting references on the same test cases, from the items a refit trains on.
    references: dict[str, Scorer] = {
        "popularity": Popularity(split.before_test, data.n_items),
        f"co-occurrence (window {COOC_WINDOW}, last {COOC_RECENT} items)": CoOccurrence(
            split.before_test, data.n_items, window=COOC_WINDOW, recent=COOC_RECENT
        ),
    }
    baselines = {name: evaluate(scorer, test) for name, scorer in references.items()}
    started = time.perf_counter()
    tested = evaluate(model, test)
    eval_seconds = time.perf_counter() - started
    if args.save:
        model.save(args.save)
    best = next((r.validation for r in fitted.history if r.epoch == fitted.best_epoch), {})
    figures: dict[str, Any] = {
        "protocol": args.protocol,
        **_rounded(tested),
        "train_s": round(train_seconds, 1),
        "epochs": fitted.epochs_run,
        "dataset": Path(args.data).name,
        "layout": data.layout,
        "users": data.n_users,
        "items": data.n_items,
        "interactions": data.n_interactions,
        "validation_users": len(validation),
        "test_users": len(test),
        "best_epoch": fitted.best_epoch,
        "stop_reason": fitted.stop_reason,
        "refit": args.refit,
        "before_refit": _rounded(before_refit),
        "validation": _rounded(best),
        "eval_s": round(eval_seconds, 1),
        "params": int(model.count_params()),
        "peak_rss_mb": round(peak_rss_mb(), 0),
        "settings": _settings(args),
        "published": PUBLISHED.get((Path(args.data).name, args.protocol), {}),
        "baselines": {name: _rounded(measured) for name, measured in baselines.items()},
    }
    name = args.name or f"seqrec_{Path(args.data).stem.lower().replace('-', '_')}_{args.protocol}"
    title = f"BERT4Rec, {Path(args.data).name}, protocol {args.protocol} (leave-one-out, test position)"
    finish(name, figures, _rows(data, args, tested, figures), title)
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.seqrec", description=__doc__.split("\n")[0])
    p.add_argument(
        "--data", default=str(SEQREC / "beauty-bert4rec.txt"), help="a sequence file, either layout"
    )
    p.add_argument("--protocol", choices=PROTOCOLS, default="pop100")
    p.add_argument("--max-users", type=int, default=0, help="only the first N users (0: all)")
    p.add_argument(
        "--validation-users",
        type=int,
        default=0,
        help="users whose second-to-last item is held out for early stopping; the rest train on it (0: all)",
    )
    p.add_argument(
        "--attributes",
        default="",
        help="item attributes, an item -> [attribute ids] JSON file (S3-Rec's <name>_item2attributes.json)",
    )
    p.add_argument("--attribute-width", type=int, default=16, help="most frequent attributes kept per item")
    p.add_argument(
        "--init-cooccurrence",
        type=float,
        default=0.0,
        metavar="STD",
        help="start the item vectors from the training items' co-occurrence (PPMI, truncated SVD) at "
        "this standard deviation (0: random start)",
    )
    p.add_argument("--max-len", type=int, default=50, help="longest input, [MASK] included")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1, help="hidden dropout")
    p.add_argument("--attention-dropout", type=float, default=0.1)
    p.add_argument("--mask-prob", type=float, default=0.2, help="share of items masked per sequence")
    p.add_argument(
        "--last-share", type=float, default=0.1, help="share of sequences masking only the last item"
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decay (0: Adam)")
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--decay-patience", type=int, default=3, help="validations without gain before lr decays")
    p.add_argument("--decay-factor", type=float, default=0.5, help="lr multiplier on a plateau")
    p.add_argument(
        "--negatives",
        type=int,
        default=0,
        help="sampled softmax: item ids drawn per batch as negatives (0: full softmax over all items)",
    )
    p.add_argument(
        "--negative-sampler",
        choices=("uniform", "popularity"),
        default="popularity",
        help="how --negatives are drawn: uniformly or by training item frequency",
    )
    p.add_argument(
        "--no-logq-correction",
        dest="logq_correction",
        action="store_false",
        help="do not subtract the log sampling probability from the sampled-softmax logits",
    )
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10, help="validations without improvement")
    p.add_argument("--monitor", choices=("ndcg@10", "hr@10"), default="ndcg@10")
    p.add_argument("--validate-every", type=int, default=1, help="epochs between validations")
    p.add_argument("--max-minutes", type=float, default=30.0, help="training time budget (0: none)")
    p.add_argument(
        "--refit",
        action="store_true",
        help="score the test items with a fresh model trained on every item before them, validation "
        "items included, for the epochs and learning rates early stopping chose",
    )
    p.add_argument("--seed", type=int, default=20261203)
    p.add_argument("--save", default="", help="write the trained model to this .keras path")
    p.add_argument("--name", default="", help="results file name (default seqrec_<data>_<protocol>)")
    return p


if __name__ == "__main__":
    raise SystemExit(main())
