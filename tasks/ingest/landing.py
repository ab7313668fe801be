"""Finding and opening a day's export in the landing zone."""

from __future__ import annotations

import gzip
import zlib
from datetime import date
from pathlib import Path

import pyarrow as pa

from recsys.errors import LandingFormatError, LandingMissingError

SUFFIXES = (".jsonl", ".jsonl.gz", ".csv", ".csv.gz")


def export_dir(landing_root: Path, dataset: str, dt: date) -> Path:
    """``<landing_root>/<dataset>/dt=YYYY-MM-DD``."""
    return Path(landing_root) / dataset / f"dt={dt.isoformat()}"


def export_files(landing_root: Path, dataset: str, dt: date) -> list[Path]:
    """The data files of one day's export, in name order.

    Raises:
        LandingMissingError: the export folder for the date does not exist (yet).
    """
    folder = export_dir(landing_root, dataset, dt)
    if not folder.is_dir():
        raise LandingMissingError(
            f"no {dataset} export for {dt.isoformat()}: expected folder {folder} "
            f"(the shop has not delivered it yet, or RECSYS_LANDING_ROOT points elsewhere)"
        )
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))


def file_format(path: Path) -> str:
    """``jsonl`` or ``csv``, from the file name."""
    name = path.name.removesuffix(".gz")
    return "jsonl" if name.endswith(".jsonl") else "csv"


def read_buffer(path: Path) -> pa.Buffer:
    """The file's content as an Arrow buffer: memory-mapped, or gunzipped for ``.gz`` names.

    Mapping instead of reading saves a copy of the whole file (about a fifth of an
    event day's ingest time); landing files are never rewritten in place, so it is safe.

    Raises:
        LandingFormatError: the gzip stream is corrupt or truncated (the file is named).
    """
    if not path.name.endswith(".gz"):
        if path.stat().st_size == 0:  # (an empty file cannot be mapped)
            return pa.py_buffer(b"")
        with pa.memory_map(str(path)) as mapped:
            return mapped.read_buffer()
    return pa.py_buffer(read_bytes(path))


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when its name ends in ``.gz``.

    Raises:
        LandingFormatError: the gzip stream is corrupt or truncated (the file is named).
    """
    data = path.read_bytes()
    if not path.name.endswith(".gz"):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise LandingFormatError(
            f"{path}: corrupt gzip file ({exc}); ask the shop to re-export it, "
            f"nothing was ingested for this day"
        ) from exc
