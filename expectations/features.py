"""The gate of the features step: one suite per entity table (``features/<entity>``).

The suite files ``expectations/suites/features_<entity>.json`` are generated from the feature
declarations (``python -m expectations.features``), so a new window or counter is validated
as soon as it is declared; a test checks the files are current.

Row-level expectations cover keys, columns and the headline rates; whole-table properties
are computed vectorised into one row of facts: negative counts, windows out of order
(a 1h count above the 6h one, …), rates outside [0, 1], entities the day's data has but the
features lack, and the volume against the previous good partition.
"""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from expectations import facts
from expectations.runner import Frames
from expectations.suites import PARAMETER, suite_path
from feature_store import lake
from feature_store.features.definitions import ENTITIES, ENTITY, WINDOWS, Entity
from feature_store.features.docs import columns as declared_columns
from recsys.settings import Settings

MONEY = ("spend", "revenue")


def value_columns(entity: Entity) -> list[str]:
    """Every column of the entity's table, keys first, windows expanded."""
    names: list[str] = ["in_catalog"] if entity.name == "item" else []
    for column in declared_columns(entity):
        if column.endswith("_<w>"):
            names += [column.replace("<w>", w.name) for w in WINDOWS]
        else:
            names.append(column)
    return [*entity.keys, *names]


def _expectation(kind: str, frame: str = "rows", **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"frame": frame}, "severity": "critical"}


def suite(entity: Entity) -> dict[str, Any]:
    """The GX 1.x suite of one entity's feature table."""
    keys = list(entity.keys)
    rows = [
        _expectation("expect_table_columns_to_match_set", column_set=value_columns(entity), exact_match=True),
        _expectation("expect_table_row_count_to_be_between", min_value=1, max_value=None),
        *[_expectation("expect_column_values_to_not_be_null", column=k) for k in keys],
        _expectation("expect_column_values_to_be_unique", column=keys[0])
        if len(keys) == 1
        else _expectation("expect_compound_columns_to_be_unique", column_list=keys),
    ]
    if entity.rates:
        for rate in ("ctr_30d", "cvr_30d"):
            rows.append(
                _expectation("expect_column_values_to_be_between", column=rate, min_value=0, max_value=1)
            )
    if entity.preference:
        rows.append(
            _expectation("expect_column_values_to_be_between", column="pref_share", min_value=0, max_value=1)
        )
    zero = {"min_value": 0, "max_value": 0}
    strings = ["string", "large_string"]
    checked = [
        _expectation("expect_column_values_to_be_in_set", "facts", column=f"type_of_{k}", value_set=strings)
        for k in keys
    ]
    checked += [
        _expectation("expect_column_values_to_be_between", "facts", column="negative_values", **zero),
        _expectation("expect_column_values_to_be_between", "facts", column="windows_out_of_order", **zero),
        _expectation(
            "expect_column_values_to_be_between", "facts", column="values_outside_unit_interval", **zero
        ),
        _expectation("expect_column_values_to_be_between", "facts", column="non_finite_values", **zero),
    ]
    if entity.name in ("user", "item"):
        checked.append(
            _expectation("expect_column_values_to_be_between", "facts", column="missing_entities", **zero)
        )
        checked.append(
            _expectation(
                "expect_column_values_to_be_between",
                "facts",
                column="volume_ratio",
                min_value={PARAMETER: "min_volume_ratio"},
                max_value={PARAMETER: "max_volume_ratio"},
            )
        )
    return {
        "name": f"features_{entity.name}",
        "id": None,
        "expectations": rows + checked,
        "meta": {"generated_by": "python -m expectations.features", "dataset": f"features/{entity.name}"},
        "notes": f"Generated from feature_store/features/definitions.py. {entity.description}.",
    }


def frames(settings: Settings, dt: date, entity_name: str) -> Frames:
    """``features/<entity>/dt``: rows plus the facts above."""
    from expectations.datasets import _one_row, _shared_parameters, validation_frame

    entity = ENTITY[entity_name]
    dataset = f"features/{entity_name}"
    table = lake.read_partition(settings.lake_root, dataset, dt)
    values: dict[str, Any] = {
        **facts.arrow_types(table.schema, entity.keys),
        **_table_facts(table, entity),
    }
    notes = {}
    if entity.name in ("user", "item"):
        volume = facts.volume(settings.lake_root, dataset, dt, table.num_rows)
        values["volume_ratio"] = volume.ratio
        notes["volume_ratio"] = volume.note
        missing, note = _missing_entities(settings.lake_root, dt, table, entity)
        values["missing_entities"] = missing
        notes["missing_entities"] = note
    return Frames(validation_frame(table), _one_row(values), _shared_parameters(settings), notes)


def _table_facts(table: pa.Table, entity: Entity) -> dict[str, Any]:
    counts = [
        c
        for c in table.column_names
        if any(c.startswith(f"{n}_") for n in (*entity.counters, *entity.distinct))
    ]
    numbers = {c: np.asarray(table.column(c).to_numpy(), dtype=float) for c in counts}
    negative = int(sum((v < 0).sum() for v in numbers.values()))
    out_of_order = 0
    for name in (*entity.counters, *entity.distinct):
        windows = [f"{name}_{w.name}" for w in WINDOWS if f"{name}_{w.name}" in numbers]
        for shorter, longer in itertools.pairwise(windows):
            out_of_order += int((numbers[shorter] > numbers[longer] + 1e-9).sum())
    unit = [c for c in table.column_names if c.startswith(("ctr_", "cvr_")) or c == "pref_share"]
    outside = 0
    for c in unit:
        column = table.column(c)
        outside += int(pc.sum(pc.or_(pc.less(column, 0), pc.greater(column, 1))).as_py() or 0)
    floats = [c for c in table.column_names if pa.types.is_floating(table.schema.field(c).type)]
    non_finite = 0
    for c in floats:
        if c.startswith("recency_"):
            continue  # null when the user has no such event in 30 days: by definition
        values = np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=float)
        non_finite += int((~np.isfinite(values)).sum())
    return {
        "negative_values": negative,
        "windows_out_of_order": out_of_order,
        "values_outside_unit_interval": outside,
        "non_finite_values": non_finite,
    }


def _missing_entities(root: Path, dt: date, table: pa.Table, entity: Entity) -> tuple[int, str]:
    """Users with events that day, or catalog items, that have no feature row."""
    if entity.name == "user":
        source, reference = (
            lake.read_partition(root, "events", dt, columns=["user_id"]).column("user_id"),
            "events",
        )
    else:
        source, reference = (
            lake.read_partition(root, "catalog", dt, columns=["item_id"]).column("item_id"),
            "catalog",
        )
    key = entity.keys[0]
    refs = facts.missing_references(pc.unique(source), table.column(key))
    return refs.rows, refs.note(
        key, f"features/{entity.name}/dt={dt.isoformat()} (from {reference}/dt={dt.isoformat()})"
    )


def write_suites() -> list[Path]:
    """(Re)generate every features suite file."""
    paths = []
    for entity in ENTITIES:
        path = suite_path(f"features_{entity.name}")
        path.write_text(json.dumps(suite(entity), indent=2) + "\n")
        paths.append(path)
    return paths


def stale_suites() -> list[str]:
    """Suite files that differ from what the declarations generate."""
    stale = []
    for entity in ENTITIES:
        path = suite_path(f"features_{entity.name}")
        if not path.exists() or json.loads(path.read_text()) != suite(entity):
            stale.append(path.name)
    return stale


if __name__ == "__main__":
    for written in write_suites():
        print(f"wrote {written}")
