"""``bestbuy-408.json``: Best Buy records (name, shortDescription, manufacturer, categories, salePrice)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.adapters.clean import canonical_category, clean_text, parse_price


def from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [f"BB-{r['objectID']}" for r in records],
            "title": [clean_text(r.get("name")) for r in records],
            "description": [clean_text(r.get("shortDescription")) for r in records],
            "brand": [clean_text(r.get("manufacturer")) for r in records],
            "category": [
                canonical_category((r.get("categories") or [""])[0] or r.get("type")) for r in records
            ],
            "price": [parse_price(r.get("salePrice")) for r in records],
            "currency": "USD",
            "available": True,
            "listed_date": None,
        }
    )
