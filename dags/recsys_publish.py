"""recsys_publish: champion models + the day's features → validated recommendations in Redis."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from tasks.assets import COARSE_RANKER, FEATURES, FINE_RANKER, RECALL_MODEL, RECOMMENDATIONS
from tasks.context import run_step

DOC_MD = """
### recsys_publish

Runs when the day's features are announced by `recsys_ingest` **and** a model by
`recsys_retrain` (Assets `recsys://lake/features` and `recsys://models/*`); the events name
the day D. Or trigger it with **partition_date**. Lists built from data up to the end of D
serve D+1.

`prepare` (segment and similar-item lists, co-visitation, target users of new items, the
FAISS index of D's active items, recall-gated) → `generate_shard` (one mapped task per user
shard: recall channels → DeepFM → BERT4Rec → business rules → top N) →
**`validate_recommendations`** (uniqueness, scores, active items, list lengths, coverage) →
`publish` (a complete new `rec:v<N>` keyspace, verified, then `rec:current` switched in one
SET) → `smoke_check` (reads back through the service's reader) → Asset
`recsys://serving/recommendations`.

* **A failed gate publishes nothing**: the previous version keeps serving.
* **Roll back**: `recsys recommendations rollback` switches `rec:current` to the previous
  complete version in one command.
* **Settings**: `RECSYS_CANDIDATES_*` (stage sizes, rules, shards), `RECSYS_PUBLISH_*`.

Code: `tasks/publish.py`, `models/channels.py`, `models/candidates.py`,
`models/precomputed.py`, `feature_store/recommendations.py`.
"""

DEFAULT_ARGS = {
    "owner": "recsys-ml",
    "retries": 2,
    "retry_delay": pendulum.duration(minutes=5),
}
GATE = {"retries": 1, "retry_delay": pendulum.duration(minutes=1)}


@dag(
    dag_id="recsys_publish",
    schedule=FEATURES & (COARSE_RANKER | RECALL_MODEL | FINE_RANKER),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # versions switch in order; two publishes at once would race for rec:current
    default_args=DEFAULT_ARGS,
    tags=["recsys", "serving"],
    doc_md=DOC_MD,
    params={
        "partition_date": Param(
            "",
            type="string",
            pattern=r"^(\d{4}-\d{2}-\d{2})?$",
            title="Day",
            description="UTC day whose data the lists are built from, YYYY-MM-DD. Empty: the day "
            "the triggering asset events name.",
        ),
    },
)
def recsys_publish() -> None:
    @task
    def prepare() -> dict[str, Any]:
        """Shared lists, co-visitation, target users and the FAISS index of the day's items."""
        return run_step("tasks.publish:prepare_publish")  # type: ignore[no-any-return]

    @task
    def shards() -> list[int]:
        """The user shards (RECSYS_CANDIDATES_SHARDS), one mapped task each."""
        return run_step("tasks.publish:user_shards")  # type: ignore[no-any-return]

    @task(max_active_tis_per_dagrun=2)
    def generate_shard(shard: int) -> dict[str, Any]:
        """Every stage for the active users of one shard → recommendations/users/shard=…"""
        return run_step("tasks.publish:generate_shard", shard)  # type: ignore[no-any-return]

    @task(retries=GATE["retries"], retry_delay=GATE["retry_delay"])
    def validate_recommendations() -> dict[str, Any]:
        """Gate: the recommendations suite over every shard; a failure publishes nothing."""
        return run_step("tasks.validate:validate_partition", "recommendations/users")  # type: ignore[no-any-return]

    @task
    def publish() -> dict[str, Any]:
        """Write rec:v<N>, verify counts and a sample, switch rec:current, prune old versions."""
        return run_step("tasks.publish:publish_day")  # type: ignore[no-any-return]

    @task(outlets=[RECOMMENDATIONS])
    def smoke_check() -> dict[str, Any]:
        """Read a sample of users back through the service's reader; announce the new version."""
        outcome: dict[str, Any] = run_step("tasks.publish:smoke_check")
        get_current_context()["outlet_events"][RECOMMENDATIONS].extra = outcome
        return outcome

    generated = generate_shard.expand(shard=shards())
    prepare() >> generated >> validate_recommendations() >> publish() >> smoke_check()


publish_dag = recsys_publish()
