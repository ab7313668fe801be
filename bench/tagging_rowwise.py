"""The per-row baseline: the same taxonomy and rules as ``tagging.engine``, one item at a time.

This is the straightforward way to write a rule engine (a Python loop over items, and for
each item a loop over rules with precompiled ``re`` patterns), kept to measure what the
vectorised engine buys and to check that both give the same tags. It follows the engine's
order of offers exactly (title matches, then description matches, then catalog rules,
then implied tags group by group), so even ties resolve the same way.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from tagging.patterns import NEGATION_CUE, PY_FLAGS, SPECS
from tagging.prices import percentile_evidence
from tagging.rules import (
    attribute_evidence,
    implied_evidence,
    listed_evidence,
    spec_evidence,
    text_evidence,
    threshold_evidence,
)
from tagging.store import CONFIDENCE_STEPS
from tagging.taxonomy import (
    AttributeRule,
    ImpliedRule,
    ListedWithinRule,
    PricePercentileRule,
    PriceThresholdRule,
    Rule,
    SpecRule,
    Taxonomy,
    TextRule,
)

_TRADEMARKS = re.compile("[™®©]")
_OPS = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}


@dataclass
class _Offer:
    score: int
    rule: int
    evidence: str


def _score(priority: int, confidence: float) -> int:
    return priority * (CONFIDENCE_STEPS + 1) + max(round(confidence * CONFIDENCE_STEPS), 1)


def _confidence(score: int) -> float:
    return float(np.float32(score % (CONFIDENCE_STEPS + 1) / CONFIDENCE_STEPS))


def _label(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return _TRADEMARKS.sub("", str(value)).lower().strip()


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


class RowwiseTagger:
    """Tags a catalog item by item; see the module docstring."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.rules: list[Rule] = taxonomy.rules
        self.codes = taxonomy.codes
        self.exclusive = {t.code for t in taxonomy.tag_types if t.exclusive}
        self.compiled: dict[int, re.Pattern[str]] = {}
        self.excluded: dict[int, re.Pattern[str]] = {}
        for k, rule in enumerate(self.rules):
            if isinstance(rule, TextRule):
                self.compiled[k] = re.compile(f"(?P<neg>{NEGATION_CUE})?(?P<hit>{rule.pattern})", PY_FLAGS)
                if rule.exclude:
                    self.excluded[k] = re.compile(rule.exclude, PY_FLAGS)
            elif isinstance(rule, SpecRule):
                pattern = SPECS[rule.spec].pattern
                self.compiled[k] = re.compile(f"(?P<neg>{NEGATION_CUE})?(?P<hit>{pattern})", PY_FLAGS)

    def tag(self, catalog: pd.DataFrame, as_of: date | None = None) -> pd.DataFrame:
        """Same output as ``TagEngine.tag``."""
        frame = catalog.sort_values("item_id", kind="stable")
        records: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
        for r in records:
            r["_brand"] = _label(r.get("brand"))
            r["_category"] = _label(r.get("category"))
            cur = _text(r.get("currency")).strip().upper()
            r["_currency"] = cur or "USD"
            price = r.get("price")
            r["_price"] = float(price) if price is not None and not pd.isna(price) else math.nan
            listed = r.get("listed_date")
            r["_listed"] = None if listed is None or pd.isna(listed) else pd.Timestamp(listed).date()
        if as_of is None:
            days = [r["_listed"] for r in records if r["_listed"] is not None]
            as_of = max(days) if days else None
        groups = self._price_groups(records)
        out: list[tuple[str, str, str, float, str, str]] = []
        for r in records:
            out.extend(self._tag_one(r, groups, as_of))
        return pd.DataFrame(out, columns=["item_id", "tag", "dimension", "confidence", "rule_id", "evidence"])

    def _price_groups(self, records: list[dict[str, Any]]) -> dict[tuple[str, str], list[float]]:
        """Sorted prices per (category, currency) and per ("", currency) for the whole partition."""
        groups: dict[tuple[str, str], list[float]] = {}
        for r in records:
            p = r["_price"]
            if math.isfinite(p) and p > 0:
                groups.setdefault((r["_category"], r["_currency"]), []).append(p)
                groups.setdefault(("\0all", r["_currency"]), []).append(p)
        for prices in groups.values():
            prices.sort()
        return groups

    def _passes(self, rule: Rule, r: dict[str, Any]) -> bool:
        if rule.categories is not None and r["_category"] not in rule.categories:
            return False
        return rule.brands is None or r["_brand"] in rule.brands

    def _tag_one(
        self, r: dict[str, Any], groups: dict[tuple[str, str], list[float]], as_of: date | None
    ) -> list[tuple[str, str, str, float, str, str]]:
        offers: dict[str, _Offer] = {}

        def offer(rule_index: int, evidence: str, score: int | None = None) -> None:
            rule = self.rules[rule_index]
            if not self._passes(rule, r):
                return
            s = _score(rule.priority, rule.confidence) if score is None else score
            for code in rule.tags:
                current = offers.get(code)
                if current is None or s > current.score:
                    offers[code] = _Offer(s, rule_index, evidence)

        done: set[int] = set()
        for field in ("title", "description"):
            text = _text(r.get(field))
            for k in self.compiled:
                rule = self.rules[k]
                assert isinstance(rule, TextRule | SpecRule)
                if field not in rule.fields or k in done:
                    continue
                evidence = self._first_match(k, text, field)
                if evidence is not None:
                    done.add(k)
                    offer(k, evidence)
        for k, rule in enumerate(self.rules):
            evidence = self._catalog_rule(rule, r, groups, as_of)
            if evidence is not None:
                offer(k, evidence)
        assigned: dict[str, _Offer] = {}
        for group in self.taxonomy.groups:
            for code in group:
                for k, rule in enumerate(self.rules):
                    if isinstance(rule, ImpliedRule) and code in rule.tags:
                        self._implied(k, rule, code, assigned, offers, r)
            best: str | None = None
            for code in group:
                if code in offers and (best is None or offers[code].score > offers[best].score):
                    best = code
                if code in offers and self.taxonomy.tag(code).type not in self.exclusive:
                    assigned[code] = offers[code]
            if best is not None and self.taxonomy.tag(best).type in self.exclusive:
                assigned[best] = offers[best]
        return [
            (
                str(r["item_id"]),
                code,
                self.taxonomy.tag(code).dimension,
                _confidence(assigned[code].score),
                self.rules[assigned[code].rule].id,
                assigned[code].evidence,
            )
            for code in sorted(assigned)
        ]

    def _first_match(self, k: int, text: str, field: str) -> str | None:
        rule = self.rules[k]
        assert isinstance(rule, TextRule | SpecRule)
        spans = [e.span() for e in self.excluded[k].finditer(text)] if k in self.excluded else []
        for m in self.compiled[k].finditer(text):
            if m.group("neg") and rule.negation:
                continue
            start, end = m.span("hit")
            if any(s < end and start < e for s, e in spans):
                continue
            if isinstance(rule, SpecRule):
                spec = SPECS[rule.spec]
                raw = m.group("value")
                value = float(re.sub("[,.]", "", raw) if spec.thousands else raw)
                if (rule.low is not None and value < rule.low) or (
                    rule.high is not None and value > rule.high
                ):
                    continue
                return spec_evidence(rule, m.group("hit"), value, field)
            return text_evidence(m.group("hit"), field)
        return None

    def _catalog_rule(
        self, rule: Rule, r: dict[str, Any], groups: dict[tuple[str, str], list[float]], as_of: date | None
    ) -> str | None:
        price = r["_price"]
        priced = math.isfinite(price) and price > 0
        if isinstance(rule, PriceThresholdRule):
            if priced and r["_currency"] == rule.currency and _OPS[rule.op](price, rule.threshold):
                return threshold_evidence(rule, price)
            return None
        if isinstance(rule, PricePercentileRule):
            if not priced:
                return None
            key = (r["_category"], r["_currency"])
            label = f"category '{r['_category']}'"
            if rule.group_by != "category" or len(groups[key]) < rule.min_group_size:
                key = ("\0all", r["_currency"])
                label = f"all {r['_currency']} items"
            prices = groups[key]
            below = bisect.bisect_left(prices, price)
            upto = bisect.bisect_right(prices, price)
            pct = (below + (upto - below) / 2) / len(prices)
            if rule.low <= pct < rule.high:
                return percentile_evidence(price, r["_currency"], pct, label, len(prices))
            return None
        if isinstance(rule, AttributeRule):
            return attribute_evidence(rule, r["_brand"], r["_category"])
        if isinstance(rule, ListedWithinRule):
            listed = r["_listed"]
            if listed is None or as_of is None:
                return None
            age = (as_of - listed).days
            return listed_evidence(listed, as_of, rule.days) if 0 <= age <= rule.days else None
        return None

    def _implied(
        self,
        k: int,
        rule: ImpliedRule,
        code: str,
        assigned: dict[str, _Offer],
        offers: dict[str, _Offer],
        r: dict[str, Any],
    ) -> None:
        if not all(c in assigned for c in rule.all_of):
            return
        source_conf = min([_confidence(assigned[c].score) for c in rule.all_of], default=1.0)
        choice = 0
        if rule.any_of:
            present = [j for j, c in enumerate(rule.any_of) if c in assigned]
            if not present:
                return
            choice = present[0]
            source_conf = min(source_conf, _confidence(assigned[rule.any_of[choice]].score))
        if not self._passes(rule, r):
            return
        s = _score(rule.priority, rule.confidence * source_conf)
        current = offers.get(code)
        if current is None or s > current.score:
            offers[code] = _Offer(s, k, implied_evidence(rule, choice))
