"""Event ingestion: normalisation, dedup, every quarantine reason, and the bad-input list."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from feature_store import lake
from recsys.errors import LandingFormatError, LandingMissingError, PartitionMissingError
from recsys.settings import Settings, load_settings
from tasks.context import RunContext
from tasks.ingest import reasons
from tasks.ingest.events import EVENTS_SCHEMA, ingest_events

DAY = date(2026, 11, 2)


def good(event_id: str = "e1", **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "event_id": event_id,
        "event_time": "2026-11-02T10:15:00.250Z",
        "user_id": "U1",
        "session_id": "S1",
        "item_id": "P1",
        "event_type": "click",
        "price": 349.0,
        "device": "mobile",
        "placement": "home",
        "position": 2,
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not DROP}


DROP = object()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(lake_root=tmp_path / "lake", landing_root=tmp_path / "landing")


def export(settings: Settings, name: str, lines: list[str] | bytes) -> Path:
    folder = settings.landing_root / "events" / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


CATALOG_ITEMS = ["P", "P1", "P2"]


def run(settings: Settings) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    if not lake.has_partition(settings.lake_root, "catalog", DAY):
        lake.write_partition(settings.lake_root, "catalog", DAY, pa.table({"item_id": CATALOG_ITEMS}))
    report = ingest_events(RunContext(DAY, settings))
    events = lake.read_partition(settings.lake_root, "events", DAY).to_pylist()
    quarantine = lake.read_partition(settings.lake_root, "quarantine/events", DAY).to_pylist()
    return report, events, quarantine


def reasons_of(quarantine: list[dict[str, Any]]) -> dict[int, str]:
    return {row["line"]: row["reason"] for row in quarantine}


def test_good_rows_are_normalised_to_the_documented_schema(settings: Settings) -> None:
    export(
        settings,
        "events-10.jsonl",
        [
            json.dumps(good("e1", event_time="2026-11-02T11:15:00+01:00", event_type=" Click ")),
            json.dumps(good("e2", user_id=1234, position=None, device=DROP, placement=DROP)),
        ],
    )
    report, events, quarantine = run(settings)
    table = pq.read_table(lake.partition_dir(settings.lake_root, "events", DAY) / lake.DATA_FILE)
    assert table.schema == EVENTS_SCHEMA
    assert quarantine == []
    assert report["events"] == 2 and report["quarantined"] == 0
    first, second = events
    assert first["event_time"] == datetime(2026, 11, 2, 10, 15, tzinfo=UTC)
    assert first["event_type"] == "click"
    assert second["user_id"] == "1234"  # integer ids are read as their text
    assert second["device"] is None and second["position"] is None


# One bad line per reason code, and the detail each must carry.
BAD_LINES: list[tuple[str, str, str]] = [
    ('{"event_id": "t1", "event_time": "2026-11-02T10:', reasons.MALFORMED_RECORD, "invalid JSON"),
    ("[1, 2, 3]", reasons.MALFORMED_RECORD, "not an object"),
    (json.dumps(good("w1", price="cheap")), reasons.WRONG_TYPE, "price: expected float"),
    (json.dumps(good("w2", position=-3)), reasons.WRONG_TYPE, "position"),
    (json.dumps(good("m1", user_id=None)), reasons.MISSING_FIELD, "missing user_id"),
    (json.dumps(good("m2", item_id=DROP, session_id="  ")), reasons.MISSING_FIELD, "session_id, item_id"),
    (json.dumps(good("l1", session_id="x" * 2000)), reasons.FIELD_TOO_LONG, "session_id has 2,000 bytes"),
    (json.dumps(good("t2", event_time="02/11/2026 10:00")), reasons.BAD_TIMESTAMP, "not ISO-8601"),
    (json.dumps(good("t3", event_time="2026-11-02T10:00:00")), reasons.BAD_TIMESTAMP, "with a zone"),
    (json.dumps(good("t4", event_time="2026-13-02T10:00:00Z")), reasons.BAD_TIMESTAMP, "2026-13-02"),
    (json.dumps(good("u1", event_type="wishlist")), reasons.UNKNOWN_EVENT_TYPE, "'wishlist'"),
    (json.dumps(good("p1", price=None)), reasons.MISSING_PRICE, "missing"),
    (json.dumps(good("p2", price=DROP)), reasons.MISSING_PRICE, "missing"),
    (json.dumps(good("p3", price=0)), reasons.BAD_PRICE, "price 0.0"),
    (json.dumps(good("p4", price=-12.5)), reasons.BAD_PRICE, "price -12.5"),
    ('{"event_id": "p5", "event_time": "2026-11-02T10:00:00Z", "user_id": "U", "session_id": "S", '
     '"item_id": "P", "event_type": "view", "price": NaN}', reasons.BAD_PRICE, "nan"),
    ('{"event_id": "p6", "event_time": "2026-11-02T10:00:00Z", "user_id": "U", "session_id": "S", '
     '"item_id": "P", "event_type": "view", "price": Infinity}', reasons.BAD_PRICE, "inf"),
    (json.dumps(good("k1", item_id="P-gone")), reasons.UNKNOWN_ITEM, "'P-gone' is not in the catalog"),
    (json.dumps(good("i1", event_time="2026-11-01T23:59:59Z")), reasons.BEFORE_INTERVAL, "before the"),
    (json.dumps(good("i2", event_time="2026-11-03T00:00:00Z")), reasons.AFTER_INTERVAL, "after the interval"),
    (json.dumps(good("i3", event_time="2027-01-01T00:00:00Z")), reasons.FUTURE_TIMESTAMP, "clock error"),
    (json.dumps(good("g1")), reasons.DUPLICATE_EVENT_ID, "'g1' already seen"),
]  # fmt: skip


def test_every_quarantine_reason_is_given_with_its_line_and_detail(settings: Settings) -> None:
    lines = [json.dumps(good("g1")), json.dumps(good("g2"))] + [line for line, _, _ in BAD_LINES]
    lines.append(json.dumps(good("g3")))
    export(settings, "events-10.jsonl", lines)
    report, events, quarantine = run(settings)

    assert [e["event_id"] for e in events] == ["g1", "g2", "g3"]  # no good row lost
    by_line = {row["line"]: row for row in quarantine}
    for offset, (line, reason, detail) in enumerate(BAD_LINES):
        row = by_line[offset + 3]
        assert row["reason"] == reason, line
        assert detail in row["detail"], (row["detail"], detail)
        assert row["raw"] == line
        assert row["source_file"].endswith("events-10.jsonl")
    assert report["quarantined"] == len(BAD_LINES)
    assert report["late_events"] == 1 and report["early_events"] == 2
    used = {reason for _, reason, _ in BAD_LINES}
    assert used == set(reasons.ALL_REASONS) - {reasons.DUPLICATE_ITEM_ID}


def test_duplicates_keep_the_first_valid_copy_across_files(settings: Settings) -> None:
    export(settings, "events-01.jsonl", [json.dumps(good("d1", price=-1)), json.dumps(good("d2"))])
    export(
        settings, "events-02.jsonl", [json.dumps(good("d1", price=5.0)), json.dumps(good("d2", price=7.0))]
    )
    _, events, quarantine = run(settings)
    kept = {e["event_id"]: e["price"] for e in events}
    assert kept == {"d1": 5.0, "d2": 349.0}  # d1's first copy was invalid, so the valid one stays
    assert sorted((q["source_file"][-8:], q["reason"]) for q in quarantine) == [
        ("01.jsonl", reasons.BAD_PRICE),
        ("02.jsonl", reasons.DUPLICATE_EVENT_ID),
    ]


def test_blank_lines_and_crlf_are_tolerated_and_line_numbers_stay_true(settings: Settings) -> None:
    data = b"\r\n".join(
        [json.dumps(good("a")).encode(), b"", b"   ", json.dumps(good("b", price=0)).encode()]
    )
    export(settings, "events-03.jsonl", data)
    _, events, quarantine = run(settings)
    assert [e["event_id"] for e in events] == ["a"]
    assert [(q["line"], q["reason"]) for q in quarantine] == [(4, reasons.BAD_PRICE)]


def test_invalid_utf8_is_quarantined_and_neighbours_kept(settings: Settings) -> None:
    bad = json.dumps(good("x")).encode().replace(b"mobile", b"mob\xff\xfeile")
    export(
        settings,
        "events-04.jsonl",
        b"\n".join([json.dumps(good("a")).encode(), bad, json.dumps(good("b")).encode()]),
    )
    _, events, quarantine = run(settings)
    assert [e["event_id"] for e in events] == ["a", "b"]
    assert quarantine[0]["reason"] == reasons.MALFORMED_RECORD and "UTF-8" in quarantine[0]["detail"]


def test_gzip_and_csv_exports_are_read_like_jsonl(settings: Settings) -> None:
    export(settings, "events-05.jsonl.gz", [json.dumps(good("z1"))])
    header = "event_id,event_time,user_id,session_id,item_id,event_type,price,device,placement,position"
    rows = [
        header,
        "c1,2026-11-02T12:00:00Z,U2,S2,P2,view,19.99,desktop,search,",
        "c2,2026-11-02T12:00:01Z,U2,S2,P2,cart,not-a-number,desktop,item,",
        "c3,2026-11-02T12:00:02Z,U2,S2,P2,purchase,19.99,desktop,item",
    ]
    export(settings, "events-06.csv.gz", rows)
    report, events, quarantine = run(settings)
    assert [e["event_id"] for e in events] == ["z1", "c1"]
    assert sorted(q["reason"] for q in quarantine) == [reasons.MALFORMED_RECORD, reasons.WRONG_TYPE]
    assert report["files"] == 2


def test_unknown_fields_are_ignored_and_reported(settings: Settings) -> None:
    export(settings, "events-07.jsonl", [json.dumps({**good("u"), "coupon": "XMAS", "ab_bucket": 3})])
    report, events, _ = run(settings)
    assert len(events) == 1
    assert report["unknown_fields"] == ["ab_bucket", "coupon"]


def test_events_need_the_days_catalog_first(settings: Settings) -> None:
    export(settings, "events-00.jsonl", [json.dumps(good("a"))])
    with pytest.raises(PartitionMissingError, match=r"catalog/dt=2026-11-02 is missing"):
        ingest_events(RunContext(DAY, settings))


def test_missing_landing_folder_fails_naming_path_and_date_and_writes_nothing(settings: Settings) -> None:
    with pytest.raises(LandingMissingError, match=r"2026-11-02.*landing/events/dt=2026-11-02"):
        ingest_events(RunContext(DAY, settings))
    assert not lake.has_partition(settings.lake_root, "events", DAY)


@pytest.mark.parametrize("content", [b"", b"\n\n", None])
def test_present_but_empty_export_is_a_valid_empty_day(settings: Settings, content: bytes | None) -> None:
    folder = settings.landing_root / "events" / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True)
    if content is not None:
        (folder / "events-00.jsonl").write_bytes(content)
    report, events, quarantine = run(settings)
    assert events == [] and quarantine == [] and report["events"] == 0
    table = lake.read_partition(settings.lake_root, "events", DAY)
    assert table.schema == EVENTS_SCHEMA


def test_corrupt_gzip_fails_with_the_file_named_and_keeps_the_old_partition(settings: Settings) -> None:
    export(settings, "events-08.jsonl", [json.dumps(good("ok"))])
    run(settings)
    whole = gzip.compress(b"".join(json.dumps(good(f"q{i}")).encode() + b"\n" for i in range(50)))
    folder = settings.landing_root / "events" / f"dt={DAY.isoformat()}"
    (folder / "events-09.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(LandingFormatError, match=r"events-09\.jsonl\.gz: corrupt gzip"):
        ingest_events(RunContext(DAY, settings))
    kept = lake.read_partition(settings.lake_root, "events", DAY).to_pylist()
    assert [e["event_id"] for e in kept] == ["ok"]


def test_rerunning_a_day_gives_the_same_partition(settings: Settings) -> None:
    lines = [json.dumps(good(f"r{i}", event_time=f"2026-11-02T{i % 24:02d}:00:00Z")) for i in range(200)]
    export(settings, "events-11.jsonl", [*lines, lines[5], "{broken"])
    first = run(settings)
    data_file = lake.partition_dir(settings.lake_root, "events", DAY) / lake.DATA_FILE
    first_bytes = data_file.read_bytes()
    second = run(settings)
    assert first == second
    assert data_file.read_bytes() == first_bytes


def test_events_are_sorted_by_time_then_id(settings: Settings) -> None:
    export(
        settings,
        "events-12.jsonl",
        [
            json.dumps(good("b", event_time="2026-11-02T09:00:00Z")),
            json.dumps(good("a", event_time="2026-11-02T09:00:00Z")),
            json.dumps(good("c", event_time="2026-11-02T08:00:00Z")),
        ],
    )
    _, events, _ = run(settings)
    assert [e["event_id"] for e in events] == ["c", "a", "b"]


def test_many_bad_lines_scattered_through_a_large_file_are_all_found(settings: Settings) -> None:
    lines = []
    for i in range(5000):
        lines.append("{oops" if i % 97 == 0 else json.dumps(good(f"n{i}")))
    export(settings, "events-13.jsonl", lines)
    report, events, quarantine = run(settings)
    bad = [i + 1 for i in range(5000) if i % 97 == 0]
    assert sorted(reasons_of(quarantine)) == bad
    assert len(events) == 5000 - len(bad)
    assert report["rows_read"] == 5000
