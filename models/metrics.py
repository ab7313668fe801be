"""The one metrics module for every model and benchmark (numpy only, no TensorFlow).

Binary metrics (clicks, purchases): :func:`auc`, :func:`group_auc`, :func:`logloss`,
:func:`calibration`, :func:`calibration_table`, :func:`binary_report`.

Ranking metrics work on the 1-based rank of the one relevant item per user: build ranks
with :func:`target_ranks` (sampled negatives, target in column 0) or
:func:`ranks_from_lists` (full-catalog top-K lists), then :func:`hit_rate_at`,
:func:`ndcg_at`, :func:`mrr` or :func:`ranking_report`. Candidate retrieval with several
relevant items per user uses :func:`recall_at`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "auc",
    "binary_report",
    "calibration",
    "calibration_table",
    "group_auc",
    "hit_rate_at",
    "logloss",
    "mrr",
    "ndcg_at",
    "ranking_report",
    "ranks_from_lists",
    "recall_at",
    "target_ranks",
]


def _labels(labels: ArrayLike) -> NDArray[np.float64]:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {y.shape}")
    if y.size == 0:
        raise ValueError("labels are empty: a metric needs at least one example")
    values = y.astype(np.float64)
    if not np.isin(values, (0.0, 1.0)).all():
        bad = np.unique(values[~np.isin(values, (0.0, 1.0))])[:5]
        raise ValueError(f"labels must be 0 or 1, found {bad.tolist()}")
    return values


def _scores(values: ArrayLike, n: int, what: str) -> NDArray[np.float64]:
    s = np.asarray(values, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {s.shape}")
    if s.shape[0] != n:
        raise ValueError(f"labels and {what} differ in length: {n} labels, {s.shape[0]} {what}")
    if not np.isfinite(s).all():
        raise ValueError(f"{what} contain {int((~np.isfinite(s)).sum())} NaN or infinite value(s)")
    return s


def _probabilities(values: ArrayLike, n: int) -> NDArray[np.float64]:
    p = _scores(values, n, "probabilities")
    if ((p < 0.0) | (p > 1.0)).any():
        raise ValueError(f"probabilities must lie in [0, 1], found min {p.min()} and max {p.max()}")
    return p


def _per_group_auc(
    codes: NDArray[np.intp], y: NDArray[np.float64], s: NDArray[np.float64], n_groups: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """AUC, positives and size of each group, by the rank-sum (Mann-Whitney) formula.

    Ranks are taken within each group, ties get the mean of the ranks they span, so a tied
    positive/negative pair counts as half. One sort for all groups: O(n log n).
    """
    order = np.lexsort((s, codes))
    c, ys, ss = codes[order], y[order], s[order]
    n = c.shape[0]
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (c[1:] != c[:-1]) | (ss[1:] != ss[:-1])
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:], n)
    run_mean_position = (run_start + run_end - 1) / 2.0
    position = run_mean_position[np.cumsum(new_run) - 1]
    group_start = np.searchsorted(c, np.arange(n_groups))
    rank_in_group = position - group_start[c] + 1.0
    positives = np.bincount(c, weights=ys, minlength=n_groups).astype(np.float64)
    sizes = np.bincount(c, minlength=n_groups).astype(np.float64)
    negatives = sizes - positives
    positive_rank_sum = np.bincount(c, weights=rank_in_group * ys, minlength=n_groups)
    pairs = positives * negatives
    with np.errstate(invalid="ignore", divide="ignore"):
        per_group = (positive_rank_sum - positives * (positives + 1.0) / 2.0) / pairs
    return per_group, positives, sizes


def auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """ROC AUC: the chance a random positive scores above a random negative (ties count half).

    Raises:
        ValueError: lengths differ, labels are not 0/1, scores are not finite, or only one
            class is present.
    """
    y = _labels(labels)
    s = _scores(scores, y.shape[0], "scores")
    codes = np.zeros(y.shape[0], dtype=np.intp)
    per_group, positives, sizes = _per_group_auc(codes, y, s, 1)
    if positives[0] == 0 or positives[0] == sizes[0]:
        kind = "positive" if positives[0] else "negative"
        raise ValueError(f"AUC needs both classes, but all {int(sizes[0])} labels are {kind}")
    return float(per_group[0])


def group_auc(groups: ArrayLike, labels: ArrayLike, scores: ArrayLike) -> float:
    """Per-group (per-user) AUC averaged with each group's number of examples as its weight.

    Groups with only one class have no AUC and are left out of the average.

    Raises:
        ValueError: lengths differ, or no group has both classes.
    """
    y = _labels(labels)
    s = _scores(scores, y.shape[0], "scores")
    g = np.asarray(groups)
    if g.ndim != 1 or g.shape[0] != y.shape[0]:
        raise ValueError(f"groups must be one-dimensional with one entry per label: {g.shape} vs {y.shape}")
    uniques, codes = np.unique(g, return_inverse=True)
    per_group, positives, sizes = _per_group_auc(codes.astype(np.intp), y, s, uniques.shape[0])
    both = (positives > 0) & (positives < sizes)
    if not both.any():
        raise ValueError(f"group AUC needs a group with both classes; none of {uniques.shape[0]} groups has")
    return float(np.average(per_group[both], weights=sizes[both]))


def logloss(labels: ArrayLike, probabilities: ArrayLike, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy, probabilities clipped to ``[eps, 1 - eps]`` first."""
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must lie in (0, 0.5), got {eps}")
    y = _labels(labels)
    p = np.clip(_probabilities(probabilities, y.shape[0]), eps, 1.0 - eps)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def calibration(labels: ArrayLike, probabilities: ArrayLike) -> float:
    """Mean predicted probability over observed positive rate: 1.0 is calibrated, >1 over-predicts.

    Raises:
        ValueError: there is no positive label (the ratio is undefined).
    """
    y = _labels(labels)
    p = _probabilities(probabilities, y.shape[0])
    observed = float(y.mean())
    if observed == 0.0:
        raise ValueError(f"calibration needs at least one positive label; all {y.shape[0]} are 0")
    return float(p.mean()) / observed


