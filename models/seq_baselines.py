"""Count-based reference scorers for the sequence benchmarks (popularity, item co-occurrence),
and item vectors factorised from the co-occurrence counts.

They follow :class:`models.sequences.Scorer`, so ``evaluate`` scores them on the very cases
a model is scored on, and a benchmark can say in one run what a learned model adds over
counting. :class:`CoOccurrence` counts how often two items stand within ``window`` places of
each other in the training sequences and scores an item by its counts with the user's last
``recent`` items, the latest weighing most (``decay`` per step back). Popularity breaks ties,
so an item no recent item co-occurs with still has a place in the order.

:func:`cooccurrence_vectors` turns the same counts into ``dim``-dimensional item vectors
(positive PMI, truncated SVD), a starting point for a model's item embeddings: the model
then begins from which items stand together and learns order on top of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import sparse  # type: ignore[import-untyped]
from scipy.sparse.linalg import svds  # type: ignore[import-untyped]

from models.sequences import IntArray
from recsys.errors import SequenceInputError

_TIE_BREAK = 1e-6  # popularity's weight beside the counts: it orders only what the counts leave tied


def _flat(sequences: Sequence[IntArray], n_items: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """All items one after another, and each one's sequence number."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    items = np.concatenate([np.zeros(0, np.int64), *(np.asarray(s, dtype=np.int64) for s in sequences)])
    if items.size and (items.min() < 1 or items.max() > n_items):
        raise SequenceInputError(f"item ids must lie in 1..{n_items}, got {items.min()}..{items.max()}")
    return items, np.repeat(np.arange(len(sequences)), lengths)


class Popularity:
    """Scores every item by its count in the training sequences."""

    def __init__(self, train: Sequence[IntArray], n_items: int) -> None:
        items, _ = _flat(train, n_items)
        self.n_items = n_items
        self.counts = np.bincount(items, minlength=n_items + 1).astype(np.float64)

    def score_all(self, sequences: Sequence[IntArray]) -> np.ndarray:
        return np.tile(self.counts, (len(sequences), 1))

    def score_candidates(self, sequences: Sequence[IntArray], candidates: np.ndarray) -> np.ndarray:
        scores: np.ndarray = self.counts[np.asarray(candidates, dtype=np.int64)]
        return scores


class CoOccurrence:
    """Scores items by their co-occurrence with the user's latest items (see the module)."""

    def __init__(
        self, train: Sequence[IntArray], n_items: int, window: int = 5, recent: int = 5, decay: float = 0.6
    ) -> None:
        if window < 1 or recent < 1 or not 0.0 < decay <= 1.0:
            raise SequenceInputError(
                f"window and recent must be >= 1 and decay in (0, 1], got {window}, {recent}, {decay}"
            )
        items, owner = _flat(train, n_items)
        self.n_items, self.recent, self.decay = n_items, recent, decay
        rows, cols = [], []
        for step in range(1, window + 1):
            same = owner[step:] == owner[:-step]  # both places in one sequence
            rows += [items[:-step][same], items[step:][same]]
            cols += [items[step:][same], items[:-step][same]]
        size = n_items + 1
        row, col = np.concatenate(rows), np.concatenate(cols)
        # tocsr() sums the repeated (row, col) pairs into counts.
        self.counts = sparse.coo_matrix((np.ones(len(row)), (row, col)), shape=(size, size)).tocsr()
        self.popularity = np.bincount(items, minlength=size).astype(np.float64)

    def _recent_weights(self, sequences: Sequence[IntArray]) -> sparse.csr_matrix:
        """``(users, n_items + 1)``: each user's latest items, weighted by how recent they are."""
        rows, cols, values = [], [], []
        for user, history in enumerate(sequences):
            latest = np.asarray(history, dtype=np.int64)[::-1][: self.recent]
            rows.append(np.full(len(latest), user))
            cols.append(latest)
            values.append(self.decay ** np.arange(len(latest)))
        size = (len(sequences), self.n_items + 1)
        if not rows:
            return sparse.csr_matrix(size)
        weights = (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols)))
        return sparse.coo_matrix(weights, shape=size).tocsr()

    def score_all(self, sequences: Sequence[IntArray]) -> np.ndarray:
        scores: np.ndarray = (self._recent_weights(sequences) @ self.counts).toarray()
        return scores + _TIE_BREAK * self.popularity

    def score_candidates(self, sequences: Sequence[IntArray], candidates: np.ndarray) -> np.ndarray:
        ids = np.asarray(candidates, dtype=np.int64)
        columns, position = np.unique(ids, return_inverse=True)  # score each distinct id once
        scores = (self._recent_weights(sequences) @ self.counts[:, columns]).toarray()
        gathered: np.ndarray = np.take_along_axis(scores, position.reshape(ids.shape), axis=1)
        return gathered + _TIE_BREAK * self.popularity[ids]


def cooccurrence_vectors(
    train: Sequence[IntArray], n_items: int, dim: int, window: int = 5, scale: float = 0.1, seed: int = 0
) -> NDArray[np.float32]:
    """``(n_items + 1, dim)`` item vectors by item id (row 0, padding, is zero), std ``scale``.

    The positive pointwise mutual information of the items' co-occurrence within ``window``
    places, factorised by a rank-``dim`` truncated SVD (``U sqrt(S)``, Levy and Goldberg's
    symmetric split). Items that never co-occur get zero vectors.

    Raises:
        SequenceInputError: ``dim`` not below the item count, or no pair co-occurs.
    """
    if not 1 <= dim < n_items or not scale > 0:
        raise SequenceInputError(f"dim must lie in 1..{n_items - 1} and scale be > 0, got {dim} and {scale}")
    counts = CoOccurrence(train, n_items, window=window).counts.tocoo()
    if counts.nnz == 0:
        raise SequenceInputError("no two items co-occur in the training sequences: no vectors to factorise")
    totals = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    pmi = np.log(counts.data * totals.sum() / (totals[counts.row] * totals[counts.col]))
    positive = pmi > 0
    matrix = sparse.csr_matrix(
        (pmi[positive], (counts.row[positive], counts.col[positive])), shape=counts.shape
    )
    rank = min(dim, min(matrix.shape) - 1)
    u, singular, _ = svds(matrix, k=rank, random_state=seed)
    vectors = np.zeros((n_items + 1, dim), dtype=np.float64)
    vectors[:, :rank] = u * np.sqrt(singular)
    vectors[0] = 0.0
    spread = vectors[1:].std()
    return (vectors * (scale / spread if spread > 0 else 0.0)).astype(np.float32)
