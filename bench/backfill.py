"""A month of recsys_ingest steps in order, then out of order with re-runs: same features?

    python -m bench.backfill --scale small --days 30

Runs every step of the daily DAG (export, ingest, gates, tagging, features) as plain
functions, for each day in date order into one lake, and in a shuffled order with two
days re-run into a second lake. Reports the in-order time per day and whether every
feature table of every day is identical in both lakes. A day whose window reaches a day
not yet ingested fails (as its Airflow task would) and is retried after the others,
which is what Airflow's retries do during a real backfill.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from bench.lake_days import CACHE
from bench.report import finish
from feature_store import lake
from feature_store.features.definitions import ENTITIES
from recsys.errors import PartitionMissingError
from recsys.settings import Settings, load_settings

START = date(2026, 11, 1)


def run_day(settings: Settings, day: date, features_only: bool = False) -> None:
    """One day of recsys_ingest, without Airflow (``features_only``: resume a failed run)."""
    from recsys.shop_sim import write_export
    from tasks.context import RunContext
    from tasks.features import compute_features
    from tasks.ingest.catalog import ingest_catalog
    from tasks.ingest.events import ingest_events
    from tasks.tag import tag_catalog
    from tasks.validate import validate_partition

    ctx = RunContext(day, settings)
    if features_only:
        compute_features(ctx)
        validate_partition(ctx, "features")
        return
    write_export(day, seed=settings.sim_seed, scale=settings.sim_scale, landing_root=settings.landing_root)
    ingest_catalog(ctx)
    validate_partition(ctx, "catalog")
    ingest_events(ctx)
    validate_partition(ctx, "events")
    tag_catalog(ctx)
    validate_partition(ctx, "item_tags")
    compute_features(ctx)
    validate_partition(ctx, "features")


def backfill(settings: Settings, order: list[date]) -> tuple[float, int]:
    """Run days in ``order``; a day missing an earlier day is retried after the rest."""
    started, retries = time.perf_counter(), 0
    pending = [(day, False) for day in order]
    while pending:
        day, resume = pending.pop(0)
        try:
            run_day(settings, day, features_only=resume)
        except PartitionMissingError:
            retries += 1
            pending.append((day, True))  # Airflow retries the failed task, not the whole run
    return time.perf_counter() - started, retries


def compare_features(a: Path, b: Path, days: list[date]) -> tuple[bool, bool, float]:
    """(bit-identical, equal within 1e-9 relative, largest relative float difference).

    A day rolled on from the day before and a day merged from partials (what an out-of-order
    backfill does) add the same floats in another order, so money and preference columns
    may differ in the last bits; counts must match exactly either way.
    """
    identical, close, worst = True, True, 0.0
    for day in days:
        for entity in ENTITIES:
            path = f"features/{entity.name}"
            left = pq.read_table(lake.partition_dir(a, path, day) / lake.DATA_FILE)
            right = pq.read_table(lake.partition_dir(b, path, day) / lake.DATA_FILE)
            if left.equals(right):
                continue
            identical = False
            lf, rf = left.to_pandas(), right.to_pandas()
            try:
                pd.testing.assert_frame_equal(lf, rf, check_exact=False, rtol=1e-9)
            except AssertionError as exc:
                print(f"DIFFERENT: {path} dt={day}: {str(exc)[:300]}")
                close = False
            floats = [c for c in lf.columns if pd.api.types.is_float_dtype(lf[c])]
            diff = (lf[floats] - rf[floats]).abs() / rf[floats].abs().clip(lower=1e-12)
            worst = max(worst, float(np.nanmax(diff.to_numpy())) if floats else 0.0)
    return identical, close, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium"])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    days = [START + timedelta(days=i) for i in range(args.days)]
    roots = {name: CACHE / f"backfill-{name}-{args.scale}" for name in ("in_order", "shuffled")}
    settings = {}
    for name, root in roots.items():
        shutil.rmtree(root, ignore_errors=True)
        settings[name] = load_settings(
            lake_root=root / "lake", landing_root=root / "landing", sim_scale=args.scale, sim_seed=args.seed
        )
    in_order_s, _ = backfill(settings["in_order"], days)
    print(f"in order: {in_order_s:.1f} s for {args.days} days", flush=True)
    shuffled = days.copy()
    random.Random(args.seed).shuffle(shuffled)
    shuffled += [days[len(days) // 2], days[len(days) // 3]]  # two re-runs in the middle
    shuffled_s, retries = backfill(settings["shuffled"], shuffled)
    print(f"shuffled with re-runs: {shuffled_s:.1f} s, {retries} retries", flush=True)
    identical, close, worst = compare_features(
        settings["in_order"].lake_root, settings["shuffled"].lake_root, days
    )
    figures = {
        "scale": args.scale,
        "days": args.days,
        "in_order_s": round(in_order_s, 1),
        "seconds_per_day": round(in_order_s / args.days, 2),
        "shuffled_s": round(shuffled_s, 1),
        "shuffled_retries": retries,
        "features_identical": identical,
        "features_equal": close,
        "max_relative_float_difference": worst,
    }
    finish(
        "backfill",
        figures,
        [
            ("days", f"{args.days} ({args.scale} shop, from {START})"),
            ("in order", f"{in_order_s:.1f} s ({in_order_s / args.days:.2f} s a day, every step and gate)"),
            ("shuffled, 2 re-runs", f"{shuffled_s:.1f} s with {retries} retries of days run too early"),
            ("features bit-identical", str(identical)),
            ("features equal (counts exact, floats 1e-9)", f"{close} (largest float difference {worst:.1e})"),
        ],
        "bench.backfill: a month of recsys_ingest steps in order and out of order",
    )


if __name__ == "__main__":
    main()
