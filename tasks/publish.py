"""The daily publish: champion models + the day's features → validated recommendations in Redis.

    prepare_publish(ctx)              serving/{lists,covisit,target_users}/dt=D and the FAISS
                                      index of D's active items (recall-gated) in serving/index
    user_shards(ctx)                  [0, 1, ..., candidates_shards - 1]
    generate_shard(ctx, shard)        recommendations/users/shard=<k>/dt=D
    (validate recommendations/users)  the recommendations suite
    publish_day(ctx)                  rec:v<N>:... written, verified, switched, pruned
    smoke_check(ctx)                  read back a sample through the service's reader

Day D's lists are built from data up to the end of D and serve D+1. TensorFlow is imported
inside the steps that score, never at import.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from feature_store import lake
from models import channels
from models.candidates import (
    OUTPUT_COLUMNS,
    PairScorer,
    SequenceScorer,
    Stages,
    coarse_stage,
    exclude,
    fine_stage,
    rules_stage,
)
from models.precomputed import personas, popularity, segment_lists, similar_items, target_users
from models.recall_data import HISTORY_DAYS, engaged_events, item_frame, user_frame
from models.registry import ModelRegistry
from recsys.settings import Settings
from tasks.context import RunContext
from tasks.retrain import FINE_RANKER, RANKER, RECALL

log = logging.getLogger(__name__)

LISTS = "serving/lists"
COVISIT = "serving/covisit"
TARGETS = "serving/target_users"
INDEX_ROOT = "serving/index"
USERS = "recommendations/users"
VARIANT = "champion"  # the list of the champion models; every variant falls back to it
COVISIT_DAYS = 7
PLACEMENT = "home"  # precomputed lists serve the home page's recommendation slots
POSITION = 0


def shard_of(user_ids: pd.Series, shards: int) -> np.ndarray:
    """A user's shard: CRC-32 of the id modulo ``shards`` (stable across processes and runs)."""
    return np.fromiter(
        (zlib.crc32(u.encode()) % shards for u in user_ids), dtype=np.int64, count=len(user_ids)
    )


def shard_dataset(shard: int) -> str:
    return f"{USERS}/shard={shard:03d}"


def active_catalog(root: Path, day: date) -> pd.DataFrame:
    """Available items of ``day``'s catalog with their content (item_frame columns + listed_date)."""
    catalog = lake.read_partition(
        root, "catalog", day, columns=["item_id", "available", "listed_date"]
    ).to_pandas()
    available = catalog.loc[catalog["available"].fillna(False).astype(bool), ["item_id", "listed_date"]]
    content = item_frame(root, day)
    active: pd.DataFrame = content.merge(available.drop_duplicates("item_id"), on="item_id")
    return active


def active_users(settings: Settings, day: date) -> pd.Series:
    """Users with an event in the ``candidates_active_days`` days ending at ``day``."""
    users = lake.read_partition(settings.lake_root, "features/user", day).to_pandas()
    recency = [c for c in users.columns if c.startswith("recency_") and c.endswith("_s")]
    last = users[recency].min(axis=1)
    active: pd.Series = users.loc[last < settings.candidates_active_days * 86400.0, "user_id"]
    return active.sort_values().reset_index(drop=True)


def _persona_codes() -> list[str]:
    from tagging.taxonomy import load_taxonomy

    return [t.code for t in load_taxonomy().tags if t.dimension == "target_audience"]


@dataclass
class Champions:
    """The serving models of the day (None where a stage has no champion yet)."""

    recall: Any = None
    recall_version: int | None = None
    coarse: Any = None
    coarse_version: int | None = None
    fine: SequenceScorer | None = None
    fine_version: int | None = None


