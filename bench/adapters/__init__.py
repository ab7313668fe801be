"""Adapters that turn real catalog exports into the normalised catalog the engine reads.

Each adapter recognises its file by content (not by name) and returns a DataFrame with the
columns of ``docs/data-formats.md``: item_id, title, description, brand, category, price,
currency, available, listed_date. Unparseable prices become NaN (the item stays in, so the
coverage figures count it as an item that cannot get a price tag).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.adapters import bestbuy, raw, retail, sony_lenses
from tasks.ingest.catalog import CATALOG_SCHEMA

COLUMNS = list(CATALOG_SCHEMA.names)  # the lake's catalog columns, in order


class UnknownCatalogFormatError(ValueError):
    """No adapter recognises the file: pass a raw catalog CSV/JSONL or one of the known exports."""


def load_catalog(path: Path) -> pd.DataFrame:
    """Read ``path`` with the adapter that recognises it."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        header = pd.read_csv(path, nrows=0).columns
        if "Sub Category" in header and "Title" in header:
            return _normalised(retail.load(path))
        if "item_id" in header and "title" in header:
            return _normalised(raw.load(path))
    elif name.endswith((".jsonl", ".jsonl.gz")):
        return _normalised(raw.load(path))
    elif name.endswith(".json"):
        records = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(records, list) and records and isinstance(records[0], dict):
            if "salePrice" in records[0] and "name" in records[0]:
                return _normalised(bestbuy.from_records(records))
            if "MPN" in records[0] and "label" in records[0]:
                return _normalised(sony_lenses.from_records(records))
    raise UnknownCatalogFormatError(
        f"{path}: not a raw catalog (CSV/JSONL with item_id,title,...) nor a known export "
        "(retail-electronics CSV, Best Buy JSON, Sony lens JSON)"
    )


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    for column in COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["price"] = frame["price"].astype("float64")
    return frame[COLUMNS].sort_values("item_id", kind="stable").reset_index(drop=True)
