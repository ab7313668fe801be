"""Parse-time integrity of every DAG file: imports, policy, no I/O, no heavy imports, speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support import DAGS_FOLDER, ROOT

DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))
PROBE = Path(__file__).with_name("parse_probe.py")
EXPECTED_DAGS = {
    "recsys_ingest.py": {"recsys_ingest"},
    "recsys_retrain.py": {"recsys_retrain"},
    "recsys_publish.py": {"recsys_publish"},
    "recsys_feedback.py": {"recsys_feedback"},
    "recsys_maintenance.py": {"recsys_maintenance"},
}


@cache
def parse(path: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    # A database path that cannot exist: any query at parse time fails loudly.
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite:////nonexistent/recsys/airflow.db"
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, str(PROBE), str(path)], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_every_dag_file_is_covered() -> None:
    assert {p.name for p in DAG_FILES} == set(EXPECTED_DAGS)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_imports_without_errors_and_yields_its_dags(path: Path) -> None:
    result = parse(path)
    assert result["errors"] == {}
    assert set(result["dags"]) == EXPECTED_DAGS[path.name]


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_does_no_io(path: Path) -> None:
    assert parse(path)["touched"] == []


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_no_heavy_imports_at_module_level(path: Path) -> None:
    assert parse(path)["heavy"] == []


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parses_in_under_two_seconds(path: Path) -> None:
    assert parse(path)["seconds"] < 2.0


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_policy_owner_tags_retries_docs_params(path: Path) -> None:
    for dag_id, dag in parse(path)["dags"].items():
        assert dag["doc_md"], f"{dag_id} has no doc_md"
        assert dag["tags"] and "recsys" in dag["tags"], f"{dag_id} needs the 'recsys' tag"
        assert all(owner and owner != "airflow" for owner in dag["owner"]), f"{dag_id}: set an owner"
        assert all(r >= 1 for r in dag["retries"]), f"{dag_id}: every task needs retries >= 1"
        assert all(dag["params"].values()), f"{dag_id}: every Param needs a description"


def test_ingest_has_a_data_interval_timetable() -> None:
    dag = parse(DAGS_FOLDER / "recsys_ingest.py")["dags"]["recsys_ingest"]
    assert dag["timetable"] == "CronDataIntervalTimetable"
    assert set(dag["tasks"]) == {
        "land_shop_export",
        "ingest_catalog",
        "validate_catalog",
        "tag_catalog",
        "validate_item_tags",
        "ingest_events",
        "validate_events",
        "compute_features",
        "validate_features",
        "publish_online_features",
        "report_ingest",
    }


def test_retrain_is_nightly_and_trains_variants_in_parallel() -> None:
    dag = parse(DAGS_FOLDER / "recsys_retrain.py")["dags"]["recsys_retrain"]
    assert dag["timetable"] == "CronDataIntervalTimetable"
    assert set(dag["tasks"]) == {
        "wait_for_day",
        "build_ranking_set",
        "validate_ranking_set",
        "variants",
        "train_variant",
        "evaluate",
        "promote",
        "train_recall",
        "train_fine_ranker",
    }
    assert {"epochs", "variants", "history_days", "negative_share", "recall_epochs", "partition_date"} <= set(
        dag["params"]
    )


def test_feedback_is_hourly_over_data_intervals_and_alerts_after_consuming() -> None:
    dag = parse(DAGS_FOLDER / "recsys_feedback.py")["dags"]["recsys_feedback"]
    assert dag["timetable"] == "CronDataIntervalTimetable"
    assert dag["tasks"] == sorted(["consume", "experiment_report", "bandit_statistics", "alerts"])
    assert set(dag["params"]) == {"hour"}


def test_publish_listens_to_assets_the_other_dags_announce() -> None:
    dag = parse(DAGS_FOLDER / "recsys_publish.py")["dags"]["recsys_publish"]
    assert dag["timetable"] == "AssetTriggeredTimetable"
    assert dag["tasks"] == sorted(
        ["prepare", "shards", "generate_shard", "validate_recommendations", "publish", "smoke_check"]
    )
    announced = {
        uri
        for name in ("recsys_ingest.py", "recsys_retrain.py")
        for info in parse(DAGS_FOLDER / name)["dags"].values()
        for uris in info["outlets"].values()
        for uri in uris
    }
    assert dag["listens_to"] == sorted(
        [
            "recsys://lake/features",
            "recsys://models/coarse_ranker",
            "recsys://models/recall",
            "recsys://models/fine_ranker",
        ]
    )
    assert set(dag["listens_to"]) <= announced  # nothing it waits for is never announced
    assert dag["outlets"] == {"smoke_check": ["recsys://serving/recommendations"]}
