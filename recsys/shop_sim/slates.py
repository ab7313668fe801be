"""What a plain (non-personalised) shop shows on a page: slates of 8-12 items.

Candidates come from popular items, the page's category (the search query or the category
browsed), and items related to the last viewed one (same series, same category,
complementary shelves such as camera -> lens -> accessory). The shop orders them by
popularity and source, drops duplicates and the item the page is about, and shows the top.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from recsys.shop_sim.randomness import FloatArray, IntArray
from recsys.shop_sim.vocabulary import SHELVES, complements

BoolArray = npt.NDArray[np.bool_]


class Page(IntEnum):
    """Kinds of page; the value is the index of the page's placement in ``PLACEMENTS``."""

    HOME = 0
    SEARCH = 1
    CATEGORY = 2
    ITEM = 3
    CART = 4


class Source(IntEnum):
    POPULAR = 0
    PAGE_CATEGORY = 1
    SAME_SERIES = 2
    SAME_CATEGORY = 3
    COMPLEMENT = 4


# Rows: pages; columns: sources. Where candidates of each kind of page come from...
SOURCE_MIX = np.array(
    [
        [0.55, 0.30, 0.00, 0.10, 0.05],  # home: popular, "because you viewed"
        [0.05, 0.85, 0.05, 0.05, 0.00],  # search: the query's category
        [0.05, 0.95, 0.00, 0.00, 0.00],  # category: browsing one category
        [0.10, 0.05, 0.30, 0.30, 0.25],  # item: related items widget
        [0.20, 0.00, 0.10, 0.10, 0.60],  # cart: "complete your purchase"
    ]
)
# ...and how much the shop's ordering favours each source on that page.
SOURCE_BONUS = np.array(
    [
        [0.0, 0.3, 0.0, 0.2, 0.0],
        [-1.0, 1.5, 0.5, 0.5, 0.0],
        [-1.0, 1.0, 0.0, 0.0, 0.0],
        [-0.5, 0.0, 1.0, 0.5, 0.3],
        [-0.5, 0.0, 0.3, 0.3, 1.0],
    ]
)
SOURCE_SLOTS = 18
PADDING_SLOTS = 8  # extra popular candidates, so small catalogs still fill a slate
MAX_SLATE = 12


@dataclass(frozen=True)
class GroupSampler:
    """Draws items in proportion to a weight, within a group (category, series, shelf)."""

    order: IntArray  # item indices sorted by group
    cum: FloatArray  # cumulative weight along ``order``, with a leading 0
    start: IntArray  # per group: first position in ``order``
    end: IntArray  # per group: one past the last position

    @classmethod
    def build(cls, group: IntArray, weight: FloatArray, n_groups: int) -> GroupSampler:
        order = np.argsort(group, kind="stable")
        cum = np.concatenate([[0.0], np.cumsum(weight[order])])
        bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
        return cls(order, cum, bounds[:-1], bounds[1:])

    def sample(self, group: IntArray, u: FloatArray) -> IntArray:
        """One item per (group, uniform) pair; -1 where the group has no weight."""
        lo, hi = self.cum[self.start[group]], self.cum[self.end[group]]
        pos = np.searchsorted(self.cum, lo + u * (hi - lo), side="right") - 1
        pos = np.clip(pos, self.start[group], np.maximum(self.end[group] - 1, self.start[group]))
        ok = (hi > lo) & (self.cum[np.minimum(pos + 1, len(self.cum) - 1)] > self.cum[pos])
        return np.where(ok, self.order[np.minimum(pos, len(self.order) - 1)], -1)


@dataclass(frozen=True)
class Shelves:
    """Complementary shelves of every shelf, as a padded (shelves, 3) table with a CDF."""

    target: IntArray
    cdf: FloatArray

    @classmethod
    def build(cls) -> Shelves:
        target = np.zeros((len(SHELVES), 3), dtype=np.int64)
        cdf = np.ones((len(SHELVES), 3))
        for s, shelf in enumerate(SHELVES):
            pairs = complements(shelf)
            total = sum(w for _, w in pairs)
            running = 0.0
            for k in range(3):
                name, weight = pairs[min(k, len(pairs) - 1)]
                target[s, k] = SHELVES.index(name)
                running += weight / total if k < len(pairs) else 0.0
                cdf[s, k] = running
        cdf[:, -1] = 1.0
        return cls(target, cdf)


