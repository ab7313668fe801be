"""The feature step of a day, and the publication of its user and item features online."""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from feature_store import lake
from feature_store.features.compute import compute_features as compute
from feature_store.online import OnlineFeatureStore
from tasks.connections import redis_client
from tasks.context import RunContext

log = logging.getLogger(__name__)


def compute_features(ctx: RunContext) -> dict[str, Any]:
    """Compute every entity's features for the day and write ``features/<entity>/dt=…``.

    Reads the day's events, catalog and item tags, plus the stored daily partials of the 29
    days before (rebuilt from a day's events when missing).

    Raises:
        PartitionMissingError: a day inside the 30-day window has no events partition.
    """
    settings = ctx.settings
    tables = compute(settings.lake_root, ctx.partition_date, settings.history_start)
    rows = {}
    for entity, frame in tables.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        lake.write_partition(settings.lake_root, f"features/{entity}", ctx.partition_date, table)
        rows[entity] = len(frame)
    log.info("features %s: %s", ctx.ds, rows)
    return {"dt": ctx.ds, "rows": rows}


def publish_online_features(ctx: RunContext) -> dict[str, Any]:
    """Publish the day's user and item features to Redis as a new version (atomic switch)."""
    settings = ctx.settings
    frames = {
        entity: lake.read_partition(settings.lake_root, f"features/{entity}", ctx.partition_date).to_pandas()
        for entity in ("user", "item")
    }
    store = OnlineFeatureStore(redis_client(settings), keep_versions=settings.online_keep_versions)
    result = store.publish(ctx.ds, frames)
    log.info("online features %s: version %s, %d keys in %.1f s %s", ctx.ds, result.version, result.keys,
             result.seconds, result.skipped)  # fmt: skip
    return {"dt": ctx.ds, "version": result.version, "keys": result.keys, "skipped": result.skipped}
