"""Quarantine reason codes (documented in docs/data-formats.md) and the quarantine table."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

MALFORMED_RECORD = "malformed_record"
WRONG_TYPE = "wrong_type"
MISSING_FIELD = "missing_field"
FIELD_TOO_LONG = "field_too_long"
BAD_TIMESTAMP = "bad_timestamp"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
MISSING_PRICE = "missing_price"
BAD_PRICE = "bad_price"
UNKNOWN_ITEM = "unknown_item"
BEFORE_INTERVAL = "before_interval"
AFTER_INTERVAL = "after_interval"
FUTURE_TIMESTAMP = "future_timestamp"
DUPLICATE_EVENT_ID = "duplicate_event_id"
DUPLICATE_ITEM_ID = "duplicate_item_id"

ALL_REASONS = (
    MALFORMED_RECORD,
    WRONG_TYPE,
    MISSING_FIELD,
    FIELD_TOO_LONG,
    BAD_TIMESTAMP,
    UNKNOWN_EVENT_TYPE,
    MISSING_PRICE,
    BAD_PRICE,
    UNKNOWN_ITEM,
    BEFORE_INTERVAL,
    AFTER_INTERVAL,
    FUTURE_TIMESTAMP,
    DUPLICATE_EVENT_ID,
    DUPLICATE_ITEM_ID,
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw", pa.string()),
    ]
)


@dataclass(frozen=True)
class Reject:
    """One quarantined record: where it came from, why, and its original text."""

    source_file: str
    line: int
    reason: str
    detail: str
    raw: str


def quarantine_table(rejects: list[Reject]) -> pa.Table:
    """The quarantine partition for a list of rejects, ordered by file and line."""
    ordered = sorted(rejects, key=lambda r: (r.source_file, r.line, r.reason))
    return pa.Table.from_pylist([r.__dict__ for r in ordered], schema=QUARANTINE_SCHEMA)
