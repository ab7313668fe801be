"""The features gate: suites generated from the declarations, and what makes them fail."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from expectations.errors import ValidationFailedError
from expectations.features import stale_suites
from feature_store import lake
from recsys.settings import load_settings
from tasks.context import RunContext
from tasks.features import compute_features
from tasks.validate import validate_partition
from tests.feature_data import write_day

START = date(2026, 11, 1)


def test_suite_files_are_generated_and_current() -> None:
    assert stale_suites() == [], "run python -m expectations.features"


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    settings = load_settings(lake_root=tmp_path / "lake", history_start=START)
    for i in range(3):
        write_day(settings.lake_root, START + timedelta(days=i), seed=2)
    context = RunContext(START + timedelta(days=2), settings)
    for i in range(3):
        compute_features(RunContext(START + timedelta(days=i), settings))
    return context


def test_good_features_pass_the_gate(ctx: RunContext) -> None:
    result = validate_partition(ctx, "features")
    assert result["success"] and set(result["docs_paths"]) == {
        "features/user", "features/item", "features/category", "features/tag",
        "features/user_category", "features/user_tag",
    }  # fmt: skip
    assert Path(result["docs_paths"]["features/user"]).exists()


def rewrite(ctx: RunContext, entity: str, change: object) -> None:
    dataset = f"features/{entity}"
    frame = lake.read_partition(ctx.settings.lake_root, dataset, ctx.partition_date).to_pandas()
    change(frame)  # type: ignore[operator]
    lake.write_partition(ctx.settings.lake_root, dataset, ctx.partition_date, pa.Table.from_pandas(frame))


@pytest.mark.parametrize(
    ("entity", "change", "expected"),
    [
        ("user", lambda f: f.__setitem__("clicks_1h", f["clicks_30d"] + 1), "windows_out_of_order"),
        ("item", lambda f: f.__setitem__("ctr_30d", f["ctr_30d"] * 40), "ctr_30d"),
        ("tag", lambda f: f.__setitem__("impressions_7d", -f["impressions_7d"] - 1), "negative_values"),
        ("user", lambda f: f.drop(f.index[:3], inplace=True), "missing_entities"),
        ("user_tag", lambda f: f.__setitem__("pref_share", 2.0), "pref_share"),
        (
            "item",
            lambda f: f.drop(columns=["trend_1d_7d"], inplace=True),
            "expect_table_columns_to_match_set",
        ),
    ],
    ids=["window-order", "ctr-range", "negative", "missing-users", "pref-share", "dropped-column"],
)
def test_broken_features_fail_the_gate_naming_what_is_wrong(
    ctx: RunContext, entity: str, change: object, expected: str
) -> None:
    rewrite(ctx, entity, change)
    with pytest.raises(ValidationFailedError, match=rf"features/{entity} dt=2026-11-03(.|\n)*{expected}"):
        validate_partition(ctx, "features")
