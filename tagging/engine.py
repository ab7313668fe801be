"""The vectorised tag engine: a whole catalog partition in, one explained row per tag out.

Work per partition, none of it a per-item Python loop:

1. each text field is scanned once with the union of all text rules (``tagging.scan``),
   in parallel chunks; each rule is then checked against the distinct hit strings only;
2. price, brand, category and listing rules are numpy masks over the partition;
3. offers go into a dense (tag x item) store that keeps the best rule per tag;
4. tags are settled group by group in ``Taxonomy.groups`` order: implied rules read only
   settled tags, and an exclusive type keeps only its best-scoring tag;
5. the assignment is read out in (item_id, tag) order with its confidence, rule and evidence.

The result is deterministic: it does not depend on the input row order or thread timing.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tagging.catalog import Items, prepare_items
from tagging.patterns import SPECS, strip_named_groups
from tagging.prices import PricePositions, percentile_evidence_texts, price_positions
from tagging.rules import (
    attribute,
    first_unexcluded_hit,
    implied,
    listed_within,
    price_percentile,
    price_threshold,
    rule_on_hits,
    text_evidence,
)
from tagging.scan import first_hit_per_row, negation_split, scan, union_pattern
from tagging.store import CandidateStore, EvidencePool, rule_score, score_confidence, unpack_source
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

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

ITEM_TAGS_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("tag", pa.string()),
        ("dimension", pa.string()),
        ("confidence", pa.float32()),
        ("rule_id", pa.string()),
        ("evidence", pa.string()),
    ]
)


class _Clock:
    """Phase timings of the last call, for the benchmark's breakdown (never used in logic)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


@dataclass(frozen=True)
class _FieldMatch:
    """Rows of one chunk of one field where a text rule fired, with their evidence."""

    rule: int
    rows: Ints
    texts: list[str]
    index: Ints


