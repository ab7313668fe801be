"""recsys_maintenance: manual upkeep; for now, erasing one user from every store (a privacy request)."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

DOC_MD = """
### recsys_maintenance

Manual only. **Erases one user** (a privacy request) from everything the platform stores, then
checks that nothing of them is left. Trigger it with the user's id exactly as the shop's events
spell it: the trigger form, or
`airflow dags trigger recsys_maintenance --conf '{"user_id": "U20261016-0005"}'`.

`forget_user` (the user's keyed hash onto `maintenance/erased_users`: ingest leaves out their
events from before now, so old exports cannot bring them back) → `erase_feedback_stream`
(`feedback:events` entries) → `erase_lake` (rows in every Parquet file: events, quarantine,
features, partials, window states, training sets, recommendations, target users, feedback;
mentions in data docs) and `erase_landing` (lines in the shop's exports) →
`erase_online_features` (`feat:v<N>:user:<id>`) and `erase_recommendations`
(`rec:v<N>:u:*:<id>`, target-user lists), every kept version → **`verify`**: every store scanned
again; fails naming what is left, else writes the erasure record (`maintenance/erasures`: the
keyed hash, times, counts per store; never the id).

* **dry_run**: count what would be erased; nothing changes, nothing is recorded (see `verify`'s
  return value).
* **Re-runs** are safe: each step removes only what is there. A failed `verify` usually means a
  publish or ingest copied the user back meanwhile: trigger it again.
* **Not erased**: sums over all users (item counters, the bandit's arms, hourly request counts,
  the A/B report), and models already trained (retrained nightly from the lake, which no longer
  holds the user). **Delete this run afterwards**: its conf holds the raw id.

Runbook: docs/operations.md, "Erasure". Code: `tasks/erasure.py`, `feature_store/erasure/`.
"""

DEFAULT_ARGS = {
    "owner": "recsys-data",
    # A step fails on a Redis blip or a file a concurrent write just moved; a quick retry
    # finishes it (every step is idempotent). Real gaps fail verify again and stay red.
    "retries": 2,
    "retry_delay": pendulum.duration(seconds=30),
}
# The lookup service's id rule (feature_store/service/errors.py): what a shop user id can be.
USER_ID_PATTERN = r"^[^\s\x00-\x1f\x7f]{1,128}$"


def _step(name: str, *outcomes: Any) -> dict[str, Any]:
    from tasks.erasure import run_from_airflow  # at run time: parsing imports no step's dependencies

    return run_from_airflow(name, get_current_context(), *outcomes)


@dag(
    dag_id="recsys_maintenance",
    schedule=None,
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # erasures take turns: each rewrites the erased-users list and lake files
    default_args=DEFAULT_ARGS,
    tags=["recsys", "maintenance", "privacy"],
    doc_md=DOC_MD,
    params={
        "user_id": Param(
            type="string",
            minLength=1,
            maxLength=128,
            pattern=USER_ID_PATTERN,
            title="User id",
            description="The shop's id of the user to erase, exactly as in its events (e.g. "
            "U20261016-0005): 1-128 characters, no whitespace or control characters. Required.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Only count what would be erased (the verify task's result); change "
            "nothing and write no erasure record.",
        ),
    },
)
def recsys_maintenance() -> None:
    @task
    def forget_user() -> dict[str, Any]:
        """List the user's keyed hash, so no ingest brings their past events back."""
        return _step("forget_user")

    @task
    def erase_feedback_stream() -> dict[str, Any]:
        """Delete the user's feedback:events entries (before the lake: the hourly consume copies them)."""
        return _step("erase_feedback_stream")

    @task
    def erase_lake() -> dict[str, Any]:
        """Rewrite every lake Parquet file holding the user's rows without them; redact text files."""
        return _step("erase_lake")

    @task
    def erase_landing() -> dict[str, Any]:
        """Rewrite the shop's landing exports without the user's lines."""
        return _step("erase_landing")

    @task
    def erase_online_features() -> dict[str, Any]:
        """Delete feat:v<N>:user:<id> in every kept version."""
        return _step("erase_online_features")

    @task
    def erase_recommendations() -> dict[str, Any]:
        """Delete the user's lists and take them out of target-user lists, every kept version."""
        return _step("erase_recommendations")

    # One retry: a re-scan fails the same way unless a publish or ingest running meanwhile has
    # finished; the fix is another run of the whole DAG, which erases again.
    @task(retries=1)
    def verify(*outcomes: dict[str, Any]) -> dict[str, Any]:
        """Scan every store again; fail if anything of the user is left; write the erasure record."""
        return _step("verify", *outcomes)

    forgotten = forget_user()
    stream = erase_feedback_stream()
    lake = erase_lake()
    landing = erase_landing()
    features = erase_online_features()
    lists = erase_recommendations()
    forgotten >> stream >> [lake, landing]
    lake >> [features, lists]  # Redis after the lake: a publish meanwhile reads the erased lake
    verify(forgotten, stream, lake, landing, features, lists)  # type: ignore[arg-type]  # TaskFlow passes XComArgs


maintenance_dag = recsys_maintenance()
