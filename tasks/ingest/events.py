"""Ingest one day of behaviour events: landing files → ``events/dt=…`` + quarantine."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from feature_store import lake
from recsys.settings import Settings
from tasks.context import RunContext
from tasks.ingest import checks, reasons
from tasks.ingest.erased import without_erased_users
from tasks.ingest.landing import export_files
from tasks.ingest.records import FieldSpec, ParsedFile, RecordSpec, read_records

log = logging.getLogger(__name__)

EVENT_TYPES = ("impression", "click", "view", "cart", "purchase")
REQUIRED = ("event_id", "event_time", "user_id", "session_id", "item_id", "event_type")
STRINGS = ("event_id", "user_id", "session_id", "item_id", "event_type", "device", "placement")

RAW_EVENT = RecordSpec(
    (
        FieldSpec("event_id", "string", integer_ids=True),
        FieldSpec("event_time", "string"),
        FieldSpec("user_id", "string", integer_ids=True),
        FieldSpec("session_id", "string", integer_ids=True),
        FieldSpec("item_id", "string", integer_ids=True),
        FieldSpec("event_type", "string"),
        FieldSpec("price", "float"),
        FieldSpec("device", "string"),
        FieldSpec("placement", "string"),
        FieldSpec("position", "int"),
    )
)

EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("item_id", pa.string()),
        ("event_type", pa.string()),
        ("price", pa.float64()),
        ("device", pa.string()),
        ("placement", pa.string()),
        ("position", pa.int32()),
    ]
)


@dataclass
class NormalisedEvents:
    """The day's clean events, the quarantined rows, and the facts for the report."""

    events: pa.Table
    rejects: list[reasons.Reject]
    report: dict[str, Any] = field(default_factory=dict)


def normalise_events(
    files: list[ParsedFile],
    start: datetime,
    end: datetime,
    settings: Settings,
    catalog_items: pa.Array | pa.ChunkedArray | None = None,
) -> NormalisedEvents:
    """Check, type and deduplicate the parsed files of one interval ``[start, end)``.

    With ``catalog_items``, events whose item is not in the day's catalog are quarantined.
    """
    table = checks.combine(files, RAW_EVENT.schema)
    marks = checks.Marks(table.num_rows)
    for name in REQUIRED:
        marks.mark(checks.blank(table.column(name)), reasons.MISSING_FIELD)
    for name in STRINGS:
        marks.mark(
            checks.too_long(table.column(name), settings.ingest_max_string_bytes), reasons.FIELD_TOO_LONG
        )
    position = table.column("position")
    marks.mark(pc.or_(pc.less(position, 0), pc.greater(position, 2**31 - 1)), reasons.WRONG_TYPE)
    times = checks.parse_times(table.column("event_time"))
    marks.mark(pc.is_null(times), reasons.BAD_TIMESTAMP)
    event_type = pc.utf8_lower(pc.utf8_trim_whitespace(table.column("event_type")))
    marks.mark(pc.invert(pc.is_in(event_type, value_set=pa.array(EVENT_TYPES))), reasons.UNKNOWN_EVENT_TYPE)
    marks.mark(pc.is_null(table.column("price")), reasons.MISSING_PRICE)
    marks.mark(checks.bad_price(table.column("price")), reasons.BAD_PRICE)
    if catalog_items is not None:
        known = pc.is_in(table.column("item_id"), value_set=pa.chunked_array(catalog_items).combine_chunks())
        marks.mark(pc.invert(known), reasons.UNKNOWN_ITEM)
    future = end + timedelta(hours=settings.ingest_future_tolerance_hours)
    marks.mark(pc.less(times, pa.scalar(start, times.type)), reasons.BEFORE_INTERVAL)
    marks.mark(pc.greater_equal(times, pa.scalar(future, times.type)), reasons.FUTURE_TIMESTAMP)
    marks.mark(pc.greater_equal(times, pa.scalar(end, times.type)), reasons.AFTER_INTERVAL)
    marks.mark(checks.first_occurrence(table.column("event_id"), marks.ok), reasons.DUPLICATE_EVENT_ID)

    everything = bool(marks.ok.all())  # the usual day: nothing to take out, so no copy
    keep = pa.array(marks.ok)
    if everything:
        position = pc.cast(position, pa.int32())  # every row passed the range check above
    else:
        position = pc.cast(pc.if_else(keep, position, pa.scalar(None, pa.int64())), pa.int32())
    clean = pa.table(
        {
            "event_id": table.column("event_id"),
            "event_time": times,
            "user_id": table.column("user_id"),
            "session_id": table.column("session_id"),
            "item_id": table.column("item_id"),
            "event_type": event_type,
            "price": table.column("price"),
            "device": table.column("device"),
            "placement": table.column("placement"),
            "position": position,
        },
        schema=EVENTS_SCHEMA,
    )
    if not everything:
        clean = clean.filter(keep)
    clean = checks.sort_by_time_then_id(clean)

    detail = _detailer(start, end, future, settings)
    rejects = [r for parsed in files for r in parsed.rejects]
    rejects += checks.rejected_rows(table, marks, files, detail)
    return NormalisedEvents(clean, rejects, _report(files, clean, rejects))