class TagEngine:
    """Tags catalog partitions with one taxonomy.

    Args:
        taxonomy: a validated taxonomy (``tagging.taxonomy.load_taxonomy``).
        workers: threads for the text scans; default: the machine's cores, at most 4.
        chunk_rows: rows per scan job, so the threads get even shares.
    """

    def __init__(self, taxonomy: Taxonomy, workers: int | None = None, chunk_rows: int = 200_000) -> None:
        self.taxonomy = taxonomy
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.chunk_rows = chunk_rows
        self.last_timings: dict[str, float] = {}
        self.codes = taxonomy.codes
        self._tag_index = {c: i for i, c in enumerate(self.codes)}
        self.rules: list[Rule] = taxonomy.rules
        self._field_rules: dict[str, list[int]] = {"title": [], "description": []}
        for k, rule in enumerate(self.rules):
            if isinstance(rule, TextRule | SpecRule):
                for f in rule.fields:
                    self._field_rules[f].append(k)
        self._unions = {
            f: union_pattern(
                [self._scan_pattern(self.rules[k]) for k in ks],
                first=[r.exclude for k in ks if isinstance(r := self.rules[k], TextRule) and r.exclude],
            )
            for f, ks in self._field_rules.items()
            if ks
        }
        exclusive = {t.code for t in taxonomy.tag_types if t.exclusive}
        self._groups = [
            ([self._tag_index[c] for c in group], taxonomy.tag(group[0]).type in exclusive)
            for group in taxonomy.groups
        ]

    @staticmethod
    def _scan_pattern(rule: Rule) -> str:
        """What the shared scan must find for ``rule``.

        A rule's exclusions are scanned too (ahead of everything else), so a phrase like
        "Windows 11 Professional" comes out as one hit that the rule then rejects.
        """
        if isinstance(rule, SpecRule):
            return strip_named_groups(SPECS[rule.spec].pattern)
        assert isinstance(rule, TextRule)
        return rule.pattern

    def tag(self, catalog: pd.DataFrame | pa.Table, as_of: date | None = None) -> pd.DataFrame:
        """Tags of every item: item_id, tag, dimension, confidence, rule_id, evidence.

        Args:
            catalog: the normalised catalog (``docs/data-formats.md``); item_id and title are
                required, other columns are optional.
            as_of: the partition date, for ``listed_within`` rules; default: the latest
                listed_date in the catalog.

        Raises:
            CatalogFormatError: a required column is missing or an item_id repeats.
        """
        frame: pd.DataFrame = self.tag_table(catalog, as_of).to_pandas()
        return frame

    def tag_table(self, catalog: pd.DataFrame | pa.Table, as_of: date | None = None) -> pa.Table:
        """Like ``tag`` but returns a pyarrow Table with ``ITEM_TAGS_SCHEMA``."""
        clock = _Clock()
        items = prepare_items(catalog)
        store = CandidateStore(len(self.codes), items.n)
        pool = EvidencePool()
        clock.lap("prepare")
        with ThreadPoolExecutor(max_workers=self.workers) as executor:
            if items.n:
                # price positions need no text: they run beside the text scans
                positions = executor.submit(self._price_positions, items)
                scans = self._submit_scans(executor, items)
                results = [f.result() for f in scans]
                clock.lap("scan")
                self._offer_text_rules(items, store, pool, results)
                self._offer_catalog_rules(items, store, pool, as_of, positions.result())
                clock.lap("offer")
            self._settle(items, store, pool)
            clock.lap("settle")
            table = self._read_out(items, store, pool, executor)
            clock.lap("read_out")
        self.last_timings = clock.laps
        return table

    # ---- text rules

    def _submit_scans(self, executor: ThreadPoolExecutor, items: Items) -> list[Future[list[_FieldMatch]]]:
        """One job per (field, chunk of rows), titles first."""
        futures = []
        for f in ("title", "description"):
            if f not in self._unions:
                continue
            column = items.title if f == "title" else items.description
            for lo in range(0, items.n, self.chunk_rows):
                chunk = column.slice(lo, min(self.chunk_rows, items.n - lo))
                futures.append(executor.submit(self._match_chunk, f, chunk, lo))
        return futures

    def _offer_text_rules(
        self, items: Items, store: CandidateStore, pool: EvidencePool, results: list[list[_FieldMatch]]
    ) -> None:
        seen = {k: np.zeros(items.n, dtype=bool) for ks in self._field_rules.values() for k in ks}
        # results come in (title chunks, description chunks) order: a title match explains first
        for matches in results:
            for m in matches:
                fresh = ~seen[m.rule][m.rows]
                rows = m.rows[fresh]
                if rows.size == 0:
                    continue
                seen[m.rule][rows] = True
                offset = pool.add(m.texts)
                self._offer(store, m.rule, items, rows, offset + m.index[fresh])

    def _match_chunk(self, field: str, texts: pa.Array, row_offset: int) -> list[_FieldMatch]:
        hits = scan(texts, self._unions[field])
        if hits.codes.size == 0:
            return []
        negated, body = negation_split(hits.unique)
        out = []
        for k in self._field_rules[field]:
            rule = self.rules[k]
            ok, texts_u = rule_on_hits(rule, body, negated, field)
            if not ok.any():
                continue
            rows, first = first_hit_per_row(hits.parent, ok[hits.codes])
            rank = np.cumsum(ok) - 1
            index = rank[hits.codes[first]]
            if isinstance(rule, TextRule) and rule.exclude:
                rows, index = _recheck_exclusions(rule, field, texts, rows, index, texts_u)
            if rows.size:
                out.append(_FieldMatch(k, rows + row_offset, texts_u, index))
        return out

    # ---- price, brand, category and listing rules

    def _price_positions(self, items: Items) -> dict[tuple[str, int], tuple[PricePositions, pa.Array]]:
        """Percentiles and their explanation texts for each grouping the rules use."""
        out: dict[tuple[str, int], tuple[PricePositions, pa.Array]] = {}
        for rule in self.rules:
            if isinstance(rule, PricePercentileRule) and (rule.group_by, rule.min_group_size) not in out:
                found = price_positions(
                    items.price,
                    items.category_codes,
                    items.categories,
                    items.currency_codes,
                    items.currencies,
                    rule.group_by,
                    rule.min_group_size,
                )
                # one explanation per item, shared by every band rule of this grouping
                texts = percentile_evidence_texts(found, items.price, items.currency_codes, items.currencies)
                out[(rule.group_by, rule.min_group_size)] = (found, texts)
        return out

    def _offer_catalog_rules(
        self,
        items: Items,
        store: CandidateStore,
        pool: EvidencePool,
        as_of: date | None,
        positions: dict[tuple[str, int], tuple[PricePositions, pa.Array]],
    ) -> None:
        offsets: dict[tuple[str, int], int] = {}
        for k, rule in enumerate(self.rules):
            if isinstance(rule, PriceThresholdRule):
                rows, ev = price_threshold(rule, items, pool)
            elif isinstance(rule, PricePercentileRule):
                key = (rule.group_by, rule.min_group_size)
                if key not in offsets:
                    offsets[key] = pool.add(positions[key][1])
                rows, ev = price_percentile(rule, positions[key][0], offsets[key])
            elif isinstance(rule, AttributeRule):
                rows, ev = attribute(rule, items, pool)
            elif isinstance(rule, ListedWithinRule):
                rows, ev = listed_within(rule, items, pool, as_of)
            else:
                continue
            self._offer(store, k, items, rows, ev)

    def _offer(self, store: CandidateStore, k: int, items: Items, rows: Ints, evidence: Ints) -> None:
        rule = self.rules[k]
        keep = items.filter_mask(rule.categories, rule.brands)
        if keep is not None:
            sel = keep[rows]
            rows, evidence = rows[sel], evidence[sel]
        score = rule_score(rule.priority, rule.confidence)
        for code in rule.tags:
            store.offer(self._tag_index[code], rows, score, evidence, k)

    # ---- implied rules and exclusion

    def _settle(self, items: Items, store: CandidateStore, pool: EvidencePool) -> None:
        implied_for: dict[int, list[int]] = {}
        for k, rule in enumerate(self.rules):
            if isinstance(rule, ImpliedRule):
                for code in rule.tags:
                    implied_for.setdefault(self._tag_index[code], []).append(k)
        for tags, exclusive in self._groups:
            for t in tags:
                for k in implied_for.get(t, []):
                    rule = self.rules[k]
                    assert isinstance(rule, ImpliedRule)
                    rows, ev, conf = implied(rule, store, self._tag_index, pool)
                    keep = items.filter_mask(rule.categories, rule.brands)
                    if keep is not None:
                        sel = keep[rows]
                        rows, ev, conf = rows[sel], ev[sel], conf[sel]
                    store.offer(t, rows, rule_score(rule.priority, conf), ev, k)
            store.settle(tags, exclusive)

    # ---- output

    def _read_out(
        self, items: Items, store: CandidateStore, pool: EvidencePool, executor: ThreadPoolExecutor
    ) -> pa.Table:
        item_idx, tag_idx = np.nonzero(store.assigned.T)  # row-major: (item_id, tag) order
        flat = tag_idx.astype(np.int64) * items.n + item_idx
        rule_idx, pointer = unpack_source(store.source.ravel()[flat])
        dims = [self.taxonomy.tag(c).dimension for c in self.codes]
        jobs = [
            lambda: _decode(item_idx, items.item_id),
            lambda: _decode(tag_idx, pa.array(self.codes, type=pa.string())),
            lambda: _decode(tag_idx, pa.array(dims, type=pa.string())),
            lambda: pa.array(score_confidence(store.score.ravel()[flat]), type=pa.float32()),
            lambda: _decode(rule_idx, pa.array([r.id for r in self.rules], type=pa.string())),
            lambda: _decode(pointer, pool.values()),
        ]
        columns = [f.result() for f in [executor.submit(job) for job in jobs]]
        return pa.Table.from_arrays(columns, schema=ITEM_TAGS_SCHEMA)


