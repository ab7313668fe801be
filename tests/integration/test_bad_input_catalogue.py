"""The bad-input catalogue: each corruption of a day's export or of a lake partition ends in
a quarantine with the right reason code, or in a failed step or gate with a clear message,
never in silent loss of good rows, and never touches the day before.

Every test starts from a tiny simulated shop: day 1 (2026-11-01) fully ingested, tagged
and validated, and day 2's export in the landing zone. It corrupts day 2, then runs the real
steps in the DAG's order (``ingest_catalog`` → ``validate_catalog`` → ``ingest_events`` →
``validate_events``, ``tag_catalog`` → ``validate_item_tags``), skipping what a failure
upstream would skip in Airflow. The table in docs/reliability.md maps each corruption to its
outcome and to the test here that proves it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pendulum
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from expectations.errors import ValidationFailedError
from feature_store import lake
from recsys.errors import LandingFormatError, LandingMissingError
from recsys.settings import Settings, load_settings
from recsys.shop_sim import write_export
from tagging.errors import TaxonomyError
from tagging.taxonomy import DEFAULT_DEFINITIONS
from tasks.context import RunContext
from tasks.ingest.catalog import ingest_catalog
from tasks.ingest.events import ingest_events
from tasks.tag import tag_catalog
from tasks.validate import validate_partition
from tests.support import load_dag_module

pytestmark = pytest.mark.integration

SEED = 7
DAY1, DAY2 = date(2026, 11, 1), date(2026, 11, 2)
Record = dict[str, Any]


# ------------------------------------------------------------------------------ the world


@dataclass(frozen=True)
class World:
    """Built once: the tiny exports of both days, day 1's lake, and day 2 ingested cleanly."""

    landing: Path
    lake: Path
    clean: dict[str, pa.Table]
    day1_rows: dict[str, int]
    day1_digests: dict[str, str]


def _settings(lake_root: Path, landing: Path, **overrides: Any) -> Settings:
    return load_settings(lake_root=lake_root, landing_root=landing, source="landing", **overrides)


def _run_day(settings: Settings, day: date) -> None:
    ctx = RunContext(day, settings)
    for step in (ingest_catalog, ingest_events, tag_catalog):
        step(ctx)
    for dataset in ("catalog", "events", "item_tags"):
        validate_partition(ctx, dataset)


