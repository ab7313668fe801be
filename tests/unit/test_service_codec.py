"""The lookup service's hot path without HTTP: user-list heads, answers' JSON, plain queries.

The hand-made JSON must be the bytes the response models would give (FastAPI encoded those
before): checked against ``Recommendations``/``Similar`` for personal, short, cold-start,
context and fallback answers, and odd ids and scores.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from feature_store.recommendations import (
    CHANNELS,
    STAGES,
    RecommendationFormatError,
    decode_user_list,
    encode_item_list,
    encode_user_list,
)
from feature_store.service.app import plain_query
from feature_store.service.codec import (
    CHANNEL_OF,
    STAGE_OF,
    EncodedItems,
    answer_json,
    encode_items,
    item_ids,
    item_prefixes,
    to_json,
    user_list_head,
)
from feature_store.service.schemas import Recommendations, Similar


def user_list(n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return encode_user_list(
        rng.permutation(1000)[:n],
        rng.normal(size=n).astype(np.float32),
        rng.integers(0, len(CHANNELS), n),
        rng.integers(0, len(STAGES), n),
    )


@pytest.mark.parametrize(("n", "k"), [(100, 20), (30, 30), (5, 20), (0, 10), (1, 1), (150, 140)])
def test_a_list_head_is_what_decode_user_list_gives(n: int, k: int) -> None:
    value = user_list(n, seed=n)
    indexes, scores, tags = user_list_head(value, k)
    full = decode_user_list(value)
    assert list(indexes) == full.items[:k].tolist()
    assert list(scores) == full.scores[:k].tolist()  # float32 widened exactly, as numpy does
    assert [CHANNEL_OF[t] for t in tags] == [CHANNELS[c] for c in full.channels[:k]]
    assert [STAGE_OF[t] for t in tags] == [STAGES[s] for s in full.stages[:k]]


@pytest.mark.parametrize(
    "value",
    [
        b"",
        encode_item_list([1], [1.0]),  # another format byte
        user_list(3)[:-1],  # truncated
        b"\x01" + bytes(8) + bytes([0xF0]),  # a channel code outside CHANNELS
        b"\x01" + bytes(8) + bytes([0x0F]),  # a stage code outside STAGES
    ],
)
def test_a_bad_value_is_refused_as_decode_user_list_refuses_it(value: bytes) -> None:
    with pytest.raises(RecommendationFormatError) as ours:
        user_list_head(value, 20)
    with pytest.raises(RecommendationFormatError) as theirs:
        decode_user_list(value)
    assert str(ours.value) == str(theirs.value)


DICTIONARY = [f"P{i}" for i in range(990)] + ['quo"te', "back\\slash", "naïve", "日本", "tab\tx", *"abcde"]


def answer(items: Any, **fields: Any) -> dict[str, Any]:
    return {
        "request_id": "0123456789abcdef.v7.personal",
        "user_id": 'U"1\\',
        "experiment": "deepfm_tags",
        "variant": "tags",
        "experiments": {"deepfm_tags": "tags", "ui": "dark"},
        "reads": "champion",
        "variant_fallback": False,
        "source": "personal",
        "strategy": None,
        "context": None,
        "fallback": False,
        "fallback_reason": None,
        "version": 7,
        **fields,
        "items": items,
    }


def as_model(body: dict[str, Any], items: list[dict[str, Any]] | None = None) -> bytes:
    """What FastAPI sent for an answer before: the model, validated and encoded."""
    return (
        Recommendations.model_validate({**body, "items": items or body["items"]}).model_dump_json().encode()
    )


def spliced(
    indexes: list[int], scores: list[float], tags: bytes
) -> tuple[EncodedItems, list[dict[str, Any]]]:
    """Items spliced by encode_items, and the same items as dicts."""
    encoded = EncodedItems(
        encode_items(item_prefixes(DICTIONARY), indexes, scores, tags), indexes, DICTIONARY
    )
    dicts = [
        {"item_id": DICTIONARY[i], "score": s, "channel": CHANNEL_OF[t], "stage": STAGE_OF[t]}
        for i, s, t in zip(indexes, scores, tags, strict=True)
    ]
    return encoded, dicts


@pytest.mark.parametrize("seed", range(5))
def test_spliced_items_are_the_bytes_of_the_model(seed: int) -> None:
    rng = np.random.default_rng(seed)
    indexes = rng.integers(0, len(DICTIONARY), 20).tolist()
    scores = rng.normal(scale=10.0 ** rng.integers(-8, 8), size=20).astype(np.float32).tolist()
    scores[0] = 0.0
    tags = bytes(
        int(c) << 4 | int(s) for c, s in zip(rng.integers(0, 5, 20), rng.integers(0, 4, 20), strict=True)
    )
    items, dicts = spliced(indexes, scores, tags)
    body = answer(items)
    assert answer_json(body) == as_model(body, dicts)
    assert item_ids(items) == [DICTIONARY[i] for i in indexes]


def test_a_score_that_is_not_a_number_is_null_as_in_the_model() -> None:
    scores = [math.nan, math.inf, 1e-7, 3.4028234663852886e38]
    items, dicts = spliced([1, 2, 3, 4], scores, bytes(4))
    body = answer(items)
    assert answer_json(body) == as_model(body, dicts)
    assert answer_json(answer(dicts)) == as_model(body, dicts)  # and as dicts
    assert [i["score"] for i in json.loads(answer_json(body))["items"]][:2] == [None, None]


@pytest.mark.parametrize(
    "fields",
    [
        {},  # a short published list, topped up: items as dicts
        {"source": "cold_start", "reads": None, "strategy": "trending"},
        {"source": "cold_start", "reads": None, "strategy": "context", "context": "category:phones"},
        {"source": "fallback", "reads": None, "fallback": True, "fallback_reason": "breaker_open"},
        {"reads": "champion", "variant_fallback": True},
    ],
)
def test_answers_with_items_as_dicts_are_the_bytes_of_the_model(fields: dict[str, Any]) -> None:
    items = [
        {"item_id": "P1", "score": 5.0, "channel": "faiss", "stage": "fine"},
        {"item_id": "naïve", "score": 0.1 + 0.2, "channel": "global", "stage": None},
    ]
    body = answer(items, **fields)
    assert answer_json(body) == as_model(body)
    assert item_ids(items) == ["P1", "naïve"]


def test_no_items_and_a_similar_answer() -> None:
    empty, _ = spliced([], [], b"")
    assert answer_json(answer(empty)) == as_model(answer([]))
    similar = {
        "request_id": "0123456789abcdef.v7.similar",
        "item_id": "P1",
        "version": 7,
        "fallback": False,
        "fallback_reason": None,
        "items": [{"item_id": "P2", "score": 0.5, "channel": "similar", "stage": None}],
    }
    assert to_json(similar) == Similar.model_validate(similar).model_dump_json().encode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", (20, None)),
        (b"k=5", (5, None)),
        (b"k=100", (100, None)),
        (b"k=5&k=7", (7, None)),  # the last one counts, as in FastAPI
        (b"context=category%3Aphones&k=3", (3, "category:phones")),
        (b"context=tag:CA001", (20, "tag:CA001")),
        (b"context=a+b%20c", (20, "a b c")),
        (b"context=", (20, "")),
        (b"utm_source=mail&k=4", (4, None)),  # other names are ignored
        (b"&&k=4&", (4, None)),
        # FastAPI's to parse (and word the 422 when there is one):
        (b"k=0", None),
        (b"k=101", None),
        (b"k=05", None),
        (b"k=", None),
        (b"k", None),
        (b"k=ten", None),
        (b"k=-1", None),
        (b"k=%35", None),
        (b"%6B=5", None),
        (b"k+=5", None),
        (b"k=\xd9\xa3", None),  # a non-ASCII digit
    ],
)
def test_a_plain_query_or_none_for_fastapi(query: bytes, expected: tuple[int, str | None] | None) -> None:
    assert plain_query(query, 20, 100) == expected
