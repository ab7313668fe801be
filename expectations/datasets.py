"""What each gated dataset is validated on: its suite file, its frames, its parameters.

A dataset is registered with a function that reads its partition and returns the
``Frames`` for the runner: the rows (as pandas, typed so that GX's pandas metrics stay
vectorised), one row of facts (``expectations/facts.py``), and the suite parameters taken
from the settings and the partition's day. Adding a dataset's gate is one suite file and
one ``register(DatasetCheck(...))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from expectations import facts
from expectations.errors import ValidationError
from expectations.quarantine import read_quarantine
from expectations.runner import Frames
from feature_store import lake
from recsys.settings import Settings
from tasks.ingest.catalog import CATALOG_SCHEMA
from tasks.ingest.events import EVENTS_SCHEMA

FramesFn = Callable[[Settings, date], Frames]

# The lake schemas the ingestion writes: one definition, checked here column by column.
EVENT_COLUMNS = tuple(EVENTS_SCHEMA.names)
CATALOG_COLUMNS = tuple(CATALOG_SCHEMA.names)
ITEM_TAG_COLUMNS = ("item_id", "tag", "dimension", "confidence", "rule_id", "evidence")


@dataclass(frozen=True)
class DatasetCheck:
    """A gated lake dataset: its name in the lake, its suite file, how to build its frames."""

    dataset: str
    suite: str
    frames: FramesFn


DATASETS: dict[str, DatasetCheck] = {}


def register(check: DatasetCheck) -> DatasetCheck:
    DATASETS[check.dataset] = check
    return check


def checks_for(dataset: str) -> list[DatasetCheck]:
    """The check of ``dataset``, or of every registered ``dataset/<part>`` (``features`` →
    ``features/user``, ``features/item``, …), in name order.

    Raises:
        ValidationError: no gate is registered for that dataset (the message lists them).
    """
    if dataset in DATASETS:
        return [DATASETS[dataset]]
    parts = [DATASETS[name] for name in sorted(DATASETS) if name.startswith(f"{dataset}/")]
    if not parts:
        known = ", ".join(sorted(DATASETS))
        raise ValidationError(
            f"no validation gate for dataset {dataset!r}; gated datasets: {known} "
            f"(a gate is a suite file in expectations/suites/ plus register(DatasetCheck(...)) "
            f"in expectations/datasets.py)"
        )
    return parts


def interval(dt: date) -> tuple[datetime, datetime]:
    """The UTC day of a partition."""
    start = datetime.combine(dt, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def validation_frame(table: pa.Table) -> pd.DataFrame:
    """The rows as pandas, with types GX's pandas metrics compare vectorised.

    GX's range check runs row by row in Python unless a column is int64, float64 or a
    datetime, so narrower numbers are widened (nullable ints become float64) and dates
    become timestamps. The exact Arrow types are checked separately, on the facts frame.
    """
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_integer(kind):
            column = column.cast(pa.float64() if column.null_count else pa.int64())
        elif pa.types.is_floating(kind):
            column = column.cast(pa.float64())
        elif pa.types.is_date(kind):
            column = column.cast(pa.timestamp("ms"))
        columns[name] = column
    if not columns:
        return pd.DataFrame(index=range(table.num_rows))
    frame: pd.DataFrame = pa.table(columns).to_pandas(split_blocks=True)  # no 2-D block copy
    return frame


def _ids_as_dictionary(table: pa.Table) -> pa.Table:
    """String columns dictionary-encoded (pandas categories), their values unchanged."""
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            table = table.set_column(i, field.name, pc.dictionary_encode(table.column(i)))
    return table.unify_dictionaries()


def _one_row(values: dict[str, Any]) -> pd.DataFrame:
    # object dtype keeps None as None (GX skips nulls in a range check: "nothing to compare")
    return pd.DataFrame({k: pd.Series([v], dtype=object if v is None else None) for k, v in values.items()})


def _shared_parameters(settings: Settings) -> dict[str, Any]:
    return {
        "max_quarantine_share": settings.validation_max_quarantine_share,
        "min_volume_ratio": settings.validation_min_volume_ratio,
        "max_volume_ratio": settings.validation_max_volume_ratio,
        "max_price": settings.validation_max_price,
    }


def _column(table: pa.Table, name: str, kind: Callable[[pa.DataType], bool]) -> pa.ChunkedArray | None:
    """A column when it exists with the expected kind of type (else the type check reports it)."""
    if name not in table.column_names or not kind(table.schema.field(name).type):
        return None
    return table.column(name)


def events_frames(settings: Settings, dt: date) -> Frames:
    """``events/dt``: rows, plus types, volume, quarantine, purchase share, freshness, references."""
    root = settings.lake_root
    table = lake.read_partition(root, "events", dt)
    catalog = lake.read_partition(root, "catalog", dt, columns=["item_id"]).column("item_id")
    start, end = interval(dt)
    volume = facts.volume(root, "events", dt, table.num_rows)
    quarantined = read_quarantine(root, "events", dt, table.num_rows)
    values: dict[str, Any] = {
        **facts.arrow_types(table.schema, EVENT_COLUMNS),
        "volume_ratio": volume.ratio,
        "quarantined_share": quarantined.share,
        "purchase_share": None,
        "hours_since_last_event": None,
        "users": None,
        "events_with_unknown_item": None,
        "position_min": None,
    }
    notes = {"volume_ratio": volume.note, "quarantined_share": quarantined.note}
    if (event_type := _column(table, "event_type", pa.types.is_string)) is not None:
        values["purchase_share"] = facts.share_equal(event_type, "purchase")
    if (times := _column(table, "event_time", pa.types.is_timestamp)) is not None and times.type.tz:
        values["hours_since_last_event"] = facts.hours_before(times, end)
        notes["hours_since_last_event"] = f"latest event {pc.max(times).as_py()}, day ends {end.isoformat()}"
    if (users := _column(table, "user_id", pa.types.is_string)) is not None:
        values["users"] = facts.distinct_count(users)
    if (position := _column(table, "position", pa.types.is_integer)) is not None:
        values["position_min"] = pc.min(position).as_py()  # GX's range check would copy the frame
    if (items := _column(table, "item_id", pa.types.is_string)) is not None:
        refs = facts.missing_references(items, catalog)
        values["events_with_unknown_item"] = refs.rows
        notes["events_with_unknown_item"] = refs.note("item_id", f"catalog/dt={dt.isoformat()}")
    parameters = {
        **_shared_parameters(settings),
        "interval_start": start,
        "interval_end": end,
        "min_purchase_share": settings.validation_min_purchase_share,
        "max_purchase_share": settings.validation_max_purchase_share,
        "max_event_lag_hours": settings.validation_max_event_lag_hours,
    }
    return Frames(validation_frame(table), _one_row(values), parameters, notes)


def catalog_frames(settings: Settings, dt: date) -> Frames:
    """``catalog/dt``: rows, plus types, volume against the previous snapshot, quarantine."""
    root = settings.lake_root
    table = lake.read_partition(root, "catalog", dt)
    volume = facts.volume(root, "catalog", dt, table.num_rows)
    quarantined = read_quarantine(root, "catalog", dt, table.num_rows)
    values = {
        **facts.arrow_types(table.schema, CATALOG_COLUMNS),
        "volume_ratio": volume.ratio,
        "quarantined_share": quarantined.share,
    }
    notes = {"volume_ratio": volume.note, "quarantined_share": quarantined.note}
    _, end = interval(dt)
    parameters = {**_shared_parameters(settings), "partition_day_end": end.replace(tzinfo=None)}
    return Frames(validation_frame(table), _one_row(values), parameters, notes)


def item_tags_frames(settings: Settings, dt: date) -> Frames:
    """``item_tags/dt``: rows, plus types, coverage of and references into the day's catalog."""
    root = settings.lake_root
    table = lake.read_partition(root, "item_tags", dt)
    catalog = lake.read_partition(root, "catalog", dt, columns=["item_id"]).column("item_id")
    volume = facts.volume(root, "item_tags", dt, table.num_rows)
    values: dict[str, Any] = {
        **facts.arrow_types(table.schema, ITEM_TAG_COLUMNS),
        "tag_coverage": None,
        "tagged_items_not_in_catalog": None,
        "volume_ratio": volume.ratio,
    }
    notes = {"volume_ratio": volume.note}
    reference = f"catalog/dt={dt.isoformat()}"
    if (items := _column(table, "item_id", pa.types.is_string)) is not None:
        covered = facts.coverage(items, catalog)
        values["tag_coverage"] = covered.share
        untagged = covered.population - covered.covered
        notes["tag_coverage"] = f"{untagged:,} of {covered.population:,} items in {reference} have no tag"
        refs = facts.missing_references(pc.unique(items), catalog)
        values["tagged_items_not_in_catalog"] = refs.rows
        notes["tagged_items_not_in_catalog"] = refs.note("item_id", reference)
    tags, dimensions = taxonomy_codes()
    parameters = {
        **_shared_parameters(settings),
        "min_tag_coverage": settings.validation_min_tag_coverage,
        "tag_codes": tags,
        "dimension_codes": dimensions,
    }
    return Frames(validation_frame(table), _one_row(values), parameters, notes)


