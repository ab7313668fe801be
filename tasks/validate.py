"""The validation gate of a dataset: the task right after the step that wrote the partition.

    validate_partition(ctx, "events")

Runs the dataset's Great Expectations suite (``expectations/suites/<dataset>.json``) on the
day's partition, writes data docs and ``result.json`` to ``<lake>/docs/validation/<dataset>/
dt=…/``, and raises ``ValidationFailedError`` when any expectation fails, so Airflow marks
the gate failed and nothing downstream runs. A dataset with parts (``features`` →
``features/user``, ``features/item``, …) validates every part and fails if any part fails.
The gate only reads data: the partition, its quarantine and earlier partitions stay as
they are.
"""

from __future__ import annotations

import logging
from typing import Any

from expectations.errors import ValidationFailedError
from expectations.runner import ValidationOutcome
from tasks.context import RunContext

log = logging.getLogger(__name__)


def validate_partition(ctx: RunContext, dataset: str) -> dict[str, Any]:
    """Validate ``dataset/dt=ctx.partition_date`` against its suite.

    Returns:
        Small metadata for XCom: dataset, dt, expectations evaluated, data docs path(s).

    Raises:
        ValidationFailedError: an expectation failed; the message lists each one with its
            observed value, the quarantined share when that failed, and the data docs path.
        PartitionMissingError: the partition (or one it is checked against) was never written.
        ValidationError: no gate is registered for ``dataset``.
    """
    from expectations import datasets, facts, runner
    from expectations.suites import load_suite, suite_path

    outcomes = []
    for check in datasets.checks_for(dataset):
        outcome = runner.validate(
            load_suite(suite_path(check.suite)),
            check.frames(ctx.settings, ctx.partition_date),
            dataset=check.dataset,
            dt=ctx.partition_date,
            docs_dir=facts.docs_dir(ctx.settings.lake_root, check.dataset, ctx.partition_date),
        )
        outcomes.append(outcome)
    failed = [o for o in outcomes if not o.success]
    if failed:
        message = "\n".join(failure_message(o) for o in failed)
        log.error("%s", message)
        raise ValidationFailedError(message)
    for outcome in outcomes:
        log.info(
            "validation %s dt=%s passed: %d expectations in %.2f s; data docs %s",
            outcome.dataset,
            ctx.ds,
            outcome.evaluated,
            outcome.seconds,
            outcome.docs_path,
        )
    return {
        "dataset": dataset,
        "dt": ctx.ds,
        "success": True,
        "expectations": sum(o.evaluated for o in outcomes),
        "docs_path": str(outcomes[0].docs_path) if len(outcomes) == 1 else None,
        "docs_paths": {o.dataset: str(o.docs_path) for o in outcomes},
        "seconds": round(sum(o.seconds for o in outcomes), 3),
    }


def failure_message(outcome: ValidationOutcome) -> str:
    """The text a person reads in the task log: what failed, what was seen, where to look."""
    dt = outcome.dt.isoformat()
    lines = [
        f"validation gate failed for {outcome.dataset} dt={dt}: "
        f"{len(outcome.failures)} of {outcome.evaluated} expectations failed"
    ]
    lines += [f"  - {failure.describe()}" for failure in outcome.failures]
    if any(f.column == "quarantined_share" for f in outcome.failures):
        lines.append(
            f"  too many rows were quarantined (limit RECSYS_VALIDATION_MAX_QUARANTINE_SHARE); "
            f"see which and why: recsys quarantine --dataset {outcome.dataset} --date {dt}"
        )
    lines.append(f"  data docs: {outcome.docs_path}")
    lines.append(f"  result:    {outcome.result_path}")
    lines.append(
        "  nothing downstream of this gate ran for the day; fix the export or the step, then re-run it"
    )
    return "\n".join(lines)
