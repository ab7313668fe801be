"""BERT4Rec (Sun et al., CIKM 2019): a bidirectional transformer over a user's item sequence.

Tokens: 0 pads, ``1..n_items`` are items, ``n_items + 1`` is ``[MASK]``. Sequences are
right-aligned (the most recent item at the last position), so a batch can be cut to its
longest sequence and still use the positions the full length would give it.

Training is the cloze task (:func:`fit_bert4rec`): each epoch masks a share of every
training sequence's items afresh and the loss is the softmax cross-entropy over all items
at the masked positions only. A share of the sequences instead has only its last item
masked, the paper's way of matching the inference task. With ``TrainConfig.negatives`` the
loss is instead a sampled softmax: each masked position's true item against that many item
ids drawn once per batch (uniformly or by training popularity), optionally log-q corrected,
which skips the ``(positions, n_items)`` product that dominates an epoch on a large catalog.
Inference always scores the full catalog or the given candidates. The output layer is a GELU
transform and layer norm followed by the dot product with the *input* item embeddings
(tied) plus a per-item bias. Inference appends ``[MASK]`` after the history and reads the
scores at that position: :meth:`Bert4Rec.score_candidates` scores given candidate ids
(fine ranking), :meth:`Bert4Rec.score_all` and :meth:`Bert4Rec.top_k` the whole catalog.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import keras  # type: ignore[import-untyped]
import numpy as np
import tensorflow as tf  # type: ignore[import-untyped]
from keras import ops

from models.sequences import EvaluationSet, evaluate
from recsys.errors import SequenceInputError, TrainingError

Tensor = Any  # keras ships no type information
Monitor = Literal["ndcg@10", "hr@10"]
Sampler = Literal["uniform", "popularity"]
Fn = TypeVar("Fn", bound=Callable[..., Any])

_INIT_STDDEV = 0.02  # BERT's initialiser range
_MASKED_LOGIT = -1e9  # an accidental hit's logit: exp() is 0, yet no inf - inf = nan in the gradient


def _graph(*specs: tf.TensorSpec) -> Callable[[Fn], Fn]:
    """``tf.function`` with a fixed input signature: ``None`` sizes take any batch and width untraced."""
    compile_: Callable[[Fn], Fn] = tf.function(input_signature=list(specs), reduce_retracing=True)
    return compile_


IDS = tf.TensorSpec((None, None), tf.int32)
FLAT = tf.TensorSpec((None,), tf.int32)


def _normal() -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=_INIT_STDDEV)


@keras.saving.register_keras_serializable(package="recsys")
class SequenceEmbedding(keras.layers.Layer):  # type: ignore[misc]
    """Item plus learned position embeddings, then layer norm and dropout.

    ``(B, T) ids -> (B, T, hidden)`` for any ``T <= max_len``; the ``T`` columns get the
    last ``T`` positions because sequences are right-aligned. :meth:`vectors` gives the
    ``n_items + 2`` token vectors (padding, items, mask) that the output layer reuses: the
    learned ``table``, plus, with ``n_attributes``, the mean of each item's attribute
    vectors (brand, category...: ``attribute_ids``, ``attribute_width`` ids a row, 0 pads,
    set by :meth:`set_attributes` and saved with the weights). Items that share attributes
    then start close, which the id vectors alone learn only from enough interactions.
    """

    def __init__(
        self,
        n_items: int,
        max_len: int,
        hidden: int,
        dropout: float,
        n_attributes: int = 0,
        attribute_width: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_items = n_items
        self.max_len = max_len
        self.hidden = hidden
        self.dropout = dropout
        self.n_attributes = n_attributes
        self.attribute_width = attribute_width if n_attributes else 0
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.table = self.add_weight(
            name="items", shape=(self.n_items + 2, self.hidden), initializer=_normal()
        )
        self.positions = self.add_weight(
            name="positions", shape=(self.max_len, self.hidden), initializer=_normal()
        )
        if self.n_attributes:
            self.attribute_ids = self.add_weight(
                name="attribute_ids",
                shape=(self.n_items + 2, self.attribute_width),
                dtype="int32",
                initializer="zeros",
                trainable=False,
            )
            self.attributes = self.add_weight(
                name="attributes", shape=(self.n_attributes + 1, self.hidden), initializer=_normal()
            )
        self.norm.build((*input_shape, self.hidden))

    def set_attributes(self, attribute_ids: np.ndarray) -> None:
        """Each token's attribute ids ``(n_items + 2, attribute_width)``, 1..n_attributes, 0 pads."""
        ids = np.asarray(attribute_ids)
        expected = (self.n_items + 2, self.attribute_width)
        if not self.n_attributes or ids.shape != expected:
            raise SequenceInputError(f"attribute ids must be {expected} for this model, got {ids.shape}")
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) > self.n_attributes):
            raise SequenceInputError(
                f"attribute ids must lie in 0..{self.n_attributes}, got {ids.min()}..{ids.max()}"
            )
        self.attribute_ids.assign(ids.astype(np.int32))

    def set_item_vectors(self, vectors: np.ndarray) -> None:
        """Start the items' own vectors (rows ``1..n_items`` of ``table``) from ``(n_items + 1, hidden)``.

        Row 0 of ``vectors`` (padding) is ignored; padding and ``[MASK]`` keep their vectors.
        """
        given = np.asarray(vectors, dtype=np.float32)
        if given.shape != (self.n_items + 1, self.hidden) or not np.isfinite(given).all():
            raise SequenceInputError(
                f"item vectors must be finite and ({self.n_items + 1}, {self.hidden}), got {given.shape}"
            )
        table = np.asarray(self.table.numpy())
        table[1 : self.n_items + 1] = given[1:]
        self.table.assign(table)

    def vectors(self) -> Tensor:
        """The ``(n_items + 2, hidden)`` token vectors: ids' own, plus their attributes' mean."""
        if not self.n_attributes:
            return self.table
        ids = self.attribute_ids
        present = ops.cast(ops.not_equal(ids, 0), self.table.dtype)[..., None]
        summed = ops.sum(ops.take(self.attributes, ids, axis=0) * present, axis=1)
        return self.table + summed / ops.maximum(ops.sum(present, axis=1), 1.0)

    def call(self, ids: Tensor, vectors: Tensor | None = None, training: bool | None = None) -> Tensor:
        """Embedded ``ids``; ``vectors`` is :meth:`vectors` when the caller has them already."""
        length = ops.shape(ids)[1]
        table = self.vectors() if vectors is None else vectors
        x = ops.take(table, ids, axis=0) + self.positions[self.max_len - length :]
        return self.drop(self.norm(x), training=training)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape, self.hidden)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            n_items=self.n_items,
            max_len=self.max_len,
            hidden=self.hidden,
            dropout=self.dropout,
            n_attributes=self.n_attributes,
            attribute_width=self.attribute_width,
        )
        return config