def _day1_digests(lake_root: Path) -> dict[str, str]:
    """Every file of day 1 in the lake (data, quarantine, meta, data docs, reports)."""
    return {
        str(p.relative_to(lake_root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(lake_root.rglob("*"))
        if p.is_file() and "2026-11-01" in str(p.relative_to(lake_root))
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("catalogue")
    landing = base / "landing"
    for day in (DAY1, DAY2):
        write_export(day, seed=SEED, scale="tiny", landing_root=landing)
    day1_lake = base / "lake-day1"
    _run_day(_settings(day1_lake, landing), DAY1)
    reference = base / "lake-reference"
    shutil.copytree(day1_lake, reference)
    _run_day(_settings(reference, landing), DAY2)
    clean = {name: lake.read_partition(reference, name, DAY2) for name in ("events", "catalog", "item_tags")}
    day1_rows = {name: lake.read_partition(day1_lake, name, DAY1).num_rows for name in ("events", "catalog")}
    return World(landing, day1_lake, clean, day1_rows, _day1_digests(day1_lake))


# ------------------------------------------------------------------------------ one day


@dataclass
class Outcome:
    """What happened to day 2: step results, the error of the step that failed, what ran."""

    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)

    def message(self, step: str) -> str:
        return str(self.errors[step])


class Day2:
    """A private copy of the world in which day 2's export or partitions get corrupted."""

    def __init__(self, world: World, tmp_path: Path) -> None:
        self.world = world
        self.landing = tmp_path / "landing"
        self.lake = tmp_path / "lake"
        shutil.copytree(world.landing, self.landing)
        shutil.copytree(world.lake, self.lake)
        self.settings = _settings(self.lake, self.landing)
        self.ctx = RunContext(DAY2, self.settings)

    # -- the export
    @property
    def events_dir(self) -> Path:
        return self.landing / "events" / f"dt={DAY2.isoformat()}"

    @property
    def catalog_file(self) -> Path:
        return self.landing / "catalog" / f"dt={DAY2.isoformat()}" / "catalog.csv"

    def events_files(self) -> list[Path]:
        return sorted(self.events_dir.glob("events-*.jsonl"))

    def busiest(self) -> Path:
        return max(self.events_files(), key=lambda p: p.stat().st_size)

    def edit_lines(self, path: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
        lines = path.read_bytes().split(b"\n")
        tail = [b""] if lines and lines[-1] == b"" else []
        path.write_bytes(b"\n".join(change(lines[: len(lines) - len(tail)]) + tail))

    def edit_line(self, path: Path, index: int, change: Callable[[bytes], bytes]) -> None:
        def one(lines: list[bytes]) -> list[bytes]:
            lines[index] = change(lines[index])
            return lines

        self.edit_lines(path, one)

    def edit_record(self, path: Path, index: int, change: Callable[[Record], Record]) -> None:
        self.edit_line(path, index, lambda b: _dump(change(json.loads(b))))

    def edit_all_records(self, change: Callable[[Record], Record]) -> None:
        for path in self.events_files():
            self.edit_lines(path, lambda lines: [_dump(change(json.loads(b))) for b in lines])

    def catalog_rows(self) -> tuple[list[str], list[list[str]]]:
        with self.catalog_file.open(newline="") as f:
            rows = list(csv.reader(f))
        return rows[0], rows[1:]

    def write_catalog(self, header: list[str], rows: list[list[str]]) -> None:
        with self.catalog_file.open("w", newline="") as f:
            csv.writer(f).writerows([header, *rows])

    # -- running the day in the DAG's order
    def run(
        self,
        definitions: Path | None = None,
        after: dict[str, Callable[[], None]] | None = None,
        tags: bool = True,
    ) -> Outcome:
        """Run day 2's steps; ``after`` corrupts a partition right after the step that wrote it.

        ``tags=False`` leaves out the tag branch, which reads only the catalog: for a
        corruption of the events alone it is the clean day's (the world fixture ran it).
        """
        out = Outcome()
        steps: list[tuple[str, Callable[[], Any], tuple[str, ...]]] = [
            ("ingest_catalog", lambda: ingest_catalog(self.ctx), ()),
            ("validate_catalog", lambda: validate_partition(self.ctx, "catalog"), ("ingest_catalog",)),
            ("ingest_events", lambda: ingest_events(self.ctx), ("validate_catalog",)),
            ("validate_events", lambda: validate_partition(self.ctx, "events"), ("ingest_events",)),
            ("tag_catalog", lambda: tag_catalog(self.ctx, definitions), ("validate_catalog",)),
            ("validate_item_tags", lambda: validate_partition(self.ctx, "item_tags"), ("tag_catalog",)),
        ]
        for name, step, needs in steps:
            if not tags and name in ("tag_catalog", "validate_item_tags"):
                continue
            if any(n not in out.results for n in needs):
                continue  # upstream failed: Airflow would mark this task upstream_failed
            out.ran.append(name)
            try:
                out.results[name] = step()
            except Exception as exc:
                out.errors[name] = exc
                continue
            if after and name in after:
                after[name]()
        assert _day1_digests(self.lake) == self.world.day1_digests, "day 1 was touched"
        return out

    # -- what the lake holds for day 2
    def rows(self, dataset: str) -> int:
        return int(lake.read_partition(self.lake, dataset, DAY2).num_rows)

    def quarantine(self, dataset: str) -> Counter[str]:
        table = lake.read_partition(self.lake, f"quarantine/{dataset}", DAY2, columns=["reason"])
        return Counter(table.column("reason").to_pylist())

    def quarantine_rows(self, dataset: str) -> list[Record]:
        rows: list[Record] = lake.read_partition(self.lake, f"quarantine/{dataset}", DAY2).to_pylist()
        return rows

    def has(self, dataset: str) -> bool:
        return lake.has_partition(self.lake, dataset, DAY2)


def _dump(record: Record) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


@pytest.fixture
def day2(world: World, tmp_path: Path) -> Day2:
    return Day2(world, tmp_path)


@pytest.fixture
def clean(world: World) -> dict[str, pa.Table]:
    return world.clean


@pytest.fixture
def day1_rows(world: World) -> dict[str, int]:
    return world.day1_rows


def _all_passed(out: Outcome, tags: bool = True) -> None:
    assert not out.errors, {k: str(v)[:500] for k, v in out.errors.items()}
    expected = ["ingest_catalog", "validate_catalog", "ingest_events", "validate_events"]
    assert out.ran == expected + (["tag_catalog", "validate_item_tags"] if tags else [])


def _events_quarantined(
    day2: Day2, clean: dict[str, pa.Table], reasons: dict[str, int], out: Outcome
) -> None:
    """Exactly the corrupted rows are quarantined with their reason; every good row is kept."""
    assert day2.quarantine("events") == Counter(reasons)
    assert day2.rows("events") == clean["events"].num_rows - sum(reasons.values())
    report = out.results["ingest_events"]
    assert report["rows_read"] == report["events"] + report["quarantined"]


def _gate_failed(out: Outcome, gate: str, *texts: str) -> str:
    """The gate raised ValidationFailedError whose message holds every text (and the docs path)."""
    assert gate in out.errors, f"{gate} did not fail: {sorted(out.errors)}"
    error = out.errors[gate]
    assert isinstance(error, ValidationFailedError)
    message = str(error)
    for text in texts:
        assert text in message, f"{text!r} not in:\n{message}"
    docs = Path(message.split("data docs: ", 1)[1].splitlines()[0])
    assert docs.name == "index.html" and docs.exists()
    return message


# ============================================================ rows quarantined at ingestion


def test_truncated_line_is_malformed(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_line(day2.busiest(), 10, lambda b: b[:37])
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"malformed_record": 1}, out)
    (row,) = day2.quarantine_rows("events")
    assert (
        row["line"] == 11
        and row["source_file"].endswith(day2.busiest().name)
        and "invalid JSON" in row["detail"]
    )


def test_wrong_type_is_quarantined(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_record(day2.busiest(), 10, lambda r: {**r, "price": "12,99"})
    day2.edit_record(day2.busiest(), 11, lambda r: {**r, "user_id": ["U1"]})
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"wrong_type": 2}, out)


def test_nan_and_infinite_prices_are_bad_prices(day2: Day2, clean: dict[str, pa.Table]) -> None:
    path = day2.busiest()
    for index, literal in enumerate((b"NaN", b"Infinity", b"-Infinity", b"1e999")):
        day2.edit_line(path, 10 + index, partial(_set_raw, name=b"price", literal=literal))
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"bad_price": 4}, out)


