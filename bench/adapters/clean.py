"""Cleaning helpers shared by the catalog adapters: text, prices and categories."""

from __future__ import annotations

import html
import math
import re

_TRADEMARKS = re.compile("[™®©℠]")
_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"\d[\d,.]*")
_EUROPEAN = re.compile(r"^\d{1,3}(?:\.\d{3})*,\d{1,2}$")

# First match wins; the shop's nine categories where the meaning is clear, else a slug.
_CATEGORY_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"security|surveillance|doorbell", re.I), "home_security"),
    (re.compile(r"movies|tv shows", re.I), "movies"),  # "Movies & TV Shows" are discs, not TVs
    (
        re.compile(
            r"mount|antenna|cable|adapter|charger|case|cover|sleeve|protector|\bbags?\b|batter|memory"
            r"|secure digital|micro sd|flash drive|remote|ink\b|stand|hub|connector|accessor|parts",
            re.I,
        ),
        "accessories",
    ),
    (re.compile(r"headphone|earbud|headset", re.I), "headphones"),
    (re.compile(r"speaker|soundbar|home theater", re.I), "speakers"),
    (re.compile(r"\btvs?\b|television", re.I), "tvs"),
    (re.compile(r"\blens", re.I), "lenses"),
    (re.compile(r"camera|camcorder", re.I), "cameras"),
    (re.compile(r"console|controller|video games", re.I), "game_consoles"),
    (re.compile(r"phone", re.I), "phones"),
    (re.compile(r"laptop|notebook|macbook", re.I), "laptops"),
]


def clean_text(value: object) -> str:
    """Decode HTML entities, drop trademark signs, fold line breaks and runs of spaces."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = html.unescape(html.unescape(str(value)))  # some exports escape twice (&amp;#174;)
    text = _TRADEMARKS.sub("", text)
    return _SPACES.sub(" ", text).strip()


def parse_price(value: object) -> float:
    """The first amount in a price field: "$1,149.99through-$1,499.99" -> 1149.99; NaN if none.

    Thousands separators and currency signs are dropped; "1.234,56" (decimal comma) is read too.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if isinstance(value, int | float):
        return float(value) if value > 0 else math.nan
    found = _NUMBER.search(str(value))
    if not found:
        return math.nan
    number = found.group(0).rstrip(".,")
    if _EUROPEAN.match(number):
        number = number.replace(".", "").replace(",", ".")
    else:
        number = number.replace(",", "")
    try:
        price = float(number)
    except ValueError:
        return math.nan
    return price if price > 0 else math.nan


def canonical_category(value: object) -> str:
    """Map a shop's category name onto the simulated shop's nine, or a slug of it."""
    text = clean_text(value)
    for pattern, name in _CATEGORY_RULES:
        if pattern.search(text):
            return name
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
