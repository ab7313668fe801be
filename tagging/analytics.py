"""Tag analytics per partition: coverage, distribution, untagged items, and the report.

Coverage of a dimension is the share of items with at least one tag of that dimension;
``coverage_any`` is the share with any tag at all. The HTML report and the user tag
preferences live in ``tagging.report`` and ``tagging.preferences`` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from tagging.preferences import DEFAULT_EVENT_WEIGHTS, user_tag_preferences
from tagging.report import render_report
from tagging.taxonomy import Taxonomy

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "TagSummary",
    "coverage_by_dimension",
    "render_report",
    "summarize",
    "tag_distribution",
    "untagged_items",
    "user_tag_preferences",
]

PRICE_DIMENSION = "price_positioning"
TIER_DIMENSION = "basic_attributes"


@dataclass(frozen=True)
class TagSummary:
    """What a tagging run produced for one partition.

    Attributes:
        items: items in the catalog partition.
        rows: tag rows written.
        coverage_any: share of items with at least one tag.
        coverage_by_dimension: share of items with a tag of each dimension (all dimensions).
        distribution: one row per tag: tag, name, dimension, items, share.
        untagged: item ids without any tag, sorted.
    """

    items: int
    rows: int
    coverage_any: float
    coverage_by_dimension: dict[str, float]
    distribution: pd.DataFrame
    untagged: list[str]
    dimension_names: dict[str, str] = field(default_factory=dict)

    @property
    def coverage_price_position(self) -> float:
        return self.coverage_by_dimension.get(PRICE_DIMENSION, 0.0)

    @property
    def coverage_basic_tier(self) -> float:
        return self.coverage_by_dimension.get(TIER_DIMENSION, 0.0)


def coverage_by_dimension(item_tags: pd.DataFrame, n_items: int, taxonomy: Taxonomy) -> dict[str, float]:
    """Share of the ``n_items`` items with at least one tag of each dimension (0.0 when none)."""
    if n_items == 0:
        return {d.code: 0.0 for d in taxonomy.dimensions}
    per_dim = item_tags.groupby("dimension")["item_id"].nunique()
    return {d.code: round(float(per_dim.get(d.code, 0)) / n_items, 6) for d in taxonomy.dimensions}


def tag_distribution(item_tags: pd.DataFrame, n_items: int, taxonomy: Taxonomy) -> pd.DataFrame:
    """Items per tag for every tag of the taxonomy (zero counts included), in code order."""
    counts = item_tags.groupby("tag")["item_id"].nunique()
    rows = [
        {
            "tag": t.code,
            "name": t.name,
            "dimension": t.dimension,
            "items": int(counts.get(t.code, 0)),
            "share": round(float(counts.get(t.code, 0)) / n_items, 6) if n_items else 0.0,
        }
        for t in sorted(taxonomy.tags, key=lambda t: t.code)
    ]
    return pd.DataFrame(rows, columns=["tag", "name", "dimension", "items", "share"])


def untagged_items(item_tags: pd.DataFrame, item_ids: Iterable[str]) -> list[str]:
    """Item ids that got no tag, sorted."""
    tagged = set(item_tags["item_id"].astype(str))
    return sorted(str(i) for i in item_ids if str(i) not in tagged)


def summarize(item_tags: pd.DataFrame, item_ids: Iterable[str], taxonomy: Taxonomy) -> TagSummary:
    """All analytics of one partition in one object."""
    ids = [str(i) for i in item_ids]
    n = len(ids)
    untagged = untagged_items(item_tags, ids)
    return TagSummary(
        items=n,
        rows=len(item_tags),
        coverage_any=round((n - len(untagged)) / n, 6) if n else 0.0,
        coverage_by_dimension=coverage_by_dimension(item_tags, n, taxonomy),
        distribution=tag_distribution(item_tags, n, taxonomy),
        untagged=untagged,
        dimension_names={d.code: d.name for d in taxonomy.dimensions},
    )
