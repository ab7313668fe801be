"""The in-process snapshot of a published version: its item dictionary and the popular lists.

A worker loads it whenever the version pointer moves (so after every publish): one
pipelined round trip for ``rec:v<N>:items``, the ``global``, ``trending`` and
``new_arrivals`` segments, and the version's variant aliases. Requests then name items
from it, top short lists up from it, and, while Redis is unreachable, answer from it alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from feature_store.recommendations import (
    RecommendationFormatError,
    decode_aliases,
    decode_dictionary,
    decode_item_list,
    items_key,
    segment_key,
)
from feature_store.service.codec import item_prefixes

SNAPSHOT_SEGMENTS = ("global", "trending", "new_arrivals")


@dataclass(frozen=True)
class Scored:
    item_id: str
    score: float
    channel: str
    stage: str | None = None


@dataclass(frozen=True)
class Snapshot:
    version: int
    items: list[str] = field(repr=False)  # the version's dictionary: index -> item id
    segments: dict[str, list[Scored]] = field(repr=False)
    # A variant's ``reads`` name -> the published list serving it (publication meta "aliases").
    aliases: dict[str, str] = field(default_factory=dict)
    # Each item's ``{"item_id":<id>,"score":``: answers splice published lists from them (codec.py).
    item_json: list[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_json", item_prefixes(self.items))  # frozen: set once, here

    def list_name(self, reads: str) -> str:
        return self.aliases.get(reads, reads)

    def names(self, indexes: Sequence[int], where: str) -> list[str]:
        """Item ids of dictionary indexes (a bad index is a corrupt value, named by ``where``)."""
        try:
            return [self.items[i] for i in indexes]
        except IndexError:
            raise RecommendationFormatError(
                f"{where}: item index {max(indexes)} beyond the dictionary's {len(self.items)}"
            ) from None

    def segment_items(self, name: str, value: bytes | None) -> list[Scored]:
        """A segment value decoded into scored items, each marked with the segment's name."""
        if value is None:
            return []
        indexes, scores = decode_item_list(value)
        where = segment_key(self.version, name)
        ids = self.names(indexes.tolist(), where)
        return [Scored(i, s, name) for i, s in zip(ids, scores.tolist(), strict=True)]

    def popular(self, k: int, exclude: Iterable[str] = ()) -> list[Scored]:
        """Up to ``k`` items from the global list, then new arrivals: the answer while Redis is away."""
        return top_up([], k, self, exclude=exclude)


def snapshot_keys(version: int) -> list[str]:
    """The keys a snapshot reads, in the order ``build_snapshot`` expects their values."""
    return [items_key(version), *(segment_key(version, s) for s in SNAPSHOT_SEGMENTS)]


def build_snapshot(version: int, values: Sequence[bytes | None], aliases: bytes | None = None) -> Snapshot:
    """A snapshot from the values of ``snapshot_keys(version)`` and the meta ``aliases`` field.

    Raises:
        RecommendationFormatError: the dictionary is missing (the version was pruned) or corrupt.
    """
    dictionary, *lists = values
    if dictionary is None:
        raise RecommendationFormatError(f"{items_key(version)} is missing: v{version} was pruned?")
    snapshot = Snapshot(version, decode_dictionary(dictionary), {}, decode_aliases(aliases))
    for name, value in zip(SNAPSHOT_SEGMENTS, lists, strict=True):
        snapshot.segments[name] = snapshot.segment_items(name, value)
    return snapshot


def top_up(chosen: list[Scored], k: int, snapshot: Snapshot, exclude: Iterable[str] = ()) -> list[Scored]:
    """``chosen`` cut to ``k``, then filled from the global list and new arrivals, no item twice.

    So every answer holds ``k`` items unless those lists together hold fewer (a tiny catalog).
    """
    out = chosen[:k]
    if len(out) >= k:
        return out
    seen = {s.item_id for s in out} | set(exclude)
    for name in ("global", "new_arrivals"):
        for scored in snapshot.segments.get(name, ()):
            if scored.item_id not in seen:
                out.append(scored)
                seen.add(scored.item_id)
                if len(out) >= k:
                    return out
    return out
