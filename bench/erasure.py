"""Erasing one user from a month of the simulated shop: the time of each step of recsys_maintenance.

    python -m bench.erasure --scale small --days 32

The lake (ingested, tagged, featurised days) is built once in data/bench/erasure-<scale>-seed<seed>
(or taken from ``--source``, a folder holding lake/ and landing/), copied, since erasing changes
it, and served with a private redis-server holding two versions of online features and of
recommendations (100 items for every user), and a feedback stream. The steps run in this process,
in the DAG's order, on the most active user (the most rows to rewrite; ``--who median``: a
typical one).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.redis_server import BenchRedis
from bench.report import finish, peak_rss_mb
from feature_store import lake
from feature_store.recommendations import publish_recommendations
from feature_store.service.feedback import STREAM
from recsys.settings import Settings, load_settings
from tasks import erasure
from tasks.context import RunContext

CACHE = Path(__file__).resolve().parents[1] / "data" / "bench"
FIRST = date(2026, 11, 1)


def ensure_lake(source: Path, scale: str, seed: int, days: int) -> Path:
    """``source`` holding ``days`` ingested days with features (built with the ingest chain if not)."""
    from tasks.pipeline import ingest_day

    settings = load_settings(
        lake_root=source / "lake", landing_root=source / "landing", sim_scale=scale, sim_seed=seed
    )
    for offset in range(days):
        day = FIRST + timedelta(days=offset)
        if not lake.has_partition(settings.lake_root, "features/user", day):
            started = time.perf_counter()
            ingest_day(RunContext(day, settings))
            print(f"  built {day} in {time.perf_counter() - started:.1f} s", flush=True)
    return source


def pick_user(root: Path, last: date, who: str) -> str:
    """The most active user of the last 30 days (the most rows to rewrite), or the median one."""
    counts = lake.read_partition(root, "features/user", last, columns=["user_id", "impressions_30d"])
    frame = counts.to_pandas().sort_values(["impressions_30d", "user_id"], ascending=[False, True])
    return str(frame["user_id"].iloc[0 if who == "most" else len(frame) // 2])


def fill_redis(settings: Settings, client: Any, last: date, user: str, entries: int) -> dict[str, int]:
    """Two versions of features and of recommendations, and ``entries`` feedback entries."""
    from tasks.features import publish_online_features

    for day in (last - timedelta(days=1), last):
        publish_online_features(RunContext(day, settings))
    users = lake.read_partition(settings.lake_root, "features/user", last, columns=["user_id"])["user_id"]
    items = lake.read_partition(settings.lake_root, "catalog", last, columns=["item_id"])["item_id"]
    users_list, items_list = users.to_pylist(), items.to_pylist()
    n, k = len(users_list), min(100, len(items_list))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "variant": "champion",
            "user_id": np.repeat(users_list, k),
            "rank": np.tile(np.arange(1, k + 1), n),
            "item_id": np.asarray(items_list, dtype=object)[rng.integers(0, len(items_list), n * k)],
            "score": np.tile(np.linspace(1.0, 0.0, k, dtype=np.float32), n),
            "channel": "faiss",
            "stage": "fine",
        }
    )
    targets = pd.DataFrame(
        {
            "item_id": items_list[0],
            "rank": np.arange(1, 51),
            "user_id": [user, *users_list[:49]],
            "score": 0.5,
        }
    )
    for _ in range(2):
        publish_recommendations(
            client, last.isoformat(), frame, None, targets, keep=3, batch_size=2000, verify_sample=100
        )
    pipe = client.pipeline(transaction=False)
    for i in range(entries):
        who = user if i % 1000 == 0 else users_list[i % n]
        pipe.xadd(STREAM, {"event": "impression", "user_id": who, "item_id": "", "request_id": f"r{i}"})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    return {"users": n, "keys": int(client.dbsize()), "stream_entries": int(client.xlen(STREAM))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "medium"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=32)
    parser.add_argument("--entries", type=int, default=200_000, help="feedback stream entries")
    parser.add_argument("--who", default="most", choices=["most", "median"], help="whom to erase")
    parser.add_argument("--source", type=Path, default=None, help="a folder with lake/ and landing/")
    args = parser.parse_args()
    source = ensure_lake(
        args.source or CACHE / f"erasure-{args.scale}-seed{args.seed}", args.scale, args.seed, args.days
    )
    last = FIRST + timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory(prefix="bench-erasure-") as tmp, BenchRedis() as server:
        root = Path(tmp)
        for name in ("lake", "landing"):
            shutil.copytree(source / name, root / name)
        settings = load_settings(
            lake_root=root / "lake",
            landing_root=root / "landing",
            redis_url=server.url,
            sim_scale=args.scale,
            sim_seed=args.seed,
        )
        client = server.client()
        user = pick_user(settings.lake_root, last, args.who)
        redis_facts = fill_redis(settings, client, last, user, args.entries)
        parquet = sorted(settings.lake_root.rglob("*.parquet"))
        lake_mb = sum(p.stat().st_size for p in settings.lake_root.rglob("*") if p.is_file()) / 1e6
        landing_mb = sum(p.stat().st_size for p in settings.landing_root.rglob("*") if p.is_file()) / 1e6

        request = erasure.ErasureRequest(user, dry_run=False, run_id="bench")
        seconds: dict[str, float] = {}
        outcomes = []
        for name in ("forget_user", "erase_feedback_stream", "erase_lake", "erase_landing",
                     "erase_online_features", "erase_recommendations"):  # fmt: skip
            started = time.perf_counter()
            outcomes.append(erasure.STEPS[name](settings, request))
            seconds[name] = time.perf_counter() - started
        started = time.perf_counter()
        verified = erasure.verify_erasure(settings, request, *outcomes)
        seconds["verify"] = time.perf_counter() - started
    counts = verified["counts"]
    total = sum(seconds.values())
    figures = {
        "scale": args.scale,
        "days": args.days,
        "who": args.who,
        "parquet_files": len(parquet),
        "lake_mb": round(lake_mb, 1),
        "landing_mb": round(landing_mb, 1),
        **redis_facts,
        "counts": counts,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "total_s": round(total, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    rows = [
        ("lake", f"{len(parquet):,} Parquet files, {lake_mb:,.0f} MB; landing {landing_mb:,.0f} MB"),
        ("redis", f"{redis_facts['keys']:,} keys, {redis_facts['stream_entries']:,} stream entries"),
        (
            "erased",
            f"{counts['lake_rows']:,} lake rows in {counts['lake_files']} files, "
            f"{counts['landing_lines']:,} landing lines, {counts['online_feature_keys']} feature keys, "
            f"{counts['recommendation_lists']} lists, {counts['stream_entries']} stream entries",
        ),
        *((name, f"{s:.2f} s") for name, s in seconds.items()),
        ("total", f"{total:.2f} s"),
        ("peak RSS", f"{peak_rss_mb():,.0f} MB"),
    ]
    finish(
        "erasure", figures, rows, f"Erasing the {args.who} active user: {args.scale} shop, {args.days} days"
    )


if __name__ == "__main__":
    main()
