"""Dense per-(tag, item) candidates and the pool of explanation strings they point into.

Every rule offers its tag to a set of items with a score: priority first, confidence (in
thousandths) as the tie-break, so the confidence can be read back from the score. An item
keeps, per tag, the best offer: its score and its source (rule and a pointer into the
evidence pool, packed in one integer). Explanations are stored once per distinct text (a
matched phrase, a price) and only expanded to one string per output row at the very end.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Scores = npt.NDArray[np.int32]

_POINTER_BITS = 47
_POINTER_MASK = (1 << _POINTER_BITS) - 1
MAX_RULES = 1 << 15
CONFIDENCE_STEPS = 1000


def rule_score(priority: int, confidence: float | npt.NDArray[np.float64]) -> Scores:
    """Order of offers: higher priority wins; at equal priority, higher confidence.

    The confidence is kept in thousandths, at least 0.001, so a score is never 0 (no offer).
    """
    steps = np.maximum(np.rint(np.asarray(confidence) * CONFIDENCE_STEPS), 1)
    return np.asarray(priority * (CONFIDENCE_STEPS + 1) + steps, dtype=np.int32)


def score_confidence(score: Scores) -> npt.NDArray[np.float32]:
    """The confidence an offer was made with (0 where there was none)."""
    return (np.asarray(score) % (CONFIDENCE_STEPS + 1) / CONFIDENCE_STEPS).astype(np.float32)


class EvidencePool:
    """Append-only list of string segments addressed by one global index."""

    def __init__(self) -> None:
        self._segments: list[pa.Array] = []
        self._size = 0

    def add(self, texts: pa.Array | list[str]) -> int:
        """Store ``texts`` and return the global index of its first element."""
        array = texts if isinstance(texts, pa.Array) else pa.array(texts, type=pa.string())
        if array.type != pa.string():
            array = array.cast(pa.string())
        offset = self._size
        self._segments.append(array)
        self._size += len(array)
        return offset

    def values(self) -> pa.Array:
        """All strings, in index order."""
        if not self._segments:
            return pa.array([], type=pa.string())
        return pa.concat_arrays(self._segments)


class CandidateStore:
    """Best offer per (tag, item) and the settled assignment."""

    def __init__(self, n_tags: int, n_items: int) -> None:
        self.score = np.zeros((n_tags, n_items), dtype=np.int32)
        self.source = np.zeros((n_tags, n_items), dtype=np.int64)
        self.assigned = np.zeros((n_tags, n_items), dtype=bool)

    def offer(self, tag: int, rows: Ints, score: Scores, evidence: Ints, rule: int) -> None:
        """Offer ``tag`` to ``rows`` (distinct); an offer replaces only a strictly lower score."""
        if rows.size == 0:
            return
        scores = self.score[tag]  # 1-D views: much faster to index than the 2-D arrays
        new = np.broadcast_to(score, rows.shape)
        better = new > scores[rows]
        if better.all():
            won, new_won, ev = rows, new, evidence
        elif better.any():
            won, new_won, ev = rows[better], new[better], evidence[better]
        else:
            return
        scores[won] = new_won
        self.source[tag][won] = (np.int64(rule) << _POINTER_BITS) | ev

    def confidence(self, tag: int) -> npt.NDArray[np.float32]:
        return score_confidence(self.score[tag])

    def settle(self, tags: list[int], exclusive: bool) -> None:
        """Fix the assignment of ``tags``: all offered ones, or only the best of an exclusive set."""
        if not exclusive or len(tags) == 1:
            for t in tags:
                self.assigned[t] = self.score[t] > 0
            return
        sub = self.score[tags]
        winner = np.argmax(sub, axis=0)
        has = sub.max(axis=0) > 0
        for j, t in enumerate(tags):
            self.assigned[t] = has & (winner == j)


def unpack_source(source: Ints) -> tuple[Ints, Ints]:
    """(rule index, evidence pointer) of packed sources."""
    return source >> _POINTER_BITS, source & _POINTER_MASK
