"""Coverage, distribution, untagged items, the HTML report and user tag preferences."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tagging.analytics import (
    coverage_by_dimension,
    render_report,
    summarize,
    tag_distribution,
    untagged_items,
    user_tag_preferences,
)
from tagging.preferences import PreferenceInputError
from tagging.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
TAGS = pd.DataFrame(
    {
        "item_id": ["a", "a", "a", "b", "b"],
        "tag": ["PP002", "BA002", "AU002", "PP001", "AU002"],
        "dimension": [
            "price_positioning",
            "basic_attributes",
            "features_functions",
            "price_positioning",
            "features_functions",
        ],
        "confidence": [0.7, 0.7, 0.9, 0.7, 0.5],
        "rule_id": ["PP002-pct", "BA002-pct", "AU002-kw", "PP001-pct", "AU002-kw"],
        "evidence": ["e"] * 5,
    }
)


def test_coverage_distribution_and_untagged() -> None:
    cov = coverage_by_dimension(TAGS, 4, TAXONOMY)
    assert set(cov) == {d.code for d in TAXONOMY.dimensions}
    assert cov["price_positioning"] == 0.5 and cov["basic_attributes"] == 0.25 and cov["brand_series"] == 0.0
    dist = tag_distribution(TAGS, 4, TAXONOMY).set_index("tag")
    assert len(dist) == 46
    assert (
        dist.loc["AU002", "items"] == 2
        and dist.loc["AU002", "share"] == 0.5
        and dist.loc["BR001", "items"] == 0
    )
    assert untagged_items(TAGS, ["d", "a", "c", "b"]) == ["c", "d"]
    s = summarize(TAGS, ["a", "b", "c", "d"], TAXONOMY)
    assert (s.items, s.rows, s.coverage_any) == (4, 5, 0.5)
    assert s.coverage_price_position == 0.5 and s.coverage_basic_tier == 0.25


def test_empty_partition_summary() -> None:
    s = summarize(TAGS.iloc[:0], [], TAXONOMY)
    assert s.items == 0 and s.coverage_any == 0.0 and s.untagged == []


def test_report_is_self_contained_html_with_svg_charts() -> None:
    html = render_report(summarize(TAGS, ["a", "b", "c<script>"], TAXONOMY), "Tagging <test>")
    assert html.startswith("<!doctype html>")
    assert "<script" not in html and "Tagging &lt;test&gt;" in html and "c&lt;script&gt;" in html
    assert not re.search(r"(src|href)=", html), "no external resources"
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(charts) == 2
    for chart in charts:
        root = ET.fromstring(chart)  # well-formed SVG
        assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}rect")) > 0


def test_user_tag_preferences_decay_and_weights() -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    events = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2"],
            "item_id": ["a", "b", "a", "a", "b"],
            "event_type": ["click", "purchase", "impression", "cart", "click"],
            "event_time": [
                now,
                now - timedelta(days=7),
                now,
                now - timedelta(days=14),
                now + timedelta(hours=1),
            ],
        }
    )
    prefs = user_tag_preferences(events, TAGS, as_of=now, half_life_days=7)
    got = {(r.user_id, r.tag): r.weight for r in prefs.itertuples()}
    # u1: click on a now (1 x conf), purchase of b a half-life ago (5 x 0.5 x conf); impression ignored
    assert got[("u1", "AU002")] == pytest.approx(1 * 0.9 + 2.5 * 0.5)
    assert got[("u1", "PP002")] == pytest.approx(0.7)
    assert got[("u1", "PP001")] == pytest.approx(2.5 * 0.7)
    # u2: cart two half-lives ago; the click after as_of is ignored
    assert got[("u2", "AU002")] == pytest.approx(3 * 0.25 * 0.9)
    assert ("u2", "PP001") not in got
    assert list(prefs.columns) == ["user_id", "tag", "weight"]
    assert list(zip(prefs.user_id, prefs.tag, strict=True)) == sorted(
        zip(prefs.user_id, prefs.tag, strict=True)
    )
    custom = user_tag_preferences(events, TAGS, as_of=now, half_life_days=7, weights={"impression": 2.0})
    assert set(custom.user_id) == {"u1"}


def test_user_tag_preferences_input_checks() -> None:
    now = datetime(2026, 11, 2)
    with pytest.raises(ValueError, match="half_life_days"):
        user_tag_preferences(pd.DataFrame(), TAGS, as_of=now, half_life_days=0)
    with pytest.raises(PreferenceInputError, match="event_time"):
        user_tag_preferences(pd.DataFrame({"user_id": [], "item_id": [], "event_type": []}), TAGS, now, 7)
    empty = pd.DataFrame({"user_id": [], "item_id": [], "event_type": [], "event_time": []})
    assert user_tag_preferences(empty, TAGS, now, 7).empty
