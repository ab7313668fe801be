"""A benchmark lake of simulated days, built once per (scale, seed) and kept in data/bench/."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

from feature_store import lake
from recsys.settings import Settings, load_settings

CACHE = Path(__file__).resolve().parents[1] / "data" / "bench"


def bench_settings(scale: str, seed: int) -> Settings:
    root = CACHE / f"lake-{scale}-seed{seed}"
    return load_settings(
        lake_root=root / "lake", landing_root=root / "landing", sim_scale=scale, sim_seed=seed
    )


def ensure_days(settings: Settings, last: date, days: int) -> list[date]:
    """Ingested and tagged days ``last - days + 1 .. last`` (simulated, exported, ingested)."""
    from recsys.shop_sim import write_export
    from tasks.context import RunContext
    from tasks.ingest.catalog import ingest_catalog
    from tasks.ingest.events import ingest_events
    from tasks.tag import tag_catalog

    wanted = [last - timedelta(days=i) for i in reversed(range(days))]
    for n, day in enumerate(wanted, start=1):
        if lake.has_partition(settings.lake_root, "item_tags", day) and lake.has_partition(
            settings.lake_root, "events", day
        ):
            continue
        started = time.perf_counter()
        write_export(
            day, seed=settings.sim_seed, scale=settings.sim_scale, landing_root=settings.landing_root
        )
        ctx = RunContext(day, settings)
        ingest_catalog(ctx)
        report = ingest_events(ctx)
        tag_catalog(ctx)
        print(f"  prepared {day} ({n}/{len(wanted)}): {report['events']:,} events "
              f"in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    return wanted
