"""One pass over a text column that finds every hit of every text rule at once.

The engine joins all keyword, regex and spec patterns of a field into one RE2 alternation
(with the negation cue as an optional prefix) and marks each hit in a single
``replace_substring_regex`` pass; splitting on the marker gives the hits of every row in
text order. Rules are then checked against the few distinct hit strings instead of the
million texts, which is what makes the engine fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tagging.patterns import NEGATION_CUE

MARK = "\x01"

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Hits:
    """Hits of one text column.

    Attributes:
        parent: row of each hit (0-based within the column), non-decreasing.
        codes: index of each hit's text in ``unique``.
        unique: the distinct hit texts, original case, negation cue included.
    """

    parent: Ints
    codes: Ints
    unique: pa.Array


def union_pattern(patterns: list[str], first: list[str] | None = None) -> str:
    """One case-insensitive alternation of ``patterns``, each optionally negated.

    RE2 takes the first alternative that matches at the leftmost position, so ``first``
    (the rules' exclusions) go first and win where they apply; the rest go longest first.
    """
    head = sorted(set(first or []), key=lambda p: (-len(p), p))
    rest = sorted(set(patterns) - set(head), key=lambda p: (-len(p), p))
    return f"(?i)(?:{NEGATION_CUE})?(?:" + "|".join(f"(?:{p})" for p in head + rest) + ")"


def scan(texts: pa.Array, union: str) -> Hits:
    """All hits of ``union`` in ``texts`` (nulls read as empty)."""
    texts = pc.fill_null(texts, "")
    pieces, sizes = _split_hits(texts, union)
    if bool(np.any(sizes % 2 == 0)):
        # A text that itself holds the marker breaks the hit/gap alternation; such texts
        # are rare enough that cleaning all texts and scanning again is the simple fix.
        texts = pc.replace_substring(texts, MARK, " ")
        pieces, sizes = _split_hits(texts, union)
    per_row = (sizes - 1) // 2
    parent = np.repeat(np.arange(len(sizes), dtype=np.int64), per_row)
    starts = pieces.offsets.to_numpy().astype(np.int64)[:-1]
    first = np.cumsum(per_row) - per_row
    within = np.arange(int(per_row.sum()), dtype=np.int64) - np.repeat(first, per_row)
    # pieces of a row: gap, hit, gap, hit, ..., gap: the hits sit at the odd positions
    flat_index = starts[parent] + 1 + 2 * within
    hit_texts = pieces.values.take(pa.array(flat_index, type=pa.int64()))
    encoded = pc.dictionary_encode(hit_texts)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return Hits(parent=parent, codes=codes, unique=encoded.dictionary)


def _split_hits(texts: pa.Array, union: str) -> tuple[pa.ListArray, Ints]:
    marked = pc.replace_substring_regex(texts, union, MARK + r"\0" + MARK)
    pieces = pc.split_pattern(marked, MARK)
    sizes = np.diff(pieces.offsets.to_numpy().astype(np.int64))
    return pieces, sizes


def negation_split(unique: pa.Array) -> tuple[Bools, pa.Array]:
    """For each distinct hit: whether it starts with a negation cue, and the hit without it."""
    cue = f"(?i)^(?:{NEGATION_CUE})"
    negated = pc.match_substring_regex(unique, cue).to_numpy(zero_copy_only=False).astype(bool)
    body = pc.replace_substring_regex(unique, cue, "")
    return negated, body


def first_hit_per_row(parent: Ints, hit_ok: Bools) -> tuple[Ints, Ints]:
    """Rows with at least one good hit, and the index of the first good hit of each."""
    index = np.flatnonzero(hit_ok)
    rows = parent[index]
    if rows.size == 0:
        return rows, index
    keep = np.empty(rows.size, dtype=bool)
    keep[0] = True
    np.not_equal(rows[1:], rows[:-1], out=keep[1:])
    return rows[keep], index[keep]
