"""The taxonomy file: its counts, and the errors a broken definitions file gives."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from recsys.errors import RecsysError
from tagging.errors import TaxonomyError
from tagging.taxonomy import DEFAULT_DEFINITIONS, load_taxonomy, parse_taxonomy


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(DEFAULT_DEFINITIONS.read_text(encoding="utf-8"))


def broken(doc: dict[str, Any], edit: Any) -> str:
    """The TaxonomyError message for ``doc`` after ``edit`` changed a copy of it."""
    bad = copy.deepcopy(doc)
    edit(bad)
    with pytest.raises(TaxonomyError) as err:
        parse_taxonomy(bad, source="defs.json")
    return str(err.value)


def test_the_packaged_taxonomy_has_46_tags_in_10_dimensions_and_18_types() -> None:
    taxonomy = load_taxonomy()
    assert len(taxonomy.tags) == 46
    assert len(taxonomy.dimensions) == 10
    assert len(taxonomy.tag_types) == 18
    assert {t.dimension for t in taxonomy.tags} == {d.code for d in taxonomy.dimensions}
    assert {t.type for t in taxonomy.tags} == {t.code for t in taxonomy.tag_types}


def test_code_families_follow_the_scheme() -> None:
    families = Counter(t.code[:2] for t in load_taxonomy().tags)
    assert families == {
        "BA": 4,
        "CA": 6,
        "TV": 4,
        "US": 4,
        "TA": 4,
        "PP": 3,
        "DA": 3,
        "AU": 7,
        "GA": 4,
        "BR": 5,
        "MP": 2,
    }
    taxonomy = load_taxonomy()
    assert taxonomy.tag("GA004").name == "Backward compatible"
    assert [taxonomy.tag(c).name for c in ("BR001", "BR002", "BR003", "BR004", "BR005")] == [
        "Sony Alpha",
        "Sony FX (Cinema Line)",
        "Sony 1000X",
        "PlayStation",
        "Sony BRAVIA",
    ]


def test_every_tag_has_rules_a_business_value_and_a_description() -> None:
    for tag in load_taxonomy().tags:
        assert tag.rules, tag.code
        assert 0 <= tag.business_value.weight <= 1
        assert tag.business_value.use and tag.description


def test_price_position_and_tier_are_exclusive_types() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.tag_type("price_band").exclusive
    assert taxonomy.tag_type("tier").exclusive
    assert not taxonomy.tag_type("audience").exclusive


def test_a_wrong_type_names_the_tag_the_index_and_the_field(doc: dict[str, Any]) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["tags"][1]["rules"][0] = {
            "id": "BA002-x",
            "kind": "price_threshold",
            "op": ">",
            "threshold": "abc",
            "priority": 1,
            "confidence": 0.5,
        }

    message = broken(doc, edit)
    assert "tag BA002 (index 1): rules[0].threshold: 'abc' is not of type 'number'" in message
    assert "defs.json" in message


def test_a_missing_field_and_an_unknown_key_are_named(doc: dict[str, Any]) -> None:
    assert "tag AU001 (index " in broken(doc, lambda d: _tag(d, "AU001").pop("description"))
    message = broken(doc, lambda d: _tag(d, "TV001")["rules"][0].update(colour="red"))
    assert "tag TV001" in message and "colour" in message


def test_cross_references_are_checked(doc: dict[str, Any]) -> None:
    def unknown(d: dict[str, Any]) -> None:
        _tag(d, "TA003")["rules"][-1]["any_of"] = ["BR004", "ZZ999"]

    assert "unknown tag 'ZZ999'" in broken(doc, unknown)
    assert "duplicate tag code 'BA001'" in broken(doc, lambda d: d["tags"][1].update(code="BA001"))

    def dup_rule(d: dict[str, Any]) -> None:
        _tag(d, "BA002")["rules"][0]["id"] = "BA001-pct"

    assert "rule id 'BA001-pct' is also used by tag BA001" in broken(doc, dup_rule)
    assert "differs from the dimension" in broken(
        doc, lambda d: _tag(d, "AU001").update(dimension="compatibility")
    )


def test_bad_regexes_are_refused(doc: dict[str, Any]) -> None:
    def pattern(p: str) -> Any:
        return lambda d: _tag(d, "BR003")["rules"][0].update(pattern=p)

    assert "invalid regex" in broken(doc, pattern("wh-(1000"))
    assert "RE2" in broken(doc, pattern("wh(?=1000)"))
    assert ".*" in broken(doc, pattern("Alpha.*"))
    assert "empty string" in broken(doc, pattern("x?"))


def test_implied_tags_must_not_form_a_cycle(doc: dict[str, Any]) -> None:
    def cycle(d: dict[str, Any]) -> None:
        _tag(d, "BR004")["rules"].append(
            {"id": "BR004-loop", "kind": "implied", "any_of": ["TA003"], "priority": 1, "confidence": 0.5}
        )

    assert "cycle" in broken(doc, cycle)


def test_file_problems_are_taxonomy_errors(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "1",\n  "tags": [,]}')
    with pytest.raises(TaxonomyError, match=r"not valid JSON.*line 2"):
        load_taxonomy(bad)
    assert issubclass(TaxonomyError, RecsysError)


def _tag(doc: dict[str, Any], code: str) -> dict[str, Any]:
    for tag in doc["tags"]:
        if tag["code"] == code:
            return tag
    raise KeyError(code)


def test_docs_list_every_tag() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "tagging.md").read_text(encoding="utf-8")
    missing = [t.code for t in load_taxonomy().tags if f"| {t.code} |" not in page]
    assert not missing, f"docs/tagging.md lacks {missing}"
