"""Ingest one day's catalog snapshot: landing files → ``catalog/dt=…`` + quarantine."""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from feature_store import lake
from recsys.settings import Settings
from tasks.context import RunContext
from tasks.ingest import checks, reasons
from tasks.ingest.landing import export_files
from tasks.ingest.records import FieldSpec, ParsedFile, RecordSpec, read_records

log = logging.getLogger(__name__)

RAW_CATALOG = RecordSpec(
    (
        FieldSpec("item_id", "string", integer_ids=True),
        FieldSpec("title", "string"),
        FieldSpec("description", "string"),
        FieldSpec("brand", "string"),
        FieldSpec("category", "string"),
        FieldSpec("price", "float"),
        FieldSpec("currency", "string"),
        FieldSpec("available", "bool"),
        FieldSpec("listed_date", "string"),
    )
)

CATALOG_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("title", pa.string()),
        ("description", pa.string()),
        ("brand", pa.string()),
        ("category", pa.string()),
        ("price", pa.float64()),
        ("currency", pa.string()),
        ("available", pa.bool_()),
        ("listed_date", pa.date32()),
    ]
)
SHORT_TEXT = ("item_id", "brand", "category", "currency")
LONG_TEXT = ("title", "description")
LONG_TEXT_LIMIT = 64 * 1024  # titles and descriptions: generous, but a 10 MB field is an error
_DATE = r"^\d{4}-\d{2}-\d{2}$"


def normalise_catalog(files: list[ParsedFile], settings: Settings) -> tuple[pa.Table, list[reasons.Reject]]:
    """Check and type a catalog snapshot; the first row of a repeated ``item_id`` is kept."""
    table = checks.combine(files, RAW_CATALOG.schema)
    marks = checks.Marks(table.num_rows)
    for name in ("item_id", "title"):
        marks.mark(checks.blank(table.column(name)), reasons.MISSING_FIELD)
    for name in SHORT_TEXT:
        marks.mark(
            checks.too_long(table.column(name), settings.ingest_max_string_bytes), reasons.FIELD_TOO_LONG
        )
    for name in LONG_TEXT:
        marks.mark(checks.too_long(table.column(name), LONG_TEXT_LIMIT), reasons.FIELD_TOO_LONG)
    listed = pc.utf8_trim_whitespace(table.column("listed_date"))
    date_ok = pc.match_substring_regex(listed, _DATE)
    marks.mark(pc.and_(pc.is_valid(listed), pc.invert(date_ok)), reasons.WRONG_TYPE)
    marks.mark(pc.is_null(table.column("price")), reasons.MISSING_PRICE)
    marks.mark(checks.bad_price(table.column("price")), reasons.BAD_PRICE)
    item_id = pc.utf8_trim_whitespace(table.column("item_id"))
    marks.mark(checks.first_occurrence(item_id, marks.ok), reasons.DUPLICATE_ITEM_ID)

    keep = pa.array(marks.ok)
    currency = pc.utf8_upper(pc.utf8_trim_whitespace(table.column("currency")))
    clean = pa.table(
        {
            "item_id": item_id,
            "title": pc.utf8_trim_whitespace(table.column("title")),
            "description": pc.fill_null(table.column("description"), ""),
            "brand": pc.fill_null(pc.utf8_trim_whitespace(table.column("brand")), ""),
            "category": pc.fill_null(pc.utf8_trim_whitespace(table.column("category")), ""),
            "price": table.column("price"),
            "currency": pc.fill_null(currency, "USD"),
            "available": pc.fill_null(table.column("available"), True),
            "listed_date": pc.cast(pc.if_else(keep, listed, pa.scalar(None, pa.string())), pa.date32()),
        },
        schema=CATALOG_SCHEMA,
    ).filter(keep)
    clean = clean.sort_by([("item_id", "ascending")])
    rejects = [r for parsed in files for r in parsed.rejects]
    rejects += checks.rejected_rows(table, marks, files, _detail)
    return clean, rejects


def _detail(reason: str, row: dict[str, Any]) -> str:
    if reason == reasons.MISSING_FIELD:
        missing = [n for n in ("item_id", "title") if not (row.get(n) or "").strip()]
        return f"missing {', '.join(missing)}"
    if reason == reasons.FIELD_TOO_LONG:
        sizes = {n: len((row.get(n) or "").encode()) for n in SHORT_TEXT + LONG_TEXT}
        return "; ".join(f"{n} has {b:,} bytes" for n, b in sizes.items() if b > 1024)
    if reason == reasons.WRONG_TYPE:
        return f"listed_date {row.get('listed_date')!r} is not YYYY-MM-DD"
    if reason == reasons.MISSING_PRICE:
        return "price is missing"
    if reason == reasons.BAD_PRICE:
        return f"price {row.get('price')} is not a positive finite number"
    if reason == reasons.DUPLICATE_ITEM_ID:
        return f"item_id {row.get('item_id')!r} already listed earlier in this snapshot"
    return reason


def ingest_catalog(ctx: RunContext) -> dict[str, Any]:
    """Ingest the catalog snapshot of ``ctx.partition_date`` into the lake.

    Raises:
        LandingMissingError: the export folder for the date is missing (Airflow retries).
        LandingFormatError: a file cannot be read at all.
    """
    settings = ctx.settings
    paths = export_files(settings.landing_root, "catalog", ctx.partition_date)
    files = [read_records(path, RAW_CATALOG) for path in paths]
    clean, rejects = normalise_catalog(files, settings)
    rows_read = clean.num_rows + len(rejects)
    by_reason: dict[str, int] = {}
    for r in rejects:
        by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
    report: dict[str, Any] = {
        "files": [str(p) for p in paths],
        "rows_read": rows_read,
        "items": clean.num_rows,
        "available_items": int(pc.sum(clean.column("available")).as_py() or 0),
        "categories": len(pc.unique(clean.column("category"))),
        "quarantined": len(rejects),
        "quarantined_by_reason": dict(sorted(by_reason.items())),
        "quarantined_share": len(rejects) / rows_read if rows_read else 0.0,
        "unknown_fields": sorted({f for p in files for f in p.unknown_fields}),
    }
    q_path = lake.write_partition(
        settings.lake_root, "quarantine/catalog", ctx.partition_date, reasons.quarantine_table(rejects)
    )
    path = lake.write_partition(settings.lake_root, "catalog", ctx.partition_date, clean, report)
    log.info("catalog %s: %d items, %d quarantined -> %s", ctx.ds, clean.num_rows, len(rejects), path)
    return {**report, "files": len(paths), "partition_path": str(path), "quarantine_path": str(q_path)}
