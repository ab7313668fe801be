"""The two-tower recall model on the simulated shop: next-day recall@100, new items included.

    python -m bench.recall_sim --scale small

Trains with ``models.two_tower.train_two_tower`` on the days up to D-1 (the cached lake of
data/bench/, as bench.ranking_sim; D-1 first picks the epoch count, then all days are
trained on), saves and reloads the model, and for every user who engaged with something on
D retrieves the top 100 of D's whole catalog through ``models.index.build_index``. Nothing
is excluded: items the user engaged with or bought before stay candidates, since next-day
engagement often returns to them. Relevant items are the user's distinct engaged (click,
view, cart, purchase) items of D; recall is micro-averaged over users.

New items are those in D's catalog and not in D-1's. The popularity list (the 100 catalog
items with most engaged user-item-day pairs over the training days) cannot hold an item
born on D, so its new-item recall is 0 by construction. TensorFlow runs with op
determinism, so a re-run gives the same figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bench.ranking_sim import ensure_feature_days
from bench.report import finish, peak_rss_mb
from models import metrics
from models.index import BruteForceRetriever
from models.recall_data import engaged_events
from models.recall_eval import next_day_recall
from recsys.settings import Settings

if TYPE_CHECKING:
    from models.two_tower import TwoTower

EVAL_DAY = date(2026, 11, 10)
K = 100


def _popular(root: Path, last_train: date, days: int, catalog: pd.DataFrame) -> list[int]:
    """Catalog rows of the ``K`` items with most engaged user-item-day pairs over the training days."""
    engaged = engaged_events(root, last_train - timedelta(days=days - 1), last_train)
    counts = engaged.drop_duplicates(["user_id", "item_id", "day"])["item_id"].value_counts()
    rows = pd.Series(np.arange(len(catalog)), index=catalog["item_id"])
    return rows.reindex(counts.index).dropna().astype(int).iloc[:K].tolist()


def _measure(model: TwoTower, settings: Settings, train_days: int) -> dict[str, Any]:
    root, last_train = settings.lake_root, EVAL_DAY - timedelta(days=1)
    started = time.perf_counter()
    result = next_day_recall(model, settings, EVAL_DAY, k=K, model_version="recall-sim")
    evaluate_s = time.perf_counter() - started
    catalog, relevant, retrieved, new_rows = (
        result.catalog,
        result.relevant,
        result.retrieved,
        result.new_rows,
    )
    # Every item as if new (no id vector): how far the content path alone gets on the whole catalog.
    content = model.encode_items(catalog.assign(item_id=""))
    _, content_found = BruteForceRetriever(np.arange(len(catalog)), content).search(result.users, K)
    popular = [_popular(root, last_train, train_days, catalog)] * len(relevant)
    new_slots = float(np.mean([len(new_rows.intersection(r)) for r in retrieved]))
    new_items = result.figures["new_items"]
    return {
        **result.figures,
        "popularity_recall@100": metrics.recall_at(popular, relevant, K),
        "popularity_recall@100_new_items": 0.0,
        "content_only_recall@100": metrics.recall_at(content_found.tolist(), relevant, K),
        "new_item_share_of_catalog": new_items / len(catalog),
        "users_with_new_item_pairs": sum(1 for w in relevant if w & new_rows),
        "new_items_per_list": new_slots,
        # The same number of new-item slots per list, handed out at random among the new items.
        "new_items_random_placement_recall": new_slots / new_items if new_items else float("nan"),
        "evaluate_s": evaluate_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium"])
    parser.add_argument("--seed", type=int, default=42, help="the simulated shop's seed")
    parser.add_argument("--model-seed", type=int, default=0)
    parser.add_argument("--train-days", type=int, default=7, help="label days ending at D-1")
    parser.add_argument("--epochs", type=int, default=12, help="most epochs; D-1's recall picks the count")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--id-dropout", type=float, default=0.5)
    parser.add_argument("--no-logq", action="store_true", help="train without the popularity correction")
    args = parser.parse_args()

    settings = ensure_feature_days(args.scale, args.seed, EVAL_DAY)
    import tensorflow as tf  # type: ignore[import-untyped]

    from models.two_tower import TwoTowerConfig, load_two_tower, train_two_tower

    # Embedding gradients are summed by threads in a varying order; this fixes the order.
    tf.config.experimental.enable_op_determinism()
    config = TwoTowerConfig(epochs=args.epochs, batch_size=args.batch_size, id_dropout=args.id_dropout,
                            logq=not args.no_logq, seed=args.model_seed)  # fmt: skip
    model = train_two_tower(settings.lake_root, EVAL_DAY - timedelta(days=1), args.train_days, config)
    fitted = model.fitted
    assert fitted is not None
    with tempfile.TemporaryDirectory() as tmp:  # serve from the saved model, as the retrain would
        model.save(Path(tmp))
        model = load_two_tower(Path(tmp))
    m = _measure(model, settings, args.train_days)
    figures: dict[str, Any] = {"scale": args.scale, "eval_day": EVAL_DAY.isoformat()}
    figures.update({k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()})
    figures.update({
        "train_pairs": fitted.pairs, "train_days": args.train_days,
        "item_ids_known": len(model.encoder.items),
        "epochs": fitted.best_epoch, "validation_recall@100": round(fitted.best_recall, 4),
        "logq": config.logq, "id_dropout": config.id_dropout, "train_s": round(fitted.train_seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    })  # fmt: skip
    random = m["random_recall@100"]
    rows = [
        ("next day", f"{EVAL_DAY}: {m['users_evaluated']:,} users, {m['relevant_pairs']:,} engaged pairs"),
        ("catalog", f"{m['catalog_items']:,} items, {m['new_items']} first listed on {EVAL_DAY} "
                    f"({m['new_item_share_of_catalog']:.2%})"),
        ("training", f"{fitted.pairs:,} pairs over {args.train_days} days; {fitted.best_epoch} epochs chosen "
                     f"on {EVAL_DAY - timedelta(days=1)} (recall@100 {fitted.best_recall:.4f}); "
                     f"{fitted.train_seconds:.1f} s"),
        ("recall@100 two-tower", f"{m['recall@100']:.4f}"),
        ("recall@100 popularity", f"{m['popularity_recall@100']:.4f}"),
        ("recall@100 random list", f"{random:.4f} (expected)"),
        ("recall@100 content only", f"{m['content_only_recall@100']:.4f} (every item without its id vector)"),
        ("new items: recall@100", f"{m['recall@100_new_items']:.4f} on {m['new_item_pairs']} pairs of "
                                  f"{m['users_with_new_item_pairs']} users (popularity 0: never saw them)"),
        ("new items per 100-list", f"{m['new_items_per_list']:.2f} of {m['new_items']}; as many slots "
                                   f"at random would reach {m['new_items_random_placement_recall']:.4f}"),
    ]  # fmt: skip
    title = f"bench.recall_sim: two-tower recall on the simulated shop ({args.scale})"
    finish("recall_sim", figures, rows, title)


if __name__ == "__main__":
    main()
