"""DeepFM ranker: first-order terms + FM interactions + an MLP over shared field embeddings.

One builder, two variants. ``baseline`` uses the categorical, numeric and sequence fields
of a :class:`FeatureSpec`; ``tags`` adds the tag fields: the item's tag bag, the user's
tag preference vector, a 4-head attention of the user's tags over the item's tags, hashed
tag-pair cross features and the user-item tag cosine. The spec is plain data (JSON), so
the public-dataset benchmark and the shop's lake features map onto the same model.

Why hashed tag pairs rather than pooled products of tag embeddings: the product of two
shared tag embeddings is exactly what the FM term already computes between the tag bag
and itself, so it adds no parameters of its own. A pair id gets its own embedding and
weight, so "this brand in this category" can differ from the sum of its parts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import count
from typing import Any, Literal

import keras  # type: ignore[import-untyped]
import numpy as np

from models.layers import (
    FMInteraction,
    MaskedMean,
    NumericFields,
    ProfileTopTags,
    StackFields,
    TagAttention,
    TagCosine,
    TagPairHash,
    WeightedSum,
)
from recsys.errors import FeatureInputError, FeatureSpecError

Variant = Literal["baseline", "tags"]
VARIANTS: tuple[Variant, ...] = ("baseline", "tags")

ITEM_TAGS = "item_tags"
USER_TAG_PROFILE = "user_tag_profile"
TAG_PAIRS = "tag_pairs"  # computed inside the model from item_tags, not an input


@dataclass(frozen=True)
class SequenceField:
    """A bag of ids (e.g. the user's recent items), padded with 0 to ``max_length``.

    ``shared_with`` names a categorical field whose embedding tables the bag reuses (the
    history of items shares the ``item`` table), so ``vocab_size`` must equal that field's.
    """

    vocab_size: int
    max_length: int
    shared_with: str | None = None


@dataclass(frozen=True)
class TagFields:
    """The tag inputs of the ``tags`` variant.

    Tag ids run from 1 to ``vocab_size - 1`` (0 pads). ``item_tags`` is ``(max_tags,)``
    distinct ids padded with 0; ``user_tag_profile`` is a dense ``(vocab_size,)`` vector of
    non-negative preference weights (index 0 unused). ``profile_top_k`` user tags query the
    item's tags; ``pair_buckets`` sizes the hashed tag-pair table.
    """

    vocab_size: int
    max_tags: int
    profile_top_k: int
    pair_buckets: int


@dataclass(frozen=True)
class FeatureSpec:
    """Names and sizes of a ranker's inputs; ids 0 mean unknown or padding everywhere.

    Attributes:
        categorical: field name -> vocabulary size (user, item, category, brand, ...).
        numeric: names of dense float inputs, scaled by the caller (e.g. log counters).
        sequences: field name -> :class:`SequenceField` (bags mean-pooled with masking).
        tags: the tag inputs; required by the ``tags`` variant, ignored by ``baseline``.
    """

    categorical: dict[str, int]
    numeric: tuple[str, ...] = ()
    sequences: dict[str, SequenceField] = field(default_factory=dict)
    tags: TagFields | None = None

    def __post_init__(self) -> None:
        _validate_spec(self)

    def input_names(self, variant: Variant) -> list[str]:
        """The model's input names for ``variant``, in a fixed order."""
        _check_variant(self, variant)
        names = [*self.categorical, *self.sequences, *self.numeric]
        if variant == "tags":
            names += [ITEM_TAGS, USER_TAG_PROFILE]
        return names

    def to_json(self) -> str:
        """The spec as JSON text (round-trips through :meth:`from_json`)."""
        data = asdict(self)
        data["numeric"] = list(self.numeric)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """Parse :meth:`to_json` output; unknown keys or wrong types raise FeatureSpecError."""
        try:
            data = json.loads(text)
            known = {"categorical", "numeric", "sequences", "tags"}
            if not isinstance(data, dict) or set(data) - known:
                raise FeatureSpecError(f"feature spec JSON must be an object with keys {sorted(known)}")
            sequences = {n: SequenceField(**s) for n, s in dict(data.get("sequences", {})).items()}
            tags = data.get("tags")
            return cls(
                categorical=dict(data["categorical"]),
                numeric=tuple(data.get("numeric", ())),
                sequences=sequences,
                tags=None if tags is None else TagFields(**tags),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FeatureSpecError(f"feature spec JSON is malformed: {exc}") from exc


def _positive_int(value: object, what: str, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise FeatureSpecError(f"{what} must be an integer >= {minimum}, got {value!r}")


def _validate_spec(spec: FeatureSpec) -> None:
    if not spec.categorical and not spec.sequences:
        raise FeatureSpecError("feature spec has no categorical or sequence field: the model has no ids")
    reserved = {ITEM_TAGS, USER_TAG_PROFILE, TAG_PAIRS}
    # Layers are named "<field>.<part>" or "deepfm.<part>"; fields are identifiers (no dot),
    # so no field can clash with a layer name.
    seen: set[str] = set()
    for name in [*spec.categorical, *spec.sequences, *spec.numeric]:
        if not isinstance(name, str) or not name.isidentifier():
            raise FeatureSpecError(f"field name {name!r} must be a Python identifier (it names an input)")
        if name in seen or name in reserved:
            raise FeatureSpecError(f"field name {name!r} is used twice or reserved for the tag inputs")
        seen.add(name)
    for name, vocab in spec.categorical.items():
        _positive_int(vocab, f"vocabulary size of categorical field {name!r}", minimum=2)
    for name, seq in spec.sequences.items():
        _positive_int(seq.vocab_size, f"vocabulary size of sequence field {name!r}", minimum=2)
        _positive_int(seq.max_length, f"max_length of sequence field {name!r}")
        if seq.shared_with is not None:
            if seq.shared_with not in spec.categorical:
                raise FeatureSpecError(
                    f"sequence field {name!r} shares tables with {seq.shared_with!r}, "
                    f"which is not a categorical field ({sorted(spec.categorical)})"
                )
            if spec.categorical[seq.shared_with] != seq.vocab_size:
                raise FeatureSpecError(
                    f"sequence field {name!r} has vocabulary {seq.vocab_size} but shares the tables of "
                    f"{seq.shared_with!r} with vocabulary {spec.categorical[seq.shared_with]}"
                )
    if spec.tags is not None:
        _positive_int(spec.tags.vocab_size, "tags.vocab_size", minimum=2)
        _positive_int(spec.tags.max_tags, "tags.max_tags")
        _positive_int(spec.tags.profile_top_k, "tags.profile_top_k")
        _positive_int(spec.tags.pair_buckets, "tags.pair_buckets")


def _check_variant(spec: FeatureSpec, variant: str) -> None:
    if variant not in VARIANTS:
        raise FeatureSpecError(f"unknown DeepFM variant {variant!r}; choose one of {VARIANTS}")
    if variant == "tags" and spec.tags is None:
        raise FeatureSpecError("the 'tags' variant needs FeatureSpec.tags (tag vocabulary and max_tags)")


def check_inputs(spec: FeatureSpec, variant: Variant, arrays: Mapping[str, np.ndarray]) -> None:
    """Check that ``arrays`` hold every input of ``variant`` with the right shape and values.

    Only trailing shapes and values are checked, so a table of rows that many examples
    share (see ``models.training.SharedRows``) can be checked as well as per-example
    arrays; extra arrays are allowed and ignored.

    Raises:
        FeatureInputError: naming the missing or malformed field.
    """
    _check_variant(spec, variant)
    missing = [name for name in spec.input_names(variant) if name not in arrays]
    if missing:
        raise FeatureInputError(
            f"input arrays lack field(s) {missing} needed by the {variant!r} DeepFM; got {sorted(arrays)}"
        )
    for name, vocab in spec.categorical.items():
        _check_ids(name, arrays[name], (), vocab)
    for name, seq in spec.sequences.items():
        _check_ids(name, arrays[name], (seq.max_length,), seq.vocab_size)
    for name in spec.numeric:
        _check_floats(name, arrays[name], ())
    if variant == "tags" and spec.tags is not None:
        _check_ids(ITEM_TAGS, arrays[ITEM_TAGS], (spec.tags.max_tags,), spec.tags.vocab_size)
        profile = _check_floats(USER_TAG_PROFILE, arrays[USER_TAG_PROFILE], (spec.tags.vocab_size,))
        if profile.size and float(profile.min()) < 0.0:
            raise FeatureInputError(f"{USER_TAG_PROFILE} holds negative weights (min {profile.min()})")


def _check_shape(name: str, array: np.ndarray, trailing: tuple[int, ...]) -> None:
    if array.ndim != 1 + len(trailing) or tuple(array.shape[1:]) != trailing:
        want = "(n, " + ", ".join(map(str, trailing)) + ")" if trailing else "(n,)"
        raise FeatureInputError(f"input {name!r} has shape {array.shape}, expected {want}")


def _check_ids(name: str, values: np.ndarray, trailing: tuple[int, ...], vocab: int) -> None:
    array = np.asarray(values)
    _check_shape(name, array, trailing)
    if not np.issubdtype(array.dtype, np.integer):
        raise FeatureInputError(f"input {name!r} holds ids and must be integer, got dtype {array.dtype}")
    if array.size and (int(array.min()) < 0 or int(array.max()) >= vocab):
        raise FeatureInputError(
            f"input {name!r} has ids in [{array.min()}, {array.max()}], outside its vocabulary [0, {vocab})"
        )


def _check_floats(name: str, values: np.ndarray, trailing: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(values)
    _check_shape(name, array, trailing)
    if not np.issubdtype(array.dtype, np.number):
        raise FeatureInputError(f"input {name!r} must be numeric, got dtype {array.dtype}")
    if array.size and not np.isfinite(array).all():
        raise FeatureInputError(f"input {name!r} holds {int((~np.isfinite(array)).sum())} NaN/inf values")
    return array


def _glorot(seed: int) -> Any:
    return keras.initializers.GlorotUniform(seed=seed)


class _Tables:
    """Embedding and first-order tables, seeded one by one so no two start identical."""

    def __init__(self, embedding_dim: int, l2: float, seeds: Iterator[int]) -> None:
        self.embedding_dim = embedding_dim
        self.l2 = l2
        self.seeds = seeds
        self.by_field: dict[str, tuple[Any, Any]] = {}

    def new(self, name: str, vocab: int) -> tuple[Any, Any]:
        regularizer = keras.regularizers.L2(self.l2) if self.l2 else None
        vectors = keras.layers.Embedding(
            vocab,
            self.embedding_dim,
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=next(self.seeds)),
            embeddings_regularizer=regularizer,
            name=f"{name}.embedding",
        )
        first_order = keras.layers.Embedding(
            vocab,
            1,
            embeddings_initializer="zeros",
            embeddings_regularizer=regularizer,
            name=f"{name}.weight",
        )
        self.by_field[name] = (vectors, first_order)
        return vectors, first_order


def build_deepfm(
    spec: FeatureSpec,
    variant: Variant,
    *,
    embedding_dim: int = 16,
    hidden: Sequence[int] = (256, 128),
    dropout: float = 0.1,
    l2: float = 1e-5,
    attention_heads: int = 4,
    seed: int = 0,
) -> keras.Model:
    """Build (uncompiled) DeepFM for ``spec``; the output is the click/purchase probability ``(B, 1)``.

    Args:
        spec: the inputs; ``variant="tags"`` needs ``spec.tags``.
        variant: ``"baseline"`` or ``"tags"``.
        embedding_dim: size of every field vector (shared by the FM and MLP parts).
        hidden: widths of the MLP's ReLU layers.
        dropout: dropout after each MLP layer and inside the tag attention.
        l2: L2 penalty on embedding tables.
        attention_heads: heads of the tag attention (``tags`` variant).
        seed: seeds the tables, MLP and dropouts. The attention's projections draw from
            Keras' global seed (one int seed would give its query, key and value kernels the
            same start), so call ``keras.utils.set_random_seed`` first for identical builds.

    Raises:
        FeatureSpecError: unknown variant, missing tag fields or bad hyper-parameters.
    """
    _check_variant(spec, variant)
    _positive_int(embedding_dim, "embedding_dim")
    _positive_int(attention_heads, "attention_heads")
    for width in hidden:
        _positive_int(width, "every hidden layer width")
    if not 0.0 <= dropout < 1.0 or l2 < 0.0:
        raise FeatureSpecError(f"dropout must lie in [0, 1) and l2 be >= 0, got {dropout} and {l2}")
    seeds = count(seed)
    tables = _Tables(embedding_dim, l2, seeds)
    inputs: dict[str, Any] = {}
    fields: list[Any] = []  # (B, D) or (B, n, D) field vectors
    first_order: list[Any] = []  # (B, 1) linear terms
    scalars: list[Any] = []  # (B, 1) values the MLP also sees directly

    for name, vocab in spec.categorical.items():
        ids = inputs[name] = keras.Input(shape=(), dtype="int32", name=name)
        vectors, weights = tables.new(name, vocab)
        fields.append(vectors(ids))
        first_order.append(weights(ids))
    for name, seq in spec.sequences.items():
        ids = inputs[name] = keras.Input(shape=(seq.max_length,), dtype="int32", name=name)
        shared = tables.by_field.get(seq.shared_with) if seq.shared_with else None
        vectors, weights = shared if shared is not None else tables.new(name, seq.vocab_size)
        fields.append(MaskedMean(name=f"{name}.pool")([vectors(ids), ids]))
        first_order.append(MaskedMean(name=f"{name}.weight_pool")([weights(ids), ids]))
    numeric = [keras.Input(shape=(), dtype="float32", name=name) for name in spec.numeric]
    inputs.update(zip(spec.numeric, numeric, strict=True))

    if variant == "tags" and spec.tags is not None:
        tag_fields, tag_linear, similarity = _tag_fields(
            spec.tags, inputs, tables, attention_heads, dropout, seeds
        )
        fields += tag_fields
        first_order += tag_linear
        numeric.append(similarity)
        scalars.append(similarity)
    if numeric:
        vectors, linear = NumericFields(embedding_dim, l2=l2, seed=next(seeds), name="deepfm.numeric")(
            numeric
        )
        fields.append(vectors)
        first_order.append(linear)

    stacked = StackFields(name="deepfm.fields")(fields)
    deep = keras.layers.Flatten(name="deepfm.fields_flat")(stacked)
    if scalars:
        deep = keras.layers.Concatenate(name="deepfm.deep_input")([deep, *scalars])
    for depth, width in enumerate(hidden):
        deep = keras.layers.Dense(
            width, activation="relu", kernel_initializer=_glorot(next(seeds)), name=f"deepfm.mlp_{depth}"
        )(deep)
        deep = keras.layers.Dropout(dropout, seed=next(seeds), name=f"deepfm.mlp_dropout_{depth}")(deep)
    # the output layer's bias is the model's global bias
    deep = keras.layers.Dense(1, kernel_initializer=_glorot(next(seeds)), name="deepfm.mlp_out")(deep)
    fm = FMInteraction(name="deepfm.fm")(stacked)
    logit = keras.layers.Add(name="deepfm.logit")([*first_order, fm, deep])
    probability = keras.layers.Activation("sigmoid", name="deepfm.probability")(logit)
    return keras.Model(inputs=inputs, outputs=probability, name=f"deepfm_{variant}")


def _tag_fields(
    tags: TagFields,
    inputs: dict[str, Any],
    tables: _Tables,
    heads: int,
    dropout: float,
    seeds: Iterator[int],
) -> tuple[list[Any], list[Any], Any]:
    """Field vectors, first-order terms and the cosine scalar of the ``tags`` variant."""
    item_tags = inputs[ITEM_TAGS] = keras.Input(shape=(tags.max_tags,), dtype="int32", name=ITEM_TAGS)
    profile = inputs[USER_TAG_PROFILE] = keras.Input(
        shape=(tags.vocab_size,), dtype="float32", name=USER_TAG_PROFILE
    )
    tag_vectors, tag_weights = tables.new(ITEM_TAGS, tags.vocab_size)
    item_tag_vectors = tag_vectors(item_tags)
    item_bag = MaskedMean(name=f"{ITEM_TAGS}.pool")([item_tag_vectors, item_tags])
    item_bag_linear = MaskedMean(name=f"{ITEM_TAGS}.weight_pool")([tag_weights(item_tags), item_tags])

    top_ids, top_weights = ProfileTopTags(tags.profile_top_k, name=f"{USER_TAG_PROFILE}.top_tags")(profile)
    user_tag_vectors = tag_vectors(top_ids)
    user_preference = WeightedSum(name=f"{USER_TAG_PROFILE}.preference")([user_tag_vectors, top_weights])
    attention = TagAttention(
        heads,
        math.ceil(tables.embedding_dim / heads),
        dropout=dropout,
        seed=next(seeds),
        name="deepfm.tag_attention",
    )([user_tag_vectors, top_weights, item_tag_vectors, item_tags])

    pair_ids = TagPairHash(tags.vocab_size, tags.pair_buckets, name=f"{TAG_PAIRS}.ids")(item_tags)
    pair_vectors, pair_weights = tables.new(TAG_PAIRS, tags.pair_buckets + 1)
    pairs = MaskedMean(name=f"{TAG_PAIRS}.pool")([pair_vectors(pair_ids), pair_ids])
    pairs_linear = MaskedMean(name=f"{TAG_PAIRS}.weight_pool")([pair_weights(pair_ids), pair_ids])

    similarity = TagCosine(name="deepfm.tag_similarity")([profile, item_tags])
    return [item_bag, user_preference, attention, pairs], [item_bag_linear, pairs_linear], similarity
