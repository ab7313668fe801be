"""The tag taxonomy: load ``product_tag_definitions.json``, validate it, and type it.

Validation has two layers: the JSON Schema beside the file (shapes and types), then the
cross-references the schema cannot express (unknown codes, duplicate ids, cycles of implied
tags, regexes that Python or RE2 cannot compile). Both raise ``TaxonomyError`` with a
message naming the bad entry, e.g. ``tag BA002 (index 1): rules[0].threshold: 'abc' is not
of type 'number'``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.compute as pc

from tagging.errors import TaxonomyError
from tagging.patterns import PY_FLAGS, SPECS, keyword_pattern

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_DEFINITIONS = PACKAGE_DIR / "product_tag_definitions.json"
SCHEMA_PATH = PACKAGE_DIR / "product_tag_definitions.schema.json"

TEXT_FIELDS = ("title", "description")


@dataclass(frozen=True)
class Dimension:
    code: str
    name: str
    description: str


@dataclass(frozen=True)
class TagType:
    code: str
    dimension: str
    exclusive: bool
    description: str


@dataclass(frozen=True)
class Rule:
    """What every rule has. ``tags`` is the owning tag followed by the ``also`` tags."""

    id: str
    kind: str
    tags: tuple[str, ...]
    priority: int
    confidence: float
    categories: frozenset[str] | None
    brands: frozenset[str] | None


@dataclass(frozen=True)
class PriceThresholdRule(Rule):
    op: str
    threshold: float
    currency: str


@dataclass(frozen=True)
class PricePercentileRule(Rule):
    low: float
    high: float
    group_by: str
    min_group_size: int


@dataclass(frozen=True)
class TextRule(Rule):
    """A keyword or regex rule; keyword terms are already compiled into ``pattern``."""

    pattern: str
    fields: tuple[str, ...]
    negation: bool
    exclude: str | None


@dataclass(frozen=True)
class SpecRule(Rule):
    spec: str
    low: float | None
    high: float | None
    fields: tuple[str, ...]
    negation: bool


@dataclass(frozen=True)
class AttributeRule(Rule):
    """A brand or category rule: it fires on its filters alone."""


@dataclass(frozen=True)
class ListedWithinRule(Rule):
    days: int


@dataclass(frozen=True)
class ImpliedRule(Rule):
    any_of: tuple[str, ...]
    all_of: tuple[str, ...]


@dataclass(frozen=True)
class BusinessValue:
    weight: float
    use: str


@dataclass(frozen=True)
class Tag:
    code: str
    name: str
    dimension: str
    type: str
    description: str
    business_value: BusinessValue
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Taxonomy:
    """A validated taxonomy.

    Tags keep file order; ``codes`` is sorted (the output order); ``groups`` is the order in
    which the engine settles tags (see ``_evaluation_groups``).
    """

    version: str
    dimensions: tuple[Dimension, ...]
    tag_types: tuple[TagType, ...]
    tags: tuple[Tag, ...]
    source: str
    groups: tuple[tuple[str, ...], ...]

    @property
    def codes(self) -> list[str]:
        return sorted(t.code for t in self.tags)

    def tag(self, code: str) -> Tag:
        for t in self.tags:
            if t.code == code:
                return t
        raise KeyError(code)

    def tag_type(self, code: str) -> TagType:
        for t in self.tag_types:
            if t.code == code:
                return t
        raise KeyError(code)

    @property
    def rules(self) -> list[Rule]:
        """All rules in file order."""
        return [r for t in self.tags for r in t.rules]


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read and validate a tag definitions file (the packaged one by default).

    Raises:
        TaxonomyError: the file is missing, not JSON, breaks the schema or a cross-reference;
            the message names the file and the bad entry.
    """
    source = Path(path) if path is not None else DEFAULT_DEFINITIONS
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"cannot read tag definitions {source}: {exc.strerror}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaxonomyError(
            f"tag definitions {source} are not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    return parse_taxonomy(doc, source=str(source))


def parse_taxonomy(doc: Any, source: str = "<memory>") -> Taxonomy:
    """Validate an already parsed definitions document; see ``load_taxonomy``."""
    problem = _schema_problem(doc)
    if problem is not None:
        raise TaxonomyError(f"invalid tag definitions {source}: {problem}")
    try:
        return _build(doc, source)
    except _DefinitionError as exc:
        raise TaxonomyError(f"invalid tag definitions {source}: {exc}") from None


def _schema_problem(doc: Any) -> str | None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    if not errors:
        return None
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{_where(doc, list(first.absolute_path))}: {first.message}{more}"


