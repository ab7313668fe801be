"""The catalog on a day: listings born on each earlier day that are still alive.

Listings born on day ``d`` are drawn from ``day_rng(seed, d, ITEMS)`` together with their
lifetimes, so the catalog of day ``D`` is the listings of ``[D - max_lifetime, D]`` still
alive on ``D``: new items every day, old ones leaving, a steady size. A listing's daily
facts (price with markdowns and sales, stock, launch buzz) are functions of its key and
the date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys.settings import Scale
from recsys.shop_sim.days import iso_dates
from recsys.shop_sim.lineup import MODELS
from recsys.shop_sim.personas import PERSONA_NAMES, item_affinity
from recsys.shop_sim.randomness import FloatArray, IntArray, Stream, day_rng, unit_hash
from recsys.shop_sim.scales import ScaleSpec, scale_spec
from recsys.shop_sim.text import TEXT_DRAWS, listing_text
from recsys.shop_sim.variants import variant_table
from recsys.shop_sim.vocabulary import (
    CATEGORIES,
    CATEGORY_SHARE,
    CLAIMABLE,
    CURRENCY,
    FEATURES,
    PRICE_RANGE,
    SHELVES,
    TIERS,
)

EXPORT_COLUMNS = (
    "item_id",
    "title",
    "description",
    "brand",
    "category",
    "price",
    "currency",
    "available",
    "listed_date",
)
KEY_BASE = 10_000  # item key = birth ordinal * KEY_BASE + index of the day
CLAIM_PROBABILITY = 0.12
OUT_OF_STOCK = 0.04
SALE_PROBABILITY = 0.07
RENEWED, OPEN_BOX = 0.04, 0.03
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Catalog:
    """One day's catalog as arrays (one row per item, sorted by item id)."""

    day: date
    key: IntArray
    item_id: npt.NDArray[np.object_]
    model: IntArray
    variant: IntArray
    condition: IntArray  # 0 new, 1 renewed, 2 open box
    category: IntArray
    shelf: IntArray
    tier: IntArray
    features: BoolArray  # (items, FEATURES)
    base_price: FloatArray
    price: FloatArray
    on_sale: BoolArray
    available: BoolArray
    popularity: FloatArray
    listed: IntArray  # ordinal of the birth day
    last_day: IntArray  # ordinal of the last day listed
    text_draws: FloatArray  # (items, TEXT_DRAWS)

    def __len__(self) -> int:
        return len(self.key)


@dataclass(frozen=True)
class _ModelTable:
    """Per-model facts as arrays, indexed by position in ``MODELS``."""

    prob: FloatArray  # chance a new listing is this model
    category: IntArray
    shelf: IntArray
    tier: IntArray
    series: IntArray  # index into series_names
    series_names: tuple[str, ...]
    flags: BoolArray
    price: FloatArray
    low: FloatArray
    high: FloatArray
    weight: FloatArray
    n_variants: IntArray
    variant_factor: FloatArray  # (models, most variants), padded with 1


@cache
def model_table() -> _ModelTable:
    """The lineup as arrays (computed once; it never changes)."""
    cat = np.array([CATEGORIES.index(m.category) for m in MODELS])
    weight = np.array([m.weight for m in MODELS])
    share = np.array([CATEGORY_SHARE[m.category] for m in MODELS])
    per_cat = np.bincount(cat, weights=weight, minlength=len(CATEGORIES))
    prob = share * weight / per_cat[cat]
    flags = np.array([[f in m.features for f in FEATURES] for m in MODELS], dtype=bool)
    flags[:, FEATURES.index("long_battery")] |= np.array([m.mah >= 5000 for m in MODELS])
    names = tuple(sorted({m.series for m in MODELS}))
    variants = variant_table()
    widest = max(len(v) for v in variants)
    factor = np.ones((len(MODELS), widest))
    for i, options in enumerate(variants):
        factor[i, : len(options)] = [v.price_factor for v in options]
    return _ModelTable(
        prob=prob / prob.sum(),
        category=cat,
        shelf=np.array([SHELVES.index(m.shelf) for m in MODELS]),
        tier=np.array([TIERS.index(m.tier) for m in MODELS]),
        series=np.array([names.index(m.series) for m in MODELS]),
        series_names=names,
        flags=flags,
        price=np.array([m.price for m in MODELS], dtype=np.float64),
        low=np.array([PRICE_RANGE[m.category][0] for m in MODELS]),
        high=np.array([PRICE_RANGE[m.category][1] for m in MODELS]),
        weight=weight,
        n_variants=np.array([len(v) for v in variants]),
        variant_factor=factor,
    )