def load_champions(settings: Settings) -> Champions:
    """Open and load each stage's champion; every open re-verifies the signature and each file.

    Raises:
        TamperedArtifactError: a champion differs from what was signed (nothing is loaded).
        RegistryError: a champion is encrypted and RECSYS_REGISTRY_ENCRYPTION_KEY cannot read it.
    """
    import json

    import keras

    import models.bert4rec  # noqa: F401  (registers BERT4Rec's Keras classes before a load)
    from models.ranker import load_ranker
    from models.two_tower import load_two_tower

    registry = ModelRegistry.from_settings(settings)
    found = Champions()
    # Each load reads inside its ``with``: an encrypted version's plaintext is removed after it.
    if (version := registry.champion(RECALL)) is not None:
        with registry.open(RECALL, version) as opened:
            found.recall, found.recall_version = load_two_tower(opened.path / "model"), version
    if (version := registry.champion(RANKER)) is not None:
        with registry.open(RANKER, version) as opened:
            found.coarse, found.coarse_version = load_ranker(opened.path), version
    if (version := registry.champion(FINE_RANKER)) is not None:
        with registry.open(FINE_RANKER, version) as opened:
            model = keras.saving.load_model(opened.file("model.keras"))
            items = json.loads(opened.file("items.json").read_text())
        vocabulary = {item: i + 1 for i, item in enumerate(items)}
        found.fine, found.fine_version = SequenceScorer(model.score_candidates, vocabulary), version
    missing = [
        name
        for name, v in (
            (RECALL, found.recall_version),
            (RANKER, found.coarse_version),
            (FINE_RANKER, found.fine_version),
        )
        if v is None
    ]
    if missing:
        log.warning("no champion for %s: those stages are skipped (run recsys_retrain)", ", ".join(missing))
    return found


@dataclass(frozen=True)
class RankerLists:
    """Which coarse-ranker version each published list is ranked by, and the read names aliased.

    ``lists`` maps a published list name to a registry version of the coarse ranker (None: no
    ranker yet, recall order). ``aliases`` maps a variant's ``reads`` name to the list serving it.
    """

    lists: dict[str, int | None]
    aliases: dict[str, str]


def plan_ranker_lists(settings: Settings) -> RankerLists:
    """The lists the A/B experiment reads: ``champion``, plus one per other DeepFM variant.

    The first experiment's variants name what they read (``RECSYS_SERVICE_EXPERIMENTS``): a
    DeepFM variant (``tags``, ``baseline``) whose type the champion ranker is reads the champion's
    list (an alias); the other type gets its own list, ranked by its newest registered version,
    so the two arms differ in the coarse ranker only. A type never trained gets no list: its
    users read champion's, marked ``variant_fallback``.

    Raises:
        SettingsError: a variant reads a name that is neither ``champion`` nor a DeepFM variant.
    """
    from feature_store.service.experiments import parse_experiments
    from recsys.errors import SettingsError
    from tasks.retrain import VARIANTS

    experiments = parse_experiments(settings.service_experiments)
    reads = sorted({v.reads for v in experiments.first.variants} - {VARIANT}) if experiments.first else []
    unknown = [r for r in reads if r not in VARIANTS]
    if unknown:
        raise SettingsError(
            f"invalid settings: RECSYS_SERVICE_EXPERIMENTS reads {unknown}: recsys_publish publishes "
            f"{VARIANT!r} and the DeepFM variants {list(VARIANTS)} only"
        )
    registry = ModelRegistry.from_settings(settings)
    champion = registry.champion(RANKER)
    if champion is None:  # no ranker at all: every list would be recall order
        return RankerLists({VARIANT: None}, dict.fromkeys(reads, VARIANT))
    newest: dict[str, int] = {}
    for version in registry.versions(RANKER):
        newest[str(registry.manifest(RANKER, version).params.get("variant"))] = version  # ascending
    champion_type = str(registry.manifest(RANKER, champion).params.get("variant"))
    lists: dict[str, int | None] = {VARIANT: champion}
    aliases = {}
    for name in reads:
        if name == champion_type:
            aliases[name] = VARIANT
        elif name in newest:
            lists[name] = newest[name]
        else:
            log.warning("no %s ranker is registered: its A/B arm reads %r's lists", name, VARIANT)
    return RankerLists(lists, aliases)


def index_dir(settings: Settings, day: date) -> Path:
    return settings.lake_root / INDEX_ROOT / f"dt={day.isoformat()}"


