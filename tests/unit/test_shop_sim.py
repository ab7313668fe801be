"""The simulated shop: determinism, the shape of its export, its world and its planted signal."""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.shop_sim import ExportSummary, catalog_on, simulate_events, users_on, write_export
from recsys.shop_sim import export as export_module
from recsys.shop_sim.catalog import EXPORT_COLUMNS
from recsys.shop_sim.events import EVENT_COLUMNS
from recsys.shop_sim.users import build_users, focus_category
from recsys.shop_sim.vocabulary import CATEGORIES, DEVICES, EVENT_TYPES, FEATURES, PLACEMENTS, TIERS

DAY = date(2026, 11, 2)
SEED = 42
SONY_SERIES = {
    "Sony Alpha",
    "Sony FX",
    "Sony 1000X",
    "Sony PlayStation",
    "Sony BRAVIA",
    "Sony Xperia",
    "Sony G Master",
}


@pytest.fixture(scope="module")
def small_day() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Events, catalog and users of one small day (generated once for the module)."""
    return (
        simulate_events(DAY, seed=SEED, scale="small"),
        catalog_on(DAY, seed=SEED, scale="small"),
        users_on(DAY, seed=SEED, scale="small"),
    )


def export_bytes(summary: ExportSummary) -> dict[str, bytes]:
    paths = [summary.catalog_path, *summary.event_paths]
    return {p.name: p.read_bytes() for p in paths}


# determinism


def test_same_seed_scale_and_day_give_identical_data() -> None:
    pd.testing.assert_frame_equal(
        catalog_on(DAY, seed=SEED, scale="tiny"), catalog_on(DAY, seed=SEED, scale="tiny")
    )
    pd.testing.assert_frame_equal(
        users_on(DAY, seed=SEED, scale="tiny"), users_on(DAY, seed=SEED, scale="tiny")
    )
    pd.testing.assert_frame_equal(
        simulate_events(DAY, seed=SEED, scale="tiny"), simulate_events(DAY, seed=SEED, scale="tiny")
    )


def test_export_files_are_byte_identical_across_runs_and_roots(tmp_path: Path) -> None:
    first = write_export(DAY, seed=SEED, scale="tiny", landing_root=tmp_path / "a")
    second = write_export(DAY, seed=SEED, scale="tiny", landing_root=tmp_path / "b")
    again = write_export(DAY, seed=SEED, scale="tiny", landing_root=tmp_path / "a")
    assert export_bytes(first) == export_bytes(second) == export_bytes(again)
    assert len(first.event_paths) == 24


def test_a_different_seed_gives_different_data() -> None:
    a, b = catalog_on(DAY, seed=1, scale="tiny"), catalog_on(DAY, seed=2, scale="tiny")
    assert not a[["title", "price"]].equals(b[["title", "price"]])
    assert not users_on(DAY, seed=1, scale="tiny").equals(users_on(DAY, seed=2, scale="tiny"))
    ev_a, ev_b = simulate_events(DAY, seed=1, scale="tiny"), simulate_events(DAY, seed=2, scale="tiny")
    assert len(ev_a) != len(ev_b) or not ev_a["item_id"].equals(ev_b["item_id"])


def test_a_day_alone_equals_the_day_generated_after_its_predecessor() -> None:
    alone = simulate_events(DAY, seed=SEED, scale="tiny")
    simulate_events(DAY - timedelta(days=1), seed=SEED, scale="tiny")
    catalog_on(DAY + timedelta(days=5), seed=SEED, scale="tiny")
    pd.testing.assert_frame_equal(alone, simulate_events(DAY, seed=SEED, scale="tiny"))


def test_tiny_day_is_generated_in_well_under_a_second(tmp_path: Path) -> None:
    simulate_events(DAY, seed=SEED, scale="tiny")  # warm imports and caches
    started = time.perf_counter()
    write_export(DAY + timedelta(days=1), seed=SEED, scale="tiny", landing_root=tmp_path)
    assert time.perf_counter() - started < 1.0


# world


def test_small_catalog_has_every_category_sony_series_and_export_columns(small_day: tuple) -> None:
    _, catalog, _ = small_day
    assert set(catalog["category"]) == set(CATEGORIES)
    assert set(catalog["truth_series"]) >= SONY_SERIES
    assert list(catalog.columns[: len(EXPORT_COLUMNS)]) == list(EXPORT_COLUMNS)
    assert catalog["item_id"].is_unique and catalog["item_id"].is_monotonic_increasing
    assert (catalog["price"] > 0).all() and set(catalog["truth_tier"]) == set(TIERS)
    assert catalog["title"].str.contains("α7|Alpha 7", regex=True).any()


@pytest.mark.parametrize("day", [date(2026, 1, 15), date(2027, 6, 1)])
def test_catalog_and_user_base_stay_near_their_target_size(day: date) -> None:
    assert 900 <= len(catalog_on(day, seed=SEED, scale="small")) <= 1100
    assert 4500 <= len(users_on(day, seed=SEED, scale="small")) <= 5500


def test_new_items_and_users_every_day_and_items_leave() -> None:
    days = [DAY + timedelta(days=k) for k in range(7)]
    catalogs = {d: catalog_on(d, seed=SEED, scale="tiny") for d in days}
    for d in days:
        assert (catalogs[d]["listed_date"] == d.isoformat()).any()
        assert (users_on(d, seed=SEED, scale="tiny")["signup_date"] == d.isoformat()).any()
    left = [set(catalogs[a]["item_id"]) - set(catalogs[b]["item_id"]) for a, b in pairwise(days)]
    assert sum(len(x) for x in left) >= 3
    assert all(pd.to_datetime(catalogs[days[-1]]["truth_last_day"]) >= pd.Timestamp(days[-1]))


def test_focus_is_stable_within_a_users_week_and_changes_across_weeks() -> None:
    users = build_users(DAY, seed=SEED, scale="small")
    args = (SEED, users.key, users.persona, users.taste)
    today = focus_category(*args, DAY.toordinal())
    week_turns = (DAY.toordinal() + users.key % 7) // 7 != (DAY.toordinal() + 1 + users.key % 7) // 7
    tomorrow = focus_category(*args, DAY.toordinal() + 1)
    assert (today[~week_turns] == tomorrow[~week_turns]).all()
    assert (today[week_turns] != tomorrow[week_turns]).mean() > 0.3


def test_truth_columns_describe_text_features_and_negations(small_day: tuple) -> None:
    _, catalog, _ = small_day
    negations = 0
    for row in catalog.itertuples():
        features = set(filter(None, row.truth_features.split("|")))
        assert features <= set(FEATURES)
        assert set(filter(None, row.truth_text_features.split("|"))) <= features
        negated = set(filter(None, row.truth_negated_features.split("|")))
        assert not negated & features
        negations += bool(negated)
    assert 0.03 < negations / len(catalog) < 0.2
    assert catalog["description"].str.contains("not wireless|without noise cancelling", regex=True).any()


# events


def test_event_mix_on_small_matches_a_real_shop(small_day: tuple) -> None:
    events, _, _ = small_day
    share = events["event_type"].value_counts(normalize=True)
    assert 80_000 <= len(events) <= 125_000
    assert 0.78 <= share["impression"] <= 0.87
    assert 0.05 <= share["click"] <= 0.08
    assert 0.07 <= share["view"] <= 0.10
    assert 0.006 <= share["cart"] <= 0.016
    assert 0.0015 <= share["purchase"] <= 0.005


def test_events_are_sorted_inside_the_day_with_unique_wellformed_ids(small_day: tuple) -> None:
    events, _, _ = small_day
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert str(events["event_time"].dtype) == "datetime64[us, UTC]"
    start = pd.Timestamp(DAY.isoformat(), tz="UTC")
    assert events["event_time"].min() >= start and events["event_time"].max() < start + pd.Timedelta(days=1)
    assert events["event_time"].is_monotonic_increasing and events["event_id"].is_monotonic_increasing
    assert events["event_id"].is_unique
    assert events["event_id"].str.fullmatch(r"E20261102-\d{8}").all()
    assert events["session_id"].str.fullmatch(r"S20261102-\d{6}").all()
    assert events["user_id"].str.fullmatch(r"U\d{8}-\d{4}").all()
    assert events["item_id"].str.fullmatch(r"P\d{8}-\d{4}").all()


def test_every_event_refers_to_the_days_catalog_and_users_at_its_price(small_day: tuple) -> None:
    events, catalog, users = small_day
    assert events["item_id"].isin(catalog["item_id"]).all()
    assert events["user_id"].isin(users["user_id"]).all()
    price = events["item_id"].map(catalog.set_index("item_id")["price"])
    assert (events["price"] == price).all()
    assert events["item_id"].map(catalog.set_index("item_id")["available"]).all()


def test_context_fields_follow_the_contract(small_day: tuple) -> None:
    events, _, _ = small_day
    listed = events["event_type"].isin(["impression", "click"])
    assert events.loc[listed, "position"].notna().all() and events.loc[~listed, "position"].isna().all()
    assert events.loc[listed, "position"].between(0, 11).all()
    assert set(events["event_type"]) == set(EVENT_TYPES) and set(events["device"]) == set(DEVICES)
    assert set(events["placement"].dropna()) == set(PLACEMENTS)
    views = events[events["event_type"] == "view"]
    assert views["placement"].isna().any()  # some views come from outside, with no slate
    slates = events[events["event_type"] == "impression"].groupby(["session_id", "event_time"]).size()
    assert slates.between(1, 12).all() and slates.median() >= 8


def test_sessions_are_causal_and_nothing_is_bought_twice_a_day(small_day: tuple) -> None:
    events, _, _ = small_day
    first = events.groupby(["session_id", "item_id", "event_type"])["event_time"].min().unstack()
    clicked = first.dropna(subset=["click"])
    assert (clicked["impression"] <= clicked["click"]).all()  # only what was shown is clicked
    carted = first.dropna(subset=["cart"])
    assert (carted["view"] <= carted["cart"]).all()  # an item is carted from its page
    bought = first.dropna(subset=["purchase"])
    assert bought["cart"].notna().all() and (bought["purchase"] > bought["cart"]).all()
    purchases = events[events["event_type"] == "purchase"]
    assert not purchases.duplicated(["user_id", "item_id"]).any()
    assert events.groupby("session_id")["user_id"].nunique().eq(1).all()


def test_planted_signal_is_measurable(small_day: tuple) -> None:
    events, catalog, users = small_day
    merged = events.merge(catalog, on="item_id", suffixes=("", "_item")).merge(users, on="user_id")

    def ctr(rows: pd.Series) -> pd.Series:
        shown = merged[rows & (merged["event_type"] == "impression")].groupby("truth_persona").size()
        clicked = merged[rows & (merged["event_type"] == "click")].groupby("truth_persona").size()
        return (clicked / shown).fillna(0.0)

    noise_cancelling = (merged["category"] == "headphones") & merged["truth_features"].str.contains(
        "noise_cancelling"
    )
    by_persona = ctr(noise_cancelling)
    assert by_persona["audiophile"] > 2 * by_persona.drop("audiophile").max()
    full_frame_sony = merged["truth_series"].isin(["Sony Alpha", "Sony G Master"]) & merged[
        "truth_features"
    ].str.contains("full_frame")
    by_persona = ctr(full_frame_sony)
    assert by_persona["photographer"] > 2 * by_persona.drop(["photographer", "videographer"]).max()
    sensitive = merged["truth_price_sensitivity"] > merged["truth_price_sensitivity"].quantile(0.8)
    relaxed = merged["truth_price_sensitivity"] < merged["truth_price_sensitivity"].quantile(0.2)
    professional = merged["truth_tier"] == "professional"

    def tier_ctr(who: pd.Series) -> float:
        rows = who & professional
        return float(
            (rows & (merged["event_type"] == "click")).sum()
            / (rows & (merged["event_type"] == "impression")).sum()
        )

    assert tier_ctr(sensitive) < 0.6 * tier_ctr(relaxed)


# export files


def test_export_files_follow_the_data_formats(tmp_path: Path) -> None:
    summary = write_export(DAY, seed=SEED, scale="tiny", landing_root=tmp_path)
    assert summary.catalog_path == tmp_path / "catalog" / "dt=2026-11-02" / "catalog.csv"
    assert [p.name for p in summary.event_paths] == [f"events-{h:02d}.jsonl" for h in range(24)]
    stamp = re.compile(r"\d{4}-\d\d-\d\dT(\d\d):\d\d:\d\d\.\d{3}Z")
    rows = []
    for hour, path in enumerate(summary.event_paths):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            match = stamp.fullmatch(row["event_time"])
            assert match and int(match.group(1)) == hour
            assert set(row) == set(EVENT_COLUMNS)
            rows.append(row)
    events = simulate_events(DAY, seed=SEED, scale="tiny")
    assert len(rows) == summary.events == len(events)
    assert [r["event_id"] for r in rows] == events["event_id"].tolist()
    parsed = [datetime.fromisoformat(r["event_time"].replace("Z", "+00:00")) for r in rows]
    assert parsed == events["event_time"].dt.to_pydatetime().tolist()
    assert (
        summary.events_by_type
        == events["event_type"].value_counts().reindex(EVENT_TYPES, fill_value=0).to_dict()
    )
    assert summary.users_active == events["user_id"].nunique()
    written = pd.read_csv(summary.catalog_path, dtype=str, keep_default_na=False)
    expected = catalog_on(DAY, seed=SEED, scale="tiny")
    assert list(written.columns) == list(EXPORT_COLUMNS) and len(written) == summary.items == len(expected)
    assert written["description"].tolist() == expected["description"].tolist()
    assert set(written["available"]) <= {"true", "false"} and (written["currency"] == "USD").all()
    assert np.allclose(written["price"].astype(float), expected["price"])


def test_export_replaces_the_day_and_a_failed_export_leaves_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = write_export(DAY, seed=SEED, scale="tiny", landing_root=tmp_path)
    events_dir = summary.event_paths[0].parent
    (events_dir / "stray.jsonl").write_text("{}\n")
    before = write_export(DAY, seed=SEED, scale="tiny", landing_root=tmp_path)
    assert not (events_dir / "stray.jsonl").exists()
    old = export_bytes(before)

    def broken(simulated: object, folder: Path, say: object) -> None:
        (folder / "events-00.jsonl").write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(export_module, "_write_events", broken)
    with pytest.raises(OSError, match="disk full"):
        write_export(DAY, seed=SEED + 1, scale="tiny", landing_root=tmp_path)
    assert export_bytes(before) == old
    assert not [p for p in (tmp_path / "events").iterdir() if p.name.startswith(".")]


def test_progress_reports_the_long_steps(tmp_path: Path) -> None:
    lines: list[str] = []
    write_export(DAY, seed=SEED, scale="tiny", landing_root=tmp_path, progress=lines.append)
    assert any(line.startswith("catalog: ") for line in lines)
    assert "events: hour 24/24" in " ".join(lines)