def _recheck_exclusions(
    rule: TextRule, field: str, texts: pa.Array, rows: Ints, index: Ints, evidence: list[str]
) -> tuple[Ints, Ints]:
    """Rows whose text holds one of ``rule``'s exclusions, judged again one by one.

    The shared scan finds hits without overlaps, so another rule's hit can swallow the start
    of an exclusion ("GM 2" of "GM 2.8K" leaves "8K" looking like a resolution). Such texts
    are rare: only they are re-read with the rule's own pattern and exclusions (appending
    any new evidence text to ``evidence``).
    """
    suspect = pc.match_substring_regex(
        pc.fill_null(texts.take(pa.array(rows)), ""), rule.exclude, ignore_case=True
    ).to_numpy(zero_copy_only=False)
    if not suspect.any():
        return rows, index
    keep = np.ones(rows.size, dtype=bool)
    index = index.copy()
    for i in np.flatnonzero(suspect):
        hit = first_unexcluded_hit(rule, str(texts[int(rows[i])].as_py() or ""))
        if hit is None:
            keep[i] = False
        else:
            evidence.append(text_evidence(hit, field))
            index[i] = len(evidence) - 1
    return rows[keep], index[keep]


def _decode(indices: npt.NDArray[np.integer[Any]], values: pa.Array) -> pa.Array:
    """``values[indices]`` as a plain string array (a dictionary decode beats ``take`` here)."""
    encoded = pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int64)), values)
    return encoded.cast(pa.string())
