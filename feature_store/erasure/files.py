"""Finding and erasing one user in files: the lake's Parquet files and text files, the landing exports.

Lake Parquet files: a row is the user's when a text column whose name says ``user`` (``user_id``
in events, features, partials, window states, training sets, recommendations, target users,
feedback) equals the id, or, in ``quarantine/`` datasets, when any text column (the original
line, the stream entry's fields) is a record of the user (``ErasedUser.record_pattern``). Only
those columns are read to find the rows; a file holding some is read whole, filtered with
pyarrow and written beside itself, then renamed over the original (one atomic rename per file;
``_meta.json``'s row count follows the same way). A re-run finds nothing left in the files
already done and finishes the others.

Lake text files (``_meta.json``, validation data docs, HTML reports): every quoted mention of the
id is replaced by ``[erased]``, also written beside and renamed.

Landing exports (``.jsonl``/``.csv``, optionally gzipped): the user's lines are dropped (a JSON
line whose ``user_id`` is the id, a CSV line whose ``user_id`` column is); every other line is
kept byte for byte. Ingest memory-maps landing files, and a rename leaves a reader's mapping of
the old file intact.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
import re
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from feature_store.erasure.user import ErasedUser
from recsys.errors import RecsysError
from recsys.files import fsync_dir

log = logging.getLogger(__name__)

META_FILE = "_meta.json"
LANDING_SUFFIXES = (".jsonl", ".jsonl.gz", ".csv", ".csv.gz")
_TEMPORARY = ".erasure-"  # in the name of a file being written beside the one it replaces
_PARTITION_PART = re.compile(r"^[A-Za-z_]+=")  # dt=…, hour=…, shard=…


class ErasureFileError(RecsysError):
    """A file cannot be searched or rewritten; the message names it."""


@dataclass
class FileSweep:
    """What a sweep over one root found (and, unless a dry run, removed)."""

    files_scanned: int = 0
    files_changed: int = 0  # files holding the user (rewritten, unless a dry run)
    rows: int = 0  # Parquet rows or landing lines of the user
    mentions: int = 0  # quoted mentions in lake text files
    by_dataset: dict[str, int] = field(default_factory=dict)  # rows or lines per dataset
    places: list[str] = field(default_factory=list)  # relative paths of the files holding the user
    seconds: float = 0.0

    def add(self, dataset: str, place: str, rows: int, mentions: int = 0) -> None:
        self.files_changed += 1
        self.rows += rows
        self.mentions += mentions
        self.by_dataset[dataset] = self.by_dataset.get(dataset, 0) + rows + mentions
        self.places.append(place)

    def summary(self) -> dict[str, object]:
        return {
            "files_scanned": self.files_scanned,
            "files_changed": self.files_changed,
            "rows": self.rows,
            "mentions": self.mentions,
            "by_dataset": dict(sorted(self.by_dataset.items())),
            "seconds": round(self.seconds, 3),
        }


def dataset_of(relative: Path) -> str:
    """``feedback/events/hour=05/dt=2026-11-03/part-00000.parquet`` → ``feedback/events``."""
    parts = [p for p in relative.parent.parts if not _PARTITION_PART.match(p)]
    return "/".join(parts) or "."


def _files(root: Path, apply: bool) -> Iterator[Path]:
    """Every file under ``root``, in path order (temporary and moved-aside partitions included:
    a crashed write's debris holds data as well). With ``apply``, the half-written files of an
    erasure that crashed are removed on the way (the original is still in place)."""
    if not root.exists():
        return
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if _TEMPORARY in path.name:
            if apply:
                path.unlink(missing_ok=True)
            continue
        yield path


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data``: written beside it, flushed, renamed over it."""
    tmp = path.with_name(f".{path.name}{_TEMPORARY}{uuid.uuid4().hex[:12]}")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


# -- the lake's Parquet files ----------------------------------------------------------------


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def user_columns(schema: pa.Schema, quarantine: bool) -> tuple[list[str], list[str]]:
    """(columns compared with the id, columns searched for a record of the user)."""
    texts = [f.name for f in schema if _is_text(f.type)]
    ids = [name for name in texts if "user" in name.lower()]
    records = [name for name in texts if quarantine and name not in ids]
    return ids, records


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def user_rows(table: pa.Table, ids: list[str], records: list[str], user: ErasedUser) -> np.ndarray:
    """A boolean mask of the user's rows (nulls never match)."""
    mask = np.zeros(table.num_rows, dtype=bool)
    for name in ids:
        found = pc.equal(_plain(table.column(name)), pa.scalar(user.user_id))
        mask |= np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
    for name in records:
        column = _plain(table.column(name))
        found = pc.match_substring_regex(column, user.record_pattern)
        mask |= np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
    return mask


def _parquet(path: Path, relative: Path, user: ErasedUser, apply: bool) -> int:
    """The user's rows in one Parquet file; with ``apply`` the file is rewritten without them."""
    parquet = pq.ParquetFile(path)
    ids, records = user_columns(parquet.schema_arrow, quarantine="quarantine" in relative.parts)
    if not ids and not records:
        return 0
    # Only the columns that can name the user are read to decide; most files do not hold them.
    if not user_rows(parquet.read(columns=ids + records), ids, records, user).any():
        return 0
    table = parquet.read()
    mask = user_rows(table, ids, records, user)
    found = int(mask.sum())
    if apply:
        kept = table.filter(pa.array(~mask))
        sink = pa.BufferOutputStream()
        pq.write_table(kept, sink, compression="zstd")
        _atomic_write(path, sink.getvalue().to_pybytes())
        _recount_meta(path.parent / META_FILE, kept.num_rows)
    return found


def _recount_meta(meta: Path, rows: int) -> None:
    """Keep a partition's ``_meta.json`` row count true after its rows changed."""
    if not meta.exists():
        return
    facts = json.loads(meta.read_text())
    if isinstance(facts, dict) and "rows" in facts and facts["rows"] != rows:
        facts["rows"] = rows
        _atomic_write(meta, json.dumps(facts, indent=2, sort_keys=True, default=str).encode())


def sweep_lake(root: Path, user: ErasedUser, *, apply: bool) -> FileSweep:
    """Find (and with ``apply`` erase) the user in every file under the lake ``root``."""
    started = time.perf_counter()
    sweep = FileSweep()
    for path in _files(root, apply):
        relative = path.relative_to(root)
        sweep.files_scanned += 1
        if path.suffix == ".parquet":
            try:
                rows = _parquet(path, relative, user, apply)
            except pa.ArrowException as exc:
                raise ErasureFileError(
                    f"lake file {relative} cannot be read or rewritten as Parquet ({exc}); nothing of "
                    "it was changed: repair or re-run the step that writes it, then erase again"
                ) from exc
            if rows:
                sweep.add(dataset_of(relative), str(relative), rows)
            continue
        text = path.read_bytes()
        if not any(form in text for form in user.quoted_forms):
            continue
        redacted, mentions = user.redact(text)
        if apply:
            _atomic_write(path, redacted)
        sweep.add(dataset_of(relative), str(relative), 0, mentions)
    sweep.seconds = time.perf_counter() - started
    return sweep


# -- landing exports -------------------------------------------------------------------------


def _is_json_record_of(line: bytes, user: ErasedUser) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return user.record_regex.search(line) is not None  # a broken line: judge by its text
    return isinstance(record, dict) and str(record.get("user_id")) == user.user_id


def _csv_user_column(header: bytes) -> int | None:
    names = next(csv.reader([header.decode(errors="replace").lstrip("\ufeff")]), [])
    cleaned = [n.strip().lower() for n in names]
    return cleaned.index("user_id") if "user_id" in cleaned else None


def _is_csv_record_of(line: bytes, column: int, user: ErasedUser) -> bool:
    row = next(csv.reader([line.decode(errors="replace").rstrip("\r")]), [])
    if len(row) > column:
        return row[column].strip() == user.user_id
    return user.record_regex.search(line) is not None


def _landing_lines(path: Path, data: bytes, user: ErasedUser) -> tuple[bytes, int]:
    """``data`` without the user's lines, and how many there were."""
    lines = data.split(b"\n")
    is_csv = path.name.removesuffix(".gz").endswith(".csv")
    column = _csv_user_column(lines[0]) if is_csv and lines else None
    if is_csv and column is None:
        return data, 0  # no user_id column (the catalog): nothing of a user in it
    kept, dropped = [], 0
    for n, line in enumerate(lines):
        if user.raw in line and (n > 0 or not is_csv):  # the cheap test first: most lines are others'
            mine = (
                _is_csv_record_of(line, column, user)
                if column is not None
                else _is_json_record_of(line, user)
            )
            if mine:
                dropped += 1
                continue
        kept.append(line)
    return b"\n".join(kept), dropped


def sweep_landing(root: Path, user: ErasedUser, *, apply: bool) -> FileSweep:
    """Find (and with ``apply`` drop) the user's lines in every landing export under ``root``."""
    started = time.perf_counter()
    sweep = FileSweep()
    for path in _files(root, apply):
        if not path.name.endswith(LANDING_SUFFIXES) or path.name.startswith("."):
            continue
        sweep.files_scanned += 1
        raw = path.read_bytes()
        zipped = path.name.endswith(".gz")
        try:
            data = gzip.decompress(raw) if zipped else raw
        except (OSError, EOFError, zlib.error) as exc:
            raise ErasureFileError(
                f"landing file {path.relative_to(root)} is not a readable gzip file ({exc}); ask the shop "
                "to re-export it (or remove it), then erase again"
            ) from exc
        if user.raw not in data:
            continue
        kept, dropped = _landing_lines(path, data, user)
        if not dropped:
            continue
        if apply:
            _atomic_write(path, gzip.compress(kept, mtime=0) if zipped else kept)
        relative = path.relative_to(root)
        sweep.add(dataset_of(relative), str(relative), dropped)
    sweep.seconds = time.perf_counter() - started
    return sweep
