"""Custom Keras 3 layers of the DeepFM ranker (models/deepfm.py).

Every layer is registered under the ``recsys`` package and has ``get_config``, so a model
built from them saves to and loads from the ``.keras`` format without custom objects.
Padding id 0 means "no value" everywhere: bags and tag lists are padded with 0.
"""

from __future__ import annotations

from typing import Any

import keras  # type: ignore[import-untyped]
import numpy as np
from keras import ops

Tensor = Any  # keras ships no type information; a backend tensor or a symbolic KerasTensor

# Knuth's multiplicative hash constant (2^32 / golden ratio): spreads consecutive pair keys
# over the buckets, so a pair table smaller than vocab^2 does not collide by row.
_PAIR_HASH_MULTIPLIER = 2654435761
_PAIR_HASH_MODULUS = 2**32


def _nonzero(ids: Tensor, dtype: str) -> Tensor:
    return ops.cast(ops.not_equal(ids, 0), dtype)


@keras.saving.register_keras_serializable(package="recsys")
class MaskedMean(keras.layers.Layer):  # type: ignore[misc]
    """Mean of a bag's vectors over its non-padding ids; an empty bag gives zeros.

    Call with ``[values (B, L, D), ids (B, L)]``; returns ``(B, D)``.
    """

    def call(self, inputs: list[Tensor]) -> Tensor:
        values, ids = inputs
        mask = ops.expand_dims(_nonzero(ids, values.dtype), -1)
        total = ops.sum(values * mask, axis=1)
        return total / ops.maximum(ops.sum(mask, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="recsys")
class WeightedSum(keras.layers.Layer):  # type: ignore[misc]
    """Sum of vectors scaled by their weights: ``[values (B, K, D), weights (B, K)] -> (B, D)``."""

    def call(self, inputs: list[Tensor]) -> Tensor:
        values, weights = inputs
        return ops.sum(values * ops.expand_dims(weights, -1), axis=1)


@keras.saving.register_keras_serializable(package="recsys")
class StackFields(keras.layers.Layer):  # type: ignore[misc]
    """Stack field vectors ``(B, D)`` and field groups ``(B, F, D)`` into one ``(B, fields, D)``."""

    def call(self, inputs: list[Tensor]) -> Tensor:
        parts = [x if len(x.shape) == 3 else ops.expand_dims(x, 1) for x in inputs]
        return ops.concatenate(parts, axis=1)


@keras.saving.register_keras_serializable(package="recsys")
class FMInteraction(keras.layers.Layer):  # type: ignore[misc]
    """Second-order FM term: sum over field pairs of <v_i, v_j>, ``(B, F, D) -> (B, 1)``.

    Uses the identity ``sum_{i<j} v_i v_j = ((sum v)^2 - sum v^2) / 2`` so the cost is
    linear in the number of fields.
    """

    def call(self, fields: Tensor) -> Tensor:
        square_of_sum = ops.square(ops.sum(fields, axis=1))
        sum_of_squares = ops.sum(ops.square(fields), axis=1)
        return 0.5 * ops.sum(square_of_sum - sum_of_squares, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="recsys")
class NumericFields(keras.layers.Layer):  # type: ignore[misc]
    """Dense scalars as FM fields: each value scales its own learned vector (x_j * v_j).

    Call with a list of ``(B,)`` or ``(B, 1)`` tensors; returns ``[vectors (B, n, D),
    first_order (B, 1)]``, the second being ``sum_j w_j x_j``.
    """

    def __init__(self, embedding_dim: int, l2: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.l2 = l2
        self.seed = seed

    def build(self, input_shape: list[tuple[int | None, ...]]) -> None:
        count = len(input_shape)
        self.vectors = self.add_weight(
            name="vectors",
            shape=(count, self.embedding_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.01, seed=self.seed),
            regularizer=keras.regularizers.L2(self.l2) if self.l2 else None,
        )
        self.first_order = self.add_weight(name="first_order", shape=(count,), initializer="zeros")

    def call(self, inputs: list[Tensor]) -> list[Tensor]:
        values = ops.stack([ops.reshape(x, (-1,)) for x in inputs], axis=1)
        vectors = ops.expand_dims(values, -1) * self.vectors
        linear = ops.sum(values * self.first_order, axis=1, keepdims=True)
        return [vectors, linear]

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(embedding_dim=self.embedding_dim, l2=self.l2, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="recsys")
class ProfileTopTags(keras.layers.Layer):  # type: ignore[misc]
    """The user's ``k`` strongest tags from a dense tag profile ``(B, V)``.

    Returns ``[ids (B, k) int32, weights (B, k)]``; weights are the profile values
    normalised to sum 1 over the kept tags; tags with weight 0 get id 0 (padding). Index 0
    of the profile is the padding tag and never selected. ``k`` bounds the cost of the
    attention and of the embedding look-ups when the tag vocabulary is large; with
    ``k >= V - 1`` the whole profile is kept.
    """

    def __init__(self, k: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k

    def call(self, profile: Tensor) -> list[Tensor]:
        vocab = profile.shape[-1]
        k = min(self.k, vocab - 1)
        not_padding = ops.cast(ops.arange(vocab) > 0, profile.dtype)
        values, indices = ops.top_k(ops.maximum(profile, 0.0) * not_padding, k)
        present = values > 0
        ids = ops.where(present, ops.cast(indices, "int32"), 0)
        weights = values / ops.maximum(ops.sum(values, axis=1, keepdims=True), keras.config.epsilon())
        return [ids, weights]

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(k=self.k)
        return config


@keras.saving.register_keras_serializable(package="recsys")
class TagAttention(keras.layers.Layer):  # type: ignore[misc]
    """The user's top tags attend over the item's tags; residual + layer norm, then pooled.

    Call with ``[query (B, K, D), query_weights (B, K), item_tag_vectors (B, L, D),
    item_tag_ids (B, L)]``. Each user tag (a query) reads the item's tags it relates to
    through multi-head attention; ``LayerNorm(query + attention)`` keeps the user's own tag
    when the item offers nothing related. The K outputs are pooled with the user's tag
    weights into one ``(B, D)`` field. Users without a profile or items without tags give
    zeros, so the field is silent rather than noise.
    """

    def __init__(
        self, num_heads: int, key_dim: int, dropout: float = 0.0, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.dropout = dropout
        self.seed = seed
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=key_dim, dropout=dropout, seed=seed, name="attention"
        )
        self.norm = keras.layers.LayerNormalization(name="norm")

    def build(self, input_shape: list[tuple[int | None, ...]]) -> None:
        query_shape, _, value_shape, _ = input_shape
        # Sub-layers must own their weights before a saved model's weights are loaded.
        self.attention.build(query_shape, value_shape)
        self.norm.build(query_shape)

    def call(self, inputs: list[Tensor], training: bool | None = None) -> Tensor:
        query, query_weights, values, value_ids = inputs
        query_valid = query_weights > 0
        value_valid = ops.not_equal(value_ids, 0)
        mask = ops.logical_and(ops.expand_dims(query_valid, 2), ops.expand_dims(value_valid, 1))
        attended = self.attention(query, values, values, attention_mask=mask, training=training)
        mixed = self.norm(query + attended)
        pooled = ops.sum(mixed * ops.expand_dims(query_weights, -1), axis=1)
        has_tags = ops.cast(ops.any(value_valid, axis=1, keepdims=True), pooled.dtype)
        return pooled * has_tags

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim, dropout=self.dropout, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="recsys")
class TagPairHash(keras.layers.Layer):  # type: ignore[misc]
    """Ids of an item's tag pairs, ``(B, L) -> (B, L*(L-1)/2)`` int32 in ``[0, buckets]``.

    A pair is unordered (``{a, b}`` = ``{b, a}``); a pair with a padding tag gets id 0. When
    ``vocab_size^2 <= buckets`` the id is exact (``1 + a*V + b``), otherwise the key is
    hashed into ``buckets`` so the pair table stays small however many tags there are.
    """

    def __init__(self, vocab_size: int, buckets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.buckets = buckets

    def call(self, tag_ids: Tensor) -> Tensor:
        length = tag_ids.shape[-1]
        first, second = np.triu_indices(length, k=1)
        a = ops.take(tag_ids, first.astype("int32"), axis=1)
        b = ops.take(tag_ids, second.astype("int32"), axis=1)
        low = ops.cast(ops.minimum(a, b), "int64")
        high = ops.cast(ops.maximum(a, b), "int64")
        key = low * self.vocab_size + high
        if self.vocab_size * self.vocab_size > self.buckets:
            key = ops.mod(ops.mod(key * _PAIR_HASH_MULTIPLIER, _PAIR_HASH_MODULUS), self.buckets)
        ids = ops.where(ops.logical_and(low > 0, high > 0), key + 1, 0)
        return ops.cast(ids, "int32")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        length = input_shape[-1]
        pairs = None if length is None else length * (length - 1) // 2
        return (input_shape[0], pairs)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(vocab_size=self.vocab_size, buckets=self.buckets)
        return config


@keras.saving.register_keras_serializable(package="recsys")
class TagCosine(keras.layers.Layer):  # type: ignore[misc]
    """Cosine between the user's tag profile ``(B, V)`` and the item's multi-hot tags ``(B, L)``.

    Returns ``(B, 1)``; 0 when either side is empty. The item's tag ids must be distinct
    (a repeated id would count twice). Profile index 0 (padding) is ignored.
    """

    def call(self, inputs: list[Tensor]) -> Tensor:
        profile, tag_ids = inputs
        vocab = profile.shape[-1]
        profile = profile * ops.cast(ops.arange(vocab) > 0, profile.dtype)
        present = _nonzero(tag_ids, profile.dtype)
        picked = ops.take_along_axis(profile, ops.cast(tag_ids, "int32"), axis=1) * present
        dot = ops.sum(picked, axis=1, keepdims=True)
        profile_norm = ops.sqrt(ops.sum(ops.square(profile), axis=1, keepdims=True))
        item_norm = ops.sqrt(ops.sum(present, axis=1, keepdims=True))
        return dot / ops.maximum(profile_norm * item_norm, keras.config.epsilon())