def prepare_publish(ctx: RunContext) -> dict[str, Any]:
    """Everything the shards share: segment and similar-item lists, co-visitation, target users, the index."""
    from models.index import build_index, save_index

    settings, day, root = ctx.settings, ctx.partition_date, ctx.settings.lake_root
    started = time.perf_counter()
    champions = load_champions(settings)  # first: a champion the registry refuses fails the run at once
    items = active_catalog(root, day)
    stats = lake.read_partition(root, "features/item", day).to_pandas()
    ranked = popularity(items, stats)
    engaged = engaged_events(root, day - timedelta(days=COVISIT_DAYS - 1), day)
    covisit = channels.CoVisitation.from_engaged(engaged, day).restricted_to(pd.Index(items["item_id"]))
    user_tags = lake.read_partition(
        root, "features/user_tag", day, columns=["user_id", "tag", "pref_share"]
    ).to_pandas()
    item_tags = lake.read_partition(root, "item_tags", day, columns=["item_id", "tag"]).to_pandas()
    lists = segment_lists(ranked, item_tags, personas(user_tags, _persona_codes()), engaged, day)

    catalog_ids = items["item_id"].to_numpy(dtype=object)
    targets = pd.DataFrame(columns=["item_id", "rank", "user_id", "score"])
    content_rows = np.full((len(items), 0), -1, dtype=np.int64)
    content_scores = np.zeros((len(items), 0), dtype=np.float32)
    figures: dict[str, Any] = {"active_items": len(items), "covisit_pairs": len(covisit.neighbours)}
    if champions.recall is not None:
        users = active_users(settings, day)
        item_vectors = champions.recall.encode_items(items)
        user_vectors = champions.recall.encode_users(user_frame(root, day, users.tolist()))
        built = build_index(
            np.arange(len(items)),
            item_vectors,
            settings=settings,
            model_version=f"{RECALL}-v{champions.recall_version}",
            sample_queries=user_vectors[:2000],
            k=min(100, len(items)),
            seed=settings.sim_seed,
        )
        # Signed with the registry key: the shards load it from the lake, outside the registry.
        save_index(built, index_dir(settings, day), key=settings.registry_key())
        content_scores, content_rows = built.retriever.search(item_vectors, min(len(items), 21))
        new = ranked[ranked["item_id"].isin(lists.loc[lists["key"] == "new_arrivals", "item_id"])]
        rows = pd.Index(items["item_id"]).get_indexer(new["item_id"])
        targets = target_users(
            new["item_id"].to_numpy(dtype=object),
            item_vectors[rows],
            users.to_numpy(dtype=object),
            user_vectors,
        )
        figures |= {
            "index_kind": built.kind,
            "index_recall": built.recall_at_k,
            "index_build_s": built.build_s,
        }
    similar = similar_items(catalog_ids, content_rows, content_scores, covisit)
    all_lists = pd.concat([lists, similar], ignore_index=True)
    plan = plan_ranker_lists(settings)
    meta = {
        **figures,
        "lists": plan.lists,
        "aliases": plan.aliases,
        "segments": int(lists["key"].nunique()),
        "similar_items": int(similar["key"].nunique()),
        "target_items": int(targets["item_id"].nunique()),
        "seconds": round(time.perf_counter() - started, 2),
    }
    lake.write_partition(root, LISTS, day, pa.Table.from_pandas(all_lists, preserve_index=False), meta)
    lake.write_partition(
        root, COVISIT, day, pa.Table.from_pandas(covisit.neighbours, preserve_index=False), {}
    )
    lake.write_partition(root, TARGETS, day, pa.Table.from_pandas(targets, preserve_index=False), {})
    log.info("prepared the publish of %s: %s", ctx.ds, meta)
    return {"dt": ctx.ds, **meta}


def user_shards(ctx: RunContext) -> list[int]:
    return list(range(ctx.settings.candidates_shards))


def _segment(lists: pd.DataFrame, key: str) -> list[str]:
    part = lists[(lists["kind"] == "segment") & (lists["key"] == key)].sort_values("rank")
    return part["item_id"].tolist()


