"""Reading landing files into typed Arrow tables without losing a single row.

Good rows take the fast path: pyarrow parses whole files with an explicit schema. When a
file holds bad lines, the parser fails, and the file is split in halves until the bad
lines are isolated; those few are checked in Python and each becomes a ``Reject`` with a
reason code, while every good line around them is kept.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson

from tasks.ingest import reasons
from tasks.ingest.landing import file_format, read_buffer, read_bytes

Kind = Literal["string", "float", "int", "bool"]
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}
ORDINAL = "_rec"  # 0-based ordinal of the record among the file's non-blank lines / CSV rows
SMALL_BLOCK = 64  # below this many lines, bad blocks are checked line by line in Python
_WHITESPACE = np.frombuffer(b" \t\r", dtype=np.uint8)


@dataclass(frozen=True)
class FieldSpec:
    """One field of a raw record. Id fields accept integers and read them as text."""

    name: str
    kind: Kind
    integer_ids: bool = False


@dataclass(frozen=True)
class RecordSpec:
    """The fields of a raw record type."""

    fields: tuple[FieldSpec, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(f.name, ARROW_TYPES[f.kind]) for f in self.fields])


@dataclass
class ParsedFile:
    """A file's good records as a typed table, its rejects, and a way back to the raw text."""

    path: Path
    table: pa.Table
    rejects: list[reasons.Reject]
    unknown_fields: set[str]
    source: Callable[[np.ndarray], tuple[list[int], list[str]]] = field(repr=False)


def read_records(path: Path, spec: RecordSpec) -> ParsedFile:
    """Read one landing file (JSON Lines or CSV, optionally gzipped)."""
    if file_format(path) == "jsonl":
        return _read_jsonl(path, read_buffer(path), spec)
    return _read_csv(path, read_bytes(path), spec)


# --------------------------------------------------------------------------- JSON Lines


class _Lines:
    """Offsets of the non-blank lines of a buffer, computed only when needed."""

    def __init__(self, data: pa.Buffer) -> None:
        buf = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        starts = np.concatenate([[0], newlines + 1])
        ends = np.concatenate([newlines, [len(buf)]])
        solid = np.cumsum(~np.isin(buf, _WHITESPACE) & (buf != 10), dtype=np.int64)
        solid = np.concatenate([[0], solid])
        keep = solid[ends] - solid[starts] > 0
        self.data = data
        self.starts = starts[keep]
        self.ends = ends[keep]
        self.numbers = np.arange(1, len(starts) + 1)[keep]

    def __len__(self) -> int:
        return len(self.starts)

    def text(self, ordinal: int) -> bytes:
        return bytes(self.data[self.starts[ordinal] : self.ends[ordinal]])

    def span(self, first: int, stop: int) -> pa.Buffer:
        return self.data[self.starts[first] : self.ends[stop - 1]]


def _read_jsonl(path: Path, data: pa.Buffer, spec: RecordSpec) -> ParsedFile:
    lines: _Lines | None = None

    def get_lines() -> _Lines:
        nonlocal lines
        if lines is None:
            lines = _Lines(data)
        return lines

    def source(ordinals: np.ndarray) -> tuple[list[int], list[str]]:
        idx = get_lines()
        return (
            [int(idx.numbers[o]) for o in ordinals],
            [idx.text(int(o)).decode("utf-8", "replace") for o in ordinals],
        )

    unknown = _unknown_json_fields(data, spec)
    table = _parse_json(data, spec)
    rejects: list[reasons.Reject] = []
    if table is not None:
        table = table.append_column(ORDINAL, pa.array(np.arange(table.num_rows), pa.int64()))
    else:
        idx = get_lines()
        tables: list[pa.Table] = []
        _bisect(path, idx, spec, 0, len(idx), tables, rejects)
        table = pa.concat_tables(tables) if tables else _empty(spec)
    table, bad_text = _drop_invalid_utf8(table)
    if bad_text:
        ordinals = np.array([o for o, _ in bad_text])
        for (_, name), line, raw in zip(bad_text, *source(ordinals), strict=True):
            detail = f"invalid UTF-8 in {name}"
            rejects.append(reasons.Reject(str(path), line, reasons.MALFORMED_RECORD, detail, raw))
    return ParsedFile(path, table, rejects, unknown, source)


