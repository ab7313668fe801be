"""Who shops here: personas and their tastes (the planted signal the models should find).

Each persona has additive log-affinities over categories, feature flags, series, brands and
tiers; an item's persona affinity is their sum. A user adds personal offsets per category,
a price sensitivity and a budget level on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from recsys.shop_sim.vocabulary import CATEGORIES, FEATURES, TIERS


@dataclass(frozen=True)
class Persona:
    """Tastes of one kind of shopper; unnamed keys weigh 0."""

    name: str
    share: float
    categories: dict[str, float]
    features: dict[str, float]
    series: dict[str, float]
    tiers: dict[str, float]
    price_sensitivity: float
    budget_level: float
    devices: tuple[float, float, float, float]  # desktop, mobile, tablet, app
    evening_hour: float
    brands: dict[str, float] = field(default_factory=dict)


# One persona per block; fields in Persona order. Kept as a table, not reformatted.
# fmt: off
PERSONAS: tuple[Persona, ...] = (
    Persona(
        "photographer", 0.12,
        {"cameras": 1.6, "lenses": 1.6, "accessories": 0.6, "laptops": 0.2, "headphones": -0.4,
         "speakers": -0.6, "tvs": -0.6, "game_consoles": -1.2},
        {"full_frame": 1.2, "weather_sealed": 0.7, "professional": 0.5, "aps_c": 0.1, "lightweight": 0.2},
        {"Sony Alpha": 0.8, "Sony G Master": 1.1, "Canon EOS R": 0.5, "Nikon Z": 0.5, "Fujifilm X": 0.6,
         "Sony E-mount": 0.4, "Sigma Art": 0.4, "Canon RF": 0.3, "Nikon NIKKOR Z": 0.3, "Fujifilm XF": 0.4,
         "Sony ZV": -0.4, "SanDisk Extreme PRO": 0.4},
        {"entry": -0.6, "mid": 0.1, "high": 0.6, "professional": 0.6},
        0.5, 0.35, (0.55, 0.3, 0.1, 0.05), 20.5,
    ),
    Persona(
        "videographer", 0.08,
        {"cameras": 1.6, "lenses": 1.0, "accessories": 0.8, "laptops": 0.5, "headphones": 0.2,
         "tvs": -0.3, "speakers": -0.4, "game_consoles": -1.0},
        {"4k": 1.0, "professional": 0.9, "full_frame": 0.5, "aps_c": 0.3, "lightweight": 0.3, "8k": 0.4},
        {"Sony FX": 1.4, "Sony ZV": 0.9, "Panasonic Lumix": 0.7, "Sony Alpha": 0.5, "Sony G Master": 0.4,
         "Rode Wireless": 1.0, "Apple MacBook": 0.4, "Sony Studio": 0.4},
        {"entry": -0.6, "mid": 0.1, "high": 0.5, "professional": 0.8},
        0.4, 0.45, (0.6, 0.25, 0.1, 0.05), 21.0,
    ),
    Persona(
        "audiophile", 0.12,
        {"headphones": 1.8, "speakers": 1.4, "accessories": 0.2, "phones": 0.3, "tvs": -0.2,
         "laptops": -0.4, "cameras": -0.9, "lenses": -1.2, "game_consoles": -0.8},
        {"hi_res_audio": 1.3, "noise_cancelling": 1.0, "ldac": 0.9, "wireless": 0.3,
         "minimalist_design": 0.2, "for_gamers": -0.5},
        {"Sony 1000X": 1.0, "Sennheiser Momentum": 0.9, "Sennheiser HD": 0.9, "Bose QuietComfort": 0.4,
         "Sonos Era": 0.5, "Sony Studio": 0.6, "FiiO BTR": 0.8, "AudioQuest DragonFly": 0.8, "JBL Tune": -0.5,
         "Sony Xperia": 0.4},
        {"entry": -0.8, "mid": 0.1, "high": 0.7, "professional": 0.5},
        0.5, 0.3, (0.35, 0.4, 0.1, 0.15), 21.0,
    ),
    Persona(
        "gamer", 0.18,
        {"game_consoles": 1.8, "accessories": 0.8, "tvs": 0.8, "headphones": 0.6, "laptops": 0.6,
         "speakers": -0.2, "cameras": -1.2, "lenses": -1.5},
        {"for_gamers": 1.3, "120hz": 1.0, "4k": 0.4, "hdr": 0.3, "backward_compatible": 0.6, "oled": 0.3},
        {"Sony PlayStation": 1.2, "Microsoft Xbox": 0.6, "Nintendo Switch": 0.6, "ASUS ROG": 1.0,
         "Sony INZONE": 0.9, "Logitech G": 0.7, "JBL Quantum": 0.5},
        {"entry": 0.0, "mid": 0.3, "high": 0.4, "professional": -0.2},
        0.8, 0.0, (0.3, 0.3, 0.05, 0.35), 22.0,
    ),
    Persona(
        "business", 0.15,
        {"laptops": 1.6, "phones": 1.2, "headphones": 0.8, "accessories": 0.7, "speakers": -0.4,
         "tvs": -0.6, "cameras": -0.6, "lenses": -1.2, "game_consoles": -1.2},
        {"for_business": 1.3, "noise_cancelling": 0.7, "lightweight": 0.6, "long_battery": 0.6,
         "minimalist_design": 0.3, "fast_charging": 0.3, "for_gamers": -0.9},
        {"Lenovo ThinkPad": 1.1, "Dell XPS": 0.7, "Apple MacBook": 0.6, "Sony 1000X": 0.5,
         "Bose QuietComfort": 0.5, "Logitech MX": 0.9, "Samsung Galaxy": 0.3, "Apple iPhone": 0.3,
         "Logitech Brio": 0.6},
        {"entry": -0.2, "mid": 0.3, "high": 0.4, "professional": 0.0},
        0.3, 0.25, (0.7, 0.2, 0.05, 0.05), 13.0,
    ),
    Persona(
        "home_entertainment", 0.17,
        {"tvs": 1.8, "speakers": 1.3, "game_consoles": 0.6, "headphones": 0.2, "accessories": 0.2,
         "phones": -0.2, "laptops": -0.4, "cameras": -0.8, "lenses": -1.3},
        {"oled": 1.0, "4k": 0.6, "8k": 0.4, "hdr": 0.7, "120hz": 0.2, "wireless": 0.3},
        {"Sony BRAVIA": 1.0, "LG OLED": 0.8, "Samsung Neo QLED": 0.5, "Sony BRAVIA Theatre": 0.8,
         "Sonos Arc": 0.7, "Sonos Era": 0.5, "Bose Soundbar": 0.4, "Samsung OLED": 0.4},
        {"entry": -0.1, "mid": 0.3, "high": 0.5, "professional": -0.2},
        0.6, 0.1, (0.3, 0.35, 0.25, 0.1), 20.0,
    ),
    Persona(
        "student", 0.18,
        {"laptops": 1.3, "phones": 1.3, "headphones": 1.3, "game_consoles": 0.8, "speakers": 0.6,
         "accessories": 0.8, "tvs": -0.4, "cameras": -0.3, "lenses": -1.0},
        {"long_battery": 0.6, "lightweight": 0.5, "portable": 0.6, "wireless": 0.4, "fast_charging": 0.4,
         "professional": -0.7, "for_gamers": 0.3},
        {"Apple AirPods": 0.6, "Apple iPhone": 0.5, "Apple MacBook": 0.5, "Google Pixel": 0.4,
         "Nintendo Switch": 0.5, "JBL Flip": 0.6, "JBL Go": 0.5, "Anker PowerCore": 0.5, "Sony ULT": 0.4,
         "ASUS Zenbook": 0.5, "Anker Soundcore": 0.5},
        {"entry": 0.7, "mid": 0.4, "high": -0.5, "professional": -1.4},
        1.1, -0.4, (0.2, 0.6, 0.05, 0.15), 22.5,
        {"Apple": 0.3},
    ),
)
# fmt: on
PERSONA_NAMES: tuple[str, ...] = tuple(p.name for p in PERSONAS)


def persona_shares() -> npt.NDArray[np.float64]:
    """Share of each persona among sign-ups, in ``PERSONAS`` order."""
    shares = np.array([p.share for p in PERSONAS])
    return np.asarray(shares / shares.sum(), dtype=np.float64)


def category_weights() -> npt.NDArray[np.float64]:
    """(personas, categories) log-affinities."""
    return np.array([[p.categories.get(c, 0.0) for c in CATEGORIES] for p in PERSONAS])


def item_affinity(
    category: npt.NDArray[np.int64],
    features: npt.NDArray[np.bool_],
    series: Sequence[str],
    brand: Sequence[str],
    tier: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """(personas, items) affinity of each persona to each item, before price and personal taste."""
    cat_w = category_weights()
    feat_w = np.array([[p.features.get(f, 0.0) for f in FEATURES] for p in PERSONAS])
    tier_w = np.array([[p.tiers.get(t, 0.0) for t in TIERS] for p in PERSONAS])
    series_names, series_idx = np.unique(np.asarray(series, dtype=object), return_inverse=True)
    series_w = np.array([[p.series.get(str(s), 0.0) for s in series_names] for p in PERSONAS])
    brand_names, brand_idx = np.unique(np.asarray(brand, dtype=object), return_inverse=True)
    brand_w = np.array([[p.brands.get(str(b), 0.0) for b in brand_names] for p in PERSONAS])
    score = cat_w[:, category] + feat_w @ features.T.astype(np.float64) + tier_w[:, tier]
    if len(series_names):
        score += series_w[:, series_idx] + brand_w[:, brand_idx]
    return np.asarray(score, dtype=np.float64)
