"""Catalog ingestion: typing, defaults, quarantine reasons, multi-line fields."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from feature_store import lake
from recsys.errors import LandingMissingError
from recsys.settings import Settings, load_settings
from tasks.context import RunContext
from tasks.ingest import reasons
from tasks.ingest.catalog import CATALOG_SCHEMA, ingest_catalog

DAY = date(2026, 11, 2)
HEADER = "item_id,title,description,brand,category,price,currency,available,listed_date"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(lake_root=tmp_path / "lake", landing_root=tmp_path / "landing")


def drop(settings: Settings, text: str, name: str = "catalog.csv") -> None:
    folder = settings.landing_root / "catalog" / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_catalog_is_typed_with_defaults_and_multiline_descriptions(settings: Settings) -> None:
    drop(
        settings,
        "\n".join(
            [
                HEADER + ",warehouse",
                'P2,Sony WH-1000XM5 Wireless Headphones,"Industry-leading noise cancelling,\n'
                '30-hour battery, ""Hi-Res"" audio",Sony,headphones,399.99,usd,true,2026-10-01,A',
                "P1,Nintendo Switch OLED,,Nintendo,game_consoles,349,,,,B",
                "P3,Lens cap,,,accessories,9.5,EUR,0,2026-10-30,C",
            ]
        ),
    )
    report = ingest_catalog(RunContext(DAY, settings))
    table = lake.read_partition(settings.lake_root, "catalog", DAY)
    assert table.schema == CATALOG_SCHEMA
    rows = table.to_pylist()
    assert [r["item_id"] for r in rows] == ["P1", "P2", "P3"]
    p1, p2, p3 = rows
    assert p1["currency"] == "USD" and p1["available"] is True and p1["listed_date"] is None
    assert p1["description"] == "" and p3["brand"] == ""
    assert p2["description"].startswith("Industry-leading noise cancelling,\n30-hour")
    assert '"Hi-Res"' in p2["description"] and p2["currency"] == "USD"
    assert p3["available"] is False and p3["listed_date"] == date(2026, 10, 30)
    assert report["items"] == 3 and report["unknown_fields"] == ["warehouse"]


def test_bad_catalog_rows_are_quarantined_with_reasons(settings: Settings) -> None:
    drop(
        settings,
        "\n".join(
            [
                HEADER,
                "P1,Good TV,,LG,tvs,999,USD,true,2026-10-01",
                ",No id,,,tvs,10,USD,true,",
                "P2,,,,tvs,10,USD,true,",
                "P3,Free TV,,,tvs,0,USD,true,",
                "P4,Cheap TV,,,tvs,$12.99,USD,true,",
                "P5,No price TV,,,tvs,,USD,true,",
                "P6,Odd date TV,,,tvs,10,USD,true,01/10/2026",
                "P7,Maybe TV,,,tvs,10,USD,perhaps,",
                "P1,Good TV again,,LG,tvs,999,USD,true,",
                "P8,Short row",
            ]
        ),
    )
    report = ingest_catalog(RunContext(DAY, settings))
    kept = [r["item_id"] for r in lake.read_partition(settings.lake_root, "catalog", DAY).to_pylist()]
    assert kept == ["P1"]
    quarantine = lake.read_partition(settings.lake_root, "quarantine/catalog", DAY).to_pylist()
    found = sorted((q["reason"], q["detail"]) for q in quarantine)
    assert [reason for reason, _ in found] == sorted(
        [
            reasons.MISSING_FIELD,
            reasons.MISSING_FIELD,
            reasons.BAD_PRICE,
            reasons.WRONG_TYPE,
            reasons.MISSING_PRICE,
            reasons.WRONG_TYPE,
            reasons.WRONG_TYPE,
            reasons.DUPLICATE_ITEM_ID,
            reasons.MALFORMED_RECORD,
        ]
    )
    details = " | ".join(d for _, d in found)
    assert "price: expected float, got '$12.99'" in details
    assert "available: expected bool, got 'perhaps'" in details
    assert "listed_date '01/10/2026' is not YYYY-MM-DD" in details
    assert "'P1' already listed" in details
    assert report["quarantined"] == 9


def test_a_missing_required_column_quarantines_rows_rather_than_guessing(settings: Settings) -> None:
    drop(settings, "item_id,title,brand\nP1,Sony Alpha 7 IV,Sony\n")
    report = ingest_catalog(RunContext(DAY, settings))
    assert report["items"] == 0
    quarantine = lake.read_partition(settings.lake_root, "quarantine/catalog", DAY).to_pylist()
    assert [q["reason"] for q in quarantine] == [reasons.MISSING_PRICE]


def test_jsonl_catalog_is_accepted(settings: Settings) -> None:
    drop(
        settings, '{"item_id": 17, "title": "Xperia 1 VI", "price": 1399.0, "available": false}\n', "c.jsonl"
    )
    ingest_catalog(RunContext(DAY, settings))
    (row,) = lake.read_partition(settings.lake_root, "catalog", DAY).to_pylist()
    assert row["item_id"] == "17" and row["available"] is False


def test_missing_catalog_export_names_path_and_date(settings: Settings) -> None:
    with pytest.raises(LandingMissingError, match=r"catalog export for 2026-11-02"):
        ingest_catalog(RunContext(DAY, settings))


@pytest.mark.parametrize("bad_utf8", [False, True], ids=["pyarrow-path", "record-by-record-path"])
def test_a_10mb_description_is_quarantined_as_too_long(settings: Settings, bad_utf8: bool) -> None:
    broken = "caf\udcff" if bad_utf8 else "cafe"  # a lone surrogate: invalid UTF-8 once encoded
    rows = [
        HEADER,
        f"P1,Tripod {broken},,Sony,accessories,30,USD,true,",
        f'P2,Huge,"{"x" * 10_000_000}",,tvs,10,USD,,',
    ]
    folder = settings.landing_root / "catalog" / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True)
    (folder / "catalog.csv").write_bytes("\n".join(rows).encode("utf-8", "surrogateescape"))
    report = ingest_catalog(RunContext(DAY, settings))
    quarantine = lake.read_partition(settings.lake_root, "quarantine/catalog", DAY).to_pylist()
    found = {
        q["detail"].split(" ")[0] if q["reason"] == reasons.FIELD_TOO_LONG else q["reason"]
        for q in quarantine
    }
    assert "description" in found
    assert report["items"] == (0 if bad_utf8 else 1)