def _drop_invalid_utf8(table: pa.Table) -> tuple[pa.Table, list[tuple[int, str]]]:
    """pyarrow's JSON parser passes invalid UTF-8 through; find such rows and take them out."""
    bad_rows: dict[int, str] = {}
    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_string(column.type):
            continue
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        for row, value in enumerate(pc.cast(column, pa.binary()).to_pylist()):
            if value is not None and row not in bad_rows:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    bad_rows[row] = name
    if not bad_rows:
        return table, []
    keep = np.ones(table.num_rows, dtype=bool)
    keep[list(bad_rows)] = False
    ordinals = table.column(ORDINAL).to_numpy()
    found = [(int(ordinals[row]), name) for row, name in sorted(bad_rows.items())]
    return table.filter(pa.array(keep)), found


def _parse_json(data: pa.Buffer, spec: RecordSpec) -> pa.Table | None:
    """Parse a whole buffer with pyarrow, or ``None`` when any line in it is bad."""
    if data.size < 4096 and not bytes(data).strip():  # (a large file of blanks is left to pyarrow)
        return _empty(spec).drop_columns([ORDINAL])
    options = pjson.ParseOptions(explicit_schema=spec.schema, unexpected_field_behavior="ignore")
    try:
        return pjson.read_json(pa.BufferReader(data), parse_options=options)  # zero-copy, native
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _bisect(
    path: Path,
    idx: _Lines,
    spec: RecordSpec,
    first: int,
    stop: int,
    tables: list[pa.Table],
    rejects: list[reasons.Reject],
) -> None:
    """Parse lines ``[first, stop)``, halving failed blocks until the bad lines are alone."""
    if stop - first <= SMALL_BLOCK:
        rows: list[dict[str, Any]] = []
        ordinals: list[int] = []
        for ordinal in range(first, stop):
            text = idx.text(ordinal)
            row, problem = _check_json_line(text, spec)
            if row is None:
                reason, detail = problem
                raw = text.decode("utf-8", "replace")
                rejects.append(reasons.Reject(str(path), int(idx.numbers[ordinal]), reason, detail, raw))
            else:
                rows.append(row)
                ordinals.append(ordinal)
        if rows:
            block = pa.Table.from_pylist(rows, schema=spec.schema)
            tables.append(block.append_column(ORDINAL, pa.array(ordinals, pa.int64())))
        return
    block = _parse_json(idx.span(first, stop), spec)
    if block is not None and block.num_rows == stop - first:
        ordinals_arr = pa.array(np.arange(first, stop), pa.int64())
        tables.append(block.append_column(ORDINAL, ordinals_arr))
        return
    middle = (first + stop) // 2
    _bisect(path, idx, spec, first, middle, tables, rejects)
    _bisect(path, idx, spec, middle, stop, tables, rejects)


