"""What a day's quarantine holds: the share the gate checks, and the listing a person reads.

    recsys quarantine --dataset events --date 2026-11-02 --limit 20

The quarantine partition ``quarantine/<dataset>/dt=…`` is written by ingestion with one row
per rejected record (``source_file``, ``line``, ``reason``, ``detail``, ``raw``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from feature_store import lake


def quarantine_dataset(dataset: str) -> str:
    return f"quarantine/{dataset}"


@dataclass(frozen=True)
class Quarantined:
    """Rows a step rejected for one partition, against the rows it read."""

    dataset: str
    dt: date
    quarantined: int
    kept: int
    by_reason: dict[str, int]

    @property
    def rows_read(self) -> int:
        return self.quarantined + self.kept

    @property
    def share(self) -> float:
        return self.quarantined / self.rows_read if self.rows_read else 0.0

    @property
    def note(self) -> str:
        if not self.quarantined:
            return f"nothing quarantined of {self.rows_read:,} rows read"
        reasons = ", ".join(f"{r} {n:,}" for r, n in self.by_reason.items())
        return (
            f"{self.quarantined:,} of {self.rows_read:,} rows read quarantined ({reasons}); "
            f"list them: recsys quarantine --dataset {self.dataset} --date {self.dt.isoformat()}"
        )


def read_quarantine(lake_root: Path, dataset: str, dt: date, kept: int) -> Quarantined:
    """Count the quarantine partition of ``dataset/dt`` by reason (most frequent first).

    A dataset without a quarantine partition (one no step quarantines into) counts as none.
    """
    if not lake.has_partition(lake_root, quarantine_dataset(dataset), dt):
        return Quarantined(dataset, dt, 0, kept, {})
    reasons = lake.read_partition(lake_root, quarantine_dataset(dataset), dt, columns=["reason"])
    return Quarantined(dataset, dt, reasons.num_rows, kept, _counts(reasons.column("reason")))


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    pairs = [(str(v["values"]), int(v["counts"])) for v in pc.value_counts(column).to_pylist()]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


def listing(lake_root: Path, dataset: str, dt: date, limit: int = 20) -> str:
    """Counts per reason, then the first ``limit`` rows with file, line, reason and detail.

    Raises:
        PartitionMissingError: no quarantine partition for that dataset and day.
    """
    table = lake.read_partition(lake_root, quarantine_dataset(dataset), dt)
    kept = _kept_rows(lake_root, dataset, dt)
    lines = [f"quarantine/{dataset}/dt={dt.isoformat()}: {table.num_rows:,} rows"]
    if kept is not None:
        total = kept + table.num_rows
        share = table.num_rows / total if total else 0.0
        lines[0] += f" of {total:,} read ({share:.2%}); {kept:,} kept in {dataset}/dt={dt.isoformat()}"
    if table.num_rows == 0:
        return "\n".join(lines)
    counts = _counts(table.column("reason"))
    folders = sorted({str(Path(str(f)).parent) for f in pc.unique(table.column("source_file")).to_pylist()})
    lines.append(f"files in {', '.join(folders)}")
    width = max(len(r) for r in counts)
    lines += ["", "by reason:"] + [f"  {r:<{width}}  {n:>9,}" for r, n in counts.items()]
    shown = table.slice(0, max(limit, 0)).to_pylist()
    if shown:
        lines += ["", f"first {len(shown)} rows (file:line  reason  detail):"]
        for row in shown:
            where = f"{Path(str(row['source_file'])).name}:{row['line']}"
            lines.append(f"  {where}  {row['reason']}  {_clip(str(row['detail']), 160)}")
        if table.num_rows > len(shown):
            lines.append(f"  … {table.num_rows - len(shown):,} more (--limit N to see more)")
    return "\n".join(lines)


def _kept_rows(lake_root: Path, dataset: str, dt: date) -> int | None:
    if not lake.has_partition(lake_root, dataset, dt):
        return None
    rows = lake.read_meta(lake_root, dataset, dt).get("rows")
    return int(rows) if rows is not None else None


def _clip(text: str, limit: int) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"
