"""recsys_ingest: the daily intake of the shop's behaviour events and product catalog."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

DOC_MD = """
### recsys_ingest

Daily, one run per UTC day (the data interval). Takes the shop's export for the day from
the landing zone — with `RECSYS_SOURCE=simulator` (the default) the built-in simulated shop
writes it first — and writes the lake partitions `catalog/dt=…` and `events/dt=…`, with
rejected rows in `quarantine/<dataset>/dt=…` and a reason code for each.

* **Partition**: the data interval's start. A manual trigger covers the last complete day
  before its logical date (Airflow's rule); set **partition_date** to pick the day yourself.
* **Re-runs** replace a partition whole; backfills over any range are safe:
  `airflow backfill create --dag-id recsys_ingest --from-date 2026-11-01 --to-date 2026-11-03`.
* **A missing export** fails `land_shop_export`/`ingest_*` with the path and the date, and
  the task retries until it arrives.

Formats: `docs/data-formats.md`. Code: `tasks/ingest/`.
"""

DEFAULT_ARGS = {
    "owner": "recsys-data",
    "retries": 3,
    "retry_delay": pendulum.duration(minutes=10),
}


@dag(
    dag_id="recsys_ingest",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["recsys", "ingest"],
    doc_md=DOC_MD,
    params={
        "partition_date": Param(
            "",
            type="string",
            pattern=r"^(\d{4}-\d{2}-\d{2})?$",
            title="Partition date",
            description="UTC day to ingest, YYYY-MM-DD. Empty: the run's data interval start.",
        ),
        "scale": Param(
            "",
            type="string",
            enum=["", "tiny", "small", "medium"],
            title="Simulated shop scale",
            description="Only with RECSYS_SOURCE=simulator. Empty: RECSYS_SIM_SCALE.",
        ),
    },
)
def recsys_ingest() -> None:
    @task
    def land_shop_export() -> dict[str, Any]:
        """Write the simulated shop's export for the day, or check the real one arrived."""
        from tasks.context import context_from_airflow
        from tasks.shop_export import land_shop_export as step

        return step(context_from_airflow(get_current_context()))

    @task
    def ingest_catalog() -> dict[str, Any]:
        """Catalog snapshot → catalog/dt=… (+ quarantine)."""
        from tasks.context import context_from_airflow
        from tasks.ingest.catalog import ingest_catalog as step

        return step(context_from_airflow(get_current_context()))

    @task
    def ingest_events() -> dict[str, Any]:
        """Behaviour events → events/dt=… (+ quarantine), deduplicated, inside the day."""
        from tasks.context import context_from_airflow
        from tasks.ingest.events import ingest_events as step

        return step(context_from_airflow(get_current_context()))

    @task
    def report_ingest(catalog: dict[str, Any], events: dict[str, Any]) -> str:
        """Log the day's summary: events per type, users, items, quarantined rows."""
        from tasks.report import ingest_summary

        partition = events["partition_path"].rsplit("dt=", 1)[-1]
        summary = ingest_summary(partition, catalog, events)
        print(summary)
        return summary

    landed = land_shop_export()
    catalog = ingest_catalog()
    events = ingest_events()
    landed >> [catalog, events]
    report_ingest(catalog, events)


recsys_ingest()