@dataclass(frozen=True)
class ShopIndex:
    """The day's catalog arranged for drawing slates (available items only)."""

    popular: GroupSampler
    by_category: GroupSampler
    by_series: GroupSampler
    by_shelf: GroupSampler
    shelves: Shelves
    log_popularity: FloatArray
    category: IntArray
    series: IntArray
    shelf: IntArray


def compose_slates(
    index: ShopIndex,
    page: IntArray,
    anchor: IntArray,
    page_category: IntArray,
    size: IntArray,
    rng: np.random.Generator,
) -> tuple[IntArray, BoolArray]:
    """Slates for ``len(page)`` pages: (pages, MAX_SLATE) item indices and a shown mask.

    ``anchor`` is the last viewed item of each page's session (-1 if none); ``size`` the
    number of items the page has room for (8-12, by device).
    """
    n = len(page)
    cdf = np.cumsum(SOURCE_MIX[page], axis=1)
    source = (rng.random((n, SOURCE_SLOTS, 1)) > cdf[:, None, :]).sum(axis=2)
    has_anchor = (anchor >= 0)[:, None]
    source = np.where(has_anchor | (source <= Source.PAGE_CATEGORY), source, Source.PAGE_CATEGORY)
    u = rng.random((n, SOURCE_SLOTS))
    safe_anchor = np.maximum(anchor, 0)
    items = np.full((n, SOURCE_SLOTS), -1, dtype=np.int64)
    rows = np.broadcast_to(np.arange(n)[:, None], source.shape)
    comp_pick = (
        rng.random((n, SOURCE_SLOTS, 1)) > index.shelves.cdf[index.shelf[safe_anchor]][:, None, :]
    ).sum(2)
    comp_shelf = index.shelves.target[index.shelf[safe_anchor]][rows, np.minimum(comp_pick, 2)]
    draws = (
        (Source.POPULAR, index.popular, np.zeros_like(source)),
        (Source.PAGE_CATEGORY, index.by_category, page_category[rows]),
        (Source.SAME_SERIES, index.by_series, index.series[safe_anchor][rows]),
        (Source.SAME_CATEGORY, index.by_category, index.category[safe_anchor][rows]),
        (Source.COMPLEMENT, index.by_shelf, comp_shelf),
    )
    for kind, sampler, group in draws:
        mask = source == kind
        if mask.any():
            items[mask] = sampler.sample(group[mask], u[mask])
    missing = items < 0
    items[missing] = index.popular.sample(np.zeros(missing.sum(), dtype=np.int64), rng.random(missing.sum()))
    padding = index.popular.sample(np.zeros(n * PADDING_SLOTS, dtype=np.int64), rng.random(n * PADDING_SLOTS))
    items = np.concatenate([items, padding.reshape(n, PADDING_SLOTS)], axis=1)
    bonus = np.concatenate([SOURCE_BONUS[page[:, None], source], np.full((n, PADDING_SLOTS), -1.5)], axis=1)
    score = index.log_popularity[items] + bonus + rng.gumbel(size=items.shape)
    order = np.argsort(-score, axis=1, kind="stable")
    items = np.take_along_axis(items, order, axis=1)
    k = items.shape[1]
    earlier = np.tril(np.ones((k, k), dtype=bool), -1)
    duplicate = ((items[:, :, None] == items[:, None, :]) & earlier).any(axis=2)
    keep = ~duplicate & (items != anchor[:, None]) & (items >= 0)
    packed = np.argsort(~keep, axis=1, kind="stable")[:, :MAX_SLATE]
    slate = np.take_along_axis(items, packed, axis=1)
    shown = np.take_along_axis(keep, packed, axis=1) & (np.arange(MAX_SLATE)[None, :] < size[:, None])
    return np.where(shown, slate, 0), shown
