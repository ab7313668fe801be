"""Price positions inside a partition: each item's percentile among comparable items.

The percentile of an item is its mid-rank in its group: ``(items cheaper + half the items
at the same price) / group size``. It lies strictly between 0 and 1, a lone item sits at
0.5, and equal prices get equal percentiles, so bands like ``[0.9, 1.0)`` are well defined.
Groups are (category, currency); a category with fewer items than the rule's
``min_group_size`` falls back to all items of that currency in the partition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PricePositions:
    """Percentile, group size and group label index of every item (NaN / -1 where unpriced).

    Attributes:
        pct: the item's percentile in its group.
        size: number of priced items in that group.
        label: index into ``labels`` of the group's description.
        labels: e.g. ``category 'headphones'`` or ``all USD items``.
    """

    pct: Floats
    size: Ints
    label: Ints
    labels: list[str]


def price_positions(
    price: Floats,
    category_codes: Ints,
    categories: list[str],
    currency_codes: Ints,
    currencies: list[str],
    group_by: str,
    min_group_size: int,
) -> PricePositions:
    """Percentiles for one ``group_by`` ("category" or "partition") and fallback size."""
    n = price.size
    priced = np.isfinite(price) & (price > 0)
    pct = np.full(n, np.nan)
    size = np.full(n, -1, dtype=np.int64)
    label = np.full(n, -1, dtype=np.int64)
    labels = [f"all {c} items" for c in currencies]
    part_pct, part_size = _mid_rank(price, currency_codes, priced)
    if group_by == "category":
        cat_key = category_codes * max(len(currencies), 1) + currency_codes
        cat_pct, cat_size = _mid_rank(price, cat_key, priced)
        use_cat = priced & (cat_size >= min_group_size)
        labels += [f"category '{c}'" for c in categories]
        pct[use_cat] = cat_pct[use_cat]
        size[use_cat] = cat_size[use_cat]
        label[use_cat] = len(currencies) + category_codes[use_cat]
        rest = priced & ~use_cat
    else:
        rest = priced
    pct[rest] = part_pct[rest]
    size[rest] = part_size[rest]
    label[rest] = currency_codes[rest]
    return PricePositions(pct=pct, size=size, label=label, labels=labels)


def _mid_rank(price: Floats, key: Ints, priced: npt.NDArray[np.bool_]) -> tuple[Floats, Ints]:
    """Mid-rank percentile and group size within groups of ``key`` (priced items only)."""
    pct = np.full(price.size, np.nan)
    size = np.zeros(price.size, dtype=np.int64)
    index = np.flatnonzero(priced)
    m = index.size
    if m == 0:
        return pct, size
    order = np.lexsort((price[index], key[index]))
    k, p = key[index][order], price[index][order]
    new_group = np.ones(m, dtype=bool)
    new_group[1:] = k[1:] != k[:-1]
    new_run = new_group.copy()
    new_run[1:] |= p[1:] != p[:-1]
    group_id = np.cumsum(new_group) - 1
    group_start = np.flatnonzero(new_group)
    group_size = np.diff(np.append(group_start, m))
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_start, m))
    cheaper = run_start[run_id] - group_start[group_id]
    target = index[order]
    pct[target] = (cheaper + run_len[run_id] / 2) / group_size[group_id]
    size[target] = group_size[group_id]
    return pct, size


def fixed_text(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, rounded half-to-even like ``fixed_texts``."""
    scaled = round(value * 10**decimals)
    whole, frac = divmod(scaled, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}" if decimals else str(whole)


def fixed_texts(values: Floats, decimals: int) -> pa.Array:
    """Vectorised ``fixed_text`` for non-negative finite values (others print as 0)."""
    clean = np.where(np.isfinite(values) & (values >= 0), values, 0.0)
    scaled = np.rint(clean * 10**decimals).astype(np.int64)
    whole = pc.cast(pa.array(scaled // 10**decimals), pa.string())
    if not decimals:
        return whole
    frac = pc.utf8_lpad(pc.cast(pa.array(scaled % 10**decimals), pa.string()), decimals, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def percentile_evidence(price: float, currency: str, pct: float, label: str, size: int) -> str:
    """``price 399.99 USD at percentile 0.930 of category 'headphones' (41 items)``.

    The percentile is shown floored to three decimals, so the shown value is inside the
    rule's band whenever the exact one is.
    """
    shown = shown_percentile(pct)
    return f"price {fixed_text(price, 2)} {currency} at percentile {shown} of {label} ({size} items)"


def shown_percentile(pct: float) -> str:
    return fixed_text(float(np.floor(pct * 1000) / 1000), 3)


def percentile_evidence_texts(
    positions: PricePositions, price: Floats, currency_codes: Ints, currencies: list[str]
) -> pa.Array:
    """``percentile_evidence`` for every item at once (unpriced items get an unused text)."""
    priced = np.isfinite(positions.pct)
    pct = np.where(priced, positions.pct, 0.0)
    label = np.where(priced, positions.label, 0)
    shown = np.floor(pct * 1000) / 1000
    parts: list[pa.Array | pa.Scalar] = [
        pa.scalar("price "),
        fixed_texts(price, 2),
        pa.scalar(" "),
        pa.array(currencies, type=pa.string()).take(pa.array(currency_codes)),
        pa.scalar(" at percentile "),
        fixed_texts(shown, 3),
        pa.scalar(" of "),
        pa.array(positions.labels or [""], type=pa.string()).take(pa.array(label)),
        pa.scalar(" ("),
        pc.cast(pa.array(np.maximum(positions.size, 0)), pa.string()),
        pa.scalar(" items)"),
    ]
    return pc.binary_join_element_wise(*parts, "")