def _where(doc: Any, path: Sequence[Any]) -> str:
    """``tag BA002 (index 1): rules[0].threshold`` for a path into the document."""
    if len(path) >= 2 and path[0] == "tags" and isinstance(path[1], int):
        index = path[1]
        code = None
        tags = doc.get("tags") if isinstance(doc, Mapping) else None
        if isinstance(tags, list) and index < len(tags) and isinstance(tags[index], Mapping):
            raw = tags[index].get("code")
            code = raw if isinstance(raw, str) else None
        head = f"tag {code} (index {index})" if code else f"tag at index {index}"
        rest = _dotted(path[2:])
        return f"{head}: {rest}" if rest else head
    return _dotted(path) or "document"


def _dotted(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _DefinitionError(Exception):
    """A cross-reference problem; turned into TaxonomyError with the source."""


def _build(doc: Mapping[str, Any], source: str) -> Taxonomy:
    dimensions = tuple(Dimension(d["code"], d["name"], d["description"]) for d in doc["dimensions"])
    _unique([d.code for d in dimensions], "dimensions", "dimension code")
    dim_codes = {d.code for d in dimensions}
    types = tuple(
        TagType(t["code"], t["dimension"], bool(t["exclusive"]), t["description"]) for t in doc["tag_types"]
    )
    _unique([t.code for t in types], "tag_types", "tag type code")
    for i, t in enumerate(types):
        if t.dimension not in dim_codes:
            raise _DefinitionError(
                f"tag_types[{i}].dimension: unknown dimension {t.dimension!r} (type {t.code})"
            )
    type_dim = {t.code: t.dimension for t in types}

    raw_tags: list[Mapping[str, Any]] = list(doc["tags"])
    codes = [t["code"] for t in raw_tags]
    _unique(codes, "tags", "tag code")
    known = set(codes)
    rule_ids: dict[str, str] = {}
    tags: list[Tag] = []
    for index, raw in enumerate(raw_tags):
        where = f"tag {raw['code']} (index {index})"
        if raw["type"] not in type_dim:
            raise _DefinitionError(f"{where}: type: unknown tag type {raw['type']!r}")
        if raw["dimension"] != type_dim[raw["type"]]:
            raise _DefinitionError(
                f"{where}: dimension: {raw['dimension']!r} differs from the dimension "
                f"{type_dim[raw['type']]!r} of its type {raw['type']!r}"
            )
        rules = []
        for r_index, raw_rule in enumerate(raw["rules"]):
            rule_where = f"{where}: rules[{r_index}]"
            rid = raw_rule["id"]
            if rid in rule_ids:
                raise _DefinitionError(
                    f"{rule_where}.id: rule id {rid!r} is also used by tag {rule_ids[rid]}"
                )
            rule_ids[rid] = raw["code"]
            rules.append(_rule(raw_rule, raw["code"], known, rule_where))
        value = raw["business_value"]
        tags.append(
            Tag(
                code=raw["code"],
                name=raw["name"],
                dimension=raw["dimension"],
                type=raw["type"],
                description=raw["description"],
                business_value=BusinessValue(float(value["weight"]), value["use"]),
                rules=tuple(rules),
            )
        )
    groups = _evaluation_groups(tags, types)
    return Taxonomy(str(doc["version"]), dimensions, types, tuple(tags), source, groups)


def _unique(values: list[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise _DefinitionError(f"{where}[{i}].code: duplicate {what} {v!r}")
        seen.add(v)


def _rule(raw: Mapping[str, Any], owner: str, known: set[str], where: str) -> Rule:
    also = tuple(raw.get("also", ()))
    for field in ("also", "any_of", "all_of"):
        for code in raw.get(field, ()):
            if code not in known:
                raise _DefinitionError(f"{where}.{field}: unknown tag {code!r}")
            if code == owner:
                raise _DefinitionError(f"{where}.{field}: a rule of {owner} cannot name {owner} itself")
    common: dict[str, Any] = {
        "id": raw["id"],
        "kind": raw["kind"],
        "tags": (owner, *also),
        "priority": int(raw["priority"]),
        "confidence": float(raw["confidence"]),
        "categories": _lower_set(raw.get("categories")),
        "brands": _lower_set(raw.get("brands")),
    }
    kind = raw["kind"]
    fields = tuple(raw.get("fields", TEXT_FIELDS))
    negation = bool(raw.get("negation", True))
    if kind == "price_threshold":
        return PriceThresholdRule(
            **common, op=raw["op"], threshold=float(raw["threshold"]), currency=raw.get("currency", "USD")
        )
    if kind == "price_percentile":
        if not raw["min"] < raw["max"]:
            raise _DefinitionError(f"{where}: min {raw['min']} must be below max {raw['max']}")
        return PricePercentileRule(
            **common,
            low=float(raw["min"]),
            high=float(raw["max"]),
            group_by=raw.get("group_by", "category"),
            min_group_size=int(raw.get("min_group_size", 5)),
        )
    if kind in ("keyword", "regex"):
        pattern = (
            keyword_pattern(list(raw["terms"]), list(raw.get("patterns", [])))
            if kind == "keyword"
            else raw["pattern"]
        )
        _check_regex(pattern, f"{where}.{'terms/patterns' if kind == 'keyword' else 'pattern'}")
        exclude = None
        if raw.get("exclude") or raw.get("exclude_patterns"):
            exclude = keyword_pattern(list(raw.get("exclude", [])), list(raw.get("exclude_patterns", [])))
            _check_regex(exclude, f"{where}.exclude")
        return TextRule(**common, pattern=pattern, fields=fields, negation=negation, exclude=exclude)
    if kind == "spec":
        low, high = raw.get("min"), raw.get("max")
        if low is not None and high is not None and low > high:
            raise _DefinitionError(f"{where}: min {low} must not exceed max {high}")
        return SpecRule(
            **common,
            spec=raw["spec"],
            low=None if low is None else float(low),
            high=None if high is None else float(high),
            fields=fields,
            negation=negation,
        )
    if kind in ("brand", "category"):
        return AttributeRule(**common)
    if kind == "listed_within":
        return ListedWithinRule(**common, days=int(raw["days"]))
    return ImpliedRule(**common, any_of=tuple(raw.get("any_of", ())), all_of=tuple(raw.get("all_of", ())))


def _lower_set(values: list[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(v.strip().lower() for v in values)


_RUNAWAY = re.compile(r"(?<!\\)\.[*+]")


def _check_regex(pattern: str, where: str) -> None:
    """The pattern must compile in Python and in RE2, match something, and stay short.

    All text rules share one scan, so a pattern that runs on (``.*``) would swallow the hits
    of every other rule after it; named groups would clash inside that shared scan.
    """
    if _RUNAWAY.search(pattern):
        raise _DefinitionError(
            f"{where}: regex {pattern!r} uses .* or .+; match the feature itself (e.g. \\w* or .{{0,20}})"
        )
    if "(?P<" in pattern:
        raise _DefinitionError(f"{where}: regex {pattern!r} has a named group; use (?:...)")
    try:
        compiled = re.compile(pattern, PY_FLAGS)
    except re.error as exc:
        raise _DefinitionError(f"{where}: invalid regex {pattern!r}: {exc}") from None
    if compiled.fullmatch(""):
        raise _DefinitionError(f"{where}: regex {pattern!r} matches the empty string")
    try:
        pc.match_substring_regex(pa.array(["x"]), pattern, ignore_case=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _DefinitionError(
            f"{where}: regex {pattern!r} is not valid in RE2 (used by the engine): {exc}"
        ) from None


def _evaluation_groups(tags: list[Tag], types: tuple[TagType, ...]) -> tuple[tuple[str, ...], ...]:
    """Groups of tags in the order the engine settles them.

    A group is all tags of an exclusive type (they are settled together) or a single tag.
    A group comes after every group its implied rules read from, so one pass is enough.

    Raises:
        _DefinitionError: the implied rules form a cycle (through exclusive types, too).
    """
    exclusive = {t.code for t in types if t.exclusive}
    group_of: dict[str, str] = {t.code: (f"type {t.type}" if t.type in exclusive else t.code) for t in tags}
    members: dict[str, list[str]] = {}
    for t in tags:
        members.setdefault(group_of[t.code], []).append(t.code)
    needs: dict[str, set[str]] = {g: set() for g in members}
    for t in tags:
        for r in t.rules:
            if isinstance(r, ImpliedRule):
                for target in r.tags:
                    needs[group_of[target]].update(group_of[s] for s in r.any_of + r.all_of)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(group: str, trail: list[str]) -> None:
        if state.get(group) == 2:
            return
        if state.get(group) == 1:
            cycle = " -> ".join([*trail[trail.index(group) :], group])
            raise _DefinitionError(f"implied tags form a cycle: {cycle}")
        state[group] = 1
        for dep in sorted(needs[group]):
            visit(dep, [*trail, group])
        state[group] = 2
        order.append(group)

    for group in sorted(members):
        visit(group, [])
    return tuple(tuple(sorted(members[g])) for g in order)


def spec_parser_names() -> list[str]:
    """Spec names a ``spec`` rule may use."""
    return sorted(SPECS)