def taxonomy_codes() -> tuple[list[str], list[str]]:
    """Tag and dimension codes of the packaged taxonomy, the one ``tag_catalog`` uses.

    Raises:
        TaxonomyError: the definitions file is invalid (the message names the entry).
    """
    from tagging.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    return taxonomy.codes, sorted(d.code for d in taxonomy.dimensions)


register(DatasetCheck("catalog", "catalog", catalog_frames))
register(DatasetCheck("events", "events", events_frames))
register(DatasetCheck("item_tags", "item_tags", item_tags_frames))


def _register_features() -> None:
    """``features/<entity>`` for every declared entity (suites generated by expectations.features)."""
    from functools import partial

    from expectations import features
    from feature_store.features.definitions import ENTITIES

    for entity in ENTITIES:
        frames = partial(features.frames, entity_name=entity.name)
        register(DatasetCheck(f"features/{entity.name}", f"features_{entity.name}", frames))


_register_features()


def ranking_set_frames(settings: Settings, dt: date) -> Frames:
    """``training/ranking/dt``: the coarse ranker's examples, with leakage and balance facts.

    List columns (tags) are left out of the rows GX sees; the facts carry what matters
    about them and about point-in-time correctness.
    """
    from models.ranking_data import NUMERIC

    table = lake.read_partition(settings.lake_root, "training/ranking", dt)
    scalar = [
        n for n, t in zip(table.column_names, table.schema.types, strict=True) if not pa.types.is_list(t)
    ]
    rows = validation_frame(table.select(scalar))
    values: dict[str, Any] = {"examples": table.num_rows}
    for split in ("train", "valid", "eval"):
        part = rows[rows["split"] == split] if "split" in rows else rows.iloc[:0]
        values[f"{split}_examples"] = len(part)
        values[f"{split}_click_rate"] = float(part["label"].mean()) if len(part) and "label" in part else None
    if {"features_as_of", "label_day"} <= set(rows.columns):
        values["rows_with_future_features"] = int((rows["features_as_of"] >= rows["label_day"]).sum())
        eval_days = rows.loc[rows["split"] == "eval", "label_day"].dt.date.unique()
        values["eval_day_is_partition_day"] = bool(len(eval_days) == 1 and eval_days[0] == dt)
    present = [c for c in NUMERIC if c in rows.columns]
    values["non_finite_features"] = int((~np.isfinite(rows[present].to_numpy(dtype=np.float64))).sum())
    values["missing_feature_columns"] = len(NUMERIC) - len(present)
    notes = {"rows_with_future_features": "features must be as of the day before each label day"}
    return Frames(rows, _one_row(values), _shared_parameters(settings), notes)


