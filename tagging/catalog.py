"""The catalog partition as the engine reads it: sorted by item_id, columns normalised once."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tagging.errors import CatalogFormatError

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

REQUIRED = ("item_id", "title")
DEFAULT_CURRENCY = "USD"


@dataclass
class Items:
    """Columns of a catalog partition, in item_id order.

    Brands and categories are lower-cased and stripped of trademark signs, then dictionary
    encoded, so brand and category rules compare small integer codes.
    """

    n: int
    item_id: pa.Array
    title: pa.Array
    description: pa.Array
    brand_codes: Ints
    brands: list[str]
    category_codes: Ints
    categories: list[str]
    currency_codes: Ints
    currencies: list[str]
    price: npt.NDArray[np.float64]
    listed: npt.NDArray[np.datetime64]
    _masks: dict[tuple[frozenset[str] | None, frozenset[str] | None], Bools | None] = field(
        default_factory=dict
    )

    @property
    def priced(self) -> Bools:
        return np.isfinite(self.price) & (self.price > 0)

    def currency_mask(self, currency: str) -> Bools:
        if currency not in self.currencies:
            return np.zeros(self.n, dtype=bool)
        return np.asarray(self.currency_codes == self.currencies.index(currency), dtype=np.bool_)

    def filter_mask(self, categories: frozenset[str] | None, brands: frozenset[str] | None) -> Bools | None:
        """Items passing a rule's category and brand filters (None: no filter)."""
        key = (categories, brands)
        if key not in self._masks:
            mask: Bools | None = None
            if categories is not None:
                allowed = np.array([c in categories for c in self.categories], dtype=bool)
                mask = allowed[self.category_codes]
            if brands is not None:
                allowed = np.array([b in brands for b in self.brands], dtype=bool)
                by_brand = allowed[self.brand_codes]
                mask = by_brand if mask is None else mask & by_brand
            self._masks[key] = mask
        return self._masks[key]


def prepare_items(catalog: pd.DataFrame | pa.Table) -> Items:
    """Check and normalise a catalog partition.

    Raises:
        CatalogFormatError: item_id or title is missing, or an item_id is null or repeated.
    """
    table = catalog if isinstance(catalog, pa.Table) else pa.Table.from_pandas(catalog, preserve_index=False)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise CatalogFormatError(
            f"catalog lacks required column(s) {', '.join(missing)}; it has {', '.join(table.column_names)}"
        )
    ids = _column(table, "item_id", pa.string())
    if ids.null_count:
        raise CatalogFormatError(f"catalog has {ids.null_count} item(s) without item_id")
    order = _sort_order(ids)
    if order is not None:
        ids = ids.take(order)
    _check_unique(ids)

    def text(name: str) -> pa.Array:
        if name not in table.column_names:
            return pa.nulls(len(ids), pa.string())
        col = _column(table, name, pa.string())
        return col if order is None else col.take(order)

    brand_codes, brands = _encode(_normalise_label(text("brand")))
    category_codes, categories = _encode(_normalise_label(text("category")))
    currency = pc.utf8_upper(pc.utf8_trim_whitespace(pc.fill_null(text("currency"), DEFAULT_CURRENCY)))
    currency = pc.if_else(pc.equal(currency, ""), DEFAULT_CURRENCY, currency)
    currency_codes, currencies = _encode(currency)
    if "price" in table.column_names:
        price_col = _column(table, "price", pa.float64())
        price = price_col if order is None else price_col.take(order)
        price_np = price.to_numpy(zero_copy_only=False).astype(np.float64)
    else:
        price_np = np.full(len(ids), np.nan)
    if "listed_date" in table.column_names:
        listed_col = _column(table, "listed_date", pa.date32())
        listed_col = listed_col if order is None else listed_col.take(order)
        listed = listed_col.to_numpy(zero_copy_only=False).astype("datetime64[D]")
    else:
        listed = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[D]")
    return Items(
        n=len(ids),
        item_id=ids,
        title=text("title"),
        description=text("description"),
        brand_codes=brand_codes,
        brands=brands,
        category_codes=category_codes,
        categories=categories,
        currency_codes=currency_codes,
        currencies=currencies,
        price=price_np,
        listed=listed,
    )


def _column(table: pa.Table, name: str, typ: pa.DataType) -> pa.Array:
    col = table.column(name)
    if col.type != typ:  # large_string too: the regex kernels are markedly faster on string
        try:
            col = col.cast(typ)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise CatalogFormatError(f"catalog column {name!r} cannot be read as {typ}: {exc}") from exc
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _sort_order(ids: pa.Array) -> pa.Array | None:
    """Indices that sort by item_id, or None when the partition is already sorted (the norm)."""
    if len(ids) < 2:
        return None
    if pc.all(pc.less_equal(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py():
        return None
    return pc.sort_indices(ids)


def _check_unique(ids: pa.Array) -> None:
    if len(ids) < 2:
        return
    same = pc.equal(ids.slice(0, len(ids) - 1), ids.slice(1))
    if pc.any(same).as_py():
        first = int(np.flatnonzero(same.to_numpy(zero_copy_only=False))[0])
        raise CatalogFormatError(
            f"item_id {ids[first].as_py()!r} occurs more than once: a catalog partition has one row per item"
        )


def _normalise_label(values: pa.Array) -> pa.Array:
    cleaned = pc.replace_substring_regex(pc.fill_null(values, ""), "[™®©]", "")
    return pc.utf8_trim_whitespace(pc.utf8_lower(cleaned))


def _encode(values: pa.Array) -> tuple[Ints, list[str]]:
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, [str(v) for v in encoded.dictionary.to_pylist()]