def generate_shard(ctx: RunContext, shard: int) -> dict[str, Any]:
    """Recommendations of the active users of one shard, through every stage."""
    from models.ranking_data import PairInputs, RankingFeatures
    from models.shop_sequences import ordered_sequences

    settings, day, root = ctx.settings, ctx.partition_date, ctx.settings.lake_root
    stages = Stages(
        settings.candidates_recall_size,
        settings.candidates_coarse_size,
        settings.candidates_top_n,
        settings.candidates_max_per_category,
        settings.candidates_price_band,
    )
    stages.check()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    users = active_users(settings, day)
    users = users[shard_of(users, settings.candidates_shards) == shard].reset_index(drop=True)
    items = active_catalog(root, day)
    lists = lake.read_partition(root, LISTS, day).to_pandas()
    covisit = channels.CoVisitation(lake.read_partition(root, COVISIT, day).to_pandas())
    engaged = engaged_events(root, day - timedelta(days=HISTORY_DAYS - 1), day)
    engaged = engaged[engaged["user_id"].isin(users)]
    profile = user_frame(root, day, users.tolist(), engaged=engaged)
    champions = load_champions(settings)
    lap("load")

    user_index = pd.Index(users)
    histories = profile.set_index("user_id")["history"]
    tag_prefs = profile[["user_id", "user_tags", "user_tag_weights"]].explode(
        ["user_tags", "user_tag_weights"]
    )
    tag_prefs = tag_prefs.dropna().rename(columns={"user_tags": "tag", "user_tag_weights": "pref_share"})
    tag_popular = lists[(lists["kind"] == "segment") & lists["key"].str.startswith("tag:")]
    tag_popular = pd.DataFrame(
        {
            "tag": tag_popular["key"].str.removeprefix("tag:"),
            "item_id": tag_popular["item_id"],
            "popularity": tag_popular["score"],
        }
    )
    k = stages.recall
    # Each channel brings twice its quota: room to fill for a short channel, without sorting
    # four full-size lists per user in the merge.
    wanted = {name: min(k, 2 * quota) for name, quota in channels.quotas(k).items()}
    found = [
        channels.covisit_channel(histories, covisit, wanted["covisit"]),
        channels.tag_popular_channel(
            tag_prefs.astype({"pref_share": "float64"}), tag_popular, wanted["tag_popular"]
        ),
        channels.trending_channel(
            user_index, _segment(lists, "trending") or _segment(lists, "global"), wanted["trending"]
        ),
    ]
    if champions.recall is not None and index_dir(settings, day).exists():
        from models.index import load_retriever

        recall_name = f"{RECALL}-v{champions.recall_version}"
        retriever = load_retriever(
            index_dir(settings, day) / recall_name, model_version=recall_name, key=settings.registry_key()
        )
        _, rows = retriever.search(champions.recall.encode_users(profile), min(k, retriever.size))
        found.append(channels.faiss_channel(user_index, rows, items["item_id"].to_numpy(dtype=object)))
    recalled = channels.merge_channels(found, k)
    lap("recall")

    bought = engaged.loc[engaged["event_type"] == "purchase", ["user_id", "item_id"]]
    seen_from = day - timedelta(days=settings.candidates_exclude_seen_days - 1)
    seen = engaged.loc[
        engaged["event_type"].isin(["view", "click"]) & (engaged["day"] >= seen_from), ["user_id", "item_id"]
    ]
    recalled = exclude(
        recalled, pd.concat([bought, seen]) if settings.candidates_exclude_seen_days else bought
    )
    recalled = recalled[recalled["item_id"].isin(items["item_id"])]
    lap("filter")

    plan = ranker_lists_of(root, day)
    sequences: dict[str, np.ndarray] = {}
    if champions.fine is not None:
        vocabulary = champions.fine.vocabulary
        for user, seq in ordered_sequences(engaged).items():
            ids = np.asarray([vocabulary[i] for i in seq if i in vocabulary], dtype=np.int64)
            if len(ids):
                sequences[str(user)] = ids
    prices = (
        engaged[["user_id", "item_id"]].drop_duplicates().merge(items[["item_id", "price"]], on="item_id")
    )
    user_prices = prices.groupby("user_id")["price"].median()
    features = RankingFeatures.load(root, content_day=day, as_of=day) if any(plan.lists.values()) else None
    parts = []
    for name, version in plan.lists.items():  # the lists differ from the coarse stage on
        score: PairScorer = _recall_order
        if version is not None:
            assert features is not None
            ranker = (
                champions.coarse if version == champions.coarse_version else _load_ranker(settings, version)
            )
            inputs = PairInputs.build(
                ranker.encoder,
                ranker.variant,
                features,
                user_index,
                pd.Index(items["item_id"]),
                {"device": _usual_device(root, day), "placement": PLACEMENT, "position": POSITION},
            )
            score = _pair_scorer(ranker, inputs)
        coarse = coarse_stage(recalled, score, stages.coarse)
        lap(f"coarse:{name}")
        ranked = fine_stage(coarse, sequences, champions.fine)
        lap(f"fine:{name}")
        part = rules_stage(ranked, items, user_prices, stages, _segment(lists, "global"))
        part.insert(0, "variant", name)
        parts.append(part)
        lap(f"rules:{name}")
    published = pd.concat(parts, ignore_index=True)

    meta = {
        "shard": shard,
        "shards": settings.candidates_shards,
        "users": len(users),
        "users_with_lists": int(published.loc[published["variant"] == VARIANT, "user_id"].nunique()),
        "rows": len(published),
        "recall_candidates": len(recalled),
        "channels": published["channel"].value_counts().to_dict(),
        "stages": published["stage"].value_counts().to_dict(),
        "seconds": timings,
        "models": {
            RECALL: champions.recall_version,
            RANKER: champions.coarse_version,
            FINE_RANKER: champions.fine_version,
        },
        "lists": plan.lists,
    }
    table = pa.Table.from_pandas(published[["variant", *OUTPUT_COLUMNS]], preserve_index=False)
    lake.write_partition(root, shard_dataset(shard), day, table, meta)
    log.info("shard %d of %s: %s", shard, ctx.ds, meta)
    return {"dt": ctx.ds, **meta}


