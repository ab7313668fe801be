"""Daily partials: each day's counters and distinct sets, stored once and merged into windows.

A day's partials are a pure function of that day's events, catalog and tags, so a missing
one can always be rebuilt from the day's events; a day with no events partition at all
stops the computation with its date in the message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from feature_store import lake
from feature_store.features.aggregate import Aggregates, aggregate
from recsys.errors import PartitionMissingError

log = logging.getLogger(__name__)

ROOT = "feature_partials"
TABLES = ("user", "item", "category", "tag", "user_category", "user_tag")
SETS = ("user_items", "user_sessions", "last_times")
EVENT_COLUMNS = ["event_time", "user_id", "session_id", "item_id", "event_type", "price"]


@dataclass(frozen=True)
class DayInputs:
    """What a day's partials are computed from."""

    events: pd.DataFrame
    catalog: pd.DataFrame
    item_tags: pd.DataFrame


def read_day(lake_root: Path, day: date) -> DayInputs:
    """The day's events, catalog categories and item tags from the lake.

    Raises:
        PartitionMissingError: one of the three partitions is missing (named in the message).
    """
    events = lake.read_partition(lake_root, "events", day, columns=EVENT_COLUMNS).to_pandas()
    catalog = lake.read_partition(lake_root, "catalog", day, columns=["item_id", "category"]).to_pandas()
    tags = lake.read_partition(lake_root, "item_tags", day, columns=["item_id", "tag"]).to_pandas()
    return DayInputs(events, catalog, tags)


def build(lake_root: Path, day: date, inputs: DayInputs | None = None) -> Aggregates:
    """Compute and store the partials of ``day`` (replacing any earlier ones)."""
    inputs = inputs or read_day(lake_root, day)
    parts = aggregate(inputs.events, inputs.catalog, inputs.item_tags)
    frames = {**parts.tables, "user_items": parts.user_items, "user_sessions": parts.user_sessions}
    frames["last_times"] = parts.last_times
    for name, frame in frames.items():
        lake.write_partition(
            lake_root, f"{ROOT}/{name}", day, pa.Table.from_pandas(frame, preserve_index=False)
        )
    return parts


def exists(lake_root: Path, day: date) -> bool:
    return all(lake.has_partition(lake_root, f"{ROOT}/{name}", day) for name in TABLES + SETS)


def load(lake_root: Path, day: date) -> Aggregates:
    """The stored partials of ``day``, rebuilt from its events when they are missing.

    Raises:
        PartitionMissingError: neither the partials nor the day's events exist.
    """
    if not exists(lake_root, day):
        if not lake.has_partition(lake_root, "events", day):
            raise PartitionMissingError(
                f"features need day {day.isoformat()}, which has no events partition "
                f"(events/dt={day.isoformat()}): run recsys_ingest for {day.isoformat()} first"
            )
        log.info("feature partials of %s are missing: rebuilding them from that day's events", day)
        return build(lake_root, day)

    def read(name: str) -> pd.DataFrame:
        frame: pd.DataFrame = lake.read_partition(lake_root, f"{ROOT}/{name}", day).to_pandas()
        return frame

    return Aggregates(
        tables={name: read(name) for name in TABLES},
        user_items=read("user_items"),
        user_sessions=read("user_sessions"),
        last_times=read("last_times"),
    )
