"""The ``recsys_ingest`` chain of one day in this process, without Airflow or its gates.

For benchmarks and tests that need a lake of several simulated days quickly; the DAG is
the way to run it for real (with retries, gates and the UI).
"""

from __future__ import annotations

from typing import Any

from tasks.context import RunContext
from tasks.features import compute_features
from tasks.ingest.catalog import ingest_catalog
from tasks.ingest.events import ingest_events
from tasks.shop_export import land_shop_export
from tasks.tag import tag_catalog


def ingest_day(ctx: RunContext, *, features: bool = True) -> dict[str, Any]:
    """Land, ingest, tag and (with ``features``) compute the features of ``ctx.partition_date``."""
    land_shop_export(ctx)
    ingest_catalog(ctx)
    tag_catalog(ctx)
    report = ingest_events(ctx)
    if features:
        compute_features(ctx)
    return report
