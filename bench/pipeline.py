"""One full daily cycle on the simulated shop, every stage timed: ingest → publish.

    python -m bench.pipeline --scale medium

The days before the benchmark day are prepared once (cached in data/bench/, like the other
benchmarks); the benchmark day itself runs every step in this process, in DAG order, with a
fresh model registry (so the first candidate of each model is promoted) and a private
redis-server. The simulator writing the day's export is timed apart: a real shop delivers it.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench.ranking_sim import ensure_feature_days
from bench.redis_server import BenchRedis
from bench.report import finish, peak_rss_mb
from tasks.context import RunContext

STAGES = ("ingest", "validate", "tag", "features", "train", "index", "candidates", "publish")


class Stopwatch:
    """Adds each step's seconds to its stage and records the memory peak after it."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.steps: list[tuple[str, str, float, float]] = []

    def run(self, stage: str, name: str, step: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = step()
        took = time.perf_counter() - started
        if stage in self.seconds:
            self.seconds[stage] += took
        self.steps.append((stage, name, took, peak_rss_mb()))
        print(f"  {stage:<10} {name:<28} {took:8.1f} s   peak {peak_rss_mb():8.0f} MB", flush=True)
        return result


def target_users_against_next_day(settings: Any, day: date, k: int = 100) -> dict[str, float]:
    """Precision@k of day D's target users of new items on D+1's engagement, and of a baseline
    that targets the k most engaged users of the week for every new item (same run)."""
    import pandas as pd

    from feature_store import lake
    from models.precomputed import target_precision
    from models.recall_data import engaged_events
    from tasks.ingest.catalog import ingest_catalog
    from tasks.ingest.events import ingest_events
    from tasks.publish import TARGETS
    from tasks.shop_export import land_shop_export

    after = RunContext(day + timedelta(days=1), settings)
    land_shop_export(after)
    ingest_catalog(after)
    ingest_events(after)
    targets = lake.read_partition(settings.lake_root, TARGETS, day).to_pandas()
    next_day = engaged_events(settings.lake_root, after.partition_date, after.partition_date)
    ours = target_precision(targets, next_day, k)
    week = engaged_events(settings.lake_root, day - timedelta(days=6), day)
    busiest = week.groupby("user_id").size().sort_values(ascending=False).index[:k]
    items = targets["item_id"].drop_duplicates()
    baseline = pd.DataFrame(
        {
            "item_id": items.repeat(len(busiest)).to_numpy(),
            "rank": list(range(1, len(busiest) + 1)) * len(items),
            "user_id": list(busiest) * len(items),
        }
    )
    theirs = target_precision(baseline, next_day, k)
    return {
        f"precision@{k}": ours[f"precision@{k}"],
        f"most_active_precision@{k}": theirs[f"precision@{k}"],
        "new_items": float(len(items)),
        "items_evaluated": ours["items_evaluated"],
    }


def _stage_seconds(shards: list[dict[str, Any]], stage: str) -> float:
    """A stage's seconds over every shard and every published list (laps ``coarse:<list>``)."""
    laps = [float(t) for s in shards for lap, t in s["seconds"].items() if lap.split(":")[0] == stage]
    return round(sum(laps), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="medium", choices=["tiny", "small", "medium"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 15))
    parser.add_argument("--history-days", type=int, default=5, help="label days of the ranker's set")
    parser.add_argument("--epochs", type=int, default=2, help="DeepFM epochs at most")
    parser.add_argument("--negative-share", type=float, default=0.1, help="unclicked train impressions kept")
    parser.add_argument(
        "--held-out-user-share", type=float, default=0.3, help="users kept on the valid and eval days"
    )
    parser.add_argument("--variants", default="baseline,tags")
    parser.add_argument("--recall-epochs", type=int, default=4)
    parser.add_argument("--sequence-days", type=int, default=14)
    parser.add_argument("--fine-epochs", type=int, default=30)
    parser.add_argument("--fine-minutes", type=float, default=3.0, help="BERT4Rec training budget")
    args = parser.parse_args()
    # The steps' own log lines (epochs, promotions, shard figures) say where the time goes.
    logging.basicConfig(level=logging.INFO, format="      %(name)s: %(message)s")
    for noisy in ("faiss.loader", "tensorflow", "great_expectations", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from tasks import publish, retrain, validate
    from tasks.features import compute_features
    from tasks.ingest.catalog import ingest_catalog
    from tasks.ingest.events import ingest_events
    from tasks.shop_export import land_shop_export
    from tasks.tag import tag_catalog

    day: date = args.day
    print(f"preparing the {args.scale} lake up to {day - timedelta(days=1)} (cached)", flush=True)
    base = ensure_feature_days(args.scale, args.seed, day - timedelta(days=1))
    registry = Path(tempfile.mkdtemp(prefix="bench-pipeline-registry-"))
    watch = Stopwatch()
    with BenchRedis() as server:
        settings = base.model_copy(update={"registry_root": registry, "redis_url": server.url})
        ctx = RunContext(day, settings)
        print(f"daily cycle of {day} ({args.scale}), registry {registry}, redis {server.url}", flush=True)
        try:
            watch.run("simulate", "land_shop_export", lambda: land_shop_export(ctx))
            watch.run("ingest", "ingest_catalog", lambda: ingest_catalog(ctx))
            watch.run("validate", "catalog", lambda: validate.validate_partition(ctx, "catalog"))
            watch.run("tag", "tag_catalog", lambda: tag_catalog(ctx))
            watch.run("validate", "item_tags", lambda: validate.validate_partition(ctx, "item_tags"))
            events = watch.run("ingest", "ingest_events", lambda: ingest_events(ctx))
            watch.run("validate", "events", lambda: validate.validate_partition(ctx, "events"))
            watch.run("features", "compute_features", lambda: compute_features(ctx))
            watch.run("validate", "features", lambda: validate.validate_partition(ctx, "features"))

            watch.run(
                "train",
                "build_ranking_set",
                lambda: retrain.build_ranking_set(
                    ctx,
                    history_days=args.history_days,
                    negative_share=args.negative_share,
                    held_out_user_share=args.held_out_user_share,
                ),
            )
            watch.run(
                "validate", "training/ranking", lambda: validate.validate_partition(ctx, "training/ranking")
            )
            trained = [
                watch.run(
                    "train",
                    f"deepfm {v}",
                    partial(retrain.train_ranker_variant, ctx, v, epochs=args.epochs),
                )
                for v in args.variants.split(",")
            ]
            evaluation = watch.run(
                "train", "evaluate", lambda: retrain.evaluate_rankers(ctx, [t["version"] for t in trained])
            )
            watch.run("train", "promote", lambda: retrain.promote_best_ranker(ctx, evaluation))
            recall = watch.run(
                "train",
                "two-tower",
                lambda: retrain.train_recall_model(
                    ctx, history_days=args.history_days, epochs=args.recall_epochs
                ),
            )
            fine = watch.run(
                "train",
                "bert4rec",
                lambda: retrain.train_fine_ranker(
                    ctx,
                    history_days=args.sequence_days,
                    epochs=args.fine_epochs,
                    max_minutes=args.fine_minutes,
                ),
            )

            prepared = watch.run("candidates", "prepare (lists, index)", lambda: publish.prepare_publish(ctx))
            # The index build is part of prepare: move its seconds to their own stage.
            index_s = float(prepared.get("index_build_s", 0.0))
            watch.seconds["candidates"] -= index_s
            watch.seconds["index"] += index_s
            shards = [
                watch.run("candidates", f"shard {s}", partial(publish.generate_shard, ctx, s))
                for s in publish.user_shards(ctx)
            ]
            watch.run(
                "validate",
                "recommendations",
                lambda: validate.validate_partition(ctx, "recommendations/users"),
            )
            published = watch.run("publish", "publish", lambda: publish.publish_day(ctx))
            watch.run("publish", "smoke_check", lambda: publish.smoke_check(ctx))
            # Not part of the cycle: the next day arrives, and the new items' target users are judged.
            targets = target_users_against_next_day(settings, day)
        finally:
            shutil.rmtree(registry, ignore_errors=True)

    total = sum(watch.seconds.values())
    users = sum(s["users"] for s in shards)
    figures = {
        "scale": args.scale,
        "day": day.isoformat(),
        "total_s": round(total, 1),
        "stages": {k: round(v, 1) for k, v in watch.seconds.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "events": int(events["events"]),
        "active_items": int(prepared["active_items"]),
        "active_users": users,
        "stage_sizes": {
            "recall": settings.candidates_recall_size,
            "coarse": settings.candidates_coarse_size,
            "top_n": settings.candidates_top_n,
        },
        "shards": settings.candidates_shards,
        "lists": prepared["lists"],  # published list -> coarse-ranker version
        "aliases": prepared["aliases"],
        "coarse_s": _stage_seconds(shards, "coarse"),
        "fine_s": _stage_seconds(shards, "fine"),
        "recall_s": _stage_seconds(shards, "recall"),
        "published_keys": published.get("keys"),
        "publish_keys_per_s": published.get("keys_per_s"),
        "models": {
            "coarse_auc": evaluation["scores"][str(trained[0]["version"])]["auc"],
            "recall@100": recall["metrics"].get("recall@100"),
            "fine_hr@10": fine["metrics"].get("hr@10"),
        },
        "target_users": targets,
        "settings": {
            "history_days": args.history_days,
            "epochs": args.epochs,
            "negative_share": args.negative_share,
            "held_out_user_share": args.held_out_user_share,
            "variants": args.variants,
            "recall_epochs": args.recall_epochs,
            "sequence_days": args.sequence_days,
            "fine_minutes": args.fine_minutes,
        },
    }
    rows = [
        (f"{stage} / {name}", f"{took:8.1f} s   peak {rss:8.0f} MB") for stage, name, took, rss in watch.steps
    ]
    rows += [("", ""), *((f"stage {k}", f"{v:8.1f} s") for k, v in watch.seconds.items())]
    rows += [
        ("total (simulator excluded)", f"{total:8.1f} s   (target <= 1,800 s)"),
        ("active users", f"{users:,} in {settings.candidates_shards} shards"),
        (
            "stage sizes",
            f"{settings.candidates_recall_size} -> {settings.candidates_coarse_size} -> "
            f"{settings.candidates_top_n}",
        ),
    ]
    finish("pipeline", figures, rows, f"bench.pipeline: one daily cycle of the {args.scale} shop")


if __name__ == "__main__":
    main()
