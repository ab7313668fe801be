"""The first step of a day: make sure the shop's export for the date is in the landing zone.

With ``RECSYS_SOURCE=simulator`` the built-in shop writes the day's export (deterministic
for the seed and date, so a re-run rewrites the same files). With ``landing`` the step only
checks that the real export has arrived, and fails (so Airflow retries) until it has.
"""

from __future__ import annotations

import logging
from typing import Any

from tasks.context import RunContext
from tasks.ingest.landing import export_dir, export_files

log = logging.getLogger(__name__)


def land_shop_export(ctx: RunContext) -> dict[str, Any]:
    """Write (simulator) or find (landing) the export for ``ctx.partition_date``.

    Raises:
        LandingMissingError: in landing mode, the events or catalog folder is missing.
    """
    settings = ctx.settings
    if settings.source == "landing":
        found = {
            name: len(export_files(settings.landing_root, name, ctx.partition_date))
            for name in ("catalog", "events")
        }
        log.info("landing %s: export present %s", ctx.ds, found)
        return {"source": "landing", "files": found}

    from recsys.shop_sim import write_export  # heavy (pandas): only when the step runs

    summary = write_export(
        ctx.partition_date,
        seed=settings.sim_seed,
        scale=settings.sim_scale,
        landing_root=settings.landing_root,
        progress=lambda line: log.info("simulated shop %s: %s", ctx.ds, line),
    )
    log.info(
        "simulated shop %s (%s, seed %d): %d items, %d events -> %s",
        ctx.ds,
        settings.sim_scale,
        settings.sim_seed,
        summary.items,
        summary.events,
        export_dir(settings.landing_root, "events", ctx.partition_date),
    )
    return {
        "source": "simulator",
        "scale": settings.sim_scale,
        "items": summary.items,
        "events": summary.events,
        "events_by_type": dict(summary.events_by_type),
    }
