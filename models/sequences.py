"""Sequential-recommendation data: readers, leave-one-out splits and the three evaluation protocols.

Two file layouts are read (both in ``../shared/datasets/seqrec``):

* ``user_per_line``: ``user item1 item2 ...`` with the items in time order (S3-Rec's
  ``Beauty.txt``, ``LastFM.txt``);
* ``pairs``: ``user item`` a line, each user's lines in time order (BERT4Rec's
  ``beauty.txt``).

A file whose lines all hold exactly two fields is read as pairs; one line with more makes
it ``user_per_line``. The two readings agree whenever both are possible (every user on a
single line with one item). Item ids are remapped to ``1..n_items`` in the order of the
original ids (numeric when all are integers), so 0 is free for padding; S3-Rec's files,
already numbered 1..N, keep their ids.

Leave-one-out (:func:`leave_one_out`): a user's last item is the test target, the
second-to-last the validation target, the rest train. A held-out item needs at least one
item before it, so a user with two items has a test case but no validation case, and a
user with one item is training data only. Validation may be kept to a sample of users, the
others then train on their second-to-last item too. Protocols (:func:`evaluation_set`):

* ``pop100`` (BERT4Rec paper): the target among 100 negatives drawn without replacement
  with probability proportional to the item's count in the whole file, never one of the
  user's items (the target included);
* ``uniform99`` (S3-Rec): the target among 99 negatives drawn uniformly without
  replacement from the items the user never interacted with;
* ``full``: the target among all items, except the items of the history it is predicted
  from (they would be re-recommendations); later items of the user (e.g. the test item
  while validating) stay in the ranking, as a model could not know them.

Ranks are pessimistic about ties (a negative scoring equal to the target ranks above it),
so a constant scorer ranks every target last. Metrics come from :mod:`models.metrics`.
This module does not import TensorFlow.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from models.metrics import ranking_report, target_ranks
from recsys.errors import SequenceDataError, SequenceEvaluationError

Layout = Literal["user_per_line", "pairs"]
ProtocolName = Literal["pop100", "uniform99", "full"]
PROTOCOLS: tuple[ProtocolName, ...] = ("pop100", "uniform99", "full")
NEGATIVES: dict[ProtocolName, int] = {"pop100": 100, "uniform99": 99, "full": 0}

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class SequenceData:
    """Each user's items in time order, ids ``1..n_items`` (0 is padding)."""

    sequences: list[IntArray]
    users: list[str]  # original user id of each sequence
    items: list[str]  # items[i - 1] is the original id of item i
    layout: Layout
    path: str

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_users(self) -> int:
        return len(self.sequences)

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def popularity(self) -> NDArray[np.float64]:
        """Interactions per item over the whole file, indexed by item id (index 0 is 0)."""
        counts = np.zeros(self.n_items + 1, dtype=np.float64)
        for sequence in self.sequences:
            np.add.at(counts, sequence, 1.0)
        return counts


def first_users(data: SequenceData, count: int) -> SequenceData:
    """The first ``count`` users of ``data`` with their items renumbered ``1..n`` (a quick-run subset)."""
    if count < 1:
        raise SequenceDataError(f"a subset needs at least one user, got {count}")
    kept = data.sequences[:count]
    used = np.unique(np.concatenate(kept))
    remap = np.zeros(data.n_items + 1, dtype=np.int64)
    remap[used] = np.arange(1, used.size + 1)
    items = [data.items[i - 1] for i in used.tolist()]
    return SequenceData([remap[s] for s in kept], data.users[:count], items, data.layout, data.path)


def _ordered_ids(ids: set[str]) -> list[str]:
    if all(i.lstrip("-").isdigit() for i in ids):
        return sorted(ids, key=int)
    return sorted(ids)