def _load_ranker(settings: Settings, version: int) -> Any:
    """A coarse ranker version other than the champion (an A/B arm), verified at this open."""
    from models.ranker import load_ranker

    with ModelRegistry.from_settings(settings).open(RANKER, version) as opened:
        return load_ranker(opened.path)


def _recall_order(pairs: pd.DataFrame) -> np.ndarray:
    return -pairs["place"].to_numpy(dtype=np.float64)  # the stand-in while no ranker is trained


def _pair_scorer(ranker: Any, inputs: Any) -> PairScorer:
    """Scores of (user_id, item_id) pairs by ``ranker``, gathering the encoded ``inputs``."""

    def score(pairs: pd.DataFrame) -> np.ndarray:
        rows = (
            inputs.users.get_indexer(pd.Index(pairs["user_id"])),
            inputs.items.get_indexer(pd.Index(pairs["item_id"])),
        )
        return np.asarray(ranker.score_arrays(inputs.arrays(*rows)))

    return score


def ranker_lists_of(root: Path, day: date) -> RankerLists:
    """The plan ``prepare_publish`` made for D (so every shard and the publish agree on it)."""
    meta = lake.read_meta(root, LISTS, day)
    if "lists" not in meta:
        raise ValueError(f"{LISTS}/dt={day} was prepared without a ranker plan: run prepare_publish again")
    return RankerLists(dict(meta["lists"]), dict(meta["aliases"]))


def _usual_device(root: Path, day: date) -> str:
    """The day's most common device (the device of a future visit is unknown when lists are built)."""
    devices = lake.read_partition(root, "events", day, columns=["device"]).column("device")
    counts = devices.value_counts().to_pylist()
    return str(max(counts, key=lambda c: c["counts"])["values"]) if counts else "desktop"


def read_recommendations(settings: Settings, day: date) -> pd.DataFrame:
    """Every shard's recommendations of ``day`` (PartitionMissingError names a missing shard)."""
    frames = [
        lake.read_partition(settings.lake_root, shard_dataset(s), day).to_pandas()
        for s in range(settings.candidates_shards)
    ]
    published: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return published


