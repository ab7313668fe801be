"""Facts a suite checks that GX cannot see in a partition's rows alone.

Each is computed vectorised with pyarrow next to the partition, put in a one-row ``facts``
frame, and validated there by a standard expectation with its threshold from the settings
(``expect_column_values_to_be_between(column="volume_ratio", ...)``). The functions here are
pure apart from reading lake partitions; the notes they return say where a value comes from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from feature_store import lake

MISSING = "missing"
DOCS_DIR = Path("docs") / "validation"
RESULT_FILE = "result.json"


def docs_dir(lake_root: Path, dataset: str, dt: date) -> Path:
    """Where a partition's data docs and ``result.json`` live: ``<lake>/docs/validation/<dataset>/dt=…``."""
    return Path(lake_root) / DOCS_DIR / dataset / f"dt={dt.isoformat()}"


def arrow_types(schema: pa.Schema, columns: Sequence[str]) -> dict[str, str]:
    """``type_of_<column>`` → the Arrow type name in the partition, or ``missing``."""
    names = set(schema.names)
    return {f"type_of_{c}": str(schema.field(c).type) if c in names else MISSING for c in columns}


def validation_status(lake_root: Path, dataset: str, dt: date) -> bool | None:
    """Whether the partition's last validation passed; ``None`` when it was never validated."""
    path = docs_dir(lake_root, dataset, dt) / RESULT_FILE
    try:
        return bool(json.loads(path.read_text())["success"])
    except (FileNotFoundError, KeyError, ValueError):
        return None


def previous_good_partition(lake_root: Path, dataset: str, dt: date) -> date | None:
    """The latest partition before ``dt`` that did not fail its gate.

    A day whose gate failed is skipped, so one bad day does not become the yardstick of the
    next; a day never validated (written before the gates existed) counts as good.
    """
    earlier = [d for d in lake.list_partitions(lake_root, dataset) if d < dt]
    for day in reversed(earlier):
        if validation_status(lake_root, dataset, day) is not False:
            return day
    return None


@dataclass(frozen=True)
class Volume:
    """Rows of a partition against the previous good partition of the same dataset."""

    rows: int
    previous_dt: date | None
    previous_rows: int | None

    @property
    def ratio(self) -> float | None:
        """``rows / previous_rows``; ``None`` with nothing to compare to (the first day)."""
        if self.previous_rows is None:
            return None
        if self.previous_rows == 0:
            return None if self.rows == 0 else float("inf")
        return self.rows / self.previous_rows

    @property
    def note(self) -> str:
        if self.previous_dt is None:
            return f"{self.rows:,} rows; no earlier partition to compare with"
        return f"{self.rows:,} rows against {self.previous_rows:,} in dt={self.previous_dt.isoformat()}"


def volume(lake_root: Path, dataset: str, dt: date, rows: int) -> Volume:
    """Compare ``rows`` with the row count of the previous good partition (from Parquet metadata)."""
    previous = previous_good_partition(lake_root, dataset, dt)
    if previous is None:
        return Volume(rows, None, None)
    path = lake.partition_dir(lake_root, dataset, previous) / lake.DATA_FILE
    return Volume(rows, previous, pq.ParquetFile(path).metadata.num_rows)


def hours_before(times: pa.ChunkedArray | pa.Array, end: datetime) -> float | None:
    """Hours from the latest of ``times`` to ``end`` (freshness); ``None`` for no times."""
    if not pa.types.is_timestamp(times.type) or times.type.tz is None or len(times) == 0:
        return None  # a zone-less time is reported by the type check; nothing to compare
    latest = pc.max(times).as_py()
    if latest is None:
        return None
    seconds: float = (end - latest).total_seconds()
    return seconds / 3600.0


def share_equal(values: pa.ChunkedArray | pa.Array, value: str) -> float | None:
    """Share of ``values`` equal to ``value``; ``None`` for no values."""
    if len(values) == 0:
        return None
    hits = pc.sum(pc.equal(values, value)).as_py() or 0
    return float(hits) / len(values)


def distinct_count(values: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.count_distinct(values, mode="only_valid").as_py())


def flat(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (``pa.chunked_array([chunked])`` would iterate it in Python)."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


@dataclass(frozen=True)
class References:
    """Keys of one dataset that another dataset does not hold (a referential check)."""

    rows: int
    distinct: int
    examples: tuple[str, ...]

    def note(self, what: str, reference: str) -> str:
        if not self.rows:
            return f"every {what} is in {reference}"
        shown = ", ".join(self.examples)
        return f"{self.rows:,} rows ({self.distinct:,} distinct {what}s) not in {reference}, e.g. {shown}"


def missing_references(
    keys: pa.ChunkedArray | pa.Array, reference: pa.ChunkedArray | pa.Array, examples: int = 5
) -> References:
    """Rows of ``keys`` that are not in ``reference`` (nulls count as missing)."""
    known = pc.is_in(keys, value_set=flat(reference))
    missing = pc.invert(pc.fill_null(known, False))
    rows = int(pc.sum(missing).as_py() or 0)
    if not rows:
        return References(0, 0, ())
    absent = pc.unique(pc.filter(keys, missing))
    shown = tuple(str(v) for v in absent.slice(0, examples).to_pylist())
    return References(rows, len(absent), shown)


@dataclass(frozen=True)
class Coverage:
    """How many of a population's distinct keys appear in another dataset."""

    covered: int
    population: int

    @property
    def share(self) -> float | None:
        return self.covered / self.population if self.population else None


def coverage(keys: pa.ChunkedArray | pa.Array, population: pa.ChunkedArray | pa.Array) -> Coverage:
    """Distinct members of ``population`` that appear among ``keys``."""
    everyone = pc.unique(flat(population))
    present = pc.unique(flat(keys))
    covered = int(pc.sum(pc.is_in(everyone, value_set=present)).as_py() or 0)
    return Coverage(covered, len(everyone))
