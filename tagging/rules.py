"""The rule kinds as pure functions of a catalog partition, and the explanations they write.

Each function returns the rows a rule fires on and, for each row, a pointer into the
evidence pool; the engine turns those into offers. The ``*_evidence`` functions format one
explanation and are shared with the per-row baseline, so both write identical texts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from tagging.catalog import Items
from tagging.patterns import NEGATION_CUE, PY_FLAGS, SPECS
from tagging.prices import PricePositions, fixed_text
from tagging.store import CandidateStore, EvidencePool
from tagging.taxonomy import (
    AttributeRule,
    ImpliedRule,
    ListedWithinRule,
    PricePercentileRule,
    PriceThresholdRule,
    Rule,
    SpecRule,
    TextRule,
)

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_OPS: dict[str, Callable[[Any, float], Any]] = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
}


def rule_on_hits(rule: Rule, body: pa.Array, negated: Bools, field: str) -> tuple[Bools, list[str]]:
    """Which distinct hits satisfy ``rule``, and the evidence text for each one that does."""
    if isinstance(rule, SpecRule):
        spec = SPECS[rule.spec]
        found = pc.extract_regex(body, f"(?i)(?P<hit>{spec.pattern})")
        matched = found.is_valid().to_numpy(zero_copy_only=False)
        raw = pc.fill_null(found.field("value"), "")
        if spec.thousands:
            raw = pc.replace_substring_regex(raw, "[,.]", "")
        value = pc.cast(pc.if_else(pc.equal(raw, ""), None, raw), pa.float64()).to_numpy(zero_copy_only=False)
        ok = matched.copy()
        if rule.low is not None:
            ok &= np.nan_to_num(value, nan=-np.inf) >= rule.low
        if rule.high is not None:
            ok &= np.nan_to_num(value, nan=np.inf) <= rule.high
    else:
        assert isinstance(rule, TextRule)
        found = pc.extract_regex(body, f"(?i)(?P<hit>{rule.pattern})")
        ok = found.is_valid().to_numpy(zero_copy_only=False).copy()
        if rule.exclude:
            ok &= ~pc.match_substring_regex(body, rule.exclude, ignore_case=True).to_numpy(
                zero_copy_only=False
            )
    if rule.negation:
        ok &= ~negated
    if not ok.any():
        return ok, []
    chosen = np.flatnonzero(ok)
    texts = found.field("hit").take(pa.array(chosen)).to_pylist()
    if isinstance(rule, SpecRule):
        values = value[chosen]
        return ok, [spec_evidence(rule, t, float(v), field) for t, v in zip(texts, values, strict=True)]
    return ok, [text_evidence(t, field) for t in texts]


def first_unexcluded_hit(rule: TextRule, text: str) -> str | None:
    """The first hit of ``rule`` in ``text`` that overlaps none of its exclusions (and, for a
    rule that honours negation, is not negated); None when there is none."""
    excluded = [m.span() for m in _compiled(rule.exclude).finditer(text)] if rule.exclude else []
    for m in _compiled(f"(?P<neg>{NEGATION_CUE})?(?P<hit>{rule.pattern})").finditer(text):
        if m.group("neg") and rule.negation:
            continue
        start, end = m.span("hit")
        if not any(s < end and start < e for s, e in excluded):
            return m.group("hit")
    return None


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, PY_FLAGS)


def text_evidence(matched: str, field: str) -> str:
    """``matched 'WH-1000XM5' in title``."""
    return f"matched '{matched}' in {field}"


def spec_evidence(rule: SpecRule, matched: str, value: float, field: str) -> str:
    """``matched '65"' in title: screen size 65 in >= 65``."""
    spec = SPECS[rule.spec]
    bounds = []
    if rule.low is not None:
        bounds.append(f">= {rule.low:g}")
    if rule.high is not None:
        bounds.append(f"<= {rule.high:g}")
    return f"{text_evidence(matched, field)}: {spec.label} {value:g} {spec.unit} {' and '.join(bounds)}"


def price_threshold(rule: PriceThresholdRule, items: Items, pool: EvidencePool) -> tuple[Ints, Ints]:
    in_currency = items.currency_mask(rule.currency)
    price = items.price
    with np.errstate(invalid="ignore"):
        hit = items.priced & in_currency & _OPS[rule.op](price, rule.threshold)
    rows = np.flatnonzero(hit)
    uniq, inverse = np.unique(price[rows], return_inverse=True)
    offset = pool.add([threshold_evidence(rule, float(p)) for p in uniq])
    return rows, offset + inverse.astype(np.int64)


def threshold_evidence(rule: PriceThresholdRule, price: float) -> str:
    """``price 5499.00 USD > 5000``."""
    return f"price {fixed_text(price, 2)} {rule.currency} {rule.op} {rule.threshold:g}"


def price_percentile(
    rule: PricePercentileRule, positions: PricePositions, evidence_offset: int
) -> tuple[Ints, Ints]:
    pct = positions.pct
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero((pct >= rule.low) & (pct < rule.high))
    return rows, evidence_offset + rows


def attribute(rule: AttributeRule, items: Items, pool: EvidencePool) -> tuple[Ints, Ints]:
    keep = items.filter_mask(rule.categories, rule.brands)
    rows = np.arange(items.n, dtype=np.int64) if keep is None else np.flatnonzero(keep)
    key = items.brand_codes[rows] * (len(items.categories) + 1) + items.category_codes[rows]
    uniq, inverse = np.unique(key, return_inverse=True)
    texts = []
    for value in uniq:
        b, c = divmod(int(value), len(items.categories) + 1)
        texts.append(attribute_evidence(rule, items.brands[b], items.categories[c]))
    offset = pool.add(texts)
    return rows, offset + inverse.astype(np.int64)


def attribute_evidence(rule: AttributeRule, brand: str, category: str) -> str:
    """``brand 'sony', category 'tvs'`` (the kind's own attribute first)."""
    parts = []
    if rule.kind == "brand" or rule.brands:
        parts.append(f"brand '{brand}'")
    if rule.kind == "category" or rule.categories:
        parts.append(f"category '{category}'")
    if rule.kind == "category":
        parts.reverse()
    return ", ".join(parts)


def listed_within(
    rule: ListedWithinRule, items: Items, pool: EvidencePool, as_of: date | None
) -> tuple[Ints, Ints]:
    listed = items.listed
    known = ~np.isnat(listed)
    if not known.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ref = np.datetime64(as_of, "D") if as_of is not None else listed[known].max()
    age = (ref - listed).astype("timedelta64[D]").astype(np.int64)
    rows = np.flatnonzero(known & (age >= 0) & (age <= rule.days))
    uniq, inverse = np.unique(listed[rows], return_inverse=True)
    ref_day = ref.astype(date)
    texts = [listed_evidence(d.astype(date), ref_day, rule.days) for d in uniq]
    offset = pool.add(texts)
    return rows, offset + inverse.astype(np.int64)


def listed_evidence(listed: date, as_of: date, days: int) -> str:
    """``listed 2026-10-30, 3 days before 2026-11-02 (within 30)``."""
    age = (as_of - listed).days
    return f"listed {listed.isoformat()}, {age} days before {as_of.isoformat()} (within {days})"


def implied(
    rule: ImpliedRule, store: CandidateStore, tag_index: dict[str, int], pool: EvidencePool
) -> tuple[Ints, Ints, npt.NDArray[np.float64]]:
    n = store.assigned.shape[1]
    present = np.ones(n, dtype=bool)
    source_conf = np.ones(n, dtype=np.float64)
    for code in rule.all_of:
        t = tag_index[code]
        present &= store.assigned[t]
        source_conf = np.minimum(source_conf, store.confidence(t))
    choice = np.zeros(n, dtype=np.int64)
    if rule.any_of:
        chosen = np.zeros(n, dtype=bool)
        any_conf = np.zeros(n, dtype=np.float64)
        for j, code in enumerate(rule.any_of):
            t = tag_index[code]
            first = store.assigned[t] & ~chosen
            choice[first] = j
            any_conf[first] = store.confidence(t)[first]
            chosen |= first
        present &= chosen
        source_conf = np.minimum(source_conf, any_conf)
    rows = np.flatnonzero(present)
    texts = [implied_evidence(rule, j) for j in range(max(len(rule.any_of), 1))]
    offset = pool.add(texts)
    conf = rule.confidence * source_conf[rows]
    return rows, offset + choice[rows], conf


def implied_evidence(rule: ImpliedRule, any_index: int) -> str:
    """``implied by BR004`` or ``implied by PP003 + BR001``."""
    sources = list(rule.all_of) + ([rule.any_of[any_index]] if rule.any_of else [])
    return "implied by " + " + ".join(sources)