def publish_day(ctx: RunContext) -> dict[str, Any]:
    """Write the validated lists of D as a new ``rec:v<N>``, verify it, switch to it, prune.

    Raises:
        VerificationError: what Redis holds differs from the lake; the previous version serves on.
        PublishLockedError: another publish is running.
    """
    from feature_store.recommendations import NAMESPACE, publish_recommendations
    from feature_store.versioned import VersionedKeyspace
    from tasks.connections import redis_client

    settings, day, root = ctx.settings, ctx.partition_date, ctx.settings.lake_root
    client = redis_client(settings)
    reason = VersionedKeyspace(client, NAMESPACE).serves_later_than(ctx.ds)
    if reason is not None:
        log.info("publish of %s skipped: %s", ctx.ds, reason)
        return {"dt": ctx.ds, "version": None, "skipped": reason}
    # Item ids as a Categorical: the encoder then looks up each distinct id once, not every row's.
    shards = (
        lake.read_partition(root, shard_dataset(s), day).to_pandas().astype({"item_id": "category"})
        for s in user_shards(ctx)
    )
    aliases = ranker_lists_of(root, day).aliases
    report = publish_recommendations(
        redis_client(settings),
        ctx.ds,
        shards,
        lake.read_partition(root, LISTS, day).to_pandas(),
        lake.read_partition(root, TARGETS, day).to_pandas(),
        keep=settings.publish_keep_versions,
        batch_size=settings.publish_batch_size,
        verify_sample=settings.publish_verify_sample,
        seed=settings.sim_seed,
        aliases=aliases,
    )
    figures = {
        "dt": ctx.ds,
        "version": report.version,
        "keys": report.keys,
        "users": report.users,
        "aliases": aliases,
        "bytes_per_user_list": round(report.bytes_per_user_list, 1),
        "keys_per_s": round(report.keys_per_s),
        "mb_per_s": round(report.mb_per_s, 1),
        "swap_ms": round(report.swap_ms, 3),
        "seconds": round(report.seconds, 2),
        "pruned": list(report.pruned),
        "abandoned": list(report.abandoned),
    }
    log.info("published %s as rec:v%d: %s", ctx.ds, report.version, figures)
    return figures


def smoke_check(ctx: RunContext, sample: int = 50) -> dict[str, Any]:
    """Read back a sample of D's users, an item's similar items and the global list through the
    service's reader, from the version ``rec:current`` names.

    Raises:
        PublishError: the current version is not D's, or a read-back differs from the lake.
    """
    from feature_store.recommendations import PublishError, RecommendationReader
    from tasks.connections import redis_client

    settings, day = ctx.settings, ctx.partition_date
    from feature_store.recommendations import NAMESPACE
    from feature_store.versioned import VersionedKeyspace

    client = redis_client(settings)
    reader = RecommendationReader(client, pointer_ttl_s=0.0)
    info = VersionedKeyspace(client, NAMESPACE).serving()
    version = None if info is None else info.version
    if info is not None and info.dt > ctx.ds:
        return {"dt": ctx.ds, "version": version, "skipped": f"rec:v{version} serves the later {info.dt}"}
    if info is None or info.dt != ctx.ds:
        raise PublishError(
            f"rec:current is v{version} ({info.dt if info else 'no such version'}), not a version of {ctx.ds}"
        )
    published = read_recommendations(settings, day)
    published = published[published["variant"] == VARIANT]
    users = (
        published["user_id"]
        .drop_duplicates()
        .sample(n=min(sample, published["user_id"].nunique()), random_state=settings.sim_seed)
    )
    # One pass over the day's rows for the sample, not one scan of every row per sampled user.
    expected_lists = (
        published[published["user_id"].isin(users)]
        .sort_values("rank")
        .groupby("user_id")["item_id"]
        .agg(list)
    )
    wrong = []
    for user, expected in expected_lists.items():
        found = reader.user(VARIANT, str(user))
        if found is None or [r.item_id for r in found] != expected:
            wrong.append(str(user))
    lists = lake.read_partition(settings.lake_root, LISTS, day).to_pandas()
    global_list = reader.segment("global")
    if wrong or not global_list:
        raise PublishError(
            f"smoke check of rec:v{version} ({ctx.ds}) failed: {len(wrong)} of {len(users)} sampled users "
            f"read back differently (e.g. {wrong[:3]}); global list {'present' if global_list else 'missing'}"
        )
    some_item = lists.loc[lists["kind"] == "similar", "key"].head(1).tolist()
    similar = reader.similar(some_item[0]) if some_item else []
    log.info("smoke check of rec:v%s passed: %d users read back", version, len(users))
    return {
        "dt": ctx.ds,
        "version": version,
        "users_checked": len(users),
        "similar_checked": len(similar) > 0,
    }
