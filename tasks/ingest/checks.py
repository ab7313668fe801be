"""Vectorised row checks shared by the event and catalog ingestion.

A check marks rows with a reason code; the first failing check wins, so each quarantined
row carries exactly one reason. Row-by-row Python runs only for the rejected rows, to
write their ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.ingest import reasons
from tasks.ingest.records import ORDINAL, ParsedFile

FILE_INDEX = "_file"
DetailFn = Callable[[str, dict[str, Any]], str]
# The shapes Arrow's ISO-8601 cast accepts, zone required (minutes and seconds optional).
_ISO_TIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)$"


class Marks:
    """Reason codes per row: empty string means the row passed every check so far."""

    def __init__(self, rows: int) -> None:
        self.codes = np.zeros(rows, dtype=np.int8)

    def mark(self, failed: np.ndarray | pa.Array | pa.ChunkedArray, reason: str) -> None:
        """Give ``reason`` to rows that fail now and passed every earlier check."""
        mask = as_mask(failed)
        code = reasons.ALL_REASONS.index(reason) + 1
        self.codes[(self.codes == 0) & mask] = code

    @property
    def ok(self) -> np.ndarray:
        passed: np.ndarray = self.codes == 0
        return passed

    def reason_of(self, row: int) -> str:
        return reasons.ALL_REASONS[int(self.codes[row]) - 1]


def as_mask(values: np.ndarray | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numpy bool mask from an Arrow boolean array (nulls count as False)."""
    if isinstance(values, np.ndarray):
        return np.asarray(values, dtype=bool)
    filled = pc.fill_null(values, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def combine(files: list[ParsedFile], schema: pa.Schema) -> pa.Table:
    """All files' good records in one table, with the file index of each row."""
    parts = []
    for index, parsed in enumerate(files):
        table = parsed.table.append_column(
            FILE_INDEX, pa.array(np.full(parsed.table.num_rows, index, dtype=np.int32))
        )
        parts.append(table)
    if not parts:
        empty = schema.empty_table().append_column(ORDINAL, pa.array([], pa.int64()))
        return empty.append_column(FILE_INDEX, pa.array([], pa.int32()))
    return pa.concat_tables(parts)  # chunked: kernels take chunks; copying the whole table costs 0.5 s a day


def blank(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Null, empty or only white space (classified in place: no trimmed copy is made)."""
    empty = pc.equal(pc.binary_length(column), 0)
    return as_mask(pc.or_kleene(pc.or_kleene(pc.is_null(column), empty), pc.utf8_is_space(column)))


def too_long(column: pa.ChunkedArray | pa.Array, limit: int) -> np.ndarray:
    return as_mask(pc.greater(pc.binary_length(column), limit))


def bad_price(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Zero, negative, NaN or infinite. Nulls also match: check for them first."""
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(values) & (values > 0))


def parse_times(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """ISO-8601 strings with a zone to UTC timestamps; anything else becomes null."""
    text = pc.utf8_trim_whitespace(column)
    target = pa.timestamp("us", tz="UTC")
    try:  # the usual day: every time parses, and Arrow's cast refuses a missing zone itself
        return pc.cast(text, target)
    except pa.ArrowInvalid:
        pass
    shaped = pc.match_substring_regex(text, _ISO_TIME)
    candidates = pc.if_else(shaped, text, pa.scalar(None, pa.string()))
    try:
        return pc.cast(candidates, target)
    except pa.ArrowInvalid:
        # A well-shaped but impossible time (month 13) fails the whole cast; go one by one.
        out = []
        for value in candidates.to_pylist():
            try:
                out.append(pc.cast(pa.array([value]), target)[0].as_py())
            except pa.ArrowInvalid:
                out.append(None)
        return pa.array(out, target)


def first_occurrence(keys: pa.ChunkedArray | pa.Array, eligible: np.ndarray) -> np.ndarray:
    """Rows among ``eligible`` whose key appears again at an earlier eligible row."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()  # hashing one chunk is twice as fast as hashing 500 small ones
    # dictionary_encode hashes once and gives each key a small integer code (about 3x cheaper
    # than unique() or count_distinct() on two million ids); the rest is numpy on the codes.
    encoded = keys.dictionary_encode()
    if len(encoded.dictionary) == len(keys):
        return np.zeros(len(eligible), dtype=bool)  # the usual day: no key repeats at all
    codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy())
    positions = np.flatnonzero(eligible & (codes >= 0))
    _, first_index = np.unique(codes[positions], return_index=True)
    keep = np.zeros(len(eligible), dtype=bool)
    keep[positions[first_index]] = True
    return eligible & ~keep


def rejected_rows(
    table: pa.Table, marks: Marks, files: list[ParsedFile], detail_of: DetailFn
) -> list[reasons.Reject]:
    """Rows that failed a check, with their original text looked up in the source file."""
    bad = np.flatnonzero(~marks.ok)
    if len(bad) == 0:
        return []
    file_index = np.asarray(table.column(FILE_INDEX).to_numpy())
    ordinal = np.asarray(table.column(ORDINAL).to_numpy())
    rows = table.take(pa.array(bad)).to_pylist()
    out: list[reasons.Reject] = []
    for f, parsed in enumerate(files):
        in_file = np.flatnonzero(file_index[bad] == f)
        if len(in_file) == 0:
            continue
        lines, raws = parsed.source(ordinal[bad[in_file]])
        for j, line, raw in zip(in_file, lines, raws, strict=True):
            reason = marks.reason_of(int(bad[j]))
            detail = detail_of(reason, rows[j])
            out.append(reasons.Reject(str(parsed.path), line, reason, detail, raw))
    return out


def sort_by_time_then_id(table: pa.Table) -> pa.Table:
    """Sorted by (event_time, event_id); skips the sort when the export already is."""
    if table.num_rows < 2:
        return table
    times = np.asarray(table.column("event_time").cast(pa.int64()).to_numpy())
    steps = np.diff(times)
    if (steps >= 0).all():
        ties = np.flatnonzero(steps == 0)
        ids = table.column("event_id").combine_chunks()  # (a take from 500 chunks is slow)
        earlier, later = pc.take(ids, pa.array(ties)), pc.take(ids, pa.array(ties + 1))
        if len(ties) == 0 or pc.all(pc.less_equal(earlier, later)).as_py():
            return table
    return table.sort_by([("event_time", "ascending"), ("event_id", "ascending")])