def _born_on(seed: int, ordinal: int, spec: ScaleSpec) -> dict[str, np.ndarray]:
    """Every listing created on one day (alive or not on the day asked for)."""
    rng = day_rng(seed, ordinal, Stream.ITEMS)
    rate = spec.items_per_day
    # At least one new listing a day: the shop always has something new (cold start).
    n = 1 + int(rng.poisson(rate - 1)) if rate >= 1 else int(rng.poisson(rate))
    table = model_table()
    lifetime = 1 + np.floor(rng.exponential(spec.item_mean_lifetime_days, n)).astype(np.int64)
    lifetime = np.minimum(lifetime, spec.item_max_lifetime_days + 1)
    model = rng.choice(len(MODELS), size=n, p=table.prob)
    n_variants = table.n_variants[model]
    variant = np.minimum((rng.random(n) * n_variants).astype(np.int64), n_variants - 1)
    cond_u = rng.random(n)
    condition = np.where(cond_u < RENEWED, 1, np.where(cond_u < RENEWED + OPEN_BOX, 2, 0))
    noise = rng.normal(0.0, 0.06, n)
    popularity = rng.lognormal(0.0, 0.9, n) * np.sqrt(table.weight[model])
    claim_u = rng.random((n, 2))
    text = rng.random((n, TEXT_DRAWS))
    features = table.flags[model].copy()
    category = table.category[model]
    for c, name in enumerate(CATEGORIES):
        options = CLAIMABLE[name]
        rows = np.flatnonzero((category == c) & (claim_u[:, 0] < CLAIM_PROBABILITY))
        if options and len(rows):
            pick = np.minimum((claim_u[rows, 1] * len(options)).astype(np.int64), len(options) - 1)
            features[rows, [FEATURES.index(options[k]) for k in pick]] = True
    raw = table.price[model] * table.variant_factor[model, variant] * np.exp(noise)
    raw *= np.where(condition == 1, 0.82, np.where(condition == 2, 0.9, 1.0))
    return {
        "index": np.arange(n, dtype=np.int64),
        "lifetime": lifetime,
        "model": model.astype(np.int64),
        "variant": variant,
        "condition": condition.astype(np.int64),
        "base_price": np.clip(raw, table.low[model], table.high[model]),
        "popularity": popularity,
        "features": features,
        "text": text,
    }


def shop_price(raw: FloatArray) -> FloatArray:
    """Round like a shop does: 1,299.00 or 1,298.99 above $100, 24.99 below."""
    whole = np.round(raw)
    below = whole - 0.01
    return np.where(raw >= 100, np.where(whole % 2 == 0, whole, below), np.maximum(below, 0.99))


