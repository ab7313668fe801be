"""``retail-electronics-643.csv``: scraped US retailer listings (Sub Category, Price, Title, Feature).

No item ids and no brand column: ids are the 1-based row number, the brand is the title's
first word (with the product-line words Apple and Microsoft use put back to the brand).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.adapters.clean import canonical_category, clean_text, parse_price

_BRAND_ALIASES = {"macbook": "Apple", "mac": "Apple", "imac": "Apple", "ipad": "Apple", "xbox": "Microsoft"}
_CURRENCIES = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


def load(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    titles = [clean_text(t) for t in raw["Title"]]
    return pd.DataFrame(
        {
            "item_id": [f"RE-{i:04d}" for i in range(1, len(raw) + 1)],
            "title": titles,
            "description": [clean_text(f) for f in raw["Feature"]],
            "brand": [_brand(t) for t in titles],
            "category": [canonical_category(c) for c in raw["Sub Category"]],
            "price": [parse_price(p) if p.strip() else float("nan") for p in raw["Price"]],
            "currency": [_CURRENCIES.get(c.strip(), "USD") for c in raw["Currency"]],
            "available": True,
            "listed_date": None,
        }
    )


def _brand(title: str) -> str:
    first = title.split(" ", 1)[0].strip(",-") if title else ""
    return _BRAND_ALIASES.get(first.lower(), first)
