"""Pipeline step: tag the day's catalog partition and write ``item_tags`` plus an HTML report.

Reads ``catalog/dt=<partition date>`` from the lake, tags it with the packaged taxonomy,
and replaces ``item_tags/dt=<partition date>`` whole (one row per item and tag: item_id,
tag, dimension, confidence, rule_id, evidence). The report goes to
``<lake_root>/reports/tagging/dt=YYYY-MM-DD.html``. The definitions file is validated
before anything is read or written, so a broken taxonomy fails the task cleanly.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

from feature_store.lake import read_partition, write_partition
from tagging.analytics import render_report, summarize
from tagging.engine import TagEngine
from tagging.taxonomy import load_taxonomy
from tasks.context import RunContext

log = logging.getLogger(__name__)

CATALOG = "catalog"
ITEM_TAGS = "item_tags"


def report_path(lake_root: Path, ds: str) -> Path:
    """``<lake_root>/reports/tagging/dt=YYYY-MM-DD.html``."""
    return Path(lake_root) / "reports" / "tagging" / f"dt={ds}.html"


def tag_catalog(ctx: RunContext, definitions: Path | None = None) -> dict[str, Any]:
    """Tag ``catalog/dt=ctx.partition_date`` and write ``item_tags`` for the same date.

    Args:
        ctx: the run context (partition date and settings).
        definitions: a tag definitions file; default: the packaged taxonomy.

    Returns:
        Small metadata for XCom: rows, items, coverage_any, coverage_by_dimension, untagged
        (count), report_path, partition_path.

    Raises:
        TaxonomyError: the definitions file is invalid (nothing is written).
        PartitionMissingError: the catalog partition has not been ingested yet.
    """
    taxonomy = load_taxonomy(definitions)
    root = ctx.settings.lake_root
    catalog = read_partition(root, CATALOG, ctx.partition_date)
    engine = TagEngine(taxonomy)
    table = engine.tag_table(catalog, as_of=ctx.partition_date)
    summary = summarize(table.to_pandas(), catalog.column("item_id").to_pylist(), taxonomy)
    meta = {
        "taxonomy_version": taxonomy.version,
        "items": summary.items,
        "coverage_any": summary.coverage_any,
        "untagged": len(summary.untagged),
    }
    partition = write_partition(root, ITEM_TAGS, ctx.partition_date, table, meta=meta)
    report = report_path(root, ctx.ds)
    _write_atomically(report, render_report(summary, f"Tagging report {ctx.ds}"))
    log.info(
        "tagged %s items of %s: %s tag rows, %.1f%% with a tag, %s untagged; report %s",
        summary.items,
        ctx.ds,
        summary.rows,
        100 * summary.coverage_any,
        len(summary.untagged),
        report,
    )
    return {
        "rows": summary.rows,
        "items": summary.items,
        "coverage_any": summary.coverage_any,
        "coverage_by_dimension": summary.coverage_by_dimension,
        "untagged": len(summary.untagged),
        "report_path": str(report),
        "partition_path": str(partition),
    }


def _write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