def test_negative_and_zero_prices_are_bad_prices(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_record(day2.busiest(), 10, lambda r: {**r, "price": -19.99})
    day2.edit_record(day2.busiest(), 11, lambda r: {**r, "price": 0})
    day2.edit_record(day2.busiest(), 12, lambda r: {**r, "price": None})
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"bad_price": 2, "missing_price": 1}, out)


def test_unknown_event_type_is_quarantined(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_record(day2.busiest(), 10, lambda r: {**r, "event_type": "purchse"})
    day2.edit_record(day2.busiest(), 11, lambda r: {**r, "event_type": "refund"})
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"unknown_event_type": 2}, out)


def test_future_timestamp_is_a_clock_error(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_record(day2.busiest(), 10, lambda r: {**r, "event_time": "2027-02-01T10:00:00Z"})
    day2.edit_record(day2.busiest(), 11, lambda r: {**r, "event_time": "2026-11-03T05:00:00Z"})
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"future_timestamp": 1, "after_interval": 1}, out)


def test_late_and_malformed_timestamps(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_record(day2.busiest(), 10, lambda r: {**r, "event_time": "2026-11-01T23:59:59Z"})
    day2.edit_record(day2.busiest(), 11, lambda r: {**r, "event_time": "02/11/2026 13:45"})
    day2.edit_record(day2.busiest(), 12, lambda r: {**r, "event_time": "2026-11-02T13:45:00"})  # no zone
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"before_interval": 1, "bad_timestamp": 2}, out)


def test_duplicate_event_ids_keep_the_first(day2: Day2, clean: dict[str, pa.Table]) -> None:
    source = day2.busiest().read_bytes().split(b"\n")[:5]
    target = day2.events_files()[-1]
    target.write_bytes(target.read_bytes() + b"\n".join(source) + b"\n")
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    assert day2.quarantine("events") == Counter({"duplicate_event_id": 5})
    assert day2.rows("events") == clean["events"].num_rows  # the first copies are kept


def test_invalid_utf8_is_malformed(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_line(day2.busiest(), 10, lambda b: b.replace(b'"user_id":"', b'"user_id":"\xff\xfe', 1))
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"malformed_record": 1}, out)
    assert "UTF-8" in day2.quarantine_rows("events")[0]["detail"]