@keras.saving.register_keras_serializable(package="recsys")
class TransformerBlock(keras.layers.Layer):  # type: ignore[misc]
    """Post-norm transformer encoder block: self-attention and a GELU feed-forward, each residual.

    Call with ``[x (B, T, hidden), padding (B, T) bool, True where a token is real]``; padded
    positions are never attended to.
    """

    def __init__(
        self, hidden: int, heads: int, ffn: int, dropout: float, attention_dropout: float, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.hidden = hidden
        self.heads = heads
        self.ffn = ffn
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=heads, key_dim=hidden // heads, dropout=attention_dropout, kernel_initializer=_normal()
        )
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.expand = keras.layers.Dense(ffn, activation="gelu", kernel_initializer=_normal())
        self.contract = keras.layers.Dense(hidden, kernel_initializer=_normal())
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.drop = keras.layers.Dropout(dropout)

    def build(self, input_shape: list[tuple[int | None, ...]]) -> None:
        x_shape = tuple(input_shape[0])
        self.attention.build(x_shape, x_shape)
        self.attention_norm.build(x_shape)
        self.expand.build(x_shape)
        self.contract.build((*x_shape[:-1], self.ffn))
        self.ffn_norm.build(x_shape)

    def call(self, inputs: list[Tensor], training: bool | None = None) -> Tensor:
        x, padding = inputs
        keys = ops.expand_dims(ops.cast(padding, "bool"), 1)  # (B, 1, T): every query, real keys only
        attended = self.attention(x, x, attention_mask=keys, training=training)
        x = self.attention_norm(x + self.drop(attended, training=training))
        forward = self.contract(self.expand(x))
        return self.ffn_norm(x + self.drop(forward, training=training))

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return tuple(input_shape[0])

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            hidden=self.hidden,
            heads=self.heads,
            ffn=self.ffn,
            dropout=self.dropout,
            attention_dropout=self.attention_dropout,
        )
        return config


