"""``sony-lenses-46.json``: Sony Japan store E-mount lenses (MPN, label, JPY price, group, size).

The Japanese lens group and format fields are translated into the English words a shop
would use ("広角ズーム" -> "wide-angle zoom lens", "35mmフルサイズ" -> "35mm full-frame"),
and the G Master badge becomes the words "G Master"; the Japanese comment is kept as is.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.adapters.clean import clean_text, parse_price

_GROUPS = {
    "広角ズーム": "wide-angle zoom lens",
    "標準ズーム": "standard zoom lens",
    "望遠ズーム": "telephoto zoom lens",
    "超望遠ズーム": "super-telephoto zoom lens",
    "高倍率ズーム": "high-magnification zoom lens",
    "広角単焦点": "wide-angle prime lens",
    "標準単焦点": "standard prime lens",
    "中望遠単焦点": "medium-telephoto prime lens",
    "マクロ": "macro lens",
}
_FORMATS = {"35mmフルサイズ": "35mm full-frame", "APS-C": "APS-C"}
_BADGES = {"g-master.png": "G Master", "zeiss.png": "ZEISS", "g_k-mark.png": "G Lens"}


def from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [str(r["MPN"]) for r in records],
            "title": [f"Sony {clean_text(r['label'])} ({r['MPN']})" for r in records],
            "description": [_description(r) for r in records],
            "brand": "Sony",
            "category": "lenses",
            "price": [parse_price(r.get("price")) for r in records],
            "currency": "JPY",
            "available": True,
            "listed_date": None,
        }
    )


def _description(r: dict[str, Any]) -> str:
    group = _GROUPS.get(str(r.get("group", "")), clean_text(r.get("group")))
    fmt = _FORMATS.get(str(r.get("size", "")), clean_text(r.get("size")))
    badges = [b for src in r.get("brand_src") or [] for key, b in _BADGES.items() if src.endswith(key)]
    uses = ", ".join(str(c).replace("&", " and ") for c in r.get("category") or [])
    parts = [f"{fmt} {group}".strip()]
    if badges:
        parts.append(" ".join(badges))
    if uses:
        parts.append(f"for {uses}")
    parts.append(clean_text(r.get("comment")))
    return ". ".join(p for p in parts if p)