def read_sequences(path: str | Path) -> SequenceData:
    """Read a sequence file in either layout (see the module docstring).

    Raises:
        SequenceDataError: the file is missing or empty, a line has fewer than two fields,
            or a user appears on two lines of a ``user_per_line`` file.
    """
    source = Path(path)
    if not source.is_file():
        raise SequenceDataError(f"sequence file {source} does not exist")
    rows: list[list[str]] = []
    numbers: list[int] = []  # file line of each row, for messages
    with source.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise SequenceDataError(f"{source}:{number}: expected 'user item ...', got {line.strip()!r}")
            rows.append(fields)
            numbers.append(number)
    if not rows:
        raise SequenceDataError(f"sequence file {source} holds no interactions")
    layout: Layout = "pairs" if all(len(r) == 2 for r in rows) else "user_per_line"
    raw: dict[str, list[str]] = {}
    if layout == "pairs":
        for user, item in rows:
            raw.setdefault(user, []).append(item)
    else:
        for number, (user, *items) in zip(numbers, rows, strict=True):
            if user in raw:
                raise SequenceDataError(
                    f"{source}:{number}: user {user!r} appears on two lines; "
                    "a one-user-a-line file needs each user once"
                )
            raw[user] = items
    item_ids = _ordered_ids({i for items in raw.values() for i in items})
    index = {item: position + 1 for position, item in enumerate(item_ids)}
    sequences = [
        np.fromiter((index[i] for i in items), dtype=np.int64, count=len(items)) for items in raw.values()
    ]
    return SequenceData(sequences, list(raw), item_ids, layout, str(source))


