"""The hot path's bytes: the head of a user list decoded, and an answer encoded as JSON.

``decode_user_list`` (feature_store/recommendations.py) makes numpy views of a whole list; a
request needs its first ``k`` entries as Python objects, which ``struct`` gives in a tenth of
the time. The layout is the publisher's: format byte 0x01, then ``n`` uint32 item indexes,
``n`` float32 scores and ``n`` uint8 tags (channel << 4 | stage). A value this does not accept
goes to ``decode_user_list``, whose error names what is wrong with it.

Answers are plain dicts in the shape of the response models (schemas.py), encoded by
pydantic-core, the encoder FastAPI uses for the models: the same bytes, without building and
validating a model of every answer and its items first. The items of a published list are
spliced from pieces of JSON instead of encoded as dicts: each dictionary item's
``{"item_id":<id>,"score":`` made once per snapshot, the scores encoded together, and
``,"channel":…,"stage":…}`` per tag. That is the same bytes again, in under half the time
(formatting floats is most of an answer's encoding).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import chain
from typing import Any, NamedTuple

import pydantic_core

from feature_store.recommendations import (
    CHANNELS,
    STAGES,
    USER_LIST,
    RecommendationFormatError,
    decode_user_list,
)

__all__ = [
    "CHANNEL_OF",
    "STAGE_OF",
    "EncodedItems",
    "answer_json",
    "encode_items",
    "item_ids",
    "item_prefixes",
    "to_json",
    "user_list_head",
]

# As the models encode (ser_json_inf_nan="null"): a NaN or infinite score is null, not NaN.
to_json = partial(pydantic_core.to_json, inf_nan_mode="null")
_WIDTH = 9  # bytes per entry: uint32 index, float32 score, uint8 tag
_VALID_TAGS = bytes(c << 4 | s for c in range(len(CHANNELS)) for s in range(len(STAGES)))
# A tag byte's channel and stage names, and the JSON that ends an item of it (valid tags only;
# others never get past user_list_head).
CHANNEL_OF: tuple[str, ...] = tuple(CHANNELS[t >> 4] if t >> 4 < len(CHANNELS) else "" for t in range(256))
STAGE_OF: tuple[str, ...] = tuple(STAGES[t & 0x0F] if t & 0x0F < len(STAGES) else "" for t in range(256))
_ITEM_END: tuple[bytes, ...] = tuple(
    b',"channel":' + to_json(CHANNEL_OF[t]) + b',"stage":' + to_json(STAGE_OF[t]) + b"}," for t in range(256)
)  # each with the comma before the next item: the last one is cut


# The layouts of the first m indexes and scores, compiled once for the usual k.
_HEADS = tuple((struct.Struct(f"<{m}I"), struct.Struct(f"<{m}f")) for m in range(129))


def user_list_head(value: bytes, k: int) -> tuple[tuple[int, ...], tuple[float, ...], bytes]:
    """The first ``k`` item indexes, scores and tags of a user list, checked as a whole.

    Raises:
        RecommendationFormatError: not a user list, truncated, or a tag outside CHANNELS / STAGES.
    """
    n, rest = divmod(len(value) - 1, _WIDTH)
    tags = value[1 + 8 * n :]
    if rest or not value or value[0] != USER_LIST or tags.translate(None, _VALID_TAGS):
        decode_user_list(value)  # raises, naming the problem
        raise RecommendationFormatError("not a user list")  # pragma: no cover - decode raised
    m = min(k, n)
    index_format, score_format = _HEADS[m] if m < len(_HEADS) else (struct.Struct(f"<{m}{c}") for c in "If")
    indexes: tuple[int, ...] = index_format.unpack_from(value, 1)
    scores: tuple[float, ...] = score_format.unpack_from(value, 1 + 4 * n)
    return indexes, scores, tags[:m]


def item_prefixes(items: Sequence[str]) -> list[bytes]:
    """Each dictionary item's ``{"item_id":<id>,"score":``, for ``encode_items``."""
    return [b'{"item_id":' + to_json(item) + b',"score":' for item in items]


class EncodedItems(NamedTuple):
    """An answer's items as their JSON: the array's inside (``encode_items``), and what names them.

    The ids are looked up only when asked for (the audit log): touching 20 strings of a large
    dictionary costs more than it seems, in cache misses.
    """

    json: bytes
    indexes: Sequence[int]
    dictionary: Sequence[str]

    @property
    def ids(self) -> list[str]:
        return [self.dictionary[i] for i in self.indexes]


def encode_items(
    prefixes: Sequence[bytes], indexes: Sequence[int], scores: Sequence[float], tags: bytes
) -> bytes:
    """The ``Item``s of published entries, comma-separated, as the model would encode them.

    ``prefixes`` are ``item_prefixes`` of the dictionary; ``tags`` valid (``user_list_head``).
    Joined in C (``map`` and ``zip``): no Python code runs per item.
    """
    if not indexes:
        return b""
    numbers = to_json(scores)[1:-1].split(b",")  # no JSON number holds a comma
    pieces = zip(map(prefixes.__getitem__, indexes), numbers, map(_ITEM_END.__getitem__, tags), strict=True)
    return b"".join(chain.from_iterable(pieces))[:-1]


_ITEMS = {"items"}


def answer_json(answer: Mapping[str, Any]) -> bytes:
    """An answer dict as JSON; ``items``, its last field, may be ``EncodedItems``."""
    items = answer["items"]
    if not isinstance(items, EncodedItems):
        return to_json(answer)
    head = to_json(answer, exclude=_ITEMS)  # ends with the field before: items come last
    return b"".join((head[:-1], b',"items":[', items.json, b"]}"))


def item_ids(items: Sequence[Mapping[str, Any]] | EncodedItems) -> list[str]:
    """The item ids of an answer's items."""
    return items.ids if isinstance(items, EncodedItems) else [i["item_id"] for i in items]
