"""A real Airflow run of recsys_retrain on the tiny shop: set → gate → two variants → promote."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pendulum
import pytest

from feature_store import lake
from models.recall_eval import next_day_recall
from models.registry import ModelRegistry
from models.two_tower import load_two_tower
from recsys.settings import load_settings
from tasks import retrain
from tasks.context import RunContext
from tests.support import load_dag_module

pytestmark = pytest.mark.integration
EVAL_DAY = date(2026, 11, 8)


@pytest.fixture
def retrain_env(tiny_shop_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECSYS_LAKE_ROOT", str(tiny_shop_lake / "lake"))
    monkeypatch.setenv("RECSYS_LANDING_ROOT", str(tiny_shop_lake / "landing"))
    monkeypatch.setenv("RECSYS_SIM_SCALE", "tiny")
    monkeypatch.setenv("RECSYS_SIM_SEED", "7")
    monkeypatch.setenv("RECSYS_REGISTRY_ROOT", str(tmp_path / "registry"))
    return tmp_path / "registry"


def test_retrain_trains_both_variants_and_promotes_one_that_learned_the_shop(
    airflow_db: Path, retrain_env: Path
) -> None:
    dag = load_dag_module("recsys_retrain").retrain_dag
    run = dag.test(
        logical_date=pendulum.datetime(2026, 11, 9, 3, tz="UTC"),
        run_conf={"partition_date": EVAL_DAY.isoformat(), "epochs": 3, "history_days": 6,
                  "variants": ["baseline", "tags"], "negative_share": 1.0, "recall_epochs": 6,
                  "sequence_days": 7, "fine_epochs": 10, "fine_max_minutes": 2.0},
    )  # fmt: skip
    assert run.state == "success"

    settings = load_settings()
    meta = lake.read_meta(settings.lake_root, "training/ranking", EVAL_DAY)
    assert meta["label_days"][-1] == EVAL_DAY.isoformat() and len(meta["label_days"]) == 6
    assert set(meta["splits"]) == {"train", "valid", "eval"}

    registry = ModelRegistry.from_settings(settings)
    assert registry.versions(retrain.RANKER) == [1, 2]
    variants = {registry.manifest(retrain.RANKER, v).params["variant"] for v in (1, 2)}
    assert variants == {"baseline", "tags"}
    champion = registry.champion(retrain.RANKER)
    assert champion in (1, 2)

    # The champion learned the planted persona x attribute signal: AUC on the held-out day.
    evaluation = retrain.evaluate_rankers(RunContext(EVAL_DAY, settings), [])
    assert evaluation["scores"][str(champion)]["auc"] >= 0.7
    assert evaluation["scores"][str(champion)]["gauc"] > 0.6

    # The recall model: registered with its index inside the version, promoted as the first one.
    assert registry.champion(retrain.RECALL) == 1
    recall = registry.open(retrain.RECALL)
    assert (recall.path / recall.manifest.params["index"] / "header.json").exists()
    figures = recall.manifest.metrics
    assert figures["index_recall"] >= settings.index_min_recall
    # The tiny catalog has ~110 items, so judge the top 10: the model must beat chance by far.
    top10 = next_day_recall(load_two_tower(recall.path / "model"), settings, EVAL_DAY, k=10).figures
    assert top10["recall@10"] > 2.5 * top10["random_recall@10"], top10

    # BERT4Rec: the next day's first engaged item, ranked among every known item.
    assert registry.champion(retrain.FINE_RANKER) == 1
    fine = registry.open(retrain.FINE_RANKER).manifest.metrics
    assert fine["cases"] > 20
    assert fine["hr@10"] > 2 * 10 / fine["items"], fine  # twice what a random order would give


def test_the_gate_keeps_a_worse_candidate_out(tiny_shop_lake: Path, retrain_env: Path) -> None:
    settings = load_settings()
    ctx = RunContext(EVAL_DAY, settings)
    retrain.build_ranking_set(ctx, history_days=4)
    first = retrain.train_ranker_variant(ctx, "baseline", epochs=2)
    registry = ModelRegistry.from_settings(settings)
    promoted = retrain.promote_best_ranker(ctx, retrain.evaluate_rankers(ctx, [first["version"]]))
    assert promoted["promoted"] and registry.champion(retrain.RANKER) == first["version"]

    second = retrain.train_ranker_variant(ctx, "baseline", epochs=1)
    evaluation = retrain.evaluate_rankers(ctx, [second["version"]])
    # Make the newcomer measurably worse on the same day than the champion, then gate it.
    evaluation["scores"][str(second["version"])]["auc"] = (
        evaluation["scores"][str(first["version"])]["auc"] - 0.05
    )
    outcome = retrain.promote_best_ranker(ctx, evaluation)
    assert not outcome["promoted"]
    assert registry.champion(retrain.RANKER) == first["version"]
    assert "keep the champion" in outcome["reason"]


def test_a_young_lake_trains_the_recall_model_on_the_days_it_has(
    tiny_shop_lake: Path, retrain_env: Path
) -> None:
    settings = load_settings()
    outcome = retrain.train_recall_model(RunContext(date(2026, 11, 4), settings), history_days=30, epochs=2)
    manifest = ModelRegistry.from_settings(settings).manifest(retrain.RECALL, outcome["version"])
    # Label days 11-02 .. 11-03: the first needs the features of 11-01, the history start.
    assert manifest.params["history_days"] == 2
    assert manifest.data_range == (date(2026, 11, 2), date(2026, 11, 3))