def _detailer(start: datetime, end: datetime, future: datetime, settings: Settings) -> checks.DetailFn:
    def detail(reason: str, row: dict[str, Any]) -> str:
        if reason == reasons.MISSING_FIELD:
            missing = [n for n in REQUIRED if row.get(n) is None or not str(row[n]).strip()]
            return f"missing {', '.join(missing)}"
        if reason == reasons.FIELD_TOO_LONG:
            long = [n for n in STRINGS if len((row.get(n) or "").encode()) > settings.ingest_max_string_bytes]
            sizes = ", ".join(f"{n} has {len((row.get(n) or '').encode()):,} bytes" for n in long)
            return f"{sizes} (limit {settings.ingest_max_string_bytes:,}, RECSYS_INGEST_MAX_STRING_BYTES)"
        if reason == reasons.WRONG_TYPE:
            return f"position must be between 0 and 2^31-1, got {row.get('position')}"
        if reason == reasons.BAD_TIMESTAMP:
            example = "2026-11-02T13:45:12Z"
            return f"event_time {row.get('event_time')!r} is not ISO-8601 with a zone (e.g. {example})"
        if reason == reasons.UNKNOWN_EVENT_TYPE:
            return f"event_type {row.get('event_type')!r} is not one of {', '.join(EVENT_TYPES)}"
        if reason == reasons.MISSING_PRICE:
            return "price is missing"
        if reason == reasons.BAD_PRICE:
            return f"price {row.get('price')} is not a positive finite number"
        if reason == reasons.UNKNOWN_ITEM:
            return f"item_id {row.get('item_id')!r} is not in the catalog of {start.date().isoformat()}"
        if reason == reasons.BEFORE_INTERVAL:
            return f"event_time {row.get('event_time')} is before the interval start {start.isoformat()}"
        if reason == reasons.AFTER_INTERVAL:
            return f"event_time {row.get('event_time')} is at or after the interval end {end.isoformat()}"
        if reason == reasons.FUTURE_TIMESTAMP:
            return f"event_time {row.get('event_time')} is later than {future.isoformat()} (clock error?)"
        if reason == reasons.DUPLICATE_EVENT_ID:
            return f"event_id {row.get('event_id')!r} already seen earlier in this export"
        return reason

    return detail


def _report(files: list[ParsedFile], clean: pa.Table, rejects: list[reasons.Reject]) -> dict[str, Any]:
    by_reason: dict[str, int] = {}
    for r in rejects:
        by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
    types = clean.column("event_type").value_counts().to_pylist()
    by_type = {str(t["values"]): int(t["counts"]) for t in types}
    rows_read = clean.num_rows + len(rejects)
    return {
        "files": [str(p.path) for p in files],
        "rows_read": rows_read,
        "events": clean.num_rows,
        "events_by_type": {t: by_type.get(t, 0) for t in EVENT_TYPES},
        "users": len(pc.unique(clean.column("user_id"))),
        "items": len(pc.unique(clean.column("item_id"))),
        "sessions": len(pc.unique(clean.column("session_id"))),
        "quarantined": len(rejects),
        "quarantined_by_reason": dict(sorted(by_reason.items())),
        "quarantined_share": (len(rejects) / rows_read) if rows_read else 0.0,
        "late_events": by_reason.get(reasons.BEFORE_INTERVAL, 0),
        "early_events": by_reason.get(reasons.AFTER_INTERVAL, 0) + by_reason.get(reasons.FUTURE_TIMESTAMP, 0),
        "unknown_fields": sorted({f for p in files for f in p.unknown_fields}),
    }


def ingest_events(ctx: RunContext) -> dict[str, Any]:
    """Ingest the events export of ``ctx.partition_date`` into the lake.

    The day's catalog partition must exist: events of items not in it are quarantined.
    Writes ``events/dt=…`` and ``quarantine/events/dt=…`` (both replaced whole) and returns
    the ingest report (counts by type and by quarantine reason, late and early events).

    Raises:
        LandingMissingError: the export folder for the date is missing (Airflow retries).
        LandingFormatError: a file cannot be read at all (a corrupt gzip, say).
        PartitionMissingError: the day's catalog has not been ingested yet.
    """
    settings = ctx.settings
    paths = export_files(settings.landing_root, "events", ctx.partition_date)
    catalog = lake.read_partition(settings.lake_root, "catalog", ctx.partition_date, columns=["item_id"])
    log.info("events %s: reading %d file(s) from %s", ctx.ds, len(paths), paths[0].parent if paths else "-")
    files = [read_records(path, RAW_EVENT) for path in paths]
    files = without_erased_users(settings, files)  # old exports must not bring erased users back
    result = normalise_events(
        files, ctx.interval_start, ctx.interval_end, settings, catalog.column("item_id")
    )
    report = result.report
    quarantine = reasons.quarantine_table(result.rejects)
    q_path = lake.write_partition(settings.lake_root, "quarantine/events", ctx.partition_date, quarantine)
    path = lake.write_partition(settings.lake_root, "events", ctx.partition_date, result.events, report)
    log.info(
        "events %s: %d kept, %d quarantined %s -> %s",
        ctx.ds,
        report["events"],
        report["quarantined"],
        report["quarantined_by_reason"],
        path,
    )
    return {**report, "partition_path": str(path), "quarantine_path": str(q_path), "files": len(paths)}
