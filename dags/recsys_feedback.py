"""recsys_feedback: every hour, the service's feedback into the lake, the A/B report, the bandit, alerts."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from tasks.context import hour_from_airflow, run_step

DOC_MD = """
### recsys_feedback

Every hour, for the hour that just ended (or the **hour** param, `YYYY-MM-DDTHH` UTC):

`consume` (the lookup service's `feedback:events` stream entries of the hour →
`feedback/events/hour=HH/dt=D`, duplicates dropped, malformed entries quarantined with a reason)
→ `experiment_report` (impressions, clicks, carts, purchases, CTR and CVR per variant over the
last `RECSYS_FEEDBACK_REPORT_DAYS`, each variant against its experiment's control with a
two-proportion z-test) and `bandit_statistics` (the cold-start bandit's arms into the lake; a
bucket Redis lost is rebuilt from the lake) → **`alerts`**: p99 latency and fallback share of
the hour (from every worker's counts in `service:hourly:<hour>`), feedback lost to stream
trimming, and CTR of the last 24 h against the same hours a week before.

* **A fired alert fails the `alerts` task** (red in the grid) and is recorded in
  `feedback/alerts`; `recsys alerts` lists them. Thresholds: `RECSYS_ALERT_*`.
* **Backfill** a range of hours with `airflow backfill create --dag-id recsys_feedback
  --from-date … --to-date …`: each step replaces its own hour's partition.

Code: `tasks/feedback.py`, `feature_store/service/feedback.py`, `feature_store/service/rollup.py`.
"""

DEFAULT_ARGS = {
    "owner": "recsys-ml",
    "retries": 2,
    "retry_delay": pendulum.duration(minutes=2),
}


def _step(target: str) -> dict[str, Any]:
    result: dict[str, Any] = run_step(target, hour_from_airflow(get_current_context()))
    return result


@dag(
    dag_id="recsys_feedback",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["recsys", "serving", "monitoring"],
    doc_md=DOC_MD,
    params={
        "hour": Param(
            "",
            type="string",
            pattern=r"^(\d{4}-\d{2}-\d{2}T\d{2})?$",
            title="Hour",
            description="UTC hour to process, YYYY-MM-DDTHH (e.g. 2026-12-04T05). Empty: the run's "
            "data interval (the hour before the scheduled time).",
        ),
    },
)
def recsys_feedback() -> None:
    @task
    def consume() -> dict[str, Any]:
        """The hour's feedback stream entries into the lake (quarantine for malformed ones)."""
        return _step("tasks.feedback:consume_feedback")

    @task
    def experiment_report() -> dict[str, Any]:
        """CTR and CVR per A/B variant, each against the control with a two-proportion z-test."""
        return _step("tasks.feedback:experiment_report")

    @task
    def bandit_statistics() -> dict[str, Any]:
        """The cold-start bandit's arms into the lake; rebuild buckets Redis lost."""
        return _step("tasks.feedback:bandit_statistics")

    # One quick retry: it rides out a Redis blip; a rule that fired fires again and fails the task.
    @task(retries=1, retry_delay=pendulum.duration(seconds=20))
    def alerts() -> dict[str, Any]:
        """Alert rules: p99 latency, fallback share, lost feedback, CTR week on week."""
        return _step("tasks.feedback:evaluate_alerts")

    consumed = consume()
    consumed >> [experiment_report(), bandit_statistics()]
    consumed >> alerts()


feedback_dag = recsys_feedback()
