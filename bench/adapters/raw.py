"""The project's own raw catalog format (``docs/data-formats.md``): CSV or JSON Lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.adapters.clean import clean_text, parse_price


def load(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        frame = pd.read_json(path, lines=True, dtype=False)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = pd.DataFrame(
        {"item_id": frame["item_id"].astype(str), "title": [clean_text(t) for t in frame["title"]]}
    )
    for column in ("description", "brand", "category"):
        out[column] = [clean_text(v) for v in frame[column]] if column in frame else ""
    out["price"] = [parse_price(p) for p in frame["price"]] if "price" in frame else float("nan")
    currency = frame["currency"] if "currency" in frame else pd.Series(["USD"] * len(frame))
    out["currency"] = [str(c).strip().upper() or "USD" for c in currency]
    if "available" in frame:
        out["available"] = [str(v).strip().lower() not in ("false", "0") for v in frame["available"]]
    else:
        out["available"] = True
    listed = frame["listed_date"] if "listed_date" in frame else pd.Series([None] * len(frame))
    out["listed_date"] = pd.to_datetime(listed.replace("", None), errors="coerce").dt.date
    return out
