"""Features: incremental equals from-scratch, point-in-time correctness, backfill order, bad input."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from feature_store import lake
from feature_store.features import partials
from feature_store.features.compute import compute_features
from feature_store.features.definitions import ENTITIES, WINDOWS
from feature_store.features.scratch import from_scratch
from feature_store.features.training import training_examples
from recsys.errors import PartitionMissingError
from tasks.ingest.events import EVENTS_SCHEMA
from tests.feature_data import write_day
from tests.support import ROOT

START = date(2026, 11, 1)
DAYS = [START + timedelta(days=i) for i in range(35)]


def assert_same(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    assert set(left) == set(right) == {e.name for e in ENTITIES}
    for name in left:
        a, b = left[name].reset_index(drop=True), right[name].reset_index(drop=True)
        assert sorted(a.columns) == sorted(b.columns), name
        pd.testing.assert_frame_equal(a, b[a.columns], check_dtype=False, rtol=1e-9, obj=name)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    for day in DAYS:
        write_day(root, day, seed=3)
    return root


@pytest.mark.parametrize("day", [DAYS[0], DAYS[2], DAYS[9], DAYS[34]], ids=lambda d: d.isoformat())
def test_incremental_equals_from_scratch_for_every_window_and_entity(history: Path, day: date) -> None:
    incremental = compute_features(history, day, START)
    assert_same(incremental, from_scratch(history, day, START))
    user = incremental["user"]
    for window in WINDOWS:
        assert f"clicks_{window.name}" in user and f"ctr_{window.name}" in user
    assert (user["impressions_1h"] <= user["impressions_6h"]).all()
    assert (user["impressions_6h"] <= user["impressions_1d"]).all()
    assert (user["impressions_7d"] <= user["impressions_30d"]).all()


def test_a_day_rolls_its_windows_on_from_the_previous_state(
    history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = DAYS[34]
    compute_features(history, day - timedelta(days=1), START)  # every partial and state now exists
    read = []
    original = lake.read_partition

    def spy(root: Path, dataset: str, dt: date, columns: list[str] | None = None) -> pa.Table:
        read.append((dataset, dt))
        return original(root, dataset, dt, columns)

    monkeypatch.setattr(lake, "read_partition", spy)
    compute_features(history, day, START)
    assert {dt for dataset, dt in read if dataset == "events"} == {day}
    # Only the partials of the days leaving the 3-, 7- and 30-day windows, whatever the length.
    assert {dt for dataset, dt in read if dataset.startswith("feature_partials/")} == {
        day - timedelta(days=a) for a in (3, 7, 30)
    }
    assert {dt for dataset, dt in read if dataset.startswith("feature_state/")} == {day - timedelta(days=1)}


def test_rolling_day_after_day_stays_equal_to_from_scratch(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    for day in DAYS:
        write_day(root, day, seed=11)
    for n, day in enumerate(DAYS):
        got = compute_features(root, day, START)
        for name, table in got.items():  # no subtraction residue: money and scores never dip below 0
            numbers = table.select_dtypes("number")
            assert (numbers.fillna(0) >= 0).all().all(), (name, day)
            for column in [c for c in numbers if c.startswith(("spend_", "revenue_"))]:
                window = column.split("_", 1)[1]
                assert (table.loc[table[f"purchases_{window}"] == 0, column] == 0).all(), (name, column, day)
        if n in (1, 7, 29, 30, 31, 34):  # windows filling up, full, and expiring days
            assert_same(got, from_scratch(root, day, START))


def test_out_of_order_and_rerun_days_give_the_same_features(tmp_path: Path, history: Path) -> None:
    in_order = {}
    for day in DAYS[:6]:
        in_order[day] = compute_features(history, day, START)
    shuffled = tmp_path / "lake"
    for day in DAYS[:6]:
        write_day(shuffled, day, seed=3)
    order = DAYS[:6].copy()
    random.Random(5).shuffle(order)
    for day in [*order, DAYS[4], DAYS[2]]:  # every day out of order, then two re-runs
        got = compute_features(shuffled, day, START)
        assert_same(got, in_order[day])


def test_a_missing_partial_is_rebuilt_from_its_days_events(history: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    for day in DAYS[:5]:
        write_day(root, day, seed=3)
    expected = compute_features(history, DAYS[4], START)
    assert not partials.exists(root, DAYS[2])
    assert_same(compute_features(root, DAYS[4], START), expected)
    assert partials.exists(root, DAYS[2])


def test_a_day_without_events_inside_the_window_fails_naming_the_day(tmp_path: Path) -> None:
    for day in (DAYS[0], DAYS[1], DAYS[3]):
        write_day(tmp_path, day, seed=3)
    with pytest.raises(
        PartitionMissingError, match=r"features need day 2026-11-03.*run recsys_ingest for 2026-11-03"
    ):
        compute_features(tmp_path, DAYS[3], START)


def test_days_before_the_history_start_count_as_empty(history: Path) -> None:
    late_start = compute_features(history, DAYS[10], DAYS[9])
    assert (late_start["user"]["impressions_30d"] == late_start["user"]["impressions_3d"]).all()


def test_a_planted_future_event_is_not_seen_by_the_day_before(history: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    for day in DAYS[:3]:
        write_day(root, day, seed=3)
    before = compute_features(root, DAYS[2], START)
    # A burst of purchases by a new user, an hour after the end of DAYS[2].
    planted = lake.read_partition(root, "events", DAYS[2]).to_pandas().head(0)
    future_time = datetime(2026, 11, 4, 1, tzinfo=UTC)
    burst = {
        "user_id": "U-future",
        "session_id": "SF",
        "item_id": "P1",
        "event_type": "purchase",
        "price": 999.0,
    }
    rows = [
        {
            "event_id": f"F{i}",
            "event_time": future_time,
            **burst,
            "device": None,
            "placement": None,
            "position": None,
        }
        for i in range(50)
    ]
    future = pa.Table.from_pandas(
        pd.concat([planted, pd.DataFrame(rows)]), schema=EVENTS_SCHEMA, preserve_index=False
    )
    write_day(root, DAYS[3], seed=3)
    merged = pa.concat_tables([lake.read_partition(root, "events", DAYS[3]), future])
    lake.write_partition(root, "events", DAYS[3], merged)
    after = compute_features(root, DAYS[2], START)
    assert_same(before, after)
    assert "U-future" not in set(after["user"]["user_id"])
    # Training examples for labels of DAYS[3] join features as of DAYS[2], not DAYS[3].
    compute_features(root, DAYS[3], START)
    for day in (DAYS[2], DAYS[3]):
        for entity in ("user", "item"):
            lake.write_partition(
                root,
                f"features/{entity}",
                day,
                pa.Table.from_pandas(compute_features(root, day, START)[entity]),
            )
    examples = training_examples(root, DAYS[3])
    assert examples.attrs["features_as_of"] == DAYS[2].isoformat()
    as_of = after["user"].set_index("user_id")["purchases_30d"]
    joined = examples.dropna(subset=["u_purchases_30d"]).drop_duplicates("user_id").set_index("user_id")
    assert (joined["u_purchases_30d"] == as_of.reindex(joined.index)).all()
    assert set(examples["label"].unique()) <= {0, 1}


def test_bad_input_entities_roll_forward_and_nothing_divides_by_zero(history: Path) -> None:
    day = DAYS[8]
    features = compute_features(history, day, START)
    user = features["user"].set_index("user_id")
    quiet = user[(user["impressions_1d"] == 0) & (user["impressions_7d"] > 0)]
    assert len(quiet), "some users had events earlier in the week but none today"
    assert (quiet["ctr_1d"] == 0.05).all()  # the prior, for a user with no events today
    item = features["item"]
    assert (~item["in_catalog"]).any(), "an item that left the catalog keeps its features"
    assert (item.loc[~item["in_catalog"], "impressions_30d"] > 0).all()
    never = item[item["impressions_30d"] == 0]
    assert len(never) and (never["ctr_30d"] == 0.05).all() and (never["trend_1d_7d"] == 1.0).all()
    for name, frame in features.items():
        numbers = frame.select_dtypes("number").drop(columns=[c for c in frame if c.startswith("recency_")])
        assert np.isfinite(numbers.to_numpy(dtype=float)).all(), name


def test_a_user_with_only_impressions(tmp_path: Path) -> None:
    write_day(tmp_path, DAYS[0], seed=3)
    events = lake.read_partition(tmp_path, "events", DAYS[0]).to_pandas()
    only = events.head(5).assign(user_id="U-window-shopper", event_type="impression")
    lake.write_partition(
        tmp_path,
        "events",
        DAYS[0],
        pa.Table.from_pandas(
            pd.concat([events, only], ignore_index=True), schema=EVENTS_SCHEMA, preserve_index=False
        ),
    )
    user = compute_features(tmp_path, DAYS[0], START)["user"].set_index("user_id").loc["U-window-shopper"]
    assert user["impressions_1d"] == 5 and user["clicks_1d"] == 0 and user["distinct_items_1d"] == 0
    assert user["ctr_1d"] == pytest.approx(1 / 25) and user["cvr_1d"] == pytest.approx(0.02)
    assert np.isnan(user["recency_click_s"]) and user["recency_impression_s"] > 0


def test_features_doc_is_generated_and_current() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "feature_store.features.docs", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
