"""A real Airflow run of recsys_publish on the tiny shop: champions → lists → gate → Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pendulum
import pyarrow as pa
import pytest
import redis

from expectations.errors import ValidationFailedError
from feature_store import lake
from feature_store.recommendations import RecommendationReader, decode_aliases
from feature_store.versioned import VersionedKeyspace
from models.registry import ModelRegistry
from recsys.settings import Settings, load_settings
from tasks import publish, retrain
from tasks.context import RunContext
from tasks.validate import validate_partition
from tests.support import RedisServer, load_dag_module

pytestmark = pytest.mark.integration
DAY = date(2026, 11, 8)
SIZES = {
    "RECSYS_CANDIDATES_RECALL_SIZE": "60",
    "RECSYS_CANDIDATES_COARSE_SIZE": "30",
    "RECSYS_CANDIDATES_TOP_N": "10",
    "RECSYS_CANDIDATES_MAX_PER_CATEGORY": "4",
    "RECSYS_CANDIDATES_SHARDS": "2",
}


@pytest.fixture(scope="module")
def champion_registry(tiny_shop_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with a champion of each stage, trained quickly on the tiny shop's week."""
    registry = tmp_path_factory.mktemp("publish-registry")
    settings = load_settings(
        lake_root=tiny_shop_lake / "lake",
        landing_root=tiny_shop_lake / "landing",
        registry_root=registry,
        sim_scale="tiny",
        sim_seed=7,
    )
    ctx = RunContext(DAY, settings)
    retrain.build_ranking_set(ctx, history_days=6)
    trained = [retrain.train_ranker_variant(ctx, v, epochs=2)["version"] for v in ("tags", "baseline")]
    retrain.promote_best_ranker(ctx, retrain.evaluate_rankers(ctx, trained))
    retrain.train_recall_model(ctx, history_days=5, epochs=3)
    retrain.train_fine_ranker(ctx, history_days=7, epochs=3, max_minutes=1.0)
    return registry