def _check_json_line(text: bytes, spec: RecordSpec) -> tuple[dict[str, Any] | None, tuple[str, str]]:
    """Check one line in Python: a typed row, or ``None`` with (reason, detail)."""
    try:
        value = json.loads(text)
    except UnicodeDecodeError as exc:
        return None, (reasons.MALFORMED_RECORD, f"invalid UTF-8 at byte {exc.start}")
    except json.JSONDecodeError as exc:
        return None, (reasons.MALFORMED_RECORD, f"invalid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(value, dict):
        return None, (reasons.MALFORMED_RECORD, f"a JSON {type(value).__name__}, not an object")
    row: dict[str, Any] = {}
    for spec_field in spec.fields:
        raw = value.get(spec_field.name)
        typed, ok = _coerce(raw, spec_field)
        if not ok:
            shown = json.dumps(raw)[:80]
            detail = f"{spec_field.name}: expected {spec_field.kind}, got {type(raw).__name__} {shown}"
            return None, (reasons.WRONG_TYPE, detail)
        row[spec_field.name] = typed
    return row, ("", "")


def _coerce(raw: object, spec_field: FieldSpec) -> tuple[object, bool]:
    if raw is None:
        return None, True
    kind = spec_field.kind
    if isinstance(raw, bool):
        return raw, kind == "bool"
    if kind == "string":
        if isinstance(raw, str):
            return raw, True
        if isinstance(raw, int) and spec_field.integer_ids:
            return str(raw), True
        return None, False
    if kind == "float":
        return (float(raw), True) if isinstance(raw, int | float) else (None, False)
    if kind == "int":
        ok = isinstance(raw, int) and -(2**63) <= raw < 2**63
        return (raw, True) if ok else (None, False)
    return None, False


def _unknown_json_fields(data: pa.Buffer, spec: RecordSpec, sample: int = 64) -> set[str]:
    """Field names outside the spec, looked for in the first lines of the file."""
    names = set(spec.names)
    unknown: set[str] = set()
    for line in bytes(data[: 1 << 20]).split(b"\n")[:sample]:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            unknown.update(k for k in value if k not in names)
    return unknown


def _empty(spec: RecordSpec) -> pa.Table:
    empty = spec.schema.empty_table()
    return empty.append_column(ORDINAL, pa.array([], pa.int64()))


# --------------------------------------------------------------------------------- CSV

_FLOAT = r"^\s*[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|nan|inf|infinity)\s*$"
_INT = r"^\s*[-+]?\d{1,18}\s*$"
_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _read_csv(path: Path, data: bytes, spec: RecordSpec) -> ParsedFile:
    bad_rows: list[reasons.Reject] = []

    def on_invalid(row: Any) -> str:
        detail = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        line = int(row.number) if row.number is not None else -1
        bad_rows.append(reasons.Reject(str(path), line, reasons.MALFORMED_RECORD, detail, row.text))
        return "skip"

    if not data.strip():
        empty = _empty(spec)
        return ParsedFile(path, empty, [], set(), lambda o: ([], []))
    try:
        table = pcsv.read_csv(
            pa.BufferReader(data),
            # One block for the whole file: a quoted field longer than a block (10 MB
            # descriptions happen) would otherwise make pyarrow give up on the file.
            read_options=pcsv.ReadOptions(
                use_threads=False, block_size=max(1 << 20, min(len(data) + 1, 1 << 30))
            ),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in _csv_header(data)},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        # Invalid UTF-8 or a broken quote: fall back to checking record by record.
        return _read_csv_slowly(path, data, spec)
    unknown = {c for c in table.column_names if c not in spec.names}
    strings = {
        name: table.column(name) if name in table.column_names else pa.nulls(table.num_rows, pa.string())
        for name in spec.names
    }
    typed, type_errors = _type_csv_columns(strings, spec)
    ordinals = np.arange(table.num_rows)
    bad = np.zeros(table.num_rows, dtype=bool)
    rejects = list(bad_rows)
    for name, mask in type_errors.items():
        wrong = np.flatnonzero(mask & ~bad)
        for i, raw in zip(wrong, _join_fields(strings, spec, wrong), strict=True):
            detail = f"{name}: expected {_kind(spec, name)}, got {strings[name][int(i)].as_py()!r}"
            rejects.append(reasons.Reject(str(path), int(i) + 2, reasons.WRONG_TYPE, detail, raw))
        bad |= mask
    good = pa.Table.from_pydict(typed, schema=spec.schema).filter(pa.array(~bad))
    good = good.append_column(ORDINAL, pa.array(ordinals[~bad], pa.int64()))

    def source(found: np.ndarray) -> tuple[list[int], list[str]]:
        return [int(o) + 2 for o in found], _join_fields(strings, spec, found)

    return ParsedFile(path, good, rejects, unknown, source)


def _csv_header(data: bytes) -> list[str]:
    first = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\r\ufeff")
    return [name.strip().strip('"') for name in first.split(",")]


def _kind(spec: RecordSpec, name: str) -> str:
    return next(f.kind for f in spec.fields if f.name == name)


def _type_csv_columns(
    strings: dict[str, pa.ChunkedArray | pa.Array], spec: RecordSpec
) -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
    """Cast CSV text columns to their kinds; a value that does not parse is a type error."""
    typed: dict[str, pa.Array] = {}
    errors: dict[str, np.ndarray] = {}
    for spec_field in spec.fields:
        column = pc.utf8_trim_whitespace(strings[spec_field.name])
        if spec_field.kind == "string":
            typed[spec_field.name] = strings[spec_field.name]
            continue
        present = pc.is_valid(column)
        if spec_field.kind == "bool":
            lowered = pc.utf8_lower(column)
            ok = pc.is_in(lowered, value_set=pa.array(list(_BOOLS)))
            truthy = pc.is_in(lowered, value_set=pa.array([k for k, v in _BOOLS.items() if v]))
            typed[spec_field.name] = pc.if_else(ok, truthy, pa.scalar(None, pa.bool_()))
        else:
            pattern = _FLOAT if spec_field.kind == "float" else _INT
            ok = pc.match_substring_regex(column, pattern, ignore_case=True)
            clean = pc.if_else(ok, column, pa.scalar(None, pa.string()))
            typed[spec_field.name] = pc.cast(clean, ARROW_TYPES[spec_field.kind])
        failed = pc.fill_null(pc.and_(present, pc.invert(ok)), False)
        errors[spec_field.name] = np.asarray(failed.to_numpy(zero_copy_only=False), dtype=bool)
    return typed, errors


def _join_fields(
    strings: dict[str, pa.ChunkedArray | pa.Array], spec: RecordSpec, rows: np.ndarray
) -> list[str]:
    """The CSV text of some records, rebuilt from their fields (for the quarantine)."""
    if len(rows) == 0:
        return []
    picked = pa.array(np.asarray(rows, dtype=np.int64))
    columns = [pc.take(strings[name], picked).to_pylist() for name in spec.names]
    return [",".join("" if v is None else str(v) for v in values) for values in zip(*columns, strict=True)]


def _read_csv_slowly(path: Path, data: bytes, spec: RecordSpec) -> ParsedFile:
    """Record-by-record CSV reading for files pyarrow refuses (e.g. invalid UTF-8)."""
    import csv

    text = data.decode("utf-8", "replace")
    csv.field_size_limit(
        max(csv.field_size_limit(), len(text))
    )  # long fields are judged later, with a reason
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().strip("\ufeff") for h in next(reader, [])]
    rows: list[dict[str, Any]] = []
    ordinals: list[int] = []
    rejects: list[reasons.Reject] = []
    raws: dict[int, str] = {}
    bad_utf8 = _bad_utf8_lines(data)
    for ordinal, record in enumerate(reader):
        line = reader.line_num
        raw = ",".join(record)
        raws[ordinal] = raw
        if line in bad_utf8:
            rejects.append(reasons.Reject(str(path), line, reasons.MALFORMED_RECORD, "invalid UTF-8", raw))
            continue
        if len(record) != len(header):
            detail = f"expected {len(header)} fields, found {len(record)}"
            rejects.append(reasons.Reject(str(path), line, reasons.MALFORMED_RECORD, detail, raw))
            continue
        values = dict(zip(header, record, strict=True))
        row, problem = _check_csv_values(values, spec)
        if row is None:
            rejects.append(reasons.Reject(str(path), line, problem[0], problem[1], raw))
        else:
            rows.append(row)
            ordinals.append(ordinal)
    table = pa.Table.from_pylist(rows, schema=spec.schema) if rows else _empty(spec).drop_columns([ORDINAL])
    table = table.append_column(ORDINAL, pa.array(ordinals, pa.int64()))
    unknown = {h for h in header if h not in spec.names}

    def source(found: np.ndarray) -> tuple[list[int], list[str]]:
        return [int(o) + 2 for o in found], [raws[int(o)] for o in found]

    return ParsedFile(path, table, rejects, unknown, source)


def _bad_utf8_lines(data: bytes) -> set[int]:
    bad: set[int] = set()
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(number)
    return bad


def _check_csv_values(
    values: dict[str, str], spec: RecordSpec
) -> tuple[dict[str, Any] | None, tuple[str, str]]:
    row: dict[str, Any] = {}
    for spec_field in spec.fields:
        text = values.get(spec_field.name, "").strip()
        if text == "":
            row[spec_field.name] = None
            continue
        if spec_field.kind == "string":
            row[spec_field.name] = values[spec_field.name]
        elif spec_field.kind == "bool" and text.lower() in _BOOLS:
            row[spec_field.name] = _BOOLS[text.lower()]
        elif spec_field.kind == "float" and re.match(_FLOAT, text, re.IGNORECASE):
            row[spec_field.name] = float(text)
        elif spec_field.kind == "int" and re.match(_INT, text):
            row[spec_field.name] = int(text)
        else:
            return None, (
                reasons.WRONG_TYPE,
                f"{spec_field.name}: expected {spec_field.kind}, got {text[:80]!r}",
            )
    return row, ("", "")