def item_attribute_ids(path: str | Path, data: SequenceData, width: int = 16) -> NDArray[np.int32]:
    """Each token's attribute ids ``(n_items + 2, width)`` from an ``item -> [attribute ids]`` JSON file.

    The layout is S3-Rec's ``<name>_item2attributes.json`` (``{"4": [1, 2, 3], ...}``; an id
    may repeat, e.g. a LastFM tag given by several listeners). Each item keeps its ``width``
    most frequent attributes (ties: first seen); attribute ids are renumbered ``1..A`` in
    order of the original ids, 0 pads. Rows 0 and ``n_items + 1`` (padding, ``[MASK]``) and
    items the file does not name have none.

    Raises:
        SequenceDataError: no such file, not a JSON object, an item's value not a list of
            integers, or ``width`` below 1.
    """
    source = Path(path)
    if width < 1:
        raise SequenceDataError(f"attribute width must be >= 1, got {width}")
    if not source.is_file():
        raise SequenceDataError(f"item attribute file {source} does not exist")
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SequenceDataError(f"{source}: not JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise SequenceDataError(f"{source}: expected an object of item id -> [attribute ids]")
    kept: dict[int, list[int]] = {}
    for position, item in enumerate(data.items, start=1):
        values = raw.get(item)
        if values is None:
            continue
        if not isinstance(values, list) or not all(type(v) is int for v in values):
            raise SequenceDataError(
                f"{source}: item {item!r}: expected a list of integer ids, got {values!r}"
            )
        counts = Counter(values)
        kept[position] = sorted(counts, key=lambda a: -counts[a])[:width]  # stable: ties keep first seen
    used = sorted({a for attributes in kept.values() for a in attributes})
    number = {a: n for n, a in enumerate(used, start=1)}
    ids = np.zeros((data.n_items + 2, width), dtype=np.int32)
    for position, attributes in kept.items():
        ids[position, : len(attributes)] = [number[a] for a in attributes]
    return ids


@dataclass(frozen=True)
class HeldOut:
    """One held-out item per evaluated user and the history it is predicted from."""

    users: IntArray  # positions in SequenceData.sequences
    histories: list[IntArray]
    targets: IntArray

    def __len__(self) -> int:
        return int(self.targets.shape[0])


@dataclass(frozen=True)
class LeaveOneOut:
    """Training sequences of every user and the validation and test cases."""

    train: list[IntArray]
    validation: HeldOut
    test: HeldOut
    before_test: list[IntArray]  # every user's items before the test item: a refit's training data


def _held_out(users: list[int], histories: list[IntArray], targets: list[int]) -> HeldOut:
    return HeldOut(np.asarray(users, dtype=np.int64), histories, np.asarray(targets, dtype=np.int64))


def leave_one_out(data: SequenceData, validation_users: int | None = None, seed: int = 0) -> LeaveOneOut:
    """Split every user: last item test, second-to-last validation, the rest train.

    The test history is everything before the test item (validation item included), the
    validation history the training items. Users with two items get no validation case
    (their training sequence is the first item); users with one item only train.

    With ``validation_users`` only that many users (a seeded sample of those with a
    validation case) keep their second-to-last item out of training for validation; the
    others train on everything before their test item. The test items stay unseen either
    way; this only lets training see more recent items (the original BERT4Rec code, which
    has no validation, trains on every item but the test ones).
    """
    eligible = [u for u, s in enumerate(data.sequences) if len(s) >= 3]
    if validation_users is not None and validation_users < 1:
        raise SequenceDataError(f"validation_users must be a positive count or None, got {validation_users}")
    if validation_users is None or validation_users >= len(eligible):
        validating = set(eligible)
    else:
        rng = np.random.default_rng(seed)
        validating = set(rng.choice(np.asarray(eligible), size=validation_users, replace=False).tolist())
    train: list[IntArray] = []
    before_test: list[IntArray] = []
    valid: tuple[list[int], list[IntArray], list[int]] = ([], [], [])
    test: tuple[list[int], list[IntArray], list[int]] = ([], [], [])
    for user, sequence in enumerate(data.sequences):
        n = len(sequence)
        before_test.append(sequence[:-1] if n >= 2 else sequence)
        if n >= 2:
            test[0].append(user)
            test[1].append(sequence[:-1])
            test[2].append(int(sequence[-1]))
        if user in validating:
            valid[0].append(user)
            valid[1].append(sequence[:-2])
            valid[2].append(int(sequence[-2]))
            train.append(sequence[:-2])
        else:
            train.append(sequence[:-1] if n >= 2 else sequence)
    return LeaveOneOut(train, _held_out(*valid), _held_out(*test), before_test)


def hold_out_last(data: SequenceData, users: int, seed: int = 0) -> tuple[list[IntArray], HeldOut]:
    """Training sequences and a validation case for a seeded sample of ``users`` users.

    Each sampled user (of those with two items or more) has their last item held out and
    predicted from the items before it; every other user trains on their whole sequence. For
    a model judged on what comes after the data (the shop's next day), this keeps the most
    recent items in training for all but the sample, while early stopping still watches
    items the model never trained on.
    """
    if users < 1:
        raise SequenceDataError(f"users must be a positive count, got {users}")
    eligible = np.asarray([u for u, s in enumerate(data.sequences) if len(s) >= 2], dtype=np.int64)
    rng = np.random.default_rng(seed)
    sample = eligible if users >= len(eligible) else np.sort(rng.choice(eligible, size=users, replace=False))
    chosen = set(sample.tolist())
    train = [s[:-1] if u in chosen else s for u, s in enumerate(data.sequences)]
    held = [data.sequences[u] for u in sample.tolist()]
    return train, _held_out(sample.tolist(), [s[:-1] for s in held], [int(s[-1]) for s in held])


@dataclass(frozen=True)
class EvaluationSet:
    """Held-out cases ready to score under one protocol.

    For sampled protocols ``candidates`` is ``(users, 1 + negatives)`` with the target in
    column 0; for ``full`` it is None and every item outside the case's history is ranked.
    """

    protocol: ProtocolName
    histories: list[IntArray]
    targets: IntArray
    candidates: IntArray | None
    n_items: int

    def __len__(self) -> int:
        return int(self.targets.shape[0])


def _distinct_draws(
    rng: np.random.Generator,
    count: int,
    forbidden: set[int],
    n_items: int,
    cdf: NDArray[np.float64] | None,
) -> IntArray:
    """``count`` distinct ids not in ``forbidden``, uniform or by the popularity ``cdf``.

    Drawing in rounds and keeping first occurrences is sequential sampling without
    replacement (each new id drawn with its weight renormalised over the ids not yet taken).
    """
    chosen: dict[int, None] = {}
    while len(chosen) < count:
        size = 2 * (count - len(chosen)) + 16
        if cdf is None:
            draws = rng.integers(1, n_items + 1, size=size)
        else:
            draws = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right") + 1
        for item in draws.tolist():
            if item not in forbidden and item not in chosen:
                chosen[item] = None
                if len(chosen) == count:
                    break
    return np.fromiter(chosen, dtype=np.int64, count=count)


def evaluation_set(data: SequenceData, held_out: HeldOut, protocol: ProtocolName, seed: int) -> EvaluationSet:
    """Draw the negatives of ``held_out`` under ``protocol`` (seeded; none for ``full``).

    Raises:
        SequenceEvaluationError: unknown protocol, or a user has interacted with so many
            items that fewer than the protocol's negatives remain.
    """
    if protocol not in NEGATIVES:
        raise SequenceEvaluationError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if protocol == "full":
        return EvaluationSet(protocol, held_out.histories, held_out.targets, None, data.n_items)
    count = NEGATIVES[protocol]
    cdf = None
    if protocol == "pop100":
        weights = data.popularity()[1:]
        cdf = np.cumsum(weights)
    rng = np.random.default_rng(seed)
    candidates = np.empty((len(held_out), 1 + count), dtype=np.int64)
    candidates[:, 0] = held_out.targets
    for row, user in enumerate(held_out.users.tolist()):
        forbidden = set(data.sequences[user].tolist())
        eligible = data.n_items - len(forbidden)
        if eligible < count:
            raise SequenceEvaluationError(
                f"{protocol}: user {data.users[user]!r} of {data.path} interacted with {len(forbidden)} "
                f"of {data.n_items} items, leaving {eligible} < {count} negatives to sample"
            )
        candidates[row, 1:] = _distinct_draws(rng, count, forbidden, data.n_items, cdf)
    return EvaluationSet(protocol, held_out.histories, held_out.targets, candidates, data.n_items)


class Scorer(Protocol):
    """What a sequential model offers the evaluation: scores for given or for all items."""

    def score_candidates(self, sequences: Sequence[IntArray], candidates: np.ndarray) -> np.ndarray:
        """``(users, candidates)`` scores of the given ids after each history."""
        ...

    def score_all(self, sequences: Sequence[IntArray]) -> np.ndarray:
        """``(users, n_items + 1)`` scores indexed by item id; column 0 (padding) is ignored."""
        ...


def full_ranks(scores: np.ndarray, histories: Sequence[IntArray], targets: IntArray) -> NDArray[np.int64]:
    """1-based rank of each target among all items except padding and its history's items.

    Ties are pessimistic as in :func:`models.metrics.target_ranks`.
    """
    s = np.asarray(scores, dtype=np.float64)
    n = len(targets)
    if s.ndim != 2 or s.shape[0] != n:
        raise SequenceEvaluationError(f"full ranking needs (users={n}, n_items + 1) scores, got {s.shape}")
    target_scores = s[np.arange(n), targets]
    if not np.isfinite(target_scores).all():
        raise SequenceEvaluationError("full ranking: a target's score is NaN or infinite")
    beats = s >= target_scores[:, None]
    beats[:, 0] = False  # padding is never a candidate
    rows = np.repeat(np.arange(n), [len(h) for h in histories])
    if rows.size:
        beats[rows, np.concatenate(histories)] = False
    # A target repeated from its own history is still the target, not an excluded item.
    beats[np.arange(n), targets] = False
    ranks: NDArray[np.int64] = 1 + beats.sum(axis=1, dtype=np.int64)
    return ranks


def evaluation_ranks(scorer: Scorer, evaluation: EvaluationSet, batch_users: int = 1024) -> NDArray[np.int64]:
    """Rank of every case's target under its protocol, scoring ``batch_users`` users at a time."""
    if len(evaluation) == 0:
        raise SequenceEvaluationError(f"{evaluation.protocol}: no held-out case to evaluate")
    parts: list[NDArray[np.int64]] = []
    for start in range(0, len(evaluation), batch_users):
        stop = start + batch_users
        histories = evaluation.histories[start:stop]
        if evaluation.candidates is not None:
            scores = scorer.score_candidates(histories, evaluation.candidates[start:stop])
            parts.append(target_ranks(scores))
        else:
            scores = scorer.score_all(histories)
            if scores.shape[1] != evaluation.n_items + 1:
                raise SequenceEvaluationError(
                    f"score_all gave {scores.shape[1]} columns, "
                    f"expected n_items + 1 = {evaluation.n_items + 1}"
                )
            parts.append(full_ranks(scores, histories, evaluation.targets[start:stop]))
    return np.concatenate(parts)


def evaluate(
    scorer: Scorer, evaluation: EvaluationSet, ks: Sequence[int] = (1, 5, 10), batch_users: int = 1024
) -> dict[str, float]:
    """``hr@k``, ``ndcg@k`` and ``mrr`` of ``scorer`` on ``evaluation``."""
    return ranking_report(evaluation_ranks(scorer, evaluation, batch_users), ks=ks)
