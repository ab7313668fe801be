"""Suite files are valid GX 1.x suites, and each expectation family catches what it is for.

Every family is shown failing on a hand-made bad frame and passing on a good one, through
the real runner (ephemeral GX context, pandas datasource, data docs in a tmp folder).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
import pytest

from expectations.datasets import CATALOG_COLUMNS, ITEM_TAG_COLUMNS, taxonomy_codes
from expectations.errors import SuiteFileError
from expectations.runner import Frames, ValidationOutcome, validate
from expectations.suites import SUITES_DIR, load_suite, suite_path

DAY = date(2026, 11, 2)
START = datetime(2026, 11, 2, tzinfo=UTC)
END = START + timedelta(days=1)
SHARED = {"max_quarantine_share": 0.01, "min_volume_ratio": 0.5, "max_volume_ratio": 3.0, "max_price": 1e6}
EVENT_TYPES = {
    "event_id": "string",
    "event_time": "timestamp[us, tz=UTC]",
    "user_id": "string",
    "session_id": "string",
    "item_id": "string",
    "event_type": "string",
    "price": "double",
    "device": "string",
    "placement": "string",
    "position": "int32",
}


# ------------------------------------------------------------------------------ the files


@pytest.mark.parametrize("name", ["events", "catalog", "item_tags"])
def test_suite_file_is_a_gx_1x_suite_that_keeps_every_expectation(name: str) -> None:
    data = json.loads(suite_path(name).read_text())
    suite = gx.ExpectationSuite(**data)  # GX drops an invalid entry silently: count them
    assert suite.name == name
    assert len(suite.expectations) == len(data["expectations"]) > 10
    loaded = load_suite(suite_path(name))
    assert {loaded.frame_of(e) for e in loaded.expectations} == {"rows", "facts"}
    assert len(loaded.build("rows").expectations) + len(loaded.build("facts").expectations) == len(
        data["expectations"]
    )


def test_every_suite_file_in_the_folder_is_checked() -> None:
    assert {p.stem for p in SUITES_DIR.glob("*.json")} >= {"events", "catalog", "item_tags"}
    for path in SUITES_DIR.glob("*.json"):
        load_suite(path)


def test_suite_parameters_come_from_the_settings_and_the_day() -> None:
    assert load_suite(suite_path("events")).parameters == {
        "interval_start",
        "interval_end",
        "max_price",
        "max_quarantine_share",
        "min_volume_ratio",
        "max_volume_ratio",
        "min_purchase_share",
        "max_purchase_share",
        "max_event_lag_hours",
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["expectations"][0].update(type="expect_column_values_to_be_purple"), "expectation 0"),
        (lambda d: d["expectations"][1]["kwargs"].update(min_value="x", max_value=[1]), "expectation 1"),
        (lambda d: d["expectations"][2]["meta"].update(frame="elsewhere"), "meta.frame"),
        (lambda d: d.pop("expectations"), "a list 'expectations'"),
    ],
)
def test_a_broken_suite_file_fails_loudly_naming_the_entry(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], Any], message: str
) -> None:
    data = json.loads(suite_path("events").read_text())
    mutate(data)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SuiteFileError, match=message):
        load_suite(path)


def test_a_suite_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text('{"name": "events", "expectations": [')
    with pytest.raises(SuiteFileError, match=r"events\.json is not valid JSON"):
        load_suite(path)


def test_a_missing_parameter_is_refused_before_validating(tmp_path: Path) -> None:
    frames = _events_frames()
    params = {k: v for k, v in frames.parameters.items() if k != "max_event_lag_hours"}
    with pytest.raises(SuiteFileError, match="max_event_lag_hours"):
        validate(
            load_suite(suite_path("events")),
            Frames(frames.rows, frames.facts, params),
            dataset="events",
            dt=DAY,
            docs_dir=tmp_path / "docs",
        )


# ------------------------------------------------------------------------- good frames


def _events_frames(rows: int = 40) -> Frames:
    times = pd.date_range(START + timedelta(minutes=30), END - timedelta(hours=1), periods=rows, unit="us")
    frame = pd.DataFrame(
        {
            "event_id": [f"E{i:04d}" for i in range(rows)],
            "event_time": times,
            "user_id": [f"U{i % 7}" for i in range(rows)],
            "session_id": [f"S{i % 9}" for i in range(rows)],
            "item_id": [f"P{i % 5}" for i in range(rows)],
            "event_type": (["impression"] * 9 + ["purchase"]) * (rows // 10),
            "price": [19.99 + i for i in range(rows)],
            "device": ["mobile"] * rows,
            "placement": [None] * rows,
            "position": [float(i % 4) for i in range(rows)],
        }
    )
    facts = {f"type_of_{c}": t for c, t in EVENT_TYPES.items()} | {
        "volume_ratio": 1.1,
        "quarantined_share": 0.002,
        "purchase_share": 0.02,
        "hours_since_last_event": 1.0,
        "users": 7,
        "events_with_unknown_item": 0,
        "position_min": 0,
    }
    params = SHARED | {
        "interval_start": START,
        "interval_end": END,
        "min_purchase_share": 0.0001,
        "max_purchase_share": 0.05,
        "max_event_lag_hours": 6.0,
    }
    return Frames(frame, pd.DataFrame([facts]), params)


def _catalog_frames() -> Frames:
    rows = 12
    frame = pd.DataFrame(
        {
            "item_id": [f"P{i:03d}" for i in range(rows)],
            "title": [f"Camera {i}" for i in range(rows)],
            "description": [""] * rows,
            "brand": ["Sony"] * rows,
            "category": ["cameras"] * rows,
            "price": [100.0 + i for i in range(rows)],
            "currency": ["USD"] * rows,
            "available": [True, False] * (rows // 2),
            "listed_date": pd.to_datetime(["2026-10-01"] * rows).astype("datetime64[ms]"),
        }
    )
    types = ["string"] * 5 + ["double", "string", "bool", "date32[day]"]
    facts: dict[str, Any] = {f"type_of_{c}": t for c, t in zip(CATALOG_COLUMNS, types, strict=True)}
    facts |= {"volume_ratio": 1.0, "quarantined_share": 0.0}
    return Frames(frame, pd.DataFrame([facts]), SHARED | {"partition_day_end": datetime(2026, 11, 3)})


def _tag_frames() -> Frames:
    tags, dimensions = taxonomy_codes()
    frame = pd.DataFrame(
        {
            "item_id": ["P1", "P1", "P2"],
            "tag": ["BA001", "BA002", "BA001"],
            "dimension": ["basic_attributes"] * 3,
            "confidence": [0.7, 0.8, 0.9],
            "rule_id": ["r1", "r2", "r1"],
            "evidence": ["price 19", "price 30", None],
        }
    )
    types = ["string", "string", "string", "float", "string", "string"]
    facts: dict[str, Any] = {f"type_of_{c}": t for c, t in zip(ITEM_TAG_COLUMNS, types, strict=True)}
    facts |= {"tag_coverage": 0.97, "tagged_items_not_in_catalog": 0, "volume_ratio": 1.0}
    params = SHARED | {"min_tag_coverage": 0.95, "tag_codes": tags, "dimension_codes": dimensions}
    return Frames(frame, pd.DataFrame([facts]), params)


def _run(name: str, frames: Frames, tmp_path: Path) -> ValidationOutcome:
    return validate(load_suite(suite_path(name)), frames, dataset=name, dt=DAY, docs_dir=tmp_path / name)


def _failed(outcome: ValidationOutcome) -> set[tuple[str, str | None]]:
    return {(f.expectation, f.column) for f in outcome.failures}


@pytest.mark.parametrize(("name", "build"), [("events", _events_frames), ("catalog", _catalog_frames),
                                             ("item_tags", _tag_frames)])  # fmt: skip
def test_a_good_partition_passes_every_expectation(
    tmp_path: Path, name: str, build: Callable[[], Frames]
) -> None:
    outcome = _run(name, build(), tmp_path)
    assert outcome.success, [f.describe() for f in outcome.failures]
    assert outcome.evaluated == len(json.loads(suite_path(name).read_text())["expectations"])
    assert outcome.docs_path == tmp_path / name / "index.html" and outcome.docs_path.exists()
    assert json.loads(outcome.result_path.read_text())["success"] is True


# -------------------------------------------------------------------- one family at a time


def _set(column: str, index: int, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        if frame[column].dtype != object and not isinstance(value, type(frame[column].iloc[0])):
            frame[column] = frame[column].astype(object)
        frame.loc[index, column] = value
        return frame

    return change


NOT_NULL, IN_SET, BETWEEN = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
)
COLUMNS, MIN, MAX = (
    "expect_table_columns_to_match_ordered_list",
    "expect_column_min_to_be_between",
    "expect_column_max_to_be_between",
)
EVENT_ROW_CASES = [
    ("renamed column", lambda f: f.rename(columns={"event_type": "type"}),
     {(COLUMNS, None), (NOT_NULL, "event_type"), (IN_SET, "event_type")}),
    ("extra column", lambda f: f.assign(coupon="X"), {(COLUMNS, None)}),
    ("null key", _set("user_id", 3, None), {(NOT_NULL, "user_id")}),
    ("duplicate id", _set("event_id", 5, "E0001"), {("expect_column_values_to_be_unique", "event_id")}),
    ("unknown event type", _set("event_type", 2, "purchse"), {(IN_SET, "event_type")}),
    ("negative price", _set("price", 1, -3.0), {(BETWEEN, "price")}),
    ("infinite price", _set("price", 1, float("inf")), {(BETWEEN, "price")}),
    ("NaN price", _set("price", 1, float("nan")), {(NOT_NULL, "price")}),
    ("event before the day", _set("event_time", 0, pd.Timestamp(START - timedelta(seconds=1))),
     {(MIN, "event_time")}),
    ("event after the day", _set("event_time", 39, pd.Timestamp(END)), {(MAX, "event_time")}),
    ("not sorted", _set("event_time", 10, pd.Timestamp(START + timedelta(minutes=1))),
     {("expect_column_values_to_be_increasing", "event_time")}),
    ("empty", lambda f: f.iloc[0:0],
     {("expect_table_row_count_to_be_between", None), (MIN, "event_time"), (MAX, "event_time")}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "change", "expected"), EVENT_ROW_CASES, ids=[c[0] for c in EVENT_ROW_CASES])
def test_events_rows_family_fails_on_its_corruption(
    tmp_path: Path,
    case: str,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    expected: set[tuple[str, str | None]],
) -> None:
    good = _events_frames()
    outcome = _run("events", Frames(change(good.rows), good.facts, good.parameters), tmp_path)
    assert _failed(outcome) == expected, case


EVENT_FACT_CASES = [
    ("wrong arrow type", "type_of_price", "string", "observed 'string'; expected all in {'double'}"),
    ("missing column", "type_of_item_id", "missing", "observed 'missing'"),
    ("volume drop", "volume_ratio", 0.31, "observed 0.31; expected >= 0.5 and <= 3"),
    ("volume rise", "volume_ratio", 3.5, "observed 3.5; expected >= 0.5 and <= 3"),
    ("quarantined share", "quarantined_share", 0.012, "observed 0.012; expected >= 0 and <= 0.01"),
    ("purchase share too low", "purchase_share", 0.0, "observed 0; expected >= 0.0001 and <= 0.05"),
    ("purchase share too high", "purchase_share", 0.4, "observed 0.4"),
    ("stale day", "hours_since_last_event", 7.5, "observed 7.5; expected >= 0 and <= 6"),
    ("zero users", "users", 0, "observed 0; expected >= 1"),
    ("unknown items", "events_with_unknown_item", 3, "observed 3; expected >= 0 and <= 0"),
    ("negative position", "position_min", -1, "observed -1; expected >= 0"),
]


@pytest.mark.parametrize(
    ("case", "column", "value", "text"), EVENT_FACT_CASES, ids=[c[0] for c in EVENT_FACT_CASES]
)
def test_events_facts_family_fails_with_the_observed_value(
    tmp_path: Path, case: str, column: str, value: Any, text: str
) -> None:
    good = _events_frames()
    facts = good.facts.copy()
    facts[column] = pd.Series([value], dtype=object)
    notes = {column: "where it comes from"}
    outcome = _run("events", Frames(good.rows, facts, good.parameters, notes), tmp_path)
    assert len(outcome.failures) == 1, case
    failure = outcome.failures[0]
    assert (failure.column, failure.frame) == (column, "facts")
    assert text in failure.describe() and "where it comes from" in failure.describe()


def test_no_previous_partition_means_no_volume_verdict(tmp_path: Path) -> None:
    good = _events_frames()
    facts = good.facts.copy()
    facts["volume_ratio"] = pd.Series([None], dtype=object)
    assert _run("events", Frames(good.rows, facts, good.parameters), tmp_path).success


CATALOG_CASES = [
    ("duplicate item", _set("item_id", 3, "P000"), ("expect_column_values_to_be_unique", "item_id")),
    ("blank title", _set("title", 2, "   "), ("expect_column_values_to_not_match_regex", "title")),
    ("zero price", _set("price", 2, 0.0), ("expect_column_values_to_be_between", "price")),
    ("currency", _set("currency", 4, "usd$"), ("expect_column_values_to_match_regex", "currency")),
    ("listed tomorrow", _set("listed_date", 1, pd.Timestamp("2026-11-03")),
     ("expect_column_max_to_be_between", "listed_date")),
    ("null availability", _set("available", 1, None), ("expect_column_values_to_not_be_null", "available")),
]  # fmt: skip


@pytest.mark.parametrize(("case", "change", "expected"), CATALOG_CASES, ids=[c[0] for c in CATALOG_CASES])
def test_catalog_family_fails_on_its_corruption(
    tmp_path: Path, case: str, change: Callable[[pd.DataFrame], pd.DataFrame], expected: tuple[str, str]
) -> None:
    good = _catalog_frames()
    outcome = _run("catalog", Frames(change(good.rows), good.facts, good.parameters), tmp_path)
    assert expected in _failed(outcome), case


TAG_CASES = [
    ("unknown tag", _set("tag", 0, "ZZ999"), ("expect_column_values_to_be_in_set", "tag")),
    ("unknown dimension", _set("dimension", 0, "vibes"), ("expect_column_values_to_be_in_set", "dimension")),
    ("confidence above 1", _set("confidence", 1, 1.2), ("expect_column_values_to_be_between", "confidence")),
    ("same tag twice", _set("tag", 1, "BA001"), ("expect_compound_columns_to_be_unique", "item_id, tag")),
    ("null rule", _set("rule_id", 2, None), ("expect_column_values_to_not_be_null", "rule_id")),
]


@pytest.mark.parametrize(("case", "change", "expected"), TAG_CASES, ids=[c[0] for c in TAG_CASES])
def test_item_tags_family_fails_on_its_corruption(
    tmp_path: Path, case: str, change: Callable[[pd.DataFrame], pd.DataFrame], expected: tuple[str, str]
) -> None:
    good = _tag_frames()
    outcome = _run("item_tags", Frames(change(good.rows), good.facts, good.parameters), tmp_path)
    assert expected in _failed(outcome), case


@pytest.mark.parametrize(
    ("column", "value", "text"),
    [("tag_coverage", 0.9, "observed 0.9; expected >= 0.95 and <= 1"),
     ("tagged_items_not_in_catalog", 2, "observed 2; expected >= 0 and <= 0")],
)  # fmt: skip
def test_item_tags_coverage_and_references(tmp_path: Path, column: str, value: Any, text: str) -> None:
    good = _tag_frames()
    facts = good.facts.copy()
    facts[column] = value
    outcome = _run("item_tags", Frames(good.rows, facts, good.parameters), tmp_path)
    assert [f.column for f in outcome.failures] == [column]
    assert text in outcome.failures[0].describe()


def test_a_rerun_replaces_the_docs_folder_whole(tmp_path: Path) -> None:
    good = _events_frames()
    first = _run("events", good, tmp_path)
    pages = sorted(p.relative_to(tmp_path) for p in (tmp_path / "events").rglob("*.html"))
    second = _run("events", good, tmp_path)
    assert first.docs_path == second.docs_path
    again = sorted(p.relative_to(tmp_path) for p in (tmp_path / "events").rglob("*.html"))
    assert len(again) == len(pages)  # the earlier run's pages are gone, not accumulated
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not list((tmp_path / "events" / "static").rglob("*.gif"))  # GX's unused assets pruned


def test_cached_views_render_the_pages_gx_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    import expectations.runner as runner

    def pages(folder: Path) -> dict[str, str]:
        moment = r"[0-9a-f]{8}-[0-9a-f-]{27}|\d"  # ids and times differ between runs
        return {p.name: re.sub(moment, "", p.read_text()) for p in sorted(folder.rglob("*.html"))}

    good = _events_frames()
    _run("events", good, tmp_path / "first")  # the shared template environment now exists
    cached = pages(_run("events", good, tmp_path / "cached").docs_path.parent)
    original = runner._ephemeral_context

    def gx_views(docs_dir: Path) -> Any:
        context = original(docs_dir)
        site: Any = context.variables.data_docs_sites[runner.SITE]  # type: ignore[index]
        for view in (
            site["site_index_builder"]["view"],
            site["site_section_builders"]["validations"]["view"],
        ):
            view.update(module_name="great_expectations.render.view.view")
            view["class_name"] = view["class_name"].replace("Cached", "Default")
        return context

    monkeypatch.setattr(runner, "_ephemeral_context", gx_views)
    assert pages(_run("events", good, tmp_path / "gx").docs_path.parent) == cached
    assert set(cached) == {"index.html", "events-rows.html", "events-facts.html"}