def test_ten_megabyte_string_field_is_too_long(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_record(day2.busiest(), 10, lambda r: {**r, "session_id": "S" * 10_000_000})
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"field_too_long": 1}, out)
    assert "session_id has 10,000,000 bytes" in day2.quarantine_rows("events")[0]["detail"]


def test_a_missing_field_in_one_record(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_record(day2.busiest(), 10, lambda r: {k: v for k, v in r.items() if k != "user_id"})
    day2.edit_record(day2.busiest(), 11, lambda r: {**r, "item_id": "  "})
    day2.edit_record(day2.busiest(), 12, lambda r: {**r, "position": -3})
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    _events_quarantined(day2, clean, {"missing_field": 2, "wrong_type": 1}, out)


def test_extra_column_is_ignored_and_reported(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_all_records(lambda r: {**r, "coupon": "BLACKFRIDAY"})
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    assert day2.quarantine("events") == Counter()
    assert out.results["ingest_events"]["unknown_fields"] == ["coupon"]
    assert lake.read_partition(day2.lake, "events", DAY2).equals(clean["events"])


def test_catalog_item_removed_while_events_still_reference_it(day2: Day2, clean: dict[str, pa.Table]) -> None:
    counts = Counter(clean["events"].column("item_id").to_pylist())
    item, events_of_item = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
    header, rows = day2.catalog_rows()
    day2.write_catalog(header, [r for r in rows if r[0] != item])
    out = day2.run()
    _all_passed(out)  # a handful of rows: well under RECSYS_VALIDATION_MAX_QUARANTINE_SHARE
    _events_quarantined(day2, clean, {"unknown_item": events_of_item}, out)
    assert item in day2.quarantine_rows("events")[0]["detail"]
    assert day2.rows("catalog") == clean["catalog"].num_rows - 1


def test_catalog_duplicate_item_keeps_the_first(day2: Day2, clean: dict[str, pa.Table]) -> None:
    header, rows = day2.catalog_rows()
    twin = [*rows[3][:5], "1.00", *rows[3][6:]]
    day2.write_catalog(header, [*rows, twin])
    out = day2.run()
    _all_passed(out)
    assert day2.quarantine("catalog") == Counter({"duplicate_item_id": 1})
    assert lake.read_partition(day2.lake, "catalog", DAY2).equals(clean["catalog"])


CATALOG_ROW_CORRUPTIONS = [
    pytest.param("price", "-5", "bad_price", id="negative-price"),
    pytest.param("price", "nan", "bad_price", id="nan-price"),
    pytest.param("price", "inf", "bad_price", id="infinite-price"),
    pytest.param("price", "", "missing_price", id="missing-price"),
    pytest.param("price", "12,99", "wrong_type", id="price-with-comma"),
    pytest.param("title", " ", "missing_field", id="blank-title"),
    pytest.param("description", "x" * 100_000, "field_too_long", id="100kb-description"),
    # Longer than pyarrow's default 1 MB block: this once failed with a bare _csv.Error.
    pytest.param("description", "x" * 10_000_000, "field_too_long", id="10mb-description"),
    pytest.param("listed_date", "02/11/2026", "wrong_type", id="listed-date-format"),
]


@pytest.mark.parametrize(("column", "value", "reason"), CATALOG_ROW_CORRUPTIONS)
def test_a_bad_catalog_row_is_quarantined(
    day2: Day2, clean: dict[str, pa.Table], column: str, value: str, reason: str
) -> None:
    header, rows = day2.catalog_rows()
    with_events = set(clean["events"].column("item_id").to_pylist())
    victim = next(r for r in rows if r[0] not in with_events)  # an item nobody saw today
    victim[header.index(column)] = value
    day2.write_catalog(header, rows)
    assert len(rows) > 100, "one bad row must stay under RECSYS_VALIDATION_MAX_QUARANTINE_SHARE"
    out = day2.run()
    _all_passed(out)
    assert day2.quarantine("catalog") == Counter({reason: 1})
    assert day2.rows("catalog") == clean["catalog"].num_rows - 1
    assert day2.quarantine("events") == Counter() and day2.rows("events") == clean["events"].num_rows


def test_too_many_bad_catalog_rows_fail_the_catalog_gate(day2: Day2, clean: dict[str, pa.Table]) -> None:
    header, rows = day2.catalog_rows()
    for row in rows[:3]:
        row[header.index("price")] = "-1"
    day2.write_catalog(header, rows)
    out = day2.run()
    assert day2.quarantine("catalog") == Counter({"bad_price": 3})
    _gate_failed(
        out,
        "validate_catalog",
        f"quarantined_share (facts): observed {3 / len(rows):.6g}; expected >= 0 and <= 0.01",
        f"— 3 of {len(rows)} rows read quarantined (bad_price 3)",
        "recsys quarantine --dataset catalog --date 2026-11-02",
    )
    assert out.ran == ["ingest_catalog", "validate_catalog"]


def test_schema_drift_to_csv_with_reordered_and_new_columns(day2: Day2, clean: dict[str, pa.Table]) -> None:
    records = [json.loads(b) for p in day2.events_files() for b in p.read_bytes().splitlines()]
    header = ["campaign", *reversed(list(records[0]))]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for r in records:
        writer.writerow(["" if r.get(h) is None else r.get(h, "fall") for h in header])
    for path in day2.events_files():
        path.unlink()
    (day2.events_dir / "events.csv.gz").write_bytes(gzip.compress(buffer.getvalue().encode()))
    out = day2.run(tags=False)
    _all_passed(out, tags=False)
    assert day2.quarantine("events") == Counter()
    assert out.results["ingest_events"]["unknown_fields"] == ["campaign"]
    kept = lake.read_partition(day2.lake, "events", DAY2)
    assert kept.column("event_id").equals(clean["events"].column("event_id"))
    assert kept.column("price").equals(clean["events"].column("price"))


# ===================================================================== a gate stops the day


def test_missing_column_fails_the_events_gate(day2: Day2, clean: dict[str, pa.Table]) -> None:
    day2.edit_all_records(lambda r: {k: v for k, v in r.items() if k != "item_id"})
    out = day2.run(tags=False)
    assert out.results["ingest_events"]["quarantined_by_reason"] == {
        "missing_field": out.results["ingest_events"]["rows_read"]
    }
    _gate_failed(
        out,
        "validate_events",
        "expect_table_row_count_to_be_between on table (rows): observed 0; expected >= 1",
        "expect_column_values_to_be_between on quarantined_share (facts): observed 1;",
        "quarantined_share (facts): observed 1; expected >= 0 and <= 0.01",
        f"(missing_field {clean['events'].num_rows:,})",
        "recsys quarantine --dataset events --date 2026-11-02",
    )


def test_renamed_column_fails_the_events_gate(day2: Day2) -> None:
    day2.edit_all_records(lambda r: {("type" if k == "event_type" else k): v for k, v in r.items()})
    out = day2.run(tags=False)
    assert out.results["ingest_events"]["unknown_fields"] == ["type"]
    _gate_failed(out, "validate_events", "quarantined_share (facts): observed 1", "missing_field")


def test_empty_partition_fails_the_events_gate(day2: Day2, day1_rows: dict[str, int]) -> None:
    for path in day2.events_files():
        path.write_bytes(b"")
    out = day2.run(tags=False)
    assert out.results["ingest_events"]["rows_read"] == 0 and day2.rows("events") == 0
    _gate_failed(
        out,
        "validate_events",
        "expect_table_row_count_to_be_between on table (rows): observed 0",
        "volume_ratio (facts): observed 0; expected >= 0.5 and <= 3",
        f"— 0 rows against {day1_rows['events']:,} in dt=2026-11-01",
        "users (facts): observed 0; expected >= 1",
    )


def test_zero_users_fails_the_events_gate(day2: Day2) -> None:
    day2.edit_all_records(lambda r: {**r, "user_id": None})
    out = day2.run(tags=False)
    _gate_failed(out, "validate_events", "users (facts): observed 0", "quarantined_share (facts): observed 1")


def test_volume_drop_fails_the_events_gate(day2: Day2, day1_rows: dict[str, int]) -> None:
    last, *others = sorted(day2.events_files(), reverse=True)  # keep the last hour: still fresh
    budget = 0.4 * day1_rows["events"] - len(last.read_bytes().splitlines())
    for path in sorted(others, key=lambda p: p.stat().st_size):
        lines = len(path.read_bytes().splitlines())
        if lines > budget:
            path.unlink()
        budget -= lines
    out = day2.run(tags=False)
    assert day2.quarantine("events") == Counter()  # nothing wrong with any row
    ratio = day2.rows("events") / day1_rows["events"]
    assert ratio < 0.5
    message = _gate_failed(
        out,
        "validate_events",
        f"volume_ratio (facts): observed {ratio:.6g}; expected >= 0.5 and <= 3",
        f"against {day1_rows['events']:,} in dt=2026-11-01",
    )
    assert "1 of 32 expectations failed" in message  # only the volume is wrong


def test_volume_spike_fails_the_events_gate(
    day2: Day2, clean: dict[str, pa.Table], day1_rows: dict[str, int]
) -> None:
    originals = day2.events_files()
    copies = math.ceil(3.5 * day1_rows["events"] / clean["events"].num_rows)
    for copy in range(1, copies):
        for path in originals:
            lines = path.read_bytes().splitlines()
            records = [json.loads(b) for b in lines]
            replay = [_dump({**r, "event_id": f"{r['event_id']}-replay{copy}"}) for r in records]
            (day2.events_dir / f"{path.stem}-replay{copy}.jsonl").write_bytes(b"\n".join(replay) + b"\n")
    out = day2.run(tags=False)
    assert day2.quarantine("events") == Counter()
    ratio = copies * clean["events"].num_rows / day1_rows["events"]
    _gate_failed(
        out, "validate_events", f"volume_ratio (facts): observed {ratio:.6g}; expected >= 0.5 and <= 3"
    )


def test_clock_skew_fails_the_events_gate(day2: Day2, clean: dict[str, pa.Table]) -> None:
    def shift(record: Record) -> Record:
        moment = datetime.fromisoformat(record["event_time"].replace("Z", "+00:00")) + timedelta(hours=2)
        return {**record, "event_time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")}

    day2.edit_all_records(shift)
    out = day2.run(tags=False)
    after = day2.quarantine("events")["after_interval"]
    assert after > 0 and set(day2.quarantine("events")) == {"after_interval"}
    _gate_failed(out, "validate_events", "quarantined_share (facts): observed", f"(after_interval {after:,})")
    assert day2.rows("events") == clean["events"].num_rows - after  # every event inside the day is kept


def test_an_export_cut_short_fails_freshness(day2: Day2) -> None:
    for path in day2.events_files():
        if int(path.stem.split("-")[1]) >= 17:
            path.unlink()
    out = day2.run(tags=False)
    _gate_failed(out, "validate_events", "hours_since_last_event (facts): observed", "expected >= 0 and <= 6")


def test_a_file_delivered_twice_fails_on_duplicates(day2: Day2) -> None:
    busiest = day2.busiest()
    shutil.copy(busiest, day2.events_dir / f"{busiest.stem}-resent.jsonl")
    out = day2.run(tags=False)
    copies = len(busiest.read_bytes().splitlines())
    assert day2.quarantine("events") == Counter({"duplicate_event_id": copies})
    _gate_failed(out, "validate_events", f"(duplicate_event_id {copies:,})", "quarantined_share")


def test_popular_items_removed_from_the_catalog_fail_the_events_gate(
    day2: Day2, clean: dict[str, pa.Table]
) -> None:
    counts = Counter(clean["events"].column("item_id").to_pylist())
    top = {item for item, _ in counts.most_common(3)}
    header, rows = day2.catalog_rows()
    day2.write_catalog(header, [r for r in rows if r[0] not in top])
    out = day2.run()
    lost = sum(counts[i] for i in top)
    assert day2.quarantine("events") == Counter({"unknown_item": lost})
    _gate_failed(out, "validate_events", f"(unknown_item {lost:,})", "quarantined_share (facts)")
    assert "validate_item_tags" in out.results  # the tag branch does not depend on events


def test_catalog_schema_drift_fails_the_catalog_gate_and_stops_the_day(day2: Day2) -> None:
    header, rows = day2.catalog_rows()
    price = header.index("price")
    for row in rows:
        row[price] = f"${row[price]}"
    day2.write_catalog(header, rows)
    out = day2.run()
    assert day2.quarantine("catalog") == Counter({"wrong_type": len(rows)})
    _gate_failed(
        out,
        "validate_catalog",
        "expect_table_row_count_to_be_between on table (rows): observed 0",
        f"quarantined_share (facts): observed 1; expected >= 0 and <= 0.01 — {len(rows):,} of {len(rows):,}",
    )
    assert out.ran == ["ingest_catalog", "validate_catalog"]  # nothing downstream ran
    assert not day2.has("events") and not day2.has("item_tags")


def test_catalog_missing_required_column_fails_the_catalog_gate(day2: Day2) -> None:
    header, rows = day2.catalog_rows()
    title = header.index("title")
    day2.write_catalog(
        [h for i, h in enumerate(header) if i != title],
        [[v for i, v in enumerate(r) if i != title] for r in rows],
    )
    out = day2.run()
    assert day2.quarantine("catalog") == Counter({"missing_field": len(rows)})
    _gate_failed(out, "validate_catalog", "quarantined_share (facts): observed 1", "(missing_field")
    assert not day2.has("events")


def test_catalog_volume_drop_fails_the_catalog_gate(day2: Day2) -> None:
    header, rows = day2.catalog_rows()
    day2.write_catalog(header, rows[: len(rows) // 3])
    out = day2.run()
    _gate_failed(out, "validate_catalog", "volume_ratio (facts): observed 0.3", "in dt=2026-11-01")


# ========================================================== failures the step reports itself


def test_corrupt_gzip_fails_ingestion_naming_the_file(day2: Day2) -> None:
    path = day2.busiest()
    packed = gzip.compress(path.read_bytes())
    path.unlink()
    broken = path.with_name(path.name + ".gz")
    broken.write_bytes(packed[: len(packed) // 2])
    out = day2.run(tags=False)
    error = out.errors["ingest_events"]
    assert isinstance(error, LandingFormatError)
    assert str(broken) in str(error) and "corrupt gzip" in str(error)
    assert not day2.has("events") and not day2.has("quarantine/events")


def test_missing_export_fails_ingestion_naming_the_folder(day2: Day2) -> None:
    shutil.rmtree(day2.events_dir)
    out = day2.run(tags=False)
    error = out.errors["ingest_events"]
    assert isinstance(error, LandingMissingError)
    assert str(day2.events_dir) in str(error) and "2026-11-02" in str(error)
    assert not day2.has("events")


def _bad_threshold(text: str) -> str:
    definitions = json.loads(text)
    definitions["tags"][0]["rules"][0]["threshold"] = "abc"
    return json.dumps(definitions)


BROKEN_DEFINITIONS = [
    ("wrong type", _bad_threshold, "tag BA001 (index 0): rules[0].threshold: 'abc' is not of type 'number'"),
    ("truncated", lambda text: text[:5000], "are not valid JSON: Expecting property name"),
]


@pytest.mark.parametrize(
    ("case", "breaks", "text"), BROKEN_DEFINITIONS, ids=[c[0] for c in BROKEN_DEFINITIONS]
)
def test_broken_tag_definitions_file_fails_tagging_and_writes_nothing(
    day2: Day2, tmp_path: Path, case: str, breaks: Callable[[str], str], text: str
) -> None:
    broken = tmp_path / "product_tag_definitions.json"
    broken.write_text(breaks(DEFAULT_DEFINITIONS.read_text()))
    out = day2.run(definitions=broken)
    error = out.errors["tag_catalog"]
    assert isinstance(error, TaxonomyError)
    assert str(broken) in str(error) and text in str(error), case
    assert "validate_item_tags" not in out.ran and not day2.has("item_tags")
    assert "validate_events" in out.results  # the events branch does not wait for tagging


# ================================================= corrupted intermediate partitions (lake)


def _rewrite(day2: Day2, dataset: str, change: Callable[[pa.Table], pa.Table]) -> Callable[[], None]:
    def corrupt() -> None:
        table = lake.read_partition(day2.lake, dataset, DAY2)
        meta = lake.read_meta(day2.lake, dataset, DAY2)
        meta.pop("rows", None)
        lake.write_partition(day2.lake, dataset, DAY2, change(table), meta)

    return corrupt


def test_events_partition_corrupted_after_ingestion_fails_the_gate(
    day2: Day2, clean: dict[str, pa.Table]
) -> None:
    def corrupt(table: pa.Table) -> pa.Table:
        prices = table.column("price").to_pylist()
        prices[0] = -1.0
        table = table.set_column(6, "price", pa.array(prices, pa.float64()))
        return pa.concat_tables([table, table.slice(100, 3)])  # 3 repeated rows, out of order

    out = day2.run(tags=False, after={"ingest_events": _rewrite(day2, "events", corrupt)})
    rows = clean["events"].num_rows + 3
    _gate_failed(
        out,
        "validate_events",
        f"expect_column_values_to_be_unique on event_id (rows): observed 6 of {rows:,} rows unexpected",
        f"expect_column_values_to_be_between on price (rows): observed 1 of {rows:,} rows unexpected",
        "expect_column_values_to_be_increasing on event_time (rows)",
    )


def test_events_partition_with_drifted_types_fails_the_gate(day2: Day2) -> None:
    def corrupt(table: pa.Table) -> pa.Table:
        table = table.set_column(6, "price", table.column("price").cast(pa.string()))
        return table.set_column(1, "event_time", table.column("event_time").cast(pa.timestamp("ns")))

    out = day2.run(tags=False, after={"ingest_events": _rewrite(day2, "events", corrupt)})
    _gate_failed(
        out,
        "validate_events",
        "on type_of_price (facts): observed 'string'; expected all in {'double'}",
        "on type_of_event_time (facts): observed 'timestamp[ns]'",
    )


def test_item_tags_partition_with_bad_rows_fails_the_gate(day2: Day2, clean: dict[str, pa.Table]) -> None:
    def corrupt(table: pa.Table) -> pa.Table:
        confidence = table.column("confidence").to_pylist()
        confidence[0] = 1.7
        tags = table.column("tag").to_pylist()
        tags[1] = "ZZ999"
        return table.set_column(3, "confidence", pa.array(confidence, pa.float32())).set_column(
            1, "tag", pa.array(tags)
        )

    out = day2.run(after={"tag_catalog": _rewrite(day2, "item_tags", corrupt)})
    _gate_failed(
        out,
        "validate_item_tags",
        "expect_column_values_to_be_between on confidence (rows): observed 1 of",
        "e.g. 1.7",
        "expect_column_values_to_be_in_set on tag (rows): observed 1 of",
        "e.g. 'ZZ999'",
    )


def test_item_tags_partition_missing_items_fails_coverage(day2: Day2) -> None:
    def corrupt(table: pa.Table) -> pa.Table:
        items = pc.unique(table.column("item_id"))
        dropped = items.slice(0, len(items) // 10 + 1)
        keep = pc.invert(pc.is_in(table.column("item_id"), value_set=dropped))
        extra = table.slice(0, 1).set_column(0, "item_id", pa.array(["P-NOT-IN-CATALOG"]))
        return pa.concat_tables([table.filter(keep), extra])

    out = day2.run(after={"tag_catalog": _rewrite(day2, "item_tags", corrupt)})
    _gate_failed(
        out,
        "validate_item_tags",
        "on tag_coverage (facts): observed 0.",
        "expected >= 0.95 and <= 1",
        "tagged_items_not_in_catalog (facts): observed 1",
        "e.g. P-NOT-IN-CATALOG",
    )


def _set_raw(line: bytes, name: bytes, literal: bytes) -> bytes:
    """Replace the JSON value of ``name`` with a literal the JSON encoder would refuse."""
    start = line.index(b'"' + name + b'":') + len(name) + 3
    stop = line.index(b",", start)
    return line[:start] + literal + line[stop:]


# ===================================================== the same, through Airflow's dag.test()


def test_a_failed_gate_in_the_dag_stops_everything_downstream(
    airflow_db: Path, shop_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_SOURCE", "landing")
    write_export(DAY2, seed=SEED, scale="tiny", landing_root=shop_env / "landing")
    events = shop_env / "landing" / "events" / f"dt={DAY2.isoformat()}"
    for path in sorted(events.glob("*.jsonl")):
        if int(path.stem.split("-")[1]) >= 17:
            path.unlink()  # the export stops at 17:00
    dag = load_dag_module("recsys_ingest").ingest_dag
    for task in dag.tasks:
        task.retries = 0  # a gate's verdict does not change on retry; dag.test() would wait for it
    run = dag.test(logical_date=pendulum.datetime(2026, 11, 3, tz="UTC"))
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert states["validate_events"] == "failed"
    for task in ("compute_features", "validate_features", "publish_online_features", "report_ingest"):
        assert states[task] in {"upstream_failed", None}, (task, states[task])
    assert states["validate_catalog"] == states["validate_item_tags"] == "success"
    lake_root = shop_env / "lake"
    assert not lake.list_partitions(lake_root, "features/user")
    result = json.loads((lake_root / "docs/validation/events/dt=2026-11-02/result.json").read_text())
    assert result["success"] is False
    assert "hours_since_last_event" in [f["column"] for f in result["failures"]]