register(DatasetCheck("training/ranking", "training_ranking", ranking_set_frames))


def recommendations_frames(settings: Settings, dt: date) -> Frames:
    """``recommendations/users/shard=*/dt``: every shard's lists, with catalog and coverage facts."""
    from tasks.publish import active_catalog, active_users, shard_dataset

    root, shards = settings.lake_root, settings.candidates_shards
    present = [s for s in range(shards) if lake.has_partition(root, shard_dataset(s), dt)]
    tables = [lake.read_partition(root, shard_dataset(s), dt) for s in present]
    # Ids as categories: the groupings below and GX's uniqueness checks then compare integer
    # codes, not strings (two lists of the medium shop are 18M rows).
    rows = (
        validation_frame(_ids_as_dictionary(pa.concat_tables(tables)))
        if tables
        else pd.DataFrame(columns=["user_id"])
    )
    active_items = active_catalog(root, dt)["item_id"]
    users = active_users(settings, dt)
    values: dict[str, Any] = {"missing_shards": shards - len(present), "rows": len(rows)}
    if len(rows) and {"item_id", "score", "rank", "variant", "user_id"} <= set(rows.columns):
        lists = rows.groupby(["variant", "user_id"], observed=True)["rank"]
        lengths, highest = lists.size(), lists.max()
        values["non_finite_scores"] = int((~np.isfinite(rows["score"].to_numpy(dtype=np.float64))).sum())
        values["items_not_active"] = int((~rows["item_id"].isin(active_items)).sum())
        values["shortest_list"] = int(lengths.min())
        values["ranks_with_gaps"] = int((highest != lengths).sum())
        # The least covered published list counts: each A/B arm must serve every active user.
        variants, listed = lengths.index.get_level_values(0), lengths.index.get_level_values(1)
        covered = [users.isin(listed[variants == v]).mean() for v in variants.unique()]
        values["active_user_coverage"] = float(min(covered)) if len(users) else 1.0
    parameters = {
        "top_n": settings.candidates_top_n,
        "min_list_length": min(settings.candidates_top_n, len(active_items)),
        "min_user_coverage": 0.99,
    }
    notes = {"items_not_active": "a recommended item is missing or unavailable in the day's catalog"}
    return Frames(rows, _one_row(values), parameters, notes)


register(DatasetCheck("recommendations/users", "recommendations", recommendations_frames))
