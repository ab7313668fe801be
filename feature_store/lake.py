"""The offline lake: one directory per dataset, one ``dt=YYYY-MM-DD`` partition per day.

A partition is written whole into a temporary directory beside its final place and then
renamed into place, so a re-run replaces it and a crash never leaves half a partition.
Each partition holds ``part-00000.parquet`` and ``_meta.json`` (row count and whatever
small facts the writing step wants to keep next to the data).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from recsys.errors import PartitionMissingError
from recsys.files import fsync_dir, replace_dir

DATA_FILE = "part-00000.parquet"
META_FILE = "_meta.json"


def partition_dir(root: Path, dataset: str, dt: date) -> Path:
    """``<root>/<dataset>/dt=YYYY-MM-DD``."""
    return Path(root) / dataset / f"dt={dt.isoformat()}"


def write_partition(
    root: Path,
    dataset: str,
    dt: date,
    table: pa.Table,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Replace the partition ``dataset/dt`` with ``table`` atomically and return its path.

    An empty table gives a valid empty partition (the schema is kept).
    """
    final = partition_dir(root, dataset, dt)
    final.parent.mkdir(parents=True, exist_ok=True)
    _recover(final)
    token = uuid.uuid4().hex[:12]
    tmp = final.parent / f".tmp-{final.name}-{token}"
    tmp.mkdir()
    try:
        pq.write_table(table, tmp / DATA_FILE, compression="zstd")
        facts = {"dataset": dataset, "dt": dt.isoformat(), "rows": table.num_rows, **(meta or {})}
        (tmp / META_FILE).write_text(json.dumps(facts, indent=2, sort_keys=True, default=str))
        fsync_dir(tmp)
        replace_dir(tmp, final, token)  # (_recover restores a moved-aside partition after a crash)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _recover(final: Path) -> None:
    """Undo debris of a crashed write: restore a moved-aside partition, drop temporaries."""
    parent = final.parent
    for debris in parent.glob(f".tmp-{final.name}-*"):
        shutil.rmtree(debris, ignore_errors=True)
    for old in sorted(parent.glob(f".old-{final.name}-*")):
        if not final.exists():
            os.rename(old, final)
        else:
            shutil.rmtree(old, ignore_errors=True)


def has_partition(root: Path, dataset: str, dt: date) -> bool:
    """Whether ``dataset/dt`` has been written completely."""
    return (partition_dir(root, dataset, dt) / DATA_FILE).exists()


def read_partition(root: Path, dataset: str, dt: date, columns: list[str] | None = None) -> pa.Table:
    """Read one partition.

    Raises:
        PartitionMissingError: the partition was never written; the message names the path.
    """
    path = partition_dir(root, dataset, dt) / DATA_FILE
    if not path.exists():
        raise PartitionMissingError(
            f"partition {dataset}/dt={dt.isoformat()} is missing at {path}: "
            f"run the step that writes {dataset!r} for {dt.isoformat()} first"
        )
    return pq.read_table(path, columns=columns)


def read_meta(root: Path, dataset: str, dt: date) -> dict[str, Any]:
    """The ``_meta.json`` facts stored with a partition."""
    path = partition_dir(root, dataset, dt) / META_FILE
    if not path.exists():
        raise PartitionMissingError(f"partition {dataset}/dt={dt.isoformat()} has no {path}")
    facts: dict[str, Any] = json.loads(path.read_text())
    return facts


def list_partitions(root: Path, dataset: str) -> list[date]:
    """Dates of the complete partitions of a dataset, oldest first."""
    base = Path(root) / dataset
    if not base.exists():
        return []
    days = [
        date.fromisoformat(p.name[3:])
        for p in base.iterdir()
        if p.is_dir() and p.name.startswith("dt=") and (p / DATA_FILE).exists()
    ]
    return sorted(days)
