"""Property-based tests: tagging is deterministic, explained, order-free, and equals the per-row baseline."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.tagging_rowwise import RowwiseTagger
from tagging.engine import TagEngine
from tagging.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
ENGINE = TagEngine(TAXONOMY, workers=2, chunk_rows=4)
RULE_IDS = {r.id for r in TAXONOMY.rules}
DIMENSION = {t.code: t.dimension for t in TAXONOMY.tags}
EXCLUSIVE = {t.code for t in TAXONOMY.tag_types if t.exclusive}

FRAGMENTS = [
    "Sony",
    "WH-1000XM5",
    "Alpha 7 IV",
    "α7R V",
    "ILCE-7M4",
    "FX3",
    "PlayStation 5",
    "BRAVIA",
    'Sony 65"',
    "65-inch",
    "55 in",
    "4K",
    "8K",
    "OLED",
    "HDR10",
    "120Hz",
    "33MP",
    "24MP",
    "5000 mAh",
    "full-frame",
    "APS-C",
    "wireless",
    "not wireless",
    "Bluetooth",
    "noise cancelling",
    "without noise cancelling",
    "ANC",
    "no ANC",
    "Hi-Res Audio",
    "LDAC",
    "weather-sealed",
    "lightweight",
    "minimalist design",
    "professional",
    "for gamers",
    "for business",
    "backward compatible",
    "portable",
    "travel",
    "E-mount",
    "SEL2470GM",
    "G Master",
    "GM",
    "flagship",
    "Alexa",
    "for iPhone",
    "Windows 11 Professional",
    "2.8K",
    "cable",
    "black",
    "-",
    ",",
    "™",
]
CATEGORIES = [
    "cameras",
    "lenses",
    "headphones",
    "speakers",
    "tvs",
    "game_consoles",
    "phones",
    "laptops",
    "accessories",
    None,
]
BRANDS = ["Sony", "sony®", "LG", "Samsung", "Acme", None]

text = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map(" ".join)
item = st.fixed_dictionaries(
    {
        "title": text,
        "description": st.one_of(st.none(), text),
        "brand": st.sampled_from(BRANDS),
        "category": st.sampled_from(CATEGORIES),
        "price": st.one_of(
            st.none(), st.sampled_from([9.99, 49.0, 100.0, 399.0, 1299.0, 5499.0]), st.floats(1, 10_000)
        ),
        "currency": st.sampled_from(["USD", "USD", "JPY", None]),
    }
)
catalogs = st.lists(item, min_size=1, max_size=12).map(
    lambda rows: pd.DataFrame([{"item_id": f"it{i:02d}", **r} for i, r in enumerate(rows)])
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def as_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in frame.astype({"confidence": "float64"}).round({"confidence": 6}).itertuples(index=False)
    ]


@SETTINGS
@given(catalogs)
def test_tagging_is_deterministic(frame: pd.DataFrame) -> None:
    assert as_rows(ENGINE.tag(frame)) == as_rows(ENGINE.tag(frame))


@SETTINGS
@given(catalogs)
def test_every_tag_is_explained(frame: pd.DataFrame) -> None:
    out = ENGINE.tag(frame)
    for r in out.itertuples(index=False):
        assert r.rule_id in RULE_IDS
        assert isinstance(r.evidence, str) and r.evidence.strip()
        assert 0 < r.confidence <= 1
        assert r.dimension == DIMENSION[r.tag]


@SETTINGS
@given(catalogs, st.randoms(use_true_random=False))
def test_input_row_order_does_not_matter(frame: pd.DataFrame, rnd: Any) -> None:
    order = list(range(len(frame)))
    rnd.shuffle(order)
    assert as_rows(ENGINE.tag(frame.iloc[order])) == as_rows(ENGINE.tag(frame))


@SETTINGS
@given(catalogs)
def test_exclusive_types_hold_at_most_one_tag(frame: pd.DataFrame) -> None:
    out = ENGINE.tag(frame)
    types = out["tag"].map(lambda c: TAXONOMY.tag(c).type)
    per_type = out.assign(type=types)[types.isin(EXCLUSIVE)].groupby(["item_id", "type"]).size()
    assert (per_type <= 1).all()
    priced = frame.loc[frame["price"].notna(), "item_id"]
    for dimension in ("price_positioning", "basic_attributes"):
        have = set(out.loc[out["dimension"] == dimension, "item_id"])
        assert set(priced) <= have


@SETTINGS
@given(catalogs)
def test_engine_equals_the_per_row_baseline(frame: pd.DataFrame) -> None:
    assert as_rows(ENGINE.tag(frame)) == as_rows(RowwiseTagger(TAXONOMY).tag(frame))
