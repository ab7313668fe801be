"""The variants a model is listed in: colour, screen size, storage, configuration, kit."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from recsys.shop_sim.lineup import MODELS, Model
from recsys.shop_sim.vocabulary import COLOURS


@dataclass(frozen=True)
class Variant:
    """One sellable variant; ``screen`` is in inches (0 when it has no screen)."""

    label: str
    price_factor: float
    screen: float = 0.0
    size_code: str = ""


KIT_LENS: dict[str, str] = {
    "E": "FE 28-60mm",
    "RF": "RF 24-105mm STM",
    "Z": "NIKKOR Z 24-70mm f/4 S",
    "X": "XF 18-55mm",
    "L": "LUMIX S 20-60mm",
}
_STORAGE = (("128GB", 1.0), ("256GB", 1.1), ("512GB", 1.3), ("1TB", 1.55))
_LAPTOP = (("16GB RAM, 512GB SSD", 1.0), ("32GB RAM, 1TB SSD", 1.3), ("24GB RAM, 1TB SSD", 1.18))
# Price of a TV grows a little faster than its screen diagonal.
_TV_PRICE_EXPONENT = 1.7


def _colours(model_index: int, count: int) -> tuple[str, ...]:
    start = (model_index * 5) % len(COLOURS)
    return tuple(COLOURS[(start + 2 * k) % len(COLOURS)] for k in range(count))


def _variants(index: int, model: Model) -> tuple[Variant, ...]:
    if model.variants:
        return tuple(Variant(label, factor, model.screen) for label, factor in model.variants)
    if model.category == "tvs":
        return tuple(
            Variant("", (size / 65) ** _TV_PRICE_EXPONENT, float(size), str(size)) for size in model.sizes
        )
    if model.category == "cameras":
        if model.mount in KIT_LENS and model.tier != "professional":
            return (Variant("Body Only", 1.0), Variant(f"with {KIT_LENS[model.mount]} Lens", 1.15))
        return (Variant("Body Only", 1.0),) if model.mount != "fixed" else (Variant("Black", 1.0),)
    if model.category == "phones":
        return tuple(
            Variant(f"{storage}, {colour}", factor, model.screen)
            for storage, factor in _STORAGE
            for colour in _colours(index, 3)
        )
    if model.category == "laptops":
        return tuple(Variant(label, factor, model.screen) for label, factor in _LAPTOP)
    if model.category in ("headphones", "speakers"):
        return tuple(Variant(colour, 1.0) for colour in _colours(index, 3))
    return (Variant("", 1.0),)


@cache
def variant_table() -> tuple[tuple[Variant, ...], ...]:
    """Variants of every model, in ``MODELS`` order (computed once, it never changes)."""
    return tuple(_variants(i, m) for i, m in enumerate(MODELS))