@keras.saving.register_keras_serializable(package="recsys")
class TiedItemScores(keras.layers.Layer):  # type: ignore[misc]
    """Item scores from hidden states through the item embedding table (weights tied).

    Call with ``[states (..., hidden), table (n_items + 2, hidden)]``; returns
    ``(..., n_items)`` scores of items ``1..n_items``. :meth:`candidates` scores only given
    ids, which costs ``C`` dot products per user instead of ``n_items``; :meth:`sampled` scores
    each row's label and ids shared by all rows (sampled-softmax training).
    """

    def __init__(self, n_items: int, hidden: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_items = n_items
        self.hidden = hidden
        self.transform = keras.layers.Dense(hidden, activation="gelu", kernel_initializer=_normal())
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6)

    def build(self, input_shape: list[tuple[int | None, ...]]) -> None:
        states_shape = tuple(input_shape[0])
        self.transform.build(states_shape)
        self.norm.build(states_shape)
        # Indexed by token id like the table; entries 0 and n_items + 1 are never used.
        self.bias = self.add_weight(name="bias", shape=(self.n_items + 2,), initializer="zeros")

    def _states(self, states: Tensor) -> Tensor:
        return self.norm(self.transform(states))

    def call(self, inputs: list[Tensor]) -> Tensor:
        states, table = inputs
        items = table[1 : self.n_items + 1]
        return ops.matmul(self._states(states), ops.transpose(items)) + self.bias[1 : self.n_items + 1]

    def candidates(self, states: Tensor, table: Tensor, ids: Tensor) -> Tensor:
        """``states (B, hidden)``, ``ids (B, C)`` -> ``(B, C)`` scores."""
        vectors = ops.take(table, ids, axis=0)
        return ops.einsum("bd,bcd->bc", self._states(states), vectors) + ops.take(self.bias, ids, axis=0)

    def sampled(self, states: Tensor, table: Tensor, labels: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
        """``states (N, hidden)``, ``labels (N,)``, shared ``ids (S,)`` -> ``(N,)`` and ``(N, S)`` scores."""
        transformed = self._states(states)
        positive = ops.sum(transformed * ops.take(table, labels, axis=0), axis=-1)
        sampled = ops.matmul(transformed, ops.transpose(ops.take(table, ids, axis=0)))
        return positive + ops.take(self.bias, labels, axis=0), sampled + ops.take(self.bias, ids, axis=0)

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple[int | None, ...]:
        return (*tuple(input_shape[0])[:-1], self.n_items)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(n_items=self.n_items, hidden=self.hidden)
        return config


def encode_histories(histories: Sequence[np.ndarray], max_len: int, mask_id: int) -> np.ndarray:
    """Right-aligned ``(U, T)`` int32 inputs: the last ``max_len - 1`` items then ``[MASK]``.

    ``T`` is the longest encoded row of this batch (at most ``max_len``); an empty history
    gives a row that is ``[MASK]`` alone.
    """
    kept = [np.asarray(h, dtype=np.int64)[-(max_len - 1) :] if max_len > 1 else h[:0] for h in histories]
    width = 1 + max((len(h) for h in kept), default=0)
    ids = np.zeros((len(kept), width), dtype=np.int32)
    ids[:, -1] = mask_id
    for row, h in enumerate(kept):
        if len(h):
            ids[row, width - 1 - len(h) : width - 1] = h
    return ids


@keras.saving.register_keras_serializable(package="recsys")
class Bert4Rec(keras.Model):  # type: ignore[misc]
    """The BERT4Rec network; ``call(ids (B, T))`` returns ``(B, n_items)`` scores at the last position.

    Scores for item ``i`` are in column ``i - 1`` of ``call``'s output; the numpy methods
    below index by item id instead.
    """

    def __init__(
        self,
        n_items: int,
        max_len: int = 50,
        hidden: int = 64,
        layers: int = 2,
        heads: int = 2,
        ffn: int | None = None,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        n_attributes: int = 0,
        attribute_width: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if n_attributes < 0 or (n_attributes and attribute_width < 1):
            raise TrainingError(
                f"item attributes need n_attributes >= 1 and attribute_width >= 1, got {n_attributes} and "
                f"{attribute_width} (0 attributes: none)"
            )
        if n_items < 1 or max_len < 2 or hidden < 1 or layers < 1 or heads < 1:
            raise TrainingError(
                "BERT4Rec needs n_items >= 1, max_len >= 2 and hidden, layers, heads >= 1; got "
                f"n_items={n_items}, max_len={max_len}, hidden={hidden}, layers={layers}, heads={heads}"
            )
        if not (0.0 <= dropout < 1.0 and 0.0 <= attention_dropout < 1.0):
            raise TrainingError(f"dropout rates must lie in [0, 1), got {dropout} and {attention_dropout}")
        self.n_items = n_items
        self.max_len = max_len
        self.hidden = hidden
        self.n_layers = layers
        self.heads = heads
        self.ffn = ffn or 4 * hidden
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.mask_id = n_items + 1
        self.n_attributes = n_attributes
        self.attribute_width = attribute_width if n_attributes else 0
        self.embedding = SequenceEmbedding(
            n_items, max_len, hidden, dropout, n_attributes, attribute_width, name="embedding"
        )
        self.blocks = [
            TransformerBlock(hidden, heads, self.ffn, dropout, attention_dropout, name=f"block_{i}")
            for i in range(layers)
        ]
        self.scores = TiedItemScores(n_items, hidden, name="scores")

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        ids_shape = tuple(input_shape)
        self.embedding.build(ids_shape)
        states_shape = (*ids_shape, self.hidden)
        for block in self.blocks:
            block.build([states_shape, ids_shape])
        self.scores.build([states_shape, (self.n_items + 2, self.hidden)])
        self.built = True

    def states(self, ids: Tensor, training: bool | None = None, vectors: Tensor | None = None) -> Tensor:
        """Encoder output ``(B, T, hidden)`` of right-aligned token ids (``vectors``: see embedding)."""
        padding = ops.not_equal(ids, 0)
        x = self.embedding(ids, vectors, training=training)
        for block in self.blocks:
            x = block([x, padding], training=training)
        return x

    def call(self, ids: Tensor, training: bool | None = None) -> Tensor:
        vectors = self.embedding.vectors()
        last = self.states(ids, training=training, vectors=vectors)[:, -1, :]
        return self.scores([last, vectors])

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_items": self.n_items,
            "max_len": self.max_len,
            "hidden": self.hidden,
            "layers": self.n_layers,
            "heads": self.heads,
            "ffn": self.ffn,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "n_attributes": self.n_attributes,
            "attribute_width": self.attribute_width,
        }

    # -- numpy inference -------------------------------------------------------------------

    @_graph(IDS)
    def _all_scores(self, ids: Tensor) -> Tensor:
        return self(ids, training=False)

    @_graph(IDS, IDS)
    def _candidate_scores(self, ids: Tensor, candidates: Tensor) -> Tensor:
        vectors = self.embedding.vectors()
        last = self.states(ids, training=False, vectors=vectors)[:, -1, :]
        return self.scores.candidates(last, vectors, candidates)

    def _batches(self, n: int, batch_size: int) -> range:
        if batch_size < 1:
            raise SequenceInputError(f"batch_size must be >= 1, got {batch_size}")
        return range(0, n, batch_size)

    def _inputs(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        ids = encode_histories(histories, self.max_len, self.mask_id)
        items = ids[:, :-1]
        if items.size and (int(items.min()) < 0 or int(items.max()) > self.n_items):
            raise SequenceInputError(
                f"history item ids must lie in 1..{self.n_items} (0 pads), got {items.min()}..{items.max()}"
            )
        return ids

    def score_candidates(
        self, sequences: Sequence[np.ndarray], candidates: np.ndarray, batch_size: int = 512
    ) -> np.ndarray:
        """Scores ``(U, C)`` of each user's candidate item ids ``(U, C)`` after their history."""
        ids = np.asarray(candidates)
        if ids.ndim != 2 or ids.shape[0] != len(sequences):
            raise SequenceInputError(f"candidates must be (users={len(sequences)}, C), got {ids.shape}")
        if ids.size and (int(ids.min()) < 1 or int(ids.max()) > self.n_items):
            found = f"{ids.min()}..{ids.max()}"
            raise SequenceInputError(f"candidate ids must lie in 1..{self.n_items}, got {found}")
        out = np.empty(ids.shape, dtype=np.float32)
        for start in self._batches(len(sequences), batch_size):
            stop = start + batch_size
            inputs = self._inputs(sequences[start:stop])
            out[start:stop] = self._candidate_scores(inputs, ids[start:stop].astype(np.int32)).numpy()
        return out

    def score_all(self, sequences: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Scores ``(U, n_items + 1)`` of every item, indexed by item id; column 0 (padding) is -inf."""
        out = np.empty((len(sequences), self.n_items + 1), dtype=np.float32)
        out[:, 0] = -np.inf
        for start in self._batches(len(sequences), batch_size):
            stop = start + batch_size
            inputs = self._inputs(sequences[start:stop])
            out[start:stop, 1:] = self._all_scores(inputs).numpy()
        return out

    def top_k(self, sequences: Sequence[np.ndarray], k: int, exclude_history: bool = True) -> np.ndarray:
        """The ``k`` best item ids per user ``(U, k)``, best first; the history left out if asked."""
        if not 1 <= k <= self.n_items:
            raise SequenceInputError(f"k must lie in 1..{self.n_items}, got {k}")
        scores = self.score_all(sequences)
        if exclude_history:
            for row, history in enumerate(sequences):
                scores[row, np.asarray(history, dtype=np.int64)] = -np.inf
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        top: np.ndarray = np.take_along_axis(best, order, axis=1)
        return top


def build_bert4rec(
    n_items: int,
    seed: int = 0,
    item_attributes: np.ndarray | None = None,
    item_vectors: np.ndarray | None = None,
    **settings: Any,
) -> Bert4Rec:
    """A built, seeded :class:`Bert4Rec`; ``settings`` are its constructor's keyword arguments.

    ``item_attributes`` ``(n_items + 2, width)`` (models.sequences.item_attribute_ids) gives
    every item its attributes' mean vector too; None: ids only. ``item_vectors``
    ``(n_items + 1, hidden)`` (e.g. models.seq_baselines.cooccurrence_vectors) replaces the
    random start of the items' own vectors.
    """
    keras.utils.set_random_seed(seed)
    if item_attributes is not None:
        settings |= {"n_attributes": int(item_attributes.max()), "attribute_width": item_attributes.shape[1]}
    model = Bert4Rec(n_items, **settings)
    model.build((None, model.max_len))
    if item_attributes is not None:
        model.embedding.set_attributes(item_attributes)
    if item_vectors is not None:
        model.embedding.set_item_vectors(item_vectors)
    return model


# -- training --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """Cloze training settings.

    ``mask_prob`` is the share of a sequence's items replaced by ``[MASK]``; ``last_share``
    the share of sequences (per epoch) that instead mask only their last item. Sequences
    longer than ``max_len`` are cut into windows of ``max_len`` ending every
    ``max_len // 2`` items from the end. The learning rate rises linearly over
    ``warmup_steps``, then is multiplied by ``decay_factor`` after every ``decay_patience``
    validations without a gain (0: never). ``max_seconds`` stops before an epoch that
    would end past it (the weights of the best epoch are kept either way).

    ``negatives > 0`` trains with a sampled softmax instead of the full one: every batch
    draws that many item ids (with replacement) ``uniformly`` or by ``popularity`` (item
    frequency in the training windows, plus one), shared by all its masked positions.
    ``logq_correction`` subtracts the log sampling probability from every logit, the
    positive's included (Bengio & Senecal; Yi et al. 2019), so the scores still estimate
    the full softmax's; without it popular items, drawn more often as negatives, end up
    scored about ``log q`` lower. Under ``uniform`` it is a constant shift: no effect.
    """

    epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    clipnorm: float = 5.0
    warmup_steps: int = 100
    decay_patience: int = 3
    decay_factor: float = 0.5
    mask_prob: float = 0.2
    last_share: float = 0.1
    patience: int = 10
    monitor: Monitor = "ndcg@10"
    validate_every: int = 1
    max_seconds: float | None = None
    seed: int = 0
    negatives: int = 0
    negative_sampler: Sampler = "popularity"
    logq_correction: bool = True

    def check(self) -> None:
        problems = []
        if self.epochs < 1 or self.patience < 1 or self.validate_every < 1:
            problems.append("epochs, patience and validate_every must be >= 1")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.learning_rate > 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            problems.append("learning_rate must be > 0, weight_decay and warmup_steps >= 0")
        if self.decay_patience < 0 or not 0.0 < self.decay_factor <= 1.0:
            problems.append(
                f"decay_patience must be >= 0 and decay_factor in (0, 1], got {self.decay_factor}"
            )
        if not 0.0 < self.mask_prob <= 1.0 or not 0.0 <= self.last_share <= 1.0:
            problems.append(
                f"mask_prob must lie in (0, 1] and last_share in [0, 1], "
                f"got {self.mask_prob} and {self.last_share}"
            )
        if self.monitor not in ("ndcg@10", "hr@10"):
            problems.append(f"monitor must be ndcg@10 or hr@10, got {self.monitor!r}")
        if isinstance(self.negatives, bool) or not isinstance(self.negatives, int) or self.negatives < 0:
            problems.append(f"negatives must be an int >= 0 (0: full softmax), got {self.negatives!r}")
        if self.negative_sampler not in ("uniform", "popularity"):
            problems.append(f"negative_sampler must be uniform or popularity, got {self.negative_sampler!r}")
        if not isinstance(self.logq_correction, bool):
            problems.append(f"logq_correction must be True or False, got {self.logq_correction!r}")
        if problems:
            raise TrainingError("invalid BERT4Rec training settings: " + "; ".join(problems))


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: masked-item loss (sampled under negatives), validation (empty if not validated), timing."""

    epoch: int
    loss: float
    validation: dict[str, float]
    seconds: float
    sequences_per_s: float
    lr_scale: float = 1.0  # the epoch's learning rate over TrainConfig.learning_rate, warm-up aside


@dataclass(frozen=True)
class FitSummary:
    """Outcome of :func:`fit_bert4rec`; the model holds the weights of ``best_epoch``."""

    monitor: str
    best_epoch: int
    best_value: float
    epochs_run: int
    stop_reason: str
    train_seconds: float
    training_sequences: int
    history: list[EpochRecord] = field(default_factory=list)


def refit_schedule(summary: FitSummary) -> list[float]:
    """The learning-rate scales of ``summary``'s epochs up to its best one, to replay on more data.

    A refit trains a fresh model on every sequence up to the test item (validation items
    included) for the epochs and learning rates that early stopping chose, so the items held
    out to choose them are learned too.
    """
    return [r.lr_scale for r in summary.history[: summary.best_epoch]]


def training_windows(sequences: Sequence[np.ndarray], max_len: int) -> np.ndarray:
    """Right-aligned ``(windows, max_len)`` int32 training rows; long sequences give several windows."""
    stride = max(1, max_len // 2)
    rows: list[np.ndarray] = []
    for sequence in sequences:
        s = np.asarray(sequence, dtype=np.int64)
        if len(s) == 0:
            continue
        end = len(s)
        while True:
            rows.append(s[max(0, end - max_len) : end])
            if end <= max_len:
                break
            end -= stride
    out = np.zeros((len(rows), max_len), dtype=np.int32)
    for i, row in enumerate(rows):
        out[i, max_len - len(row) :] = row
    return out


def _mask_batch(
    rows: np.ndarray, mask_id: int, mask_prob: float, last_share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut to the batch's longest row and mask it: ``(inputs, flat masked positions, labels)``."""
    real = rows != 0
    width = int(real.sum(axis=1).max())
    rows, real = rows[:, -width:], real[:, -width:]
    masked = real & (rng.random(rows.shape) < mask_prob)
    last_only = rng.random(len(rows)) < last_share
    masked[last_only] = False
    masked[last_only, -1] = True
    # Every row predicts something: a row the draw left unmasked masks one random item.
    empty = np.flatnonzero(~masked.any(axis=1))
    if empty.size:
        lengths = real[empty].sum(axis=1)
        masked[empty, width - 1 - (rng.random(empty.size) * lengths).astype(np.int64)] = True
    positions = np.flatnonzero(masked).astype(np.int32)
    labels = rows.reshape(-1)[positions].astype(np.int32)
    inputs = np.where(masked, mask_id, rows).astype(np.int32)
    return inputs, positions, labels


def sampling_probabilities(windows: np.ndarray, n_items: int, sampler: Sampler) -> np.ndarray:
    """Negative-sampling probabilities ``(n_items + 2,)`` by token id; padding and ``[MASK]`` get 0."""
    weights = np.zeros(n_items + 2, dtype=np.float64)
    if sampler == "uniform":
        weights[1 : n_items + 1] = 1.0
    else:
        counts = np.bincount(windows.reshape(-1), minlength=n_items + 2)[: n_items + 2]
        # Plus one: items absent from training (test-only targets) still get pushed down now and then.
        weights[1 : n_items + 1] = counts[1 : n_items + 1] + 1.0
    probabilities: np.ndarray = weights / weights.sum()
    return probabilities


def draw_negatives(cumulative: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` item ids drawn with replacement.

    ``cumulative`` is ``np.cumsum`` of the probabilities of items ``1..n_items`` (its index 0 is item 1).
    """
    drawn = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
    # A product rounding up to the total would land one past the last item.
    ids: np.ndarray = (np.minimum(drawn, len(cumulative) - 1) + 1).astype(np.int32)
    return ids


def sampled_logits(
    positive: Tensor, sampled: Tensor, labels: Tensor, ids: Tensor, log_q: Tensor | None
) -> Tensor:
    """Sampled-softmax logits ``(N, 1 + S)``, the true item in column 0.

    ``positive (N,)`` and ``sampled (N, S)`` are the scores of each row's ``labels`` and of
    the shared ``ids (S,)``; ``log_q`` (indexed by token id, or None for no correction) is
    subtracted from both. A sampled id equal to the row's label (an accidental hit) would
    count the true item as its own negative, so its logit is masked out.
    """
    if log_q is not None:
        positive = positive - tf.gather(log_q, labels)
        sampled = sampled - tf.gather(log_q, ids)[tf.newaxis, :]
    hits = tf.equal(labels[:, tf.newaxis], ids[tf.newaxis, :])
    sampled = tf.where(hits, tf.constant(_MASKED_LOGIT, sampled.dtype), sampled)
    return tf.concat([positive[:, tf.newaxis], sampled], axis=1)


def sampled_softmax_loss(logits: Tensor) -> Tensor:
    """Mean cross-entropy of :func:`sampled_logits`, whose column 0 is the true item."""
    return tf.reduce_mean(tf.reduce_logsumexp(logits, axis=1) - logits[:, 0])


def dense_gradients(gradients: Sequence[Tensor]) -> list[Tensor]:
    """Gradients with every ``tf.IndexedSlices`` summed into a dense tensor.

    Gathers give sparse gradients that repeat an id once per occurrence (labels, popular
    negatives). Keras squares those slices before summing them, so Adam's second moment and
    the global clip norm would see ``sum(g_i ** 2)`` instead of ``(sum g_i) ** 2``; its update
    is dense anyway, so densifying first costs one table-sized add.
    """
    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in gradients]


def _epoch_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of rows of similar length (less padding), in shuffled order."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    # A plain float rate becomes a variable the loop assigns (warm-up, decay on plateau).
    if config.weight_decay:
        optimizer = keras.optimizers.AdamW(
            learning_rate=config.learning_rate,
            weight_decay=config.weight_decay,
            global_clipnorm=config.clipnorm,
        )
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "positions"])
        return optimizer
    return keras.optimizers.Adam(learning_rate=config.learning_rate, global_clipnorm=config.clipnorm)


def fit_bert4rec(
    model: Bert4Rec,
    train: Sequence[np.ndarray],
    validation: EvaluationSet | None,
    config: TrainConfig,
    log: Callable[[str], None] = print,
    schedule: Sequence[float] | None = None,
) -> FitSummary:
    """Cloze-train ``model`` on the ``train`` sequences; early-stop on ``validation``'s ``config.monitor``.

    Logs one line per epoch (masked-item loss, validation HR@10 / NDCG@10, speed, elapsed
    time) and leaves the model with the weights of its best validated epoch (the last
    epoch's when ``validation`` is None).

    ``schedule`` replays an earlier fit (:func:`refit_schedule`): one learning-rate scale per
    epoch, that many epochs, no decay on plateau.

    Raises:
        TrainingError: invalid settings, or no training sequence holds an item.
    """
    config.check()
    if schedule is not None and (not schedule or min(schedule) <= 0):
        raise TrainingError(f"a replayed schedule needs one positive scale per epoch, got {list(schedule)}")
    windows = training_windows(train, model.max_len)
    if len(windows) == 0:
        raise TrainingError("no training sequence holds an item: nothing to learn from")
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    lengths = (windows != 0).sum(axis=1)
    optimizer = _optimizer(config)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @_graph(IDS, FLAT, FLAT)
    def step(ids: Tensor, positions: Tensor, labels: Tensor) -> Tensor:
        with tf.GradientTape() as tape:
            vectors = model.embedding.vectors()
            states = tf.reshape(model.states(ids, training=True, vectors=vectors), (-1, model.hidden))
            logits = model.scores([tf.gather(states, positions), vectors])
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels - 1, logits=logits)
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    probabilities = sampling_probabilities(windows, model.n_items, config.negative_sampler)
    cumulative = np.cumsum(probabilities[1 : model.n_items + 1])
    # Padding and [MASK] (probability 0) are never a label or a draw: log 1 = 0 keeps the table finite.
    log_q = tf.constant(np.log(np.where(probabilities > 0, probabilities, 1.0)), tf.float32)

    @_graph(IDS, FLAT, FLAT, FLAT)
    def sampled_step(ids: Tensor, positions: Tensor, labels: Tensor, negatives: Tensor) -> Tensor:
        with tf.GradientTape() as tape:
            vectors = model.embedding.vectors()
            states = tf.reshape(model.states(ids, training=True, vectors=vectors), (-1, model.hidden))
            positive, sampled = model.scores.sampled(tf.gather(states, positions), vectors, labels, negatives)
            logits = sampled_logits(
                positive, sampled, labels, negatives, log_q if config.logq_correction else None
            )
            loss = sampled_softmax_loss(logits)
        gradients = dense_gradients(tape.gradient(loss, variables))
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    maximise_value = -math.inf
    best_epoch, best_weights, waited, steps, scale = 0, None, 0, 0, 1.0
    history: list[EpochRecord] = []
    epochs = config.epochs if schedule is None else len(schedule)
    stop_reason = f"reached {epochs} epochs"
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        if schedule is not None:
            scale = schedule[epoch - 1]
            if steps > config.warmup_steps:
                optimizer.learning_rate.assign(config.learning_rate * scale)
        epoch_rate = config.learning_rate * scale
        total, count = 0.0, 0
        for batch in _epoch_batches(lengths, config.batch_size, rng):
            if steps <= config.warmup_steps:
                warm = min(1.0, (steps + 1) / config.warmup_steps) if config.warmup_steps else 1.0
                optimizer.learning_rate.assign(config.learning_rate * scale * warm)
            steps += 1
            inputs, positions, labels = _mask_batch(
                windows[batch], model.mask_id, config.mask_prob, config.last_share, rng
            )
            if config.negatives:
                negatives = draw_negatives(cumulative, config.negatives, rng)
                loss = float(sampled_step(inputs, positions, labels, negatives))
            else:
                loss = float(step(inputs, positions, labels))
            total += loss * len(labels)
            count += len(labels)
        train_seconds = time.perf_counter() - epoch_start
        figures: dict[str, float] = {}
        improved = False
        if validation is not None and (epoch % config.validate_every == 0 or epoch == epochs):
            figures = evaluate(model, validation)
            value = figures[config.monitor]
            if value > maximise_value:
                maximise_value, best_epoch, waited, improved = value, epoch, 0, True
                best_weights = [w.copy() for w in model.get_weights()]
            else:
                waited += 1
                if schedule is None and config.decay_patience and waited % config.decay_patience == 0:
                    scale *= config.decay_factor
                    optimizer.learning_rate.assign(config.learning_rate * scale)
        record = EpochRecord(
            epoch=epoch,
            loss=total / max(count, 1),
            validation=figures,
            seconds=time.perf_counter() - epoch_start,
            sequences_per_s=len(windows) / max(train_seconds, 1e-9),
            lr_scale=epoch_rate / config.learning_rate,
        )
        history.append(record)
        elapsed = time.perf_counter() - started
        shown = f"  val hr@10 {figures['hr@10']:.4f} ndcg@10 {figures['ndcg@10']:.4f}" if figures else ""
        log(
            f"epoch {epoch:>3}/{epochs}  masked-item loss {record.loss:.4f}{shown}  "
            f"lr {epoch_rate:.2g}  {record.sequences_per_s:,.0f} seq/s  "
            f"{record.seconds:.1f} s  elapsed {elapsed / 60:.1f} min"
            f"{f'  sampled {config.negatives}' if config.negatives else ''}"
            f"{'  *best*' if improved else ''}"
        )
        if validation is not None and waited >= config.patience:
            stop_reason = f"no {config.monitor} gain in {config.patience} validations"
            break
        if config.max_seconds is not None and elapsed + record.seconds > config.max_seconds:
            stop_reason = f"time budget of {config.max_seconds:.0f} s"
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    else:
        best_epoch = len(history)
    return FitSummary(
        monitor=config.monitor,
        best_epoch=best_epoch,
        best_value=maximise_value,
        epochs_run=len(history),
        stop_reason=stop_reason,
        train_seconds=time.perf_counter() - started,
        training_sequences=len(windows),
        history=history,
    )
