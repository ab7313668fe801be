"""The shoppers' choice models: what they like, what they click, what they open directly.

Logits add up persona-item affinity, the user's own taste per category, price fit (price
against the user's budget, weighted by price sensitivity), the weekly focus, popularity,
position bias and relatedness to the last viewed item. These are the planted signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.shop_sim.randomness import FloatArray, IntArray
from recsys.shop_sim.slates import Page, ShopIndex
from recsys.shop_sim.users import UserBase


@dataclass(frozen=True)
class Behaviour:
    """Coefficients of the choice models (logits) and of the page flow."""

    click_base: float = -4.38
    page_click: tuple[float, ...] = (-0.2, 0.3, 0.0, 0.2, -0.2)  # by Page
    affinity: float = 0.55
    price: float = 1.4
    popularity: float = 0.3
    position_decay: float = 0.45
    same_series: float = 0.6
    same_shelf: float = 0.3
    complement: float = 0.5
    focus: float = 0.6
    view_after_click: float = 0.95
    cart_base: float = -4.1
    cart_affinity: float = 0.5
    cart_price: float = 1.6
    purchase_base: float = -2.3
    purchase_affinity: float = 0.3
    purchase_price: float = 1.5
    related_widget: float = 0.85  # item pages that show a related-items slate
    search_jump: float = 0.3  # listing pages left by searching for one product directly
    exit_after_cart: float = 0.3
    exit_after_view: float = 0.09
    exit_idle: float = 0.14
    start_mix: tuple[float, ...] = (0.32, 0.23, 0.15, 0.30)  # home, search, category, landing on an item
    next_listing: tuple[float, ...] = (0.15, 0.45, 0.40)  # home, search, category


@dataclass(frozen=True)
class Shoppers:
    """Per-day scoring inputs: who the session's user is and how they value items."""

    users: UserBase
    affinity: FloatArray  # (personas, items)
    log_price_gap: FloatArray  # per item: log(price / category reference price)
    popularity_z: FloatArray
    category: IntArray
    affinity_by_category: FloatArray  # (personas, categories)


def fit(shoppers: Shoppers, user: IntArray, item: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Taste (persona affinity + personal offset), price fit (<= 0) and focus match (0/1).

    Shapes broadcast: ``user`` (n, 1) against ``item`` (n, k) gives (n, k) arrays.
    """
    users = shoppers.users
    cat = shoppers.category[item]
    taste = shoppers.affinity[users.persona[user], item] + users.taste[user, cat]
    over_budget = np.maximum(shoppers.log_price_gap[item] - users.budget_level[user], 0.0)
    price_fit = -users.price_sensitivity[user] * over_budget
    return taste, price_fit, (cat == users.focus[user]).astype(np.float64)


def sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def lognormal_ms(
    rng: np.random.Generator, median_s: float, sigma: float, shape: int | tuple[int, ...]
) -> IntArray:
    seconds = np.minimum(median_s * rng.lognormal(0.0, sigma, shape), 600.0)
    return (seconds * 1000).astype(np.int64)


def intent_items(
    shoppers: Shoppers, index: ShopIndex, user: IntArray, category: IntArray, rng: np.random.Generator
) -> IntArray:
    """The item a user opens directly (search bar, outside link): a liked one in ``category``."""
    draws = 8
    group = np.repeat(category, draws)
    cand = index.by_category.sample(group, rng.random(len(group))).reshape(-1, draws)
    missing = cand < 0
    cand[missing] = index.popular.sample(np.zeros(missing.sum(), dtype=np.int64), rng.random(missing.sum()))
    taste, price_fit, _ = fit(shoppers, user[:, None], cand)
    score = taste + price_fit + 0.5 * index.log_popularity[cand] + rng.gumbel(size=cand.shape)
    return np.asarray(cand[np.arange(len(cand)), score.argmax(axis=1)], dtype=np.int64)


def page_categories(
    shoppers: Shoppers,
    index: ShopIndex,
    user: IntArray,
    page: IntArray,
    anchor: IntArray,
    rng: np.random.Generator,
) -> IntArray:
    """The category a page is about: the focus, another liked category, or the anchor's."""
    users = shoppers.users
    logits = shoppers.affinity_by_category[users.persona[user]] + users.taste[user]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    liked = np.minimum((rng.random(len(user))[:, None] > cdf).sum(axis=1), cdf.shape[1] - 1)
    u = rng.random(len(user))
    browse = np.where(
        u < 0.6, users.focus[user], np.where(u < 0.9, liked, rng.integers(0, cdf.shape[1], len(user)))
    )
    anchor_cat = index.category[np.maximum(anchor, 0)]
    related = (page >= Page.ITEM) & (anchor >= 0)
    return np.where(page == Page.HOME, users.focus[user], np.where(related, anchor_cat, browse)).astype(
        np.int64
    )


def click_logit(
    shoppers: Shoppers,
    index: ShopIndex,
    b: Behaviour,
    page: IntArray,
    anchor: IntArray,
    items: IntArray,
    parts: tuple[FloatArray, FloatArray, FloatArray],
) -> FloatArray:
    """Logit of a click on each slate slot: taste, price, focus, popularity, position, relatedness."""
    taste, price_fit, focus = parts
    a = np.maximum(anchor, 0)[:, None]
    has = (anchor >= 0)[:, None]
    same_series = has & (index.series[items] == index.series[a])
    same_shelf = has & (index.shelf[items] == index.shelf[a])
    targets = index.shelves.target[index.shelf[a[:, 0]]]
    complement = has & (index.shelf[items][:, :, None] == targets[:, None, :]).any(axis=2)
    position = np.log1p(np.arange(items.shape[1]))[None, :]
    return np.asarray(
        b.click_base
        + np.asarray(b.page_click)[page][:, None]
        + b.affinity * taste
        + b.price * price_fit
        + b.focus * focus
        + b.popularity * shoppers.popularity_z[items]
        - b.position_decay * position
        + b.same_series * same_series
        + b.same_shelf * same_shelf
        + b.complement * complement,
        dtype=np.float64,
    )


def cart_probability(b: Behaviour, parts: tuple[FloatArray, FloatArray, FloatArray]) -> FloatArray:
    taste, price_fit, focus = parts
    return sigmoid(b.cart_base + b.cart_affinity * taste + b.cart_price * price_fit + 0.5 * focus)
