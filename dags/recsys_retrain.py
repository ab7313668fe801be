"""recsys_retrain: the nightly retrain of the coarse ranker (DeepFM, baseline and tag variants)."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from tasks.assets import COARSE_RANKER, FINE_RANKER, RECALL_MODEL
from tasks.context import run_step

DOC_MD = """
### recsys_retrain

Nightly, after `recsys_ingest` has written the day. For partition day D:

`wait_for_day` → `build_ranking_set` → **`validate_ranking_set`** → `train_variant`
(one mapped task per variant, in parallel) → `evaluate` → `promote` → Asset
`recsys://models/coarse_ranker`; and, beside it, `wait_for_day` → `train_recall` (two-tower
model plus the FAISS index of D's catalog, recall-gated against exact search; promoted when
its next-day recall@100 on D is not worse than the champion's) → Asset `recsys://models/recall`;
and `train_fine_ranker` (BERT4Rec on the users' engaged sequences up to D-1; promoted when
its HR@10 on D's first engaged items, full ranking, is not worse than the champion's) →
Asset `recsys://models/fine_ranker`.

* **Training set** (`training/ranking/dt=D`): impressions of the last *history_days* label
  days, clicked or not, each with features as of the day before its label day. D is the
  evaluation day, D-1 the early-stopping day, the rest train.
* **Registry**: each trained variant becomes a signed version of `coarse_ranker`
  (`recsys registry list --model coarse_ranker`). `evaluate` scores every candidate and the
  champion on day D; `promote` promotes the best candidate only when its AUC is at least the
  champion's minus `RECSYS_PROMOTION_TOLERANCE`. Otherwise the champion stays.
* **Roll back**: `recsys registry rollback --model coarse_ranker`.
* **Params**: epochs, variants, history_days, negative_share, held_out_user_share, recall_epochs,
  sequence_days, fine_epochs, fine_max_minutes; partition_date to pick the day.

Code: `tasks/retrain.py`, `models/` (TensorFlow is imported only inside the training tasks).
"""

DEFAULT_ARGS = {
    "owner": "recsys-ml",
    "retries": 2,
    "retry_delay": pendulum.duration(minutes=10),
}
GATE = {"retries": 1, "retry_delay": pendulum.duration(minutes=1)}


@dag(
    dag_id="recsys_retrain",
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),
    # As early as the ingest: wait_for_day holds a run until its data exists, and a start date
    # after a run's logical date would make Airflow skip every task of that run.
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # versions are numbered in order; two nights at once would race for the champion
    default_args=DEFAULT_ARGS,
    tags=["recsys", "models"],
    doc_md=DOC_MD,
    params={
        "partition_date": Param(
            "",
            type="string",
            pattern=r"^(\d{4}-\d{2}-\d{2})?$",
            title="Evaluation day",
            description="UTC day whose labels evaluate the models, YYYY-MM-DD. Empty: data interval start.",
        ),
        "epochs": Param(
            8, type="integer", minimum=1, maximum=100, title="Epochs", description="Most epochs."
        ),
        "variants": Param(
            ["baseline", "tags"],
            type="array",
            items={"type": "string", "enum": ["baseline", "tags"]},
            minItems=1,
            title="DeepFM variants",
            description="Variants trained in parallel; the best one is the promotion candidate.",
        ),
        "history_days": Param(
            7,
            type="integer",
            minimum=3,
            maximum=30,
            title="History days",
            description="Label days in the set.",
        ),
        "recall_epochs": Param(
            12,
            type="integer",
            minimum=1,
            maximum=100,
            title="Recall epochs",
            description="Most epochs of the two-tower model (the day before D picks the count).",
        ),
        "sequence_days": Param(
            14,
            type="integer",
            minimum=2,
            maximum=60,
            title="Sequence days",
            description="Days of engaged events BERT4Rec learns the users' sequences from.",
        ),
        "fine_epochs": Param(
            30, type="integer", minimum=1, maximum=500, title="BERT4Rec epochs", description="Most epochs."
        ),
        "fine_max_minutes": Param(
            20.0,
            type="number",
            exclusiveMinimum=0,
            title="BERT4Rec time budget",
            description="Minutes of BERT4Rec training at most (the best epoch so far is kept).",
        ),
        "negative_share": Param(
            1.0,
            type="number",
            exclusiveMinimum=0,
            maximum=1,
            title="Negative share",
            description="Share of unclicked train impressions kept (1: all).",
        ),
        "held_out_user_share": Param(
            1.0,
            type="number",
            exclusiveMinimum=0,
            maximum=1,
            title="Held-out user share",
            description="Share of users (by id hash) the valid and eval days keep (1: all).",
        ),
    },
)
def recsys_retrain() -> None:
    @task.sensor(poke_interval=300, timeout=6 * 3600, mode="reschedule")
    def wait_for_day() -> bool:
        """Wait until recsys_ingest has written the evaluation day and the features before it."""
        return bool(run_step("tasks.retrain:day_is_ready"))

    @task
    def build_ranking_set() -> dict[str, Any]:
        """Labelled impressions with point-in-time features → training/ranking/dt=…"""
        params = get_current_context()["params"]
        return run_step(  # type: ignore[no-any-return]
            "tasks.retrain:build_ranking_set",
            history_days=int(params["history_days"]),
            negative_share=float(params["negative_share"]),
            held_out_user_share=float(params["held_out_user_share"]),
        )

    @task
    def validate_ranking_set() -> dict[str, Any]:
        """Gate: the training set's expectations suite (schema, labels, no future features)."""
        return run_step("tasks.validate:validate_partition", "training/ranking")  # type: ignore[no-any-return]

    @task
    def variants() -> list[str]:
        """The variants to train, from the run's params."""
        return [str(v) for v in get_current_context()["params"]["variants"]]

    @task(max_active_tis_per_dagrun=2)
    def train_variant(variant: str) -> dict[str, Any]:
        """Train one DeepFM variant and register it as a signed candidate version."""
        epochs = int(get_current_context()["params"]["epochs"])
        return run_step("tasks.retrain:train_ranker_variant", variant, epochs=epochs)  # type: ignore[no-any-return]

    @task
    def evaluate(trained: list[dict[str, Any]]) -> dict[str, Any]:
        """Score every candidate and the champion on the evaluation day."""
        return run_step("tasks.retrain:evaluate_rankers", [t["version"] for t in trained])  # type: ignore[no-any-return]

    @task(outlets=[COARSE_RANKER])
    def promote(evaluation: dict[str, Any]) -> dict[str, Any]:
        """Promote the best candidate if it is not worse than the champion; announce the champion."""
        outcome: dict[str, Any] = run_step("tasks.retrain:promote_best_ranker", evaluation)
        get_current_context()["outlet_events"][COARSE_RANKER].extra = outcome
        return outcome

    @task(outlets=[RECALL_MODEL])
    def train_recall() -> dict[str, Any]:
        """Two-tower recall model + the FAISS index of D's catalog: train, gate on D, register, promote."""
        params = get_current_context()["params"]
        outcome: dict[str, Any] = run_step(
            "tasks.retrain:train_recall_model",
            history_days=int(params["history_days"]),
            epochs=int(params["recall_epochs"]),
        )
        get_current_context()["outlet_events"][RECALL_MODEL].extra = outcome
        return outcome

    @task(outlets=[FINE_RANKER])
    def train_fine_ranker() -> dict[str, Any]:
        """BERT4Rec on the users' engaged sequences: train, gate on D against the champion, register."""
        params = get_current_context()["params"]
        outcome: dict[str, Any] = run_step(
            "tasks.retrain:train_fine_ranker",
            history_days=int(params["sequence_days"]),
            epochs=int(params["fine_epochs"]),
            max_minutes=float(params["fine_max_minutes"]),
        )
        get_current_context()["outlet_events"][FINE_RANKER].extra = outcome
        return outcome

    ready = wait_for_day()
    ready >> [train_recall(), train_fine_ranker()]
    built = build_ranking_set()
    gate = validate_ranking_set.override(**GATE)()
    trained = train_variant.expand(variant=variants())
    ready >> built >> gate >> trained
    promote(evaluate(trained))  # type: ignore[arg-type]  # TaskFlow passes XComArgs


retrain_dag = recsys_retrain()