@pytest.fixture
def publish_env(
    tiny_shop_lake: Path, champion_registry: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    monkeypatch.setenv("RECSYS_LAKE_ROOT", str(tiny_shop_lake / "lake"))
    monkeypatch.setenv("RECSYS_LANDING_ROOT", str(tiny_shop_lake / "landing"))
    monkeypatch.setenv("RECSYS_SIM_SCALE", "tiny")
    monkeypatch.setenv("RECSYS_SIM_SEED", "7")
    monkeypatch.setenv("RECSYS_REGISTRY_ROOT", str(champion_registry))
    monkeypatch.setenv("RECSYS_REDIS_URL", redis_url)
    for name, value in SIZES.items():
        monkeypatch.setenv(name, value)
    yield load_settings()


def _run_dag() -> str:
    dag = load_dag_module("recsys_publish").publish_dag
    run = dag.test(
        logical_date=pendulum.datetime(2026, 11, 9, 4, tz="UTC"), run_conf={"partition_date": DAY.isoformat()}
    )
    return str(run.state)


def test_publish_serves_every_active_user_a_full_list_through_every_stage(
    airflow_db: Path, publish_env: Settings, redis_server: RedisServer
) -> None:
    settings = publish_env
    assert _run_dag() == "success"

    reader = RecommendationReader(redis_server.client(), pointer_ttl_s=0.0)
    assert reader.current_version() == 1
    active = publish.active_users(settings, DAY)
    items = publish.active_catalog(settings.lake_root, DAY)
    available = set(items["item_id"])
    published = publish.read_recommendations(settings, DAY)
    assert set(published["user_id"]) == set(active)  # every active user, across both shards
    bought = lake.read_partition(
        settings.lake_root, "events", DAY, columns=["user_id", "item_id", "event_type"]
    )
    bought_pairs = {(u, i) for u, i, t in zip(*bought.to_pydict().values(), strict=True) if t == "purchase"}
    for user in active[:40]:
        found = reader.user(publish.VARIANT, user)
        assert found is not None and len(found) == 10, user
        assert len({r.item_id for r in found}) == 10
        assert {r.item_id for r in found} <= available
        assert not {(user, r.item_id) for r in found} & bought_pairs  # what they bought is left out
    assert reader.user(publish.VARIANT, "nobody-like-this") is None  # cold start is the service's job

    # Every stage took part, and the lists are diverse by rule.
    assert {"faiss", "covisit"} <= set(published["channel"])
    assert "fine" in set(published["stage"]) and "coarse" in set(published["stage"])
    per_category = published.merge(items[["item_id", "category"]], on="item_id")
    assert per_category.groupby(["variant", "user_id", "category"]).size().max() <= 4
    # Precomputed lists: similar items, segments, target users of new items.
    some_item = items["item_id"].iloc[0]
    similar = reader.similar(some_item)
    assert similar and some_item not in {i for i, _ in similar}
    assert len(reader.segment("global")) > 10 and reader.segment("trending")
    targets = lake.read_partition(settings.lake_root, publish.TARGETS, DAY).to_pandas()
    if len(targets):
        assert reader.target_users(targets["item_id"].iloc[0])

    # The A/B arms: the champion's DeepFM type reads champion's lists; the other type has its own.
    registry = ModelRegistry.from_settings(settings)
    champion_type = registry.manifest("coarse_ranker", registry.champion("coarse_ranker")).params["variant"]
    other = ({"tags", "baseline"} - {champion_type}).pop()
    assert set(published["variant"]) == {publish.VARIANT, other}
    meta = redis_server.client().hget("rec:v1:meta", "aliases")
    assert decode_aliases(meta) == {champion_type: publish.VARIANT}
    per_variant = published.groupby("variant")["user_id"].nunique()
    assert per_variant[other] == per_variant[publish.VARIANT] == len(active)
    lists = published.sort_values("rank").groupby(["variant", "user_id"])["item_id"].agg(tuple)
    assert (lists[publish.VARIANT] != lists[other]).any()  # the arms differ in their coarse ranker

    # A second publish switches to v2; v1 stays for rollback.
    assert _run_dag() == "success"
    keyspace = VersionedKeyspace(redis.Redis.from_url(settings.redis_url), "rec")
    assert keyspace.current() == 2 and keyspace.info(1) is not None


def test_a_failed_recommendations_gate_names_the_problem_and_nothing_is_published(
    publish_env: Settings, redis_server: RedisServer
) -> None:
    settings = publish_env
    ctx = RunContext(DAY, settings)
    publish.prepare_publish(ctx)
    for shard in publish.user_shards(ctx):
        publish.generate_shard(ctx, shard)
    validate_partition(ctx, "recommendations/users")  # the real lists pass
    publish.publish_day(ctx)
    serving = VersionedKeyspace(redis_server.client(), "rec").current()

    # Break shard 0: an unavailable item and a repeated rank.
    frame = lake.read_partition(settings.lake_root, publish.shard_dataset(0), DAY).to_pandas()
    broken = pd.concat([frame, frame.head(1).assign(item_id="no-such-item")], ignore_index=True)
    lake.write_partition(
        settings.lake_root,
        publish.shard_dataset(0),
        DAY,
        pa.Table.from_pandas(broken, preserve_index=False),
        {},
    )
    with pytest.raises(ValidationFailedError) as failure:
        validate_partition(ctx, "recommendations/users")
    message = str(failure.value)
    assert "items_not_active" in message and "variant, user_id, rank" in message.replace("'", "")
    # The DAG publishes only after the gate: the version serving is still the last good one.
    assert VersionedKeyspace(redis_server.client(), "rec").current() == serving
    publish.generate_shard(ctx, 0)  # leave the shared lake as the DAG wrote it


def test_a_backfill_of_an_older_day_does_not_roll_the_lists_back(
    publish_env: Settings, redis_server: RedisServer
) -> None:
    settings = publish_env
    ctx = RunContext(DAY, settings)
    publish.prepare_publish(ctx)
    for shard in publish.user_shards(ctx):
        publish.generate_shard(ctx, shard)
    published = publish.publish_day(ctx)
    keyspace = VersionedKeyspace(redis_server.client(), "rec")
    keyspace.client.hset(f"rec:v{published['version']}:meta", "dt", "2026-11-09")  # as if D+1 served
    older = publish.publish_day(ctx)
    assert older["version"] is None and "later than 2026-11-08" in older["skipped"]
    assert keyspace.current() == published["version"]
    assert "skipped" in publish.smoke_check(ctx)