def calibration_table(labels: ArrayLike, probabilities: ArrayLike, bins: int = 10) -> list[dict[str, float]]:
    """Reliability table over ``bins`` equal-width probability bins; empty bins are left out.

    Each row: ``low``, ``high`` (bin edges; the last bin includes 1.0), ``mean_predicted``,
    ``observed_rate`` and ``count``.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    y = _labels(labels)
    p = _probabilities(probabilities, y.shape[0])
    index = np.minimum((p * bins).astype(np.intp), bins - 1)
    counts = np.bincount(index, minlength=bins)
    predicted = np.bincount(index, weights=p, minlength=bins)
    observed = np.bincount(index, weights=y, minlength=bins)
    return [
        {
            "low": b / bins,
            "high": (b + 1) / bins,
            "mean_predicted": float(predicted[b] / counts[b]),
            "observed_rate": float(observed[b] / counts[b]),
            "count": float(counts[b]),
        }
        for b in range(bins)
        if counts[b] > 0
    ]


def target_ranks(scores: np.ndarray) -> NDArray[np.int64]:
    """1-based rank of the target (column 0) among its sampled negatives (the other columns).

    Ties are pessimistic, rank = 1 + number of negatives scoring >= the target, so a
    constant scorer ranks every target last instead of first.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 1:
        raise ValueError(f"scores must have shape (users, 1 + negatives), got {s.shape}")
    if not np.isfinite(s).all():
        # NaN compares false with everything, which would rank a broken score first.
        raise ValueError(f"scores contain {int((~np.isfinite(s)).sum())} NaN or infinite value(s)")
    ranks: NDArray[np.int64] = 1 + (s[:, 1:] >= s[:, :1]).sum(axis=1, dtype=np.int64)
    return ranks


def ranks_from_lists(ranked: Sequence[Sequence[int]], targets: Sequence[int]) -> NDArray[np.float64]:
    """Rank of each user's target in their top-K list (position + 1), ``inf`` when absent."""
    if len(ranked) != len(targets):
        raise ValueError(f"one target per list needed: {len(ranked)} lists, {len(targets)} targets")
    ranks = np.full(len(targets), np.inf)
    for row, (items, target) in enumerate(zip(ranked, targets, strict=True)):
        for position, item in enumerate(items):
            if item == target:
                ranks[row] = position + 1
                break
    return ranks


def _ranks(ranks: ArrayLike) -> NDArray[np.float64]:
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"ranks must be a non-empty one-dimensional array, got shape {r.shape}")
    if np.isnan(r).any():
        raise ValueError(f"ranks contain {int(np.isnan(r).sum())} NaN value(s)")
    if (r < 1).any():
        raise ValueError(f"ranks are 1-based, found {r.min()}")
    return r


def _k(k: int) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return k


def hit_rate_at(ranks: ArrayLike, k: int) -> float:
    """Share of users whose target is in the top ``k``."""
    r = _ranks(ranks)
    return float(np.mean(r <= _k(k)))


def ndcg_at(ranks: ArrayLike, k: int) -> float:
    """NDCG@k with one relevant item: ``1 / log2(rank + 1)`` when rank <= k, else 0, averaged."""
    r = _ranks(ranks)
    hit = r <= _k(k)
    gains = np.zeros_like(r)
    gains[hit] = 1.0 / np.log2(r[hit] + 1.0)
    return float(gains.mean())


def mrr(ranks: ArrayLike) -> float:
    """Mean reciprocal rank; an absent target (``inf``) counts 0."""
    return float(np.mean(1.0 / _ranks(ranks)))


def ranking_report(ranks: ArrayLike, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """``hr@k`` for each k, ``ndcg@k`` for each k > 1 (ndcg@1 equals hr@1) and ``mrr``."""
    r = _ranks(ranks)
    report = {f"hr@{k}": hit_rate_at(r, k) for k in ks}
    report.update({f"ndcg@{k}": ndcg_at(r, k) for k in ks if k > 1})
    report["mrr"] = mrr(r)
    return report


def binary_report(
    labels: ArrayLike, probabilities: ArrayLike, groups: ArrayLike | None = None
) -> dict[str, float]:
    """``auc``, ``logloss`` and ``calibration``, plus ``gauc`` when groups (users) are given."""
    report = {
        "auc": auc(labels, probabilities),
        "logloss": logloss(labels, probabilities),
        "calibration": calibration(labels, probabilities),
    }
    if groups is not None:
        report["gauc"] = group_auc(groups, labels, probabilities)
    return report


def recall_at(retrieved: Sequence[Sequence[int]], relevant: Sequence[Collection[int]], k: int) -> float:
    """Micro-averaged recall@k: relevant items found in the top ``k`` over all relevant items.

    Users without any relevant item add nothing to either count.

    Raises:
        ValueError: lengths differ, or no user has a relevant item.
    """
    _k(k)
    if len(retrieved) != len(relevant):
        raise ValueError(f"one relevant set per list needed: {len(retrieved)} lists, {len(relevant)} sets")
    hits = total = 0
    for items, wanted in zip(retrieved, relevant, strict=True):
        wanted_set = set(wanted)
        total += len(wanted_set)
        hits += len(wanted_set.intersection(items[:k]))
    if total == 0:
        raise ValueError(f"recall needs at least one relevant item; none of {len(relevant)} users has one")
    return hits / total
