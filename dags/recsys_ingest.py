"""recsys_ingest: the daily intake of the shop's behaviour events and product catalog."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from tasks.assets import FEATURES
from tasks.context import run_step

DOC_MD = """
### recsys_ingest

Daily, one run per UTC day (the data interval). Takes the shop's export for the day from
the landing zone — with `RECSYS_SOURCE=simulator` (the default) the built-in simulated shop
writes it first — and turns it into lake partitions, each checked by a gate before anything
reads it:

`land_shop_export` → `ingest_catalog` → **`validate_catalog`** → `tag_catalog` →
**`validate_item_tags`**, and `ingest_events` → **`validate_events`**; then
`compute_features` → **`validate_features`** → `publish_online_features` (Redis).

* **Partition**: the data interval's start. A manual trigger covers the last complete day
  before its logical date (Airflow's rule); set **partition_date** to pick the day yourself.
* **Re-runs** replace a partition whole; backfills over any range are safe:
  `airflow backfill create --dag-id recsys_ingest --from-date 2026-11-01 --to-date 2026-11-03`.
  Features need every earlier day of their 30-day window: a day whose predecessor is not
  ingested yet fails naming that day, and its retry succeeds once the backfill reaches it.
* **A missing export** fails with the path and the date, and the task retries until it arrives.
* **A failed gate** (a `validate_*` task) stops everything after it: its log lists each failing
  expectation with the observed value and the data docs page. Nothing is published; the
  previous online version keeps serving.

Formats: `docs/data-formats.md`; features: `docs/features.md`; code: `tasks/`.
"""

DEFAULT_ARGS = {
    "owner": "recsys-data",
    "retries": 3,
    "retry_delay": pendulum.duration(minutes=10),
}
# A gate re-reads the same partition, so waiting 30 minutes of retries only delays the red
# task a person needs to see; one quick retry covers a transient failure (a full disk).
GATE = {"retries": 1, "retry_delay": pendulum.duration(minutes=1)}


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
        return run_step("tasks.shop_export:land_shop_export")  # type: ignore[no-any-return]

    @task
    def ingest_catalog() -> dict[str, Any]:
        """Catalog snapshot → catalog/dt=… (+ quarantine)."""
        return run_step("tasks.ingest.catalog:ingest_catalog")  # type: ignore[no-any-return]

    @task
    def ingest_events() -> dict[str, Any]:
        """Behaviour events → events/dt=… (+ quarantine): deduplicated, inside the day, known items."""
        return run_step("tasks.ingest.events:ingest_events")  # type: ignore[no-any-return]

    @task
    def tag_catalog() -> dict[str, Any]:
        """Rule-based tags of every catalog item → item_tags/dt=…, with an HTML coverage report."""
        return run_step("tasks.tag:tag_catalog")  # type: ignore[no-any-return]

    @task
    def compute_features() -> dict[str, Any]:
        """1h…30d window features of users, items, categories, tags → features/<entity>/dt=…"""
        return run_step("tasks.features:compute_features")  # type: ignore[no-any-return]

    @task(outlets=[FEATURES])
    def publish_online_features() -> dict[str, Any]:
        """The day's user and item features → Redis, as a new version switched atomically."""
        outcome: dict[str, Any] = run_step("tasks.features:publish_online_features")
        get_current_context()["outlet_events"][FEATURES].extra = {"dt": outcome["dt"]}
        return outcome

    @task
    def validate(dataset: str) -> dict[str, Any]:
        """Gate: validate the day's partition of ``dataset`` with its expectations suite."""
        return run_step("tasks.validate:validate_partition", dataset)  # type: ignore[no-any-return]

    @task
    def report_ingest(catalog: dict[str, Any], events: dict[str, Any]) -> str:
        """Log the day's summary: events per type, users, items, quarantined rows."""
        from tasks.report import ingest_summary

        partition = events["partition_path"].rsplit("dt=", 1)[-1]
        summary = ingest_summary(partition, catalog, events)
        print(summary)
        return summary

    catalog = ingest_catalog()
    catalog_gate = validate.override(task_id="validate_catalog", **GATE)("catalog")
    events = ingest_events()
    events_gate = validate.override(task_id="validate_events", **GATE)("events")
    tags = tag_catalog()
    tags_gate = validate.override(task_id="validate_item_tags", **GATE)("item_tags")
    features = compute_features()
    features_gate = validate.override(task_id="validate_features", **GATE)("features")

    land_shop_export() >> catalog >> catalog_gate
    catalog_gate >> [tags, events]  # events are checked against the validated catalog
    tags >> tags_gate
    events >> events_gate
    [tags_gate, events_gate] >> features >> features_gate >> publish_online_features()
    events_gate >> report_ingest(catalog, events)  # type: ignore[arg-type]  # TaskFlow passes XComArgs


ingest_dag = recsys_ingest()