def build_catalog(day: date, *, seed: int, scale: Scale) -> Catalog:
    """The catalog of ``day`` as arrays (what the behaviour model works on)."""
    spec = scale_spec(scale)
    today = day.toordinal()
    blocks = []
    for ordinal in range(today - spec.item_max_lifetime_days, today + 1):
        born = _born_on(seed, ordinal, spec)
        alive = today - ordinal < born["lifetime"]
        prefix = f"P{date.fromordinal(ordinal):%Y%m%d}-"
        ids = np.array([f"{prefix}{i:04d}" for i in born["index"][alive].tolist()], dtype=object)
        blocks.append(
            {k: v[alive] for k, v in born.items()} | {"listed": np.full(alive.sum(), ordinal), "id": ids}
        )
    cols = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
    table = model_table()
    model = cols["model"]
    listed = cols["listed"].astype(np.int64)
    key = listed * KEY_BASE + cols["index"]
    age = today - listed
    week = (today + (key % 7)) // 7  # sales start on different weekdays per item
    on_sale = unit_hash(seed, Stream.SALE, key, week) < SALE_PROBABILITY
    discount = 0.1 + 0.05 * np.floor(unit_hash(seed, Stream.SALE, key, week, 1) * 4)
    markdown = 1.0 - 0.12 * np.minimum(age, 365) / 365  # older listings get cheaper
    base = cols["base_price"]
    price = shop_price(base * markdown * np.where(on_sale, 1.0 - discount, 1.0))
    buzz = 1.0 + 1.5 * np.exp(-age / 14.0)  # new listings get attention while they are new
    return Catalog(
        day=day,
        key=key,
        item_id=cols["id"],
        model=model,
        variant=cols["variant"],
        condition=cols["condition"],
        category=table.category[model],
        shelf=table.shelf[model],
        tier=table.tier[model],
        features=cols["features"],
        base_price=shop_price(base),
        price=price,
        on_sale=on_sale,
        available=unit_hash(seed, Stream.STOCK, key, today) >= OUT_OF_STOCK,
        popularity=cols["popularity"] * buzz,
        listed=listed,
        last_day=listed + cols["lifetime"] - 1,
        text_draws=cols["text"],
    )


def catalog_frame(catalog: Catalog) -> pd.DataFrame:
    """The export columns of the catalog plus ``truth_*`` columns (hidden ground truth)."""
    variants = variant_table()
    rows = []
    for i in range(len(catalog)):
        model = MODELS[int(catalog.model[i])]
        variant = variants[int(catalog.model[i])][int(catalog.variant[i])]
        feats = frozenset(f for f, on in zip(FEATURES, catalog.features[i], strict=True) if on)
        text = listing_text(model, variant, feats, catalog.text_draws[i])
        title = text.title + {0: "", 1: " (Renewed)", 2: " - Open Box"}[int(catalog.condition[i])]
        rows.append((title, text.description, model, variant, feats, text))
    affinity = catalog_affinity(catalog)
    frame = pd.DataFrame(
        {
            "item_id": catalog.item_id,
            "title": [r[0] for r in rows],
            "description": [r[1] for r in rows],
            "brand": [r[2].brand for r in rows],
            "category": [CATEGORIES[c] for c in catalog.category],
            "price": catalog.price,
            "currency": CURRENCY,
            "available": catalog.available,
            "listed_date": iso_dates(catalog.listed),
            "truth_model": [r[2].name for r in rows],
            "truth_series": [r[2].series for r in rows],
            "truth_tier": [TIERS[t] for t in catalog.tier],
            "truth_features": ["|".join(f for f in FEATURES if f in r[4]) for r in rows],
            "truth_text_features": ["|".join(f for f in FEATURES if f in r[5].mentioned) for r in rows],
            "truth_negated_features": ["|".join(sorted(r[5].negated)) for r in rows],
            "truth_shelf": [SHELVES[s] for s in catalog.shelf],
            "truth_mount": [r[2].mount for r in rows],
            "truth_screen_inches": [r[3].screen for r in rows],
            "truth_megapixels": [r[2].megapixels for r in rows],
            "truth_battery_mah": [r[2].mah for r in rows],
            "truth_condition": [("new", "renewed", "open_box")[c] for c in catalog.condition],
            "truth_base_price": catalog.base_price,
            "truth_on_sale": catalog.on_sale,
            "truth_popularity": catalog.popularity,
            "truth_last_day": iso_dates(catalog.last_day),
        }
    )
    for p, name in enumerate(PERSONA_NAMES):
        frame[f"truth_affinity_{name}"] = affinity[p]
    return frame


def catalog_affinity(catalog: Catalog) -> FloatArray:
    """(personas, items) persona affinity of the day's items (hidden truth)."""
    series = [MODELS[int(m)].series for m in catalog.model]
    brand = [MODELS[int(m)].brand for m in catalog.model]
    return item_affinity(catalog.category, catalog.features, series, brand, catalog.tier)


def catalog_on(day: date, *, seed: int, scale: Scale) -> pd.DataFrame:
    """The shop's catalog on ``day``: export columns and ``truth_*`` columns, by item id."""
    return catalog_frame(build_catalog(day, seed=seed, scale=scale))
