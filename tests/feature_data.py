"""Small synthetic lakes for feature tests: events, catalog and item_tags partitions per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from feature_store import lake
from tasks.ingest.events import EVENTS_SCHEMA

TYPES = np.array(["impression", "click", "view", "cart", "purchase"])
CATEGORIES = ["cameras", "lenses", "headphones", "tvs"]
TAGS = ["AU001", "AU002", "BR001", "PP001", "PP003", "BA002"]


def write_day(root: Path, day: date, seed: int, events: int = 400, users: int = 30, items: int = 25) -> None:
    """One day's events, catalog and tags; items P0.. with one item absent from each catalog."""
    rng = np.random.default_rng([seed, day.toordinal()])
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    seconds = np.sort(rng.integers(0, 86400, size=events))
    kinds = TYPES[rng.choice(5, size=events, p=[0.7, 0.12, 0.1, 0.05, 0.03])]
    item_ids = [f"P{i}" for i in rng.integers(0, items, size=events)]
    active = rng.choice(users, size=max(1, users * 2 // 3), replace=False)  # a third stay away each day
    user_ids = [f"U{u}" for u in rng.choice(active, size=events)]
    table = pa.table(
        {
            "event_id": [f"E{day:%Y%m%d}-{i}" for i in range(events)],
            "event_time": [start + timedelta(seconds=int(s)) for s in seconds],
            "user_id": user_ids,
            "session_id": [
                f"S{u}-{day.day}-{int(s) // 20000}" for u, s in zip(user_ids, seconds, strict=True)
            ],
            "item_id": item_ids,
            "event_type": kinds.tolist(),
            "price": rng.uniform(10, 900, size=events).round(2),
            "device": ["mobile"] * events,
            "placement": ["home"] * events,
            "position": pa.array([0] * events, pa.int32()),
        },
        schema=EVENTS_SCHEMA,
    )
    lake.write_partition(root, "events", day, table)
    gone = f"P{day.toordinal() % items}"  # an item that left today's catalog but still has events
    catalog_items = [f"P{i}" for i in range(items + 3) if f"P{i}" != gone]  # +3: items without events
    lake.write_partition(
        root,
        "catalog",
        day,
        pa.table(
            {"item_id": catalog_items, "category": [CATEGORIES[hash_item(i) % 4] for i in catalog_items]}
        ),
    )
    tag_rows = [
        (i, t) for i in catalog_items for k, t in enumerate(TAGS) if (hash_item(i) + k + day.day) % 3 == 0
    ]
    lake.write_partition(
        root,
        "item_tags",
        day,
        pa.table({"item_id": [i for i, _ in tag_rows], "tag": [t for _, t in tag_rows]}),
    )


def hash_item(item_id: str) -> int:
    return int(item_id[1:]) * 7 + 3
